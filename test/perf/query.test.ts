import type autocannon from 'autocannon';
import t from 'tap';
import { CASES, TELEMETRY_CASE, loadResult } from '../../perf/query.js';

function result(over: Partial<autocannon.Result> = {}): autocannon.Result {
  return {
    duration: 2,
    errors: 0,
    timeouts: 0,
    non2xx: 0,
    mismatches: 0,
    requests: { total: 5000 },
    latency: { p50: 1.5, p99: 7, max: 21 },
    statusCodeStats: { '200': { count: 5000 } },
    ...over,
  } as unknown as autocannon.Result;
}

t.test('loadResult gives requests per second of the load and the latency percentiles', async (t) => {
  t.strictSame(loadResult(result(), 'uWS x'), { req_per_s: 2500, p50_ms: 1.5, p99_ms: 7, max_ms: 21, requests: 5000 });
});

t.test('loadResult fails on any answer other than 200, naming the server, case and status', async (t) => {
  t.throws(() => loadResult(result({ non2xx: 3, statusCodeStats: { '200': { count: 10 }, '404': { count: 3 } } }), 'node:http telemetry'), /^node:http telemetry: answers other than 200: 3 × 404$/);
  t.throws(() => loadResult(result({ statusCodeStats: { '200': { count: 10 }, '204': { count: 1 } } }), 'uWS x'), /1 × 204/, 'a 2xx that is not 200 fails too');
  t.throws(() => loadResult(result({ non2xx: 2, statusCodeStats: undefined }), 'uWS x'), /2 answers other than 2xx/, 'without per-status counts');
});

t.test('loadResult fails on connection errors and on a load that got no answer', async (t) => {
  t.throws(() => loadResult(result({ errors: 4, timeouts: 1 }), 'uWS x'), /4 connection errors \(1 timeouts\)/);
  t.throws(() => loadResult(result({ requests: { total: 0 } as autocannon.Result['requests'], statusCodeStats: {} }), 'uWS x'), /no request answered/);
});

t.test('the telemetry case wants exactly 1,000 samples, the downsampled one the whole range in one page', async (t) => {
  const tele = CASES.find((c) => c.name === TELEMETRY_CASE)!;
  const entry = { timestamp: '2025-07-18T13:42:33.125Z', metric_name: 'DCGM_FI_DEV_GPU_UTIL', value: 1 };
  t.doesNotThrow(() => tele.check(JSON.stringify({ id: 'g', data: Array(1000).fill(entry), next: 'c' })));
  t.throws(() => tele.check(JSON.stringify({ id: 'g', data: Array(999).fill(entry), next: null })), /expected 1000 samples, got 999/);
  t.match(tele.path('GPU-a/b'), /^\/api\/v1\/gpus\/GPU-a%2Fb\/telemetry\?limit=1000$/, 'the id is percent-encoded');
  const step = CASES.find((c) => c.path('g').includes('step='))!;
  t.doesNotThrow(() => step.check(JSON.stringify({ id: 'g', data: [{ ...entry, samples: 405 }], next: null })));
  t.throws(() => step.check(JSON.stringify({ id: 'g', data: [{ ...entry, samples: 405 }], next: 'c' })), /whole range in one page/);
  t.throws(() => step.check(JSON.stringify({ id: 'g', data: [entry], next: null })), /lacks samples/);
});
