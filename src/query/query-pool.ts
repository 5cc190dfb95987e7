/**
 * Heavy downsampling off the API thread, in a piscina pool of worker threads.
 *
 * Why piscina here, and not for streamers and collectors: a query is a task,
 * short and independent, that any idle thread can take, so a pool that
 * queues tasks and hands each to a free worker is the right shape. A
 * streamer or collector instead owns a stream for its whole life (a producer
 * or consumer slot of the ring, a store shard), so it is a long-lived thread
 * of its own, started and replaced by the engine.
 *
 * A query over few samples is answered inline, on the calling thread: posting
 * it costs more than running it. Past `inlineBelowSamples` samples in the
 * window (counted from chunk bounds, O(chunks)), the pool gets a snapshot of
 * the GPU's chunks (downsample-worker.ts): the slabs are SharedArrayBuffers,
 * shared with the worker rather than copied, and the worker runs the very
 * same `downsampleSeries` over them, with the same epoch checks.
 *
 * Contract: one pool per process, on the API thread. Validation (RangeError,
 * CursorError) and the unknown-GPU answer happen on the calling thread, in
 * both paths, so errors keep their classes. The worker path answers for the
 * store as of the call, plus what writers appended since to the chunks then
 * held.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { Registry } from '../storage/registry.js';
import { downsampleSeries, planDownsample, samplesInWindow, type DownsamplePage, type DownsampleQuery } from './downsample.js';
import { snapshotTask, unpackPage, type DownsampleTask, type PackedPage } from './downsample-worker.js';

/**
 * 50,000 samples. Measured on the 2-core machine (Node 20, one GPU of 10
 * metrics, pages of 600 buckets, best of 5, two runs): inline costs 8–15 ns a
 * sample (50,000: 0.54–0.74 ms of the API thread; 360,000: 2.9–3.3 ms). The
 * pool costs the API thread 0.13–0.3 ms whatever the size (count, snapshot,
 * post, unpack) and answers 0.2–0.4 ms later than inline below 50,000, as
 * fast from 100,000–200,000 on. So below this inline answers sooner and holds
 * the API thread for well under a millisecond; above it the pool keeps the
 * API thread's share flat while the work grows.
 */
export const INLINE_BELOW_SAMPLES = 50_000;

/** Half the cores, at most 4: the rest is for streamers and collectors. */
const DEFAULT_THREADS = Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));

/** An idle worker stays this long, so a burst of heavy queries does not pay for worker start-up each time. */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * The compiled worker, beside this module in dist/. When this module itself
 * runs from source (a test under tap's TypeScript loader), the worker is
 * still the compiled one, at the same place under dist/: `new Worker` cannot
 * load .ts on Node 20.
 */
const compiledUrl = import.meta.url.replace(/\/src\/query\/query-pool\.ts$/, '/dist/src/query/query-pool.js');
const workerUrl = new URL('./downsample-worker.js', compiledUrl);

export interface QueryPoolOptions {
  /** Worker threads, at most; default half the cores, 1 to 4. */
  threads?: number;
  /** Windows holding fewer samples than this are answered inline; default INLINE_BELOW_SAMPLES. 0: always the pool; Infinity: never. */
  inlineBelowSamples?: number;
}

export class QueryPool {
  /** Queries answered so far on the calling thread, and by a worker. */
  readonly answered = { inline: 0, pooled: 0 };
  private readonly pool: Piscina<DownsampleTask, PackedPage>;
  private readonly inlineBelowSamples: number;
  private closed = false;

  constructor(options: QueryPoolOptions = {}) {
    const threads = options.threads ?? DEFAULT_THREADS;
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be an integer >= 1, got ${threads}`);
    const inlineBelowSamples = options.inlineBelowSamples ?? INLINE_BELOW_SAMPLES;
    if (typeof inlineBelowSamples !== 'number' || Number.isNaN(inlineBelowSamples) || inlineBelowSamples < 0) {
      throw new RangeError(`inlineBelowSamples must be a number >= 0, got ${inlineBelowSamples}`);
    }
    this.inlineBelowSamples = inlineBelowSamples;
    this.pool = new Piscina({
      filename: workerUrl.href,
      minThreads: 1, // one started up front, so the first heavy query does not wait for a worker to boot
      maxThreads: threads,
      idleTimeout: IDLE_TIMEOUT_MS,
      // Workers run compiled JS: none of the parent's loaders (a TypeScript loader under tap) is wanted.
      execArgv: [],
    });
  }

  /**
   * As `downsample`, inline or in a worker by the samples in the window.
   * Rejects with RangeError or CursorError as `downsample` throws; resolves undefined for an unknown GPU.
   */
  async downsample(registry: Registry, uuid: string, q: DownsampleQuery): Promise<DownsamplePage | undefined> {
    if (this.closed) throw new Error('the query pool is closed');
    const plan = planDownsample(q);
    const gpu = registry.gpus.get(uuid);
    if (gpu === undefined) return undefined;
    if (samplesInWindow(gpu.series, plan) < this.inlineBelowSamples) {
      this.answered.inline++;
      return downsampleSeries(gpu.series, plan);
    }
    this.answered.pooled++;
    return unpackPage(await this.pool.run(snapshotTask(gpu.series, plan)));
  }

  /** Stops the workers; a query after this rejects. */
  async close(): Promise<void> {
    this.closed = true;
    await this.pool.destroy();
  }
}
