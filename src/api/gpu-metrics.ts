/**
 * `/metrics/gpus`: the newest value of every GPU series in Prometheus text
 * format 0.0.4, under the DCGM exporter's own metric names and labels, so a
 * Prometheus set up for dcgm-exporter scrapes it as it is:
 *
 *   DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-…",device="nvidia0",modelName="…",Hostname="…"} 87
 *
 * `container`, `namespace` and `pod` follow, each only when set. Each metric
 * name gets `# HELP` and `# TYPE` (the exporter's help text and type for the
 * fields it knows; `gauge` otherwise). A metric name that is not a valid
 * Prometheus name is left out: one bad line would fail the whole scrape.
 *
 * No timestamps, as dcgm-exporter writes none: the sample is stamped with
 * the scrape time. An explicit timestamp would carry the stored one instead,
 * and Prometheus rejects samples outside its head block (older than about an
 * hour, or more than a few minutes ahead of its clock): with
 * TIMESTAMP_MODE=source the real export's 2025 timestamps would all be
 * dropped. Explicit timestamps also turn off Prometheus' staleness marking.
 * In processed mode the stored time is within the ingest latency of now.
 *
 * Contract: main (API) thread only. Chunks are read in place with no lock: a
 * value is used only if its chunk is still in the life it was announced in
 * after the read (chunk.ts), so a chunk dropped and reused by another series
 * is never read as this one. The label text of a series is built once per
 * (GPU identity, metric) and rebuilt when the identity changes; the index of
 * series is updated only when the registry gains GPUs or series.
 */
import type { GpuIdentity } from '../ingest/dcgm-row.js';
import type { GpuEntry, Registry, SeriesView } from '../storage/registry.js';

export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The DCGM exporter's type and help text per field, from its
 * etc/default-counters.csv and etc/dcp-metrics-included.csv.
 */
const DCGM_FIELDS: Readonly<Record<string, readonly ['gauge' | 'counter', string]>> = {
  DCGM_FI_DEV_SM_CLOCK: ['gauge', 'SM clock frequency (in MHz).'],
  DCGM_FI_DEV_MEM_CLOCK: ['gauge', 'Memory clock frequency (in MHz).'],
  DCGM_FI_DEV_MEMORY_TEMP: ['gauge', 'Memory temperature (in C).'],
  DCGM_FI_DEV_GPU_TEMP: ['gauge', 'GPU temperature (in C).'],
  DCGM_FI_DEV_POWER_USAGE: ['gauge', 'Power draw (in W).'],
  DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION: ['counter', 'Total energy consumption since boot (in mJ).'],
  DCGM_FI_DEV_PCIE_TX_THROUGHPUT: ['counter', 'Total number of bytes transmitted through PCIe TX (in KB) via NVML.'],
  DCGM_FI_DEV_PCIE_RX_THROUGHPUT: ['counter', 'Total number of bytes received through PCIe RX (in KB) via NVML.'],
  DCGM_FI_DEV_PCIE_REPLAY_COUNTER: ['counter', 'Total number of PCIe retries.'],
  DCGM_FI_DEV_GPU_UTIL: ['gauge', 'GPU utilization (in %).'],
  DCGM_FI_DEV_MEM_COPY_UTIL: ['gauge', 'Memory utilization (in %).'],
  DCGM_FI_DEV_ENC_UTIL: ['gauge', 'Encoder utilization (in %).'],
  DCGM_FI_DEV_DEC_UTIL: ['gauge', 'Decoder utilization (in %).'],
  DCGM_FI_DEV_XID_ERRORS: ['gauge', 'Value of the last XID error encountered.'],
  DCGM_FI_DEV_POWER_VIOLATION: ['counter', 'Throttling duration due to power constraints (in us).'],
  DCGM_FI_DEV_THERMAL_VIOLATION: ['counter', 'Throttling duration due to thermal constraints (in us).'],
  DCGM_FI_DEV_SYNC_BOOST_VIOLATION: ['counter', 'Throttling duration due to sync-boost constraints (in us).'],
  DCGM_FI_DEV_BOARD_LIMIT_VIOLATION: ['counter', 'Throttling duration due to board limit constraints (in us).'],
  DCGM_FI_DEV_LOW_UTIL_VIOLATION: ['counter', 'Throttling duration due to low utilization (in us).'],
  DCGM_FI_DEV_RELIABILITY_VIOLATION: ['counter', 'Throttling duration due to reliability constraints (in us).'],
  DCGM_FI_DEV_FB_FREE: ['gauge', 'Framebuffer memory free (in MiB).'],
  DCGM_FI_DEV_FB_USED: ['gauge', 'Framebuffer memory used (in MiB).'],
  DCGM_FI_DEV_FB_RESERVED: ['gauge', 'Framebuffer memory reserved (in MiB).'],
  DCGM_FI_DEV_ECC_SBE_VOL_TOTAL: ['counter', 'Total number of single-bit volatile ECC errors.'],
  DCGM_FI_DEV_ECC_DBE_VOL_TOTAL: ['counter', 'Total number of double-bit volatile ECC errors.'],
  DCGM_FI_DEV_ECC_SBE_AGG_TOTAL: ['counter', 'Total number of single-bit persistent ECC errors.'],
  DCGM_FI_DEV_ECC_DBE_AGG_TOTAL: ['counter', 'Total number of double-bit persistent ECC errors.'],
  DCGM_FI_DEV_RETIRED_SBE: ['counter', 'Total number of retired pages due to single-bit errors.'],
  DCGM_FI_DEV_RETIRED_DBE: ['counter', 'Total number of retired pages due to double-bit errors.'],
  DCGM_FI_DEV_RETIRED_PENDING: ['counter', 'Total number of pages pending retirement.'],
  DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL: ['counter', 'Total number of NVLink flow-control CRC errors.'],
  DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL: ['counter', 'Total number of NVLink data CRC errors.'],
  DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL: ['counter', 'Total number of NVLink retries.'],
  DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL: ['counter', 'Total number of NVLink recovery errors.'],
  DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL: ['counter', 'Total number of NVLink bandwidth counters for all lanes.'],
  DCGM_FI_DEV_VGPU_LICENSE_STATUS: ['gauge', 'vGPU License status'],
  DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS: ['counter', 'Number of remapped rows for uncorrectable errors'],
  DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS: ['counter', 'Number of remapped rows for correctable errors'],
  DCGM_FI_DEV_ROW_REMAP_FAILURE: ['gauge', 'Whether remapping of rows has failed'],
  DCGM_FI_PROF_GR_ENGINE_ACTIVE: ['gauge', 'Ratio of time the graphics engine is active.'],
  DCGM_FI_PROF_SM_ACTIVE: ['gauge', 'The ratio of cycles an SM has at least 1 warp assigned.'],
  DCGM_FI_PROF_SM_OCCUPANCY: ['gauge', 'The ratio of number of warps resident on an SM.'],
  DCGM_FI_PROF_PIPE_TENSOR_ACTIVE: ['gauge', 'Ratio of cycles the tensor (HMMA) pipe is active.'],
  DCGM_FI_PROF_DRAM_ACTIVE: ['gauge', 'Ratio of cycles the device memory interface is active sending or receiving data.'],
  DCGM_FI_PROF_PIPE_FP64_ACTIVE: ['gauge', 'Ratio of cycles the fp64 pipes are active.'],
  DCGM_FI_PROF_PIPE_FP32_ACTIVE: ['gauge', 'Ratio of cycles the fp32 pipes are active.'],
  DCGM_FI_PROF_PIPE_FP16_ACTIVE: ['gauge', 'Ratio of cycles the fp16 pipes are active.'],
  DCGM_FI_PROF_PCIE_TX_BYTES: ['gauge', 'The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.'],
  DCGM_FI_PROF_PCIE_RX_BYTES: ['gauge', 'The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.'],
};

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A label value as the exposition format wants it: `\`, `"` and newline escaped. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/** A sample value: Go's ParseFloat reads JS number text; the non-finite ones have their own spelling. */
export function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  return value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
}

/** `name{labels} ` for one (GPU identity, metric), in dcgm-exporter's label order. */
export function seriesPrefix(metric: string, id: GpuIdentity): string {
  let text = `${metric}{gpu="${escapeLabelValue(id.gpuId)}",UUID="${escapeLabelValue(id.uuid)}",device="${escapeLabelValue(id.device)}",modelName="${escapeLabelValue(id.modelName)}",Hostname="${escapeLabelValue(id.hostname)}"`;
  if (id.container !== '') text += `,container="${escapeLabelValue(id.container)}"`;
  if (id.namespace !== '') text += `,namespace="${escapeLabelValue(id.namespace)}"`;
  if (id.pod !== '') text += `,pod="${escapeLabelValue(id.pod)}"`;
  return `${text}} `;
}

function sameIdentity(a: GpuIdentity, b: GpuIdentity): boolean {
  return (
    a.uuid === b.uuid &&
    a.gpuId === b.gpuId &&
    a.device === b.device &&
    a.modelName === b.modelName &&
    a.hostname === b.hostname &&
    a.container === b.container &&
    a.pod === b.pod &&
    a.namespace === b.namespace
  );
}

interface CachedSeries {
  gpu: GpuEntry;
  family: Family;
  /** The registry's array for (GPU, metric): a shard that later holds the series adds to it. */
  views: SeriesView[];
  /** `name{labels} `, built from the GPU's identity. */
  prefix: string;
}

interface Family {
  metric: string;
  header: string;
  series: CachedSeries[];
  sorted: boolean;
}

interface IndexedGpu {
  /** The identity the labels of `series` were built from. */
  identity: GpuIdentity;
  series: CachedSeries[];
  /** How many of the GPU's metrics have been looked at. */
  metrics: number;
}

// The newest sample found by newestOf (module scratch: no allocation per series).
let foundTsMs = 0;
let foundValue = 0;

/** Sets foundValue (and foundTsMs) to the newest live sample of the views; false if none. */
function newestOf(views: SeriesView[]): boolean {
  let found = false;
  // One view (the usual case): nothing to compare, so the timestamp column is not read (one page less per series).
  const compare = views.length > 1;
  for (let v = 0; v < views.length; v++) {
    const refs = views[v]!.chunks;
    for (let c = refs.length - 1; c >= 0; c--) {
      const ref = refs[c]!;
      const n = ref.count;
      if (n > 0) {
        const chunk = ref.chunk;
        const tsMs = compare ? chunk.tsMs[n - 1]! : 0;
        const value = chunk.value[n - 1]!;
        // Dropped while read: so are this view's older chunks. The same sample in two shards ties: either will do.
        if (ref.live && (!found || tsMs > foundTsMs)) {
          found = true;
          foundTsMs = tsMs;
          foundValue = value;
        }
        break;
      }
      // An empty chunk: just announced (look further back), or dropped (so are the older ones).
      if (!ref.live) break;
    }
  }
  return found;
}

function bySeriesOrder(a: CachedSeries, b: CachedSeries): number {
  const x = a.gpu.identity;
  const y = b.gpu.identity;
  return cmp(x.hostname, y.hostname) || Number(x.gpuId) - Number(y.gpuId) || cmp(x.gpuId, y.gpuId) || cmp(x.uuid, y.uuid);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class GpuMetricsRenderer {
  readonly contentType = PROMETHEUS_TEXT;
  private readonly families = new Map<string, Family>();
  /** Families by metric name. */
  private ordered: Family[] = [];
  private readonly indexed = new Map<GpuEntry, IndexedGpu>();

  constructor(private readonly registry: Registry) {}

  /** Every series' newest value, one family per metric name. */
  render(): string {
    this.index();
    let out = '';
    for (const family of this.ordered) {
      if (!family.sorted) {
        family.series.sort(bySeriesOrder);
        family.sorted = true;
      }
      let body = '';
      const series = family.series;
      for (let i = 0; i < series.length; i++) {
        const s = series[i]!;
        if (newestOf(s.views)) body += `${s.prefix}${formatValue(foundValue)}\n`;
      }
      if (body !== '') out += family.header + body;
    }
    return out;
  }

  /**
   * Brings the index up to date with the registry: relabels the series of a
   * GPU whose identity changed, and adds the series the registry gained.
   * O(GPUs) when neither happened.
   */
  private index(): void {
    for (const gpu of this.registry.gpus.values()) {
      let g = this.indexed.get(gpu);
      if (g === undefined) {
        g = { identity: gpu.identity, series: [], metrics: 0 };
        this.indexed.set(gpu, g);
      }
      if (gpu.identity !== g.identity) {
        // Each collector message brings its own copy of an identity: rebuild only if it differs.
        if (!sameIdentity(gpu.identity, g.identity)) {
          for (const s of g.series) {
            s.prefix = seriesPrefix(s.family.metric, gpu.identity);
            s.family.sorted = false; // the hostname or gpu may have changed
          }
        }
        g.identity = gpu.identity;
      }
      if (g.metrics === gpu.series.size) continue;
      let k = 0;
      for (const [metric, views] of gpu.series) {
        // Maps iterate in insertion order and the registry never deletes, so the first `g.metrics` were seen.
        if (k++ < g.metrics || !METRIC_NAME.test(metric)) continue;
        let family = this.families.get(metric);
        if (family === undefined) {
          const [type, help] = DCGM_FIELDS[metric] ?? ['gauge', `DCGM field ${metric}.`];
          family = { metric, header: `# HELP ${metric} ${help}\n# TYPE ${metric} ${type}\n`, series: [], sorted: true };
          this.families.set(metric, family);
          this.ordered.push(family);
          this.ordered.sort((a, b) => cmp(a.metric, b.metric));
        }
        const s: CachedSeries = { gpu, family, views, prefix: seriesPrefix(metric, gpu.identity) };
        family.series.push(s);
        family.sorted = false;
        g.series.push(s);
      }
      g.metrics = gpu.series.size;
    }
  }
}
