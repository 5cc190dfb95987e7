/**
 * The pipeline's own metrics, `/metrics`: prom-client on a Registry of its
 * own (never the global one), with the process metrics of
 * `collectDefaultMetrics` beside the pipeline's.
 *
 * Contract: main (API) thread only. Nothing is copied into prom-client as the
 * pipeline runs: each metric's `collect()` reads its source at scrape time,
 * the shared-memory Counters blocks (up to one batch behind each writer),
 * the ring's stats, the registry's shape. Only the HTTP metrics are pushed,
 * by `observeRequest`, which the server calls once per request.
 *
 * Counters kept in shared memory are prom-client Counters whose `collect()`
 * resets them and adds the current total, so they render as `counter` with
 * the exact value and never drift. The ingest latency histogram is kept in
 * shared memory too (Counters.latency(): cumulative buckets, sum, count) and
 * rendered as a real Prometheus histogram by {@link SnapshotHistogram}.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry as PromRegistry } from 'prom-client';
import type { RingStats } from 'native-free-ring';
import { Counter as PipelineCounter, LATENCY_BUCKETS_S, type Counters, type LatencyHistogram } from '../engine/counters.js';
import type { Registry, SeriesView } from '../storage/registry.js';

export interface MetricsSource {
  counters: Counters;
  registry: Registry;
  /** undefined where this process runs no ring: the ring metrics then have no sample. */
  ringStats(): RingStats | undefined;
  workers(): { streamers: number; collectors: number };
}

/**
 * Upper bounds of the HTTP request duration buckets, seconds: the API answers
 * from memory, mostly well under a millisecond, so the buckets start at
 * 100 µs; 5 s covers a page of a slow range read.
 */
export const HTTP_DURATION_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

type Labels = Record<string, string>;
interface HistogramValue {
  labels: Labels;
  value: number;
  metricName: string;
}

/**
 * A histogram whose buckets, sum and count are read, already cumulative, from
 * `read()` at scrape time instead of observed one by one.
 */
class SnapshotHistogram extends Histogram<'le'> {
  constructor(
    private readonly histName: string,
    private readonly histHelp: string,
    registry: PromRegistry,
    private readonly read: () => LatencyHistogram,
  ) {
    super({ name: histName, help: histHelp, buckets: [...LATENCY_BUCKETS_S], registers: [registry] });
  }

  /** What the Registry renders (and `get()` builds on): `_bucket{le}` lines (`+Inf` last), `_sum`, `_count`. */
  getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; values: HistogramValue[]; aggregator: 'sum' }> {
    const h = this.read();
    const name = this.histName;
    const help = this.histHelp;
    const values: HistogramValue[] = [];
    for (let b = 0; b < h.bucketsS.length; b++) {
      const bound = h.bucketsS[b]!;
      values.push({ labels: { le: bound === Infinity ? '+Inf' : String(bound) }, value: h.cumulative[b]!, metricName: `${name}_bucket` });
    }
    values.push({ labels: {}, value: h.sumS, metricName: `${name}_sum` });
    values.push({ labels: {}, value: h.count, metricName: `${name}_count` });
    return Promise.resolve({ name, help, type: 'histogram', values, aggregator: 'sum' });
  }
}

export interface StoreSize {
  gpus: number;
  /** (GPU, metric) pairs. */
  series: number;
  /** Samples held now, all series. */
  samples: number;
}

/**
 * The store's size, without walking every chunk: a scrape must not cost
 * O(chunks) (36,000 samples per series is 71 chunks, and the real export has
 * 2,470 series). Within one shard's view of a series every chunk but the
 * newest is full (the writer takes a new chunk only when the head is full),
 * and retention drops chunks oldest first, so a view holds
 * (live chunks − 1) × capacity + the newest chunk's count. Chunks dropped
 * before the registry heard of it are a prefix, skipped by their epoch.
 */
export function storeSize(registry: Registry): StoreSize {
  let series = 0;
  let samples = 0;
  for (const gpu of registry.gpus.values()) {
    series += gpu.series.size;
    for (const views of gpu.series.values()) {
      for (const view of views) samples += heldSamples(view);
    }
  }
  return { gpus: registry.gpus.size, series, samples };
}

/** As `view.count`, in O(1) chunk reads (plus any chunks dropped and not yet reported). */
export function heldSamples(view: SeriesView): number {
  return view.count;
}

export class PipelineMetrics {
  readonly contentType: string;
  private readonly registry = new PromRegistry();
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly durations: Histogram<'route' | 'method'>;
  /** What render() read for this scrape. */
  private readonly snap: { ring: RingStats | undefined; size: StoreSize } = { ring: undefined, size: { gpus: 0, series: 0, samples: 0 } };

  constructor(private readonly source: MetricsSource) {
    const register = this.registry;
    this.contentType = register.contentType;
    collectDefaultMetrics({ register });
    const { counters, registry } = source;

    const total = (name: string, help: string, counter: number): void => {
      new Counter({
        name,
        help,
        registers: [register],
        collect() {
          this.reset();
          this.inc(counters.total(counter));
        },
      });
    };
    total('gpu_telemetry_rows_read_total', 'CSV data records read by the streamers (accepted ones once handed to the ring).', PipelineCounter.RowsRead);
    new Counter({
      name: 'gpu_telemetry_rows_rejected_total',
      help: 'Records rejected, by reason: CSV parse reasons from the streamers; out_of_order and invalid from the collectors.',
      labelNames: ['reason'],
      registers: [register],
      collect() {
        this.reset();
        const rejected = counters.rejected();
        for (const reason in rejected) this.inc({ reason }, rejected[reason as keyof typeof rejected]);
      },
    });
    total('gpu_telemetry_samples_stored_total', 'Samples stored by the collectors.', PipelineCounter.SamplesStored);
    total('gpu_telemetry_samples_duplicate_total', 'Samples not stored because their (uuid, metric, timestamp) was already held.', PipelineCounter.Duplicates);
    total('gpu_telemetry_samples_evicted_total', 'Stored samples dropped by retention.', PipelineCounter.Evicted);
    total('gpu_telemetry_passes_total', 'Completed passes over the CSV file.', PipelineCounter.Passes);

    const snap = this.snap;
    const ringGauge = (name: string, help: string, read: (s: RingStats) => number): void => {
      new Gauge({
        name,
        help,
        registers: [register],
        collect() {
          if (snap.ring === undefined) this.remove();
          else this.set(read(snap.ring));
        },
      });
    };
    ringGauge('gpu_telemetry_ring_depth_bytes', 'Bytes of messages waiting in the ring now.', (s) => s.depthBytes);
    ringGauge('gpu_telemetry_ring_depth_messages', 'Messages waiting in the ring now (may lag by a batch).', (s) => s.depthMessages);
    ringGauge('gpu_telemetry_ring_capacity_bytes', 'Bytes all lanes of the ring can hold together.', (s) => s.capacityBytes);
    ringGauge('gpu_telemetry_ring_high_water_mark_bytes', 'Fullest any single ring lane has been seen, bytes (sampled: a brief peak can be missed).', (s) => s.highWaterMarkBytes);
    new Counter({
      name: 'gpu_telemetry_ring_producer_blocked_seconds_total',
      help: 'Time streamers spent waiting on a full ring.',
      registers: [register],
      collect() {
        if (snap.ring === undefined) {
          this.remove();
          return;
        }
        this.reset();
        this.inc(snap.ring.producerBlockedMs / 1000);
      },
    });

    new SnapshotHistogram(
      'gpu_telemetry_ingest_latency_seconds',
      'Time from a row being read to its sample being queryable, observed per stored batch.',
      register,
      () => counters.latency(),
    );

    const storeGauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers: [register],
        collect() {
          this.set(read());
        },
      });
    };
    storeGauge('gpu_telemetry_store_series', 'Series held: (GPU, metric) pairs.', () => snap.size.series);
    storeGauge('gpu_telemetry_store_samples', 'Samples held by the store now.', () => snap.size.samples);
    storeGauge('gpu_telemetry_store_bytes', 'Bytes of chunk memory, used and free, of every shard.', () => registry.chunkBytes);
    storeGauge('gpu_telemetry_store_gpus', 'GPUs known to the store.', () => snap.size.gpus);
    new Gauge({
      name: 'gpu_telemetry_workers',
      help: 'Worker threads running, by role.',
      labelNames: ['role'],
      registers: [register],
      collect() {
        const w = source.workers();
        this.set({ role: 'streamer' }, w.streamers);
        this.set({ role: 'collector' }, w.collectors);
      },
    });

    this.requests = new Counter({
      name: 'gpu_telemetry_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers: [register],
    });
    this.durations = new Histogram({
      name: 'gpu_telemetry_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route pattern and method.',
      labelNames: ['route', 'method'],
      buckets: [...HTTP_DURATION_BUCKETS_S],
      registers: [register],
    });
  }

  /** Called by the server for every request: route is the route pattern ("/api/v1/gpus/:id/telemetry"), never the raw URL. */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.durations.observe({ route, method }, seconds);
  }

  /** The /metrics body (Prometheus text format 0.0.4). */
  render(): Promise<string> {
    // Read once per scrape what several metrics share; their collect() callbacks read it from here.
    this.snap.ring = this.source.ringStats();
    this.snap.size = storeSize(this.source.registry);
    return this.registry.metrics();
  }
}
