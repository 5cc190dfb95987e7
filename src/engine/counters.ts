/**
 * Pipeline counters in shared memory, readable from any thread.
 *
 * Each thread slot (a streamer, a collector, the main thread) owns a block
 * of Float64 counters and is its only writer, so updates are plain adds with
 * no contention; `total()` sums the blocks. A reader may see a block up to
 * one batch behind. A slot reused by a replacement thread keeps adding to
 * the same block, so totals never go backwards.
 *
 * Once drained they reconcile:
 *   rowsRead = samplesStored + rejected (all reasons) + duplicates
 * Nothing a collector took is lost when it crashes: it acknowledges a batch
 * only after storing it, and its replacement gets unacknowledged ones again.
 */
import { REJECT_REASONS, type RejectReason } from '../ingest/dcgm-row.js';

export const Counter = {
  /** CSV data records read: accepted ones once handed to the ring, rejected ones when rejected. */
  RowsRead: 0,
  SamplesStored: 1,
  /** Samples whose (uuid, metric, timestamp) was already stored. */
  Duplicates: 2,
  /** Rejected by a collector: older than the series' newest sample but not held. */
  OutOfOrder: 3,
  /** Rejected by a collector: a message it could not decode (must stay 0). */
  Invalid: 4,
  /** Dropped by retention after being stored (not part of the reconciliation). */
  Evicted: 6,
  /** Completed passes over the file (counted by the streamer of part 0). */
  Passes: 7,
} as const;
export type Counter = (typeof Counter)[keyof typeof Counter];

/** First slot of the per-reason CSV reject counters (8 reasons: 8-15). */
const REJECT_BASE = 8;
/**
 * Ingest latency, row read → queryable, in seconds: upper bounds of the
 * histogram's buckets (a last, unbounded bucket follows). Collectors observe
 * it per batch when they have stored it.
 */
export const LATENCY_BUCKETS_S = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 10,
] as const;
/** Non-cumulative bucket counts 16-32 (the last unbounded), then the sum of seconds and the count. */
const LATENCY_BASE = 16;
const LATENCY_SUM = LATENCY_BASE + LATENCY_BUCKETS_S.length + 1;
const LATENCY_COUNT = LATENCY_SUM + 1;
const BLOCK = 40; // counters per slot (a multiple of 8: one cache line per 8)
if (REJECT_BASE + REJECT_REASONS.length > LATENCY_BASE || LATENCY_COUNT >= BLOCK) throw new Error('BUG: counter block layout overlaps');

export const MAX_STREAMERS = 10;
export const MAX_COLLECTORS = 10;
/** Slots: streamers 0-9, collectors 10-19. */
const SLOTS = MAX_STREAMERS + MAX_COLLECTORS;

export function rejectCounter(reason: RejectReason): number {
  return REJECT_BASE + REJECT_REASONS.indexOf(reason);
}

/** Adds `n` observations of `seconds` to a thread's block (its only writer). */
export function observeLatency(block: Float64Array, seconds: number, n = 1): void {
  let b = 0;
  while (b < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[b]!) b++;
  block[LATENCY_BASE + b]! += n;
  block[LATENCY_SUM]! += seconds * n;
  block[LATENCY_COUNT]! += n;
}

export class Counters {
  readonly buffer: SharedArrayBuffer;
  private readonly f64: Float64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(SLOTS * BLOCK * 8)) {
    this.buffer = buffer;
    this.f64 = new Float64Array(buffer);
  }

  /** The counters block a thread writes; index it with Counter values or rejectCounter(). */
  block(slot: number): Float64Array {
    if (!Number.isInteger(slot) || slot < 0 || slot >= SLOTS) throw new RangeError(`counter slot must be 0-${SLOTS - 1}, got ${slot}`);
    return this.f64.subarray(slot * BLOCK, (slot + 1) * BLOCK);
  }

  total(counter: number): number {
    let sum = 0;
    for (let s = 0; s < SLOTS; s++) sum += this.f64[s * BLOCK + counter]!;
    return sum;
  }

  rejected(): Record<RejectReason | 'out_of_order' | 'invalid', number> {
    const out = {} as Record<RejectReason | 'out_of_order' | 'invalid', number>;
    for (const reason of REJECT_REASONS) out[reason] = this.total(rejectCounter(reason));
    out.out_of_order = this.total(Counter.OutOfOrder);
    out.invalid = this.total(Counter.Invalid);
    return out;
  }

  /** The ingest latency histogram over all threads, Prometheus-style (cumulative counts). */
  latency(): LatencyHistogram {
    const cumulative: number[] = [];
    let running = 0;
    for (let b = 0; b <= LATENCY_BUCKETS_S.length; b++) {
      running += this.total(LATENCY_BASE + b);
      cumulative.push(running);
    }
    return { bucketsS: [...LATENCY_BUCKETS_S, Infinity], cumulative, sumS: this.total(LATENCY_SUM), count: this.total(LATENCY_COUNT) };
  }

  /** A plain snapshot with the reconciliation check. */
  snapshot(): CountersSnapshot {
    const rejected = this.rejected();
    const rejectedTotal = Object.values(rejected).reduce((a, b) => a + b, 0);
    const s = {
      rowsRead: this.total(Counter.RowsRead),
      samplesStored: this.total(Counter.SamplesStored),
      duplicates: this.total(Counter.Duplicates),
      evicted: this.total(Counter.Evicted),
      passes: this.total(Counter.Passes),
      rejected,
      rejectedTotal,
      unaccounted: 0,
    };
    s.unaccounted = s.rowsRead - s.samplesStored - rejectedTotal - s.duplicates;
    return s;
  }
}

export interface CountersSnapshot {
  rowsRead: number;
  samplesStored: number;
  duplicates: number;
  evicted: number;
  passes: number;
  rejected: Record<string, number>;
  rejectedTotal: number;
  /** rowsRead − stored − rejected − duplicates: rows in flight; 0 once drained. */
  unaccounted: number;
}

export interface LatencyHistogram {
  /** Upper bounds in seconds, the last Infinity. */
  bucketsS: number[];
  /** Observations at or below each bound (cumulative, like Prometheus' `le`). */
  cumulative: number[];
  sumS: number;
  count: number;
}
