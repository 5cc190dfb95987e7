/**
 * Reject messages, and the record checks on decoded strings that the
 * csv-parse fallback (and the test's reference parser) apply. The fast path
 * applies the same checks to bytes, in the same order, with these messages.
 *
 * Order of checks on a record with the header's field count:
 * timestamp, metric_name, uuid, value.
 */
import { RejectReason } from './dcgm-row.js';
import { parseTimestampString, parseValueString } from './field-parse.js';
import { fieldName, type ColumnMap } from './header.js';

/** Offending values are shown up to this many UTF-16 units, JSON-quoted. */
const MAX_SHOWN_CHARS = 64;

function shown(value: string): string {
  return JSON.stringify(value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}...` : value);
}

/** Message builders, one per reject reason: `<source> line <n>: <what failed>`. */
export const rejectDetail = {
  /** `got` null: the record has more fields than the header (it is cut off there). */
  columnCount: (source: string, line: number, expected: number, got: number | null): string =>
    `${source} line ${line}: expected ${expected} fields, got ${got === null ? `more than ${expected}` : got}`,
  badValue: (source: string, line: number, value: string): string =>
    `${source} line ${line}: value ${shown(value)} is not a number`,
  nonFinite: (source: string, line: number, value: string): string =>
    `${source} line ${line}: value ${shown(value)} is not finite`,
  emptyUuid: (source: string, line: number): string => `${source} line ${line}: uuid is empty`,
  emptyMetric: (source: string, line: number): string => `${source} line ${line}: metric_name is empty`,
  badTimestamp: (source: string, line: number, value: string): string =>
    `${source} line ${line}: timestamp ${shown(value)} is not an RFC 3339 date-time`,
  fieldTooLong: (source: string, line: number, columns: ColumnMap | undefined, field: number, maxFieldBytes: number): string =>
    `${source} line ${line}: ${fieldName(columns, field)} is longer than maxFieldBytes (${maxFieldBytes}); skipped to the next line`,
  unterminatedQuote: (source: string, line: number, columns: ColumnMap | undefined, field: number): string =>
    `${source} line ${line}: ${fieldName(columns, field)} opens a quote that the input never closes`,
};

/** Result slot of {@link checkRecordStrings}, reused across calls. */
export interface CheckedRecord {
  tsMs: number;
  value: number;
  detail: string;
}

/**
 * Checks a record whose field count matches the header. Returns null and sets
 * `out.tsMs`/`out.value` when it is a row; otherwise returns the reason and
 * sets `out.detail`.
 */
export function checkRecordStrings(
  fields: readonly string[],
  columns: ColumnMap,
  source: string,
  line: number,
  out: CheckedRecord,
): RejectReason | null {
  const ts = fields[columns.timestamp]!;
  out.tsMs = parseTimestampString(ts);
  if (Number.isNaN(out.tsMs)) {
    out.detail = rejectDetail.badTimestamp(source, line, ts);
    return RejectReason.BadTimestamp;
  }
  if (fields[columns.metricName] === '') {
    out.detail = rejectDetail.emptyMetric(source, line);
    return RejectReason.EmptyMetric;
  }
  if (fields[columns.uuid] === '') {
    out.detail = rejectDetail.emptyUuid(source, line);
    return RejectReason.EmptyUuid;
  }
  const raw = fields[columns.value]!;
  out.value = parseValueString(raw);
  if (Number.isNaN(out.value)) {
    out.detail = rejectDetail.badValue(source, line, raw);
    return RejectReason.BadValue;
  }
  if (out.value === Infinity) {
    out.detail = rejectDetail.nonFinite(source, line, raw);
    return RejectReason.NonFinite;
  }
  return null;
}
