/**
 * A collector thread: pops batches from its consumer slot of the ring,
 * decodes and validates each message, stores samples in its store shard,
 * and sends the shard's StoreEvents to the main thread once per batch.
 * Drains until the ring is closed (or it is stopped) and empty, then exits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DONE, FreeRing, MessageBatch } from 'native-free-ring';
import type { GpuIdentity } from '../ingest/dcgm-row.js';
import { Counter, Counters, MAX_STREAMERS } from '../engine/counters.js';
import { Kind, parseGpu, readText, viewOf } from '../engine/wire.js';
import type { StoreEvent } from '../storage/events.js';
import { AppendResult, ShardWriter } from '../storage/shard-writer.js';

export interface CollectorJob {
  ring: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  /** Consumer slot in the ring (0-9). */
  slot: number;
  /** This thread's store shard, unique for the process' lifetime. */
  shard: number;
  retentionMs: number;
  maxSamplesPerSeries: number;
  /** Replace a crashed collector in the same slot. */
  takeover: boolean;
  /** Wire refs the crashed collector had learned (its unacknowledged batch may use them). */
  defs: Definitions;
}

/** Wire ref → definition, as learned from Gpu and Metric messages. */
export interface Definitions {
  gpus: Array<[number, GpuIdentity]>;
  metrics: Array<[number, string]>;
}

/** To the main thread. */
export type CollectorMessage = { t: 'ready' } | { t: 'events'; events: StoreEvent[]; defs: Definitions };

/** 1 MiB: a pop takes up to ~37,000 samples, several lanes' worth. */
const BATCH_BYTES = 1 << 20;
/** Without messages, wake up this often (ms) to flush nothing and re-check the slot. */
const IDLE_WAIT_MS = 1000;

function run(job: CollectorJob): void {
  const ring = FreeRing.from(job.ring);
  // Manual release: a batch's space goes back only once it is stored, so if this
  // thread dies mid-batch, its replacement (taking the slot over) gets the batch again.
  const consumer = ring.attachConsumer({ index: job.slot, takeover: job.takeover, manualRelease: true });
  const counts = new Counters(job.counters).block(MAX_STREAMERS + job.slot);
  parentPort!.postMessage({ t: 'ready' } satisfies CollectorMessage);
  let events: StoreEvent[] = [];
  const shard = new ShardWriter(job.shard, job, (e) => events.push(e));
  const gpus = new Map<number, GpuIdentity>(job.defs.gpus);
  const metrics = new Map<number, string>(job.defs.metrics);
  // Definitions learned since the last report, so a replacement can start with them.
  let learned: Definitions = { gpus: [], metrics: [] };
  const batch = new MessageBatch(BATCH_BYTES);
  const dv = viewOf(batch);
  let stored = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let invalid = 0;
  let evicted = 0;

  const handle = (bytes: Uint8Array, at: number, length: number): void => {
    const kind = length >= 8 ? dv.getUint32(at, true) : 0;
    if (kind === Kind.Sample && length === 28) {
      const gpu = gpus.get(dv.getUint32(at + 4, true));
      const metric = metrics.get(dv.getUint32(at + 8, true));
      const tsMs = dv.getFloat64(at + 12, true);
      const value = dv.getFloat64(at + 20, true);
      if (gpu === undefined || metric === undefined || !Number.isFinite(tsMs) || !Number.isFinite(value)) {
        invalid++;
        return;
      }
      const r = shard.append(gpu, metric, tsMs, value);
      if (r === AppendResult.Stored) stored++;
      else if (r === AppendResult.Duplicate) duplicates++;
      else outOfOrder++;
    } else if (kind === Kind.Gpu) {
      const gpu = parseGpu(readText(bytes, at, length));
      if (gpu === undefined) {
        invalid++;
      } else {
        gpus.set(dv.getUint32(at + 4, true), gpu);
        learned.gpus.push([dv.getUint32(at + 4, true), gpu]);
      }
    } else if (kind === Kind.Metric) {
      const name = readText(bytes, at, length);
      metrics.set(dv.getUint32(at + 4, true), name);
      learned.metrics.push([dv.getUint32(at + 4, true), name]);
    } else {
      invalid++;
    }
  };

  for (;;) {
    batch.reset();
    const n = consumer.pop(batch, Infinity, IDLE_WAIT_MS);
    if (n === DONE) break;
    batch.forEach(handle);
    // Account for the whole batch at once, report, then acknowledge it: if this
    // thread dies mid-batch, the replacement stores the batch again (a kill
    // between these few lines can still skew the counters by this one batch).
    counts[Counter.SamplesStored]! += stored;
    counts[Counter.Duplicates]! += duplicates;
    counts[Counter.OutOfOrder]! += outOfOrder;
    counts[Counter.Invalid]! += invalid;
    counts[Counter.Evicted]! += shard.evicted - evicted;
    evicted = shard.evicted;
    stored = duplicates = outOfOrder = invalid = 0;
    if (events.length > 0 || learned.gpus.length > 0 || learned.metrics.length > 0) {
      parentPort!.postMessage({ t: 'events', events, defs: learned } satisfies CollectorMessage);
      events = [];
      learned = { gpus: [], metrics: [] };
    }
    consumer.release();
  }
}

run(workerData as CollectorJob);
