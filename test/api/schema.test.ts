/**
 * The pieces under the routes: RFC 3339 times to and from the store's
 * microsecond grid, durations, the schema validator (query strings and JSON
 * bodies), and the router.
 */
import t from 'tap';
import { ValidationError, param, s, validateBody, validateQuery, validateValue } from '../../src/api/schema.js';
import { formatTimeMs, parseStepMs, parseTimeMs } from '../../src/api/time.js';
import { Router } from '../../src/api/router.js';
import { ROUTES } from '../../src/api/routes/index.js';
import { Prng, testSeed } from '../fixtures/prng.js';

t.test('formatTimeMs writes milliseconds, and microseconds only between milliseconds', async (t) => {
  const t0 = Date.parse('2025-07-18T13:42:33.125Z');
  t.equal(formatTimeMs(t0), '2025-07-18T13:42:33.125Z');
  t.equal(formatTimeMs(t0 + 0.001), '2025-07-18T13:42:33.125001Z');
  t.equal(formatTimeMs(t0 + 0.5), '2025-07-18T13:42:33.125500Z');
  t.equal(formatTimeMs(t0 + 0.999), '2025-07-18T13:42:33.125999Z');
  t.equal(formatTimeMs(Math.round((t0 + 0.9996) * 1000) / 1000), '2025-07-18T13:42:33.126Z', 'rounds to the microsecond grid');
  t.equal(formatTimeMs(0), '1970-01-01T00:00:00.000Z');
});

t.test('parseTimeMs reads what formatTimeMs writes, exactly, for any microsecond', async (t) => {
  const seed = testSeed();
  const prng = new Prng(seed);
  for (let i = 0; i < 10_000; i++) {
    // As the streamers stamp: float ms rounded to the microsecond.
    const tsMs = Math.round((1.6e12 + prng.float() * 1e11) * 1000) / 1000;
    const text = formatTimeMs(tsMs);
    if (parseTimeMs(text, 'floor') !== tsMs || parseTimeMs(text, 'ceil') !== tsMs) {
      t.fail(`${tsMs} → ${text} → ${parseTimeMs(text, 'floor')} (SEED=${seed})`);
      return;
    }
  }
  t.pass('10,000 random instants round-trip');
});

t.test('parseTimeMs takes any RFC 3339 offset and fraction, and rejects the rest', async (t) => {
  const base = Date.parse('2025-07-18T13:42:33Z');
  t.equal(parseTimeMs('2025-07-18T13:42:33Z', 'floor'), base);
  t.equal(parseTimeMs('2025-07-18t13:42:33z', 'floor'), base, 'lower-case t and z');
  t.equal(parseTimeMs('2025-07-18T15:42:33+02:00', 'floor'), base);
  t.equal(parseTimeMs('2025-07-18T08:12:33-05:30', 'floor'), base);
  t.equal(parseTimeMs('2025-07-18T13:42:33.1Z', 'floor'), base + 100);
  t.equal(parseTimeMs('2025-07-18T13:42:33.000001Z', 'floor'), (base * 1000 + 1) / 1000);
  t.equal(parseTimeMs('2025-07-18T13:42:33.0000015Z', 'floor'), (base * 1000 + 1) / 1000, 'past the microsecond: down for an end');
  t.equal(parseTimeMs('2025-07-18T13:42:33.0000015Z', 'ceil'), (base * 1000 + 2) / 1000, 'and up for a start');
  t.equal(parseTimeMs('2025-07-18T13:42:33.000001000Z', 'ceil'), (base * 1000 + 1) / 1000, 'trailing zeros are exact');
  t.equal(parseTimeMs('2024-02-29T00:00:00Z', 'floor'), Date.parse('2024-02-29T00:00:00Z'), 'a leap day');
  for (const bad of ['', 'now', '2025-07-18', '2025-07-18 13:42:33Z', '2025-07-18T13:42:33', '2025-02-29T00:00:00Z', '2025-07-18T24:00:00Z', '2025-07-18T13:60:00Z', '2025-07-18T13:42:60Z', '2025-07-18T13:42:33.Z', '2025-07-18T13:42:33.1234567890Z', '2025-07-18T13:42:33+24:00', '2025-07-18T13:42:33+0200', '1721310153000']) {
    t.ok(Number.isNaN(parseTimeMs(bad, 'floor')), JSON.stringify(bad));
  }
});

t.test('parseStepMs: a positive integer with ms, s, m, h or d, or bare milliseconds', async (t) => {
  t.equal(parseStepMs('500ms'), 500);
  t.equal(parseStepMs('30s'), 30_000);
  t.equal(parseStepMs('1m'), 60_000);
  t.equal(parseStepMs('2h'), 7_200_000);
  t.equal(parseStepMs('1d'), 86_400_000);
  t.equal(parseStepMs('60000'), 60_000);
  for (const bad of ['', '1w', '1.5s', '-1s', 's', '1 s', '1S']) t.ok(Number.isNaN(parseStepMs(bad)), JSON.stringify(bad));
});

const params = [
  param.query('name', s.string(), 'a name'),
  param.queryWithDefault('limit', s.integer({ minimum: 1, maximum: 10 }), 5, 'a limit'),
  param.query('ratio', s.number({ minimum: 0, maximum: 1 }), 'a ratio'),
  param.query('on', s.boolean(), 'a switch'),
  param.query('tags', s.array(s.enum(['a', 'b', 'c'] as const)), 'tags'),
  param.query('at', s.string({ format: 'date-time' }), 'a time'),
] as const;
const q = (text: string) => validateQuery(params, new URLSearchParams(text));

t.test('validateQuery converts each parameter as its schema says and fills defaults', async (t) => {
  t.strictSame(q(''), { limit: 5 });
  t.strictSame(q('name=x&limit=7&ratio=0.25&on=true&tags=a,b&tags=c&at=2025-07-18T13:42:33Z'), {
    name: 'x',
    limit: 7,
    ratio: 0.25,
    on: true,
    tags: ['a', 'b', 'c'],
    at: '2025-07-18T13:42:33Z',
  });
  t.strictSame(q('tags=&name='), { name: '', limit: 5 }, 'an empty list is no list; an empty string is a string');
  const typed: { limit: number; name: string | undefined } = q('');
  t.equal(typed.limit, 5, 'a parameter with a default is typed as always set');
});

t.test('validateQuery rejects with the parameter and the value', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['limit=11', 'limit', /^limit must be from 1 to 10, got 11$/],
    ['limit=x', 'limit', /^limit must be an integer from 1 to 10, got "x"$/],
    ['limit=1&limit=2', 'limit', /^limit must be given once, got 2 values$/],
    ['ratio=2', 'ratio', /^ratio must be from 0 to 1, got 2$/],
    ['ratio=abc', 'ratio', /^ratio must be a number, got "abc"$/],
    ['on=yes', 'on', /^on must be true or false, got "yes"$/],
    ['tags=a,d', 'tags[1]', /^tags\[1\] must be one of a, b, c, got "d"$/],
    ['at=noon', 'at', /^at must be an RFC 3339 date-time such as .*, got "noon"$/],
    ['other=1', 'other', /^unknown query parameter "other" \(this route takes name, limit, ratio, on, tags, at\)$/],
    [`name=x&${'z'.repeat(300)}=1`, 'z'.repeat(300), /^unknown query parameter "z{200}…"/],
  ];
  for (const [text, name, message] of cases) {
    t.throws(() => q(text), ValidationError, text);
    try {
      q(text);
    } catch (err) {
      t.equal((err as ValidationError).param, name, text);
      t.match((err as Error).message, message, text);
    }
  }
  t.throws(() => validateQuery([], new URLSearchParams('a=1')), /this route takes none/);
});

t.test('validateBody parses JSON and checks it against an object schema', async (t) => {
  const target = s.object({ n: s.integer({ minimum: 1 }), label: s.string({ minLength: 2, maxLength: 4 }), xs: s.array(s.number()) }, ['n'], { minProperties: 1 });
  const schema = s.ref('Target', target);
  t.strictSame(validateBody(schema, '{"n":2,"label":"ab","xs":[1.5]}'), { n: 2, label: 'ab', xs: [1.5] });
  const cases: Array<[string, RegExp]> = [
    ['{', /^body must be JSON: /],
    ['{}', /^body must have at least 1 of n, label, xs, got \{\}$/],
    ['{"label":"ab"}', /^body\.n is required$/],
    ['{"n":0}', /^n must be at least 1, got 0$/],
    ['{"n":1,"label":"a"}', /^label must be at least 2 characters, got "a"$/],
    ['{"n":1,"label":"abcde"}', /^label must be at most 4 characters, got "abcde"$/],
    ['{"n":1,"xs":[1,"2"]}', /^xs\[1\] must be a number, got "2"$/],
    ['{"n":1,"extra":true}', /^body has an unknown field "extra"$/],
    ['"text"', /^body must be an object, got "text"$/],
  ];
  for (const [text, message] of cases) t.throws(() => validateBody(schema, text), { name: 'ValidationError', message }, text);
  t.throws(() => validateValue({ $ref: '#/components/schemas/Nowhere' }, 1, 'x'), /BUG: schema reference/);
  t.throws(() => validateValue(s.nullable(s.string({ pattern: '^a' })), 'b', 'x'), /x must match \^a, got "b"/);
  t.doesNotThrow(() => validateValue(s.nullable(s.string()), null, 'x'));
  t.doesNotThrow(() => validateValue(s.object({}, [], { additionalProperties: true }), { any: 1 }, 'x'));
});

t.test('the router finds exact paths and templates, and which methods a path has', async (t) => {
  const router = new Router(ROUTES);
  t.equal(router.match('/health')?.pattern, '/health');
  const m = router.match('/api/v1/gpus/GPU-1/telemetry');
  t.equal(m?.pattern, '/api/v1/gpus/{id}/telemetry');
  t.strictSame(m?.values, ['GPU-1']);
  t.strictSame(m?.names, ['id']);
  t.strictSame([...router.match('/api/v1/admin/workers')!.byMethod.keys()], ['GET', 'PUT']);
  t.equal(router.match('/api/v1/gpus/GPU-1'), undefined);
  t.equal(router.match('/api/v1/gpus/GPU-1/telemetry/'), undefined);
  t.equal(router.match('/docs/a/b'), undefined);
  t.throws(() => new Router([ROUTES[0]!, ROUTES[0]!]), /BUG: two routes for GET \/api\/v1\/gpus/);
});
