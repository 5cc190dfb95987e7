/**
 * FreeRing: a many-producer, many-consumer message queue over one
 * SharedArrayBuffer, built as a mesh of single-producer/single-consumer lanes.
 *
 * Thread-safety contract
 * - A `Producer` handle belongs to one thread at a time; so does a `Consumer`.
 *   Any number of producers and consumers (up to the slot counts) run at once.
 * - `tryPush*` and `tryPop` never block, never take a lock and never throw
 *   for full/empty/closed: they report it in their return value. They are
 *   wait-free: a bounded number of steps whatever the other threads do (a
 *   push makes one compare-and-swap per lane it tries and never retries it).
 * - `push*`/`pop` block with `Atomics.wait` (worker threads); `*Async`
 *   variants wait with `Atomics.waitAsync` and never block an event loop.
 * - `close()`, `stats()`, `stopConsumer()` and the `closed` getter may be
 *   called from any thread. Statistics are updated once per batch with plain
 *   stores: a reader may see them up to one batch behind.
 *
 * Delivery: every message pushed before `close()` returns, or accepted by a
 * push that raced with it, reaches exactly one consumer. Each consumer sees
 * each producer's messages in the order they were pushed.
 *
 * Why a mesh: each lane has one writer and one reader, so the fast path is a
 * copy and one uncontended compare-and-swap (the publish; it can only fail
 * against a consumer sealing the lane for good), with no retry loop and no
 * shared counter that all producers fight over. Each side caches the other's
 * position and reads the shared one only when the cached one says full/empty.
 * Producers pick the next open consumer's lane with room (round robin), which
 * also balances load away from a slow consumer.
 */
import { copyAligned, copyBytes, copyWords, MessageBatch } from './batch.js';
import { RingClosedError } from './errors.js';
import {
  C_BELL,
  C_GENERATION,
  C_STATE,
  C_WAITERS,
  computeLayout,
  ConsumerState,
  CS_BYTES,
  CS_MSGS,
  H_CLOSED,
  H_LANE_CAPACITY,
  H_MAGIC,
  H_MAX_CONSUMERS,
  H_MAX_PRODUCERS,
  H_VERSION,
  L_HEAD,
  L_HWM,
  L_HWM_SEEN,
  L_TAIL,
  LAYOUT_VERSION,
  LINE_WORDS,
  MAGIC,
  MAX_LANE_CAPACITY,
  MAX_SLOTS,
  MIN_LANE_CAPACITY,
  P_BELL,
  P_STATE,
  P_WAITERS,
  ProducerState,
  PS_BLOCKED_MS,
  PS_BLOCKED_WAITS,
  PS_BYTES,
  PS_MSGS,
  RECORD_HEADER_BYTES,
  recordBytes,
  SEALED,
  STAT_LINE,
  type Layout,
} from './layout.js';
import { checkTimeout, deadlineFor, nowMs, waitAsync, waitSync } from './wait.js';

/** Byte offsets stay Int32 (fast typed-array indexing), so a ring is under 2 GiB. */
const MAX_RING_BYTES = 2 ** 31 - 1;

/** Returned by `tryPush`/`tryPushBatch` when the ring is closed. */
export const CLOSED = -1;
/** Internal: consumer `to` of a targeted push is no longer open. */
const NOT_OPEN = -2;

/** Returned by `tryPop`/`pop` once the ring is closed (or the consumer stopped) and drained. */
export const DONE = -1;

/**
 * Tries a blocking call makes before it sleeps. A futex wake costs the waker
 * microseconds, far more than a push; spinning briefly first keeps a busy
 * pipeline off that path. Between tries the spinner backs off (spinPause), so
 * it does not pull the other side's cache lines away on every poll: the other
 * side gets to write several records per transfer (bench/: 1x1 single
 * messages about 2x faster than polling flat out).
 */
const SPIN_TRIES = 40;

/**
 * Whether blocking calls spin before they sleep. Spinning pays when each
 * thread has a core; with more threads than cores a spinner takes the CPU
 * from the thread it waits for, and sleeping at once is faster.
 */
export type WaitPolicy = 'spin' | 'sleep';

let pauseSink = 0;
/** Burns roughly 10 ns to 1 µs of CPU without touching shared memory. */
function spinPause(round: number): void {
  let x = pauseSink;
  for (let i = 1024 << Math.min(round, 4); i > 0; i--) x = (x * 31 + i) | 0;
  pauseSink = x;
}

export interface FreeRingOptions {
  /** Producer slots (threads that push at once), 1–256. Default 10. */
  maxProducers?: number;
  /** Consumer slots, 1–256. Default 10. */
  maxConsumers?: number;
  /** Bytes per lane (one lane per producer × consumer pair): a power of two, 64 B–1 GiB. Default 64 KiB. */
  laneCapacityBytes?: number;
}

/** What a full ring does to a blocking push: wait for room (default) or fail the call at once. */
export type FullPolicy = 'wait' | 'fail';

export interface ProducerOptions {
  /** Slot to claim; default the first free one. */
  index?: number;
  onFull?: FullPolicy;
  /**
   * Claim slot `index` even though it is in use: only to replace a thread
   * that is known to be gone (a crashed worker). Its lanes are kept.
   */
  takeover?: boolean;
  /** Default 'spin'; 'sleep' when threads outnumber cores. */
  wait?: WaitPolicy;
}

export interface ConsumerOptions {
  /** Slot to claim; default the first free one. */
  index?: number;
  /**
   * Give space back only on `release()` (an acknowledgement), not as messages
   * are popped: a consumer that dies before releasing leaves its messages in
   * the lanes, and a replacement that takes the slot over gets them again
   * (at least once). Release after each batch is handled, or producers stall.
   */
  manualRelease?: boolean;
  /** As for producers: replace a consumer thread that is known to be gone; its lanes are kept. */
  takeover?: boolean;
  /** As for producers. */
  wait?: WaitPolicy;
}

export interface RingStats {
  closed: boolean;
  /** Bytes all lanes can hold together. */
  capacityBytes: number;
  laneCapacityBytes: number;
  lanes: number;
  /** Largest payload one message may have. */
  maxMessageBytes: number;
  attachedProducers: number;
  openConsumers: number;
  /** Bytes of records waiting in lanes now. */
  depthBytes: number;
  /** Messages waiting now (pushed − popped; may lag by a batch). */
  depthMessages: number;
  /**
   * Fullest any single lane has been seen, in bytes: sampled by its consumer
   * each time it looks for new messages and by its producer whenever the lane
   * looks full (and every 64 pushes), so a brief peak between samples can be missed.
   */
  highWaterMarkBytes: number;
  pushedMessages: number;
  pushedBytes: number;
  poppedMessages: number;
  poppedBytes: number;
  /** Total time producers spent waiting on a full ring, ms. */
  producerBlockedMs: number;
  /** Times a blocking push found the ring full and had to wait (spinning or sleeping). */
  producerBlockedWaits: number;
}

interface WaitRequest {
  index: number;
  expected: number;
  ms: number;
}

/** A blocking loop written once as a generator; `runSync`/`runAsync` do its waiting. */
type WaitLoop<T> = Generator<WaitRequest, T, void>;

function runSync<T>(i32: Int32Array, loop: WaitLoop<T>): T {
  for (;;) {
    const step = loop.next();
    if (step.done) return step.value;
    waitSync(i32, step.value.index, step.value.expected, step.value.ms);
  }
}

async function runAsync<T>(i32: Int32Array, loop: WaitLoop<T>): Promise<T> {
  for (;;) {
    const step = loop.next();
    if (step.done) return step.value;
    await waitAsync(i32, step.value.index, step.value.expected, step.value.ms);
  }
}

function checkSlots(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_SLOTS) {
    throw new RangeError(`${name} must be an integer from 1 to ${MAX_SLOTS}, got ${n}`);
  }
}

export class FreeRing {
  /** The shared memory; post it to workers and open it there with `FreeRing.from`. */
  readonly buffer: SharedArrayBuffer;
  readonly layout: Layout;
  /** @internal */ readonly i32: Int32Array;
  /** @internal */ readonly u8: Uint8Array;
  /** @internal */ readonly f64: Float64Array;

  private constructor(buffer: SharedArrayBuffer, layout: Layout) {
    this.buffer = buffer;
    this.layout = layout;
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.f64 = new Float64Array(buffer, layout.statsOffset, layout.statsLength);
  }

  /** Allocates a new ring. */
  static create(options: FreeRingOptions = {}): FreeRing {
    const maxProducers = options.maxProducers ?? 10;
    const maxConsumers = options.maxConsumers ?? 10;
    const laneCapacity = options.laneCapacityBytes ?? 64 * 1024;
    checkSlots('maxProducers', maxProducers);
    checkSlots('maxConsumers', maxConsumers);
    if (
      !Number.isInteger(laneCapacity) ||
      laneCapacity < MIN_LANE_CAPACITY ||
      laneCapacity > MAX_LANE_CAPACITY ||
      (laneCapacity & (laneCapacity - 1)) !== 0
    ) {
      throw new RangeError(
        `laneCapacityBytes must be a power of two from ${MIN_LANE_CAPACITY} to ${MAX_LANE_CAPACITY}, got ${laneCapacity}`,
      );
    }
    const layout = computeLayout(maxProducers, maxConsumers, laneCapacity);
    if (layout.byteLength > MAX_RING_BYTES) {
      throw new RangeError(
        `a ring of ${maxProducers} x ${maxConsumers} lanes of ${laneCapacity} bytes needs ${layout.byteLength} bytes, over the ${MAX_RING_BYTES}-byte limit`,
      );
    }
    const ring = new FreeRing(new SharedArrayBuffer(layout.byteLength), layout);
    const i32 = ring.i32;
    i32[H_MAX_PRODUCERS] = maxProducers;
    i32[H_MAX_CONSUMERS] = maxConsumers;
    i32[H_LANE_CAPACITY] = laneCapacity;
    i32[H_VERSION] = LAYOUT_VERSION;
    Atomics.store(i32, H_MAGIC, MAGIC);
    return ring;
  }

  /** Opens a ring that another thread created. */
  static from(buffer: SharedArrayBuffer): FreeRing {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < 64) {
      throw new TypeError('FreeRing.from needs the SharedArrayBuffer of a ring made by FreeRing.create');
    }
    const head = new Int32Array(buffer, 0, 16);
    if (Atomics.load(head, H_MAGIC) !== MAGIC) throw new TypeError('buffer is not a FreeRing (bad magic)');
    if (head[H_VERSION] !== LAYOUT_VERSION) {
      throw new TypeError(`FreeRing layout version ${head[H_VERSION]} is not the supported ${LAYOUT_VERSION}`);
    }
    const layout = computeLayout(head[H_MAX_PRODUCERS]!, head[H_MAX_CONSUMERS]!, head[H_LANE_CAPACITY]!);
    if (layout.byteLength !== buffer.byteLength) {
      throw new TypeError(`FreeRing buffer is ${buffer.byteLength} bytes, its header describes ${layout.byteLength}`);
    }
    return new FreeRing(buffer, layout);
  }

  /** Largest payload a single message may have. */
  get maxMessageBytes(): number {
    return this.layout.laneCapacity - RECORD_HEADER_BYTES;
  }

  get closed(): boolean {
    return Atomics.load(this.i32, H_CLOSED) !== 0;
  }

  /**
   * Closes the ring: later pushes fail, every waiting thread wakes, and
   * consumers drain what is left before `tryPop` reports DONE. Idempotent.
   */
  close(): void {
    if (Atomics.exchange(this.i32, H_CLOSED, 1) !== 0) return;
    const { maxProducers, maxConsumers } = this.layout;
    for (let p = 0; p < maxProducers; p++) this.ring(this.producerLine(p) + P_BELL);
    for (let c = 0; c < maxConsumers; c++) this.ring(this.consumerLine(c) + C_BELL);
  }

  /** Claims a producer slot. @throws RangeError when none is free */
  attachProducer(options: ProducerOptions = {}): Producer {
    const onFull = options.onFull ?? 'wait';
    if (onFull !== 'wait' && onFull !== 'fail') throw new RangeError(`onFull must be 'wait' or 'fail', got ${String(onFull)}`);
    const index = this.claim('producer', this.layout.maxProducers, options, (i) =>
      Atomics.compareExchange(this.i32, this.producerLine(i) + P_STATE, ProducerState.Free, ProducerState.Attached) ===
      ProducerState.Free,
    );
    Atomics.store(this.i32, this.producerLine(index) + P_STATE, ProducerState.Attached);
    return new Producer(this, index, onFull, options.wait === 'sleep' ? 0 : SPIN_TRIES);
  }

  /** Claims a consumer slot; producers start routing to it at once. @throws RangeError when none is free */
  attachConsumer(options: ConsumerOptions = {}): Consumer {
    const index = this.claim('consumer', this.layout.maxConsumers, options, (i) =>
      Atomics.compareExchange(this.i32, this.consumerLine(i) + C_STATE, ConsumerState.Free, ConsumerState.Attaching) ===
      ConsumerState.Free,
    );
    // A consumer that drained for good sealed its lanes; open them again.
    for (let p = 0; p < this.layout.maxProducers; p++) {
      const tailAt = this.laneLine(p * this.layout.maxConsumers + index);
      if (Atomics.load(this.i32, tailAt + L_TAIL) === SEALED) Atomics.store(this.i32, tailAt + L_TAIL, Atomics.load(this.i32, tailAt + L_HEAD));
    }
    Atomics.add(this.i32, this.consumerLine(index) + C_GENERATION, 1);
    Atomics.store(this.i32, this.consumerLine(index) + C_STATE, ConsumerState.Open);
    // Producers blocked because no consumer was open can go on now.
    for (let p = 0; p < this.layout.maxProducers; p++) this.ring(this.producerLine(p) + P_BELL);
    return new Consumer(this, index, options.manualRelease === true, options.wait === 'sleep' ? 0 : SPIN_TRIES);
  }

  /**
   * Asks consumer `index` to leave (scale down): producers stop routing to
   * it, it drains its lanes, then its `tryPop` reports DONE and the slot is
   * free again. Any thread may call this.
   */
  stopConsumer(index: number): void {
    checkIndex('consumer', index, this.layout.maxConsumers);
    const line = this.consumerLine(index);
    Atomics.compareExchange(this.i32, line + C_STATE, ConsumerState.Open, ConsumerState.Leaving);
    this.ring(line + C_BELL);
  }

  stats(): RingStats {
    const { maxProducers, maxConsumers, laneCapacity } = this.layout;
    const i32 = this.i32;
    const f64 = this.f64;
    let attachedProducers = 0;
    let pushedMessages = 0;
    let pushedBytes = 0;
    let producerBlockedMs = 0;
    let producerBlockedWaits = 0;
    for (let p = 0; p < maxProducers; p++) {
      if (Atomics.load(i32, this.producerLine(p) + P_STATE) === ProducerState.Attached) attachedProducers++;
      const s = p * STAT_LINE;
      pushedMessages += f64[s + PS_MSGS]!;
      pushedBytes += f64[s + PS_BYTES]!;
      producerBlockedMs += f64[s + PS_BLOCKED_MS]!;
      producerBlockedWaits += f64[s + PS_BLOCKED_WAITS]!;
    }
    let openConsumers = 0;
    let poppedMessages = 0;
    let poppedBytes = 0;
    for (let c = 0; c < maxConsumers; c++) {
      if (Atomics.load(i32, this.consumerLine(c) + C_STATE) === ConsumerState.Open) openConsumers++;
      const s = (maxProducers + c) * STAT_LINE;
      poppedMessages += f64[s + CS_MSGS]!;
      poppedBytes += f64[s + CS_BYTES]!;
    }
    let depthBytes = 0;
    let highWaterMarkBytes = 0;
    const lanes = maxProducers * maxConsumers;
    for (let l = 0; l < lanes; l++) {
      const line = this.laneLine(l);
      const tail = Atomics.load(i32, line + L_TAIL);
      if (tail !== SEALED) depthBytes += (tail - Atomics.load(i32, line + L_HEAD)) >>> 0;
      highWaterMarkBytes = Math.max(highWaterMarkBytes, Atomics.load(i32, line + L_HWM), Atomics.load(i32, line + L_HWM_SEEN));
    }
    return {
      closed: this.closed,
      capacityBytes: lanes * laneCapacity,
      laneCapacityBytes: laneCapacity,
      lanes,
      maxMessageBytes: this.maxMessageBytes,
      attachedProducers,
      openConsumers,
      depthBytes,
      depthMessages: Math.max(0, pushedMessages - poppedMessages),
      highWaterMarkBytes,
      pushedMessages,
      pushedBytes,
      poppedMessages,
      poppedBytes,
      producerBlockedMs,
      producerBlockedWaits,
    };
  }

  /** @internal Int32 index of producer p's control line. */
  producerLine(p: number): number {
    return this.layout.producerBase + p * LINE_WORDS;
  }

  /** @internal */
  consumerLine(c: number): number {
    return this.layout.consumerBase + c * LINE_WORDS;
  }

  /** @internal Int32 index of lane l's tail line (its head line follows). */
  laneLine(lane: number): number {
    return this.layout.laneBase + lane * 2 * LINE_WORDS;
  }

  /** @internal Bumps a bell word and wakes every thread waiting on it. */
  ring(index: number): void {
    Atomics.add(this.i32, index, 1);
    Atomics.notify(this.i32, index);
  }

  /** Claims a free slot with `tryClaim`, or slot `options.index`; a takeover claims it whatever its state. */
  private claim(kind: string, slots: number, options: { index?: number; takeover?: boolean }, tryClaim: (i: number) => boolean): number {
    const wanted = options.index;
    if (options.takeover === true && wanted === undefined) throw new RangeError(`a ${kind} takeover needs the index of the slot to take over`);
    if (wanted !== undefined) {
      checkIndex(kind, wanted, slots);
      if (options.takeover !== true && !tryClaim(wanted)) throw new RangeError(`${kind} slot ${wanted} is in use`);
      return wanted;
    }
    for (let i = 0; i < slots; i++) if (tryClaim(i)) return i;
    throw new RangeError(`all ${slots} ${kind} slots are in use`);
  }
}

function checkIndex(kind: string, index: number, slots: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= slots) {
    throw new RangeError(`${kind} index must be an integer from 0 to ${slots - 1}, got ${index}`);
  }
}

/**
 * The push side of one producer slot. One thread at a time; `detach()` frees
 * the slot (messages already pushed stay in the lanes for the consumers).
 */
export class Producer {
  readonly index: number;
  readonly onFull: FullPolicy;
  private readonly ring: FreeRing;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly f64: Float64Array;
  private readonly line: number;
  private readonly stat: number;
  private readonly mask: number;
  private readonly maxConsumers: number;
  private readonly consumer0: number;
  /** Int32 index of this producer's first lane's tail line. */
  private readonly laneLine0: number;
  /** Byte offset of this producer's first lane's data. */
  private readonly data0: number;
  /** Last head seen per lane: free space is at least what it implies. */
  private readonly heads: Int32Array;
  /** Our tail per lane (SEALED while its consumer has sealed it). */
  private readonly tails: Int32Array;
  private sinceLook = 0;
  private next = 0;
  private attached = true;
  /** The last source buffer pushed from, and an Int32 view of it (one-entry cache). */
  private srcBuffer: ArrayBufferLike | undefined;
  private srcWords: Int32Array | undefined;

  /** @internal use FreeRing.attachProducer */
  constructor(
    ring: FreeRing,
    index: number,
    onFull: FullPolicy,
    private readonly spinTries = SPIN_TRIES,
  ) {
    const { laneCapacity, maxConsumers, dataOffset } = ring.layout;
    this.ring = ring;
    this.index = index;
    this.onFull = onFull;
    this.i32 = ring.i32;
    this.u8 = ring.u8;
    this.f64 = ring.f64;
    this.line = ring.producerLine(index);
    this.stat = index * STAT_LINE;
    this.mask = laneCapacity - 1;
    this.maxConsumers = maxConsumers;
    this.consumer0 = ring.layout.consumerBase;
    this.laneLine0 = ring.laneLine(index * maxConsumers);
    this.data0 = dataOffset + index * maxConsumers * laneCapacity;
    this.heads = new Int32Array(maxConsumers);
    this.tails = new Int32Array(maxConsumers);
    for (let c = 0; c < maxConsumers; c++) {
      this.heads[c] = Atomics.load(this.i32, this.laneTail(c) + L_HEAD);
      this.tails[c] = Atomics.load(this.i32, this.laneTail(c) + L_TAIL);
    }
  }

  /**
   * Pushes one message without blocking: 1 when it was queued, 0 when every
   * open consumer's lane is full (or none is open), CLOSED when the ring is closed.
   * @throws RangeError when the message is larger than `ring.maxMessageBytes`
   */
  tryPush(src: Uint8Array, offset = 0, length = src.length - offset): number {
    const rec = recordBytes(length);
    this.check(length, rec);
    if (offset >>> 0 !== offset || offset + length > src.length) {
      throw new RangeError(`offset ${offset} + length ${length} is outside a source of ${src.length} bytes`);
    }
    const i32 = this.i32;
    // Relaxed reads: a stale "open" is safe, the publish CAS fails on a sealed lane.
    if (i32[H_CLOSED] !== 0) return CLOSED;
    const n = this.maxConsumers;
    const mask = this.mask;
    for (let k = 0, c = this.next; k < n; k++, c = c + 1 === n ? 0 : c + 1) {
      if (i32[this.consumer0 + c * LINE_WORDS + C_STATE] !== ConsumerState.Open) continue;
      const tail = this.openTail(c);
      if (tail === SEALED || this.room(c, tail, rec) < rec) continue;
      const base = this.data0 + c * (mask + 1);
      const at = tail & mask;
      i32[(base + at) >> 2] = length;
      const payloadAt = (at + RECORD_HEADER_BYTES) & mask;
      const first = Math.min(length, mask + 1 - payloadAt);
      this.copyIn(base + payloadAt, src, offset, first);
      if (first < length) this.copyIn(base, src, offset + first, length - first);
      if (!this.publish(c, tail, rec)) continue; // sealed meanwhile
      this.next = c + 1 === n ? 0 : c + 1;
      this.published(c, 1, length);
      return 1;
    }
    return Atomics.load(i32, H_CLOSED) !== 0 ? CLOSED : 0;
  }

  /**
   * Moves as many of the batch's unsent messages (from `batch.sentBytes`)
   * as one lane has room for, in one copy and one atomic publish. Returns
   * the number moved (0: full, or nothing left to send) or CLOSED. With
   * `to`, only consumer `to`'s lane is used, and 0 means full or not open
   * (see `isOpen`): messages that must reach one consumer never go elsewhere.
   * With `generation` too, only while that attachment of the slot lasts
   * (a consumer that left and a new one in its slot are different consumers).
   * @throws RangeError when the next message is larger than `ring.maxMessageBytes`
   */
  tryPushBatch(batch: MessageBatch, to = -1, generation = -1): number {
    const from = batch.sentBytes;
    const end = batch.byteLength;
    if (from >= end) return 0;
    const words = batch.wordView;
    const firstRec = recordBytes(words[from >> 2]!);
    this.check(words[from >> 2]!, firstRec);
    const i32 = this.i32;
    if (i32[H_CLOSED] !== 0) return CLOSED;
    const n = this.maxConsumers;
    const cap = this.mask + 1;
    if (to >= 0 && !this.isOpen(to, generation)) return 0;
    for (let k = 0, c = to >= 0 ? to : this.next; k < (to >= 0 ? 1 : n); k++, c = c + 1 === n ? 0 : c + 1) {
      if (i32[this.consumer0 + c * LINE_WORDS + C_STATE] !== ConsumerState.Open) continue;
      const tail = this.openTail(c);
      if (tail === SEALED) continue;
      const free = this.room(c, tail, end - from);
      if (free < firstRec) continue;
      let bytes = end - from;
      let count = batch.count - batch.sentCount;
      let payload = batch.payloadBytes - batch.sentPayloadBytes;
      if (bytes > free) {
        // Only a prefix fits: walk the records to find whole ones.
        bytes = 0;
        count = 0;
        payload = 0;
        for (let length = words[from >> 2]!; bytes + recordBytes(length) <= free; length = words[(from + bytes) >> 2]!) {
          bytes += recordBytes(length);
          payload += length;
          count++;
          if (from + bytes >= end) break;
        }
      }
      const base = this.data0 + c * cap;
      const at = tail & this.mask;
      const first = Math.min(bytes, cap - at);
      copyAligned(this.u8, i32, base + at, batch.bytes, words, from, first);
      if (first < bytes) copyAligned(this.u8, i32, base, batch.bytes, words, from + first, bytes - first);
      if (!this.publish(c, tail, bytes)) continue; // sealed meanwhile
      if (to < 0) this.next = c + 1 === n ? 0 : c + 1;
      this.published(c, count, payload);
      batch.sentBytes = from + bytes;
      batch.sentCount += count;
      batch.sentPayloadBytes += payload;
      return count;
    }
    return Atomics.load(i32, H_CLOSED) !== 0 ? CLOSED : 0;
  }

  /**
   * Pushes one message, waiting up to `timeoutMs` for room (onFull 'wait'),
   * or failing at once when full (onFull 'fail'). Returns true when queued,
   * false when full ('fail') or timed out. Worker threads only (Atomics.wait).
   * @throws RingClosedError when the ring is closed
   */
  push(src: Uint8Array, offset = 0, length = src.length - offset, timeoutMs = Infinity): boolean {
    checkTimeout(timeoutMs);
    let n = this.tryPush(src, offset, length);
    if (n > 0) return true; // fast path: no closure, no generator
    if (n === 0 && this.onFull === 'wait') {
      this.countWait();
      for (let spin = 0; spin < this.spinTries && n === 0; spin++) {
        spinPause(spin);
        n = this.tryPush(src, offset, length);
      }
      if (n > 0) return true;
    }
    return runSync(this.i32, this.waitFor(() => this.tryPush(src, offset, length), timeoutMs, 0, n, true)) > 0;
  }

  /** `push` that waits with Atomics.waitAsync: safe on the main thread. */
  pushAsync(src: Uint8Array, offset = 0, length = src.length - offset, timeoutMs = Infinity): Promise<boolean> {
    return runAsync(this.i32, this.waitFor(() => this.tryPush(src, offset, length), timeoutMs)).then((n) => n > 0);
  }

  /**
   * Pushes every unsent message of the batch, waiting for room as the
   * policy says. Returns the number moved by this call (all of them unless
   * full with 'fail', timed out, or consumer `to` stopped being open: then
   * `batch.sentBytes < batch.byteLength` and the rest is the caller's to
   * re-route). Worker threads only.
   * @throws RingClosedError when the ring is closed first (`moved` says how many went)
   */
  pushBatch(batch: MessageBatch, timeoutMs = Infinity, to = -1, generation = -1): number {
    checkTimeout(timeoutMs);
    const start = batch.sentCount;
    if (to >= 0 && !this.isOpen(to, generation)) return 0;
    let n = this.tryPushBatch(batch, to, generation);
    if (n > 0 && batch.sentBytes === batch.byteLength) return n; // fast path
    if (n < 0) return this.checked(n, 0);
    if (n === 0 && this.onFull === 'wait') {
      this.countWait();
      for (let spin = 0; spin < this.spinTries && n === 0; spin++) {
        spinPause(spin);
        n = this.attemptBatch(batch, to, generation);
      }
      if (n === NOT_OPEN) return batch.sentCount - start;
      if (n < 0) return this.checked(n, 0);
      if (batch.sentBytes === batch.byteLength) return batch.sentCount - start;
    }
    return runSync(this.i32, this.pushAll(batch, timeoutMs, start, to, generation));
  }

  /** `pushBatch` that waits with Atomics.waitAsync: safe on the main thread. */
  pushBatchAsync(batch: MessageBatch, timeoutMs = Infinity, to = -1, generation = -1): Promise<number> {
    return runAsync(this.i32, this.pushAll(batch, timeoutMs, batch.sentCount, to, generation));
  }

  /**
   * Whether consumer `c` is open: producers may push to it (a relaxed read,
   * for routing); with `generation`, also that it is still that attachment.
   */
  isOpen(c: number, generation = -1): boolean {
    if (c < 0 || c >= this.maxConsumers) return false;
    const line = this.consumer0 + c * LINE_WORDS;
    return this.i32[line + C_STATE] === ConsumerState.Open && (generation < 0 || Atomics.load(this.i32, line + C_GENERATION) === generation);
  }

  /** How many times a consumer has attached to slot `c`: tells a new consumer in a reused slot apart. */
  generation(c: number): number {
    checkIndex('consumer', c, this.maxConsumers);
    return Atomics.load(this.i32, this.consumer0 + c * LINE_WORDS + C_GENERATION);
  }

  /** tryPushBatch for the blocking loops: NOT_OPEN once consumer `to` (that generation) has left. */
  private attemptBatch(batch: MessageBatch, to: number, generation: number): number {
    return to >= 0 && !this.isOpen(to, generation) ? NOT_OPEN : this.tryPushBatch(batch, to, generation);
  }

  /**
   * The consumer that `key` maps to among those open now (key mod the
   * number open, in slot order), or -1 when none is open. Pass it as `to`
   * to keep everything with one key on one consumer while the set of
   * consumers stays the same.
   */
  route(key: number): number {
    const i32 = this.i32;
    let open = 0;
    for (let c = 0; c < this.maxConsumers; c++) if (i32[this.consumer0 + c * LINE_WORDS + C_STATE] === ConsumerState.Open) open++;
    if (open === 0) return -1;
    let k = (key >>> 0) % open;
    for (let c = 0; c < this.maxConsumers; c++) {
      if (i32[this.consumer0 + c * LINE_WORDS + C_STATE] === ConsumerState.Open && k-- === 0) return c;
    }
    return -1;
  }

  /** Frees the slot for another producer. Messages already pushed stay queued. */
  detach(): void {
    if (!this.attached) return;
    this.attached = false;
    Atomics.store(this.i32, this.line + P_STATE, ProducerState.Free);
  }

  /** Pushes the rest of the batch; counts what moved since `sentCount` was `start`. */
  private *pushAll(batch: MessageBatch, timeoutMs: number, start: number, to: number, generation: number): WaitLoop<number> {
    const deadline = deadlineFor(timeoutMs);
    while (batch.sentBytes < batch.byteLength) {
      const remaining = deadline === Infinity ? Infinity : Math.max(0, deadline - nowMs());
      const n = yield* this.waitFor(() => this.attemptBatch(batch, to, generation), remaining, batch.sentCount - start);
      if (n === 0 || n === NOT_OPEN) break;
    }
    return batch.sentCount - start;
  }

  /**
   * Runs `attempt` until it moves something: spins briefly, then sleeps on
   * this producer's bell. `spun`: the caller already counted the wait and spun.
   */
  private *waitFor(attempt: () => number, timeoutMs: number, movedBefore = 0, first?: number, spun = false): WaitLoop<number> {
    let n = first ?? attempt();
    if (n !== 0 || this.onFull === 'fail') return this.checked(n, movedBefore);
    const deadline = deadlineFor(timeoutMs);
    const bell = this.line + P_BELL;
    const waiters = this.line + P_WAITERS;
    const started = nowMs();
    const f64 = this.f64;
    if (!spun) this.countWait();
    try {
      for (let spin = 0; spin < this.spinTries && n === 0 && !spun; spin++) {
        spinPause(spin);
        n = attempt();
      }
      for (;;) {
        if (n !== 0) return this.checked(n, movedBefore);
        const seq = Atomics.load(this.i32, bell);
        Atomics.add(this.i32, waiters, 1);
        n = attempt();
        const remaining = deadline - nowMs();
        if (n === 0 && remaining > 0) yield { index: bell, expected: seq, ms: remaining };
        Atomics.sub(this.i32, waiters, 1);
        if (n === 0 && remaining <= 0) return 0;
        if (n === 0) n = attempt();
      }
    } finally {
      f64[this.stat + PS_BLOCKED_MS]! += nowMs() - started;
    }
  }

  private countWait(): void {
    this.f64[this.stat + PS_BLOCKED_WAITS]!++;
  }

  private checked(n: number, movedBefore: number): number {
    if (n === CLOSED) throw new RingClosedError('ring is closed', movedBefore);
    return n;
  }

  private check(length: number, rec: number): void {
    if (!this.attached) throw new RangeError(`producer ${this.index} is detached`);
    if (length >>> 0 !== length) throw new RangeError(`message length must be a whole number of bytes >= 0, got ${length}`);
    if (rec > this.mask + 1) {
      throw new RangeError(`message of ${length} bytes can never fit a lane of ${this.mask + 1} bytes (max ${this.mask - 3})`);
    }
  }

  private laneTail(c: number): number {
    return this.laneLine0 + c * 2 * LINE_WORDS;
  }

  /** Copies a payload into a lane (`at` is 4-aligned): word by word when `src` is aligned too. */
  private copyIn(at: number, src: Uint8Array, offset: number, length: number): void {
    const from = src.byteOffset + offset;
    if ((from & 3) !== 0 || length > 256) {
      copyBytes(this.u8, at, src, offset, length);
      return;
    }
    let words = this.srcWords;
    if (src.buffer !== this.srcBuffer) {
      this.srcBuffer = src.buffer;
      words = this.srcWords = new Int32Array(src.buffer, 0, src.buffer.byteLength >> 2);
    }
    const whole = length & ~3;
    copyWords(this.i32, at >> 2, words!, from >> 2, whole >> 2);
    if (whole < length) copyBytes(this.u8, at + whole, src, offset + whole, length - whole);
  }

  /**
   * Our tail in consumer c's lane, or SEALED. We are its only writer, so the
   * cached value is exact unless the consumer sealed the lane (the publish
   * CAS then fails) or a new consumer unsealed it (we look again).
   */
  private openTail(c: number): number {
    const tail = this.tails[c]!;
    if (tail !== SEALED) return tail;
    return (this.tails[c] = Atomics.load(this.i32, this.laneTail(c) + L_TAIL));
  }

  /** Publishes `bytes` written at `tail`; false when the lane was sealed meanwhile. */
  private publish(c: number, tail: number, bytes: number): boolean {
    const next = (tail + bytes) | 0;
    const seen = Atomics.compareExchange(this.i32, this.laneTail(c) + L_TAIL, tail, next);
    this.tails[c] = seen === tail ? next : seen;
    return seen === tail;
  }

  /**
   * Free bytes in consumer c's lane, at least `want` if there are. Uses the
   * cached head and reads the shared one only when that says too little (or
   * every LOOK_EVERY pushes, to sample the high-water mark).
   */
  private room(c: number, tail: number, want: number): number {
    const cap = this.mask + 1;
    const free = cap - ((tail - this.heads[c]!) >>> 0);
    if (free >= want && ++this.sinceLook < LOOK_EVERY) return free;
    this.sinceLook = 0;
    const i32 = this.i32;
    const tailAt = this.laneTail(c);
    const head = Atomics.load(i32, tailAt + L_HEAD);
    this.heads[c] = head;
    const used = (tail - head) >>> 0;
    if (used > i32[tailAt + L_HWM]!) Atomics.store(i32, tailAt + L_HWM, used);
    return cap - used;
  }

  /** Wakes consumer c if it sleeps, and counts what was published. */
  private published(c: number, count: number, payloadBytes: number): void {
    const line = this.consumer0 + c * LINE_WORDS;
    // Atomic: pairs with the consumer's add to C_WAITERS before its last look (Dekker).
    if (Atomics.load(this.i32, line + C_WAITERS) !== 0) this.ring.ring(line + C_BELL);
    const f64 = this.f64;
    f64[this.stat + PS_MSGS]! += count;
    f64[this.stat + PS_BYTES]! += payloadBytes;
  }
}

/** A producer reads the shared head at least this often (pushes) to sample the high-water mark. */
const LOOK_EVERY = 64;

/**
 * The pop side of one consumer slot. One thread at a time.
 */
export class Consumer {
  readonly index: number;
  private readonly ring: FreeRing;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly f64: Float64Array;
  private readonly line: number;
  private readonly stat: number;
  private readonly mask: number;
  private readonly maxProducers: number;
  private readonly maxConsumers: number;
  /** This consumer's head per producer lane (it is the only writer). */
  private readonly heads: Int32Array;
  /** The head last stored to shared memory, per lane. */
  private readonly shownHeads: Int32Array;
  /** Last tail seen per lane: there is at least this much to read. */
  private readonly tails: Int32Array;
  /** Int32 index of each producer's lane's tail line, and byte offset of its data. */
  private readonly tailAt: Int32Array;
  private readonly dataAt: Int32Array;
  /** Fullest each lane has been seen by this consumer (mirrors L_HWM_SEEN). */
  private readonly fullest: Int32Array;
  private readonly manualRelease: boolean;
  private next = 0;
  private done = false;

  /** @internal use FreeRing.attachConsumer */
  constructor(
    ring: FreeRing,
    index: number,
    manualRelease = false,
    private readonly spinTries = SPIN_TRIES,
  ) {
    this.ring = ring;
    this.index = index;
    this.manualRelease = manualRelease;
    this.i32 = ring.i32;
    this.u8 = ring.u8;
    this.f64 = ring.f64;
    this.line = ring.consumerLine(index);
    this.stat = (ring.layout.maxProducers + index) * STAT_LINE;
    this.mask = ring.layout.laneCapacity - 1;
    this.maxProducers = ring.layout.maxProducers;
    this.maxConsumers = ring.layout.maxConsumers;
    this.heads = new Int32Array(this.maxProducers);
    this.shownHeads = new Int32Array(this.maxProducers);
    this.tails = new Int32Array(this.maxProducers);
    this.tailAt = new Int32Array(this.maxProducers);
    this.dataAt = new Int32Array(this.maxProducers);
    this.fullest = new Int32Array(this.maxProducers);
    for (let p = 0; p < this.maxProducers; p++) {
      const lane = p * this.maxConsumers + index;
      this.tailAt[p] = ring.laneLine(lane);
      this.dataAt[p] = ring.layout.dataOffset + lane * ring.layout.laneCapacity;
      const head = Atomics.load(this.i32, this.tailAt[p]! + L_HEAD);
      this.heads[p] = head;
      this.shownHeads[p] = head;
      this.tails[p] = head;
      this.fullest[p] = Atomics.load(this.i32, this.tailAt[p]! + L_HWM_SEEN);
    }
  }

  /**
   * Appends up to `maxMessages` waiting messages to `batch` (as many as fit)
   * without blocking. Returns the number appended, 0 when nothing is waiting,
   * or DONE once the ring is closed (or this consumer stopped) and every
   * message meant for this consumer has been handed out.
   * @throws RangeError when `batch` is empty and too small for the next message
   */
  tryPop(batch: MessageBatch, maxMessages = Infinity): number {
    if (this.done) return DONE;
    const got = this.drainLanes(batch, maxMessages);
    if (got !== 0) return got;
    // Relaxed reads first (cheap); a close or stop also rings our bell, so a
    // waiter never sleeps through one.
    const i32 = this.i32;
    if (i32[H_CLOSED] === 0 && i32[this.line + C_STATE] !== ConsumerState.Leaving) return 0;
    const state = Atomics.load(i32, this.line + C_STATE);
    return this.sealed(state) ? DONE : this.drainLanes(batch, maxMessages);
  }

  /**
   * Like `tryPop`, but waits up to `timeoutMs` for a message. Returns the
   * number appended, 0 on timeout, or DONE. Worker threads only.
   */
  pop(batch: MessageBatch, maxMessages = Infinity, timeoutMs = Infinity): number {
    checkTimeout(timeoutMs);
    let n = this.tryPop(batch, maxMessages);
    for (let spin = 0; spin < this.spinTries && n === 0; spin++) {
      spinPause(spin);
      n = this.tryPop(batch, maxMessages);
    }
    if (n !== 0) return n; // no generator unless we must sleep
    return runSync(this.i32, this.waitFor(batch, maxMessages, timeoutMs, true));
  }

  /** `pop` that waits with Atomics.waitAsync: safe on the main thread. */
  popAsync(batch: MessageBatch, maxMessages = Infinity, timeoutMs = Infinity): Promise<number> {
    return runAsync(this.i32, this.waitFor(batch, maxMessages, timeoutMs));
  }

  /** Stops taking new messages (scale down); keep popping until DONE to drain. */
  stop(): void {
    this.ring.stopConsumer(this.index);
  }

  /**
   * Gives back the space of every message popped so far (with
   * `manualRelease`, the acknowledgement that they are handled; otherwise it
   * only hastens what pops do anyway). Wakes producers waiting for room.
   */
  release(): void {
    for (let p = 0; p < this.maxProducers; p++) {
      if (this.heads[p] !== this.shownHeads[p]) this.showHead(p, this.heads[p]!);
    }
  }

  private *waitFor(batch: MessageBatch, maxMessages: number, timeoutMs: number, spun = false): WaitLoop<number> {
    const deadline = deadlineFor(timeoutMs);
    let n = this.tryPop(batch, maxMessages);
    for (let spin = 0; spin < this.spinTries && n === 0 && !spun; spin++) {
      spinPause(spin);
      n = this.tryPop(batch, maxMessages);
    }
    const bell = this.line + C_BELL;
    const waiters = this.line + C_WAITERS;
    while (n === 0) {
      const seq = Atomics.load(this.i32, bell);
      Atomics.add(this.i32, waiters, 1);
      n = this.tryPop(batch, maxMessages);
      const remaining = deadline - nowMs();
      if (n === 0 && remaining > 0) yield { index: bell, expected: seq, ms: remaining };
      Atomics.sub(this.i32, waiters, 1);
      if (n === 0 && remaining <= 0) return 0;
      if (n === 0) n = this.tryPop(batch, maxMessages);
    }
    return n;
  }

  private drainLanes(batch: MessageBatch, maxMessages: number): number {
    const i32 = this.i32;
    const mask = this.mask;
    const cap = mask + 1;
    const nP = this.maxProducers;
    let got = 0;
    let payload = 0;
    for (let k = 0, p = this.next; k < nP && got < maxMessages; k++, p = p + 1 === nP ? 0 : p + 1) {
      const head = this.heads[p]!;
      let tail = this.tails[p]!;
      if (tail === head) {
        tail = Atomics.load(i32, this.tailAt[p]!);
        if (tail === head || tail === SEALED) continue;
        this.tails[p] = tail;
        this.sawFill(p, (tail - head) >>> 0);
      }
      const base = this.dataAt[p]!;
      const room = batch.capacityBytes - batch.byteLength;
      let bytes = 0;
      let n = 0;
      let lengths = 0;
      while (((head + bytes) | 0) !== tail && got + n < maxMessages) {
        const length = i32[(base + ((head + bytes) & mask)) >> 2]!;
        const rec = recordBytes(length);
        if (bytes + rec > room) {
          if (bytes === 0 && batch.byteLength === 0) {
            throw new RangeError(`message of ${length} bytes does not fit a batch of ${batch.capacityBytes} bytes`);
          }
          break;
        }
        bytes += rec;
        lengths += length;
        n++;
      }
      if (n === 0) break; // the batch is full
      const at = head & mask;
      const first = Math.min(bytes, cap - at);
      const words = batch.wordView;
      copyAligned(batch.bytes, words, batch.byteLength, this.u8, i32, base + at, first);
      if (first < bytes) copyAligned(batch.bytes, words, batch.byteLength + first, this.u8, i32, base, bytes - first);
      batch.byteLength += bytes;
      batch.count += n;
      batch.payloadBytes += lengths;
      const next = (head + bytes) | 0;
      this.heads[p] = next;
      // Give the space back when we have read all we knew of, or a quarter lane:
      // one atomic store per stretch instead of one per pop (or on release()).
      if (!this.manualRelease && (next === tail || ((next - this.shownHeads[p]!) >>> 0) >= cap >>> 2)) this.showHead(p, next);
      got += n;
      payload += lengths;
      this.next = p + 1 === nP ? 0 : p + 1;
    }
    if (got > 0) {
      this.f64[this.stat + CS_MSGS]! += got;
      this.f64[this.stat + CS_BYTES]! += payload;
    }
    return got;
  }

  /** Records the fill of producer p's lane when it is at least the largest seen. */
  private sawFill(p: number, used: number): void {
    if (used <= this.fullest[p]!) return;
    this.fullest[p] = used;
    Atomics.store(this.i32, this.tailAt[p]! + L_HWM_SEEN, used);
  }

  /** Stores our head for producer p's lane and wakes p if it waits for room. */
  private showHead(p: number, head: number): void {
    this.shownHeads[p] = head;
    Atomics.store(this.i32, this.tailAt[p]! + L_HEAD, head);
    const producerLine = this.ring.producerLine(p);
    // Atomic: pairs with the producer's add to P_WAITERS before its last look (Dekker).
    if (Atomics.load(this.i32, producerLine + P_WAITERS) !== 0) this.ring.ring(producerLine + P_BELL);
  }

  /**
   * Called once the ring is closed or this consumer is leaving and a drain
   * found nothing: seals each empty lane so no producer can publish into it
   * again. True when every lane is sealed (this consumer is done; a leaving
   * one frees its slot); false when a lane still has messages to drain.
   */
  private sealed(state: number): boolean {
    const i32 = this.i32;
    for (let p = 0; p < this.maxProducers; p++) {
      const tailAt = this.tailAt[p]!;
      const tail = Atomics.load(i32, tailAt);
      if (tail === SEALED) continue;
      if (tail !== this.heads[p] || Atomics.compareExchange(i32, tailAt, tail, SEALED) !== tail) return false;
    }
    this.done = true;
    if (state === ConsumerState.Leaving) Atomics.store(i32, this.line + C_STATE, ConsumerState.Free);
    return true;
  }
}
