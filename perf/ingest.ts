/**
 * perf: ingest end to end. Loops a DCGM CSV at STREAM_INTERVAL=0 through
 * streamers → native-free-ring → collectors → the in-memory store for each
 * (streamers, collectors) mix, and, interleaved with it in the same run, the
 * same pipeline with MessagePort.postMessage in place of the ring (the
 * baseline). Reports samples stored per second, the ratio to the baseline,
 * CPU seconds, peak RSS, ring depth and producer blocked time, and ingest
 * latency (row read → stored) percentiles from the collectors' histogram.
 *
 * `--memory` measures memory per stored sample instead: one streamer and one
 * collector with MAX_SAMPLES_PER_SERIES at 8,192 (20 M samples for the real
 * export), looping until retention is full and then some, and reports
 * (RSS now − RSS just after start) ÷ samples held, and the chunk memory alone.
 *
 *   npm run perf -- ingest [--json] [--seconds 4] [--runs 1] [--mixes 1x1,2x2,...] [--file path] [--memory]
 *
 * Input: the real export (../shared/data, relative to the repository root)
 * when it exists, else data/sample.csv. Each run is a fresh child process,
 * so RSS and CPU time are its own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REAL_EXPORT = '../shared/data/dcgm_metrics_20250718_134233.csv';
const SAMPLE = 'data/sample.csv';
/** Per series, for the throughput mixes: retention fills within the warm-up. */
const SAMPLES_PER_SERIES = 1024;
/** Per series, for the memory measurement: 20 M samples held for the real export. */
const MEMORY_SAMPLES_PER_SERIES = 8192;
/** Looping before measuring, until retention is full (2,470 series × 1,024 samples in the real export). */
const WARM_UP_S = 3;

const TRANSPORTS = ['ring', 'postMessage', 'postMessageRecords'] as const;
type Transport = (typeof TRANSPORTS)[number];

interface Result {
  transport: Transport;
  streamers: number;
  collectors: number;
  seconds: number;
  samples_per_s: number;
  samples_stored: number;
  cpu_s: number;
  peak_rss_mib: number;
  /** Ring only: the fullest a lane was seen, and producers' blocked time per second measured. */
  ring_hwm_bytes: number | null;
  producer_blocked_ms_per_s: number | null;
  latency_ms: { p50: number; p99: number; max_bucket: number };
  reconciled: boolean;
}

interface MemoryResult {
  samples_held: number;
  rss_start_mib: number;
  rss_mib: number;
  bytes_per_sample: number;
  chunk_bytes_per_sample: number;
  reconciled: boolean;
}

function engineOptions(file: string, streamers: number, collectors: number, maxSamplesPerSeries: number) {
  return {
    csvFile: file,
    streamers,
    collectors,
    loop: true,
    timestampMode: 'processed' as const,
    streamIntervalMs: 0,
    queueBufferSize: 262144,
    retentionMs: 3_600_000,
    maxSamplesPerSeries,
  };
}

const silent = { info() {}, warn() {}, error() {} };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Percentile (0-1) of a cumulative histogram: the upper bound of the bucket it falls in, ms. */
function percentileMs(bucketsS: number[], cumulative: number[], q: number): number {
  const total = cumulative.at(-1) ?? 0;
  const i = cumulative.findIndex((c) => c >= q * total);
  return i < 0 ? NaN : bucketsS[i]! * 1000;
}

async function child(file: string, transport: Transport, streamers: number, collectors: number, seconds: number): Promise<Result> {
  const { Engine } = await import('../src/engine/engine.js');
  const engine = new Engine({ ...engineOptions(file, streamers, collectors, SAMPLES_PER_SERIES), transport }, silent);
  await engine.start();
  await sleep(WARM_UP_S * 1000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stored0 = engine.counters.snapshot().samplesStored;
  const lat0 = engine.counters.latency();
  const blocked0 = engine.ring.stats().producerBlockedMs;
  await sleep(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const stored = engine.counters.snapshot().samplesStored - stored0;
  const cpu = process.cpuUsage(cpu0);
  const lat = engine.counters.latency();
  const window = lat.cumulative.map((c, i) => c - lat0.cumulative[i]!);
  const ring = engine.ring.stats();
  await engine.stop();
  const c = engine.counters.snapshot();
  const maxBucket = window.findIndex((n) => n === window.at(-1));
  return {
    transport,
    streamers,
    collectors,
    seconds: Number(elapsed.toFixed(2)),
    samples_per_s: Math.round(stored / elapsed),
    samples_stored: c.samplesStored,
    cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    ring_hwm_bytes: transport === 'ring' ? ring.highWaterMarkBytes : null,
    producer_blocked_ms_per_s: transport === 'ring' ? Number(((ring.producerBlockedMs - blocked0) / elapsed).toFixed(1)) : null,
    latency_ms: {
      p50: percentileMs(lat.bucketsS, window, 0.5),
      p99: percentileMs(lat.bucketsS, window, 0.99),
      max_bucket: lat.bucketsS[maxBucket]! * 1000,
    },
    reconciled: c.unaccounted === 0,
  };
}

/** Loops until retention is full and the held count has settled, then measures RSS growth per sample held. */
async function memoryChild(file: string): Promise<MemoryResult> {
  const { Engine } = await import('../src/engine/engine.js');
  const { listGpus } = await import('../src/query/range-read.js');
  const engine = new Engine(engineOptions(file, 1, 1, MEMORY_SAMPLES_PER_SERIES), silent);
  await engine.start();
  // Baseline: the ring, the workers and an (almost) empty store.
  const rss0 = process.memoryUsage().rss;
  const held = (): number => listGpus(engine.registry).reduce((n, g) => n + g.samples, 0);
  // Full: chunks are being dropped (so reused). Then loop as long again, so garbage settles.
  const started = performance.now();
  while (engine.counters.snapshot().evicted === 0) {
    if (performance.now() - started > 300_000) throw new Error('retention not full after 300 s');
    await sleep(500);
  }
  await sleep(Math.max(3000, performance.now() - started));
  const n = held();
  const rss = process.memoryUsage().rss;
  const chunkBytes = engine.registry.chunkBytes;
  await engine.stop();
  return {
    samples_held: n,
    rss_start_mib: Math.round(rss0 / 2 ** 20),
    rss_mib: Math.round(rss / 2 ** 20),
    bytes_per_sample: Number(((rss - rss0) / n).toFixed(1)),
    chunk_bytes_per_sample: Number((chunkBytes / n).toFixed(1)),
    reconciled: engine.counters.snapshot().unaccounted === 0,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const USAGE = `usage: npm run perf -- ingest [flags]

  --mixes 1x1,2x2,10x2,2x10,5x5,10x10   (streamers x collectors) to measure
  --seconds 4        measured seconds per run (after ${WARM_UP_S} s of warm-up)
  --runs 1           runs per mix and transport (ring and postMessage interleaved)
  --file path        the CSV to loop (default: the real export if present, else data/sample.csv)
  --memory           measure memory per stored sample instead (1x1, ${MEMORY_SAMPLES_PER_SERIES} samples per series)
  --json             one JSON object per line
`;

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '4' },
      runs: { type: 'string', default: '1' },
      mixes: { type: 'string', default: '1x1,2x2,10x2,2x10,5x5,10x10' },
      file: { type: 'string' },
      memory: { type: 'boolean', default: false },
      child: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const file = values.file ?? (existsSync(REAL_EXPORT) ? REAL_EXPORT : SAMPLE);
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  if (!(seconds > 0)) throw new RangeError(`--seconds must be a positive number, got ${values.seconds}`);
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`--runs must be a whole number >= 1, got ${values.runs}`);
  if (values.child !== undefined) {
    if (values.child === 'memory') {
      process.stdout.write(JSON.stringify(await memoryChild(file)));
      return;
    }
    const [transport, mix] = values.child.split(':') as [Transport, string];
    const [s, c] = mix.split('x').map(Number);
    process.stdout.write(JSON.stringify(await child(file, transport, s!, c!, seconds)));
    return;
  }
  const mixes = values.mixes.split(',').map((m) => {
    const r = /^(\d+)x(\d+)$/.exec(m.trim());
    if (!r || Number(r[1]) < 1 || Number(r[1]) > 10 || Number(r[2]) < 1 || Number(r[2]) > 10) {
      throw new RangeError(`--mixes entries look like 2x10 (streamers x collectors, 1 to 10 each), got "${m}"`);
    }
    return r[1] + 'x' + r[2];
  });
  const machine = { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version };
  const script = fileURLToPath(new URL('./run.js', import.meta.url));
  const runChild = (arg: string): string =>
    execFileSync(process.execPath, [script, 'ingest', '--child', arg, '--seconds', String(seconds), '--file', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });

  if (values.memory) {
    process.stderr.write(`memory: ${file}, 1x1, ${MEMORY_SAMPLES_PER_SERIES} samples per series, until retention is full ...\n`);
    const r = { scenario: 'memory', ...(JSON.parse(runChild('memory')) as MemoryResult), machine };
    if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      process.stdout.write(
        `${r.bytes_per_sample} B of RSS per sample held (${(r.samples_held / 1e6).toFixed(1)} M held; RSS ${r.rss_start_mib} → ${r.rss_mib} MiB); ` +
          `chunks alone ${r.chunk_bytes_per_sample} B/sample  ${r.reconciled ? 'counters reconcile' : 'COUNTERS DO NOT RECONCILE'}\n`,
      );
    }
    return;
  }

  process.stderr.write(`ingest: ${file}, ${runs} run(s) x ${seconds} s per mix and transport, ${machine.cores} cores, ${machine.cpu}, node ${machine.node}\n`);
  const steps = mixes.length * runs * TRANSPORTS.length;
  let step = 0;
  for (const mix of mixes) {
    const results: Record<Transport, Result[]> = { ring: [], postMessage: [], postMessageRecords: [] };
    for (let run = 0; run < runs; run++) {
      // Interleaved, so a drift in the machine's speed hits all alike.
      for (const transport of TRANSPORTS) {
        process.stderr.write(`[${++step}/${steps}] ${mix} ${transport} ...\n`);
        results[transport].push(JSON.parse(runChild(`${transport}:${mix}`)) as Result);
      }
    }
    const rate = (t: Transport): number => median(results[t].map((r) => r.samples_per_s));
    for (const transport of TRANSPORTS) {
      for (const r of results[transport]) {
        const line = { scenario: 'ingest', ...r, ring_ratio: Number((rate('ring') / rate(transport)).toFixed(2)), machine };
        if (values.json) process.stdout.write(`${JSON.stringify(line)}\n`);
      }
    }
    if (!values.json) {
      const r = results.ring.at(-1)!;
      const all = TRANSPORTS.flatMap((t) => results[t]);
      process.stdout.write(
        `${mix.padEnd(6)} ring ${(rate('ring') / 1e6).toFixed(2)} M samples/s; ` +
          `${(rate('ring') / rate('postMessage')).toFixed(1)}x postMessage batched (${(rate('postMessage') / 1e6).toFixed(2)} M), ` +
          `${(rate('ring') / rate('postMessageRecords')).toFixed(1)}x postMessage per record (${(rate('postMessageRecords') / 1e6).toFixed(2)} M)\n` +
          `       ring: cpu ${r.cpu_s} s, peak RSS ${r.peak_rss_mib} MiB, lane HWM ${Math.round(r.ring_hwm_bytes! / 1024)} KiB, ` +
          `producers blocked ${r.producer_blocked_ms_per_s} ms/s, latency p50 ≤ ${r.latency_ms.p50} ms, p99 ≤ ${r.latency_ms.p99} ms  ` +
          `${all.every((x) => x.reconciled) ? 'counters reconcile' : 'COUNTERS DO NOT RECONCILE'}\n`,
      );
    }
  }
}
