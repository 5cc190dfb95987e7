/**
 * The API on a real, running engine (data/sample.csv, looped slowly):
 * readiness as the first samples arrive, the admin routes scaling the
 * worker threads, who may call them (bearer token, or loopback only), and
 * the two Prometheus endpoints.
 */
import { pathToFileURL } from 'node:url';
import t from 'tap';
import type * as AdminModule from '../../src/api/routes/admin.js';
import { distPath } from '../fixtures/dist.js';
import { call, Engine, engineOptions, serve, testLog, until } from './fixtures/harness.js';

const { isLoopback } = (await import(pathToFileURL(distPath('src/api/routes/admin.js')).href)) as typeof AdminModule;

const TOKEN = 'correct-horse-battery-staple-42';
const log = testLog();
// 1 ms between rows: data keeps arriving without taking the machine's two cores.
const engine = new Engine({ ...engineOptions, loop: true, streamIntervalMs: 1, timestampMode: 'processed' }, log);
t.teardown(() => engine.stop());

const open = await serve(t, engine, { log });
const locked = await serve(t, engine, { adminToken: TOKEN });

const put = (body: string, headers: Record<string, string> = {}): RequestInit => ({
  method: 'PUT',
  body,
  headers: { 'content-type': 'application/json', ...headers },
});

t.test('readiness flips to 200 once the engine has stored its first samples', async (t) => {
  const before = await call(t, open.base, '/ready');
  t.equal(before.status, 503);
  t.equal(before.body.reason, 'no samples stored yet');
  await engine.start();
  await until('/ready to answer 200', async () => (await fetch(`${open.base}/ready`)).status === 200);
  t.equal((await call(t, open.base, '/ready')).status, 200);
  await until('all 32 GPUs of the sample', async () => ((await (await fetch(`${open.base}/api/v1/gpus`)).json()) as { data: unknown[] }).data.length === 32);
  const gpus = await call(t, open.base, '/api/v1/gpus');
  t.equal(gpus.body.data.length, 32);
  const telemetry = await call(t, open.base, `/api/v1/gpus/${gpus.body.data[0].id}/telemetry?limit=20`);
  t.equal(telemetry.status, 200);
  t.ok(telemetry.body.data.length > 0, 'samples of a live GPU');
});

t.test('GET and PUT /api/v1/admin/workers read and change the worker threads', async (t) => {
  const now = await call(t, open.base, '/api/v1/admin/workers');
  t.strictSame(now.body, { streamers: 1, collectors: 1 });
  const both = await call(t, open.base, '/api/v1/admin/workers', put('{"streamers":3,"collectors":2}'));
  t.equal(both.status, 200);
  t.strictSame(both.body, { streamers: 3, collectors: 2 });
  t.equal(engine.streamerCountNow, 3, 'the engine runs 3 streamers');
  t.equal(engine.collectorCount, 2, 'and 2 collectors');
  t.strictSame((await call(t, open.base, '/api/v1/admin/workers', put('{"collectors":1}'))).body, { streamers: 3, collectors: 1 }, 'either count alone');
  t.strictSame((await call(t, open.base, '/api/v1/admin/workers', put('{"streamers":1}'))).body, { streamers: 1, collectors: 1 });
  const [a, b] = await Promise.all([
    call(t, open.base, '/api/v1/admin/workers', put('{"streamers":2}')),
    call(t, open.base, '/api/v1/admin/workers', put('{"streamers":4,"collectors":3}')),
  ]);
  t.equal(a.status, 200);
  t.equal(b.status, 200);
  const after = await call(t, open.base, '/api/v1/admin/workers');
  t.strictSame(after.body, { streamers: engine.streamerCountNow, collectors: 3 }, 'concurrent changes run one after the other');
  t.ok([2, 4].includes(engine.streamerCountNow));
  t.equal((await call(t, open.base, '/api/v1/admin/workers', put('{"streamers":1,"collectors":1}'))).status, 200);
  const c = engine.counters.snapshot();
  t.ok(c.samplesStored > 0 && c.rejectedTotal === 0, 'the pipeline kept storing');
  t.strictSame(
    log.lines.filter((l) => l.level === 'error'),
    [],
    'no errors',
  );
});

t.test('a bad admin body is a 400 naming the field and value', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['{"streamers":0}', /streamers must be from 1 to 10, got 0/],
    ['{"collectors":11}', /collectors must be from 1 to 10, got 11/],
    ['{"streamers":"2"}', /streamers must be an integer, got "2"/],
    ['{"streamers":2.5}', /streamers must be an integer, got 2\.5/],
    ['{"streamers":null}', /streamers must be an integer, got null/],
    ['{}', /body must have at least 1 of streamers, collectors/],
    ['{"workers":2}', /body has an unknown field "workers"/],
    ['[2]', /body must be an object, got \[2\]/],
    ['streamers=2', /body must be JSON/],
    ['', /body must be JSON/],
  ];
  for (const [body, message] of cases) {
    const r = await call(t, open.base, '/api/v1/admin/workers', put(body));
    t.equal(r.status, 400, body);
    t.equal(r.body.error.code, 'bad_body', body);
    t.match(r.body.error.message, message, body);
  }
  t.strictSame((await call(t, open.base, '/api/v1/admin/workers')).body, { streamers: 1, collectors: 1 }, 'nothing changed');
});

t.test('without ADMIN_TOKEN, admin routes answer trusted (loopback) callers only', async (t) => {
  // Calls stay on loopback: the server is told to trust no address, so this caller is refused.
  const strict = await serve(t, engine, { trustCaller: () => false });
  const seen: string[] = [];
  const recording = await serve(t, engine, { trustCaller: (a) => (seen.push(a.join('.')), true) });
  t.equal((await call(t, recording.base, '/api/v1/admin/workers')).status, 200);
  t.strictSame(seen, ['127.0.0.1'], 'the caller address reaches the policy');
  const base = strict.base;
  for (const init of [{}, put('{"streamers":2}')]) {
    const r = await call(t, base, '/api/v1/admin/workers', init);
    t.equal(r.status, 403);
    t.equal(r.body.error.code, 'forbidden');
    t.match(r.body.error.message, /loopback callers only while ADMIN_TOKEN is not set/);
  }
  t.equal((await call(t, base, '/api/v1/gpus')).status, 200, 'the other routes answer anyone');
  t.equal(engine.streamerCountNow, 1, 'nothing changed');
});

t.test('with ADMIN_TOKEN, admin routes need the bearer token', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{}, /need an Authorization: Bearer <ADMIN_TOKEN> header/],
    [{ authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` }, /need an Authorization: Bearer/],
    [{ authorization: 'Bearer wrong' }, /the bearer token is not the ADMIN_TOKEN/],
    [{ authorization: `Bearer ${TOKEN}x` }, /the bearer token is not the ADMIN_TOKEN/],
    [{ authorization: `Bearer ${TOKEN.slice(0, -1)}` }, /the bearer token is not the ADMIN_TOKEN/],
    [{ authorization: `Bearer ${TOKEN} extra` }, /need an Authorization: Bearer/],
  ];
  for (const [headers, message] of cases) {
    for (const init of [{ headers }, put('{"streamers":2}', headers)]) {
      const r = await call(t, locked.base, '/api/v1/admin/workers', init);
      t.equal(r.status, 401, JSON.stringify(headers));
      t.equal(r.body.error.code, 'unauthorized');
      t.match(r.body.error.message, message);
      t.equal(r.headers.get('www-authenticate'), 'Bearer realm="gpu-telemetry admin"');
    }
  }
  t.equal(engine.streamerCountNow, 1, 'nothing changed');
  const ok = await call(t, locked.base, '/api/v1/admin/workers', { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(ok.status, 200);
  const lower = await call(t, locked.base, '/api/v1/admin/workers', put('{"streamers":2}', { authorization: `bearer ${TOKEN}` }));
  t.strictSame(lower.body, { streamers: 2, collectors: 1 }, 'the scheme is case-insensitive');
  t.equal((await call(t, locked.base, '/api/v1/admin/workers', put('{"streamers":1}', { authorization: `Bearer ${TOKEN}` }))).status, 200);
});

t.test('while draining, /ready is 503 and workers cannot change', async (t) => {
  open.server.setReady(false);
  const ready = await call(t, open.base, '/ready');
  t.equal(ready.status, 503);
  t.equal(ready.body.reason, 'draining for shutdown');
  const r = await call(t, open.base, '/api/v1/admin/workers', put('{"streamers":2}'));
  t.equal(r.status, 503);
  t.equal(r.body.error.code, 'unavailable');
  t.equal((await call(t, open.base, '/api/v1/admin/workers')).status, 200, 'reading still works');
  open.server.setReady(true);
  t.equal((await call(t, open.base, '/ready')).status, 200);
});

t.test('/metrics and /metrics/gpus answer in Prometheus text format', async (t) => {
  const metrics = await call(t, open.base, '/metrics');
  t.equal(metrics.status, 200);
  t.match(metrics.headers.get('content-type'), /^text\/plain/);
  t.match(metrics.text, /^gpu_telemetry_samples_stored_total \d/m);
  t.match(metrics.text, /route="\/api\/v1\/admin\/workers"/, 'the API counts its requests');
  const gpus = await call(t, open.base, '/metrics/gpus');
  t.equal(gpus.status, 200);
  t.match(gpus.headers.get('content-type'), /^text\/plain/);
  t.match(gpus.text, /^DCGM_FI_DEV_GPU_UTIL\{[^}]*UUID="GPU-[^"]+"[^}]*\} \d/m);
  t.equal((await call(t, open.base, '/metrics?x=1')).status, 400, 'no parameters');
});

t.test('isLoopback: 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104, nothing else', async (t) => {
  const v6 = (...tail: number[]) => Uint8Array.from([...new Array(16 - tail.length).fill(0), ...tail]);
  t.ok(isLoopback(Uint8Array.from([127, 0, 0, 1])));
  t.ok(isLoopback(Uint8Array.from([127, 5, 6, 7])));
  t.ok(isLoopback(v6(1)), '::1');
  t.ok(isLoopback(v6(0xff, 0xff, 127, 0, 0, 1)), '::ffff:127.0.0.1');
  t.notOk(isLoopback(Uint8Array.from([192, 0, 2, 2])));
  t.notOk(isLoopback(Uint8Array.from([10, 127, 0, 1])));
  t.notOk(isLoopback(v6(0xff, 0xff, 10, 0, 0, 1)), '::ffff:10.0.0.1');
  t.notOk(isLoopback(v6(2)), '::2');
  t.notOk(isLoopback(Uint8Array.from([0x20, 0x01, ...new Array(13).fill(0), 1])), '2001::1');
  t.notOk(isLoopback(new Uint8Array(0)), 'no address');
});
