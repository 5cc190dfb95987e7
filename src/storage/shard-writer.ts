/**
 * The write side of the store: one per collector thread (a shard). Appends
 * samples to per-series chunks, drops duplicates, enforces retention as data
 * arrives, and reports new series, new chunks and dropped chunks as
 * StoreEvents so the main thread can read the chunks in place. Chunks come
 * from the shard's ChunkPool, and dropped ones go back to it.
 *
 * Each GPU's samples reach one collector in time order (streamers own GPUs,
 * producers route by GPU, lanes are FIFO), so a series has one writer.
 */
import type { GpuIdentity } from '../ingest/dcgm-row.js';
import { CHUNK_SAMPLES, type SeriesChunk } from './chunk.js';
import { ChunkPool } from './chunk-pool.js';
import type { StoreEvent } from './events.js';

export interface RetentionOptions {
  /** Samples older than the series' newest by more than this are dropped, a chunk at a time. */
  retentionMs: number;
  /** Samples kept per series: at least this many, at most this plus one chunk. */
  maxSamplesPerSeries: number;
  chunkSamples?: number;
}

export const AppendResult = { Stored: 0, Duplicate: 1, OutOfOrder: 2 } as const;
export type AppendResult = (typeof AppendResult)[keyof typeof AppendResult];

/** One series of a shard, as its writer sees it: a handle for `appendTo`. */
export class SeriesWriter {
  readonly chunks: SeriesChunk[] = [];
  lastTsMs = -Infinity;
  held = 0;
  /** The chunk being written, and its count (the writer's own copy: no atomic load). */
  head: SeriesChunk | undefined;
  headCount = 0;
  /**
   * When retention must look again: once `held` reaches dropAtHeld (count
   * limit), or a sample is newer than oldestLastMs by more than the age
   * limit. Infinity while the series has one chunk (never dropped).
   */
  dropAtHeld = Infinity;
  oldestLastMs = Infinity;
  constructor(readonly id: number) {}
}

export class ShardWriter {
  /** Samples dropped by retention so far. */
  evicted = 0;
  private readonly series = new Map<string, SeriesWriter>();
  private nextSeries = 0;
  readonly pool: ChunkPool;

  constructor(
    readonly shard: number,
    private readonly options: RetentionOptions,
    private readonly emit: (event: StoreEvent) => void,
  ) {
    this.pool = new ChunkPool(shard, options.chunkSamples ?? CHUNK_SAMPLES, emit);
  }

  /**
   * Stores one sample. A sample with the same (uuid, metric, timestamp) as
   * one held is a Duplicate; one older than the newest held but not held is
   * OutOfOrder (counted by the caller, not stored: a series is append-only).
   */
  append(gpu: GpuIdentity, metric: string, tsMs: number, value: number): AppendResult {
    return this.appendTo(this.seriesOf(gpu, metric), tsMs, value);
  }

  /** The series of (gpu.uuid, metric), created (and announced) on first use: callers may keep it for appendTo. */
  seriesOf(gpu: GpuIdentity, metric: string): SeriesWriter {
    const key = `${gpu.uuid}\u0000${metric}`;
    let s = this.series.get(key);
    if (s === undefined) {
      s = new SeriesWriter(this.nextSeries++);
      this.series.set(key, s);
      this.emit({ t: 'series', shard: this.shard, series: s.id, gpu, metric });
    }
    return s;
  }

  /** As append, to a series from seriesOf (the hot path: no lookup). */
  appendTo(s: SeriesWriter, tsMs: number, value: number): AppendResult {
    if (tsMs <= s.lastTsMs) return this.held(s, tsMs) ? AppendResult.Duplicate : AppendResult.OutOfOrder;
    let chunk = s.head;
    if (chunk === undefined || s.headCount === chunk.capacity) {
      chunk = s.head = this.pool.take();
      s.headCount = 0;
      s.chunks.push(chunk);
      this.emit({ t: 'chunk', shard: this.shard, series: s.id, chunk: chunk.id, epoch: chunk.epoch });
      if (s.chunks.length === 2) this.arm(s);
    }
    chunk.append(tsMs, value);
    s.headCount++;
    s.lastTsMs = tsMs;
    s.held++;
    if (s.held >= s.dropAtHeld || s.oldestLastMs < tsMs - this.options.retentionMs) this.retain(s, tsMs);
    return AppendResult.Stored;
  }

  /** Series held by this shard. */
  get seriesCount(): number {
    return this.series.size;
  }

  private held(s: SeriesWriter, tsMs: number): boolean {
    for (let i = s.chunks.length - 1; i >= 0; i--) {
      const chunk = s.chunks[i]!;
      const count = chunk.count;
      if (count === 0 || chunk.tsMs[0]! > tsMs) continue;
      const at = chunk.lowerBound(tsMs, count);
      return at < count && chunk.tsMs[at] === tsMs;
    }
    return false;
  }

  /** Drops whole chunks past the age or count limit; never the chunk being written. */
  private retain(s: SeriesWriter, newestMs: number): void {
    let dropped = 0;
    while (s.chunks.length > 1) {
      const oldest = s.chunks[0]!;
      const n = oldest.count;
      const tooMany = s.held - n >= this.options.maxSamplesPerSeries;
      const tooOld = oldest.tsMs[n - 1]! < newestMs - this.options.retentionMs;
      if (!tooMany && !tooOld) break;
      this.pool.give(s.chunks.shift()!);
      s.held -= n;
      this.evicted += n;
      dropped++;
    }
    if (dropped > 0) this.emit({ t: 'drop', shard: this.shard, series: s.id, chunks: dropped });
    this.arm(s);
  }

  /** Sets when retain must next look at the series' oldest chunk (sealed: its count is final). */
  private arm(s: SeriesWriter): void {
    if (s.chunks.length < 2) {
      s.dropAtHeld = s.oldestLastMs = Infinity;
      return;
    }
    const oldest = s.chunks[0]!;
    const n = oldest.count;
    s.dropAtHeld = this.options.maxSamplesPerSeries + n;
    s.oldestLastMs = oldest.tsMs[n - 1]!;
  }
}
