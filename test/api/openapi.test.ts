/**
 * The OpenAPI document: the committed file is what the code generates, it
 * is well formed (every route, every reference resolves, every schema
 * compiles), and real responses of every endpoint, for every status each
 * one documents, errors included, match it.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import t from 'tap';
import Ajv2020Module from 'ajv/dist/2020.js';
import { renderOpenApi as renderFromSource } from '../../src/api/openapi.js';
import { ROUTES } from '../../src/api/routes/index.js';
import { call, checked, Engine, engineOptions, serve, spec, testLog, until } from './fixtures/harness.js';

const COMMITTED = new URL('../../src/api/openapi.json', import.meta.url);

t.test('src/api/openapi.json is what the code generates (npm run openapi rewrites it)', async (t) => {
  t.equal(readFileSync(COMMITTED, 'utf8'), renderFromSource(), 'run `npm run openapi` and commit src/api/openapi.json');
});

t.test('the document is OpenAPI 3.1 with every route, and every reference resolves', async (t) => {
  const doc = JSON.parse(renderFromSource()) as typeof spec & { openapi: string; components: { schemas: Record<string, unknown> } };
  t.equal(doc.openapi, '3.1.0');
  for (const route of ROUTES) t.ok(doc.paths[route.path]?.[route.method.toLowerCase()], `${route.method} ${route.path}`);
  const ids = ROUTES.map((r) => r.operationId);
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  const refs = [...renderFromSource().matchAll(/"\$ref": "#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
  t.ok(refs.length > 10);
  for (const name of new Set(refs)) t.ok(doc.components.schemas[name], `#/components/schemas/${name} exists`);
  const ajv = new Ajv2020Module.default({ strict: true, strictTypes: false, allowUnionTypes: true });
  ajv.addFormat('date-time', true);
  const rebase = (schema: unknown): object => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"c#/$defs/')) as object;
  ajv.addSchema({ $id: 'c', $defs: rebase(doc.components.schemas) });
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    const rebased = rebase(schema);
    t.doesNotThrow(() => ajv.compile(rebased), `${name} compiles as JSON Schema 2020-12 in strict mode`);
  }
});

/** This machine's own non-loopback IPv4 address: a caller from it is not on loopback. */
const lan = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

t.test('real responses of every endpoint match the document, for every status each documents', async (t) => {
  const log = testLog();
  const engine = new Engine({ ...engineOptions, loop: true, streamIntervalMs: 1, timestampMode: 'processed' }, log);
  t.teardown(() => engine.stop());
  const open = await serve(t, engine, { log });
  const locked = await serve(t, engine, { adminToken: 'a-token-of-sixteen-or-more' });
  const broken = await serve(t, engine, { inlineBelowSamples: 0 });
  await broken.queries.close(); // its downsampling fails: the 500 answer

  await call(t, open.base, '/ready'); // 503: nothing stored yet
  await engine.start();
  await until('samples', async () => (await fetch(`${open.base}/ready`)).status === 200);
  await until('a GPU with two samples', async () => {
    const body = (await (await fetch(`${open.base}/api/v1/gpus`)).json()) as { data: Array<{ samples: number }> };
    return body.data.length > 0 && body.data[0]!.samples > 1;
  });
  const id = (await call(t, open.base, '/api/v1/gpus')).body.data[0].id as string;
  const long = `x=${'y'.repeat(9000)}`;
  const put = (body: string, authorization?: string): RequestInit => ({
    method: 'PUT',
    body,
    headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
  });

  // 200s
  for (const path of [
    '/api/v1/gpus?hostname=nowhere',
    `/api/v1/gpus/${id}/telemetry?limit=1`,
    `/api/v1/gpus/${id}/telemetry?step=1s&agg=max&limit=2`,
    `/api/v1/gpus/${id}/latest`,
    '/api/v1/metrics',
    '/api/v1/admin/workers',
    '/health',
    '/ready',
    '/metrics',
    '/metrics/gpus',
    '/openapi.json',
    '/docs',
    '/docs/swagger-ui.css',
  ]) {
    t.equal((await call(t, open.base, path)).status, 200, path);
  }
  t.equal((await call(t, open.base, '/api/v1/admin/workers', put('{"collectors":1}'))).status, 200);
  // 400s: an unknown parameter anywhere, bad values where there are parameters and a body
  for (const route of ROUTES.filter((r) => r.method === 'GET')) {
    const path = route.path.replace('{id}', id).replace('{asset}', 'index.css');
    t.equal((await call(t, open.base, `${path}?unknown=1`)).status, 400, `${path}?unknown=1`);
    t.equal((await call(t, open.base, `${path}?${long}`)).status, 413, `${path} with a long URL`);
  }
  t.equal((await call(t, open.base, `/api/v1/gpus/${id}/telemetry?start_time=later`)).status, 400);
  t.equal((await call(t, open.base, `/api/v1/gpus/${id}/telemetry?start_time=2025-01-02T00:00:00Z&end_time=2025-01-01T00:00:00Z`)).status, 400);
  t.equal((await call(t, open.base, '/api/v1/admin/workers', put('{"streamers":12}'))).status, 400);
  t.equal((await call(t, open.base, '/api/v1/admin/workers?dry_run=1', put('{"streamers":1}'))).status, 400);
  // 401, 403, 404, 405, 413, 500, 503
  t.equal((await call(t, locked.base, '/api/v1/admin/workers')).status, 401);
  t.equal((await call(t, locked.base, '/api/v1/admin/workers', put('{"streamers":1}', 'Bearer nope'))).status, 401);
  t.ok(lan, 'a non-loopback address to call from');
  if (lan !== undefined) {
    const wide = await serve(t, engine, { host: lan });
    const base = `http://${lan}:${wide.server.port}`;
    t.equal((await call(t, base, '/api/v1/admin/workers')).status, 403);
    t.equal((await call(t, base, '/api/v1/admin/workers', put('{"streamers":1}'))).status, 403);
  }
  t.equal((await call(t, open.base, '/api/v1/gpus/GPU-none/telemetry')).status, 404);
  t.equal((await call(t, open.base, '/api/v1/gpus/GPU-none/latest')).status, 404);
  t.equal((await call(t, open.base, '/docs/none.js')).status, 404);
  t.equal((await call(t, open.base, '/none')).status, 404);
  t.equal((await call(t, open.base, '/health', { method: 'DELETE' })).status, 405);
  t.equal((await call(t, open.base, '/api/v1/admin/workers', put(`{"streamers":1,"x":"${'y'.repeat(2000)}"}`))).status, 413);
  t.equal((await call(t, open.base, '/api/v1/admin/workers', { ...put('{"streamers":1}'), method: 'PUT', body: 'x'.repeat(2000) })).status, 413);
  t.equal((await call(t, broken.base, `/api/v1/gpus/${id}/telemetry?step=1s`)).status, 500);
  open.server.setReady(false);
  t.equal((await call(t, open.base, '/ready')).status, 503);
  t.equal((await call(t, open.base, '/api/v1/admin/workers', put('{"streamers":1}'))).status, 503);
  open.server.setReady(true);

  // Every documented (path, method, status) was answered and checked, but the
  // 500s no input can cause (only the telemetry one, through a failing pool).
  const documented: string[] = [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      for (const status of Object.keys(op.responses)) {
        if (status === '500' && !path.endsWith('/telemetry')) continue;
        documented.push(`${path} ${method.toUpperCase()} ${status}`);
      }
    }
  }
  t.strictSame(
    documented.filter((d) => !checked.has(d)),
    [],
    'every documented response was produced and checked',
  );
  t.ok(checked.has('(none) GET 404') && checked.has('/health DELETE 405'), 'undocumented paths and methods answer with the Error body');
});
