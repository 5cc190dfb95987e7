/**
 * A chunk of one series: up to `capacity` samples as two Float64 columns in
 * one SharedArrayBuffer, written by one collector thread and read by any.
 *
 * ```
 * byte 0        8                         8 + 8 * capacity
 * ┌─────────────┬─────────────────────────┬─────────────────────────┐
 * │ count: i32  │ tsMs[capacity]: f64     │ value[capacity]: f64    │
 * │ (+ 4 pad)   │ ascending               │                         │
 * └─────────────┴─────────────────────────┴─────────────────────────┘
 * ```
 *
 * The writer fills sample `count` in both columns, then publishes it with
 * `Atomics.store(count + 1)`; a reader loads `count` once and reads only
 * below it, so it never sees a torn or half-written sample and takes no lock.
 * A chunk is never reused: once retention drops it, it is garbage collected
 * when no reader holds it any more.
 */

/**
 * 511 samples: with the 8-byte header a chunk is exactly 8,192 bytes, two pages
 * (512 spills into a third page: perf/ingest at 1x1 measured 66 B/sample of RSS
 * with 512, 49 with 511).
 */
export const CHUNK_SAMPLES = 511;
const HEADER_BYTES = 8;

export class SeriesChunk {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  readonly tsMs: Float64Array;
  readonly value: Float64Array;
  private readonly header: Int32Array;

  constructor(bufferOrCapacity: SharedArrayBuffer | number = CHUNK_SAMPLES) {
    const buffer =
      typeof bufferOrCapacity === 'number' ? new SharedArrayBuffer(HEADER_BYTES + 16 * bufferOrCapacity) : bufferOrCapacity;
    this.buffer = buffer;
    this.capacity = (buffer.byteLength - HEADER_BYTES) / 16;
    if (!Number.isInteger(this.capacity) || this.capacity < 1) {
      throw new TypeError(`a chunk buffer is 8 + 16 * capacity bytes, got ${buffer.byteLength}`);
    }
    this.header = new Int32Array(buffer, 0, 2);
    this.tsMs = new Float64Array(buffer, HEADER_BYTES, this.capacity);
    this.value = new Float64Array(buffer, HEADER_BYTES + 8 * this.capacity, this.capacity);
  }

  /** Published samples; any thread. */
  get count(): number {
    return Atomics.load(this.header, 0);
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Writer thread only: appends one sample and publishes it. */
  append(tsMs: number, value: number): void {
    const i = this.header[0]!;
    this.tsMs[i] = tsMs;
    this.value[i] = value;
    Atomics.store(this.header, 0, i + 1);
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
}
