/**
 * The read side of the store, on the main (API) thread: the GPU registry and,
 * per series, the chunks of every shard that has held it. Built from the
 * collectors' StoreEvents; reads chunks in place (no copy, no lock).
 *
 * A series normally lives in one shard. When collectors scale, a GPU's later
 * samples may go to another shard: queries merge shards by time.
 */
import type { GpuIdentity } from '../ingest/dcgm-row.js';
import { SeriesChunk } from './chunk.js';
import type { StoreEvent } from './events.js';

export class SeriesView {
  readonly chunks: SeriesChunk[] = [];
  constructor(readonly metric: string) {}

  /** Samples held now. */
  get count(): number {
    let n = 0;
    for (const c of this.chunks) n += c.count;
    return n;
  }

  get firstMs(): number {
    for (const c of this.chunks) if (c.count > 0) return c.tsMs[0]!;
    return NaN;
  }

  get lastMs(): number {
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const c = this.chunks[i]!;
      const n = c.count;
      if (n > 0) return c.tsMs[n - 1]!;
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

export class Registry {
  /** By uuid, the canonical GPU id. */
  readonly gpus = new Map<string, GpuEntry>();
  private readonly byId = new Map<string, SeriesView>();

  apply(event: StoreEvent): void {
    const id = `${event.shard}:${event.series}`;
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
        this.byId.set(id, view);
        break;
      }
      case 'chunk':
        this.view(id).chunks.push(new SeriesChunk(event.buffer));
        break;
      case 'drop':
        this.view(id).chunks.splice(0, event.chunks);
        break;
    }
  }

  private view(id: string): SeriesView {
    const view = this.byId.get(id);
    if (view === undefined) throw new Error(`BUG: store event for unknown series ${id}`);
    return view;
  }
}
