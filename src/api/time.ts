/**
 * Times and durations as the API reads and writes them. Pure functions, any
 * thread.
 *
 * The store keeps timestamps as float milliseconds on a microsecond grid
 * (processed mode stamps `Math.round(ms * 1000) / 1000`). The API renders
 * them in RFC 3339, UTC, with milliseconds; a timestamp between two
 * milliseconds gets six fractional digits instead of three, so two distinct
 * samples never render alike and a rendered timestamp passed back as
 * `start_time` or `end_time` selects exactly that sample.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** How to place an instant finer than a microsecond on the store's grid. */
export type Rounding = 'floor' | 'ceil';

/**
 * RFC 3339 date-time → ms since the epoch on the microsecond grid, or NaN.
 * Digits past the microsecond round down (`floor`, for an inclusive end) or
 * up (`ceil`, for an inclusive start), so the window never takes in a sample
 * outside the instant asked for.
 */
export function parseTimeMs(text: string, rounding: Rounding): number {
  const m = RFC3339.exec(text);
  if (m === null) return NaN;
  const [y, mo, d, hh, mi, ss] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (hh > 23 || mi > 59 || ss > 59) return NaN;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d); // not Date.UTC: years 0-99 stay themselves
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return NaN;
  let offsetMin = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return NaN;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const wholeMs = date.getTime() + ((hh * 60 + mi - offsetMin) * 60 + ss) * 1000;
  const frac = (m[7] ?? '').padEnd(9, '0');
  let micros = Number(frac.slice(0, 6));
  if (rounding === 'ceil' && Number(frac.slice(6)) > 0) micros++;
  // One rounding from integer microseconds, as the store computes its own.
  return (wholeMs * 1000 + micros) / 1000;
}

/** ms since the epoch → `2025-07-18T13:42:33.123Z`, or `…33.123456Z` between milliseconds. */
export function formatTimeMs(tsMs: number): string {
  const micros = Math.round(tsMs * 1000);
  const wholeMs = Math.floor(micros / 1000);
  const sub = micros - wholeMs * 1000;
  const iso = new Date(wholeMs).toISOString();
  return sub === 0 ? iso : `${iso.slice(0, -1)}${String(sub).padStart(3, '0')}Z`;
}

const DURATION = /^(\d{1,12})(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `1m`, `500ms`, `2h`, `1d`, or a bare number of milliseconds → ms; NaN if malformed. */
export function parseStepMs(text: string): number {
  const m = DURATION.exec(text);
  if (m === null) return NaN;
  return Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
}
