/**
 * The store behind small interfaces, chosen by STORAGE_TYPE, so another
 * (a remote time-series database) plugs in without touching the pipeline:
 *
 * - `StoreWriter`: what a collector thread writes through, one per thread.
 * - `TelemetryStore`: what the API reads through, on the main thread. Its
 *   calls return promises, so a store that answers over the network fits.
 *
 * `inmemory` is the columnar store of this folder: shard writers in the
 * collectors, the Registry on the main thread reading their chunks in place.
 */
import type { GpuIdentity } from '../ingest/dcgm-row.js';
import type { GpuFilter, GpuSummary, SamplePage, SampleQuery } from '../query/range-read.js';
import { listGpus, readSamples } from '../query/range-read.js';
import type { StoreEvent } from './events.js';
import type { Registry } from './registry.js';
import { AppendResult, ShardWriter, type RetentionOptions } from './shard-writer.js';

export const STORAGE_TYPES = ['inmemory'] as const;
export type StorageType = (typeof STORAGE_TYPES)[number];

/** A collector's side of the store. Writer thread only. */
export interface StoreWriter<Series = unknown> {
  /** A handle for (gpu.uuid, metric), created on first use; keep it for appendTo. */
  seriesOf(gpu: GpuIdentity, metric: string): Series;
  /** Stores one sample: Stored, Duplicate (same uuid, metric, timestamp held) or OutOfOrder. */
  appendTo(series: Series, tsMs: number, value: number): AppendResult;
  /** Samples dropped by retention so far. */
  readonly evicted: number;
}

/** The API's side of the store. Main thread. */
export interface TelemetryStore {
  listGpus(filter?: GpuFilter): Promise<GpuSummary[]>;
  /** undefined for an unknown GPU. */
  readSamples(uuid: string, query: SampleQuery): Promise<SamplePage | undefined>;
}

/** The writer for STORAGE_TYPE in a collector thread; `emit` reaches the main thread's store. */
export function createStoreWriter(type: StorageType, shard: number, retention: RetentionOptions, emit: (event: StoreEvent) => void): StoreWriter {
  switch (type) {
    case 'inmemory':
      return new ShardWriter(shard, retention, emit);
  }
}

/** The in-memory store's read side: queries run on the calling thread over the chunks in place. */
export class InMemoryStore implements TelemetryStore {
  constructor(readonly registry: Registry) {}

  listGpus(filter?: GpuFilter): Promise<GpuSummary[]> {
    return Promise.resolve(listGpus(this.registry, filter));
  }

  readSamples(uuid: string, query: SampleQuery): Promise<SamplePage | undefined> {
    return new Promise((resolve) => resolve(readSamples(this.registry, uuid, query)));
  }
}

export { AppendResult };
