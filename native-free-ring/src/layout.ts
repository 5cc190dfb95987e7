/**
 * Shared-memory layout of a FreeRing: one SharedArrayBuffer holding a header,
 * per-thread control lines, statistics and a mesh of single-producer,
 * single-consumer byte lanes (one lane per producer × consumer pair).
 *
 * Every word that one thread writes often lives on its own 64-byte cache line
 * so that producers and consumers do not false-share.
 *
 * ```
 * byte 0
 * ┌──────────────────────── header line (Int32 words, read-mostly) ─────────────────┐
 * │ H_MAGIC │ H_VERSION │ H_MAX_PRODUCERS │ H_MAX_CONSUMERS │ H_LANE_CAPACITY │ H_CLOSED │
 * ├──────────────────────── producer line p (one per producer slot) ─────────────────┤
 * │ P_STATE (Free/Attached) │ P_BELL │ P_WAITERS                                       │
 * ├──────────────────────── consumer line c (one per consumer slot) ─────────────────┤
 * │ C_STATE (Free/Open/Leaving) │ C_BELL │ C_WAITERS │ C_GENERATION (attach count)      │
 * ├──────────────────────── lane l = p * maxConsumers + c: two lines ───────────────┤
 * │ tail line: L_TAIL (byte position, CAS by producer p; SEALED once drained) │ L_HWM  │
 * │ head line: L_HEAD (byte position, written by consumer c) │ L_HWM_SEEN (bytes)     │
 * ├──────────────────────── statistics (Float64, one line per slot) ─────────────────┤
 * │ producer p: PS_MSGS │ PS_BYTES │ PS_BLOCKED_MS │ PS_BLOCKED_WAITS                   │
 * │ consumer c: CS_MSGS │ CS_BYTES                                                     │
 * ├──────────────────────── lane data: laneCapacity bytes each ──────────────────────┤
 * │ record │ record │ ... records wrap around the end of the lane                      │
 * └───────────────────────────────────────────────────────────────────────────────────┘
 *
 * record (4-byte aligned, may straddle the end of the lane and continue at 0):
 * ┌──────────────┬──────────────────────┬─────────────┐
 * │ length: i32  │ payload: length bytes │ pad to 4    │
 * └──────────────┴──────────────────────┴─────────────┘
 * ```
 *
 * Positions (tail, head) are byte counters modulo 2^32; the offset into a
 * lane is `position & (laneCapacity - 1)`, and the bytes in use are
 * `(tail - head) >>> 0`. The capacity is a power of two no larger than 2^30,
 * so the subtraction is exact across the 2^32 wrap. A length word never
 * straddles the end of a lane because records and the capacity are both
 * multiples of 4.
 *
 * Positions are always multiples of 4, so the odd value SEALED can never be a
 * real tail: a consumer that is draining for good (ring closed, or consumer
 * leaving) swaps an empty lane's tail for SEALED with compare-and-swap, and a
 * producer, which publishes with compare-and-swap too, finds the swap failed
 * and keeps its message. Exactly one of the two wins, so nothing is published
 * into a lane nobody will read. Attaching a consumer unseals its lanes.
 */

/** Words per 64-byte cache line in an Int32Array. */
export const LINE_WORDS = 16;
/** Bytes per cache line. */
export const LINE_BYTES = 64;

export const MAGIC = 0x4e465247; // "NFRG"
export const LAYOUT_VERSION = 1;

// Header line.
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_MAX_PRODUCERS = 2;
export const H_MAX_CONSUMERS = 3;
export const H_LANE_CAPACITY = 4;
export const H_CLOSED = 5;

// Producer line.
export const P_STATE = 0;
export const P_BELL = 1;
export const P_WAITERS = 2;

// Consumer line.
export const C_STATE = 0;
export const C_BELL = 1;
export const C_WAITERS = 2;
/** Incremented each time a consumer attaches to the slot. */
export const C_GENERATION = 3;

// Lane lines (tail line, then head line).
export const L_TAIL = 0;
export const L_HWM = 1;
export const L_HEAD = LINE_WORDS;
/** Fullest the consumer has seen its lane (written by the consumer; L_HWM by the producer). */
export const L_HWM_SEEN = LINE_WORDS + 1;
/** L_TAIL of a lane that its consumer has drained for good (odd: never a position). */
export const SEALED = 1;

// Statistics (Float64 index within a slot's line).
export const PS_MSGS = 0;
export const PS_BYTES = 1;
export const PS_BLOCKED_MS = 2;
export const PS_BLOCKED_WAITS = 3;
export const CS_MSGS = 0;
export const CS_BYTES = 1;
/** Float64 values per statistics line. */
export const STAT_LINE = 8;

export const ProducerState = { Free: 0, Attached: 1 } as const;
export type ProducerState = (typeof ProducerState)[keyof typeof ProducerState];

export const ConsumerState = { Free: 0, Open: 1, Leaving: 2, Attaching: 3 } as const;
export type ConsumerState = (typeof ConsumerState)[keyof typeof ConsumerState];

/** Bytes of the length word in front of every record. */
export const RECORD_HEADER_BYTES = 4;

/** Smallest lane: a record of up to 60 payload bytes must fit. */
export const MIN_LANE_CAPACITY = 64;
/** Largest lane: keeps `tail - head` exact with 32-bit positions. */
export const MAX_LANE_CAPACITY = 2 ** 30;
/** Slots per side; 256 × 256 lanes is far beyond any pipeline we run. */
export const MAX_SLOTS = 256;

/** Bytes a payload of `length` bytes takes in a lane or a batch. */
export function recordBytes(length: number): number {
  return RECORD_HEADER_BYTES + ((length + 3) & ~3);
}

/** Byte offsets of each region, derived from the slot counts and lane size. */
export interface Layout {
  readonly maxProducers: number;
  readonly maxConsumers: number;
  readonly laneCapacity: number;
  /** Int32 index of producer p's line: producerBase + p * LINE_WORDS. */
  readonly producerBase: number;
  /** Int32 index of consumer c's line. */
  readonly consumerBase: number;
  /** Int32 index of lane l's tail line: laneBase + l * 2 * LINE_WORDS. */
  readonly laneBase: number;
  /** Byte offset of the Float64 statistics region. */
  readonly statsOffset: number;
  /** Float64 values in the statistics region. */
  readonly statsLength: number;
  /** Byte offset of lane 0's data. */
  readonly dataOffset: number;
  /** Total bytes of the SharedArrayBuffer. */
  readonly byteLength: number;
}

export function computeLayout(maxProducers: number, maxConsumers: number, laneCapacity: number): Layout {
  const producerBase = LINE_WORDS;
  const consumerBase = producerBase + maxProducers * LINE_WORDS;
  const laneBase = consumerBase + maxConsumers * LINE_WORDS;
  const controlWords = laneBase + maxProducers * maxConsumers * 2 * LINE_WORDS;
  const statsOffset = controlWords * 4;
  const statsLength = (maxProducers + maxConsumers) * STAT_LINE;
  const dataOffset = statsOffset + statsLength * 8;
  const byteLength = dataOffset + maxProducers * maxConsumers * laneCapacity;
  return {
    maxProducers,
    maxConsumers,
    laneCapacity,
    producerBase,
    consumerBase,
    laneBase,
    statsOffset,
    statsLength,
    dataOffset,
    byteLength,
  };
}
