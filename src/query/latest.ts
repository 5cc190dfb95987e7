/**
 * The newest sample of each of a GPU's metrics: what a dashboard tile shows.
 * Main thread; reads chunks in place through the Registry, no lock. A value
 * is taken only if its chunk is still in the life it was announced in after
 * the read (see chunk.ts), so a chunk dropped and reused for another series
 * is never read as this one. Cost: O(metrics × shards).
 */
import type { Registry, SeriesView } from '../storage/registry.js';

export interface LatestSample {
  metric: string;
  tsMs: number;
  value: number;
}

/** The newest sample of every metric of the GPU that has one, by metric name; undefined for an unknown GPU. */
export function latest(registry: Registry, uuid: string): LatestSample[] | undefined {
  const gpu = registry.gpus.get(uuid);
  if (gpu === undefined) return undefined;
  const out: LatestSample[] = [];
  for (const views of gpu.series.values()) {
    let best: LatestSample | undefined;
    for (const view of views) {
      const s = newest(view);
      // The same sample held by two shards ties: either copy will do.
      if (s !== undefined && (best === undefined || s.tsMs > best.tsMs)) best = s;
    }
    if (best !== undefined) out.push(best);
  }
  return out.sort((a, b) => (a.metric < b.metric ? -1 : 1)); // names are distinct
}

/**
 * The view's newest sample. Retention drops a series' chunks oldest first,
 * so once a chunk is found dropped the older ones are gone too.
 */
function newest(view: SeriesView): LatestSample | undefined {
  for (let c = view.chunks.length - 1; c >= 0; c--) {
    const ref = view.chunks[c]!;
    const n = ref.count;
    if (n > 0) {
      const tsMs = ref.chunk.tsMs[n - 1]!;
      const value = ref.chunk.value[n - 1]!;
      if (ref.live) return { metric: view.metric, tsMs, value };
      return undefined;
    }
    // An empty chunk: just announced (look further back), or dropped.
    if (!ref.live) return undefined;
  }
  return undefined;
}
