/**
 * The chunks of one store shard, carved from SharedArrayBuffer slabs and
 * reused. Writer thread only.
 *
 * Allocating a SharedArrayBuffer per chunk and leaving dropped ones to the
 * garbage collector measured as unbounded growth on Node 20: the collector
 * and the main thread each hold a handle, neither heap counts the memory
 * behind it, and RSS climbed by the ingest rate (about 30 MB/s at 2 M
 * samples/s) with retention full. A pool allocates slabs only while the store
 * grows; once retention is full every new chunk is a dropped one, recycled,
 * so memory is flat. Readers tell a recycled chunk by its epoch (see chunk.ts).
 */
import { chunkBytes, SeriesChunk } from './chunk.js';
import type { StoreEvent } from './events.js';

/** Chunks per slab: 64 × 8 KiB = 512 KiB, allocated whole (mmap), touched as used. */
export const SLAB_CHUNKS = 64;

export class ChunkPool {
  private readonly free: SeriesChunk[] = [];
  private readonly chunks: SeriesChunk[] = [];
  private slabs = 0;
  /** The slab new chunks are carved from. */
  private slabBuffer: SharedArrayBuffer | undefined;

  constructor(
    readonly shard: number,
    readonly chunkSamples: number,
    private readonly emit: (event: StoreEvent) => void,
  ) {}

  /** An empty chunk: a recycled one, else a new one (a new slab when needed, announced first). */
  take(): SeriesChunk {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const id = this.chunks.length;
    const slot = id % SLAB_CHUNKS;
    if (slot === 0) {
      const buffer = new SharedArrayBuffer(SLAB_CHUNKS * chunkBytes(this.chunkSamples));
      this.emit({ t: 'slab', shard: this.shard, slab: this.slabs++, chunkSamples: this.chunkSamples, buffer });
      this.slabBuffer = buffer;
    }
    const chunk = new SeriesChunk(this.slabBuffer!, slot * chunkBytes(this.chunkSamples), this.chunkSamples, id);
    this.chunks.push(chunk);
    return chunk;
  }

  /** A chunk retention dropped: readers holding it see its epoch move; it is reused next. */
  give(chunk: SeriesChunk): void {
    chunk.recycle();
    this.free.push(chunk);
  }

  /** Bytes of all slabs (the shard's chunk memory, used and free). */
  get bytes(): number {
    return this.slabs * SLAB_CHUNKS * chunkBytes(this.chunkSamples);
  }

  /** Chunks in use. */
  get used(): number {
    return this.chunks.length - this.free.length;
  }
}
