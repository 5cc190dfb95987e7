/**
 * Field grammars of the DCGM CSV, each twice: from bytes (the fast path: no
 * string is made) and from a decoded string (the csv-parse fallback). The two
 * must agree on every input; test/ingest/field-parse.test.ts and the
 * differential test hold them to it.
 *
 * value: `[+-]?(digits[.digits?] | .digits)([eE][+-]?digits)?`, a double.
 *   `inf`, `infinity` and `nan` (any case, optional sign) and values that
 *   overflow a double are non-finite; anything else (empty, spaces, hex,
 *   `n/a`) is not a number.
 * timestamp: RFC 3339 `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T` and `Z` in
 *   either case. The fraction is truncated to milliseconds. Leap seconds
 *   (`:60`) are rejected: a ms-since-epoch clock cannot hold them.
 */

/** parseValue* result for "not a number" (test with `v !== v`). */
export const VALUE_NOT_A_NUMBER = NaN;
/** parseValue* result for `inf`/`nan`/overflow; real values are always finite. */
export const VALUE_NOT_FINITE = Infinity;

const CH_0 = 0x30;
const CH_PLUS = 0x2b;
const CH_MINUS = 0x2d;
const CH_DOT = 0x2e;
const CH_COLON = 0x3a;

// Exact powers of ten: m * 10^k and m / 10^k round once, correctly, when
// m < 2^53 and k <= 22 (Clinger's fast path, as in V8's strtod).
const POW10 = new Float64Array(23);
for (let k = 0, p = 1; k <= 22; k++, p *= 10) POW10[k] = p;
/** Digits that always fit an exact double mantissa (10^15 < 2^53). */
const MAX_FAST_DIGITS = 15;
/** Exponent digits beyond this value leave the fast path anyway. */
const EXP_CLAMP = 100_000;

const latin1 = new TextDecoder('latin1');

/**
 * Decodes `b[start, end)` as UTF-8 (invalid sequences become U+FFFD). With
 * `escaped`, the bytes are the inside of a quoted field and `""` becomes `"`.
 */
export function decodeField(b: Uint8Array, start: number, end: number, escaped: boolean): string {
  // Buffer's decoder: as TextDecoder (WHATWG replacement, BOM kept), without a subarray per call.
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const s = buf.toString('utf8', start, end);
  return escaped ? s.replaceAll('""', '"') : s;
}

/** True when `b[start, end)` spells inf, infinity or nan in any case. */
function isNonFiniteWord(b: Uint8Array, start: number, end: number): boolean {
  const n = end - start;
  if (n !== 3 && n !== 8) return false;
  let word = '';
  for (let i = start; i < end; i++) word += String.fromCharCode(b[i]! | 0x20);
  return word === 'inf' || word === 'nan' || word === 'infinity';
}

/**
 * Parses a value field from bytes. Returns the number, {@link VALUE_NOT_A_NUMBER}
 * or {@link VALUE_NOT_FINITE}.
 */
export function parseValueBytes(b: Uint8Array, start: number, end: number): number {
  let i = start;
  let neg = false;
  if (i < end) {
    const c = b[i];
    if (c === CH_MINUS) {
      neg = true;
      i++;
    } else if (c === CH_PLUS) {
      i++;
    }
  }
  const body = i;
  let m = 0;
  let digits = 0;
  let d = 0;
  while (i < end && (d = b[i]! - CH_0) >>> 0 <= 9) {
    m = m * 10 + d;
    digits++;
    i++;
  }
  let fracDigits = 0;
  if (i < end && b[i] === CH_DOT) {
    i++;
    while (i < end && (d = b[i]! - CH_0) >>> 0 <= 9) {
      m = m * 10 + d;
      fracDigits++;
      i++;
    }
    digits += fracDigits;
  }
  if (digits === 0) return isNonFiniteWord(b, body, end) ? VALUE_NOT_FINITE : VALUE_NOT_A_NUMBER;
  let exp = 0;
  if (i < end && (b[i]! | 0x20) === 0x65) {
    i++;
    let expNeg = false;
    if (i < end && (b[i] === CH_MINUS || b[i] === CH_PLUS)) expNeg = b[i++] === CH_MINUS;
    const expStart = i;
    while (i < end && (d = b[i]! - CH_0) >>> 0 <= 9) {
      if (exp < EXP_CLAMP) exp = exp * 10 + d;
      i++;
    }
    if (i === expStart) return VALUE_NOT_A_NUMBER;
    if (expNeg) exp = -exp;
  }
  if (i !== end) return VALUE_NOT_A_NUMBER;
  const e10 = exp - fracDigits;
  let v: number;
  if (digits <= MAX_FAST_DIGITS && e10 >= -22 && e10 <= 22) {
    v = e10 >= 0 ? m * POW10[e10]! : m / POW10[-e10]!;
  } else {
    // Long mantissas and large exponents: let the engine round (rare in DCGM data).
    v = Number(latin1.decode(b.subarray(body, end)));
    if (!Number.isFinite(v)) return VALUE_NOT_FINITE;
  }
  return neg ? -v : v;
}

const VALUE_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE_RE = /^[+-]?(?:inf|infinity|nan)$/i;

/** {@link parseValueBytes} for a decoded string. */
export function parseValueString(s: string): number {
  if (VALUE_RE.test(s)) {
    const v = Number(s);
    return Number.isFinite(v) ? v : VALUE_NOT_FINITE;
  }
  return NON_FINITE_RE.test(s) ? VALUE_NOT_FINITE : VALUE_NOT_A_NUMBER;
}

/** Days from 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Two ASCII digits at b[i], or -1. */
function digits2(b: Uint8Array, i: number): number {
  const hi = b[i]! - CH_0;
  const lo = b[i + 1]! - CH_0;
  return hi >>> 0 <= 9 && lo >>> 0 <= 9 ? hi * 10 + lo : -1;
}

/**
 * Parses an RFC 3339 timestamp from bytes to ms since the epoch, or NaN.
 * The common DCGM form `2025-07-18T20:42:34Z` is 20 bytes.
 */
export function parseTimestampBytes(b: Uint8Array, start: number, end: number): number {
  if (end - start < 20) return NaN;
  const i = start;
  const y1 = digits2(b, i);
  const y2 = digits2(b, i + 2);
  const mo = digits2(b, i + 5);
  const d = digits2(b, i + 8);
  const hh = digits2(b, i + 11);
  const mi = digits2(b, i + 14);
  const ss = digits2(b, i + 17);
  if (
    (y1 | y2 | mo | d | hh | mi | ss) < 0 ||
    b[i + 4] !== CH_MINUS ||
    b[i + 7] !== CH_MINUS ||
    (b[i + 10]! | 0x20) !== 0x74 ||
    b[i + 13] !== CH_COLON ||
    b[i + 16] !== CH_COLON
  ) {
    return NaN;
  }
  const y = y1 * 100 + y2;
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || hh > 23 || mi > 59 || ss > 59) return NaN;
  let p = i + 19;
  let fracMs = 0;
  if (b[p] === CH_DOT) {
    p++;
    const fracStart = p;
    let dg = 0;
    while (p < end && (dg = b[p]! - CH_0) >>> 0 <= 9) {
      if (p - fracStart < 3) fracMs = fracMs * 10 + dg;
      p++;
    }
    const n = p - fracStart;
    if (n === 0) return NaN;
    if (n === 1) fracMs *= 100;
    else if (n === 2) fracMs *= 10;
  }
  let offsetMin = 0;
  if (p < end && (b[p]! | 0x20) === 0x7a) {
    p++;
  } else if (p + 6 <= end && (b[p] === CH_PLUS || b[p] === CH_MINUS)) {
    const oh = digits2(b, p + 1);
    const om = digits2(b, p + 4);
    if (oh < 0 || om < 0 || oh > 23 || om > 59 || b[p + 3] !== CH_COLON) return NaN;
    offsetMin = (b[p] === CH_MINUS ? -1 : 1) * (oh * 60 + om);
    p += 6;
  } else {
    return NaN;
  }
  if (p !== end) return NaN;
  return daysFromCivil(y, mo, d) * 86_400_000 + ((hh * 60 + mi - offsetMin) * 60 + ss) * 1000 + fracMs;
}

const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** {@link parseTimestampBytes} for a decoded string (built on Date, independently of the byte path). */
export function parseTimestampString(s: string): number {
  const m = TIMESTAMP_RE.exec(s);
  if (m === null) return NaN;
  const [y, mo, d, hh, mi, ss] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (hh > 23 || mi > 59 || ss > 59) return NaN;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d); // setUTCFullYear, not Date.UTC: years 0-99 stay themselves
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return NaN;
  let ms = date.getTime() + ((hh * 60 + mi) * 60 + ss) * 1000;
  if (m[7] !== undefined) ms += Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return NaN;
    ms -= (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return ms;
}
