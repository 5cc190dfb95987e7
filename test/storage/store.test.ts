/**
 * The store end to end on one thread: a ShardWriter's events go straight into
 * a Registry, and everything is checked through the query layer
 * (`listGpus` / `readSamples`), the way the API sees it.
 *
 * Randomized tests print their seed on failure; replay with
 * `SEED=<seed> npx tap test/storage/store.test.ts`.
 */
import t, { type Test } from 'tap';
import type { GpuIdentity } from '../../src/ingest/dcgm-row.js';
import { CursorError, encodeCursor, listGpus, readSamples, type Sample, type SampleQuery } from '../../src/query/range-read.js';
import { chunkBytes, SeriesChunk } from '../../src/storage/chunk.js';
import { ChunkPool, SLAB_CHUNKS } from '../../src/storage/chunk-pool.js';
import type { StoreEvent } from '../../src/storage/events.js';
import { ChunkRef, Registry } from '../../src/storage/registry.js';
import { AppendResult, ShardWriter, type RetentionOptions } from '../../src/storage/shard-writer.js';
import { createStoreWriter, InMemoryStore } from '../../src/storage/store.js';
import { Prng, testSeed } from '../fixtures/prng.js';


/** A seeded PRNG for this subtest; its seed is printed if the subtest fails. */
function seeded(t: Test): { int(lo: number, hi: number): number; float(): number; seed: number } {
  const seed = testSeed();
  t.teardown(() => {
    if (!t.passing()) console.error(`# ${t.name}: failed with SEED=${seed}`);
  });
  const prng = new Prng(seed);
  return { int: (lo, hi) => prng.int(lo, hi), float: () => prng.float(), seed };
}

function gpu(uuid: string, over: Partial<GpuIdentity> = {}): GpuIdentity {
  return {
    uuid,
    gpuId: '0',
    device: 'nvidia0',
    modelName: 'NVIDIA H100 80GB HBM3',
    hostname: 'host-a',
    container: '',
    pod: '',
    namespace: '',
    ...over,
  };
}

const BIG: RetentionOptions = { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 1e9 };

function store(options: Partial<RetentionOptions> = {}): { registry: Registry; writer: ShardWriter } {
  const registry = new Registry();
  const writer = new ShardWriter(0, { ...BIG, ...options }, (e) => registry.apply(e));
  return { registry, writer };
}

function read(registry: Registry, uuid: string, q: Partial<SampleQuery> = {}): Sample[] {
  const page = readSamples(registry, uuid, { limit: 1e9, ...q });
  if (page === undefined) throw new Error(`no GPU ${uuid}`);
  return page.samples;
}

/** Every page of a query, each page size from `limit()`. */
function readPaged(registry: Registry, uuid: string, q: Omit<SampleQuery, 'limit' | 'cursor'>, limit: () => number): Sample[][] {
  const pages: Sample[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const n = limit();
    const page = readSamples(registry, uuid, { ...q, limit: n, ...(cursor === undefined ? {} : { cursor }) })!;
    if (page.samples.length > n) throw new Error(`page of ${page.samples.length} over limit ${n}`);
    pages.push(page.samples);
    if (page.next === null) return pages;
    if (page.samples.length !== n) throw new Error(`short page (${page.samples.length} of ${n}) with a next cursor`);
    cursor = page.next;
    if (pages.length > 1e6) throw new Error('paging does not end');
  }
}

const ts = (samples: readonly Sample[]): number[] => samples.map((s) => s.tsMs);
const byTimeMetric = (a: Sample, b: Sample): number => a.tsMs - b.tsMs || (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0);

t.test('a time window includes samples exactly at its start and at its end', async (t) => {
  const { registry, writer } = store();
  const g = gpu('GPU-1');
  for (let ms = 1000; ms <= 2000; ms += 100) writer.append(g, 'DCGM_FI_DEV_GPU_TEMP', ms, ms / 10);
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 1200, endMs: 1500 })), [1200, 1300, 1400, 1500]);
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 1150, endMs: 1450 })), [1200, 1300, 1400]);
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 1300, endMs: 1300 })), [1300], 'start = end = a sample');
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 1000, endMs: 1000 })), [1000], 'the first sample');
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 2000, endMs: 2000 })), [2000], 'the last sample');
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 1310, endMs: 1390 })), [], 'between two samples');
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 1500, endMs: 1200 })), [], 'start after end');
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 2001 })), [], 'after the newest');
  t.strictSame(ts(read(registry, 'GPU-1', { endMs: 999 })), [], 'before the oldest');
  t.strictSame(ts(read(registry, 'GPU-1', { endMs: 1100 })), [1000, 1100], 'open start');
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 1900 })), [1900, 2000], 'open end');
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 1200, endMs: 1500, order: 'desc' })), [1500, 1400, 1300, 1200]);
  t.strictSame(read(registry, 'GPU-1', { startMs: 1200, endMs: 1200 }), [{ tsMs: 1200, metric: 'DCGM_FI_DEV_GPU_TEMP', value: 120 }]);
});

t.test('samples are ordered by (time, metric), ascending by default and reversed with desc', async (t) => {
  const { registry, writer } = store();
  const g = gpu('GPU-1');
  // Appended metric by metric, so the store's own order is not the answer.
  for (const metric of ['c_power', 'a_temp', 'b_util']) {
    for (let ms = 10; ms <= 30; ms += 10) writer.append(g, metric, ms, ms + metric.charCodeAt(0));
  }
  writer.append(g, 'a_temp', 35, 1);
  const asc = [
    [10, 'a_temp'],
    [10, 'b_util'],
    [10, 'c_power'],
    [20, 'a_temp'],
    [20, 'b_util'],
    [20, 'c_power'],
    [30, 'a_temp'],
    [30, 'b_util'],
    [30, 'c_power'],
    [35, 'a_temp'],
  ];
  const pairs = (s: Sample[]): Array<[number, string]> => s.map((x) => [x.tsMs, x.metric]);
  t.strictSame(pairs(read(registry, 'GPU-1')), asc, 'default is asc');
  t.strictSame(pairs(read(registry, 'GPU-1', { order: 'asc' })), asc);
  t.strictSame(pairs(read(registry, 'GPU-1', { order: 'desc' })), asc.slice().reverse());
  for (const s of read(registry, 'GPU-1')) {
    if (!(s.tsMs === 35 && s.metric === 'a_temp')) t.equal(s.value, s.tsMs + s.metric.charCodeAt(0), `value of ${s.metric}@${s.tsMs}`);
  }
});

t.test('metric filters return one metric, several, or nothing for an unknown metric', async (t) => {
  const { registry, writer } = store();
  const g = gpu('GPU-1');
  for (let ms = 0; ms < 50; ms += 5) {
    writer.append(g, 'temp', ms, 1);
    writer.append(g, 'power', ms, 2);
    writer.append(g, 'util', ms, 3);
  }
  const one = read(registry, 'GPU-1', { metrics: ['power'] });
  t.equal(one.length, 10);
  t.ok(one.every((s) => s.metric === 'power' && s.value === 2));
  const two = read(registry, 'GPU-1', { metrics: ['util', 'temp'] });
  t.equal(two.length, 20);
  t.strictSame([...new Set(two.map((s) => s.metric))].sort(), ['temp', 'util']);
  t.strictSame(two, two.slice().sort(byTimeMetric), 'still in (time, metric) order');
  t.strictSame(read(registry, 'GPU-1', { metrics: ['power', 'nope'] }), one, 'an unknown name among known ones is ignored');
  const none = readSamples(registry, 'GPU-1', { metrics: ['DCGM_FI_NOPE'], limit: 10 });
  t.strictSame(none, { samples: [], next: null }, 'unknown metric: an empty page, not undefined');
  t.strictSame(readSamples(registry, 'GPU-1', { metrics: [], limit: 10 }), { samples: [], next: null }, 'empty list: nothing');
  t.equal(read(registry, 'GPU-1').length, 30, 'no filter: every metric');
  t.strictSame(ts(read(registry, 'GPU-1', { metrics: ['temp'], startMs: 10, endMs: 20 })), [10, 15, 20], 'filter and window');
});

t.test('an unknown GPU reads as undefined', async (t) => {
  const { registry, writer } = store();
  t.equal(readSamples(registry, 'GPU-1', { limit: 10 }), undefined, 'empty store');
  writer.append(gpu('GPU-1'), 'temp', 1, 1);
  t.equal(readSamples(registry, 'GPU-2', { limit: 10 }), undefined);
  t.equal(readSamples(registry, 'gpu-1', { limit: 10 }), undefined, 'uuids are case-sensitive');
  t.not(readSamples(registry, 'GPU-1', { limit: 10 }), undefined);
});

t.test('limit and cursor page through every sample exactly once, in order, both ways', async (t) => {
  const rnd = seeded(t);
  const { registry, writer } = store({ chunkSamples: 16 });
  const g = gpu('GPU-1');
  const metrics = ['a', 'b', 'c', 'd'];
  let ms = 0;
  for (let i = 0; i < 400; i++) {
    ms += rnd.int(1, 20);
    // Several metrics per timestamp, a random subset each time.
    for (const m of metrics) if (rnd.float() < 0.6) writer.append(g, m, ms, ms * 10 + m.charCodeAt(0));
  }
  const all = read(registry, 'GPU-1');
  t.ok(all.length > 800, `${all.length} samples (seed ${rnd.seed})`);
  const queries: Array<Omit<SampleQuery, 'limit' | 'cursor'>> = [
    {},
    { order: 'desc' },
    { metrics: ['b', 'd'] },
    { metrics: ['c'], order: 'desc' },
    { startMs: all[100]!.tsMs, endMs: all[700]!.tsMs },
    { startMs: all[100]!.tsMs, endMs: all[700]!.tsMs, order: 'desc' },
  ];
  for (const q of queries) {
    const expected = read(registry, 'GPU-1', q);
    for (const maxPage of [1, 3, 17, 100, expected.length, expected.length + 5]) {
      const pages = readPaged(registry, 'GPU-1', q, () => rnd.int(1, Math.max(1, maxPage)));
      const got = pages.flat();
      const label = `${JSON.stringify(q)} pages of 1..${maxPage} (seed ${rnd.seed})`;
      t.equal(got.length, expected.length, `${label}: count`);
      t.strictSame(got, expected, `${label}: every sample once, in order`);
      const keys = new Set(got.map((s) => `${s.tsMs}/${s.metric}`));
      t.equal(keys.size, got.length, `${label}: no repeats`);
    }
  }
});

t.test('a page of exactly the remaining samples has no next cursor', async (t) => {
  const { registry, writer } = store();
  for (let ms = 1; ms <= 6; ms++) writer.append(gpu('GPU-1'), 'temp', ms, ms);
  const first = readSamples(registry, 'GPU-1', { limit: 4 })!;
  t.strictSame(ts(first.samples), [1, 2, 3, 4]);
  t.type(first.next, 'string');
  const last = readSamples(registry, 'GPU-1', { limit: 2, cursor: first.next! })!;
  t.strictSame(ts(last.samples), [5, 6]);
  t.equal(last.next, null);
  t.equal(readSamples(registry, 'GPU-1', { limit: 6 })!.next, null);
  t.type(readSamples(registry, 'GPU-1', { limit: 5 })!.next, 'string');
});

t.test('a cursor resumes after the samples appended since the previous page', async (t) => {
  const { registry, writer } = store({ chunkSamples: 4 });
  const g = gpu('GPU-1');
  for (let ms = 1; ms <= 10; ms++) writer.append(g, 'temp', ms, ms);
  const first = readSamples(registry, 'GPU-1', { limit: 10 })!;
  t.equal(first.next, null);
  // A full page is followed by a cursor; new samples then show up after it.
  const p1 = readSamples(registry, 'GPU-1', { limit: 5 })!;
  for (let ms = 11; ms <= 13; ms++) writer.append(g, 'temp', ms, ms);
  const rest = readPaged(registry, 'GPU-1', {}, () => 3);
  t.strictSame(ts(rest.flat()), Array.from({ length: 13 }, (_, i) => i + 1));
  const p2 = readSamples(registry, 'GPU-1', { limit: 100, cursor: p1.next! })!;
  t.strictSame(ts(p2.samples), [6, 7, 8, 9, 10, 11, 12, 13]);
});

t.test('an invalid cursor is a CursorError', async (t) => {
  const { registry, writer } = store();
  writer.append(gpu('GPU-1'), 'temp', 1, 1);
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  for (const cursor of ['garbage', '', '!!!', b64({ tsMs: 1, metric: 'a' }), b64([1]), b64(['1', 'a']), b64([1, 2]), b64([1, 'a', 3]), b64(null)]) {
    t.throws(() => readSamples(registry, 'GPU-1', { limit: 10, cursor }), CursorError, `cursor ${JSON.stringify(cursor)}`);
  }
  t.throws(() => readSamples(registry, 'GPU-1', { limit: 10, cursor: 'garbage' }), {
    name: 'CursorError',
    message: /cursor "garbage" is not a cursor/,
  });
  t.strictSame(readSamples(registry, 'GPU-1', { limit: 10, cursor: encodeCursor(0, 'temp') })!.samples.length, 1);
});

t.test('listGpus summarizes each GPU: identity, metrics, sample count, first and last time', async (t) => {
  const { registry, writer } = store();
  const g = gpu('GPU-1', { gpuId: '3', device: 'nvidia3', pod: 'p', namespace: 'ns', container: 'c' });
  for (let ms = 100; ms <= 500; ms += 100) writer.append(g, 'temp', ms, 1);
  for (let ms = 50; ms <= 400; ms += 50) writer.append(g, 'power', ms, 1);
  writer.append(g, 'util', 450, 1);
  t.strictSame(listGpus(registry), [
    {
      uuid: 'GPU-1',
      gpuId: '3',
      device: 'nvidia3',
      modelName: 'NVIDIA H100 80GB HBM3',
      hostname: 'host-a',
      container: 'c',
      pod: 'p',
      namespace: 'ns',
      metrics: ['power', 'temp', 'util'],
      samples: 5 + 8 + 1,
      firstMs: 50,
      lastMs: 500,
    },
  ]);
  t.strictSame(listGpus(new Registry()), [], 'empty store');
});

t.test('listGpus shows the identity last reported for a uuid', async (t) => {
  const registry = new Registry();
  const a = new ShardWriter(0, BIG, (e) => registry.apply(e));
  const b = new ShardWriter(1, BIG, (e) => registry.apply(e));
  a.append(gpu('GPU-1', { pod: 'old' }), 'temp', 1, 1);
  b.append(gpu('GPU-1', { pod: 'new' }), 'temp', 2, 1);
  const [only, ...rest] = listGpus(registry);
  t.equal(rest.length, 0);
  t.equal(only!.pod, 'new');
});

t.test('listGpus leaves out a GPU with no samples held', async (t) => {
  const registry = new Registry();
  registry.apply({ t: 'series', shard: 0, series: 0, gpu: gpu('GPU-empty'), metric: 'temp' });
  registry.apply({ t: 'slab', shard: 0, slab: 0, chunkSamples: 8, buffer: new SharedArrayBuffer(SLAB_CHUNKS * chunkBytes(8)) });
  registry.apply({ t: 'chunk', shard: 0, series: 0, chunk: 0, epoch: 0 });
  t.strictSame(listGpus(registry), []);
  t.strictSame(readSamples(registry, 'GPU-empty', { limit: 5 }), { samples: [], next: null });
});

t.test('listGpus filters by hostname and by model', async (t) => {
  const { registry, writer } = store();
  writer.append(gpu('GPU-1', { hostname: 'h1', modelName: 'H100' }), 'temp', 1, 1);
  writer.append(gpu('GPU-2', { hostname: 'h1', modelName: 'A100', gpuId: '1' }), 'temp', 1, 1);
  writer.append(gpu('GPU-3', { hostname: 'h2', modelName: 'H100' }), 'temp', 1, 1);
  const uuids = (f: Parameters<typeof listGpus>[1]): string[] => listGpus(registry, f).map((g) => g.uuid);
  t.strictSame(uuids({}), ['GPU-1', 'GPU-2', 'GPU-3']);
  t.strictSame(uuids({ hostname: 'h1' }), ['GPU-1', 'GPU-2']);
  t.strictSame(uuids({ model: 'H100' }), ['GPU-1', 'GPU-3']);
  t.strictSame(uuids({ hostname: 'h1', model: 'H100' }), ['GPU-1']);
  t.strictSame(uuids({ hostname: 'h3' }), []);
  t.strictSame(uuids({ model: 'h100' }), [], 'exact match');
});

t.test('listGpus orders by hostname, then numeric gpu_id, then uuid, whatever the arrival order', async (t) => {
  const rnd = seeded(t);
  const expected: GpuIdentity[] = [
    gpu('GPU-x', { hostname: 'a-host', gpuId: '2' }),
    gpu('GPU-a', { hostname: 'b-host', gpuId: '1' }),
    gpu('GPU-b', { hostname: 'b-host', gpuId: '2' }),
    gpu('GPU-c', { hostname: 'b-host', gpuId: '2' }),
    gpu('GPU-0', { hostname: 'b-host', gpuId: '10' }),
    gpu('GPU-9', { hostname: 'c-host', gpuId: '0' }),
  ];
  for (let round = 0; round < 5; round++) {
    const shuffled = expected.slice();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rnd.int(0, i);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const { registry, writer } = store();
    for (const g of shuffled) writer.append(g, 'temp', 1, 1);
    t.strictSame(
      listGpus(registry).map((g) => g.uuid),
      expected.map((g) => g.uuid),
      `arrival ${shuffled.map((g) => g.uuid).join(',')} (seed ${rnd.seed})`,
    );
  }
});

t.test('the same (uuid, metric, ts) appended twice is stored once and reported as Duplicate', async (t) => {
  const { registry, writer } = store();
  const g = gpu('GPU-1');
  t.equal(writer.append(g, 'temp', 10, 1), AppendResult.Stored);
  t.equal(writer.append(g, 'temp', 10, 1), AppendResult.Duplicate);
  t.equal(writer.append(g, 'temp', 10, 99), AppendResult.Duplicate, 'also with another value');
  t.strictSame(read(registry, 'GPU-1'), [{ tsMs: 10, metric: 'temp', value: 1 }], 'the first value is kept');
  t.equal(writer.append(g, 'power', 10, 2), AppendResult.Stored, 'another metric at the same time is not a duplicate');
  t.equal(writer.append(gpu('GPU-2'), 'temp', 10, 3), AppendResult.Stored, 'another GPU at the same time is not a duplicate');
  t.equal(listGpus(registry).reduce((n, s) => n + s.samples, 0), 3);
});

t.test('an older duplicate held in an earlier chunk is reported as Duplicate and not stored again', async (t) => {
  const { registry, writer } = store({ chunkSamples: 8 });
  const g = gpu('GPU-1');
  for (let ms = 0; ms < 100; ms += 2) t.equal(writer.append(g, 'temp', ms, ms), AppendResult.Stored);
  for (const ms of [0, 2, 14, 16, 30, 64, 96, 98]) {
    t.equal(writer.append(g, 'temp', ms, -1), AppendResult.Duplicate, `ts ${ms}`);
  }
  const all = read(registry, 'GPU-1');
  t.equal(all.length, 50);
  t.ok(all.every((s) => s.value === s.tsMs), 'no value was overwritten');
});

t.test('an older sample that is not held is OutOfOrder and not stored', async (t) => {
  const { registry, writer } = store({ chunkSamples: 4 });
  const g = gpu('GPU-1');
  for (let ms = 10; ms <= 100; ms += 10) writer.append(g, 'temp', ms, ms);
  for (const ms of [15, 5, 0, -1, 99, 41]) t.equal(writer.append(g, 'temp', ms, -1), AppendResult.OutOfOrder, `ts ${ms}`);
  t.strictSame(ts(read(registry, 'GPU-1')), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  t.equal(writer.append(g, 'temp', 101, 101), AppendResult.Stored, 'a newer sample is still stored');
  t.equal(writer.append(g, 'other', 5, 5), AppendResult.Stored, 'order is per series');
});

t.test('a sample dropped by retention comes back as OutOfOrder, not stored again', async (t) => {
  const { registry, writer } = store({ chunkSamples: 4, maxSamplesPerSeries: 8 });
  const g = gpu('GPU-1');
  for (let ms = 0; ms < 40; ms++) writer.append(g, 'temp', ms, ms);
  const oldest = read(registry, 'GPU-1')[0]!.tsMs;
  t.ok(oldest > 0);
  t.equal(writer.append(g, 'temp', 0, 0), AppendResult.OutOfOrder);
  t.equal(writer.append(g, 'temp', oldest, 0), AppendResult.Duplicate);
  t.equal(read(registry, 'GPU-1')[0]!.tsMs, oldest);
});

t.test('count retention keeps between max and max + one chunk, dropping the oldest first', async (t) => {
  const chunkSamples = 8;
  const maxSamplesPerSeries = 50;
  const { registry, writer } = store({ chunkSamples, maxSamplesPerSeries });
  const g = gpu('GPU-1');
  let prevEvicted = 0;
  for (let n = 1; n <= 1000; n++) {
    writer.append(g, 'temp', n * 10, n);
    const [summary] = listGpus(registry);
    const held = summary!.samples;
    if (n < maxSamplesPerSeries) {
      if (held !== n) t.fail(`after ${n} appends ${held} held, expected all`);
    } else if (held < maxSamplesPerSeries || held >= maxSamplesPerSeries + chunkSamples) {
      t.fail(`after ${n} appends ${held} held, outside [${maxSamplesPerSeries}, ${maxSamplesPerSeries + chunkSamples})`);
    }
    if (writer.evicted !== n - held) t.fail(`after ${n} appends evicted=${writer.evicted}, expected ${n - held}`);
    if (writer.evicted < prevEvicted) t.fail('evicted went down');
    if (writer.evicted !== prevEvicted && (writer.evicted - prevEvicted) % chunkSamples !== 0) t.fail('evicted not by whole chunks');
    prevEvicted = writer.evicted;
    if (summary!.lastMs !== n * 10) t.fail(`lastMs ${summary!.lastMs} after appending ${n * 10}`);
    if (summary!.firstMs !== (n - held + 1) * 10) t.fail(`firstMs ${summary!.firstMs}: not the oldest that was kept`);
    // The held samples are exactly the newest `held`, whatever the window.
    const all = read(registry, 'GPU-1');
    if (all.length !== held || all[0]!.tsMs !== (n - held + 1) * 10 || all[all.length - 1]!.tsMs !== n * 10) {
      t.fail(`after ${n} appends the held samples are not the newest ${held}`);
    }
  }
  t.ok(writer.evicted > 900, `evicted ${writer.evicted}`);
  const all = read(registry, 'GPU-1');
  t.ok(all.every((s, i) => s.value === s.tsMs / 10 && (i === 0 || s.tsMs === all[i - 1]!.tsMs + 10)), 'contiguous tail');
  t.strictSame(read(registry, 'GPU-1', { endMs: all[0]!.tsMs - 1 }), [], 'no dropped sample in a window before the oldest');
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 0, endMs: all[1]!.tsMs })), [all[0]!.tsMs, all[1]!.tsMs]);
  t.equal(read(registry, 'GPU-1', { order: 'desc' }).at(-1)!.tsMs, all[0]!.tsMs);
  t.equal(writer.seriesCount, 1);
});

t.test('count retention is per series', async (t) => {
  const { registry, writer } = store({ chunkSamples: 4, maxSamplesPerSeries: 8 });
  for (let ms = 0; ms < 100; ms++) writer.append(gpu('GPU-busy'), 'temp', ms, ms);
  for (let ms = 0; ms < 6; ms++) writer.append(gpu('GPU-idle'), 'temp', ms, ms);
  for (let ms = 0; ms < 6; ms++) writer.append(gpu('GPU-busy'), 'power', ms, ms);
  t.equal(read(registry, 'GPU-idle').length, 6);
  t.equal(read(registry, 'GPU-busy', { metrics: ['power'] }).length, 6);
  t.ok(read(registry, 'GPU-busy', { metrics: ['temp'] }).length < 12);
  t.equal(writer.seriesCount, 3);
});

t.test('age retention drops a chunk once its newest sample is older than the series newest minus retentionMs', async (t) => {
  const rnd = seeded(t);
  const chunkSamples = 8;
  const retentionMs = 1000;
  const { registry, writer } = store({ chunkSamples, retentionMs });
  const g = gpu('GPU-1');
  const written: number[] = [];
  let ms = 0;
  for (let i = 0; i < 2000; i++) {
    ms += rnd.int(1, 40);
    writer.append(g, 'temp', ms, ms);
    written.push(ms);
    const held = ts(read(registry, 'GPU-1'));
    const cutoff = ms - retentionMs;
    const mustHold = written.filter((x) => x >= cutoff);
    const label = `after ${i + 1} appends, newest ${ms} (seed ${rnd.seed})`;
    // Everything inside the window is held, and it is a contiguous tail of what was written.
    if (held.length < mustHold.length || held[held.length - mustHold.length] !== mustHold[0]) t.fail(`${label}: lost a sample inside retention`);
    if (held.join() !== written.slice(written.length - held.length).join()) t.fail(`${label}: held is not the newest tail`);
    // At most one chunk's worth (less one) is older than the cutoff.
    const old = held.length - mustHold.length;
    if (old >= chunkSamples) t.fail(`${label}: ${old} samples older than the cutoff are still held`);
  }
  t.ok(writer.evicted > 0, `evicted ${writer.evicted}`);
  t.equal(writer.evicted + read(registry, 'GPU-1').length, written.length, 'evicted + held = written');
});

t.test('age retention is relative to the newest sample of each series, not of the store', async (t) => {
  const { registry, writer } = store({ chunkSamples: 4, retentionMs: 100 });
  for (let ms = 0; ms <= 10_000; ms += 10) writer.append(gpu('GPU-new'), 'temp', ms, ms);
  for (let ms = 0; ms <= 90; ms += 10) writer.append(gpu('GPU-old'), 'temp', ms, ms);
  t.equal(read(registry, 'GPU-old').length, 10, 'a series far behind the others keeps its samples');
  const fresh = ts(read(registry, 'GPU-new'));
  t.ok(fresh[0]! >= 10_000 - 100 - 3 * 10 && fresh[0]! <= 10_000 - 100, `oldest held ${fresh[0]}`);
  t.equal(fresh.at(-1), 10_000);
});

t.test('the chunk being written is never dropped, however old its samples', async (t) => {
  const { registry, writer } = store({ chunkSamples: 8, retentionMs: 1000 });
  const g = gpu('GPU-1');
  writer.append(g, 'temp', 0, 0);
  writer.append(g, 'temp', 1_000_000, 1);
  t.strictSame(ts(read(registry, 'GPU-1')), [0, 1_000_000], 'both in the open chunk');
  t.equal(writer.evicted, 0);
});

t.test('a sealed chunk is dropped whole once its newest sample is past retention', async (t) => {
  const { registry, writer } = store({ chunkSamples: 8, retentionMs: 1000 });
  const g = gpu('GPU-1');
  for (let ms = 0; ms < 8; ms++) writer.append(g, 'temp', ms, ms);
  writer.append(g, 'temp', 1007, 8);
  t.strictSame(ts(read(registry, 'GPU-1')), [0, 1, 2, 3, 4, 5, 6, 7, 1007], 'newest of the sealed chunk (7) is exactly at the cutoff');
  writer.append(g, 'temp', 1008, 9);
  t.strictSame(ts(read(registry, 'GPU-1')), [1007, 1008], 'cutoff passed: all 8 go, even those only just older');
  t.equal(writer.evicted, 8);
});

t.test('two shards holding one series merge by time, and a sample in both is returned once', async (t) => {
  const registry = new Registry();
  const before = new ShardWriter(0, { ...BIG, chunkSamples: 8 }, (e) => registry.apply(e));
  const after = new ShardWriter(1, { ...BIG, chunkSamples: 8 }, (e) => registry.apply(e));
  const g = gpu('GPU-1');
  // A collector scale event: the series moves from shard 0 to shard 1; 50..59 went to both.
  for (let ms = 0; ms < 60; ms++) before.append(g, 'temp', ms, ms);
  for (let ms = 50; ms < 120; ms++) after.append(g, 'temp', ms, ms);
  for (let ms = 0; ms < 120; ms += 3) after.append(g, 'power', ms, -ms);
  const expected = Array.from({ length: 120 }, (_, i) => i);
  t.strictSame(ts(read(registry, 'GPU-1', { metrics: ['temp'] })), expected);
  t.strictSame(ts(read(registry, 'GPU-1', { metrics: ['temp'], order: 'desc' })), expected.slice().reverse());
  t.strictSame(ts(read(registry, 'GPU-1', { metrics: ['temp'], startMs: 45, endMs: 65 })), expected.slice(45, 66));
  const all = read(registry, 'GPU-1');
  t.equal(all.length, 120 + 40);
  t.strictSame(all, all.slice().sort(byTimeMetric));
  for (const size of [1, 7, 10, 13]) {
    for (const order of ['asc', 'desc'] as const) {
      const paged = readPaged(registry, 'GPU-1', { order }, () => size).flat();
      t.strictSame(paged, read(registry, 'GPU-1', { order }), `pages of ${size}, ${order}`);
    }
  }
  const [summary] = listGpus(registry);
  t.equal(summary!.firstMs, 0);
  t.equal(summary!.lastMs, 119);
  t.strictSame(summary!.metrics, ['power', 'temp']);
});

t.test('two shards whose samples interleave in time read as one series in time order', async (t) => {
  const registry = new Registry();
  const even = new ShardWriter(0, { ...BIG, chunkSamples: 4 }, (e) => registry.apply(e));
  const odd = new ShardWriter(1, { ...BIG, chunkSamples: 4 }, (e) => registry.apply(e));
  const g = gpu('GPU-1');
  for (let ms = 0; ms < 100; ms++) (ms % 2 === 0 ? even : odd).append(g, 'temp', ms, ms);
  t.strictSame(ts(read(registry, 'GPU-1')), Array.from({ length: 100 }, (_, i) => i));
  t.strictSame(ts(read(registry, 'GPU-1', { startMs: 33, endMs: 36, order: 'desc' })), [36, 35, 34, 33]);
  t.equal(listGpus(registry)[0]!.samples, 100);
});

t.test('windows that start and end on and around chunk boundaries match a plain filter', async (t) => {
  const rnd = seeded(t);
  const chunkSamples = 4;
  const { registry, writer } = store({ chunkSamples });
  const g = gpu('GPU-1');
  const written: Sample[] = [];
  let ms = 1000;
  for (let i = 0; i < 103; i++) {
    ms += rnd.int(1, 5);
    writer.append(g, 'temp', ms, i);
    written.push({ tsMs: ms, metric: 'temp', value: i });
  }
  // Chunk firsts and lasts, one either side of them, and the ends of the series.
  const edges = new Set<number>();
  for (let i = 0; i < written.length; i += chunkSamples) {
    for (const j of [i - 1, i, i + chunkSamples - 1]) {
      const s = written[j];
      if (s !== undefined) for (const d of [-1, 0, 1]) edges.add(s.tsMs + d);
    }
  }
  edges.add(-Infinity).add(Infinity);
  const points = [...edges].sort((a, b) => a - b);
  let checked = 0;
  for (let k = 0; k < 3000; k++) {
    const a = points[rnd.int(0, points.length - 1)]!;
    const b = points[rnd.int(0, points.length - 1)]!;
    const startMs = Math.min(a, b);
    const endMs = Math.max(a, b);
    const expected = written.filter((s) => s.tsMs >= startMs && s.tsMs <= endMs);
    const got = read(registry, 'GPU-1', { startMs, endMs });
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      t.strictSame(got, expected, `window [${startMs}, ${endMs}] (seed ${rnd.seed})`);
      break;
    }
    checked++;
  }
  t.equal(checked, 3000, `3000 windows (seed ${rnd.seed})`);
  t.strictSame(read(registry, 'GPU-1'), written, 'the whole series across 26 chunks');
});

t.test('a store event for a series, slab or chunk the registry never saw is a BUG error', async (t) => {
  const registry = new Registry();
  t.throws(() => registry.apply({ t: 'drop', shard: 0, series: 7, chunks: 1 }), /BUG: store event for unknown series 0:7/);
  registry.apply({ t: 'series', shard: 1, series: 0, gpu: gpu('GPU-1'), metric: 'temp' });
  t.throws(() => registry.apply({ t: 'chunk', shard: 1, series: 0, chunk: 0, epoch: 0 }), /BUG: chunk 0 of shard 1 before its slab/);
  const buffer = new SharedArrayBuffer(SLAB_CHUNKS * chunkBytes(4));
  t.throws(() => registry.apply({ t: 'slab', shard: 1, slab: 1, chunkSamples: 4, buffer }), /BUG: slab 1 of shard 1 out of order/);
  registry.apply({ t: 'slab', shard: 1, slab: 0, chunkSamples: 4, buffer });
  t.throws(() => registry.apply({ t: 'chunk', shard: 1, series: 0, chunk: SLAB_CHUNKS, epoch: 0 }), /BUG: chunk 64 of shard 1 before its slab/);
  t.equal(registry.chunkBytes, buffer.byteLength);
});

t.test('a chunk that does not fit its buffer is a RangeError', async (t) => {
  const buffer = new SharedArrayBuffer(chunkBytes(4) * 2);
  t.throws(() => new SeriesChunk(buffer, 0, 0), RangeError);
  t.throws(() => new SeriesChunk(buffer, 4, 4), RangeError, 'not 8-byte aligned');
  t.throws(() => new SeriesChunk(buffer, chunkBytes(4) + 8, 4), /a chunk of 4 samples at byte 80 does not fit a 144-byte buffer/);
  const c = new SeriesChunk(buffer, chunkBytes(4), 4, 1);
  t.equal(c.capacity, 4);
  t.equal(c.count, 0);
  t.equal(c.full, false);
  t.equal(c.id, 1);
});

t.test('a dropped chunk is recycled: readers holding its old epoch see it as empty', async (t) => {
  const events: StoreEvent[] = [];
  const pool = new ChunkPool(0, 4, (e) => events.push(e));
  const a = pool.take();
  t.equal(events.length, 1, 'the first chunk announces a slab');
  a.append(1, 10);
  a.append(2, 20);
  const ref = new ChunkRef(a, a.epoch);
  t.equal(ref.count, 2);
  t.equal(ref.live, true);
  pool.give(a);
  t.equal(ref.count, 0, 'dropped: nothing to read in the old life');
  t.equal(ref.live, false);
  const b = pool.take();
  t.equal(b, a, 'the dropped chunk is taken next');
  t.equal(b.count, 0);
  b.append(5, 50);
  t.equal(ref.count, 0, 'its new life is invisible through the old ref');
  t.equal(new ChunkRef(b, b.epoch).count, 1);
  t.equal(events.length, 1, 'no new slab for a reused chunk');
  t.equal(pool.used, 1);
});

t.test('once retention is full, chunks are reused and the pool stops growing', async (t) => {
  const chunkSamples = 8;
  const { registry, writer } = store({ chunkSamples, maxSamplesPerSeries: 32 });
  const metrics = ['a', 'b', 'c'];
  let bytesAtFull = 0;
  for (let i = 0; i < 20_000; i++) {
    for (const m of metrics) writer.append(gpu('GPU-1'), m, i, i);
    if (i === 1000) bytesAtFull = writer.pool.bytes;
  }
  t.ok(bytesAtFull > 0);
  t.equal(writer.pool.bytes, bytesAtFull, `${bytesAtFull} B of slabs after 1,000 samples per series, and after 20,000`);
  t.equal(registry.chunkBytes, bytesAtFull, 'the registry holds the same slabs');
  t.ok(writer.pool.used <= metrics.length * (32 / chunkSamples + 1), `${writer.pool.used} chunks in use`);
  for (const m of metrics) {
    const got = read(registry, 'GPU-1', { metrics: [m] });
    t.same(ts(got), Array.from({ length: got.length }, (_, k) => 20_000 - got.length + k), `${m}: the newest samples, contiguous`);
    t.ok(got.length >= 32 && got.length < 40);
    t.ok(got.every((s) => s.value === s.tsMs && s.metric === m), `${m}: every value its own`);
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
  t.same(ts(read(registry, 'GPU-1')), [0, 1, 2, 3, 4, 5, 6, 7]);
  deliver = false;
  // Sample 8 opens a third chunk and drops [0-3]; 'power' then reuses that chunk.
  writer.append(gpu('GPU-1'), 'temp', 8, 8);
  writer.append(gpu('GPU-1'), 'power', 100, -1);
  t.ok(pending.some((e) => e.t === 'drop'), 'the drop is not applied yet');
  t.same(read(registry, 'GPU-1'), [4, 5, 6, 7].map((i) => ({ tsMs: i, metric: 'temp', value: i })), 'the reused chunk is skipped, not read as temp');
  t.same(ts(read(registry, 'GPU-1', { order: 'desc' })), [7, 6, 5, 4]);
  const [summary] = listGpus(registry);
  t.equal(summary!.samples, 4);
  t.equal(summary!.firstMs, 4);
  for (const e of pending) registry.apply(e);
  t.same(read(registry, 'GPU-1'), [
    ...[4, 5, 6, 7, 8].map((i) => ({ tsMs: i, metric: 'temp', value: i })),
    { tsMs: 100, metric: 'power', value: -1 },
  ]);
});

t.test('readSamples rejects a limit below 1 with a RangeError naming it', async (t) => {
  const registry = new Registry();
  for (const limit of [0, -1, 1.5, NaN]) {
    t.throws(() => readSamples(registry, 'GPU-x', { limit }), { name: 'RangeError', message: /limit must be an integer >= 1/ }, String(limit));
  }
});

t.test('the store interfaces: a writer from createStoreWriter, read back through InMemoryStore', async (t) => {
  const registry = new Registry();
  const writer = createStoreWriter('inmemory', 3, { ...BIG, chunkSamples: 4 }, (e) => registry.apply(e));
  const store = new InMemoryStore(registry);
  const temp = writer.seriesOf(gpu('GPU-9', { hostname: 'h9' }), 'temp');
  for (let i = 0; i < 10; i++) t.equal(writer.appendTo(temp, i, i * 2), AppendResult.Stored);
  t.equal(writer.appendTo(temp, 5, 10), AppendResult.Duplicate);
  t.equal(writer.appendTo(temp, 4.5, 0), AppendResult.OutOfOrder);
  t.strictSame(await store.listGpus({ hostname: 'h9' }), listGpus(registry, { hostname: 'h9' }));
  t.equal((await store.listGpus({ hostname: 'nope' })).length, 0);
  const page = await store.readSamples('GPU-9', { startMs: 3, endMs: 5, limit: 10 });
  t.strictSame(page, { samples: [3, 4, 5].map((i) => ({ tsMs: i, metric: 'temp', value: i * 2 })), next: null });
  t.equal(await store.readSamples('GPU-unknown', { limit: 1 }), undefined);
  await t.rejects(store.readSamples('GPU-9', { limit: 0 }), RangeError, 'a bad query rejects, not throws');
});

t.test('a chunk dropped in the middle of a read: the run returned stays contiguous, oldest or newest first', async (t) => {
  const { registry, writer } = store({ chunkSamples: 4 });
  for (let i = 0; i < 16; i++) writer.append(gpu('GPU-1'), 'temp', i, i); // chunks [0-3] [4-7] [8-11] [12-15]
  const view = registry.gpus.get('GPU-1')!.series.get('temp')![0]!;
  const second = view.chunks[1]!;
  // Reads as held until its columns have been read, then as dropped (what a writer recycling it mid-read looks like).
  class DroppedWhileRead extends ChunkRef {
    override get live(): boolean {
      return false;
    }
  }
  view.chunks[1] = new DroppedWhileRead(second.chunk, second.epoch);
  t.same(ts(read(registry, 'GPU-1', { order: 'asc' })), [8, 9, 10, 11, 12, 13, 14, 15], 'oldest first: what was older than the dropped chunk is gone too');
  t.same(ts(read(registry, 'GPU-1', { order: 'desc' })), [15, 14, 13, 12, 11, 10, 9, 8], 'newest first: the run ends at the dropped chunk');
  // Paged, the first page is read before the dropped chunk is reached, so it stands; the rest go on from the chunk after it.
  const pages = readPaged(registry, 'GPU-1', { order: 'asc' }, () => 3);
  t.same(pages.flat().map((s) => s.tsMs), [0, 1, 2, 8, 9, 10, 11, 12, 13, 14, 15], 'paged: in order, never repeating');
});
