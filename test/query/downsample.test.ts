/**
 * Downsampling on one thread: ShardWriters' events go straight into a
 * Registry, and every answer is checked against a brute-force reference
 * computed from the samples written.
 *
 * Randomized tests print their seed on failure; replay with
 * `SEED=<seed> npx tap test/query/downsample.test.ts`.
 */
import t, { type Test } from 'tap';
import type { GpuIdentity } from '../../src/ingest/dcgm-row.js';
import {
  AGGS,
  CursorError,
  downsample,
  planDownsample,
  samplesInWindow,
  type Agg,
  type Bucket,
  type DownsampleQuery,
} from '../../src/query/downsample.js';
import { encodeCursor } from '../../src/query/range-read.js';
import type { StoreEvent } from '../../src/storage/events.js';
import { ChunkRef, Registry } from '../../src/storage/registry.js';
import { ShardWriter, type RetentionOptions } from '../../src/storage/shard-writer.js';
import { Prng, testSeed } from '../fixtures/prng.js';

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

const BIG: RetentionOptions = { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 1e9 };

interface Written {
  tsMs: number;
  metric: string;
  value: number;
}

type Shape = Omit<DownsampleQuery, 'limit' | 'cursor'>;

/** The answer by definition: group by (floor(ts / step) * step, metric), reduce oldest first, order. */
function reference(written: readonly Written[], q: Shape): Bucket[] {
  const lo = q.startMs ?? -Infinity;
  const hi = q.endMs ?? Infinity;
  const seen = new Set<string>();
  const kept = written
    .filter((s) => s.tsMs >= lo && s.tsMs <= hi && (q.metrics === undefined || q.metrics.includes(s.metric)))
    .filter((s) => {
      const key = `${s.tsMs}/${s.metric}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.tsMs - b.tsMs);
  const groups = new Map<string, { tsMs: number; metric: string; values: number[] }>();
  for (const s of kept) {
    const tsMs = Math.floor(s.tsMs / q.stepMs) * q.stepMs;
    const key = `${tsMs}/${s.metric}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { tsMs, metric: s.metric, values: [] };
      groups.set(key, g);
    }
    g.values.push(s.value);
  }
  const out: Bucket[] = [];
  for (const g of groups.values()) {
    let sum = 0;
    for (const v of g.values) sum += v;
    const value = {
      avg: sum / g.values.length,
      min: Math.min(...g.values),
      max: Math.max(...g.values),
      last: g.values[g.values.length - 1]!,
      count: g.values.length,
    }[q.agg];
    out.push({ tsMs: g.tsMs, metric: g.metric, value, samples: g.values.length });
  }
  out.sort((a, b) => a.tsMs - b.tsMs || (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
  return q.order === 'desc' ? out.reverse() : out;
}

function all(registry: Registry, uuid: string, q: Shape): Bucket[] {
  const page = downsample(registry, uuid, { ...q, limit: 1e9 });
  if (page === undefined) throw new Error(`no GPU ${uuid}`);
  if (page.next !== null) throw new Error('one big page has a next cursor');
  return page.samples;
}

function paged(registry: Registry, uuid: string, q: Shape, limit: () => number): Bucket[][] {
  const pages: Bucket[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const n = limit();
    const page = downsample(registry, uuid, { ...q, limit: n, ...(cursor === undefined ? {} : { cursor }) })!;
    if (page.samples.length > n) throw new Error(`page of ${page.samples.length} over limit ${n}`);
    pages.push(page.samples);
    if (page.next === null) return pages;
    if (page.samples.length !== n) throw new Error(`short page (${page.samples.length} of ${n}) with a next cursor`);
    cursor = page.next;
    if (pages.length > 1e5) throw new Error('paging does not end');
  }
}

/** Random samples of several metrics in time order, some timestamps shared, some with microsecond fractions. */
function randomSamples(rnd: ReturnType<typeof seeded>, n: number, metrics: readonly string[]): Written[] {
  const out: Written[] = [];
  let ms = rnd.int(-5000, 5000);
  for (let i = 0; i < n; i++) {
    ms += rnd.float() < 0.2 ? rnd.int(1, 999) / 1000 : rnd.int(1, 40);
    for (const metric of metrics) {
      if (rnd.float() < 0.7) out.push({ tsMs: ms, metric, value: Math.round((rnd.float() * 200 - 50) * 1000) / 1000 });
    }
  }
  return out;
}

function storeOf(written: readonly Written[], chunkSamples: number): Registry {
  const registry = new Registry();
  const writer = new ShardWriter(0, { ...BIG, chunkSamples }, (e) => registry.apply(e));
  for (const s of written) writer.append(gpu('GPU-1'), s.metric, s.tsMs, s.value);
  return registry;
}

const brief = (b: readonly Bucket[]): string[] => b.map((x) => `${x.tsMs}/${x.metric}=${x.value}(${x.samples})`);

t.test('buckets are aligned to multiples of stepMs since the epoch and named by their start', async (t) => {
  const written: Written[] = [];
  for (let ms = 1000; ms <= 2000; ms += 100) written.push({ tsMs: ms, metric: 'temp', value: ms / 100 });
  const registry = storeOf(written, 4);
  t.strictSame(all(registry, 'GPU-1', { stepMs: 250, agg: 'count' }), [
    { tsMs: 1000, metric: 'temp', value: 3, samples: 3 }, // 1000 1100 1200
    { tsMs: 1250, metric: 'temp', value: 2, samples: 2 }, // 1300 1400
    { tsMs: 1500, metric: 'temp', value: 3, samples: 3 }, // 1500 1600 1700
    { tsMs: 1750, metric: 'temp', value: 2, samples: 2 }, // 1800 1900
    { tsMs: 2000, metric: 'temp', value: 1, samples: 1 }, // 2000
  ]);
  t.strictSame(
    all(registry, 'GPU-1', { stepMs: 300, agg: 'min' }).map((b) => [b.tsMs, b.value]),
    [
      [900, 10],
      [1200, 12],
      [1500, 15],
      [1800, 18],
    ],
    'a step that does not divide the first timestamp: the first bucket starts before it',
  );
  t.strictSame(
    all(registry, 'GPU-1', { stepMs: 1, agg: 'last' }).map((b) => b.tsMs),
    written.map((s) => s.tsMs),
    'stepMs 1: one bucket per sample',
  );

  const negative = storeOf(
    [-5, -4, -1, 0, 3, 4, 5].map((tsMs) => ({ tsMs, metric: 'x', value: tsMs })),
    4,
  );
  t.strictSame(
    all(negative, 'GPU-1', { stepMs: 4, agg: 'count' }).map((b) => [b.tsMs, b.value]),
    [
      [-8, 1],
      [-4, 2],
      [0, 2],
      [4, 2],
    ],
    'before the epoch too: floor, not truncation',
  );
  const fractional = storeOf(
    [0.5, 2.4, 2.5, 2.6, 7.49, 7.5].map((tsMs) => ({ tsMs, metric: 'x', value: tsMs })),
    4,
  );
  t.strictSame(
    all(fractional, 'GPU-1', { stepMs: 2.5, agg: 'max' }).map((b) => [b.tsMs, b.value, b.samples]),
    [
      [0, 2.4, 2],
      [2.5, 2.6, 2],
      [5, 7.49, 1],
      [7.5, 7.5, 1],
    ],
    'a fractional step and fractional timestamps',
  );
});

t.test('both window ends are inclusive: samples exactly at startMs and at endMs count', async (t) => {
  const written: Written[] = [];
  for (let ms = 1000; ms <= 2000; ms += 100) written.push({ tsMs: ms, metric: 'temp', value: ms });
  const registry = storeOf(written, 4);
  const one = (startMs: number, endMs: number): Array<[number, number]> =>
    all(registry, 'GPU-1', { startMs, endMs, stepMs: 1000, agg: 'count' }).map((b) => [b.tsMs, b.value]);
  t.strictSame(one(1200, 1500), [[1000, 4]], '1200 1300 1400 1500: a partial bucket keeps its aligned name');
  t.strictSame(one(1150, 1450), [[1000, 3]]);
  t.strictSame(one(1300, 1300), [[1000, 1]], 'start = end = a sample');
  t.strictSame(one(2000, 2000), [[2000, 1]], 'the last sample');
  t.strictSame(one(1000, 1000), [[1000, 1]], 'the first sample');
  t.strictSame(one(1310, 1390), [], 'between two samples');
  t.strictSame(one(1500, 1200), [], 'start after end');
  t.strictSame(one(900, 2100), [
    [1000, 10],
    [2000, 1],
  ]);
  t.strictSame(
    all(registry, 'GPU-1', { startMs: 1200, endMs: 1500, stepMs: 100, agg: 'avg', order: 'desc' }).map((b) => b.tsMs),
    [1500, 1400, 1300, 1200],
  );
  t.strictSame(all(registry, 'GPU-1', { endMs: 1000, stepMs: 500, agg: 'count' }).map((b) => b.value), [1], 'open start');
  t.strictSame(all(registry, 'GPU-1', { startMs: 2000, stepMs: 500, agg: 'count' }).map((b) => b.value), [1], 'open end');
});

t.test('every agg matches a brute-force reference on random data, in both orders', async (t) => {
  const rnd = seeded(t);
  const metrics = ['DCGM_FI_DEV_GPU_TEMP', 'a', 'b', 'c_power'];
  const written = randomSamples(rnd, 600, metrics);
  const registry = storeOf(written, 8);
  let checked = 0;
  for (let k = 0; k < 60; k++) {
    const a = written[rnd.int(0, written.length - 1)]!.tsMs + rnd.int(-3, 3);
    const b = written[rnd.int(0, written.length - 1)]!.tsMs + rnd.int(-3, 3);
    const q: Shape = {
      stepMs: rnd.float() < 0.3 ? rnd.int(1, 20) + rnd.int(0, 9) / 10 : rnd.int(1, 400),
      agg: AGGS[k % AGGS.length]!,
      ...(k % 3 === 0 ? {} : { startMs: Math.min(a, b), endMs: Math.max(a, b) }),
      ...(k % 4 === 1 ? { metrics: ['a', 'c_power', 'nope'] } : {}),
      ...(k % 2 === 1 ? { order: 'desc' as const } : {}),
    };
    const expected = reference(written, q);
    const got = all(registry, 'GPU-1', q);
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      t.strictSame(brief(got), brief(expected), `${JSON.stringify(q)} (seed ${rnd.seed})`);
      break;
    }
    checked++;
  }
  t.equal(checked, 60, `60 random queries over ${written.length} samples (seed ${rnd.seed})`);
  for (const agg of AGGS) {
    const asc = all(registry, 'GPU-1', { stepMs: 50, agg });
    t.strictSame(all(registry, 'GPU-1', { stepMs: 50, agg, order: 'desc' }), asc.slice().reverse(), `${agg}: desc is asc reversed, value for value`);
    t.ok(asc.every((b) => b.samples >= 1), `${agg}: only buckets that have samples`);
  }
  t.ok(
    all(registry, 'GPU-1', { stepMs: 50, agg: 'count' }).every((b) => b.value === b.samples),
    'count: the value is the number of samples',
  );
});

t.test('limit and cursor page through every bucket exactly once, in order, both ways', async (t) => {
  const rnd = seeded(t);
  const written = randomSamples(rnd, 400, ['a', 'b', 'c', 'd']);
  const registry = storeOf(written, 16);
  const mid = written[Math.floor(written.length / 3)]!.tsMs;
  const shapes: Shape[] = [
    { stepMs: 7, agg: 'avg' },
    { stepMs: 7, agg: 'avg', order: 'desc' },
    { stepMs: 1, agg: 'last', metrics: ['b', 'd'] },
    { stepMs: 33.3, agg: 'max', order: 'desc', metrics: ['c'] },
    { stepMs: 20, agg: 'count', startMs: mid, endMs: mid + 2000 },
    { stepMs: 20, agg: 'min', startMs: mid, endMs: mid + 2000, order: 'desc' },
    { stepMs: 1e6, agg: 'avg' },
  ];
  for (const q of shapes) {
    const expected = all(registry, 'GPU-1', q);
    t.strictSame(brief(expected), brief(reference(written, q)), `${JSON.stringify(q)}: one page is the reference`);
    for (const maxPage of [1, 2, 3, 17, expected.length, expected.length + 5]) {
      const pages = paged(registry, 'GPU-1', q, () => rnd.int(1, Math.max(1, maxPage)));
      const got = pages.flat();
      const label = `${JSON.stringify(q)} pages of 1..${maxPage} (seed ${rnd.seed})`;
      t.equal(got.length, expected.length, `${label}: count`);
      if (JSON.stringify(got) !== JSON.stringify(expected)) t.strictSame(brief(got), brief(expected), `${label}: every bucket once, in order`);
      else t.pass(`${label}: every bucket once, in order`);
    }
  }
  const small = storeOf(
    [1, 2, 3, 4, 5, 6].map((tsMs) => ({ tsMs, metric: 'x', value: tsMs })),
    4,
  );
  const first = downsample(small, 'GPU-1', { stepMs: 2, agg: 'count', limit: 4 })!;
  t.strictSame(first.samples.map((b) => b.tsMs), [0, 2, 4, 6]);
  t.equal(first.next, null, 'a page of exactly the remaining buckets has no next cursor');
  const two = downsample(small, 'GPU-1', { stepMs: 2, agg: 'count', limit: 2 })!;
  t.equal(two.next, encodeCursor(2, 'x'), 'the cursor names the last bucket served');
  const rest = downsample(small, 'GPU-1', { stepMs: 2, agg: 'count', limit: 2, cursor: two.next! })!;
  t.strictSame(rest.samples.map((b) => [b.tsMs, b.value]), [[4, 2], [6, 1]]);
  t.equal(rest.next, null);
});

t.test('a cursor resumes after the last bucket served, within a time shared by several metrics', async (t) => {
  const written: Written[] = [];
  for (const metric of ['a', 'b', 'c']) for (let ms = 0; ms < 30; ms += 10) written.push({ tsMs: ms, metric, value: ms });
  const registry = storeOf(written, 4);
  const at = (tsMs: number, metric: string, order?: 'desc'): string[] =>
    downsample(registry, 'GPU-1', { stepMs: 10, agg: 'count', limit: 100, cursor: encodeCursor(tsMs, metric), ...(order ? { order } : {}) })!.samples.map(
      (b) => `${b.tsMs}${b.metric}`,
    );
  t.strictSame(at(10, 'a'), ['10b', '10c', '20a', '20b', '20c']);
  t.strictSame(at(10, 'c'), ['20a', '20b', '20c']);
  t.strictSame(at(10, 'a', 'desc'), ['0c', '0b', '0a']);
  t.strictSame(at(10, 'c', 'desc'), ['10b', '10a', '0c', '0b', '0a']);
  t.strictSame(at(15, 'a'), ['20a', '20b', '20c'], 'a cursor between buckets (another step): the buckets after it');
  t.strictSame(at(-100, 'z'), at(-1000, 'a'), 'a cursor before everything: everything');
});

t.test('metric filters pick metrics; unknown names and an empty list give nothing', async (t) => {
  const written: Written[] = [];
  for (let ms = 0; ms < 50; ms += 5) for (const [metric, value] of [['temp', 1], ['power', 2], ['util', 3]] as const) written.push({ tsMs: ms, metric, value });
  const registry = storeOf(written, 4);
  const names = (q: Partial<Shape>): string[] => [...new Set(all(registry, 'GPU-1', { stepMs: 10, agg: 'avg', ...q }).map((b) => b.metric))];
  t.strictSame(names({}), ['power', 'temp', 'util']);
  t.strictSame(names({ metrics: ['util', 'temp'] }), ['temp', 'util']);
  t.strictSame(names({ metrics: ['power', 'nope'] }), ['power']);
  t.strictSame(downsample(registry, 'GPU-1', { stepMs: 10, agg: 'avg', limit: 5, metrics: ['nope'] }), { samples: [], next: null });
  t.strictSame(downsample(registry, 'GPU-1', { stepMs: 10, agg: 'avg', limit: 5, metrics: [] }), { samples: [], next: null });
});

t.test('two or three shards holding the same samples read as one series, each sample once', async (t) => {
  const rnd = seeded(t);
  const written = randomSamples(rnd, 300, ['a', 'b']);
  const registry = new Registry();
  const shards = [0, 1, 2].map((s) => new ShardWriter(s, { ...BIG, chunkSamples: 8 }, (e) => registry.apply(e)));
  let twice = 0;
  for (const s of written) {
    // A sample lands in one shard, or again in a second (a crashed collector's batch replayed), or in all three.
    const r = rnd.float();
    const into = r < 0.5 ? [rnd.int(0, 2)] : r < 0.8 ? [0, 1] : [0, 1, 2];
    if (into.length > 1) twice++;
    for (const i of into) shards[i]!.append(gpu('GPU-1'), s.metric, s.tsMs, s.value);
  }
  t.ok(twice > 50, `${twice} samples held by more than one shard (seed ${rnd.seed})`);
  t.equal(registry.gpus.get('GPU-1')!.series.get('a')!.length, 3, 'metric a has a view in each shard');
  for (const agg of AGGS) {
    for (const order of ['asc', 'desc'] as const) {
      const q: Shape = { stepMs: 25, agg, order };
      t.strictSame(brief(all(registry, 'GPU-1', q)), brief(reference(written, q)), `${agg} ${order} (seed ${rnd.seed})`);
      const pages = paged(registry, 'GPU-1', q, () => rnd.int(1, 9)).flat();
      t.strictSame(brief(pages), brief(reference(written, q)), `${agg} ${order} paged (seed ${rnd.seed})`);
    }
  }
});

t.test('a query skips a chunk dropped and reused before the registry heard of the drop', async (t) => {
  const registry = new Registry();
  const pending: StoreEvent[] = [];
  let deliver = true;
  const writer = new ShardWriter(0, { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 5, chunkSamples: 4 }, (e) => {
    if (deliver) registry.apply(e);
    else pending.push(e);
  });
  for (let i = 0; i < 8; i++) writer.append(gpu('GPU-1'), 'temp', i, i); // chunks [0-3], [4-7]
  t.strictSame(brief(all(registry, 'GPU-1', { stepMs: 100, agg: 'count' })), ['0/temp=8(8)']);
  deliver = false;
  // Sample 8 opens a third chunk and drops [0-3]; 'power' then reuses that chunk.
  writer.append(gpu('GPU-1'), 'temp', 8, 8);
  writer.append(gpu('GPU-1'), 'power', 1, -1);
  t.ok(pending.some((e) => e.t === 'drop'), 'the drop is not applied yet');
  const everything = planDownsample({ stepMs: 1, agg: 'count', limit: 1 });
  t.equal(samplesInWindow(registry.gpus.get('GPU-1')!.series, everything), 4, 'samplesInWindow does not count the reused chunk');
  for (const order of ['asc', 'desc'] as const) {
    t.strictSame(brief(all(registry, 'GPU-1', { stepMs: 100, agg: 'avg', order })), ['0/temp=5.5(4)'], `${order}: 4..7, not the reused chunk read as temp`);
    const pairs = ['4/temp=4(2)', '6/temp=6(2)'];
    t.strictSame(brief(all(registry, 'GPU-1', { stepMs: 2, agg: 'min', order })), order === 'asc' ? pairs : pairs.reverse());
  }
  for (const e of pending) registry.apply(e);
  t.strictSame(brief(all(registry, 'GPU-1', { stepMs: 100, agg: 'avg' })), ['0/power=-1(1)', '0/temp=6(5)']);
});

/** A ref whose chunk is dropped by its writer between the reader's copy and its check: the race, made to happen. */
class DroppedWhileRead extends ChunkRef {
  override get live(): boolean {
    if (this.chunk.stillIn(this.epoch)) this.chunk.recycle();
    return super.live;
  }
}

t.test('a chunk dropped while it is read is not used, nor anything older', async (t) => {
  for (const order of ['asc', 'desc'] as const) {
    const written = Array.from({ length: 12 }, (_, i) => ({ tsMs: i, metric: 'temp', value: i }));
    const registry = storeOf(written, 4); // chunks [0-3], [4-7], [8-11]
    const view = registry.gpus.get('GPU-1')!.series.get('temp')![0]!;
    const middle = view.chunks[1]!;
    view.chunks[1] = new DroppedWhileRead(middle.chunk, middle.epoch);
    // asc: [0-3] was read first, but a dropped [4-7] means it is gone too. desc: [8-11] is read, the run ends at [4-7].
    t.strictSame(brief(all(registry, 'GPU-1', { stepMs: 4, agg: 'count', order })), ['8/temp=4(4)'], order);
    t.strictSame(all(registry, 'GPU-1', { stepMs: 4, agg: 'count', order }).length, 1, `${order}: again, with the chunk now dropped`);
  }
});

t.test('samplesInWindow counts the samples a plan can read, from chunk bounds', async (t) => {
  const rnd = seeded(t);
  const written = randomSamples(rnd, 300, ['a', 'b', 'c']);
  const registry = storeOf(written, 8);
  const series = registry.gpus.get('GPU-1')!.series;
  for (let k = 0; k < 50; k++) {
    const a = written[rnd.int(0, written.length - 1)]!.tsMs;
    const b = written[rnd.int(0, written.length - 1)]!.tsMs;
    const q = { startMs: Math.min(a, b), endMs: Math.max(a, b), stepMs: 10, agg: 'avg' as const, limit: 1, ...(k % 2 ? { metrics: ['b'] } : {}) };
    const expected = written.filter((s) => s.tsMs >= q.startMs && s.tsMs <= q.endMs && (q.metrics === undefined || q.metrics.includes(s.metric))).length;
    if (samplesInWindow(series, planDownsample(q)) !== expected) {
      t.equal(samplesInWindow(series, planDownsample(q)), expected, `${JSON.stringify(q)} (seed ${rnd.seed})`);
      return;
    }
  }
  t.equal(samplesInWindow(series, planDownsample({ stepMs: 1, agg: 'count', limit: 1 })), written.length, 'no window: every sample');
  t.pass(`50 windows (seed ${rnd.seed})`);
});

t.test('an unknown GPU reads as undefined', async (t) => {
  const registry = storeOf([{ tsMs: 1, metric: 'temp', value: 1 }], 4);
  t.equal(downsample(registry, 'GPU-2', { stepMs: 10, agg: 'avg', limit: 10 }), undefined);
  t.equal(downsample(registry, 'gpu-1', { stepMs: 10, agg: 'avg', limit: 10 }), undefined, 'uuids are case-sensitive');
  t.equal(downsample(new Registry(), 'GPU-1', { stepMs: 10, agg: 'avg', limit: 10 }), undefined, 'empty store');
});

t.test('bad arguments are RangeErrors naming the field; a bad cursor is a CursorError', async (t) => {
  const registry = storeOf([{ tsMs: 1, metric: 'temp', value: 1 }], 4);
  const ok: DownsampleQuery = { stepMs: 10, agg: 'avg', limit: 10 };
  for (const stepMs of [0, -1, 0.5, NaN, Infinity, -Infinity]) {
    t.throws(() => downsample(registry, 'GPU-1', { ...ok, stepMs }), { name: 'RangeError', message: `stepMs must be a finite number >= 1, got ${stepMs}` });
  }
  t.throws(() => downsample(registry, 'GPU-1', { ...ok, stepMs: '10' as unknown as number }), { name: 'RangeError', message: /stepMs must be/ });
  for (const limit of [0, -1, 1.5, NaN]) {
    t.throws(() => downsample(registry, 'GPU-1', { ...ok, limit }), { name: 'RangeError', message: /limit must be an integer >= 1/ }, String(limit));
  }
  t.throws(() => downsample(registry, 'GPU-1', { ...ok, agg: 'median' as Agg }), {
    name: 'RangeError',
    message: 'agg must be one of avg, min, max, last, count, got "median"',
  });
  t.throws(() => downsample(registry, 'GPU-1', { ...ok, order: 'up' as 'asc' }), { name: 'RangeError', message: /order must be asc or desc/ });
  t.throws(() => downsample(registry, 'GPU-1', { ...ok, startMs: NaN }), { name: 'RangeError', message: /startMs must be a number/ });
  t.throws(() => downsample(registry, 'GPU-1', { ...ok, endMs: NaN }), { name: 'RangeError', message: /endMs must be a number/ });
  t.throws(() => downsample(registry, 'GPU-1', { ...ok, cursor: 'garbage' }), CursorError);
  t.throws(() => downsample(registry, 'GPU-2', { ...ok, stepMs: 0 }), RangeError, 'checked before the GPU is looked up');
  t.strictSame(downsample(registry, 'GPU-1', { ...ok, agg: 'count' })!.samples, [{ tsMs: 0, metric: 'temp', value: 1, samples: 1 }]);
});
