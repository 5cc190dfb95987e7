/**
 * One ingest measurement in a process of its own (so RSS and CPU time are
 * its own), for perf/ingest.ts. Prints one JSON object.
 *
 *   node dist/perf/ingest-child.js '{"kind":"rate","transport":"ring","streamers":1,"collectors":1,...}'
 */
import { Engine, type EngineOptions } from '../src/engine/engine.js';
import { listGpus } from '../src/query/range-read.js';

export type Transport = 'ring' | 'postMessage' | 'postMessageRecords';

export type ChildJob =
  /** Samples/s flat out (or at rowsPerSecond) after a warm-up, with latency percentiles. */
  | { kind: 'rate'; file: string; transport: Transport; streamers: number; collectors: number; warmUpS: number; seconds: number; rowsPerSecond?: number }
  /** RSS per sample held once retention (samplesPerSeries) is full. */
  | { kind: 'memory'; file: string; samplesPerSeries: number; maxWaitS: number };

export interface RateResult {
  samples_per_s: number;
  seconds: number;
  cpu_s: number;
  peak_rss_mib: number;
  /** Ring only: the fullest a lane was seen, and the time producers spent blocked per second measured. */
  ring_hwm_bytes: number | null;
  producer_blocked_ms_per_s: number | null;
  /** Row read → stored and announced, from the collectors' histogram: bucket upper bounds. */
  latency_p50_ms: number;
  latency_p99_ms: number;
  latency_max_ms: number;
  reconciled: boolean;
}

export interface MemoryResult {
  samples_held: number;
  rss_start_mib: number;
  rss_mib: number;
  bytes_per_sample: number;
  chunk_bytes_per_sample: number;
  reconciled: boolean;
}

const silent = { info() {}, warn() {}, error() {} };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function options(file: string, streamers: number, collectors: number, maxSamplesPerSeries: number): EngineOptions {
  return {
    csvFile: file,
    streamers,
    collectors,
    loop: true,
    timestampMode: 'processed',
    streamIntervalMs: 0,
    queueBufferSize: 262144,
    retentionMs: 3_600_000,
    maxSamplesPerSeries,
  };
}

/** The upper bound (ms) of the bucket holding quantile q of a cumulative histogram. */
function quantileMs(bucketsS: number[], cumulative: number[], q: number): number {
  const total = cumulative.at(-1) ?? 0;
  const i = cumulative.findIndex((c) => c >= q * total && c > 0);
  return i < 0 ? NaN : bucketsS[i]! * 1000;
}

async function rate(job: Extract<ChildJob, { kind: 'rate' }>): Promise<RateResult> {
  const engine = new Engine(
    { ...options(job.file, job.streamers, job.collectors, 1024), transport: job.transport, ...(job.rowsPerSecond ? { rowsPerSecond: job.rowsPerSecond } : {}) },
    silent,
  );
  await engine.start();
  await sleep(job.warmUpS * 1000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stored0 = engine.counters.snapshot().samplesStored;
  const lat0 = engine.counters.latency();
  const blocked0 = engine.ring.stats().producerBlockedMs;
  await sleep(job.seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const stored = engine.counters.snapshot().samplesStored - stored0;
  const cpu = process.cpuUsage(cpu0);
  const lat = engine.counters.latency();
  const ring = engine.ring.stats();
  await engine.stop();
  const window = lat.cumulative.map((c, i) => c - lat0.cumulative[i]!);
  const isRing = job.transport === 'ring';
  return {
    samples_per_s: Math.round(stored / elapsed),
    seconds: Number(elapsed.toFixed(2)),
    cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    ring_hwm_bytes: isRing ? ring.highWaterMarkBytes : null,
    producer_blocked_ms_per_s: isRing ? Number(((ring.producerBlockedMs - blocked0) / elapsed).toFixed(1)) : null,
    latency_p50_ms: quantileMs(lat.bucketsS, window, 0.5),
    latency_p99_ms: quantileMs(lat.bucketsS, window, 0.99),
    latency_max_ms: quantileMs(lat.bucketsS, window, 1),
    reconciled: engine.counters.snapshot().unaccounted === 0,
  };
}

/** Loops until retention is full, and as long again so garbage settles, then measures RSS growth per sample held. */
async function memory(job: Extract<ChildJob, { kind: 'memory' }>): Promise<MemoryResult> {
  const engine = new Engine(options(job.file, 1, 1, job.samplesPerSeries), silent);
  await engine.start();
  // Baseline: the ring, the workers and an (almost) empty store.
  const rss0 = process.memoryUsage().rss;
  const started = performance.now();
  while (engine.counters.snapshot().evicted === 0) {
    if (performance.now() - started > job.maxWaitS * 1000) throw new Error(`retention not full after ${job.maxWaitS} s`);
    await sleep(200);
  }
  await sleep(Math.max(1000, performance.now() - started));
  const held = listGpus(engine.registry).reduce((n, g) => n + g.samples, 0);
  const rss = process.memoryUsage().rss;
  const chunkBytes = engine.registry.chunkBytes;
  await engine.stop();
  return {
    samples_held: held,
    rss_start_mib: Math.round(rss0 / 2 ** 20),
    rss_mib: Math.round(rss / 2 ** 20),
    bytes_per_sample: Number(((rss - rss0) / held).toFixed(1)),
    chunk_bytes_per_sample: Number((chunkBytes / held).toFixed(1)),
    reconciled: engine.counters.snapshot().unaccounted === 0,
  };
}

const job = JSON.parse(process.argv[2] ?? 'null') as ChildJob | null;
if (job === null) throw new Error('usage: ingest-child.js <job as JSON>');
process.stdout.write(`${JSON.stringify(job.kind === 'rate' ? await rate(job) : await memory(job))}\n`);
