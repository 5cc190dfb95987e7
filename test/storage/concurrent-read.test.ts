/**
 * Reads racing a real writer thread. A Worker runs a ShardWriter with small
 * chunks and a count retention that keeps dropping them, and posts its
 * StoreEvents here; this thread applies them to a Registry and, between
 * messages, queries without pause. Every sample's value is a function of its
 * timestamp, so a torn or half-written sample (a timestamp published before
 * its value, a count published before its timestamp, a chunk read in its next
 * life) shows up as a wrong value, a gap, or a timestamp going backwards.
 *
 * The worker runs compiled, from dist/: `npm run build` (or `npx tsc -b`) first.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { listGpus, readSamples, type Sample } from '../../src/query/range-read.js';
import type { StoreEvent } from '../../src/storage/events.js';
import { Registry } from '../../src/storage/registry.js';
import { T0_MS, valueOf, type DoneMessage, type WriterJob } from './fixtures/writer-worker.js';

const workerUrl = new URL('../../dist/test/storage/fixtures/writer-worker.js', import.meta.url);
if (!existsSync(fileURLToPath(workerUrl))) {
  throw new Error(`${fileURLToPath(workerUrl)} is missing: run npm run build first`);
}

const CHUNK_SAMPLES = 64;
const MAX_SAMPLES_PER_SERIES = 1000; // not a multiple of the chunk: the held count moves within [1000, 1064)
const METRICS = ['DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE'];
const UUID = 'GPU-concurrent-0';

/** What count retention leaves of `n` samples: whole oldest chunks dropped while at least `max` stay. */
function expectedHeld(n: number, chunk: number, max: number): number {
  let held = n;
  let chunks = Math.ceil(n / chunk);
  while (chunks > 1 && held - chunk >= max) {
    held -= chunk;
    chunks--;
  }
  return held;
}

/**
 * Checks one asc or desc run of samples; returns the first problem, or
 * undefined. `mustReachTs`: every metric in `metrics` must have a sample at or
 * after it (a sample published and announced before the query must be seen).
 */
function checkRun(
  samples: readonly Sample[],
  desc: boolean,
  writtenAfter: number,
  mustReachTs = -Infinity,
  metrics: readonly string[] = METRICS,
): string | undefined {
  const lastTs = new Map<string, number>();
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const m = METRICS.indexOf(s.metric);
    if (m < 0) return `unknown metric ${s.metric}`;
    if (s.value !== valueOf(m, s.tsMs)) return `torn sample ${s.metric}@${s.tsMs}: value ${s.value}, expected ${valueOf(m, s.tsMs)}`;
    if (!(s.tsMs >= T0_MS && s.tsMs < T0_MS + writtenAfter)) {
      return `sample ${s.metric}@${s.tsMs} outside what was written [${T0_MS}, ${T0_MS + writtenAfter})`;
    }
    const prev = lastTs.get(s.metric);
    // Within a metric the held samples are a contiguous run of timestamps.
    if (prev !== undefined && s.tsMs !== prev + (desc ? -1 : 1)) {
      return `${s.metric}: ${s.tsMs} follows ${prev} (${desc ? 'desc' : 'asc'}): not strictly monotonic by one`;
    }
    lastTs.set(s.metric, s.tsMs);
    if (i > 0) {
      const p = samples[i - 1]!;
      const c = s.tsMs - p.tsMs || (s.metric < p.metric ? -1 : s.metric > p.metric ? 1 : 0);
      if (desc ? c >= 0 : c <= 0) return `(time, metric) order broken at ${i}: ${p.metric}@${p.tsMs} then ${s.metric}@${s.tsMs}`;
    }
  }
  if (mustReachTs > -Infinity) {
    for (const metric of metrics) {
      const newest = desc ? samples.find((s) => s.metric === metric)?.tsMs : lastTs.get(metric);
      if (newest === undefined || newest < mustReachTs) {
        return `${metric}: newest sample read is ${newest}, but ${mustReachTs} was published before the query`;
      }
    }
  }
  return undefined;
}

t.test('queries racing a writer thread never see a torn, missing or unwritten sample', async (t) => {
  const registry = new Registry();
  const progress = new SharedArrayBuffer(4);
  const written = new Int32Array(progress);
  const job: WriterJob = {
    gpu: {
      uuid: UUID,
      gpuId: '0',
      device: 'nvidia0',
      modelName: 'NVIDIA H100 80GB HBM3',
      hostname: 'host-concurrent',
      container: '',
      pod: '',
      namespace: '',
    },
    metrics: METRICS,
    chunkSamples: CHUNK_SAMPLES,
    maxSamplesPerSeries: MAX_SAMPLES_PER_SERIES,
    durationMs: 2000,
    burst: 100,
    pauseMs: 0.2,
    progress,
  };

  let done: DoneMessage | undefined;
  let failure: Error | undefined;
  let events = 0;
  let drops = 0;
  const metricOf = new Map<number, string>();
  const chunksOf = new Map<string, number>();
  /**
   * The newest timestamp a query must see, given `progress` loaded before it:
   * index p - 2 is fully appended once p is stored, and is visible here once
   * the event for its chunk has been applied (the writer posts it first).
   */
  /**
   * `reach` if the query must have seen it: unless the writer may have
   * dropped it meanwhile. Retention keeps at least the newest
   * MAX_SAMPLES_PER_SERIES, so a sample that recent when the query ended was
   * held throughout. (A dropped chunk is reused at once: its samples are gone.)
   */
  const stillHeld = (reach: number, progressAfter: number): number =>
    reach >= T0_MS + progressAfter - MAX_SAMPLES_PER_SERIES ? reach : -Infinity;
  const mustReach = (progressBefore: number): number => {
    let announced = Infinity;
    for (const m of METRICS) announced = Math.min(announced, (chunksOf.get(m) ?? 0) * CHUNK_SAMPLES - 1);
    const index = Math.min(progressBefore - 2, announced);
    return index < 0 ? -Infinity : T0_MS + index;
  };
  const worker = new Worker(workerUrl, { workerData: job, execArgv: [] });
  worker.on('message', (m: StoreEvent | DoneMessage) => {
    if (m.t === 'done') {
      done = m;
      return;
    }
    events++;
    if (m.t === 'drop') drops++;
    if (m.t === 'series') metricOf.set(m.series, m.metric);
    if (m.t === 'chunk') chunksOf.set(metricOf.get(m.series)!, (chunksOf.get(metricOf.get(m.series)!) ?? 0) + 1);
    try {
      registry.apply(m);
    } catch (err) {
      failure ??= err as Error;
    }
  });
  worker.on('error', (err) => {
    failure ??= err;
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));

  const stats = { queries: 0, heavy: 0, tailReads: 0, fullReads: 0, samplesChecked: 0, pagedRuns: 0, nonEmpty: 0 };
  const problems: string[] = [];
  const note = (p: string | undefined): void => {
    if (p !== undefined && problems.length < 5) problems.push(p);
  };
  const giveUpAt = Date.now() + 8000;

  while (done === undefined && failure === undefined && Date.now() < giveUpAt) {
    // One short burst of queries, then let the worker's messages in.
    const burstEnd = performance.now() + 2;
    const burstFirst = stats.queries;
    while (performance.now() < burstEnd) {
      // One larger query per burst, then reads of the newest samples, where the writer is publishing.
      const kind = stats.queries++ === burstFirst ? stats.heavy++ % 5 : -1;
      if (kind === -1) {
        const before = Atomics.load(written, 0);
        const startMs = T0_MS + before - 3;
        const reach = mustReach(before);
        const page = readSamples(registry, UUID, { startMs, limit: 1e9 });
        const after = Atomics.load(written, 0);
        if (page === undefined) continue;
        stats.tailReads++;
        note(checkRun(page.samples, false, after, reach >= startMs ? stillHeld(reach, after) : -Infinity));
        stats.samplesChecked += page.samples.length;
      } else if (kind <= 1) {
        const desc = kind === 1;
        const reach = mustReach(Atomics.load(written, 0));
        const page = readSamples(registry, UUID, { order: desc ? 'desc' : 'asc', limit: 1e9 });
        const after = Atomics.load(written, 0);
        if (page === undefined) continue; // no series event yet
        stats.fullReads++;
        note(checkRun(page.samples, desc, after, stillHeld(reach, after)));
        const perMetric = page.samples.length / METRICS.length;
        if (perMetric > after) note(`${page.samples.length} samples returned, only ${after} per metric written`);
        if (page.samples.length > 0) stats.nonEmpty++;
        stats.samplesChecked += page.samples.length;
      } else if (kind === 2) {
        // A window in the middle of what is held, on one metric.
        const before = Atomics.load(written, 0);
        const startMs = T0_MS + Math.max(0, before - 700);
        const endMs = startMs + 300;
        const reach = Math.min(mustReach(before), endMs);
        const page = readSamples(registry, UUID, { startMs, endMs, metrics: [METRICS[1]!], limit: 1e9 });
        const after = Atomics.load(written, 0);
        if (page === undefined) continue;
        note(checkRun(page.samples, false, after, reach >= startMs ? stillHeld(reach, after) : -Infinity, [METRICS[1]!]));
        for (const s of page.samples) if (s.tsMs < startMs || s.tsMs > endMs) note(`sample ${s.tsMs} outside [${startMs}, ${endMs}]`);
        stats.samplesChecked += page.samples.length;
      } else if (kind === 3) {
        // Paging while the writer appends and retention drops: pages stay in order and never repeat.
        const desc = stats.pagedRuns % 2 === 1;
        stats.pagedRuns++;
        const all: Sample[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 50; pages++) {
          const page = readSamples(registry, UUID, { order: desc ? 'desc' : 'asc', limit: 97, ...(cursor ? { cursor } : {}) });
          if (page === undefined) break;
          all.push(...page.samples);
          if (page.next === null) break;
          cursor = page.next;
        }
        const after = Atomics.load(written, 0);
        for (let i = 1; i < all.length; i++) {
          const p = all[i - 1]!;
          const s = all[i]!;
          const c = s.tsMs - p.tsMs || (s.metric < p.metric ? -1 : s.metric > p.metric ? 1 : 0);
          if (desc ? c >= 0 : c <= 0) {
            note(`paged ${desc ? 'desc' : 'asc'}: ${s.metric}@${s.tsMs} after ${p.metric}@${p.tsMs}`);
            break;
          }
        }
        for (const s of all) {
          const m = METRICS.indexOf(s.metric);
          if (s.value !== valueOf(m, s.tsMs) || s.tsMs >= T0_MS + after) note(`paged: bad sample ${s.metric}@${s.tsMs} = ${s.value}`);
        }
        stats.samplesChecked += all.length;
      } else {
        const gpus = listGpus(registry);
        const after = Atomics.load(written, 0);
        if (gpus.length === 0) continue;
        const g = gpus[0]!;
        if (gpus.length !== 1 || g.uuid !== UUID) note(`listGpus returned ${gpus.map((x) => x.uuid).join(',')}`);
        if (g.samples > after * METRICS.length) note(`listGpus counts ${g.samples} samples, only ${after * METRICS.length} written`);
        if (!(g.firstMs >= T0_MS && g.firstMs <= g.lastMs && g.lastMs < T0_MS + after)) {
          note(`listGpus times [${g.firstMs}, ${g.lastMs}] outside what was written (${after})`);
        }
        for (const m of g.metrics) if (!METRICS.includes(m)) note(`listGpus metric ${m}`);
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }

  if (done === undefined && failure === undefined) {
    await worker.terminate();
    t.fail('the writer did not finish within 8 s');
    return;
  }
  const code = await exited;
  if (failure !== undefined) throw failure;
  t.equal(code, 0, 'the writer exits on its own');
  t.strictSame(problems, [], `no torn, missing or unwritten samples in ${stats.queries} queries`);

  const n = done!.written;
  t.equal(Atomics.load(written, 0), n);
  t.ok(n > 20 * CHUNK_SAMPLES, `the writer wrote ${n} samples per metric (${Math.floor(n / CHUNK_SAMPLES)} chunks)`);
  t.ok(drops > 10, `retention dropped chunks ${drops} times while reads ran (${events} store events)`);
  t.ok(stats.nonEmpty > 50, `${stats.nonEmpty} non-empty full reads of ${stats.fullReads}, ${stats.samplesChecked} samples checked`);
  t.ok(stats.tailReads > 1000, `${stats.tailReads} reads of the newest samples`);

  // The writer is done and every event is applied: the last query is exactly the retained tail.
  const held = expectedHeld(n, CHUNK_SAMPLES, MAX_SAMPLES_PER_SERIES);
  const expected: Sample[] = [];
  for (let tsMs = T0_MS + n - held; tsMs < T0_MS + n; tsMs++) {
    for (let m = 0; m < METRICS.length; m++) expected.push({ tsMs, metric: METRICS[m]!, value: valueOf(m, tsMs) });
  }
  expected.sort((a, b) => a.tsMs - b.tsMs || (a.metric < b.metric ? -1 : 1));
  const last = readSamples(registry, UUID, { limit: 1e9 })!;
  t.equal(last.samples.length, expected.length, `${held} samples per metric retained of ${n}`);
  t.strictSame(last.samples, expected, 'the final read is the retained tail, in order');
  t.equal(last.next, null);
  const [summary] = listGpus(registry);
  t.equal(summary!.samples, held * METRICS.length);
  t.equal(summary!.firstMs, T0_MS + n - held);
  t.equal(summary!.lastMs, T0_MS + n - 1);
  t.strictSame(summary!.metrics, [...METRICS].sort());
});
