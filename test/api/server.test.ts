/**
 * The server itself: routing (404, 405 with Allow), size limits (413),
 * readiness, clients that leave mid-response, unexpected failures answered
 * without internals, the docs, listening and closing, and the refusal to
 * run on uWS's JavaScript fallback.
 */
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import t from 'tap';
import { distPath } from '../fixtures/dist.js';
import { ApiListenError, call, depsFor, fedEngine, gpu, renderOpenApi, serve, startApi, type Served } from './fixtures/harness.js';

const T0 = Date.parse('2025-07-18T13:42:33Z');
const UTIL = 'DCGM_FI_DEV_GPU_UTIL';

/** A store of 6,000 samples: a 10,000-sample page of it is about half a megabyte. */
function bigStore(): ReturnType<typeof fedEngine> {
  const fed = fedEngine();
  const g = gpu('GPU-big');
  for (let i = 0; i < 3000; i++) {
    fed.append(g, UTIL, T0 + i, i % 100);
    fed.append(g, 'DCGM_FI_DEV_POWER_USAGE', T0 + i + 0.25, 300 + i / 7);
  }
  return fed;
}

/** Sends raw bytes; resolves with everything the server sent until it closed or `idleMs` passed. */
function raw(port: number, request: string, idleMs = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    const done = (): void => {
      socket.destroy();
      resolve(got);
    };
    let timer = setTimeout(done, idleMs);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(done, idleMs);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      done();
    });
    socket.on('error', reject);
    socket.write(request);
  });
}

/** Sends a request and drops the connection: after the first bytes of the answer, or at once. */
function leave(port: number, request: string, when: 'at-once' | 'after-first-bytes'): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(request);
      if (when === 'at-once') {
        socket.destroy();
        resolve(0);
      }
    });
    socket.once('data', (d: Buffer) => {
      socket.destroy();
      resolve(d.length);
    });
    socket.on('error', reject);
  });
}

const errorsIn = (s: Served) => s.log.lines.filter((l) => l.level === 'error');

t.test('GET /health answers 200 while serving', async (t) => {
  const s = await serve(t, fedEngine().engine);
  const r = await call(t, s.base, '/health');
  t.equal(r.status, 200);
  t.strictSame(r.body, { status: 'ok' });
  t.match(r.headers.get('content-type'), /^application\/json/);
});

t.test('/ready: 503 until samples are stored, 200 after, 503 again while draining', async (t) => {
  const fed = fedEngine();
  const s = await serve(t, fed.engine);
  const before = await call(t, s.base, '/ready');
  t.equal(before.status, 503);
  t.strictSame(before.body, { status: 'not_ready', reason: 'no samples stored yet' });
  fed.append(gpu('GPU-1'), UTIL, T0, 1);
  const after = await call(t, s.base, '/ready');
  t.equal(after.status, 200);
  t.strictSame(after.body, { status: 'ready' });
  s.server.setReady(false);
  const draining = await call(t, s.base, '/ready');
  t.equal(draining.status, 503);
  t.strictSame(draining.body, { status: 'not_ready', reason: 'draining for shutdown' });
  t.equal((await call(t, s.base, '/health')).status, 200, 'still live while draining');
  s.server.setReady(true);
  t.equal((await call(t, s.base, '/ready')).status, 200);
});

t.test('an unknown route is a 404 naming it; a known path with another method a 405 with Allow', async (t) => {
  const s = await serve(t, fedEngine().engine);
  for (const path of ['/nope', '/api/v1/gpus/', '/api/v2/gpus', '/api/v1/gpus/GPU-1/telemetry/extra', '/']) {
    const r = await call(t, s.base, path);
    t.equal(r.status, 404, path);
    t.equal(r.body.error.code, 'route_not_found');
    t.match(r.body.error.message, `no route GET ${path} `);
  }
  const post = await call(t, s.base, '/api/v1/gpus', { method: 'POST', body: '{}' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET');
  t.equal(post.body.error.code, 'method_not_allowed');
  t.match(post.body.error.message, '/api/v1/gpus takes GET, not POST');
  const del = await call(t, s.base, '/api/v1/admin/workers', { method: 'DELETE' });
  t.equal(del.status, 405);
  t.equal(del.headers.get('allow'), 'GET, PUT');
  const put = await call(t, s.base, '/api/v1/gpus/GPU-1/telemetry', { method: 'PUT', body: 'x' });
  t.equal(put.status, 405);
  t.equal(put.headers.get('allow'), 'GET');
  t.equal((await call(t, s.base, '/health')).status, 200, 'a refused body does not confuse the next request');
});

t.test('an oversized URL or body is a 413', async (t) => {
  const s = await serve(t, fedEngine().engine);
  const url = await call(t, s.base, `/api/v1/gpus?hostname=${'x'.repeat(9000)}`);
  t.equal(url.status, 413);
  t.equal(url.body.error.code, 'request_too_large');
  t.match(url.body.error.message, /the URL is 9\d{3} bytes, over the 8192-byte limit/);
  const body = await call(t, s.base, '/api/v1/admin/workers', { method: 'PUT', body: JSON.stringify({ streamers: 2, pad: 'x'.repeat(2000) }) });
  t.equal(body.status, 413);
  t.match(body.body.error.message, /over the 1024-byte limit/);
  const announced = await raw(
    s.server.port,
    'PUT /api/v1/admin/workers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"streamers":',
  );
  t.match(announced, /^HTTP\/1\.1 413 /);
  t.match(announced, /request body of 100000 bytes is over the 1024-byte limit/);
  const chunk = `{"streamers":1,"pad":"${'x'.repeat(600)}`;
  const chunked = await raw(
    s.server.port,
    `PUT /api/v1/admin/workers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`,
  );
  t.match(chunked, /^HTTP\/1\.1 413 /, 'a body over the limit without Content-Length');
  t.match(chunked, /request body is over the 1024-byte limit/);
  t.equal((await call(t, s.base, '/health')).status, 200, 'still serving');
});

t.test('a client that disconnects mid-response, or before an async answer, costs nothing', async (t) => {
  const fed = bigStore();
  const s = await serve(t, fed.engine, { inlineBelowSamples: 0 });
  const port = s.server.port;
  const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
  for (let round = 0; round < 5; round++) {
    t.ok((await leave(port, get('/api/v1/gpus/GPU-big/telemetry?limit=10000'), 'after-first-bytes')) > 0, 'left a 10,000-sample page after its first bytes');
    t.ok((await leave(port, get('/docs/swagger-ui-bundle.js'), 'after-first-bytes')) > 0, 'left a 1.5 MB asset after its first bytes');
    await leave(port, get('/api/v1/gpus/GPU-big/telemetry?step=1s&limit=10000'), 'at-once'); // answered by the worker pool, later
    await leave(port, get('/metrics'), 'at-once'); // rendered asynchronously
  }
  await new Promise((r) => setTimeout(r, 300));
  const r = await call(t, s.base, '/api/v1/gpus/GPU-big/telemetry?step=1s&limit=2');
  t.equal(r.status, 200, 'still serving');
  t.equal(r.body.data.length, 2);
  t.strictSame(errorsIn(s), [], 'nothing went wrong');
  const metrics = await call(t, s.base, '/metrics');
  t.match(metrics.text, /status="499"/, 'requests whose client left are counted as 499');
});

t.test('an unexpected failure is a logged 500 without internals', async (t) => {
  const fed = bigStore();
  const s = await serve(t, fed.engine, { inlineBelowSamples: 0 });
  await s.queries.close(); // every downsampling query now fails inside the handler
  const r = await call(t, s.base, '/api/v1/gpus/GPU-big/telemetry?step=1s');
  t.equal(r.status, 500);
  t.equal(r.body.error.code, 'internal');
  t.match(r.body.error.message, 'internal error answering GET /api/v1/gpus/{id}/telemetry; the server log has the details');
  t.notMatch(r.text, /\bat \S+ \(|query pool|\.js:\d+/, 'no stack trace, no internal message');
  const logged = errorsIn(s);
  t.equal(logged.length, 1);
  t.equal(logged[0]!.msg, 'request failed');
  t.match(logged[0]!.fields.err, /the query pool is closed[\s\S]*\bat /, 'the log has the stack');
  t.equal((await call(t, s.base, '/api/v1/gpus/GPU-big/telemetry?limit=1')).status, 200, 'other queries still work');
});

t.test('every request is counted by route template, method and status', async (t) => {
  const s = await serve(t, fedEngine().engine);
  await call(t, s.base, '/api/v1/gpus/GPU-x/latest');
  await call(t, s.base, '/api/v1/gpus/GPU-y/latest');
  await call(t, s.base, '/nowhere');
  await call(t, s.base, '/health', { method: 'POST' });
  const text = (await call(t, s.base, '/metrics')).text;
  const line = (route: string, method: string, status: number): string | undefined =>
    text.split('\n').find((l) => !l.startsWith('#') && l.includes(`route="${route}"`) && l.includes(`method="${method}"`) && l.includes(`status="${status}"`) && /_total[{ ]/.test(l));
  t.match(line('/api/v1/gpus/{id}/latest', 'GET', 404), / 2$/, 'two requests, one label set: the template, not the path');
  t.match(line('unmatched', 'GET', 404), / 1$/);
  t.match(line('/health', 'POST', 405), / 1$/);
});

t.test('/openapi.json serves the generated document; /docs serves Swagger UI from local files', async (t) => {
  const s = await serve(t, fedEngine().engine);
  const doc = await call(t, s.base, '/openapi.json');
  t.equal(doc.status, 200);
  t.equal(doc.text, renderOpenApi());
  t.equal(doc.body.openapi, '3.1.0');
  for (const path of ['/docs', '/docs/']) {
    const page = await call(t, s.base, path);
    t.equal(page.status, 200);
    t.match(page.headers.get('content-type'), /^text\/html/);
    t.match(page.text, 'src="/docs/swagger-ui-bundle.js"');
    t.notMatch(page.text, /https?:\/\//, 'nothing from a CDN');
  }
  const assets: Array<[string, RegExp]> = [
    ['swagger-ui.css', /^text\/css/],
    ['index.css', /^text\/css/],
    ['swagger-ui-bundle.js', /^text\/javascript/],
    ['swagger-ui-standalone-preset.js', /^text\/javascript/],
    ['favicon-32x32.png', /^image\/png/],
    ['favicon-16x16.png', /^image\/png/],
  ];
  for (const [name, type] of assets) {
    const r = await call(t, s.base, `/docs/${name}`);
    t.equal(r.status, 200, name);
    t.match(r.headers.get('content-type'), type, name);
    t.ok(r.text.length > 100, `${name} has content`);
  }
  const init = await call(t, s.base, '/docs/swagger-initializer.js');
  t.match(init.text, "url: '/openapi.json'");
  t.notMatch(init.text, /petstore/);
  const missing = await call(t, s.base, '/docs/nope.js');
  t.equal(missing.status, 404);
  const traversal = await raw(s.server.port, 'GET /docs/..%2Fpackage.json HTTP/1.1\r\nHost: x\r\n\r\n');
  t.match(traversal, /^HTTP\/1\.1 404 /, 'only the listed files are served');
  t.notMatch(traversal, /"workspaces"/);
});

t.test('listening: port 0 reports the bound port; a taken port fails; close stops serving', async (t) => {
  const s = await serve(t, fedEngine().engine);
  t.ok(s.server.port > 0);
  const deps = depsFor(t, fedEngine().engine);
  await t.rejects(startApi(deps, { host: '127.0.0.1', port: s.server.port }), ApiListenError);
  await t.rejects(startApi(deps, { host: '192.0.2.250', port: 0 }), /cannot listen on 192\.0\.2\.250:0/);
  await s.server.close();
  await s.server.close(); // twice is harmless
  await t.rejects(fetch(`${s.base}/health`), 'nothing listens after close');
});

t.test('the API refuses to start on the JavaScript fallback of uWebSockets.js', async (t) => {
  const main = spawnSync(process.execPath, [distPath('src/main.js')], { encoding: 'utf8', env: { ...process.env, UWS_USE_FALLBACK: '1', API_PORT: '0' }, timeout: 30_000 });
  t.equal(main.status, 2, 'exit 2, as for any start-up error');
  t.match(main.stderr, /uWebSockets\.js loaded its JavaScript fallback instead of the native server/);
  t.notMatch(main.stdout, /pipeline started/, 'nothing was started');
  const direct = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { startApi } from ${JSON.stringify(new URL(`file://${distPath('src/api/server.js')}`).href)};
       startApi({}, { host: '127.0.0.1', port: 0 }).then(() => process.exit(0), (e) => { console.error(e.name + ': ' + e.message); process.exit(3); });`,
    ],
    { encoding: 'utf8', env: { ...process.env, UWS_USE_FALLBACK: 'true' }, timeout: 30_000 },
  );
  t.equal(direct.status, 3);
  t.match(direct.stderr, /^UwsFallbackError: /m, 'startApi itself checks');
});
