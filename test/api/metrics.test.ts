/**
 * /metrics: the pipeline's counters read from Counters blocks written
 * directly, ring stats, the ingest latency histogram, store size (checked
 * against walking every chunk, including chunks dropped under the registry),
 * workers, and HTTP requests by route pattern.
 *
 * Randomized tests print their seed on failure; replay with
 * `SEED=<seed> npx tap test/api/metrics.test.ts`.
 */
import type { RingStats } from 'native-free-ring';
import t from 'tap';
import { HTTP_DURATION_BUCKETS_S, heldSamples, PipelineMetrics, storeSize, type MetricsSource } from '../../src/api/metrics.js';
import { Counter, Counters, LATENCY_BUCKETS_S, observeLatency, rejectCounter } from '../../src/engine/counters.js';
import { REJECT_REASONS, type GpuIdentity } from '../../src/ingest/dcgm-row.js';
import type { StoreEvent } from '../../src/storage/events.js';
import { Registry } from '../../src/storage/registry.js';
import { ShardWriter } from '../../src/storage/shard-writer.js';
import { parsePromText, type PromFamily } from '../fixtures/prom-text.js';
import { Prng, testSeed } from '../fixtures/prng.js';

function gpu(uuid: string): GpuIdentity {
  return { uuid, gpuId: '0', device: 'nvidia0', modelName: 'NVIDIA H100 80GB HBM3', hostname: 'host-a', container: '', pod: '', namespace: '' };
}

function ringStats(over: Partial<RingStats> = {}): RingStats {
  return {
    closed: false,
    capacityBytes: 1_048_576,
    laneCapacityBytes: 4096,
    lanes: 256,
    maxMessageBytes: 2048,
    attachedProducers: 2,
    openConsumers: 3,
    depthBytes: 1536,
    depthMessages: 12,
    highWaterMarkBytes: 4000,
    pushedMessages: 100,
    pushedBytes: 10_000,
    poppedMessages: 88,
    poppedBytes: 8_464,
    producerBlockedMs: 2500,
    producerBlockedWaits: 7,
    ...over,
  };
}

interface Fixture {
  metrics: PipelineMetrics;
  counters: Counters;
  registry: Registry;
  writer: ShardWriter;
  source: MetricsSource & { ring: RingStats | undefined; streamers: number; collectors: number };
}

function fixture(): Fixture {
  const counters = new Counters();
  const registry = new Registry();
  const writer = new ShardWriter(0, { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 1e9, chunkSamples: 4 }, (e) => registry.apply(e));
  const source = {
    counters,
    registry,
    ring: ringStats() as RingStats | undefined,
    streamers: 2,
    collectors: 3,
    ringStats: () => source.ring,
    workers: () => ({ streamers: source.streamers, collectors: source.collectors }),
  };
  return { metrics: new PipelineMetrics(source), counters, registry, writer, source };
}

async function families(metrics: PipelineMetrics): Promise<Map<string, PromFamily>> {
  return parsePromText(await metrics.render());
}

/** The text of every gpu_telemetry_ family, as rendered. */
function ownText(text: string): string {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('# HELP gpu_telemetry_'))
    .join('\n\n')
    .trimEnd();
}

function value(fams: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = fams.get(name);
  const want = JSON.stringify(Object.entries(labels).sort());
  return f?.samples.find((s) => JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}

t.test('renders every pipeline metric, read from shared memory at scrape time', async (t) => {
  const { metrics, counters, writer } = fixture();
  // A streamer (slot 0) and a collector (slot 10) write their own blocks.
  const streamer = counters.block(0);
  const collector = counters.block(10);
  streamer[Counter.RowsRead] = 1000;
  streamer[Counter.Passes] = 3;
  streamer[rejectCounter('bad_value')] = 4;
  streamer[rejectCounter('column_count')] = 1;
  collector[Counter.SamplesStored] = 990;
  collector[Counter.Duplicates] = 3;
  collector[Counter.OutOfOrder] = 2;
  collector[Counter.Evicted] = 500;
  observeLatency(collector, 0.0007, 3);
  observeLatency(collector, 0.02, 1);
  for (let i = 0; i < 6; i++) writer.append(gpu('GPU-1'), 'DCGM_FI_DEV_GPU_UTIL', i, i); // two chunks of 4
  writer.append(gpu('GPU-2'), 'DCGM_FI_DEV_GPU_UTIL', 0, 1);
  writer.append(gpu('GPU-2'), 'DCGM_FI_DEV_GPU_TEMP', 0, 1);

  const text = await metrics.render();
  const le = (bound: number): number => (bound < 0.0007 ? 0 : bound < 0.02 ? 3 : 4);
  const expected = [
    '# HELP gpu_telemetry_rows_read_total CSV data records read by the streamers (accepted ones once handed to the ring).',
    '# TYPE gpu_telemetry_rows_read_total counter',
    'gpu_telemetry_rows_read_total 1000',
    '',
    '# HELP gpu_telemetry_rows_rejected_total Records rejected, by reason: CSV parse reasons from the streamers; out_of_order and invalid from the collectors.',
    '# TYPE gpu_telemetry_rows_rejected_total counter',
    ...REJECT_REASONS.map((r) => `gpu_telemetry_rows_rejected_total{reason="${r}"} ${r === 'bad_value' ? 4 : r === 'column_count' ? 1 : 0}`),
    'gpu_telemetry_rows_rejected_total{reason="out_of_order"} 2',
    'gpu_telemetry_rows_rejected_total{reason="invalid"} 0',
    '',
    '# HELP gpu_telemetry_samples_stored_total Samples stored by the collectors.',
    '# TYPE gpu_telemetry_samples_stored_total counter',
    'gpu_telemetry_samples_stored_total 990',
    '',
    '# HELP gpu_telemetry_samples_duplicate_total Samples not stored because their (uuid, metric, timestamp) was already held.',
    '# TYPE gpu_telemetry_samples_duplicate_total counter',
    'gpu_telemetry_samples_duplicate_total 3',
    '',
    '# HELP gpu_telemetry_samples_evicted_total Stored samples dropped by retention.',
    '# TYPE gpu_telemetry_samples_evicted_total counter',
    'gpu_telemetry_samples_evicted_total 500',
    '',
    '# HELP gpu_telemetry_passes_total Completed passes over the CSV file.',
    '# TYPE gpu_telemetry_passes_total counter',
    'gpu_telemetry_passes_total 3',
    '',
    '# HELP gpu_telemetry_ring_depth_bytes Bytes of messages waiting in the ring now.',
    '# TYPE gpu_telemetry_ring_depth_bytes gauge',
    'gpu_telemetry_ring_depth_bytes 1536',
    '',
    '# HELP gpu_telemetry_ring_depth_messages Messages waiting in the ring now (may lag by a batch).',
    '# TYPE gpu_telemetry_ring_depth_messages gauge',
    'gpu_telemetry_ring_depth_messages 12',
    '',
    '# HELP gpu_telemetry_ring_capacity_bytes Bytes all lanes of the ring can hold together.',
    '# TYPE gpu_telemetry_ring_capacity_bytes gauge',
    'gpu_telemetry_ring_capacity_bytes 1048576',
    '',
    '# HELP gpu_telemetry_ring_high_water_mark_bytes Fullest any single ring lane has been seen, bytes (sampled: a brief peak can be missed).',
    '# TYPE gpu_telemetry_ring_high_water_mark_bytes gauge',
    'gpu_telemetry_ring_high_water_mark_bytes 4000',
    '',
    '# HELP gpu_telemetry_ring_producer_blocked_seconds_total Time streamers spent waiting on a full ring.',
    '# TYPE gpu_telemetry_ring_producer_blocked_seconds_total counter',
    'gpu_telemetry_ring_producer_blocked_seconds_total 2.5',
    '',
    '# HELP gpu_telemetry_ingest_latency_seconds Time from a row being read to its sample being queryable, observed per stored batch.',
    '# TYPE gpu_telemetry_ingest_latency_seconds histogram',
    ...LATENCY_BUCKETS_S.map((b) => `gpu_telemetry_ingest_latency_seconds_bucket{le="${b}"} ${le(b)}`),
    'gpu_telemetry_ingest_latency_seconds_bucket{le="+Inf"} 4',
    `gpu_telemetry_ingest_latency_seconds_sum ${0.0007 * 3 + 0.02}`,
    'gpu_telemetry_ingest_latency_seconds_count 4',
    '',
    '# HELP gpu_telemetry_store_series Series held: (GPU, metric) pairs.',
    '# TYPE gpu_telemetry_store_series gauge',
    'gpu_telemetry_store_series 3',
    '',
    '# HELP gpu_telemetry_store_samples Samples held by the store now.',
    '# TYPE gpu_telemetry_store_samples gauge',
    'gpu_telemetry_store_samples 8',
    '',
    '# HELP gpu_telemetry_store_bytes Bytes of chunk memory, used and free, of every shard.',
    '# TYPE gpu_telemetry_store_bytes gauge',
    `gpu_telemetry_store_bytes ${writer.pool.bytes}`,
    '',
    '# HELP gpu_telemetry_store_gpus GPUs known to the store.',
    '# TYPE gpu_telemetry_store_gpus gauge',
    'gpu_telemetry_store_gpus 2',
    '',
    '# HELP gpu_telemetry_workers Worker threads running, by role.',
    '# TYPE gpu_telemetry_workers gauge',
    'gpu_telemetry_workers{role="streamer"} 2',
    'gpu_telemetry_workers{role="collector"} 3',
    '',
    '# HELP gpu_telemetry_http_requests_total HTTP requests answered, by route pattern, method and status.',
    '# TYPE gpu_telemetry_http_requests_total counter',
    '',
    '# HELP gpu_telemetry_http_request_duration_seconds Time to answer an HTTP request, by route pattern and method.',
    '# TYPE gpu_telemetry_http_request_duration_seconds histogram',
  ].join('\n');
  t.equal(ownText(text), expected);
  t.ok(writer.pool.bytes > 0);
  t.equal(metrics.contentType, 'text/plain; version=0.0.4; charset=utf-8');

  const fams = parsePromText(text);
  for (const f of fams.values()) {
    t.ok(f.help !== undefined && f.help !== '', `${f.name} has HELP`);
    t.ok(f.type !== undefined, `${f.name} has TYPE`);
    if (f.type === 'counter') t.match(f.name, /_total$/, `${f.name}: a counter ends in _total`);
  }
  t.ok(fams.has('process_cpu_user_seconds_total') && fams.has('process_resident_memory_bytes') && fams.has('nodejs_heap_size_used_bytes'), 'process metrics');

  // Writers keep adding; the next scrape reads the blocks again.
  streamer[Counter.RowsRead] += 500;
  counters.block(1)[Counter.RowsRead] = 7; // a second streamer
  collector[Counter.SamplesStored] += 400;
  counters.block(11)[rejectCounter('non_finite')] = 9;
  counters.block(11)[Counter.Invalid] = 1;
  const next = await families(metrics);
  t.equal(value(next, 'gpu_telemetry_rows_read_total'), 1507, 'summed over every block');
  t.equal(value(next, 'gpu_telemetry_samples_stored_total'), 1390);
  t.equal(value(next, 'gpu_telemetry_rows_rejected_total', { reason: 'non_finite' }), 9);
  t.equal(value(next, 'gpu_telemetry_rows_rejected_total', { reason: 'invalid' }), 1);
  t.equal(value(next, 'gpu_telemetry_rows_rejected_total', { reason: 'bad_value' }), 4, 'a counter is not added twice across scrapes');
  t.equal(next.get('gpu_telemetry_rows_rejected_total')!.samples.length, REJECT_REASONS.length + 2, 'every reason, zeros included');
});

t.test('the ingest latency histogram is cumulative and agrees with its sum and count', async (t) => {
  const { metrics, counters } = fixture();
  const seed = testSeed();
  t.teardown(() => {
    if (!t.passing()) console.error(`# ${t.name}: failed with SEED=${seed}`);
  });
  const prng = new Prng(seed);
  let sum = 0;
  let count = 0;
  const observed: number[] = [];
  for (let i = 0; i < 200; i++) {
    const seconds = prng.float() * 12; // past the last bound (10 s) too
    const n = prng.int(1, 5);
    observeLatency(counters.block(10 + prng.int(0, 9)), seconds, n);
    sum += seconds * n;
    count += n;
    for (let k = 0; k < n; k++) observed.push(seconds);
  }
  const h = (await families(metrics)).get('gpu_telemetry_ingest_latency_seconds')!;
  t.equal(h.type, 'histogram');
  const buckets = h.samples.filter((s) => s.name === 'gpu_telemetry_ingest_latency_seconds_bucket');
  t.same(
    buckets.map((s) => s.labels.le),
    [...LATENCY_BUCKETS_S.map(String), '+Inf'],
    'one bucket per bound, +Inf last',
  );
  for (let b = 0; b < buckets.length; b++) {
    const bound = b < LATENCY_BUCKETS_S.length ? LATENCY_BUCKETS_S[b]! : Infinity;
    t.equal(buckets[b]!.value, observed.filter((s) => s <= bound).length, `le=${buckets[b]!.labels.le}: observations at or below it`);
    if (b > 0) t.ok(buckets[b]!.value >= buckets[b - 1]!.value, 'cumulative');
  }
  const countSample = h.samples.find((s) => s.name === 'gpu_telemetry_ingest_latency_seconds_count')!;
  const sumSample = h.samples.find((s) => s.name === 'gpu_telemetry_ingest_latency_seconds_sum')!;
  t.equal(countSample.value, count);
  t.equal(buckets.at(-1)!.value, count, '+Inf equals the count');
  t.ok(Math.abs(sumSample.value - sum) < 1e-9 * sum, `sum ${sumSample.value} ≈ ${sum}`);
});

t.test('requests are counted by route pattern, method and status, durations by route pattern and method', async (t) => {
  const { metrics } = fixture();
  metrics.observeRequest('/api/v1/gpus/:id/telemetry', 'GET', 200, 0.0004);
  metrics.observeRequest('/api/v1/gpus/:id/telemetry', 'GET', 200, 0.003);
  metrics.observeRequest('/api/v1/gpus/:id/telemetry', 'GET', 404, 0.00005);
  metrics.observeRequest('/api/v1/gpus', 'GET', 200, 7);
  metrics.observeRequest('/admin/scale', 'POST', 400, 0.0002);
  const fams = await families(metrics);
  const requests = fams.get('gpu_telemetry_http_requests_total')!;
  t.equal(requests.type, 'counter');
  t.same(
    requests.samples.map((s) => [s.labels.route, s.labels.method, s.labels.status, s.value]),
    [
      ['/api/v1/gpus/:id/telemetry', 'GET', '200', 2],
      ['/api/v1/gpus/:id/telemetry', 'GET', '404', 1],
      ['/api/v1/gpus', 'GET', '200', 1],
      ['/admin/scale', 'POST', '400', 1],
    ],
  );
  const durations = fams.get('gpu_telemetry_http_request_duration_seconds')!;
  t.equal(durations.type, 'histogram');
  const of = (route: string, name: string): Array<[string | undefined, number]> =>
    durations.samples.filter((s) => s.labels.route === route && s.name === `gpu_telemetry_http_request_duration_seconds_${name}`).map((s) => [s.labels.le, s.value]);
  t.same(
    of('/api/v1/gpus/:id/telemetry', 'bucket'),
    [...HTTP_DURATION_BUCKETS_S.map((b): [string, number] => [String(b), (b >= 0.00005 ? 1 : 0) + (b >= 0.0004 ? 1 : 0) + (b >= 0.003 ? 1 : 0)]), ['+Inf', 3]],
  );
  t.same(of('/api/v1/gpus/:id/telemetry', 'count'), [[undefined, 3]]);
  t.same(of('/api/v1/gpus', 'bucket').at(-2), ['5', 0], '7 s is past the last bound');
  t.same(of('/api/v1/gpus', 'bucket').at(-1), ['+Inf', 1]);
  t.same(of('/api/v1/gpus', 'sum'), [[undefined, 7]]);
  t.notOk(
    durations.samples.some((s) => 'status' in s.labels),
    'durations carry no status label',
  );
});

t.test('without a ring the ring metrics have no sample; they come back with one', async (t) => {
  const { metrics, source } = fixture();
  const ringNames = [
    'gpu_telemetry_ring_depth_bytes',
    'gpu_telemetry_ring_depth_messages',
    'gpu_telemetry_ring_capacity_bytes',
    'gpu_telemetry_ring_high_water_mark_bytes',
    'gpu_telemetry_ring_producer_blocked_seconds_total',
  ];
  source.ring = undefined;
  let fams = await families(metrics);
  for (const name of ringNames) t.equal(fams.get(name)?.samples.length, 0, `${name}: HELP and TYPE, no sample`);
  source.ring = ringStats({ depthBytes: 0, depthMessages: 0, producerBlockedMs: 10 });
  fams = await families(metrics);
  t.equal(value(fams, 'gpu_telemetry_ring_depth_bytes'), 0);
  t.equal(value(fams, 'gpu_telemetry_ring_producer_blocked_seconds_total'), 0.01);
  source.ring = ringStats({ depthBytes: 64, producerBlockedMs: 30 });
  fams = await families(metrics);
  t.equal(value(fams, 'gpu_telemetry_ring_depth_bytes'), 64, 'read at every scrape');
  t.equal(value(fams, 'gpu_telemetry_ring_producer_blocked_seconds_total'), 0.03);
  source.streamers = 5;
  source.collectors = 1;
  fams = await families(metrics);
  t.equal(value(fams, 'gpu_telemetry_workers', { role: 'streamer' }), 5);
  t.equal(value(fams, 'gpu_telemetry_workers', { role: 'collector' }), 1);
});

t.test('store size matches walking every chunk, with retention dropping chunks and two shards', async (t) => {
  const seed = testSeed();
  t.teardown(() => {
    if (!t.passing()) console.error(`# ${t.name}: failed with SEED=${seed}`);
  });
  const prng = new Prng(seed);
  const registry = new Registry();
  const writers = [0, 1].map(
    (shard) => new ShardWriter(shard, { retentionMs: 50, maxSamplesPerSeries: 12, chunkSamples: 4 }, (e) => registry.apply(e)),
  );
  const walk = (): number => {
    let n = 0;
    for (const g of registry.gpus.values()) for (const views of g.series.values()) for (const v of views) n += v.count;
    return n;
  };
  for (let step = 0; step < 2000; step++) {
    const uuid = `GPU-${prng.int(0, 5)}`;
    const metric = `m${prng.int(0, 3)}`;
    writers[prng.int(0, 1)]!.append(gpu(uuid), metric, step * prng.int(1, 3), step);
    if (step % 97 === 0) {
      const size = storeSize(registry);
      t.equal(size.samples, walk(), `step ${step}: samples`);
    }
  }
  for (const g of registry.gpus.values()) {
    for (const views of g.series.values()) for (const v of views) t.equal(heldSamples(v), v.count, `${v.metric}: held samples`);
  }
  const size = storeSize(registry);
  t.equal(size.gpus, 6);
  t.equal(size.series, [...registry.gpus.values()].reduce((n, g) => n + g.series.size, 0), 'a series held by two shards counts once');
  t.ok(size.series <= 24);
});

t.test('store size skips chunks dropped and reused before the registry heard of the drop', async (t) => {
  const registry = new Registry();
  const pending: StoreEvent[] = [];
  let deliver = true;
  const writer = new ShardWriter(0, { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 5, chunkSamples: 4 }, (e) => {
    if (deliver) registry.apply(e);
    else pending.push(e);
  });
  for (let i = 0; i < 8; i++) writer.append(gpu('GPU-1'), 'temp', i, i); // chunks [0-3], [4-7]
  t.equal(storeSize(registry).samples, 8);
  deliver = false;
  // Sample 8 opens a third chunk and drops [0-3]; 'power' then reuses that chunk.
  writer.append(gpu('GPU-1'), 'temp', 8, 8);
  writer.append(gpu('GPU-1'), 'power', 100, -1);
  t.ok(pending.some((e) => e.t === 'drop'), 'the drop is not applied yet');
  t.equal(storeSize(registry).samples, 4, 'the registry knows [4-7] only; the dropped chunk counts nothing');
  const [view] = registry.gpus.get('GPU-1')!.series.get('temp')!;
  t.equal(heldSamples(view!), view!.count);
  for (const e of pending) registry.apply(e);
  t.equal(storeSize(registry).samples, 6);
  const { metrics } = ((): { metrics: PipelineMetrics } => ({
    metrics: new PipelineMetrics({ counters: new Counters(), registry, ringStats: () => undefined, workers: () => ({ streamers: 1, collectors: 1 }) }),
  }))();
  const fams = await families(metrics);
  t.equal(value(fams, 'gpu_telemetry_store_samples'), 6);
  t.equal(value(fams, 'gpu_telemetry_store_series'), 2);
  t.equal(value(fams, 'gpu_telemetry_store_gpus'), 1);
  t.equal(value(fams, 'gpu_telemetry_store_bytes'), registry.chunkBytes);
});

t.test('an empty store renders zeros', async (t) => {
  const registry = new Registry();
  const metrics = new PipelineMetrics({ counters: new Counters(), registry, ringStats: () => undefined, workers: () => ({ streamers: 0, collectors: 0 }) });
  registry.apply({ t: 'series', shard: 0, series: 0, gpu: gpu('GPU-1'), metric: 'temp' }); // a series with no chunk yet
  const fams = await families(metrics);
  t.equal(value(fams, 'gpu_telemetry_store_samples'), 0);
  t.equal(value(fams, 'gpu_telemetry_store_series'), 1);
  t.equal(value(fams, 'gpu_telemetry_store_bytes'), 0);
  t.equal(value(fams, 'gpu_telemetry_ingest_latency_seconds_count'), undefined, 'a histogram sample is read through its family');
  t.equal(fams.get('gpu_telemetry_ingest_latency_seconds')!.samples.find((s) => s.name.endsWith('_count'))!.value, 0);
});
