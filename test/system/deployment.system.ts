/**
 * The system test: a running deployment checked end to end over HTTP, as a
 * client sees it. Run it with `npm run test:system -- --url http://host:port`
 * (run.ts); it is not part of `npm test`, since it needs a deployment.
 *
 * It assumes only that the deployment streams: samples arrive while it runs
 * (processed timestamps, so the newest is seconds old). Every check reads
 * data the deployment holds now, so any CSV serves. The telemetry tests
 * compare whole answers on windows cut from the newest samples
 * (fixtures/windows.ts).
 */
import t, { type Test } from 'tap';
import { parsePromText, type PromFamily } from '../fixtures/prom-text.js';
import { Checks } from './fixtures/checks.js';
import { Client, Conformance, sleep, type OpenApiDocument, type Query, type Reply } from './fixtures/client.js';
import { fromEnv } from './fixtures/options.js';
import { expectedBuckets, formatMicros, microsOf, outOfOrder, type Agg, type Entry, type Order } from './fixtures/samples.js';
import { MAX_LIMIT, SETTLE_US, Windows, telemetryPath, type Cut, type Gpu, type Watch } from './fixtures/windows.js';

const opts = fromEnv(process.env);
const api = new Client(opts.url);
const { listGpus, telemetry, allPages, cut: cutWindow, cutPage, onStableWindow } = new Windows(api, opts.readyTimeoutS);
t.comment(`deployment ${opts.url.href}: /ready within ${opts.readyTimeoutS} s, newest sample at most ${opts.maxAgeS} s old`);

/** Page size for the paging test: odd, so pages split groups of samples that share a time. */
const SMALL_PAGE = 7;
/** The Date header lags the server's clock by up to this: whole seconds, refreshed once a second. */
const DATE_HEADER_LAG_S = 2;
/** Poll every this often while waiting. */
const POLL_MS = 250;

const once = <T>(make: () => Promise<T>): (() => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
};

const conformance = once(async () => new Conformance((await api.expect(200, '/openapi.json')).body as OpenApiDocument));

/** One assertion: the answer matches the OpenAPI document the deployment serves. */
async function conforms(t: Test | Checks, template: string, reply: Reply): Promise<void> {
  const problems = (await conformance()).problems(template, reply);
  const message = `${reply.url.slice(api.base.href.length - 1)} → ${reply.status} matches /openapi.json`;
  if (t instanceof Checks) t.same(problems, [], message);
  else t.strictSame(problems, [], message);
}

/** The first sample of a family (a counter or gauge has one), by name. */
function sampleOf(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const s = families.get(name)?.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

async function pipelineMetrics(): Promise<Map<string, PromFamily>> {
  return parsePromText((await api.expect(200, '/metrics')).text);
}

t.test('the deployment becomes ready within the timeout', async (t) => {
  const started = Date.now();
  let lastReport = started;
  let state = 'no answer yet';
  for (;;) {
    try {
      const r = await api.get('/ready');
      if (r.status === 200) {
        await conforms(t, '/ready', r);
        t.strictSame(r.body, { status: 'ready' });
        t.comment(`ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return;
      }
      state = `${r.status} ${r.text.slice(0, 120)}`;
    } catch (err) {
      state = err instanceof Error ? err.message : String(err);
    }
    const waitedMs = Date.now() - started;
    if (waitedMs > opts.readyTimeoutS * 1000) {
      t.fail(`GET /ready did not answer 200 within ${opts.readyTimeoutS} s; last: ${state}`);
      t.bailout(`${opts.url.href} is not ready: nothing else can be checked`);
      return;
    }
    if (Date.now() - lastReport >= 2000) {
      lastReport = Date.now();
      t.comment(`waiting for /ready: ${state} (${(waitedMs / 1000).toFixed(1)} s of ${opts.readyTimeoutS} s)`);
    }
    await sleep(POLL_MS);
  }
});

t.test('/health answers 200 ok', async (t) => {
  const r = await api.expect(200, '/health');
  await conforms(t, '/health', r);
  t.strictSame(r.body, { status: 'ok' });
});

t.test('/openapi.json is an OpenAPI 3.1 document with every route', async (t) => {
  const r = await api.expect(200, '/openapi.json');
  t.match(r.contentType, /^application\/json\b/);
  const doc = r.body as OpenApiDocument;
  t.match(doc.openapi, /^3\.1\.\d+$/, 'openapi 3.1');
  for (const path of ['/api/v1/gpus', '/api/v1/gpus/{id}/telemetry', '/api/v1/gpus/{id}/latest', '/api/v1/metrics', '/health', '/ready', '/metrics', '/metrics/gpus', '/openapi.json', '/docs']) {
    t.ok(doc.paths[path]?.get, `GET ${path} is documented`);
  }
  for (const name of ['Error', 'Gpu', 'GpuList', 'TelemetryPage', 'LatestValues']) t.ok(doc.components.schemas[name], `components.schemas.${name}`);
  t.doesNotThrow(() => new Conformance(doc).problems('/api/v1/gpus', { ...r, status: 200, contentType: 'application/json', body: { data: [] } }), 'its schemas compile');
});

t.test('/docs is Swagger UI, served with its own assets', async (t) => {
  const r = await api.expect(200, '/docs');
  t.match(r.contentType, /^text\/html\b/);
  t.match(r.text, /<div id="swagger-ui">/);
  const refs = [...r.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1]!, r.url).href);
  t.ok(refs.some((u) => u.endsWith('/swagger-ui-bundle.js')), 'the page loads swagger-ui-bundle.js');
  const types: Record<string, RegExp> = { css: /^text\/css\b/, js: /^(text|application)\/javascript\b/, png: /^image\/png\b/ };
  for (const ref of refs) {
    const asset = await fetch(ref, { signal: AbortSignal.timeout(15_000) });
    const body = await asset.arrayBuffer();
    const ext = ref.split('.').at(-1)!;
    t.equal(asset.status, 200, `${ref} answers 200`);
    t.ok(body.byteLength > 0, `${ref} is not empty (${body.byteLength} bytes)`);
    t.match(asset.headers.get('content-type') ?? '', types[ext] ?? /./, `${ref} is served as ${ext}`);
  }
  const initializer = refs.find((u) => u.endsWith('/swagger-initializer.js'));
  if (initializer !== undefined) t.match(await (await fetch(initializer)).text(), /\/openapi\.json/, 'Swagger UI is pointed at /openapi.json');
});

t.test('samples are ingested and keep flowing', async (t) => {
  const storedBefore = sampleOf(await pipelineMetrics(), 'gpu_telemetry_samples_stored_total');
  const newestBefore = Math.max(...(await listGpus()).map((g) => microsOf(g.last_sample_time)));
  t.ok(storedBefore !== undefined && storedBefore > 0, `gpu_telemetry_samples_stored_total is ${storedBefore}`);
  const deadline = Date.now() + opts.maxAgeS * 1000;
  let stored = storedBefore ?? 0;
  let newest = newestBefore;
  while ((stored <= storedBefore! || newest <= newestBefore) && Date.now() < deadline) {
    await sleep(POLL_MS);
    stored = sampleOf(await pipelineMetrics(), 'gpu_telemetry_samples_stored_total') ?? 0;
    newest = Math.max(...(await listGpus()).map((g) => microsOf(g.last_sample_time)));
  }
  t.ok(stored > storedBefore!, `gpu_telemetry_samples_stored_total grew: ${storedBefore} → ${stored}`);
  t.ok(newest > newestBefore, `the newest last_sample_time moved: ${formatMicros(newestBefore)} → ${formatMicros(newest)}`);
});

t.test('the newest sample is only seconds old', async (t) => {
  const r = await api.expect(200, '/api/v1/gpus');
  const newestUs = Math.max(...(r.body.data as Gpu[]).map((g) => microsOf(g.last_sample_time)));
  const ageS = (r.serverNowMs * 1000 - newestUs) / 1e6;
  // The server's clock, not ours: a pod's clock may differ from the test machine's. The Date
  // header has whole seconds and uWS refreshes it once a second, so it can lag by up to 2 s.
  t.ok(ageS > -DATE_HEADER_LAG_S && ageS <= opts.maxAgeS, `newest sample ${formatMicros(newestUs)} is ${ageS.toFixed(3)} s old by the server's clock (at most ${opts.maxAgeS} s; ${(Date.now() / 1000 - newestUs / 1e6).toFixed(3)} s by this machine's)`);
});

t.test('GET /api/v1/gpus lists every GPU once, well-formed, in a stable order', async (t) => {
  const r = await api.expect(200, '/api/v1/gpus');
  await conforms(t, '/api/v1/gpus', r);
  const gpus = r.body.data as Gpu[];
  t.ok(gpus.length > 0, `${gpus.length} GPUs`);
  t.equal(new Set(gpus.map((g) => g.id)).size, gpus.length, 'each id once');
  for (const g of gpus) {
    const where = `GPU ${g.id}`;
    t.equal(g.id, g.uuid, `${where}: id is the uuid`);
    for (const field of ['uuid', 'gpu_id', 'device', 'model_name', 'hostname'] as const) t.ok(typeof g[field] === 'string' && g[field] !== '', `${where}: ${field} is a non-empty string`);
    t.ok(Number.isInteger(g.samples) && g.samples > 0, `${where}: samples is a positive integer (${g.samples})`);
    t.ok(g.metrics.length > 0 && g.metrics.every((m) => typeof m === 'string'), `${where}: has metric names`);
    t.strictSame(g.metrics, [...g.metrics].sort(), `${where}: metric names are sorted`);
    t.ok(microsOf(g.first_sample_time) <= microsOf(g.last_sample_time), `${where}: first_sample_time ≤ last_sample_time`);
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const sorted = [...gpus].sort((a, b) => cmp(a.hostname, b.hostname) || Number(a.gpu_id) - Number(b.gpu_id) || cmp(a.gpu_id, b.gpu_id) || cmp(a.uuid, b.uuid));
  t.strictSame(gpus.map((g) => g.id), sorted.map((g) => g.id), 'ordered by hostname, gpu_id (numerically), uuid');
  const again = (await listGpus()).map((g) => g.id);
  const known = new Set(gpus.map((g) => g.id));
  t.strictSame(again.filter((id) => known.has(id)), gpus.map((g) => g.id), 'a second read lists them in the same order');
});

t.test('hostname and model filters narrow the GPU list to exact matches', async (t) => {
  const all = await listGpus();
  const ids = (gpus: Gpu[]): string[] => gpus.map((g) => g.id);
  const hosts = [...new Set(all.map((g) => g.hostname))];
  const models = [...new Set(all.map((g) => g.model_name))];
  t.comment(`${all.length} GPUs on ${hosts.length} hosts, ${models.length} models`);
  for (const hostname of hosts.slice(0, 3)) {
    const r = await api.expect(200, '/api/v1/gpus', { hostname });
    await conforms(t, '/api/v1/gpus', r);
    t.strictSame(ids(r.body.data), ids(all.filter((g) => g.hostname === hostname)), `hostname=${hostname}: exactly its GPUs, in order`);
  }
  for (const model of models.slice(0, 3)) {
    t.strictSame(ids(await listGpus({ model })), ids(all.filter((g) => g.model_name === model)), `model=${model}: exactly its GPUs`);
  }
  const { hostname, model_name: model } = all.at(-1)!;
  t.strictSame(ids(await listGpus({ hostname, model })), ids(all.filter((g) => g.hostname === hostname && g.model_name === model)), 'both filters: the GPUs matching both');
  t.strictSame(await listGpus({ hostname: `${hostname}-no-such-host` }), [], 'an unknown hostname: no GPUs');
  const otherCase = hostname.toUpperCase() !== hostname ? hostname.toUpperCase() : hostname.toLowerCase();
  if (otherCase !== hostname) t.strictSame(await listGpus({ hostname: otherCase }), [], `hostname=${otherCase}: the match is exact, case too`);
  const misspelt = await api.expect(400, '/api/v1/gpus', { hostnme: hostname });
  await conforms(t, '/api/v1/gpus', misspelt);
  t.match(misspelt.body.error, { code: 'bad_parameter', message: /hostnme/ }, 'a misspelt filter is a 400, not ignored');
});

t.test('the metric catalogue names every metric the GPUs have', async (t) => {
  const gpus = await listGpus();
  const r = await api.expect(200, '/api/v1/metrics');
  await conforms(t, '/api/v1/metrics', r);
  const counts = new Map<string, number>();
  for (const g of gpus) for (const m of g.metrics) counts.set(m, (counts.get(m) ?? 0) + 1);
  const catalogue = r.body.data as { name: string; gpus: number }[];
  t.strictSame(catalogue.map((m) => m.name), [...counts.keys()].sort(), 'the union of the GPUs’ metrics, sorted');
  t.strictSame(Object.fromEntries(catalogue.map((m) => [m.name, m.gpus])), Object.fromEntries(counts), 'with the number of GPUs having each');
});

t.test('a time window includes both of its bounds', async (t) => {
  await onStableWindow(t, cutPage, async ({ gpu, lo, hi, inWindow, page }, c) => {
    t.comment(`GPU ${gpu.id}, window [${lo}, ${hi}]: ${inWindow.length} of the ${page.length} newest samples`);
    const { data, next, reply } = await telemetry(gpu.id, { start_time: lo, end_time: hi, limit: MAX_LIMIT });
    await conforms(c, '/api/v1/gpus/{id}/telemetry', reply);
    c.same([reply.body.id, next], [gpu.id, null], 'one page, of this GPU');
    c.same(data, inWindow, 'exactly the samples from start_time to end_time');
    c.same(data[0]?.timestamp, hi, 'the newest is at end_time: the end is inclusive');
    c.same(data.at(-1)?.timestamp, lo, 'the oldest is at start_time: the start is inclusive');
    const loUs = microsOf(lo);
    const hiUs = microsOf(hi);
    c.ok(page.some((e) => microsOf(e.timestamp) > hiUs) && page.some((e) => microsOf(e.timestamp) < loUs), 'there are samples just outside on both sides');
    const instant = await telemetry(gpu.id, { start_time: lo, end_time: lo });
    c.same(instant.data, inWindow.filter((e) => e.timestamp === lo), 'start_time = end_time: the samples at that instant');
    const inner = await telemetry(gpu.id, { start_time: formatMicros(loUs + 1), end_time: formatMicros(hiUs - 1), limit: MAX_LIMIT });
    c.same(inner.data, inWindow.filter((e) => e.timestamp !== lo && e.timestamp !== hi), 'a microsecond inside each bound leaves the bound samples out');
  });
});

t.test('telemetry is newest first by default and oldest first with order=asc', async (t) => {
  await onStableWindow(t, cutPage, async ({ gpu, lo, hi, inWindow }, c) => {
    const desc = await telemetry(gpu.id, { start_time: lo, end_time: hi, limit: MAX_LIMIT });
    c.same(outOfOrder(desc.data, 'desc'), undefined, 'default: descending by time, then metric name');
    c.same(desc.data, inWindow, 'the window');
    const asc = await telemetry(gpu.id, { start_time: lo, end_time: hi, order: 'asc', limit: MAX_LIMIT });
    await conforms(c, '/api/v1/gpus/{id}/telemetry', asc.reply);
    c.same(outOfOrder(asc.data, 'asc'), undefined, 'order=asc: ascending by time, then metric name');
    c.same(asc.data, [...inWindow].reverse(), 'the same samples, reversed');
    const explicit = await telemetry(gpu.id, { start_time: lo, end_time: hi, order: 'desc', limit: MAX_LIMIT });
    c.same(explicit.data, desc.data, 'order=desc is the default');
  });
});

t.test('limit and cursor pages concatenate to the one-page answer', async (t) => {
  await onStableWindow(t, cutPage, async ({ gpu, lo, hi, inWindow }, c) => {
    for (const order of ['desc', 'asc'] as Order[]) {
      const whole = order === 'desc' ? inWindow : [...inWindow].reverse();
      const { pages, nexts } = await allPages(gpu.id, { start_time: lo, end_time: hi, order, limit: SMALL_PAGE });
      c.ok(pages.length > 1, `${order}: ${pages.length} pages of ${SMALL_PAGE}`);
      c.ok(pages.slice(0, -1).every((p) => p.length === SMALL_PAGE), `${order}: every page but the last is full`);
      c.ok(pages.at(-1)!.length <= SMALL_PAGE && pages.at(-1)!.length > 0, `${order}: the last page holds the rest`);
      c.ok(nexts.slice(0, -1).every((n) => typeof n === 'string') && nexts.at(-1) === null, `${order}: next is a cursor until the last page, then null`);
      c.same(pages.flat(), whole, `${order}: the pages concatenate to the one-page answer`);
    }
  });
  const { gpu } = await cutWindow();
  const first = await telemetry(gpu.id, { limit: 1 });
  t.equal(first.data.length, 1, 'limit=1: one sample');
  const bad = await api.expect(400, telemetryPath(gpu.id), { cursor: 'not-a-cursor' });
  await conforms(t, '/api/v1/gpus/{id}/telemetry', bad);
  t.match(bad.body.error, { code: 'bad_cursor', message: /not-a-cursor/ }, 'a cursor the API did not write is a 400');
});

t.test('the metric filter keeps only the metrics asked for', async (t) => {
  await onStableWindow(t, cutPage, async ({ gpu, lo, hi, inWindow }, c) => {
    const names = [...new Set(inWindow.map((e) => e.metric_name))].sort();
    const [a, b = a!] = names as [string, string?];
    const window = { start_time: lo, end_time: hi, limit: MAX_LIMIT };
    c.same((await telemetry(gpu.id, { ...window, metric: a })).data, inWindow.filter((e) => e.metric_name === a), `metric=${a} (of ${names.length} in the window)`);
    const both = inWindow.filter((e) => e.metric_name === a || e.metric_name === b);
    c.same((await telemetry(gpu.id, { ...window, metric: `${a},${b}` })).data, both, `metric=${a},${b}`);
    c.same((await telemetry(gpu.id, { ...window, metric: [a!, b] })).data, both, 'the parameter repeated');
    const none = await telemetry(gpu.id, { ...window, metric: 'NO_SUCH_METRIC' });
    c.same([none.data, none.next], [[], null], 'a metric the GPU lacks: no samples');
  });
});

t.test('a malformed or reversed window is a 400 with the JSON error body', async (t) => {
  const { gpu, lo, hi } = await cutWindow();
  const cases: [Query, number, string, RegExp][] = [
    [{ start_time: 'yesterday' }, 400, 'bad_parameter', /start_time.*yesterday/],
    [{ end_time: '2025-02-30T00:00:00Z' }, 400, 'bad_parameter', /end_time/],
    [{ start_time: hi, end_time: lo }, 400, 'bad_time_range', /start_time.*after end_time/],
    [{ limit: 0 }, 400, 'bad_parameter', /limit/],
    [{ limit: MAX_LIMIT + 1 }, 400, 'bad_parameter', /limit/],
    [{ order: 'sideways' }, 400, 'bad_parameter', /order/],
    [{ strat_time: lo }, 400, 'bad_parameter', /strat_time/],
    [{ agg: 'max' }, 400, 'bad_parameter', /agg.*step/],
  ];
  for (const [query, status, code, message] of cases) {
    const r = await api.expect(status, telemetryPath(gpu.id), query);
    await conforms(t, '/api/v1/gpus/{id}/telemetry', r);
    t.match(r.body, { error: { code, message } }, `${new URLSearchParams(query as Record<string, string>)} → ${status} ${code}`);
  }
  const missing = await api.expect(404, telemetryPath('GPU-no-such-gpu'));
  await conforms(t, '/api/v1/gpus/{id}/telemetry', missing);
  t.match(missing.body, { error: { code: 'gpu_not_found', message: /GPU-no-such-gpu/ } }, 'an unknown GPU → 404 gpu_not_found');
});

/** The downsampling test's window: one metric over up to 2 s (a quarter of the history held, if less) before the cut's end. */
function downsampleRange(w: Cut): { metric: string; start_time: string; end_time: string } {
  const metric = w.page[0]!.metric_name;
  const oldestInPage = Math.min(...w.page.filter((e) => e.metric_name === metric).map((e) => microsOf(e.timestamp)));
  const startUs = Math.min(w.endUs - Math.min(2 * SETTLE_US, Math.floor(w.heldUs / 4)), oldestInPage);
  return { metric, start_time: formatMicros(startUs), end_time: formatMicros(w.endUs) };
}

/** The downsampling window's raw samples, oldest first. */
const downsampleWindow: Watch = {
  what: (w) => {
    const r = downsampleRange(w);
    return `${r.metric} from ${r.start_time} to ${r.end_time}`;
  },
  read: async (w) => (await allPages(w.gpu.id, { ...downsampleRange(w), order: 'asc', limit: MAX_LIMIT })).pages.flat(),
};

t.test('step and agg downsample a window into aligned buckets', async (t) => {
  await onStableWindow(t, downsampleWindow, async (w, c) => {
    const { gpu } = w;
    const window = downsampleRange(w);
    const { metric } = window;
    const raw = await downsampleWindow.read(w);
    const stepMs = Math.max(1, Math.ceil((microsOf(window.end_time) - microsOf(window.start_time)) / 1000 / 8));
    t.comment(`${metric} of GPU ${gpu.id}: ${raw.length} samples from ${window.start_time} to ${window.end_time}, step ${stepMs}ms`);
    c.ok(raw.length > 0, 'the window holds samples');
    for (const agg of ['count', 'min', 'max', 'last', 'avg'] as Agg[]) {
      const expected = expectedBuckets(raw, stepMs, agg);
      const r = await telemetry(gpu.id, { ...window, step: `${stepMs}ms`, agg, order: 'asc' });
      await conforms(c, '/api/v1/gpus/{id}/telemetry', r.reply);
      c.same(r.next, null, `agg=${agg}: one page`);
      c.ok(r.data.every((e) => e.metric_name === metric), `agg=${agg}: only ${metric}`);
      c.same(r.data.map((e) => [e.timestamp, e.samples]), expected.map((b) => [b.timestamp, b.samples]), `agg=${agg}: ${expected.length} buckets at multiples of ${stepMs} ms, with their sample counts`);
      const off = r.data.filter((e, i) => e.value === null || Math.abs(e.value - (expected[i]?.value ?? NaN)) > 1e-9 * Math.max(1, Math.abs(e.value)));
      c.same(off, [], `agg=${agg}: each bucket's value is the ${agg} of its samples`);
    }
    const avg = await telemetry(gpu.id, { ...window, step: `${stepMs}ms`, order: 'asc' });
    const avgExplicit = await telemetry(gpu.id, { ...window, step: `${stepMs}ms`, agg: 'avg', order: 'asc' });
    c.same(avg.data, avgExplicit.data, 'agg defaults to avg');
    const desc = await telemetry(gpu.id, { ...window, step: `${stepMs}ms`, agg: 'avg' });
    c.same(desc.data, [...avgExplicit.data].reverse(), 'buckets come newest first by default');
  });
  const { gpu } = await cutWindow();
  const history = await telemetry(gpu.id, { step: '1m', agg: 'count' });
  await conforms(t, '/api/v1/gpus/{id}/telemetry', history.reply);
  t.ok(history.data.length > 0 && history.data.every((e) => e.value === e.samples), `the whole history in 1m buckets: ${history.data.length} buckets, count = samples`);
});

t.test('/latest holds the newest sample of each of the GPU’s metrics', async (t) => {
  const gpu = (await listGpus())[0]!;
  const metrics = gpu.metrics;
  const before = await telemetry(gpu.id, { limit: 1 });
  const r = await api.expect(200, `/api/v1/gpus/${encodeURIComponent(gpu.id)}/latest`);
  const after = await telemetry(gpu.id, { limit: 1 });
  await conforms(t, '/api/v1/gpus/{id}/latest', r);
  t.equal(r.body.id, gpu.id);
  const latest = r.body.data as Entry[];
  t.strictSame(latest.map((e) => e.metric_name), metrics, 'one entry per metric, sorted by name');
  const newest = Math.max(...latest.map((e) => microsOf(e.timestamp)));
  t.ok(microsOf(before.data[0]!.timestamp) <= newest && newest <= microsOf(after.data[0]!.timestamp), 'its newest lies between the newest sample read just before and just after');
  const m = latest[0]!;
  const upTo = await telemetry(gpu.id, { metric: m.metric_name, end_time: m.timestamp, limit: 1 });
  t.strictSame(upTo.data[0], { timestamp: m.timestamp, metric_name: m.metric_name, value: m.value }, `${m.metric_name}: the latest is a stored sample`);
  const missing = await api.expect(404, '/api/v1/gpus/GPU-no-such-gpu/latest');
  await conforms(t, '/api/v1/gpus/{id}/latest', missing);
  t.equal(missing.body.error.code, 'gpu_not_found');
});

t.test('/metrics is Prometheus text with the pipeline’s gpu_telemetry_ metrics', async (t) => {
  const gpus = await listGpus();
  const r = await api.expect(200, '/metrics');
  t.match(r.contentType, /^text\/plain; version=0\.0\.4\b/);
  let families = new Map<string, PromFamily>();
  t.doesNotThrow(() => (families = parsePromText(r.text)), 'it parses as the text exposition format');
  const ours = [...families.values()].filter((f) => f.name.startsWith('gpu_telemetry_'));
  t.ok(ours.length >= 10, `${ours.length} gpu_telemetry_ families`);
  for (const name of ['gpu_telemetry_rows_read_total', 'gpu_telemetry_samples_stored_total']) {
    t.equal(families.get(name)?.type, 'counter', `${name} is a counter`);
    t.ok((sampleOf(families, name) ?? 0) > 0, `${name} > 0`);
  }
  t.equal(families.get('gpu_telemetry_ingest_latency_seconds')?.type, 'histogram', 'ingest latency is a histogram');
  t.ok((sampleOf(families, 'gpu_telemetry_store_samples') ?? 0) > 0, 'the store holds samples');
  t.ok((sampleOf(families, 'gpu_telemetry_store_gpus') ?? 0) >= gpus.length, `the store knows at least the ${gpus.length} GPUs listed`);
  for (const role of ['streamer', 'collector']) t.ok((sampleOf(families, 'gpu_telemetry_workers', { role }) ?? 0) >= 1, `a ${role} runs`);
  t.ok((sampleOf(families, 'gpu_telemetry_http_requests_total', { route: '/api/v1/gpus', method: 'GET', status: '200' }) ?? 0) >= 1, 'this test’s requests are counted by route');
});

t.test('/metrics/gpus has DCGM_FI_ series labelled with each GPU’s UUID', async (t) => {
  const gpus = await listGpus();
  const r = await api.expect(200, '/metrics/gpus');
  t.match(r.contentType, /^text\/plain; version=0\.0\.4\b/);
  let families = new Map<string, PromFamily>();
  t.doesNotThrow(() => (families = parsePromText(r.text)), 'it parses as the text exposition format');
  const dcgm = [...families.values()].filter((f) => f.name.startsWith('DCGM_FI_'));
  t.ok(dcgm.length > 0, `${dcgm.length} DCGM_FI_ families`);
  t.strictSame([...families.keys()].filter((n) => !n.startsWith('DCGM_FI_')), [], 'nothing but DCGM fields');
  const byUuid = new Map<string, string[]>();
  for (const f of dcgm) {
    for (const s of f.samples) {
      if (s.labels.UUID === undefined) t.fail(`${f.name} has a sample without a UUID label`);
      else byUuid.set(s.labels.UUID, [...(byUuid.get(s.labels.UUID) ?? []), f.name]);
    }
  }
  t.strictSame([...byUuid.keys()].sort(), gpus.map((g) => g.uuid).sort(), 'one UUID label per GPU listed');
  const g = gpus[0]!;
  t.strictSame(byUuid.get(g.uuid)?.sort(), g.metrics.filter((m) => m.startsWith('DCGM_FI_')).sort(), `GPU ${g.uuid}: a series per DCGM metric it has`);
  const s = dcgm.flatMap((f) => f.samples).find((x) => x.labels.UUID === g.uuid)!;
  t.match(s.labels, { gpu: g.gpu_id, device: g.device, modelName: g.model_name, Hostname: g.hostname }, 'with the exporter’s identity labels');
});
