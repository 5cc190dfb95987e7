/**
 * A chunk of one series: up to `capacity` samples as two Float64 columns in a
 * SharedArrayBuffer (a slot of a ChunkPool slab), written by one collector
 * thread and read by any.
 *
 * ```
 * byteOffset    +8                        +8 + 8 * capacity
 * ┌─────────────┬─────────────────────────┬─────────────────────────┐
 * │ count: i32  │ tsMs[capacity]: f64     │ value[capacity]: f64    │
 * │ epoch: i32  │ ascending               │                         │
 * └─────────────┴─────────────────────────┴─────────────────────────┘
 * ```
 *
 * The writer fills sample `count` in both columns, then publishes it with
 * `Atomics.store(count + 1)`; a reader loads `count` once and reads only
 * below it, so it never sees a half-written sample and takes no lock.
 *
 * Chunks are reused: when retention drops one, the writer bumps its `epoch`
 * and later fills it for another series. A reader remembers the epoch it was
 * given with the chunk and checks it after reading (`stillIn`): if the epoch
 * moved, the chunk was dropped meanwhile and what was read is thrown away.
 * That is a seqlock: readers never block the writer, and never use a sample
 * from a chunk's next life.
 */

/**
 * 511 samples: with the 8-byte header a chunk is exactly 8,192 bytes, two
 * pages, so a slab of chunks has no chunk straddling a third page.
 */
export const CHUNK_SAMPLES = 511;
const HEADER_BYTES = 8;
const COUNT = 0;
const EPOCH = 1;

/** Bytes of one chunk of `capacity` samples. */
export function chunkBytes(capacity: number): number {
  return HEADER_BYTES + 16 * capacity;
}

export class SeriesChunk {
  readonly tsMs: Float64Array;
  readonly value: Float64Array;
  private readonly header: Int32Array;

  /**
   * @param buffer the slab (or a buffer of its own: `new SharedArrayBuffer(chunkBytes(capacity))`)
   * @param byteOffset where the chunk starts, a multiple of 8
   * @param id the chunk's number in its pool
   */
  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly byteOffset: number,
    readonly capacity: number,
    readonly id = 0,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || byteOffset % 8 !== 0 || byteOffset + chunkBytes(capacity) > buffer.byteLength) {
      throw new RangeError(`a chunk of ${capacity} samples at byte ${byteOffset} does not fit a ${buffer.byteLength}-byte buffer`);
    }
    this.header = new Int32Array(buffer, byteOffset, 2);
    this.tsMs = new Float64Array(buffer, byteOffset + HEADER_BYTES, capacity);
    this.value = new Float64Array(buffer, byteOffset + HEADER_BYTES + 8 * capacity, capacity);
  }

  /** Published samples; any thread. */
  get count(): number {
    return Atomics.load(this.header, COUNT);
  }

  /** The chunk's current life; any thread. */
  get epoch(): number {
    return Atomics.load(this.header, EPOCH);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Writer thread only: appends one sample and publishes it. */
  append(tsMs: number, value: number): void {
    const i = this.header[COUNT]!;
    this.tsMs[i] = tsMs;
    this.value[i] = value;
    Atomics.store(this.header, COUNT, i + 1);
  }

  /**
   * Writer thread only: ends this life (readers holding the old epoch now
   * fail `stillIn`) and empties the chunk. The read-modify-write orders the
   * epoch before every later write to the columns.
   */
  recycle(): void {
    Atomics.add(this.header, EPOCH, 1);
    Atomics.store(this.header, COUNT, 0);
  }

  /**
   * Reader, after reading the columns: true if the chunk is still in life
   * `epoch`, so what was read belongs to it. A read-modify-write, so the
   * column reads before it cannot be ordered after it.
   */
  stillIn(epoch: number): boolean {
    return Atomics.compareExchange(this.header, EPOCH, epoch, epoch) === epoch;
  }

  /** Samples published in life `epoch`: 0 once the chunk has been dropped. */
  countIn(epoch: number): number {
    const n = this.count;
    return this.epoch === epoch ? n : 0;
  }

  /** First index in [0, count) whose timestamp is >= tsMs (count if none). */
  lowerBound(tsMs: number, count = this.count): number {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tsMs[mid]! < tsMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index in [0, count) whose timestamp is > tsMs (count if none). */
  upperBound(tsMs: number, count = this.count): number {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.tsMs[mid]! <= tsMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
