/**
 * perf: rendering the two Prometheus endpoints. Fills a store with the real
 * export's shape (every (GPU, metric) series of the file, `--samples` each:
 * 247 GPUs × 10 metrics = 2,470 series for the real export) and times, over
 * `--renders` renders after a warm-up:
 *
 *   gpus       GpuMetricsRenderer.render(): /metrics/gpus, every series' newest value
 *   pipeline   PipelineMetrics.render(): /metrics, counters, ring, store size, process metrics
 *   baseline   prom-client rendering the same series as labelled Gauges, values already set
 *   baseline+collect   the same, with a collect() that sets every value from the store per scrape
 *                      (what a prom-client /metrics/gpus would have to do)
 *
 * and the store-size pass of /metrics (storeSize) against summing every
 * chunk's count (SeriesView.count), which is what it replaces.
 *
 *   npm run perf -- metrics [--json] [--renders 200] [--samples 4] [--file path]
 *
 * Input: the real export (../shared/data, relative to the repository root)
 * when it exists, else data/sample.csv. Run from the repository root.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Gauge, Registry as PromRegistry } from 'prom-client';
import { GpuMetricsRenderer } from '../src/api/gpu-metrics.js';
import { PipelineMetrics, storeSize } from '../src/api/metrics.js';
import { Counter, Counters, observeLatency } from '../src/engine/counters.js';
import { parseFile } from '../src/ingest/csv-source.js';
import { createDictionaries } from '../src/ingest/dictionary.js';
import type { GpuIdentity } from '../src/ingest/dcgm-row.js';
import { latest } from '../src/query/latest.js';
import { Registry } from '../src/storage/registry.js';
import { ShardWriter } from '../src/storage/shard-writer.js';

const REAL_EXPORT = '../shared/data/dcgm_metrics_20250718_134233.csv';
const SAMPLE = 'data/sample.csv';
/** Renders before timing: lets V8 optimize the render paths. */
const WARM_UP_RENDERS = 30;

const USAGE = `usage: npm run perf -- metrics [flags]

  --renders 200      timed renders per renderer
  --samples 4        samples per series (36000 = the default retention: 71 chunks per series)
  --file path        the CSV whose series to hold (default: the real export if present, else data/sample.csv)
  --json             one JSON object per line
`;

interface Timing {
  median_ms: number;
  p99_ms: number;
  bytes: number;
}

interface Row {
  gpu: GpuIdentity;
  metric: string;
  tsMs: number;
  value: number;
}

async function fill(file: string, samples: number): Promise<{ registry: Registry; series: number; gpus: number }> {
  const dictionaries = createDictionaries();
  const rows: Row[] = [];
  await parseFile(file, { source: file, dictionaries }, (batch) => {
    for (let i = 0; i < batch.length; i++) {
      rows.push({
        gpu: dictionaries.gpus.values[batch.gpu[i]!]!,
        metric: dictionaries.metrics.values[batch.metric[i]!]!,
        tsMs: batch.tsMs[i]!,
        value: batch.value[i]!,
      });
    }
  });
  // A file may hold several scrapes of a series: keep its newest row as the series' last sample.
  const newest = new Map<string, Row>();
  for (const r of rows) {
    const key = `${r.gpu.uuid}\u0000${r.metric}`;
    const held = newest.get(key);
    if (held === undefined || r.tsMs >= held.tsMs) newest.set(key, r);
  }
  const registry = new Registry();
  const writer = new ShardWriter(0, { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: Number.MAX_SAFE_INTEGER }, (e) => registry.apply(e));
  // Scrape by scrape across every series, as collectors write: chunks of different series interleave in memory.
  const all = [...newest.values()].map((r) => ({ r, series: writer.seriesOf(r.gpu, r.metric) }));
  for (let k = samples - 1; k >= 0; k--) {
    for (const { r, series } of all) writer.appendTo(series, r.tsMs - k * 1000, k === 0 ? r.value : r.value + k);
  }
  return { registry, series: newest.size, gpus: registry.gpus.size };
}

async function time(renders: number, render: () => string | Promise<string>): Promise<Timing> {
  let bytes = 0;
  for (let i = 0; i < WARM_UP_RENDERS; i++) bytes = (await render()).length;
  const ms: number[] = [];
  for (let i = 0; i < renders; i++) {
    const t0 = performance.now();
    const text = await render();
    ms.push(performance.now() - t0);
    if (text.length !== bytes) bytes = Math.max(bytes, text.length); // consumed, so not optimized away
  }
  ms.sort((a, b) => a - b);
  const median = ms.length % 2 === 1 ? ms[ms.length >> 1]! : (ms[(ms.length >> 1) - 1]! + ms[ms.length >> 1]!) / 2;
  const p99 = ms[Math.min(ms.length - 1, Math.ceil(0.99 * ms.length) - 1)]!;
  return { median_ms: round(median), p99_ms: round(p99), bytes };
}

function round(ms: number): number {
  return Number(ms.toFixed(3));
}

const LABELS = ['gpu', 'UUID', 'device', 'modelName', 'Hostname', 'container', 'namespace', 'pod'] as const;

/** prom-client with one Gauge per metric name, every series' newest value set beforehand (or per scrape, by collect). */
function promClientBaseline(registry: Registry, perScrape: boolean): PromRegistry {
  const register = new PromRegistry();
  const gauges = new Map<string, Gauge<(typeof LABELS)[number]>>();
  const setAll = (): void => {
    for (const [uuid, gpu] of registry.gpus) {
      const id = gpu.identity;
      // The same labels as /metrics/gpus: container, namespace and pod only when set.
      const labels: Partial<Record<(typeof LABELS)[number], string>> = { gpu: id.gpuId, UUID: id.uuid, device: id.device, modelName: id.modelName, Hostname: id.hostname };
      if (id.container !== '') labels.container = id.container;
      if (id.namespace !== '') labels.namespace = id.namespace;
      if (id.pod !== '') labels.pod = id.pod;
      for (const s of latest(registry, uuid) ?? []) gauges.get(s.metric)!.set(labels, s.value);
    }
  };
  const metrics = new Set<string>();
  for (const gpu of registry.gpus.values()) for (const m of gpu.series.keys()) metrics.add(m);
  let first = true;
  for (const name of [...metrics].sort()) {
    gauges.set(
      name,
      new Gauge({
        name,
        help: `${name} (baseline)`,
        labelNames: LABELS,
        registers: [register],
        // One collect per scrape fills every gauge: the first registered does it.
        ...(perScrape && first ? { collect: setAll } : {}),
      }),
    );
    first = false;
  }
  if (!perScrape) setAll();
  return register;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      renders: { type: 'string', default: '200' },
      samples: { type: 'string', default: '4' },
      file: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const renders = Number(values.renders);
  const samples = Number(values.samples);
  if (!Number.isInteger(renders) || renders < 1) throw new RangeError(`--renders must be a whole number >= 1, got ${values.renders}`);
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`--samples must be a whole number >= 1, got ${values.samples}`);
  const file = values.file ?? (existsSync(REAL_EXPORT) ? REAL_EXPORT : SAMPLE);
  const { registry, series, gpus } = await fill(file, samples);

  const counters = new Counters();
  const block = counters.block(10);
  block[Counter.RowsRead] = series * samples;
  block[Counter.SamplesStored] = series * samples;
  observeLatency(block, 0.002, series);
  const pipeline = new PipelineMetrics({
    counters,
    registry,
    ringStats: () => undefined,
    workers: () => ({ streamers: 1, collectors: 1 }),
  });
  for (const route of ['/api/v1/gpus', '/api/v1/gpus/:id/telemetry', '/metrics', '/metrics/gpus']) pipeline.observeRequest(route, 'GET', 200, 0.0003);
  const gpuRenderer = new GpuMetricsRenderer(registry);
  const baseline = promClientBaseline(registry, false);
  const baselineCollect = promClientBaseline(registry, true);

  const results = {
    gpu_metrics: await time(renders, () => gpuRenderer.render()),
    pipeline_metrics: await time(renders, () => pipeline.render()),
    baseline: await time(renders, () => baseline.metrics()),
    baseline_collect: await time(renders, () => baselineCollect.metrics()),
    store_size: await time(renders, () => String(storeSize(registry).samples)),
    store_size_walk: await time(renders, () => {
      let n = 0;
      for (const gpu of registry.gpus.values()) for (const views of gpu.series.values()) for (const v of views) n += v.count;
      return String(n);
    }),
  };
  const check = storeSize(registry).samples;
  if (check !== series * samples) throw new Error(`BUG: storeSize says ${check} samples, the store holds ${series * samples}`);
  const ratio = (base: Timing): number => Number((base.median_ms / results.gpu_metrics.median_ms).toFixed(1));
  const machine = { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version };
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ scenario: 'metrics', file, gpus, series, samples_per_series: samples, renders, ...results, gpus_vs_baseline: ratio(results.baseline), gpus_vs_baseline_collect: ratio(results.baseline_collect), machine })}\n`,
    );
    return;
  }
  const line = (name: string, r: Timing): string => `${name.padEnd(18)} median ${r.median_ms.toFixed(3)} ms  p99 ${r.p99_ms.toFixed(3)} ms  ${(r.bytes / 1024).toFixed(0)} KiB\n`;
  process.stdout.write(
    `${gpus} GPUs, ${series} series × ${samples} samples (${file}), ${renders} renders each\n` +
      line('/metrics/gpus', results.gpu_metrics) +
      line('/metrics', results.pipeline_metrics) +
      line('prom-client', results.baseline) +
      line('prom-client+collect', results.baseline_collect) +
      `/metrics/gpus is ${ratio(results.baseline)}x faster than prom-client with values preset, ${ratio(results.baseline_collect)}x with collect()\n` +
      `store size: ${results.store_size.median_ms.toFixed(3)} ms (p99 ${results.store_size.p99_ms.toFixed(3)}) against ${results.store_size_walk.median_ms.toFixed(3)} ms (p99 ${results.store_size_walk.p99_ms.toFixed(3)}) summing every chunk\n`,
  );
}
