import type { GpuIdentity } from '../ingest/dcgm-row.js';

/**
 * What a collector's store shard tells the main thread, in order, so that the
 * API thread can read the shard's chunks without a copy. A shard is one
 * collector thread's lifetime; `series` ids are unique within a shard.
 */
export type StoreEvent =
  | { t: 'series'; shard: number; series: number; gpu: GpuIdentity; metric: string }
  | { t: 'chunk'; shard: number; series: number; buffer: SharedArrayBuffer }
  | { t: 'drop'; shard: number; series: number; chunks: number };
