/**
 * The field grammars: value and timestamp from bytes and from strings must
 * agree with each other and with the engine (Number, Date) where they overlap.
 */
import t from 'tap';
import {
  decodeField,
  parseTimestampBytes,
  parseTimestampString,
  parseValueBytes,
  parseValueString,
  VALUE_NOT_FINITE,
} from '../../src/ingest/internal.js';
import { Prng, testSeed } from '../fixtures/prng.js';

const enc = new TextEncoder();
/** Parses `s` from bytes placed at an offset inside a larger buffer, as in a real chunk. */
function fromBytes(parse: (b: Uint8Array, start: number, end: number) => number, s: string): number {
  const body = enc.encode(s);
  const b = new Uint8Array(body.length + 10).fill(0x39); // digits around: must not be read
  b.set(body, 5);
  return parse(b, 5, 5 + body.length);
}
const valueBytes = (s: string): number => fromBytes(parseValueBytes, s);
const tsBytes = (s: string): number => fromBytes(parseTimestampBytes, s);
const show = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

t.test('values parse to the double Number gives them', async (t) => {
  const cases = ['0', '66.781', '100', '81003', '156.596', '-0', '+7', '.5', '5.', '1e3', '1E-3', '-2.5e+10', '000123', '0.1', '0.3',
    '123456789012345', '1234567890123456', '123456789012345678', '0.1234567890123456789', '9007199254740993', '2.5e-310', '1e308',
    '4.9e-324', '1e-400', '17976931348623157e292'];
  for (const s of cases) {
    t.equal(show(valueBytes(s)), show(Number(s)), `bytes ${s}`);
    t.equal(show(parseValueString(s)), show(Number(s)), `string ${s}`);
  }
});

t.test('non-numbers and non-finite values give the sentinels', async (t) => {
  for (const s of ['', ' 5', '5 ', 'n/a', '0x10', '1,5', '--1', '1e', '1e+', '.', '+', '-', '12abc', 'e5', '1.2.3', '١٢', '"5"', 'Infinity5', 'in']) {
    t.ok(Number.isNaN(valueBytes(s)), `bytes ${JSON.stringify(s)} is not a number`);
    t.ok(Number.isNaN(parseValueString(s)), `string ${JSON.stringify(s)} is not a number`);
  }
  for (const s of ['inf', 'INF', '-inf', '+Inf', 'infinity', '-Infinity', 'nan', 'NaN', '-nan', '1e999', '-1e400', '2e308']) {
    t.equal(valueBytes(s), VALUE_NOT_FINITE, `bytes ${s} is not finite`);
    t.equal(parseValueString(s), VALUE_NOT_FINITE, `string ${s} is not finite`);
  }
});

t.test('bytes and strings agree on random number-like text', async (t) => {
  const seed = testSeed();
  const prng = new Prng(seed);
  const alphabet = '0123456789012345678901234567890123456789..eE+-- infa';
  let numbers = 0;
  for (let i = 0; i < 20000; i++) {
    let s = '';
    for (let n = prng.int(0, 12); n > 0; n--) s += alphabet[prng.int(0, alphabet.length - 1)];
    const a = show(valueBytes(s));
    const b = show(parseValueString(s));
    if (a !== b) {
      t.equal(a, b, `seed ${seed}: ${JSON.stringify(s)}`);
      return;
    }
    if (!Number.isNaN(Number(a)) && a !== 'Infinity') {
      numbers++;
      if (a !== show(Number(s))) {
        t.equal(a, show(Number(s)), `seed ${seed}: ${JSON.stringify(s)} as Number`);
        return;
      }
    }
  }
  t.ok(numbers > 2000, `agreed on 20000 strings, ${numbers} of them numbers (seed ${seed})`);
});

t.test('random decimals round exactly as Number rounds them', async (t) => {
  const seed = testSeed();
  const prng = new Prng(seed);
  for (let i = 0; i < 20000; i++) {
    const digits = String(prng.next()).slice(0, prng.int(1, 16));
    const point = prng.int(0, digits.length);
    const s = `${prng.int(0, 1) === 1 ? '-' : ''}${digits.slice(0, point)}.${digits.slice(point)}e${prng.int(-30, 30)}`;
    if (valueBytes(s) !== Number(s)) {
      t.equal(valueBytes(s), Number(s), `seed ${seed}: ${s}`);
      return;
    }
  }
  t.pass(`20000 decimals exact (seed ${seed})`);
});

t.test('RFC 3339 timestamps parse to the ms Date.parse gives them', async (t) => {
  const cases = [
    '2025-07-18T20:42:34Z',
    '2025-07-18T20:42:34.5Z',
    '2025-07-18T20:42:34.123Z',
    '2025-07-18T20:42:34.1239Z',
    '2025-07-18T22:42:34+02:00',
    '2025-07-18T15:12:34-05:30',
    '2024-02-29T23:59:59.999Z',
    '2000-02-29T00:00:00Z',
    '1970-01-01T00:00:00Z',
    '1969-12-31T23:59:59Z',
    '9999-12-31T23:59:59Z',
    '2025-12-31T23:59:59+23:59',
  ];
  for (const s of cases) {
    const want = Date.parse(s.replace(/(\.\d{3})\d+/, '$1'));
    t.equal(tsBytes(s), want, `bytes ${s}`);
    t.equal(parseTimestampString(s), want, `string ${s}`);
  }
  t.equal(tsBytes('2025-07-18t20:42:34z'), Date.parse('2025-07-18T20:42:34Z'), 'lower-case t and z');
  t.equal(tsBytes('0001-01-01T00:00:00Z'), -62135596800000, 'year 1');
  t.equal(parseTimestampString('0001-01-01T00:00:00Z'), tsBytes('0001-01-01T00:00:00Z'), 'year 1 (string)');
  t.equal(tsBytes('0099-06-01T00:00:00Z'), new Date('0099-06-01T00:00:00Z').getTime(), 'years 0-99 are not 1900-1999');
});

t.test('anything else is not a timestamp', async (t) => {
  const bad = [
    '', '2025-07-18', '2025-07-18T20:42:34', '2025-07-18 20:42:34Z', '2025-07-18T20:42:34 Z', '2025-13-01T00:00:00Z',
    '2025-00-01T00:00:00Z', '2025-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2025-04-31T00:00:00Z', '2025-07-00T00:00:00Z',
    '2025-07-18T24:00:00Z', '2025-07-18T20:60:00Z', '2025-07-18T20:42:60Z', '2025-07-18T20:42:34.Z', '2025-07-18T20:42:34+2:00',
    '2025-07-18T20:42:34+02', '2025-07-18T20:42:34+24:00', '2025-07-18T20:42:34+02:60', '2025-07-18T20:42:34Zx',
    '+2025-07-18T20:42:34Z', '25-07-18T20:42:34Z', '2025/07/18T20:42:34Z', '2025-07-18T20:42:34.123', '1752871354', 'x'.repeat(30),
    '2025-07-18T20:42:34.12a4Z', '２０２５-07-18T20:42:34Z',
  ];
  for (const s of bad) {
    t.ok(Number.isNaN(tsBytes(s)), `bytes ${JSON.stringify(s)}`);
    t.ok(Number.isNaN(parseTimestampString(s)), `string ${JSON.stringify(s)}`);
  }
});

t.test('bytes and strings agree on random timestamp-like text', async (t) => {
  const seed = testSeed();
  const prng = new Prng(seed);
  const base = '2024-02-29T23:59:59.123+05:30';
  const swaps = '0123456789012345678901239-:.TtZz+ ';
  for (let i = 0; i < 20000; i++) {
    const chars = [...base];
    for (let n = prng.int(1, 3); n > 0; n--) chars[prng.int(0, chars.length - 1)] = swaps[prng.int(0, swaps.length - 1)]!;
    let s = chars.join('');
    if (prng.int(0, 3) === 0) s = s.slice(0, prng.int(19, s.length));
    const a = tsBytes(s);
    const b = parseTimestampString(s);
    if (!Object.is(a, b)) {
      t.equal(a, b, `seed ${seed}: ${JSON.stringify(s)}`);
      return;
    }
  }
  t.pass(`20000 agree (seed ${seed})`);
});

t.test('decodeField decodes UTF-8, unescapes "" and keeps a BOM', async (t) => {
  const b = Uint8Array.from([0x61, 0x22, 0x22, 0x62, 0xff, 0xef, 0xbb, 0xbf, 0xc3, 0xa9]);
  t.equal(decodeField(b, 0, 4, true), 'a"b');
  t.equal(decodeField(b, 0, 4, false), 'a""b');
  t.equal(decodeField(b, 4, 5, false), '\uFFFD', 'invalid UTF-8 becomes U+FFFD');
  t.equal(decodeField(b, 5, 8, false), '\uFEFF', 'a BOM inside a field is data');
  t.equal(decodeField(b, 8, 10, false), 'é');
  t.equal(decodeField(Buffer.from(b), 8, 10, false), 'é', 'Buffers too');
});
