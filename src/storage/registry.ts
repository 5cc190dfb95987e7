/**
 * The read side of the store, on the main (API) thread: the GPU registry and,
 * per series, the chunks of every shard that has held it. Built from the
 * collectors' StoreEvents; reads chunks in place (no copy, no lock).
 *
 * A chunk is held with the epoch it was announced in (a ChunkRef). Its
 * writer may drop and reuse it before the `drop` event arrives here; a
 * reader then finds the epoch moved and treats the chunk as dropped (see
 * chunk.ts). Every read of a chunk's columns is checked that way.
 *
 * A series normally lives in one shard. When collectors scale, a GPU's later
 * samples may go to another shard: queries merge shards by time.
 */
import type { GpuIdentity } from '../ingest/dcgm-row.js';
import { chunkBytes, SeriesChunk } from './chunk.js';
import { SLAB_CHUNKS } from './chunk-pool.js';
import type { StoreEvent } from './events.js';

/** A chunk in the life it was announced in. */
export class ChunkRef {
  constructor(
    readonly chunk: SeriesChunk,
    readonly epoch: number,
  ) {}

  /** Samples published in this life; 0 once dropped. */
  get count(): number {
    return this.chunk.countIn(this.epoch);
  }

  /** After reading the columns: true if what was read belongs to this life. */
  get live(): boolean {
    return this.chunk.stillIn(this.epoch);
  }
}

export class SeriesView {
  readonly chunks: ChunkRef[] = [];
  constructor(readonly metric: string) {}

  /**
   * Samples held now, reading two chunk headers or so, not every chunk:
   * every chunk but the newest is full (a shard opens a chunk only when its
   * newest is), and retention drops the oldest first, so the chunks dropped
   * but not yet reported are a prefix.
   */
  get count(): number {
    const refs = this.chunks;
    const n = refs.length;
    if (n === 0) return 0;
    const newest = refs[n - 1]!.count; // 0 if it was dropped: then so were all the others
    let first = 0;
    while (first < n - 1 && !refs[first]!.live) first++;
    return (n - 1 - first) * refs[first]!.chunk.capacity + newest;
  }

  get firstMs(): number {
    for (const ref of this.chunks) {
      if (ref.count === 0) continue;
      const tsMs = ref.chunk.tsMs[0]!;
      if (ref.live) return tsMs;
    }
    return NaN;
  }

  get lastMs(): number {
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const ref = this.chunks[i]!;
      const n = ref.count;
      if (n === 0) continue;
      const tsMs = ref.chunk.tsMs[n - 1]!;
      if (ref.live) return tsMs;
    }
    return NaN;
  }
}

export interface GpuEntry {
  /** The identity last reported for this uuid. */
  identity: GpuIdentity;
  /** Per metric name, one view per shard that held it. */
  readonly series: Map<string, SeriesView[]>;
}

interface ShardChunks {
  slabs: SharedArrayBuffer[];
  chunkSamples: number;
  /** By chunk id, made on first use. */
  chunks: SeriesChunk[];
}

export class Registry {
  /** By uuid, the canonical GPU id. */
  readonly gpus = new Map<string, GpuEntry>();
  private readonly byId = new Map<string, SeriesView>();
  private readonly shards = new Map<number, ShardChunks>();

  apply(event: StoreEvent): void {
    switch (event.t) {
      case 'series': {
        let gpu = this.gpus.get(event.gpu.uuid);
        if (gpu === undefined) {
          gpu = { identity: event.gpu, series: new Map() };
          this.gpus.set(event.gpu.uuid, gpu);
        } else {
          gpu.identity = event.gpu;
        }
        const view = new SeriesView(event.metric);
        const views = gpu.series.get(event.metric);
        if (views === undefined) gpu.series.set(event.metric, [view]);
        else views.push(view);
        this.byId.set(`${event.shard}:${event.series}`, view);
        break;
      }
      case 'slab': {
        let shard = this.shards.get(event.shard);
        if (shard === undefined) {
          shard = { slabs: [], chunkSamples: event.chunkSamples, chunks: [] };
          this.shards.set(event.shard, shard);
        }
        if (event.slab !== shard.slabs.length || event.chunkSamples !== shard.chunkSamples) {
          throw new Error(`BUG: slab ${event.slab} of shard ${event.shard} out of order`);
        }
        shard.slabs.push(event.buffer);
        break;
      }
      case 'chunk':
        this.view(event.shard, event.series).chunks.push(new ChunkRef(this.chunk(event.shard, event.chunk), event.epoch));
        break;
      case 'drop':
        this.view(event.shard, event.series).chunks.splice(0, event.chunks);
        break;
    }
  }

  /** Bytes of chunk memory (every shard's slabs, used and free). */
  get chunkBytes(): number {
    let bytes = 0;
    for (const s of this.shards.values()) bytes += s.slabs.length * SLAB_CHUNKS * chunkBytes(s.chunkSamples);
    return bytes;
  }

  private chunk(shardId: number, id: number): SeriesChunk {
    const shard = this.shards.get(shardId);
    const buffer = shard?.slabs[Math.floor(id / SLAB_CHUNKS)];
    if (shard === undefined || buffer === undefined) throw new Error(`BUG: chunk ${id} of shard ${shardId} before its slab`);
    let chunk = shard.chunks[id];
    if (chunk === undefined) {
      chunk = new SeriesChunk(buffer, (id % SLAB_CHUNKS) * chunkBytes(shard.chunkSamples), shard.chunkSamples, id);
      shard.chunks[id] = chunk;
    }
    return chunk;
  }

  private view(shard: number, series: number): SeriesView {
    const view = this.byId.get(`${shard}:${series}`);
    if (view === undefined) throw new Error(`BUG: store event for unknown series ${shard}:${series}`);
    return view;
  }
}
