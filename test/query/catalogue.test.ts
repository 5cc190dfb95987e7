/**
 * The DCGM field table and the catalogue of metrics held.
 */
import t from 'tap';
import type { GpuIdentity } from '../../src/ingest/dcgm-row.js';
import { DCGM_METRICS } from '../../src/ingest/sample-generator.js';
import { DCGM_FIELDS, metricCatalogue } from '../../src/query/catalogue.js';
import type { StoreEvent } from '../../src/storage/events.js';
import { Registry } from '../../src/storage/registry.js';
import { ShardWriter, type RetentionOptions } from '../../src/storage/shard-writer.js';

function gpu(uuid: string): GpuIdentity {
  return { uuid, gpuId: '0', device: 'nvidia0', modelName: 'NVIDIA H100 80GB HBM3', hostname: 'host-a', container: '', pod: '', namespace: '' };
}

const BIG: RetentionOptions = { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 1e9, chunkSamples: 4 };

t.test("the real export's ten metrics are known, with the units the exporter reports", async (t) => {
  const units: Record<(typeof DCGM_METRICS)[number], string> = {
    DCGM_FI_DEV_GPU_UTIL: '%',
    DCGM_FI_DEV_MEM_COPY_UTIL: '%',
    DCGM_FI_DEV_POWER_USAGE: 'W',
    DCGM_FI_DEV_GPU_TEMP: 'C',
    DCGM_FI_DEV_FB_USED: 'MiB',
    DCGM_FI_DEV_FB_FREE: 'MiB',
    DCGM_FI_DEV_DEC_UTIL: '%',
    DCGM_FI_DEV_ENC_UTIL: '%',
    DCGM_FI_DEV_SM_CLOCK: 'MHz',
    DCGM_FI_DEV_MEM_CLOCK: 'MHz',
  };
  t.equal(DCGM_METRICS.length, 10);
  for (const name of DCGM_METRICS) t.equal(DCGM_FIELDS[name]?.unit, units[name], name);
});

t.test("dcgm-exporter's default counters and the profiling ratios are known", async (t) => {
  const expected: Record<string, string> = {
    DCGM_FI_DEV_MEMORY_TEMP: 'C',
    DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION: 'mJ',
    DCGM_FI_DEV_PCIE_TX_THROUGHPUT: 'KB',
    DCGM_FI_DEV_PCIE_RX_THROUGHPUT: 'KB',
    DCGM_FI_DEV_PCIE_REPLAY_COUNTER: '',
    DCGM_FI_DEV_XID_ERRORS: '',
    DCGM_FI_DEV_POWER_VIOLATION: 'us',
    DCGM_FI_DEV_THERMAL_VIOLATION: 'us',
    DCGM_FI_DEV_ECC_SBE_VOL_TOTAL: '',
    DCGM_FI_DEV_ECC_DBE_VOL_TOTAL: '',
    DCGM_FI_DEV_RETIRED_SBE: '',
    DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL: '',
    DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL: '',
    DCGM_FI_DEV_VGPU_LICENSE_STATUS: '',
    DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS: '',
    DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS: '',
    DCGM_FI_DEV_ROW_REMAP_FAILURE: '',
    DCGM_FI_PROF_GR_ENGINE_ACTIVE: 'ratio',
    DCGM_FI_PROF_SM_ACTIVE: 'ratio',
    DCGM_FI_PROF_SM_OCCUPANCY: 'ratio',
    DCGM_FI_PROF_PIPE_TENSOR_ACTIVE: 'ratio',
    DCGM_FI_PROF_DRAM_ACTIVE: 'ratio',
    DCGM_FI_PROF_PCIE_TX_BYTES: 'B/s',
    DCGM_FI_PROF_NVLINK_RX_BYTES: 'B/s',
  };
  for (const [name, unit] of Object.entries(expected)) t.equal(DCGM_FIELDS[name]?.unit, unit, name);
});

t.test('every field has a one-line description, and the table cannot be changed', async (t) => {
  const names = Object.keys(DCGM_FIELDS);
  t.ok(names.length >= 50, `${names.length} fields`);
  for (const name of names) {
    const { unit, description } = DCGM_FIELDS[name]!;
    t.match(name, /^DCGM_FI_(DEV|PROF)_[A-Z0-9_]+$/, name);
    t.ok(description.length > 5 && !description.includes('\n'), `${name}: "${description}"`);
    t.type(unit, 'string');
  }
  t.ok(Object.isFrozen(DCGM_FIELDS) && Object.isFrozen(DCGM_FIELDS['DCGM_FI_DEV_GPU_UTIL']), 'frozen');
});

t.test('the catalogue lists every metric held, by name, with the GPUs holding it', async (t) => {
  const registry = new Registry();
  const a = new ShardWriter(0, BIG, (e) => registry.apply(e));
  const b = new ShardWriter(1, BIG, (e) => registry.apply(e));
  for (const uuid of ['GPU-1', 'GPU-2', 'GPU-3']) a.append(gpu(uuid), 'DCGM_FI_DEV_GPU_TEMP', 1, 40);
  a.append(gpu('GPU-1'), 'DCGM_FI_DEV_POWER_USAGE', 1, 300);
  b.append(gpu('GPU-1'), 'DCGM_FI_DEV_POWER_USAGE', 2, 301); // GPU-1 in two shards: still one GPU
  b.append(gpu('GPU-2'), 'my_custom_metric', 1, 1);
  t.strictSame(metricCatalogue(registry), [
    { name: 'DCGM_FI_DEV_GPU_TEMP', unit: 'C', description: DCGM_FIELDS['DCGM_FI_DEV_GPU_TEMP']!.description, gpus: 3 },
    { name: 'DCGM_FI_DEV_POWER_USAGE', unit: 'W', description: DCGM_FIELDS['DCGM_FI_DEV_POWER_USAGE']!.description, gpus: 1 },
    { name: 'my_custom_metric', unit: '', description: 'not a known DCGM field', gpus: 1 },
  ]);
  t.strictSame(metricCatalogue(new Registry()), [], 'an empty store');
});

t.test('names of Object.prototype members are unknown fields, not table entries', async (t) => {
  const registry = new Registry();
  const w = new ShardWriter(0, BIG, (e) => registry.apply(e));
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) w.append(gpu('GPU-1'), name, 1, 1);
  const got = metricCatalogue(registry);
  t.strictSame(
    got.map((m) => m.name),
    ['__proto__', 'constructor', 'hasOwnProperty', 'toString'],
  );
  for (const m of got) t.strictSame([m.unit, m.description], ['', 'not a known DCGM field'], m.name);
});

t.test('a metric with no sample held is left out, and a GPU holding none of it is not counted', async (t) => {
  const registry = new Registry();
  const pending: StoreEvent[] = [];
  let deliver = true;
  const w = new ShardWriter(0, { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 5, chunkSamples: 4 }, (e) => {
    if (deliver) registry.apply(e);
    else pending.push(e);
  });
  registry.apply({ t: 'series', shard: 9, series: 0, gpu: gpu('GPU-0'), metric: 'DCGM_FI_DEV_SM_CLOCK' }); // announced, never filled
  for (let ms = 0; ms < 8; ms++) w.append(gpu('GPU-1'), 'DCGM_FI_DEV_SM_CLOCK', ms, 1500); // chunks [0-3], [4-7]
  t.strictSame(
    metricCatalogue(registry).map((m) => [m.name, m.gpus]),
    [['DCGM_FI_DEV_SM_CLOCK', 1]],
  );
  deliver = false;
  // Both chunks the registry knows are dropped and reused by another series before it hears of it.
  for (let ms = 8; ms < 16; ms++) w.append(gpu('GPU-1'), 'DCGM_FI_DEV_SM_CLOCK', ms, 1500);
  for (let ms = 0; ms < 6; ms++) w.append(gpu('GPU-1'), 'DCGM_FI_DEV_MEM_CLOCK', ms, 1200);
  t.strictSame(metricCatalogue(registry), [], 'nothing the registry knows of is still held');
  for (const e of pending) registry.apply(e);
  t.strictSame(
    metricCatalogue(registry).map((m) => [m.name, m.gpus]),
    [
      ['DCGM_FI_DEV_MEM_CLOCK', 1],
      ['DCGM_FI_DEV_SM_CLOCK', 1],
    ],
  );
});
