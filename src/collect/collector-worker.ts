/**
 * A collector thread: pops batches from its consumer slot of the ring,
 * decodes and validates each message, stores samples in its store shard,
 * and sends the shard's StoreEvents to the main thread once per batch.
 * Drains until the ring is closed (or it is stopped) and empty, then exits.
 *
 * With `ports` (the postMessage baseline of the benchmarks) it takes batches
 * from one MessagePort per streamer instead, answers each with its byte
 * count once stored (the streamer's credit), and exits once every streamer
 * has sent `null`.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { DONE, FreeRing, MessageBatch, type WaitPolicy } from 'native-free-ring';
import type { GpuIdentity } from '../ingest/dcgm-row.js';
import { Counter, Counters, MAX_STREAMERS, observeLatency } from '../engine/counters.js';
import { CLOCK_BYTES, Kind, parseGpu, readText, SAMPLE_BYTES, viewOf } from '../engine/wire.js';
import type { StoreEvent } from '../storage/events.js';
import { AppendResult } from '../storage/shard-writer.js';
import { createStoreWriter, type StorageType } from '../storage/store.js';

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
  /** The ring's wait policy: 'sleep' when threads outnumber cores. */
  wait: WaitPolicy;
  storageType: StorageType;
  /** The postMessage baseline: one port per streamer slot instead of the ring. */
  ports?: MessagePort[];
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
  const counts = new Counters(job.counters).block(MAX_STREAMERS + job.slot);
  let events: StoreEvent[] = [];
  const shard = createStoreWriter(job.storageType, job.shard, job, (e) => events.push(e));
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
  // Per streamer batch in this pop: when its first row was read, and its samples.
  // A batch split across pops (it was larger than the room in its lane) goes
  // on in the next pop without its Clock: it is timed from the last Clock seen.
  const readAtMs: number[] = [];
  const samplesSince: number[] = [];
  let lastReadAtMs = NaN;

  // Per (gpu ref, metric ref): the series, so the hot path makes no string key.
  const seriesByRef = new Map<number, Map<number, unknown>>();
  const seriesOf = (gRef: number, mRef: number): unknown => {
    let byMetric = seriesByRef.get(gRef);
    let s = byMetric?.get(mRef);
    if (s !== undefined) return s;
    const gpu = gpus.get(gRef);
    const metric = metrics.get(mRef);
    if (gpu === undefined || metric === undefined) return undefined;
    s = shard.seriesOf(gpu, metric);
    if (byMetric === undefined) seriesByRef.set(gRef, (byMetric = new Map()));
    byMetric.set(mRef, s);
    return s;
  };

  const handle = (bytes: Uint8Array, at: number, length: number): void => {
    const kind = length >= 8 ? dv.getUint32(at, true) : 0;
    if (kind === Kind.Sample && length === SAMPLE_BYTES) {
      const series = seriesOf(dv.getUint32(at + 4, true), dv.getUint32(at + 8, true));
      const tsMs = dv.getFloat64(at + 12, true);
      const value = dv.getFloat64(at + 20, true);
      if (series === undefined || !Number.isFinite(tsMs) || !Number.isFinite(value)) {
        invalid++;
        return;
      }
      const r = shard.appendTo(series, tsMs, value);
      if (r === AppendResult.Stored) stored++;
      else if (r === AppendResult.Duplicate) duplicates++;
      else outOfOrder++;
      if (samplesSince.length > 0) samplesSince[samplesSince.length - 1]!++;
    } else if (kind === Kind.Clock && length === CLOCK_BYTES) {
      readAtMs.push(dv.getFloat64(at + 8, true));
      samplesSince.push(0);
    } else if (kind === Kind.Gpu) {
      const gpu = parseGpu(readText(bytes, at, length));
      if (gpu === undefined) {
        invalid++;
      } else {
        gpus.set(dv.getUint32(at + 4, true), gpu);
        seriesByRef.delete(dv.getUint32(at + 4, true));
        learned.gpus.push([dv.getUint32(at + 4, true), gpu]);
      }
    } else if (kind === Kind.Metric) {
      const name = readText(bytes, at, length);
      metrics.set(dv.getUint32(at + 4, true), name);
      seriesByRef.clear(); // rare: a ref is (re)defined once per streamer and collector
      learned.metrics.push([dv.getUint32(at + 4, true), name]);
    } else {
      invalid++;
    }
  };

  /** Stores the batch, accounts for it at once and reports it; the caller acknowledges it after. */
  const store = (): void => {
    if (!Number.isNaN(lastReadAtMs)) {
      readAtMs.push(lastReadAtMs);
      samplesSince.push(0);
    }
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
    // Queryable now (a new chunk: once the main thread applies the event just posted).
    const nowMs = performance.timeOrigin + performance.now();
    for (let i = 0; i < readAtMs.length; i++) {
      if (samplesSince[i]! > 0) observeLatency(counts, Math.max(0, nowMs - readAtMs[i]!) / 1000, samplesSince[i]!);
    }
    if (readAtMs.length > 0) lastReadAtMs = readAtMs[readAtMs.length - 1]!;
    readAtMs.length = samplesSince.length = 0;
  };

  if (job.ports !== undefined) {
    consumePorts(job.ports, batch, store);
    return;
  }
  const ring = FreeRing.from(job.ring);
  // Manual release: a batch's space goes back only once it is stored, so if this
  // thread dies mid-batch, its replacement (taking the slot over) gets the batch again.
  const consumer = ring.attachConsumer({ index: job.slot, takeover: job.takeover, manualRelease: true, wait: job.wait });
  parentPort!.postMessage({ t: 'ready' } satisfies CollectorMessage);
  for (;;) {
    batch.reset();
    const n = consumer.pop(batch, Infinity, IDLE_WAIT_MS);
    if (n === DONE) break;
    store();
    consumer.release();
  }
}

/** The postMessage baseline: batches from each streamer's port; done when all sent null. */
function consumePorts(ports: MessagePort[], batch: MessageBatch, store: () => void): void {
  for (const port of ports) {
    let credit = 0;
    const giveCredit = (): void => {
      port.postMessage(credit);
      credit = 0;
    };
    port.on('message', (m: ArrayBuffer | null) => {
      if (m === null) {
        port.close(); // with every port closed the thread has nothing left to do, and exits
        return;
      }
      batch.load(new Uint8Array(m));
      store();
      // The bytes stored go back to the streamer once per event-loop turn.
      if (credit === 0) setImmediate(giveCredit);
      credit += m.byteLength;
    });
  }
  parentPort!.postMessage({ t: 'ready' } satisfies CollectorMessage);
}

run(workerData as CollectorJob);
