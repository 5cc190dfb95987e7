/**
 * The newest sample per metric: across shards, and never from a chunk that
 * was dropped and reused before the registry heard of it.
 */
import t from 'tap';
import type { GpuIdentity } from '../../src/ingest/dcgm-row.js';
import { latest } from '../../src/query/latest.js';
import { chunkBytes, SeriesChunk } from '../../src/storage/chunk.js';
import { SLAB_CHUNKS } from '../../src/storage/chunk-pool.js';
import type { StoreEvent } from '../../src/storage/events.js';
import { ChunkRef, Registry } from '../../src/storage/registry.js';
import { ShardWriter, type RetentionOptions } from '../../src/storage/shard-writer.js';

function gpu(uuid: string): GpuIdentity {
  return { uuid, gpuId: '0', device: 'nvidia0', modelName: 'NVIDIA H100 80GB HBM3', hostname: 'host-a', container: '', pod: '', namespace: '' };
}

const BIG: RetentionOptions = { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 1e9, chunkSamples: 4 };

t.test('the newest sample of every metric, sorted by metric name', async (t) => {
  const registry = new Registry();
  const writer = new ShardWriter(0, BIG, (e) => registry.apply(e));
  // Appended metric by metric, so the store's own order is not the answer.
  for (let ms = 0; ms < 10; ms++) writer.append(gpu('GPU-1'), 'DCGM_FI_DEV_POWER_USAGE', ms, 300 + ms);
  for (let ms = 0; ms < 7; ms++) writer.append(gpu('GPU-1'), 'DCGM_FI_DEV_GPU_TEMP', ms * 2, 40 + ms);
  writer.append(gpu('GPU-1'), 'DCGM_FI_DEV_FB_USED', 3.5, 1024);
  writer.append(gpu('GPU-2'), 'DCGM_FI_DEV_GPU_TEMP', 100, 99);
  t.strictSame(latest(registry, 'GPU-1'), [
    { metric: 'DCGM_FI_DEV_FB_USED', tsMs: 3.5, value: 1024 },
    { metric: 'DCGM_FI_DEV_GPU_TEMP', tsMs: 12, value: 46 },
    { metric: 'DCGM_FI_DEV_POWER_USAGE', tsMs: 9, value: 309 },
  ]);
  t.strictSame(latest(registry, 'GPU-2'), [{ metric: 'DCGM_FI_DEV_GPU_TEMP', tsMs: 100, value: 99 }]);
  writer.append(gpu('GPU-1'), 'DCGM_FI_DEV_FB_USED', 4, 2048);
  t.strictSame(latest(registry, 'GPU-1')![0], { metric: 'DCGM_FI_DEV_FB_USED', tsMs: 4, value: 2048 }, 'a new sample shows at once');
});

t.test('an unknown GPU is undefined; a GPU with no sample held has none', async (t) => {
  const registry = new Registry();
  t.equal(latest(registry, 'GPU-1'), undefined);
  registry.apply({ t: 'series', shard: 0, series: 0, gpu: gpu('GPU-empty'), metric: 'temp' });
  t.strictSame(latest(registry, 'GPU-empty'), []);
  t.equal(latest(registry, 'gpu-empty'), undefined, 'uuids are case-sensitive');
});

t.test('the newest of several shards wins, metric by metric', async (t) => {
  const registry = new Registry();
  const a = new ShardWriter(0, BIG, (e) => registry.apply(e));
  const b = new ShardWriter(1, BIG, (e) => registry.apply(e));
  for (let ms = 0; ms < 9; ms++) a.append(gpu('GPU-1'), 'temp', ms, ms);
  b.append(gpu('GPU-1'), 'temp', 20, 20); // the GPU moved to shard 1
  a.append(gpu('GPU-1'), 'power', 50, 5); // power: shard 0 is newer
  b.append(gpu('GPU-1'), 'power', 30, 3);
  b.append(gpu('GPU-1'), 'util', 7, 1); // util: the same sample in both (a replayed batch)
  a.append(gpu('GPU-1'), 'util', 7, 1);
  t.strictSame(latest(registry, 'GPU-1'), [
    { metric: 'power', tsMs: 50, value: 5 },
    { metric: 'temp', tsMs: 20, value: 20 },
    { metric: 'util', tsMs: 7, value: 1 },
  ]);
});

t.test('a chunk dropped and reused before the registry heard of the drop is not read', async (t) => {
  const registry = new Registry();
  const pending: StoreEvent[] = [];
  let deliver = true;
  const writer = new ShardWriter(0, { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 5, chunkSamples: 4 }, (e) => {
    if (deliver) registry.apply(e);
    else pending.push(e);
  });
  for (let i = 0; i < 8; i++) writer.append(gpu('GPU-1'), 'temp', i, i); // chunks [0-3], [4-7]
  t.strictSame(latest(registry, 'GPU-1'), [{ metric: 'temp', tsMs: 7, value: 7 }]);
  deliver = false;
  // temp moves on to [8-11] and [12-15], dropping both chunks the registry knows; power reuses them.
  for (let i = 8; i < 16; i++) writer.append(gpu('GPU-1'), 'temp', i, i);
  for (let i = 0; i < 6; i++) writer.append(gpu('GPU-1'), 'power', 1000 + i, -1);
  t.equal(pending.filter((e) => e.t === 'drop').length, 2, 'the drops are not applied yet');
  t.strictSame(latest(registry, 'GPU-1'), [], "temp's chunks now hold power: nothing to show for temp, and not power's values");
  for (const e of pending) registry.apply(e);
  t.strictSame(latest(registry, 'GPU-1'), [
    { metric: 'power', tsMs: 1005, value: -1 },
    { metric: 'temp', tsMs: 15, value: 15 },
  ]);
});

t.test('a chunk announced but still empty is passed over for the one before it', async (t) => {
  const registry = new Registry();
  const buffer = new SharedArrayBuffer(SLAB_CHUNKS * chunkBytes(4));
  registry.apply({ t: 'series', shard: 0, series: 0, gpu: gpu('GPU-1'), metric: 'temp' });
  registry.apply({ t: 'slab', shard: 0, slab: 0, chunkSamples: 4, buffer });
  const first = new SeriesChunk(buffer, 0, 4, 0);
  for (let i = 0; i < 4; i++) first.append(i, i * 10);
  registry.apply({ t: 'chunk', shard: 0, series: 0, chunk: 0, epoch: 0 });
  registry.apply({ t: 'chunk', shard: 0, series: 0, chunk: 1, epoch: 0 }); // the writer announces before it appends
  t.strictSame(latest(registry, 'GPU-1'), [{ metric: 'temp', tsMs: 3, value: 30 }]);
  new SeriesChunk(buffer, chunkBytes(4), 4, 1).append(4, 40);
  t.strictSame(latest(registry, 'GPU-1'), [{ metric: 'temp', tsMs: 4, value: 40 }]);
});

/** A ref whose chunk is dropped by its writer between the reader's copy and its check: the race, made to happen. */
class DroppedWhileRead extends ChunkRef {
  override get live(): boolean {
    if (this.chunk.stillIn(this.epoch)) this.chunk.recycle();
    return super.live;
  }
}

t.test('a chunk dropped while its newest sample is read is not used', async (t) => {
  const registry = new Registry();
  const writer = new ShardWriter(0, BIG, (e) => registry.apply(e));
  for (let i = 0; i < 6; i++) writer.append(gpu('GPU-1'), 'temp', i, i); // chunks [0-3], [4-5]
  writer.append(gpu('GPU-1'), 'power', 1, 1);
  const view = registry.gpus.get('GPU-1')!.series.get('temp')![0]!;
  const newest = view.chunks[1]!;
  view.chunks[1] = new DroppedWhileRead(newest.chunk, newest.epoch);
  t.strictSame(latest(registry, 'GPU-1'), [{ metric: 'power', tsMs: 1, value: 1 }], 'temp: nothing, not a value from the next life');
});
