/**
 * /metrics/gpus on a store fed straight from ShardWriters on this thread:
 * exact text, escaping, the newest sample across chunks and shards, label
 * caching across identity changes, and chunks dropped and reused under a
 * reader.
 */
import t from 'tap';
import { escapeLabelValue, formatValue, GpuMetricsRenderer, PROMETHEUS_TEXT } from '../../src/api/gpu-metrics.js';
import type { GpuIdentity } from '../../src/ingest/dcgm-row.js';
import { chunkBytes } from '../../src/storage/chunk.js';
import { SLAB_CHUNKS } from '../../src/storage/chunk-pool.js';
import type { StoreEvent } from '../../src/storage/events.js';
import { Registry } from '../../src/storage/registry.js';
import { ShardWriter, type RetentionOptions } from '../../src/storage/shard-writer.js';
import { parsePromText } from '../fixtures/prom-text.js';

function gpu(uuid: string, over: Partial<GpuIdentity> = {}): GpuIdentity {
  return { uuid, gpuId: '0', device: 'nvidia0', modelName: 'NVIDIA H100 80GB HBM3', hostname: 'host-a', container: '', pod: '', namespace: '', ...over };
}

const BIG: RetentionOptions = { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 1e9 };

function store(shard = 0, registry = new Registry(), options: Partial<RetentionOptions> = {}): { registry: Registry; writer: ShardWriter } {
  return { registry, writer: new ShardWriter(shard, { ...BIG, ...options }, (e) => registry.apply(e)) };
}

t.test('renders the newest value of every series under the DCGM names, one family per name, no timestamps', async (t) => {
  const { registry, writer } = store();
  const a0 = gpu('GPU-a0', { hostname: 'host-a', gpuId: '0', device: 'nvidia0' });
  const a1 = gpu('GPU-a1', { hostname: 'host-a', gpuId: '1', device: 'nvidia1' });
  const b10 = gpu('GPU-b10', { hostname: 'host-b', gpuId: '10', device: 'nvidia10', container: 'trainer', namespace: 'ml', pod: 'job-7' });
  const b2 = gpu('GPU-b2', { hostname: 'host-b', gpuId: '2', device: 'nvidia2', pod: 'only-pod' });
  // Written out of order: the output is ordered by metric, then hostname, gpu (numerically), uuid.
  writer.append(b10, 'DCGM_FI_DEV_GPU_UTIL', 1000, 50);
  writer.append(b10, 'DCGM_FI_DEV_GPU_UTIL', 2000, 51);
  writer.append(a1, 'DCGM_FI_DEV_GPU_UTIL', 1000, 0);
  writer.append(a0, 'DCGM_FI_DEV_GPU_UTIL', 1000, 87);
  writer.append(b2, 'DCGM_FI_DEV_GPU_UTIL', 1000, 12.5);
  writer.append(a0, 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 1000, 123456789012);
  writer.append(a0, 'DCGM_FI_DEV_POWER_USAGE', 1000, 66.781);
  writer.append(a0, 'DCGM_FI_DEV_POWER_USAGE', 3000, 70.25);
  writer.append(a0, 'VENDOR_CUSTOM_FIELD', 1000, -3);
  const renderer = new GpuMetricsRenderer(registry);
  const text = renderer.render();
  t.equal(
    text,
    [
      '# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).',
      '# TYPE DCGM_FI_DEV_GPU_UTIL gauge',
      'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="host-a"} 87',
      'DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-a1",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="host-a"} 0',
      'DCGM_FI_DEV_GPU_UTIL{gpu="2",UUID="GPU-b2",device="nvidia2",modelName="NVIDIA H100 80GB HBM3",Hostname="host-b",pod="only-pod"} 12.5',
      'DCGM_FI_DEV_GPU_UTIL{gpu="10",UUID="GPU-b10",device="nvidia10",modelName="NVIDIA H100 80GB HBM3",Hostname="host-b",container="trainer",namespace="ml",pod="job-7"} 51',
      '# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).',
      '# TYPE DCGM_FI_DEV_POWER_USAGE gauge',
      'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-a0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="host-a"} 70.25',
      '# HELP DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION Total energy consumption since boot (in mJ).',
      '# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter',
      'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="0",UUID="GPU-a0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="host-a"} 123456789012',
      '# HELP VENDOR_CUSTOM_FIELD DCGM field VENDOR_CUSTOM_FIELD.',
      '# TYPE VENDOR_CUSTOM_FIELD gauge',
      'VENDOR_CUSTOM_FIELD{gpu="0",UUID="GPU-a0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="host-a"} -3',
      '',
    ].join('\n'),
  );
  t.equal(renderer.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  t.equal(PROMETHEUS_TEXT, renderer.contentType);
  const families = parsePromText(text);
  t.same([...families.keys()], ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'VENDOR_CUSTOM_FIELD']);
  for (const f of families.values()) {
    t.ok(f.help !== undefined && f.type !== undefined, `${f.name} has HELP and TYPE`);
    t.ok(f.samples.every((s) => s.timestampMs === undefined), `${f.name}: no timestamps`);
  }
  t.equal(renderer.render(), text, 'a second render of an unchanged store is the same');

  writer.append(a1, 'DCGM_FI_DEV_GPU_UTIL', 5000, 99);
  writer.append(gpu('GPU-a2', { gpuId: '2', device: 'nvidia2' }), 'DCGM_FI_DEV_GPU_UTIL', 5000, 1);
  const util = parsePromText(renderer.render()).get('DCGM_FI_DEV_GPU_UTIL')!.samples;
  t.same(
    util.map((s) => [s.labels.UUID, s.value]),
    [
      ['GPU-a0', 87],
      ['GPU-a1', 99],
      ['GPU-a2', 1],
      ['GPU-b2', 12.5],
      ['GPU-b10', 51],
    ],
    'new samples and a new GPU show up, in order',
  );
});

t.test('label values are escaped as the exposition format requires, and read back unchanged', async (t) => {
  const { registry, writer } = store();
  const odd = gpu('GPU-"quoted"\\back', {
    modelName: 'NVIDIA "H100"\nline two',
    hostname: 'C:\\hosts\\a',
    container: 'c"1',
    namespace: 'ns\\',
    pod: 'p\n',
  });
  writer.append(odd, 'DCGM_FI_DEV_GPU_TEMP', 1, 41);
  const text = new GpuMetricsRenderer(registry).render();
  t.equal(
    text.split('\n')[2],
    'DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-\\"quoted\\"\\\\back",device="nvidia0",modelName="NVIDIA \\"H100\\"\\nline two",Hostname="C:\\\\hosts\\\\a",container="c\\"1",namespace="ns\\\\",pod="p\\n"} 41',
  );
  const [sample] = parsePromText(text).get('DCGM_FI_DEV_GPU_TEMP')!.samples;
  t.same(sample!.labels, { gpu: '0', UUID: odd.uuid, device: 'nvidia0', modelName: odd.modelName, Hostname: odd.hostname, container: odd.container, namespace: odd.namespace, pod: odd.pod });
  t.equal(escapeLabelValue('plain value'), 'plain value');
  t.equal(escapeLabelValue('a\\"\n'), 'a\\\\\\"\\n');
});

t.test('values: integers and decimals as written, non-finite ones in the exposition spelling', async (t) => {
  t.equal(formatValue(87), '87');
  t.equal(formatValue(66.781), '66.781');
  t.equal(formatValue(-0.5), '-0.5');
  t.equal(formatValue(1e21), '1e+21');
  t.equal(formatValue(Infinity), '+Inf');
  t.equal(formatValue(-Infinity), '-Inf');
  t.equal(formatValue(NaN), 'NaN');
  const { registry, writer } = store();
  writer.append(gpu('GPU-1'), 'DCGM_FI_DEV_GPU_TEMP', 1, NaN); // the store takes what it is given; collectors reject non-finite rows before it
  const [sample] = parsePromText(new GpuMetricsRenderer(registry).render()).get('DCGM_FI_DEV_GPU_TEMP')!.samples;
  t.equal(sample!.text, 'NaN');
});

t.test('the newest sample is found across full chunks and across shards', async (t) => {
  const registry = new Registry();
  const s0 = store(0, registry, { chunkSamples: 4 }).writer;
  const s1 = store(1, registry, { chunkSamples: 4 }).writer;
  const id = gpu('GPU-1');
  for (let i = 0; i < 9; i++) s0.append(id, 'DCGM_FI_DEV_SM_CLOCK', i, 100 + i); // 3 chunks, the last holding one sample
  for (let i = 0; i < 4; i++) s0.append(id, 'DCGM_FI_DEV_MEM_CLOCK', i, 200 + i); // a full chunk
  const renderer = new GpuMetricsRenderer(registry);
  const values = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const f of parsePromText(renderer.render()).values()) {
      t.equal(f.samples.length, 1, `${f.name}: one line per (GPU, metric), whatever the shards`);
      out[f.name] = f.samples[0]!.value;
    }
    return out;
  };
  t.same(values(), { DCGM_FI_DEV_MEM_CLOCK: 203, DCGM_FI_DEV_SM_CLOCK: 108 });
  // A collector scaled in takes the GPU over: its shard holds the newer samples.
  s1.append(id, 'DCGM_FI_DEV_SM_CLOCK', 20, 120);
  t.same(values(), { DCGM_FI_DEV_MEM_CLOCK: 203, DCGM_FI_DEV_SM_CLOCK: 120 }, 'the newer shard wins');
  s0.append(id, 'DCGM_FI_DEV_SM_CLOCK', 30, 130);
  t.same(values(), { DCGM_FI_DEV_MEM_CLOCK: 203, DCGM_FI_DEV_SM_CLOCK: 130 }, 'whichever shard holds the newest');
});

t.test('an identity change rebuilds the series labels; an equal identity keeps them', async (t) => {
  const registry = new Registry();
  const writer = store(0, registry).writer;
  writer.append(gpu('GPU-1', { pod: 'pod-a' }), 'DCGM_FI_DEV_GPU_UTIL', 1, 10);
  writer.append(gpu('GPU-2', { gpuId: '1', device: 'nvidia1' }), 'DCGM_FI_DEV_GPU_UTIL', 1, 20);
  const renderer = new GpuMetricsRenderer(registry);
  const labelsOf = (): Array<Record<string, string>> => parsePromText(renderer.render()).get('DCGM_FI_DEV_GPU_UTIL')!.samples.map((s) => s.labels);
  t.same(labelsOf().map((l) => [l.UUID, l.pod, l.gpu]), [
    ['GPU-1', 'pod-a', '0'],
    ['GPU-2', undefined, '1'],
  ]);
  // An equal identity in a new object (each collector message brings its own copy).
  const before = renderer.render();
  registry.gpus.get('GPU-1')!.identity = { ...registry.gpus.get('GPU-1')!.identity };
  t.equal(renderer.render(), before, 'the same text');
  // The pod is rescheduled and GPU-1 moves to gpu 3: a new series of the GPU brings the new identity.
  writer.append(gpu('GPU-1', { pod: 'pod-b', gpuId: '3', device: 'nvidia3' }), 'DCGM_FI_DEV_GPU_TEMP', 2, 50);
  t.same(
    labelsOf().map((l) => [l.UUID, l.pod, l.gpu, l.device]),
    [
      ['GPU-2', undefined, '1', 'nvidia1'],
      ['GPU-1', 'pod-b', '3', 'nvidia3'],
    ],
    'the existing series of GPU-1 carry the new identity, re-sorted by gpu',
  );
  const temp = parsePromText(renderer.render()).get('DCGM_FI_DEV_GPU_TEMP')!.samples;
  t.same(temp.map((s) => [s.labels.pod, s.value]), [['pod-b', 50]]);
});

t.test('a chunk dropped and reused before the registry heard of the drop is not read', async (t) => {
  const registry = new Registry();
  const pending: StoreEvent[] = [];
  let deliver = true;
  const writer = new ShardWriter(0, { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 4, chunkSamples: 4 }, (e) => {
    if (deliver) registry.apply(e);
    else pending.push(e);
  });
  const id = gpu('GPU-1');
  for (let i = 0; i < 4; i++) writer.append(id, 'DCGM_FI_DEV_GPU_TEMP', i, 40 + i); // one full chunk, known to the registry
  const renderer = new GpuMetricsRenderer(registry);
  t.match(renderer.render(), /DCGM_FI_DEV_GPU_TEMP\{[^}]*\} 43\n/);
  deliver = false;
  // Two more chunks fill; retention drops the first, and a new series reuses it.
  for (let i = 4; i < 9; i++) writer.append(id, 'DCGM_FI_DEV_GPU_TEMP', i, 40 + i);
  writer.append(id, 'DCGM_FI_DEV_POWER_USAGE', 100, -1);
  t.ok(pending.some((e) => e.t === 'drop'), 'the drop is not applied yet');
  const text = renderer.render();
  t.equal(text, '', 'the only chunk the registry knows for the series is in its next life: nothing to show, not -1');
  for (const e of pending) registry.apply(e);
  const families = parsePromText(renderer.render());
  t.same(families.get('DCGM_FI_DEV_GPU_TEMP')!.samples.map((s) => s.value), [48]);
  t.same(families.get('DCGM_FI_DEV_POWER_USAGE')!.samples.map((s) => s.value), [-1]);
});

t.test('a chunk recycled while its newest sample is being read is not used', async (t) => {
  const registry = new Registry();
  const writer = store(0, registry, { chunkSamples: 4 }).writer;
  const id = gpu('GPU-1');
  for (let i = 0; i < 6; i++) writer.append(id, 'DCGM_FI_DEV_GPU_TEMP', i, 40 + i); // [0-3], [4-5]
  const renderer = new GpuMetricsRenderer(registry);
  t.match(renderer.render(), /\} 45\n$/);
  // The registry's view of the newest chunk: recycle it (as its writer would) in the middle of the read.
  const head = registry.gpus.get('GPU-1')!.series.get('DCGM_FI_DEV_GPU_TEMP')![0]!.chunks[1]!.chunk;
  const column = head.value;
  let reads = 0;
  Object.defineProperty(head, 'value', {
    get() {
      if (reads++ === 0) head.recycle();
      return column;
    },
  });
  t.equal(renderer.render(), '', 'the value read belongs to the next life: dropped, and so are the older chunks');
  t.equal(reads, 1);
});

t.test('series with nothing to read, and metric names Prometheus cannot take, render nothing', async (t) => {
  const registry = new Registry();
  const capacity = 4;
  registry.apply({ t: 'series', shard: 0, series: 0, gpu: gpu('GPU-1'), metric: 'DCGM_FI_DEV_GPU_UTIL' });
  registry.apply({ t: 'slab', shard: 0, slab: 0, chunkSamples: capacity, buffer: new SharedArrayBuffer(SLAB_CHUNKS * chunkBytes(capacity)) });
  registry.apply({ t: 'chunk', shard: 0, series: 0, chunk: 0, epoch: 0 });
  const renderer = new GpuMetricsRenderer(registry);
  t.equal(renderer.render(), '', 'a chunk announced, no sample published yet: no family header either');
  const writer = store(1, registry).writer;
  writer.append(gpu('GPU-1'), 'bad-name', 1, 1);
  writer.append(gpu('GPU-1'), '1starts_with_digit', 1, 1);
  writer.append(gpu('GPU-1'), 'DCGM_FI_DEV_GPU_TEMP', 1, 33);
  t.same([...parsePromText(renderer.render()).keys()], ['DCGM_FI_DEV_GPU_TEMP'], 'invalid names are left out; the rest renders');
});

t.test('series sharing a hostname and gpu are ordered by uuid; gpu ids that are not numbers by text', async (t) => {
  const { registry, writer } = store();
  for (const [uuid, gpuId] of [
    ['GPU-z', '0'],
    ['GPU-a', '0'],
    ['GPU-m', 'x'],
    ['GPU-b', 'w'],
  ] as const) {
    writer.append(gpu(uuid, { gpuId }), 'DCGM_FI_DEV_GPU_UTIL', 1, 1);
  }
  const util = parsePromText(new GpuMetricsRenderer(registry).render()).get('DCGM_FI_DEV_GPU_UTIL')!.samples;
  t.same(
    util.map((s) => s.labels.UUID),
    ['GPU-a', 'GPU-z', 'GPU-b', 'GPU-m'],
  );
});
