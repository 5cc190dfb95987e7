import { RECORD_HEADER_BYTES, recordBytes } from './layout.js';

/**
 * A reusable, thread-local buffer of framed messages: the unit that
 * `Producer.tryPushBatch` moves into the ring and `Consumer.tryPop` fills.
 *
 * Messages are stored in the ring's own record format (a 4-byte length, the
 * payload, padding to 4 bytes), so moving a batch in or out of a lane is one
 * or two `TypedArray.set` calls and one atomic store, however many messages
 * it holds.
 *
 * A batch is not shared between threads; give each thread its own.
 */
export class MessageBatch {
  /** The framed records; valid bytes are `[0, byteLength)`. */
  readonly bytes: Uint8Array;
  /** Bytes in use. */
  byteLength = 0;
  /** Messages in the batch. */
  count = 0;
  /** Payload bytes of all messages (records without length words and padding). */
  payloadBytes = 0;
  /** Bytes already moved into a ring by `Producer.tryPushBatch`/`pushBatch`. */
  sentBytes = 0;
  /** Messages already moved into a ring. */
  sentCount = 0;
  /** Payload bytes already moved into a ring. */
  sentPayloadBytes = 0;
  private readonly words: Int32Array;

  /** @param capacityBytes multiple of 4, at least 8 */
  constructor(capacityBytes: number) {
    if (!Number.isInteger(capacityBytes) || capacityBytes < 8 || capacityBytes % 4 !== 0) {
      throw new RangeError(`batch capacityBytes must be a multiple of 4 and at least 8, got ${capacityBytes}`);
    }
    const buffer = new ArrayBuffer(capacityBytes);
    this.bytes = new Uint8Array(buffer);
    this.words = new Int32Array(buffer);
  }

  get capacityBytes(): number {
    return this.bytes.length;
  }

  /** Largest payload a batch of this capacity can hold. */
  get maxMessageBytes(): number {
    return this.bytes.length - RECORD_HEADER_BYTES;
  }

  /** Empties the batch for reuse; no memory is released or cleared. */
  reset(): void {
    this.byteLength = 0;
    this.count = 0;
    this.payloadBytes = 0;
    this.sentBytes = 0;
    this.sentCount = 0;
    this.sentPayloadBytes = 0;
  }

  /**
   * Appends a copy of `src[offset, offset + length)`.
   * Returns false, changing nothing, when the batch has no room for it.
   * @throws RangeError when the payload could never fit this batch
   */
  push(src: Uint8Array, offset = 0, length = src.length - offset): boolean {
    if (offset >>> 0 !== offset || offset + length > src.length) {
      throw new RangeError(`offset ${offset} + length ${length} is outside a source of ${src.length} bytes`);
    }
    const at = this.reserve(length);
    if (at < 0) return false;
    copyBytes(this.bytes, at, src, offset, length);
    return true;
  }

  /**
   * Appends a message of `length` bytes and returns the offset in `bytes`
   * where the caller writes its payload (encode in place, no copy); -1 when
   * the batch has no room for it.
   * @throws RangeError when the payload could never fit this batch
   */
  reserve(length: number): number {
    if (length >>> 0 !== length) throw new RangeError(`message length must be a whole number of bytes >= 0, got ${length}`);
    const rec = recordBytes(length);
    if (this.byteLength + rec > this.bytes.length) {
      if (rec > this.bytes.length) {
        throw new RangeError(
          `message of ${length} bytes can never fit a batch of ${this.bytes.length} bytes (max ${this.maxMessageBytes})`,
        );
      }
      return -1;
    }
    const at = this.byteLength;
    this.words[at >> 2] = length;
    this.byteLength = at + rec;
    this.count++;
    this.payloadBytes += length;
    return at + RECORD_HEADER_BYTES;
  }

  /**
   * Calls `fn` for each message in order with its payload's place in
   * `bytes`. The view is only valid until the batch is reset or refilled.
   */
  forEach(fn: (bytes: Uint8Array, offset: number, length: number, index: number) => void): void {
    const words = this.words;
    const end = this.byteLength;
    for (let at = 0, i = 0; at < end; i++) {
      const length = words[at >> 2]!;
      fn(this.bytes, at + RECORD_HEADER_BYTES, length, i);
      at += recordBytes(length);
    }
  }

  /**
   * Replaces the contents with a copy of `records`: framed messages as
   * `bytes[0, byteLength)` of another batch holds them, received some other
   * way (a MessagePort, a socket). The framing is checked.
   * @throws RangeError when the records do not fit or are not well framed;
   *   the batch is then left empty
   */
  load(records: Uint8Array): void {
    this.reset();
    if (records.length > this.bytes.length) {
      throw new RangeError(`${records.length} bytes of records do not fit a batch of ${this.bytes.length} bytes`);
    }
    if (records.length % 4 !== 0) throw new RangeError(`records are whole 4-byte words, got ${records.length} bytes`);
    this.bytes.set(records);
    let at = 0;
    let count = 0;
    let payload = 0;
    while (at < records.length) {
      const length = this.words[at >> 2]!;
      if (length < 0 || at + recordBytes(length) > records.length) {
        throw new RangeError(`malformed records: message ${count} at byte ${at} claims ${length} bytes of ${records.length - at - RECORD_HEADER_BYTES} left`);
      }
      at += recordBytes(length);
      count++;
      payload += length;
    }
    this.byteLength = records.length;
    this.count = count;
    this.payloadBytes = payload;
  }

  /** Copies each payload out as its own Uint8Array (convenient, allocates). */
  toArrays(): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.forEach((bytes, offset, length) => out.push(bytes.slice(offset, offset + length)));
    return out;
  }

  /** @internal the Int32 view over `bytes`, for the ring's record walk. */
  get wordView(): Int32Array {
    return this.words;
  }
}

/** Below this many bytes a plain loop beats `set(subarray(...))`, which allocates. */
const SMALL_COPY_BYTES = 64;
/** Below this many bytes a word loop beats `set(subarray(...))` (measured: 32-256 B records). */
const SMALL_WORD_COPY_BYTES = 256;

/** Copies `length` bytes from `src[srcOffset]` to `dst[dstOffset]`. */
export function copyBytes(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  if (length <= SMALL_COPY_BYTES) {
    for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i]!;
  } else {
    dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
  }
}

/**
 * Copies `bytes` (a multiple of 4) between two 4-aligned places, a word at a
 * time when short. Records in lanes and batches are always 4-aligned. Each
 * byte view and its word view must start at the same byte of the same buffer
 * (offsets index both).
 */
export function copyAligned(
  dst: Uint8Array,
  dstWords: Int32Array,
  dstOffset: number,
  src: Uint8Array,
  srcWords: Int32Array,
  srcOffset: number,
  bytes: number,
): void {
  if (bytes <= SMALL_WORD_COPY_BYTES) {
    copyWords(dstWords, dstOffset >> 2, srcWords, srcOffset >> 2, bytes >> 2);
  } else {
    dst.set(src.subarray(srcOffset, srcOffset + bytes), dstOffset);
  }
}

/** Copies `count` Int32 words. */
export function copyWords(dst: Int32Array, dstIndex: number, src: Int32Array, srcIndex: number, count: number): void {
  for (let end = srcIndex + count; srcIndex < end; ) dst[dstIndex++] = src[srcIndex++]!;
}
