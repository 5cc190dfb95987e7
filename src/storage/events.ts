import type { GpuIdentity } from '../ingest/dcgm-row.js';

/**
 * What a collector's store shard tells the main thread, in order, so that the
 * API thread can read the shard's chunks without a copy. A shard is one
 * collector thread's lifetime; `series` ids are unique within a shard.
 *
 * - `slab`: a new slab of the shard's ChunkPool; chunk `id` lives in slab
 *   `id / SLAB_CHUNKS`, slot `id % SLAB_CHUNKS`.
 * - `chunk`: chunk `chunk` of the shard now holds `series`' newest samples,
 *   in life `epoch`.
 * - `drop`: retention dropped the series' oldest `chunks` chunks.
 */
export type StoreEvent =
  | { t: 'series'; shard: number; series: number; gpu: GpuIdentity; metric: string }
  | { t: 'slab'; shard: number; slab: number; chunkSamples: number; buffer: SharedArrayBuffer }
  | { t: 'chunk'; shard: number; series: number; chunk: number; epoch: number }
  | { t: 'drop'; shard: number; series: number; chunks: number };
