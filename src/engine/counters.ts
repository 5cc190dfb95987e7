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

/** First slot of the per-reason CSV reject counters. */
const REJECT_BASE = 8;
const BLOCK = 32; // counters per slot (a multiple of 8: one cache line per 8)

export const MAX_STREAMERS = 10;
export const MAX_COLLECTORS = 10;
/** Slots: streamers 0-9, collectors 10-19. */
const SLOTS = MAX_STREAMERS + MAX_COLLECTORS;

export function rejectCounter(reason: RejectReason): number {
  return REJECT_BASE + REJECT_REASONS.indexOf(reason);
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
