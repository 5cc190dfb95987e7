/**
 * What the API needs from the rest of the process. A running Engine is an
 * EngineLike as it is; tests pass a real Engine too (started, or not started
 * with its registry fed directly by a ShardWriter).
 */
import type { RingStats } from 'native-free-ring';
import type { Counters } from '../engine/counters.js';
import type { Logger } from '../engine/engine.js';
import type { QueryPool } from '../query/query-pool.js';
import type { Registry } from '../storage/registry.js';
import { GpuMetricsRenderer } from './gpu-metrics.js';
import { PipelineMetrics } from './metrics.js';

export type { Logger };

/** The engine as the API sees it (main thread). */
export interface EngineLike {
  readonly registry: Registry;
  readonly counters: Counters;
  readonly ring: { stats(): RingStats };
  /** Streamers of the current set. */
  readonly streamerCountNow: number;
  /** Collectors running and not stopping. */
  readonly collectorCount: number;
  /** @throws RangeError outside 1-10 */
  scaleStreamers(n: number): Promise<void>;
  /** @throws RangeError outside 1-10 */
  scaleCollectors(n: number): Promise<void>;
}

export interface ApiDeps {
  engine: EngineLike;
  metrics: PipelineMetrics;
  gpuMetrics: GpuMetricsRenderer;
  queries: QueryPool;
  log: Logger;
}

/** The API's dependencies over a running engine, as `npm start` builds them. */
export function engineDeps(engine: EngineLike, queries: QueryPool, log: Logger): ApiDeps {
  const metrics = new PipelineMetrics({
    counters: engine.counters,
    registry: engine.registry,
    ringStats: () => engine.ring.stats(),
    workers: () => ({ streamers: engine.streamerCountNow, collectors: engine.collectorCount }),
  });
  return { engine, metrics, gpuMetrics: new GpuMetricsRenderer(engine.registry), queries, log };
}
