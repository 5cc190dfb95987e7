/**
 * perf scenarios of the pipeline end to end, each run a fresh child process
 * (perf/ingest-child.ts) so that RSS and CPU time are its own:
 *
 * - ingest: the file looped at STREAM_INTERVAL=0 through streamers →
 *   native-free-ring → collectors → the in-memory store, for each
 *   (streamers, collectors) mix, interleaved run by run with the same
 *   pipeline over MessagePort.postMessage: a batch per message (the same
 *   batching as the ring) and a message per record (the usual way to use
 *   postMessage). Samples stored per second, the ratios, CPU seconds, peak
 *   RSS, the fullest lane and producers' blocked time (where backpressure
 *   sets in), latency percentiles.
 * - memory: memory per stored sample: one streamer and one collector with
 *   MAX_SAMPLES_PER_SERIES at 8,192 (20 M samples for the real export),
 *   looping until retention is full and as long again; (RSS now − RSS just
 *   after start) ÷ samples held, and the chunks' own bytes per sample.
 * - latency: row read → queryable (p50, p99, max: upper bounds of the
 *   collectors' histogram buckets) at a fixed 100 k and 1 M samples/s and
 *   flat out, two streamers and two collectors.
 */
import type { ChildJob, MemoryResult, RateResult, Transport } from './ingest-child.js';
import { runJsonLines, spread, type Measurement, type Scenario, type ScenarioOptions } from './harness.js';

const CHILD = new URL('./ingest-child.js', import.meta.url);
const TRANSPORTS: readonly Transport[] = ['ring', 'postMessage', 'postMessageRecords'];
/** The ingest goal (samples/s at 1x1) and memory goal (bytes per sample held), shown beside the numbers. */
export const GOALS = { ingestSamplesPerS: 2_000_000, ingestRatio: 10, bytesPerSample: 24, latencyRates: [100_000, 1_000_000, 0] } as const;

async function child<T>(job: ChildJob): Promise<T> {
  let result: T | undefined;
  await runJsonLines(CHILD, [JSON.stringify(job)], (v) => {
    result = v as T;
  });
  if (result === undefined) throw new Error(`ingest child printed nothing for ${JSON.stringify(job)}`);
  return result;
}

function parseMix(mix: string): [number, number] {
  const r = /^(\d+)x(\d+)$/.exec(mix.trim());
  const s = Number(r?.[1]);
  const c = Number(r?.[2]);
  if (!r || s < 1 || s > 10 || c < 1 || c > 10) throw new RangeError(`a mix looks like 2x10 (streamers x collectors, 1 to 10 each), got "${mix}"`);
  return [s, c];
}

export const ingest: Scenario = {
  name: 'ingest',
  about: 'samples/s stored per (streamers x collectors) mix: ring vs postMessage batched and per record',
  async run(o: ScenarioOptions): Promise<Measurement[]> {
    const mixes = o.mixes.map(parseMix);
    const warmUpS = o.quick ? 1 : 3;
    o.progress.start('ingest', mixes.length * o.runs * TRANSPORTS.length);
    const out: Measurement[] = [];
    for (const [streamers, collectors] of mixes) {
      const mix = `${streamers}x${collectors}`;
      const runs: Record<Transport, RateResult[]> = { ring: [], postMessage: [], postMessageRecords: [] };
      for (let run = 0; run < o.runs; run++) {
        // Interleaved, so a drift in the machine's speed hits all alike.
        for (const transport of TRANSPORTS) {
          o.progress.note(`${mix} ${transport} (run ${run + 1}/${o.runs})`);
          runs[transport].push(await child<RateResult>({ kind: 'rate', file: o.file, transport, streamers, collectors, warmUpS, seconds: o.seconds }));
          o.progress.step(`${mix} ${transport}`);
        }
      }
      const rate = (t: Transport) => spread(runs[t].map((r) => r.samples_per_s));
      const ring = runs.ring;
      const last = ring.at(-1)!;
      out.push({
        scenario: 'ingest',
        case: mix,
        streamers,
        collectors,
        runs: o.runs,
        seconds_per_run: o.seconds,
        samples_per_s: rate('ring'),
        postmessage_batched_samples_per_s: rate('postMessage'),
        postmessage_per_record_samples_per_s: rate('postMessageRecords'),
        ratio_to_postmessage_batched: Number((rate('ring').median / rate('postMessage').median).toFixed(2)),
        ratio_to_postmessage_per_record: Number((rate('ring').median / rate('postMessageRecords').median).toFixed(2)),
        cpu_s: last.cpu_s,
        peak_rss_mib: Math.max(...ring.map((r) => r.peak_rss_mib)),
        ring_hwm_bytes: Math.max(...ring.map((r) => r.ring_hwm_bytes ?? 0)),
        producer_blocked_ms_per_s: spread(ring.map((r) => r.producer_blocked_ms_per_s ?? 0), 1),
        latency_p50_ms: last.latency_p50_ms,
        latency_p99_ms: last.latency_p99_ms,
        reconciled: TRANSPORTS.every((t) => runs[t].every((r) => r.reconciled)),
      });
    }
    o.progress.finish();
    return out;
  },
};

export const memory: Scenario = {
  name: 'memory',
  about: 'bytes of RSS per stored sample once retention is full (1x1)',
  async run(o: ScenarioOptions): Promise<Measurement[]> {
    const samplesPerSeries = o.quick ? 1024 : 8192;
    o.progress.start('memory', 1);
    o.progress.note(`1x1, ${samplesPerSeries} samples per series, until retention is full`);
    const r = await child<MemoryResult>({ kind: 'memory', file: o.file, samplesPerSeries, maxWaitS: 300 });
    o.progress.finish();
    return [{ scenario: 'memory', case: `${samplesPerSeries} per series`, samples_per_series: samplesPerSeries, ...r, goal_bytes_per_sample: GOALS.bytesPerSample }];
  },
};

export const latency: Scenario = {
  name: 'latency',
  about: 'ingest latency, row read → queryable (p50, p99, max) at 100 k, 1 M samples/s and flat out (2x2)',
  async run(o: ScenarioOptions): Promise<Measurement[]> {
    o.progress.start('latency', GOALS.latencyRates.length * o.runs);
    const out: Measurement[] = [];
    for (const rowsPerSecond of GOALS.latencyRates) {
      const label = rowsPerSecond === 0 ? 'flat out' : rowsPerSecond >= 1e6 ? `${rowsPerSecond / 1e6} M/s` : `${rowsPerSecond / 1000} k/s`;
      const runs: RateResult[] = [];
      for (let run = 0; run < o.runs; run++) {
        o.progress.note(`${label} (run ${run + 1}/${o.runs})`);
        runs.push(
          await child<RateResult>({
            kind: 'rate',
            file: o.file,
            transport: 'ring',
            streamers: 2,
            collectors: 2,
            warmUpS: o.quick ? 1 : 2,
            seconds: o.seconds,
            rowsPerSecond,
          }),
        );
        o.progress.step(label);
      }
      out.push({
        scenario: 'latency',
        case: label,
        target_samples_per_s: rowsPerSecond === 0 ? null : rowsPerSecond,
        samples_per_s: spread(runs.map((r) => r.samples_per_s)),
        latency_p50_ms: spread(runs.map((r) => r.latency_p50_ms), 3),
        latency_p99_ms: spread(runs.map((r) => r.latency_p99_ms), 3),
        latency_max_ms: spread(runs.map((r) => r.latency_max_ms), 3),
        reconciled: runs.every((r) => r.reconciled),
      });
    }
    o.progress.finish();
    return out;
  },
};
