/**
 * The telemetry routes over a store whose every sample the test wrote
 * (a ShardWriter feeding a never-started engine's registry): the GPU list,
 * raw and downsampled telemetry with every parameter and error, the latest
 * values and the metric catalogue. Every response is also checked against
 * the OpenAPI document.
 */
import t from 'tap';
import { call, fedEngine, gpu, serve } from './fixtures/harness.js';

const T0 = Date.parse('2025-07-18T13:42:33Z');
const N = 1500;
const UTIL = 'DCGM_FI_DEV_GPU_UTIL';
const POWER = 'DCGM_FI_DEV_POWER_USAGE';
const FB = 'DCGM_FI_DEV_FB_USED';
const A100 = 'NVIDIA A100-SXM4-80GB';

const A = gpu('GPU-aaaa', { container: 'triton', pod: 'triton-0', namespace: 'inference' });
const B = gpu('GPU-bbbb', { gpuId: '1', device: 'nvidia1', modelName: A100 });
const C = gpu('GPU-cccc', { hostname: 'host-b' });

/** GPU A: utilisation on whole milliseconds, power half a millisecond later. */
const utilAt = (i: number) => ({ tsMs: T0 + i * 1000, value: i % 101 });
const powerAt = (i: number) => ({ tsMs: T0 + i * 1000 + 0.5, value: 100 + i / 4 });

const { engine, append } = fedEngine();
for (let i = 0; i < N; i++) {
  append(A, UTIL, utilAt(i).tsMs, utilAt(i).value);
  append(A, POWER, powerAt(i).tsMs, powerAt(i).value);
}
for (let i = 0; i < 10; i++) append(B, FB, T0 + i * 10_000, 1024 * i);
for (let i = 0; i < 5; i++) append(C, UTIL, T0 + i * 500, 50 + i);

const { base } = await serve(t, engine);
const pooled = await serve(t, engine, { inlineBelowSamples: 0 }); // downsampling always through the worker pool

const iso = (ms: number): string => new Date(ms).toISOString();
/** `…33.125Z` or `…33.125250Z` → microseconds since the epoch. */
const microsOf = (timestamp: string): number => Date.parse(`${timestamp.slice(0, 23)}Z`) * 1000 + Number(timestamp.slice(23, -1) || 0);
const telemetry = (uuid: string, query = '') => `/api/v1/gpus/${uuid}/telemetry${query}`;

t.test('GET /api/v1/gpus lists every GPU by hostname, gpu_id and uuid, with its identity and sample range', async (t) => {
  const r = await call(t, base, '/api/v1/gpus');
  t.equal(r.status, 200);
  t.strictSame(r.body.data, [
    {
      id: 'GPU-aaaa',
      uuid: 'GPU-aaaa',
      gpu_id: '0',
      device: 'nvidia0',
      model_name: 'NVIDIA H100 80GB HBM3',
      hostname: 'host-a',
      container: 'triton',
      pod: 'triton-0',
      namespace: 'inference',
      metrics: [UTIL, POWER],
      samples: 2 * N,
      first_sample_time: '2025-07-18T13:42:33.000Z',
      last_sample_time: `${iso(T0 + (N - 1) * 1000).slice(0, -1)}500Z`,
    },
    {
      id: 'GPU-bbbb',
      uuid: 'GPU-bbbb',
      gpu_id: '1',
      device: 'nvidia1',
      model_name: A100,
      hostname: 'host-a',
      metrics: [FB],
      samples: 10,
      first_sample_time: iso(T0),
      last_sample_time: iso(T0 + 90_000),
    },
    {
      id: 'GPU-cccc',
      uuid: 'GPU-cccc',
      gpu_id: '0',
      device: 'nvidia0',
      model_name: 'NVIDIA H100 80GB HBM3',
      hostname: 'host-b',
      metrics: [UTIL],
      samples: 5,
      first_sample_time: iso(T0),
      last_sample_time: iso(T0 + 2000),
    },
  ]);
});

t.test('GET /api/v1/gpus filters by hostname and model, exactly', async (t) => {
  const ids = async (query: string) => (await call(t, base, `/api/v1/gpus${query}`)).body.data.map((g: { id: string }) => g.id);
  t.strictSame(await ids('?hostname=host-a'), ['GPU-aaaa', 'GPU-bbbb']);
  t.strictSame(await ids(`?model=${encodeURIComponent(A100)}`), ['GPU-bbbb']);
  t.strictSame(await ids(`?hostname=host-a&model=${encodeURIComponent('NVIDIA H100 80GB HBM3')}`), ['GPU-aaaa']);
  t.strictSame(await ids('?hostname=host-b&model=nope'), []);
  t.strictSame(await ids('?hostname=host'), [], 'no prefix match');
});

t.test('telemetry is newest first by default, 1000 a page, and the cursors walk every sample once', async (t) => {
  const first = await call(t, base, telemetry('GPU-aaaa'));
  t.equal(first.status, 200);
  t.equal(first.body.id, 'GPU-aaaa');
  t.equal(first.body.data.length, 1000, 'default limit 1000');
  t.strictSame(first.body.data[0], { timestamp: `${iso(powerAt(N - 1).tsMs - 0.5).slice(0, -1)}500Z`, metric_name: POWER, value: powerAt(N - 1).value });
  t.strictSame(first.body.data[1], { timestamp: iso(utilAt(N - 1).tsMs), metric_name: UTIL, value: utilAt(N - 1).value });
  t.type(first.body.next, 'string');
  const all = [...first.body.data];
  let next: string | null = first.body.next;
  let pages = 1;
  while (next !== null) {
    const page = await call(t, base, telemetry('GPU-aaaa', `?cursor=${encodeURIComponent(next)}`));
    t.equal(page.status, 200);
    all.push(...page.body.data);
    next = page.body.next;
    pages++;
  }
  t.equal(pages, 3);
  t.equal(all.length, 2 * N, 'every sample, once');
  const keys = all.map((s) => `${s.timestamp} ${s.metric_name}`);
  t.equal(new Set(keys).size, keys.length, 'no sample twice');
  const micros = all.map((s) => microsOf(s.timestamp));
  t.ok(
    micros.every((us, i) => i === 0 || us < micros[i - 1]!),
    'newest first throughout',
  );
});

t.test('order=asc, limit and metric (repeated or comma-separated)', async (t) => {
  const r = await call(t, base, telemetry('GPU-aaaa', `?metric=${UTIL}&order=asc&limit=5`));
  t.strictSame(
    r.body.data,
    [0, 1, 2, 3, 4].map((i) => ({ timestamp: iso(utilAt(i).tsMs), metric_name: UTIL, value: utilAt(i).value })),
  );
  t.type(r.body.next, 'string');
  const both = await call(t, base, telemetry('GPU-aaaa', `?metric=${UTIL}&metric=${POWER}&order=asc&limit=4`));
  const comma = await call(t, base, telemetry('GPU-aaaa', `?metric=${UTIL},${POWER}&order=asc&limit=4`));
  t.strictSame(both.body, comma.body);
  t.strictSame(
    both.body.data.map((s: { metric_name: string }) => s.metric_name),
    [UTIL, POWER, UTIL, POWER],
  );
  const none = await call(t, base, telemetry('GPU-aaaa', '?metric=DCGM_FI_DEV_NOT_THERE'));
  t.strictSame(none.body, { id: 'GPU-aaaa', data: [], next: null });
  const max = await call(t, base, telemetry('GPU-aaaa', '?limit=10000'));
  t.equal(max.body.data.length, 2 * N, 'limit 10000 is allowed');
  t.equal(max.body.next, null);
});

t.test('start_time and end_time are both inclusive, to the microsecond, in any offset', async (t) => {
  const from = powerAt(10).tsMs;
  const to = powerAt(12).tsMs;
  const fmt = (ms: number) => `${iso(ms - 0.5).slice(0, -1)}500Z`;
  t.equal(fmt(from), '2025-07-18T13:42:43.000500Z');
  const r = await call(t, base, telemetry('GPU-aaaa', `?metric=${POWER}&order=asc&start_time=${fmt(from)}&end_time=${fmt(to)}`));
  t.strictSame(
    r.body.data.map((s: { timestamp: string }) => s.timestamp),
    [fmt(from), fmt(powerAt(11).tsMs), fmt(to)],
    'a returned timestamp passed back selects exactly that sample',
  );
  const utils = await call(t, base, telemetry('GPU-aaaa', `?metric=${UTIL}&order=asc&start_time=${fmt(from)}&end_time=${fmt(to)}`));
  t.strictSame(
    utils.body.data.map((s: { timestamp: string }) => s.timestamp),
    [iso(utilAt(11).tsMs), iso(utilAt(12).tsMs)],
  );
  const offset = await call(t, base, telemetry('GPU-aaaa', `?metric=${UTIL}&order=asc&start_time=${encodeURIComponent('2025-07-18T15:42:43+02:00')}&end_time=2025-07-18T13:42:44Z`));
  t.strictSame(
    offset.body.data.map((s: { timestamp: string }) => s.timestamp),
    [iso(utilAt(10).tsMs), iso(utilAt(11).tsMs)],
  );
  const nanos = await call(t, base, telemetry('GPU-aaaa', `?metric=${POWER}&start_time=2025-07-18T13:42:43.000500001Z&end_time=2025-07-18T13:42:45.000500999Z&order=asc`));
  t.strictSame(
    nanos.body.data.map((s: { timestamp: string }) => s.timestamp),
    [fmt(powerAt(11).tsMs), fmt(powerAt(12).tsMs)],
    'digits past the microsecond round inwards',
  );
  const one = await call(t, base, telemetry('GPU-aaaa', `?start_time=${iso(T0)}&end_time=${iso(T0)}`));
  t.strictSame(one.body.data, [{ timestamp: iso(T0), metric_name: UTIL, value: 0 }], 'an instant window');
});

t.test('bad parameters are 400s that name the parameter and the value', async (t) => {
  const cases: Array<[string, number, string, RegExp]> = [
    ['?start_time=yesterday', 400, 'bad_parameter', /start_time .*"yesterday"/],
    ['?end_time=2025-13-01T00:00:00Z', 400, 'bad_parameter', /end_time .*"2025-13-01T00:00:00Z"/],
    ['?end_time=2025-02-30T00:00:00Z', 400, 'bad_parameter', /end_time/],
    ['?start_time=2025-07-18T13:42:33', 400, 'bad_parameter', /start_time .*"2025-07-18T13:42:33"/],
    ['?start_time=2025-07-18T14:00:00Z&end_time=2025-07-18T13:00:00Z', 400, 'bad_time_range', /start_time "2025-07-18T14:00:00Z" is after end_time "2025-07-18T13:00:00Z"/],
    ['?limit=0', 400, 'bad_parameter', /limit must be from 1 to 10000, got 0/],
    ['?limit=10001', 400, 'bad_parameter', /limit must be from 1 to 10000, got 10001/],
    ['?limit=abc', 400, 'bad_parameter', /limit must be an integer from 1 to 10000, got "abc"/],
    ['?limit=1.5', 400, 'bad_parameter', /limit .*"1\.5"/],
    ['?limit=', 400, 'bad_parameter', /limit .*""/],
    ['?limit=5&limit=6', 400, 'bad_parameter', /limit must be given once/],
    ['?order=sideways', 400, 'bad_parameter', /order must be one of desc, asc, got "sideways"/],
    ['?step=1m&agg=median', 400, 'bad_parameter', /agg must be one of avg, min, max, last, count, got "median"/],
    ['?agg=avg', 400, 'bad_parameter', /agg "avg" needs step/],
    ['?step=0', 400, 'bad_parameter', /step .*"0"/],
    ['?step=1w', 400, 'bad_parameter', /step .*"1w"/],
    ['?step=-5s', 400, 'bad_parameter', /step .*"-5s"/],
    ['?cursor=not-a-cursor', 400, 'bad_cursor', /cursor "not-a-cursor"/],
    ['?cursor=not-a-cursor&step=1m', 400, 'bad_cursor', /cursor "not-a-cursor"/],
    [`?cursor=${'x'.repeat(1025)}`, 400, 'bad_parameter', /cursor must be at most 1024 characters/],
    ['?limt=5', 400, 'bad_parameter', /unknown query parameter "limt"/],
  ];
  for (const [query, status, code, message] of cases) {
    const r = await call(t, base, telemetry('GPU-aaaa', query));
    t.equal(r.status, status, query);
    t.equal(r.body.error.code, code, query);
    t.match(r.body.error.message, message, query);
  }
});

t.test('an unknown GPU is a 404 naming it, raw, downsampled and latest', async (t) => {
  for (const path of [telemetry('GPU-nope'), telemetry('GPU-nope', '?step=1m'), '/api/v1/gpus/GPU-nope/latest']) {
    const r = await call(t, base, path);
    t.equal(r.status, 404, path);
    t.strictSame(Object.keys(r.body), ['error']);
    t.equal(r.body.error.code, 'gpu_not_found');
    t.match(r.body.error.message, /"GPU-nope"/);
  }
  const pool = await call(t, pooled.base, telemetry('GPU-nope', '?step=1m'));
  t.equal(pool.status, 404);
});

/** Buckets of GPU A's utilisation computed here from the samples written. */
function expectedBuckets(stepMs: number, agg: string): Array<{ tsMs: number; value: number; samples: number }> {
  const byBucket = new Map<number, number[]>();
  for (let i = 0; i < N; i++) {
    const { tsMs, value } = utilAt(i);
    const b = Math.floor(tsMs / stepMs) * stepMs;
    if (!byBucket.has(b)) byBucket.set(b, []);
    byBucket.get(b)!.push(value);
  }
  const reduce: Record<string, (v: number[]) => number> = {
    avg: (v) => v.reduce((a, b) => a + b, 0) / v.length,
    min: (v) => Math.min(...v),
    max: (v) => Math.max(...v),
    last: (v) => v[v.length - 1]!,
    count: (v) => v.length,
  };
  return [...byBucket].map(([tsMs, v]) => ({ tsMs, value: reduce[agg]!(v), samples: v.length }));
}

t.test('step and agg downsample, inline and through the worker pool alike', async (t) => {
  for (const agg of ['avg', 'min', 'max', 'last', 'count']) {
    const want = expectedBuckets(60_000, agg).map((b) => ({ timestamp: iso(b.tsMs), metric_name: UTIL, value: b.value, samples: b.samples }));
    const query = `?metric=${UTIL}&step=1m&agg=${agg}&order=asc&limit=10000`;
    const inline = await call(t, base, telemetry('GPU-aaaa', query));
    t.equal(inline.status, 200, agg);
    t.equal(inline.body.data.length, want.length, `${agg}: one bucket a minute`);
    for (let i = 0; i < want.length; i++) {
      const got = inline.body.data[i];
      if (got.timestamp !== want[i]!.timestamp || got.samples !== want[i]!.samples || Math.abs(got.value - want[i]!.value) > 1e-9) {
        t.fail(`${agg}: bucket ${i} is ${JSON.stringify(got)}, expected ${JSON.stringify(want[i])}`);
        break;
      }
    }
    t.equal(inline.body.data[0].timestamp, '2025-07-18T13:42:00.000Z', 'buckets align to multiples of the step since the epoch');
    t.equal(inline.body.data[0].samples, 27, 'the first bucket holds only what is in the window');
    const pool = await call(t, pooled.base, telemetry('GPU-aaaa', query));
    t.strictSame(pool.body, inline.body, `${agg}: the pool answers the same`);
  }
  const avg = (query: string) => call(t, base, telemetry('GPU-aaaa', `?metric=${UTIL}&order=asc&limit=3${query}`)).then((r) => r.body);
  const defaultAgg = await avg('&step=1m');
  t.strictSame(defaultAgg, await avg('&step=1m&agg=avg'), 'agg defaults to avg');
  t.strictSame(defaultAgg, await avg('&step=60s&agg=avg'), '60s = 1m');
  t.strictSame(defaultAgg, await avg('&step=60000&agg=avg'), 'bare milliseconds');
});

t.test('downsampled pages follow their cursor, newest first by default', async (t) => {
  const want = expectedBuckets(120_000, 'max').reverse();
  const got: Array<{ timestamp: string; value: number }> = [];
  let cursor = '';
  for (;;) {
    const r = await call(t, pooled.base, telemetry('GPU-aaaa', `?metric=${UTIL}&step=2m&agg=max&limit=4${cursor}`));
    t.equal(r.status, 200);
    got.push(...r.body.data);
    if (r.body.next === null) break;
    cursor = `&cursor=${encodeURIComponent(r.body.next)}`;
  }
  t.strictSame(
    got.map((b) => [b.timestamp, b.value]),
    want.map((b) => [iso(b.tsMs), b.value]),
  );
});

t.test('GET /api/v1/gpus/{id}/latest: the newest sample of every metric, by name', async (t) => {
  const r = await call(t, base, '/api/v1/gpus/GPU-aaaa/latest');
  t.strictSame(r.body, {
    id: 'GPU-aaaa',
    data: [
      { metric_name: UTIL, timestamp: iso(utilAt(N - 1).tsMs), value: utilAt(N - 1).value },
      { metric_name: POWER, timestamp: `${iso(utilAt(N - 1).tsMs).slice(0, -1)}500Z`, value: powerAt(N - 1).value },
    ],
  });
  const b = await call(t, base, '/api/v1/gpus/GPU-bbbb/latest');
  t.strictSame(b.body.data, [{ metric_name: FB, timestamp: iso(T0 + 90_000), value: 9 * 1024 }]);
  const q = await call(t, base, '/api/v1/gpus/GPU-bbbb/latest?metric=x');
  t.equal(q.status, 400, 'latest takes no parameters');
});

t.test('GET /api/v1/metrics: the catalogue of names seen, with unit, meaning and GPU count', async (t) => {
  const r = await call(t, base, '/api/v1/metrics');
  t.equal(r.status, 200);
  t.strictSame(
    r.body.data.map((m: { name: string; unit: string; gpus: number }) => [m.name, m.unit, m.gpus]),
    [
      [FB, 'MiB', 1],
      [UTIL, '%', 2],
      [POWER, 'W', 1],
    ],
  );
  for (const m of r.body.data) t.ok(m.description.length > 0, `${m.name} has a meaning`);
});

t.test('a GPU id is percent-decoded; a malformed escape is a 400', async (t) => {
  const r = await call(t, base, telemetry('GPU%2Daaaa', '?limit=1'));
  t.equal(r.status, 200);
  t.equal(r.body.id, 'GPU-aaaa');
  const bad = await call(t, base, telemetry('GPU%ZZ'));
  t.equal(bad.status, 400);
  t.match(bad.body.error.message, /id "GPU%ZZ" is not valid percent-encoding/);
});
