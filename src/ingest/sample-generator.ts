/**
 * Synthetic DCGM exporter CSV in the real export's exact format: header row
 * unquoted, every data field double-quoted, labels_raw as the exporter writes
 * it (`key=""value""` pairs, sorted by key), LF line endings. Hosts and UUIDs
 * are fictional; values are plausible for H100 80GB GPUs. Deterministic: the
 * same options give the same bytes (a seeded mulberry32 stream drives every
 * choice).
 *
 * `data/generate-sample.ts` writes `data/sample.csv` with the defaults; tests
 * generate smaller inputs in memory.
 */

/** Options of {@link generateDcgmSample}. */
export interface SampleOptions {
  hosts?: number;
  gpusPerHost?: number;
  /** Scrape timestamps; each scrape has every metric of every GPU. */
  scrapes?: number;
  /** Time between scrapes. */
  intervalMs?: number;
  /** First scrape, ms since the epoch; whole seconds print as the exporter does (no fraction). */
  startMs?: number;
  seed?: number;
}

/** Defaults of {@link SampleOptions}. */
export const SAMPLE_DEFAULTS = Object.freeze({
  hosts: 4,
  gpusPerHost: 8,
  // 3 scrapes x 320 series = 960 rows, about 440 KB; 5 scrapes would be about 730 KB,
  // over the 500 KB meant for a committed sample.
  scrapes: 3,
  intervalMs: 1000,
  startMs: Date.UTC(2025, 2, 14, 9, 26, 53),
  seed: 0x5eed_dc61,
});

/** The DCGM header, as the exporter writes it. */
export const DCGM_HEADER =
  'timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw';

/** The ten metrics of the real export, in its order. */
export const DCGM_METRICS = [
  'DCGM_FI_DEV_GPU_UTIL', // %
  'DCGM_FI_DEV_MEM_COPY_UTIL', // %
  'DCGM_FI_DEV_POWER_USAGE', // W
  'DCGM_FI_DEV_GPU_TEMP', // C
  'DCGM_FI_DEV_FB_USED', // MiB
  'DCGM_FI_DEV_FB_FREE', // MiB
  'DCGM_FI_DEV_DEC_UTIL', // %
  'DCGM_FI_DEV_ENC_UTIL', // %
  'DCGM_FI_DEV_SM_CLOCK', // MHz
  'DCGM_FI_DEV_MEM_CLOCK', // MHz
] as const;

const MODEL_NAME = 'NVIDIA H100 80GB HBM3';
const DRIVER_VERSION = '535.129.03';
const EXPORTER_JOB = 'dgx_dcgm_exporter';
const EXPORTER_PORT = 9400;
/**
 * FB_USED + FB_FREE of an H100 80GB in the real export: 81,007 MiB, that is
 * the 81,559 MiB of the card less 552 MiB that DCGM reports as FB_RESERVED.
 */
const FB_USABLE_MIB = 81_007;
const SM_CLOCK_IDLE_MHZ = 345;
const SM_CLOCK_BOOST_MHZ = 1980;
const MEM_CLOCK_MHZ = 2619;

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): a deterministic stream of
 * unsigned 32-bit integers from one seed. Also the tests' seeded PRNG.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    let z = (state = (state + 0x6d2b79f5) | 0);
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  };
}

class Mulberry32 {
  private readonly u32: () => number;
  constructor(seed: number) {
    this.u32 = mulberry32(seed);
  }
  next(): number {
    return this.u32() / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  hex(digits: number): string {
    let s = '';
    for (let i = 0; i < digits; i++) s += this.int(0, 15).toString(16);
    return s;
  }
}

interface Gpu {
  host: string;
  index: number;
  uuid: string;
  container: string;
  pod: string;
  namespace: string;
  busy: boolean;
  load: number;
  fbUsedMiB: number;
}

/** Kubernetes workloads that some GPUs run (the rest run outside Kubernetes: empty columns). */
const WORKLOADS = [
  { namespace: 'ml-training', deployment: 'llm-pretrain', container: 'trainer' },
  { namespace: 'inference', deployment: 'triton-server', container: 'triton' },
] as const;

function positiveInt(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`sample ${name} must be an integer from 1 to ${max}, got ${v}`);
  return v;
}

function fleet(rng: Mulberry32, hosts: number, gpusPerHost: number): Gpu[] {
  const hostNumbers = new Set<number>();
  while (hostNumbers.size < hosts) hostNumbers.add(rng.int(1, Math.max(40, hosts * 2)));
  const gpus: Gpu[] = [];
  [...hostNumbers].forEach((n, h) => {
    const host = `ams3-dgx1-hgpu-${String(n).padStart(3, '0')}`;
    // The second host runs a training pod on every GPU, the fourth an inference pod on half.
    const workload = h % 4 === 1 ? WORKLOADS[0] : h % 4 === 3 ? WORKLOADS[1] : undefined;
    const pod = workload === undefined ? '' : `${workload.deployment}-${rng.hex(9)}-${rng.hex(5)}`;
    for (let index = 0; index < gpusPerHost; index++) {
      const inPod = workload !== undefined && (workload === WORKLOADS[0] || index < gpusPerHost / 2);
      const busy = inPod || rng.next() < 0.45;
      gpus.push({
        host,
        index,
        uuid: `GPU-${rng.hex(8)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(12)}`,
        container: inPod ? workload!.container : '',
        pod: inPod ? pod : '',
        namespace: inPod ? workload!.namespace : '',
        busy,
        load: busy ? 0.55 + 0.45 * rng.next() : 0,
        fbUsedMiB: busy ? rng.int(18_000, 78_500) : 4,
      });
    }
  });
  // The exporter lists GPUs in no useful order; so does the sample.
  for (let i = gpus.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [gpus[i], gpus[j]] = [gpus[j]!, gpus[i]!];
  }
  return gpus;
}

/** One reading per metric for `gpu` at one scrape. */
function readings(rng: Mulberry32, gpu: Gpu): string[] {
  const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
  const jitter = (spread: number): number => (rng.next() * 2 - 1) * spread;
  const util = gpu.busy ? clamp(Math.round(gpu.load * 100 + jitter(4)), 0, 100) : 0;
  const copy = gpu.busy ? clamp(Math.round(gpu.load * 60 + jitter(8)), 0, 100) : 0;
  const watts = gpu.busy ? 240 + gpu.load * 430 + jitter(25) : 70 + rng.next() * 55;
  const temp = gpu.busy ? Math.round(44 + gpu.load * 28 + jitter(2)) : rng.int(25, 33);
  const used = gpu.busy ? clamp(gpu.fbUsedMiB + rng.int(-256, 256), 1, FB_USABLE_MIB) : gpu.fbUsedMiB;
  const sm = gpu.busy ? (rng.next() < 0.1 ? SM_CLOCK_BOOST_MHZ - 15 * rng.int(1, 3) : SM_CLOCK_BOOST_MHZ) : SM_CLOCK_IDLE_MHZ;
  return [
    String(util),
    String(copy),
    String(Number(watts.toFixed(3))), // the exporter prints up to 3 decimals: 156.596, 117.77
    String(temp),
    String(used),
    String(FB_USABLE_MIB - used),
    '0', // no video decode or encode on these training/inference nodes, as in the real export
    '0',
    String(sm),
    String(MEM_CLOCK_MHZ),
  ];
}

const quoted = (s: string): string => `"${s.replaceAll('"', '""')}"`;

/** labels_raw: the Prometheus labels of the series, sorted by key, as the exporter writes them. */
function labelsRaw(gpu: Gpu, metric: string): string {
  const labels: Array<[string, string]> = [
    ['DCGM_FI_DRIVER_VERSION', DRIVER_VERSION],
    ['Hostname', gpu.host],
    ['UUID', gpu.uuid],
    ['__name__', metric],
    ['container', gpu.container],
    ['device', `nvidia${gpu.index}`],
    ['gpu', String(gpu.index)],
    ['instance', `${gpu.host}:${EXPORTER_PORT}`],
    ['job', EXPORTER_JOB],
    ['modelName', MODEL_NAME],
    ['namespace', gpu.namespace],
    ['pod', gpu.pod],
  ];
  return labels
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
}

function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** The sample CSV text (header and rows, LF-terminated). */
export function generateDcgmSample(options: SampleOptions = {}): string {
  const o = { ...SAMPLE_DEFAULTS, ...options };
  positiveInt('hosts', o.hosts, 999);
  positiveInt('gpusPerHost', o.gpusPerHost, 64);
  positiveInt('scrapes', o.scrapes, 100_000);
  if (!Number.isInteger(o.intervalMs) || o.intervalMs < 1) throw new RangeError(`sample intervalMs must be a positive integer, got ${o.intervalMs}`);
  if (!Number.isFinite(new Date(o.startMs).getTime())) throw new RangeError(`sample startMs must be a valid time, got ${o.startMs}`);
  const rng = new Mulberry32(o.seed);
  const gpus = fleet(rng, o.hosts, o.gpusPerHost);
  const lines = [DCGM_HEADER];
  for (let s = 0; s < o.scrapes; s++) {
    const ts = formatTimestamp(o.startMs + s * o.intervalMs);
    const values = gpus.map((gpu) => readings(rng, gpu));
    DCGM_METRICS.forEach((metric, m) => {
      gpus.forEach((gpu, g) => {
        const fields = [
          ts,
          metric,
          String(gpu.index),
          `nvidia${gpu.index}`,
          gpu.uuid,
          MODEL_NAME,
          gpu.host,
          gpu.container,
          gpu.pod,
          gpu.namespace,
          values[g]![m]!,
          labelsRaw(gpu, metric),
        ];
        lines.push(fields.map(quoted).join(','));
      });
    });
  }
  return `${lines.join('\n')}\n`;
}
