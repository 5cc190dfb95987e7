/**
 * The query pool: the worker path answers exactly as the inline path, over
 * the same chunks, shared rather than copied; and it never returns a wrong
 * value while a writer thread keeps appending and dropping chunks.
 *
 * The pool's workers load compiled JS, so the modules under test are the
 * compiled ones, from dist/: `npm run build` (or `npx tsc -b`) first.
 * Randomized tests print their seed on failure; replay with
 * `SEED=<seed> npx tap test/query/query-pool.test.ts`.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import t, { type Test } from 'tap';
import type { GpuIdentity } from '../../src/ingest/dcgm-row.js';
import type * as DownsampleModule from '../../src/query/downsample.js';
import type * as TaskModule from '../../src/query/downsample-worker.js';
import type * as PoolModule from '../../src/query/query-pool.js';
import type * as RangeModule from '../../src/query/range-read.js';
import type { StoreEvent } from '../../src/storage/events.js';
import type * as RegistryModule from '../../src/storage/registry.js';
import type * as WriterModule from '../../src/storage/shard-writer.js';
import { distPath } from '../fixtures/dist.js';
import { Prng, testSeed } from '../fixtures/prng.js';
import { T0_MS, valueOf, type DoneMessage, type WriterJob } from '../storage/fixtures/writer-worker.js';

const load = async <M>(path: string): Promise<M> => (await import(pathToFileURL(distPath(path)).href)) as M;
const { QueryPool } = await load<typeof PoolModule>('src/query/query-pool.js');
const { AGGS, downsample, planDownsample } = await load<typeof DownsampleModule>('src/query/downsample.js');
const task = await load<typeof TaskModule>('src/query/downsample-worker.js');
const { CursorError, encodeCursor } = await load<typeof RangeModule>('src/query/range-read.js');
const { Registry } = await load<typeof RegistryModule>('src/storage/registry.js');
const { ShardWriter } = await load<typeof WriterModule>('src/storage/shard-writer.js');
const fromSource = await import('../../src/query/query-pool.js');
const writerUrl = pathToFileURL(distPath('test/storage/fixtures/writer-worker.js'));

type Registry = InstanceType<typeof Registry>;
type QueryPool = InstanceType<typeof QueryPool>;
type Bucket = DownsampleModule.Bucket;
type Query = DownsampleModule.DownsampleQuery;

function seeded(t: Test): { int(lo: number, hi: number): number; float(): number; seed: number } {
  const seed = testSeed();
  t.teardown(() => {
    if (!t.passing()) console.error(`# ${t.name}: failed with SEED=${seed}`);
  });
  const prng = new Prng(seed);
  return { int: (lo, hi) => prng.int(lo, hi), float: () => prng.float(), seed };
}

function gpu(uuid: string): GpuIdentity {
  return { uuid, gpuId: '0', device: 'nvidia0', modelName: 'NVIDIA H100 80GB HBM3', hostname: 'host-a', container: '', pod: '', namespace: '' };
}

const BIG = { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 1e9, chunkSamples: 16 };

/** Random samples in two or three shards, some held twice (a replayed batch); returns the registry and the time span. */
function randomStore(rnd: ReturnType<typeof seeded>, n: number): { registry: Registry; firstMs: number; lastMs: number } {
  const registry = new Registry();
  const shards = [0, 1, 2].map((s) => new ShardWriter(s, BIG, (e) => registry.apply(e)));
  const metrics = ['DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_SM_CLOCK'];
  let ms = 1_700_000_000_000;
  const firstMs = ms + 1;
  for (let i = 0; i < n; i++) {
    ms += rnd.float() < 0.2 ? rnd.int(1, 999) / 1000 : rnd.int(1, 30);
    for (const metric of metrics) {
      if (rnd.float() < 0.3) continue;
      const value = Math.round(rnd.float() * 1e6) / 1000;
      const r = rnd.float();
      for (const s of r < 0.6 ? [rnd.int(0, 2)] : r < 0.9 ? [0, 1] : [0, 1, 2]) shards[s]!.append(gpu('GPU-1'), metric, ms, value);
    }
  }
  return { registry, firstMs, lastMs: ms };
}

async function pagesOf(pool: QueryPool, registry: Registry, q: Omit<Query, 'cursor'>): Promise<Array<{ samples: Bucket[]; next: string | null }>> {
  const pages: Array<{ samples: Bucket[]; next: string | null }> = [];
  let cursor: string | undefined;
  for (;;) {
    const page = (await pool.downsample(registry, 'GPU-1', { ...q, ...(cursor === undefined ? {} : { cursor }) }))!;
    pages.push(page);
    if (page.next === null || pages.length > 10_000) return pages;
    cursor = page.next;
  }
}

t.test('the worker path and the inline path give identical pages on the same data', async (t) => {
  const rnd = seeded(t);
  const { registry, firstMs, lastMs } = randomStore(rnd, 3000);
  const pooled = new QueryPool({ threads: 1, inlineBelowSamples: 0 });
  const inline = new QueryPool({ threads: 1, inlineBelowSamples: Infinity });
  t.teardown(() => Promise.all([pooled.close(), inline.close()]));
  const span = lastMs - firstMs;
  let compared = 0;
  for (let k = 0; k < 30; k++) {
    const startMs = firstMs + Math.floor(rnd.float() * span);
    const q: Omit<Query, 'cursor'> = {
      stepMs: [1, 7.5, 60, 1000, 86_400_000][k % 5]!,
      agg: AGGS[k % AGGS.length]!,
      limit: k % 3 === 0 ? 1e6 : rnd.int(1, 40),
      ...(k % 2 === 1 ? { order: 'desc' as const } : {}),
      ...(k % 4 === 2 ? { startMs, endMs: startMs + rnd.int(0, 20_000) } : {}),
      ...(k % 7 === 3 ? { metrics: ['DCGM_FI_DEV_SM_CLOCK', 'DCGM_FI_DEV_GPU_TEMP'] } : {}),
    };
    const viaWorker = await pagesOf(pooled, registry, q);
    const viaInline = await pagesOf(inline, registry, q);
    const label = `${JSON.stringify(q)} (seed ${rnd.seed})`;
    if (JSON.stringify(viaWorker) !== JSON.stringify(viaInline)) {
      t.strictSame(viaWorker, viaInline, label);
      break;
    }
    // And both are what downsample answers on this thread, page by page.
    let cursor: string | undefined;
    for (const page of viaInline) {
      const direct = downsample(registry, 'GPU-1', { ...q, ...(cursor === undefined ? {} : { cursor }) });
      if (JSON.stringify(direct) !== JSON.stringify(page)) t.strictSame(page, direct, `${label}: as downsample`);
      cursor = page.next ?? undefined;
    }
    compared += viaWorker.reduce((n, p) => n + p.samples.length, 0);
  }
  t.ok(compared > 1000, `${compared} buckets compared (seed ${rnd.seed})`);
  t.equal(inline.answered.pooled, 0, 'inlineBelowSamples Infinity: never the pool');
  t.equal(pooled.answered.inline, 0, 'inlineBelowSamples 0: always the pool');
  t.ok(pooled.answered.pooled >= 30);
});

t.test('a snapshot task run on this thread answers as downsample does', async (t) => {
  const rnd = seeded(t);
  const { registry } = randomStore(rnd, 500);
  const series = registry.gpus.get('GPU-1')!.series;
  for (const q of [
    { stepMs: 100, agg: 'avg' as const, limit: 1000 },
    { stepMs: 10, agg: 'last' as const, limit: 7, order: 'desc' as const, metrics: ['DCGM_FI_DEV_POWER_USAGE'] },
    { stepMs: 10, agg: 'count' as const, limit: 5, cursor: encodeCursor(1_700_000_000_500, 'DCGM_FI_DEV_GPU_TEMP') },
  ]) {
    const snapshot = task.snapshotTask(series, planDownsample(q));
    t.equal(new Set(snapshot.slabs).size, snapshot.slabs.length, 'each slab named once');
    t.ok(snapshot.slabs.every((s) => s instanceof SharedArrayBuffer));
    t.strictSame(task.unpackPage(task.default(structuredClone(snapshot))), downsample(registry, 'GPU-1', q), `${JSON.stringify(q)} (seed ${rnd.seed})`);
  }
  const filtered = task.snapshotTask(series, planDownsample({ stepMs: 1, agg: 'avg', limit: 1, metrics: ['DCGM_FI_DEV_SM_CLOCK', 'nope'] }));
  t.strictSame(filtered.metrics, ['DCGM_FI_DEV_SM_CLOCK'], 'only the metrics asked for');
  t.strictSame(task.unpackPage(task.packPage({ samples: [], next: null })), { samples: [], next: null });
});

t.test('below inlineBelowSamples samples in the window a query runs inline, from there on in a worker', async (t) => {
  const registry = new Registry();
  const w = new ShardWriter(0, BIG, (e) => registry.apply(e));
  for (let ms = 0; ms < 100; ms++) for (const m of ['a', 'b']) w.append(gpu('GPU-1'), m, ms, ms);
  const pool = new QueryPool({ threads: 1, inlineBelowSamples: 50 });
  t.teardown(() => pool.close());
  const q = { stepMs: 10, agg: 'avg' as const, limit: 100 };
  const small = await pool.downsample(registry, 'GPU-1', { ...q, startMs: 0, endMs: 24 }); // 25 per metric: 50
  t.strictSame(pool.answered, { inline: 0, pooled: 1 }, '50 samples: the pool');
  const smaller = await pool.downsample(registry, 'GPU-1', { ...q, startMs: 0, endMs: 23 }); // 48
  t.strictSame(pool.answered, { inline: 1, pooled: 1 }, '48 samples: inline');
  await pool.downsample(registry, 'GPU-1', { ...q, metrics: ['a'], startMs: 50, endMs: 98 }); // 49
  t.strictSame(pool.answered, { inline: 2, pooled: 1 }, 'only the metrics asked for count');
  t.strictSame(small, downsample(registry, 'GPU-1', { ...q, startMs: 0, endMs: 24 }));
  t.strictSame(smaller, downsample(registry, 'GPU-1', { ...q, startMs: 0, endMs: 23 }));
  const defaults = new QueryPool();
  await defaults.downsample(registry, 'GPU-1', q);
  t.strictSame(defaults.answered, { inline: 1, pooled: 0 }, 'by default, 200 samples are answered inline');
  await defaults.close();
});

t.test('the pool imported from source runs the compiled worker', async (t) => {
  const registry = new Registry();
  const w = new ShardWriter(0, BIG, (e) => registry.apply(e));
  for (let ms = 0; ms < 40; ms++) w.append(gpu('GPU-1'), 'temp', ms, ms);
  const pool = new fromSource.QueryPool({ threads: 1, inlineBelowSamples: 0 });
  const q = { stepMs: 10, agg: 'max' as const, limit: 3 };
  t.strictSame(await pool.downsample(registry, 'GPU-1', q), downsample(registry, 'GPU-1', q));
  t.strictSame(pool.answered, { inline: 0, pooled: 1 });
  await pool.close();
});

t.test('errors keep their classes on both paths; an unknown GPU resolves undefined', async (t) => {
  const registry = new Registry();
  new ShardWriter(0, BIG, (e) => registry.apply(e)).append(gpu('GPU-1'), 'temp', 1, 1);
  for (const inlineBelowSamples of [0, Infinity]) {
    const pool = new QueryPool({ threads: 1, inlineBelowSamples });
    const ok = { stepMs: 10, agg: 'avg' as const, limit: 10 };
    await t.rejects(pool.downsample(registry, 'GPU-1', { ...ok, stepMs: 0 }), { name: 'RangeError', message: /stepMs must be/ });
    await t.rejects(pool.downsample(registry, 'GPU-1', { ...ok, limit: 0 }), { name: 'RangeError', message: /limit must be/ });
    await t.rejects(pool.downsample(registry, 'GPU-1', { ...ok, cursor: 'garbage' }), CursorError);
    t.equal(await pool.downsample(registry, 'GPU-2', ok), undefined);
    t.strictSame(await pool.downsample(registry, 'GPU-1', ok), { samples: [{ tsMs: 0, metric: 'temp', value: 1, samples: 1 }], next: null });
    await pool.close();
    await t.rejects(pool.downsample(registry, 'GPU-1', ok), { message: 'the query pool is closed' });
  }
  t.throws(() => new QueryPool({ threads: 0 }), { name: 'RangeError', message: 'threads must be an integer >= 1, got 0' });
  t.throws(() => new QueryPool({ threads: 1.5 }), { name: 'RangeError', message: /threads must be an integer >= 1/ });
  t.throws(() => new QueryPool({ inlineBelowSamples: -1 }), { name: 'RangeError', message: 'inlineBelowSamples must be a number >= 0, got -1' });
  t.throws(() => new QueryPool({ inlineBelowSamples: NaN }), { name: 'RangeError', message: /inlineBelowSamples must be/ });
});

const CHUNK_SAMPLES = 16;
const MAX_SAMPLES_PER_SERIES = 250; // not a multiple of the chunk
const STEP_MS = 50; // T0_MS is a multiple: a bucket holds timestamps b .. b + 49
const METRICS = ['DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE'];
const UUID = 'GPU-pool-0';

/**
 * Checks one page against what the writer can have written: every value a
 * function of the timestamps in its bucket (valueOf), each metric's buckets
 * consecutive, full inside and partial only at the ends of what is held.
 * Returns the first problem, or undefined.
 */
function checkPage(buckets: readonly Bucket[], agg: DownsampleModule.Agg, desc: boolean, writtenAfter: number): string | undefined {
  const byMetric = new Map<string, Bucket[]>();
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i]!;
    if (i > 0) {
      const p = buckets[i - 1]!;
      const c = b.tsMs - p.tsMs || (b.metric < p.metric ? -1 : b.metric > p.metric ? 1 : 0);
      if (desc ? c >= 0 : c <= 0) return `order broken at ${i}: ${p.metric}@${p.tsMs} then ${b.metric}@${b.tsMs}`;
    }
    let list = byMetric.get(b.metric);
    if (list === undefined) byMetric.set(b.metric, (list = []));
    list.push(b);
  }
  for (const [metric, list] of byMetric) {
    const m = METRICS.indexOf(metric);
    if (m < 0) return `unknown metric ${metric}`;
    if (desc) list.reverse();
    for (let i = 0; i < list.length; i++) {
      const { tsMs: b, value, samples: n } = list[i]!;
      const at = `${metric}@${b} (${agg}, ${n} samples, value ${value})`;
      if (b % STEP_MS !== 0) return `${at}: not aligned`;
      if (!(Number.isInteger(n) && n >= 1 && n <= STEP_MS)) return `${at}: bad sample count`;
      if (i > 0 && b !== list[i - 1]!.tsMs + STEP_MS) return `${at}: follows ${list[i - 1]!.tsMs}, a bucket missing`;
      // The run of timestamps [first, first + n) it covers: from the value, for every agg but count.
      const k = 3 + 2 * m;
      const c = 1 + m;
      let first: number;
      if (agg === 'count') {
        if (value !== n) return `${at}: count is not the sample count`;
        if (list.length === 1) {
          if (b + STEP_MS <= T0_MS || b >= T0_MS + writtenAfter) return `${at}: a bucket where nothing was written`;
          continue;
        }
        // No value to place the run by: it is where contiguity puts it.
        first = i === 0 ? b + STEP_MS - n : b;
      } else if (agg === 'min') {
        first = (value - c) / k;
      } else if (agg === 'max' || agg === 'last') {
        first = (value - c) / k - (n - 1);
      } else {
        first = Math.round((value - c) / k - (n - 1) / 2);
        let sum = 0;
        for (let j = 0; j < n; j++) sum += valueOf(m, first + j);
        if (value !== sum / n) return `${at}: not the average of ${n} samples from ${first}`;
      }
      if (!Number.isInteger(first) || first < b || first + n > b + STEP_MS) return `${at}: covers ${first}..${first + n - 1}, outside its bucket`;
      if (first < T0_MS || first + n > T0_MS + writtenAfter) return `${at}: covers ${first}..${first + n - 1}, not all written`;
      // Held samples are contiguous: only the oldest and the newest bucket of a metric may be partial.
      if (i > 0 && first !== b) return `${at}: starts at ${first}, after its bucket's start, in the middle of the run`;
      if (i < list.length - 1 && first + n !== b + STEP_MS) return `${at}: ends at ${first + n - 1}, before its bucket's end, in the middle of the run`;
    }
  }
  return undefined;
}

t.test('queries in the pool racing a writer thread never return a wrong value', async (t) => {
  const rnd = seeded(t);
  const registry = new Registry();
  const progress = new SharedArrayBuffer(4);
  const written = new Int32Array(progress);
  const job: WriterJob = {
    gpu: gpu(UUID),
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
  let drops = 0;
  const metricOf = new Map<number, string>();
  const chunksOf = new Map<string, number>();
  const worker = new Worker(writerUrl, { workerData: job, execArgv: [] });
  worker.on('message', (m: StoreEvent | DoneMessage) => {
    if (m.t === 'done') {
      done = m;
      return;
    }
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
  await new Promise<void>((resolve) => {
    const started = (): void => {
      if (registry.gpus.has(UUID) || failure !== undefined) resolve();
      else setTimeout(started, 1);
    };
    started();
  });

  /** The newest timestamp every metric has published and announced by now (see concurrent-read.test.ts). */
  const mustReach = (progressBefore: number): number => {
    let announced = Infinity;
    for (const m of METRICS) announced = Math.min(announced, (chunksOf.get(m) ?? 0) * CHUNK_SAMPLES - 1);
    const index = Math.min(progressBefore - 2, announced);
    return index < 0 ? -Infinity : T0_MS + index;
  };

  const pool = new QueryPool({ threads: 1, inlineBelowSamples: 0 });
  const problems: string[] = [];
  const note = (p: string | undefined, q: object): void => {
    if (p !== undefined && problems.length < 5) problems.push(`${p} in ${JSON.stringify(q)} (seed ${rnd.seed})`);
  };
  const stats = { queries: 0, buckets: 0, reached: 0, paged: 0 };
  const giveUpAt = Date.now() + 10_000;
  while (done === undefined && failure === undefined && Date.now() < giveUpAt) {
    const before = Atomics.load(written, 0);
    const reach = mustReach(before);
    const agg = AGGS[stats.queries % AGGS.length]!;
    const desc = rnd.float() < 0.5;
    const kind = stats.queries++ % 3;
    if (kind < 2) {
      // Everything held (kind 0), or a window of whole buckets near the newest samples (kind 1).
      const startMs = T0_MS + Math.floor(Math.max(0, before - rnd.int(50, 400)) / STEP_MS) * STEP_MS;
      const q: Query = { stepMs: STEP_MS, agg, limit: 1e6, order: desc ? 'desc' : 'asc', ...(kind === 1 ? { startMs } : {}) };
      const page = await pool.downsample(registry, UUID, q);
      const after = Atomics.load(written, 0);
      if (page === undefined) {
        note('the GPU is unknown after its series event', q);
        break;
      }
      note(checkPage(page.samples, agg, desc, after), q);
      if (page.next !== null) note('one big page has a next cursor', q);
      stats.buckets += page.samples.length;
      // What was published and announced before the query is in the answer, unless retention dropped it since.
      if (kind === 0 && reach >= T0_MS + after - MAX_SAMPLES_PER_SERIES) {
        for (const metric of METRICS) {
          const newest = page.samples.filter((b) => b.metric === metric).reduce((n, b) => Math.max(n, b.tsMs + STEP_MS - 1), -Infinity);
          if (newest < reach) note(`${metric}: newest bucket ends at ${newest}, but ${reach} was published before the query`, q);
        }
        stats.reached++;
      }
    } else {
      // Paging while the writer appends and drops: pages keep the order, and every bucket is right.
      stats.paged++;
      const all: Bucket[] = [];
      const q = { stepMs: STEP_MS, agg, limit: rnd.int(1, 15), order: desc ? ('desc' as const) : ('asc' as const) };
      let cursor: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const page = await pool.downsample(registry, UUID, { ...q, ...(cursor === undefined ? {} : { cursor }) });
        if (page === undefined) {
          note('the GPU is unknown after its series event', q);
          break;
        }
        const after = Atomics.load(written, 0);
        for (const b of page.samples) {
          // One bucket at a time: page ends cut runs, so only values and alignment are checked here.
          note(checkPage([b], agg, desc, after), q);
        }
        all.push(...page.samples);
        if (page.next === null) break;
        cursor = page.next;
      }
      for (let i = 1; i < all.length; i++) {
        const p = all[i - 1]!;
        const b = all[i]!;
        const c = b.tsMs - p.tsMs || (b.metric < p.metric ? -1 : b.metric > p.metric ? 1 : 0);
        if (desc ? c >= 0 : c <= 0) note(`paged: ${b.metric}@${b.tsMs} after ${p.metric}@${p.tsMs}`, q);
      }
      stats.buckets += all.length;
    }
  }
  if (done === undefined && failure === undefined) {
    await worker.terminate();
    await pool.close();
    t.fail('the writer did not finish within 10 s');
    return;
  }
  t.equal(await exited, 0, 'the writer exits on its own');
  if (failure !== undefined) throw failure;
  t.strictSame(problems, [], `no wrong value in ${stats.queries} queries (${stats.buckets} buckets)`);
  t.ok(stats.queries > 50, `${stats.queries} queries ran while the writer wrote`);
  t.ok(stats.reached > 5, `${stats.reached} full reads checked to reach what was published`);
  t.ok(drops > 10, `retention dropped chunks ${drops} times meanwhile`);
  t.equal(pool.answered.inline, 0, 'every query went through the pool');

  // The writer is done and every event applied: the answer is exactly the retained tail, bucketed.
  const n = done!.written;
  const page = (await pool.downsample(registry, UUID, { stepMs: STEP_MS, agg: 'count', limit: 1e6 }))!;
  await pool.close();
  // What count retention leaves: whole oldest chunks dropped while at least the maximum stay.
  let held = n;
  for (let chunks = Math.ceil(n / CHUNK_SAMPLES); chunks > 1 && held - CHUNK_SAMPLES >= MAX_SAMPLES_PER_SERIES; chunks--) held -= CHUNK_SAMPLES;
  const samples = page.samples.reduce((s, b) => s + b.samples, 0);
  t.equal(samples, held * METRICS.length, `${held} samples per metric retained of ${n}, all counted`);
  t.equal(checkPage(page.samples, 'count', false, n), undefined);
  t.equal(page.samples.at(-1)!.tsMs, Math.floor((T0_MS + n - 1) / STEP_MS) * STEP_MS, 'up to the newest sample');
});
