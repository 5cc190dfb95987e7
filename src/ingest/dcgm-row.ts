/**
 * The row model of the CSV ingest layer: what a parsed DCGM export row becomes.
 *
 * Rows travel in columns, not as objects: a {@link RowBatch} holds typed arrays
 * that the parser fills in place and hands to its consumer, which must copy
 * what it keeps before returning (the parser resets the batch right after).
 * Strings are never stored per row: `gpu`, `metric` and `labels` are indexes
 * into append-only dictionaries owned by the parser, in which each distinct
 * value is decoded once.
 *
 * Single-threaded: a batch and the dictionaries belong to one parser.
 */

/**
 * One GPU as the exporter names it. Every field is the string from the CSV;
 * an unset column (container, pod and namespace outside Kubernetes, or a
 * column the file does not have) is the empty string.
 *
 * An identity is the whole tuple: the same uuid seen with another pod is a
 * second entry in the dictionary.
 */
export interface GpuIdentity {
  readonly uuid: string;
  readonly gpuId: string;
  readonly device: string;
  readonly modelName: string;
  readonly hostname: string;
  readonly container: string;
  readonly pod: string;
  readonly namespace: string;
}

/** Why a row was rejected. The values are stable: they name counters and log fields. */
export const RejectReason = {
  /** The record has more or fewer fields than the header. */
  ColumnCount: 'column_count',
  /** `value` is not a decimal number (empty, `n/a`, `12abc`, ...). */
  BadValue: 'bad_value',
  /** `value` is `inf`, `nan` or overflows a double. */
  NonFinite: 'non_finite',
  EmptyUuid: 'empty_uuid',
  EmptyMetric: 'empty_metric',
  /** `timestamp` is not an RFC 3339 date-time. */
  BadTimestamp: 'bad_timestamp',
  /** A field is longer than `maxFieldBytes` (also a quote left open across lines). */
  FieldTooLong: 'field_too_long',
  /** The input ends inside a quoted field. */
  UnterminatedQuote: 'unterminated_quote',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

/** Every reason, in declaration order. */
export const REJECT_REASONS: readonly RejectReason[] = Object.freeze(Object.values(RejectReason));

/**
 * Called once per rejected record. `line` is the 1-based physical line on which
 * the record starts (the header is line 1); `detail` is a complete message such
 * as `csv line 418: value "n/a" is not a number`.
 */
export type RejectHandler = (reason: RejectReason, line: number, detail: string) => void;

/** Receives a filled batch; valid only during the call. */
export type BatchHandler = (batch: RowBatch) => void;

/** What a parse produced: accepted rows, rejected records by reason, and input bytes. */
export interface ParseCounts {
  rows: number;
  rejected: Record<RejectReason, number>;
  bytes: number;
}

/** A zeroed `rejected` record with every reason present. */
export function emptyRejectCounts(): Record<RejectReason, number> {
  const out = {} as Record<RejectReason, number>;
  for (const reason of REJECT_REASONS) out[reason] = 0;
  return out;
}

/**
 * A reusable columnar batch of rows. Row `i < length` is
 * `(line[i], tsMs[i], value[i], gpu[i], metric[i], labels[i])`.
 */
export class RowBatch {
  /** Rows the batch holds when full. */
  readonly capacity: number;
  /** Rows filled so far. */
  length = 0;
  /** 1-based physical line of the row in the file (the header is line 1). */
  readonly line: Int32Array;
  /** Source timestamp, ms since the Unix epoch (UTC). */
  readonly tsMs: Float64Array;
  /** The sample; always finite. */
  readonly value: Float64Array;
  /** Index into the parser's GPU dictionary. */
  readonly gpu: Int32Array;
  /** Index into the parser's metric-name dictionary. */
  readonly metric: Int32Array;
  /** Index into the parser's labels_raw dictionary. */
  readonly labels: Int32Array;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 0x1000000) {
      throw new RangeError(`RowBatch capacity must be an integer from 1 to 16777216, got ${capacity}`);
    }
    this.capacity = capacity;
    this.line = new Int32Array(capacity);
    this.tsMs = new Float64Array(capacity);
    this.value = new Float64Array(capacity);
    this.gpu = new Int32Array(capacity);
    this.metric = new Int32Array(capacity);
    this.labels = new Int32Array(capacity);
  }

  /** Empties the batch for reuse; the arrays keep their (now stale) contents. */
  reset(): void {
    this.length = 0;
  }
}
