/**
 * FreeRing under real concurrency: producer and consumer worker threads pass
 * self-checking, sequence-numbered messages through small lanes (many
 * wrap-arounds), and the main thread checks that every (producer, seq)
 * arrived exactly once, in order per producer within each consumer, and that
 * the statistics reconcile. Needs the compiled worker: `npm run build`.
 *
 * Every worker wait has a deadline: a hang fails the test and names the worker.
 * Seeds are printed in the assertion messages; replay with SEED=<seed>.
 */
import t, { type Test } from 'tap';
import { DONE, FreeRing, MessageBatch, RingClosedError, type WaitPolicy } from '../src/index.js';
import { compiledUrl } from './fixtures/compiled.js';
import { payloadOk, payloadProducer, payloadSeq } from './fixtures/payload.js';
import { subSeed, testSeed } from './fixtures/prng.js';
import type { ConsumerJob, ConsumerReport, ProducerJob } from './fixtures/stress-worker.js';
import { sleep, TestWorker, until, Watchdog } from './fixtures/test-worker.js';

// The whole file runs in well under a minute on 2 cores; allow for a slow CI box.
t.setTimeout(180_000);

// Fail once, clearly, rather than in every test, when the worker was not built.
compiledUrl('test/fixtures/stress-worker.js');

/** A run whose ring counters stand still this long has hung (normal runs move every millisecond). */
const STALL_MS = 15_000;

/** The counters that tell where a stalled run stands. */
function describeStats(ring: FreeRing): string {
  const s = ring.stats();
  return `pushed ${s.pushedMessages}, popped ${s.poppedMessages}, depth ${s.depthBytes} B, open consumers ${s.openConsumers}, attached producers ${s.attachedProducers}, closed ${s.closed}`;
}

interface Attached {
  type: 'attached';
  index: number;
}

interface Closed {
  type: 'closed';
  sent: number;
  moved: number;
  name: string;
}

interface MeshOptions {
  seed: number;
  producers: number;
  consumers: number;
  laneCapacityBytes: number;
  /** Messages each producer sends (with `closeWhen`: at most; the ring closes first). */
  perProducer: number;
  producerStyle: ProducerJob['style'];
  consumerStyle: ConsumerJob['style'];
  minPayload: number;
  maxPayload: number;
  bigChance: number;
  batchBytes: number;
  /** Deadline for the whole run (producers done, then consumers done). */
  timeoutMs: number;
  /** Every worker's wait policy (default: the ring's, spin). */
  wait?: WaitPolicy;
  /** Runs on the main thread while producers push (scale-down test). */
  meanwhile?: (mesh: Mesh) => Promise<void>;
  /** Close the ring under load as soon as this holds, instead of after the producers finish. */
  closeWhen?: (ring: FreeRing) => boolean;
}

interface Mesh {
  ring: FreeRing;
  bitmap: SharedArrayBuffer;
  bitmapWords: number;
  consumers: TestWorker[];
  producers: TestWorker[];
  /** Starts a consumer worker (attached when its 'attached' message arrives; with `gate`, once gate[0] is set). */
  startConsumer(name: string, index?: number, gate?: SharedArrayBuffer): TestWorker;
  /** The slot each consumer worker attached to. */
  slots: Map<TestWorker, number>;
  /** Waits for a consumer's final report and records it. */
  collect(worker: TestWorker, timeoutMs: number): Promise<ConsumerReport>;
  reports: Map<TestWorker, ConsumerReport>;
  /** Per producer id: messages the ring accepted (all of them, or up to the close). */
  sent: number[];
}

/** Runs producers × consumers workers to completion and returns the consumers' reports. */
async function runMesh(t: Test, o: MeshOptions): Promise<Mesh> {
  const ring = FreeRing.create({ maxProducers: o.producers, maxConsumers: o.consumers, laneCapacityBytes: o.laneCapacityBytes });
  const bitmapWords = Math.ceil(o.perProducer / 32);
  const bitmap = new SharedArrayBuffer(o.producers * bitmapWords * 4);
  const all: TestWorker[] = [];
  t.teardown(() => Promise.all(all.map((w) => w.terminate())).then(() => undefined));
  let consumerSeeds = 1000;
  const mesh: Mesh = {
    ring,
    bitmap,
    bitmapWords,
    consumers: [],
    producers: [],
    reports: new Map(),
    slots: new Map(),
    sent: [],
    async collect(worker, timeoutMs) {
      const report = await worker.message<ConsumerReport>('done', timeoutMs);
      mesh.reports.set(worker, report);
      return report;
    },
    startConsumer(name, index, gate) {
      const job: ConsumerJob = {
        role: 'consumer',
        buffer: ring.buffer,
        producers: o.producers,
        bitmap,
        bitmapWords,
        seed: subSeed(o.seed, consumerSeeds++),
        batchBytes: o.batchBytes,
        style: o.consumerStyle,
        ...(o.wait ? { wait: o.wait } : {}),
        ...(index === undefined ? {} : { index }),
        ...(gate === undefined ? {} : { gate }),
      };
      const worker = new TestWorker(name, job);
      all.push(worker);
      mesh.consumers.push(worker);
      return worker;
    },
  };
  const deadline = performance.now() + o.timeoutMs;
  const left = () => Math.max(1, deadline - performance.now());
  for (let c = 0; c < o.consumers; c++) mesh.startConsumer(`consumer ${c}`);
  for (const w of mesh.consumers) mesh.slots.set(w, (await w.message<Attached>('attached', left())).index);
  for (let p = 0; p < o.producers; p++) {
    const job: ProducerJob = {
      role: 'producer',
      buffer: ring.buffer,
      id: p,
      count: o.perProducer,
      seed: subSeed(o.seed, p),
      style: o.producerStyle,
      minPayload: o.minPayload,
      maxPayload: o.maxPayload,
      bigChance: o.bigChance,
      batchBytes: o.batchBytes,
      ...(o.wait ? { wait: o.wait } : {}),
    };
    const worker = new TestWorker(`producer ${p}`, job);
    all.push(worker);
    mesh.producers.push(worker);
  }
  const watchdog = new Watchdog(
    () => ring.stats().pushedMessages + ring.stats().poppedMessages,
    STALL_MS,
    () => describeStats(ring),
  );
  t.teardown(() => watchdog.stop());
  const meanwhile = o.meanwhile?.(mesh);
  meanwhile?.catch(() => {}); // reported when awaited below, not as an unhandled rejection
  if (o.closeWhen) {
    await watchdog.guard(until(() => o.closeWhen!(ring), left(), 'the moment to close'));
    ring.close();
    const closed = await watchdog.guard(Promise.all(mesh.producers.map((w) => w.message<Closed>('closed', left()))));
    mesh.sent = closed.map((m) => m.sent);
    t.ok(
      mesh.sent.every((n) => n > 0 && n < o.perProducer),
      `seed ${o.seed}: every producer was pushing when the ring closed (${mesh.sent})`,
    );
  } else {
    const done = await watchdog.guard(
      Promise.all(mesh.producers.map((w) => w.message<{ type: 'done'; sent: number }>('done', left()))),
    );
    mesh.sent = done.map((m) => m.sent);
    t.same(mesh.sent, new Array(o.producers).fill(o.perProducer), `seed ${o.seed}: every producer pushed its ${o.perProducer} messages`);
    await watchdog.guard(meanwhile ?? Promise.resolve());
    ring.close();
  }
  // Consumers started by `meanwhile` are in mesh.consumers too; a stopped one has reported already.
  for (const w of mesh.consumers) if (!mesh.reports.has(w)) await watchdog.guard(mesh.collect(w, left()));
  watchdog.stop();
  return mesh;
}

/** Asserts exactly-once, per-producer order within each consumer, payload integrity and reconciled stats. */
function checkDelivery(t: Test, o: MeshOptions, mesh: Mesh): void {
  const label = `seed ${o.seed}`;
  const total = mesh.sent.reduce((a, b) => a + b, 0);
  const reports = [...mesh.reports.values()];
  const sum = (f: (r: ConsumerReport) => number) => reports.reduce((acc, r) => acc + f(r), 0);
  const firstError = reports.map((r) => r.firstError).find((e) => e !== '');
  const first = firstError === undefined ? '' : ` (first problem: ${firstError})`;
  t.equal(sum((r) => r.corrupt), 0, `${label}: no corrupt payload${first}`);
  t.equal(sum((r) => r.outOfOrder), 0, `${label}: each consumer saw each producer's messages in order${first}`);
  t.equal(sum((r) => r.duplicates), 0, `${label}: no message was delivered twice${first}`);
  t.equal(sum((r) => r.popped), total, `${label}: consumers popped the ${total} messages pushed`);

  const wrongProducers: string[] = [];
  for (let p = 0; p < o.producers; p++) {
    const sent = mesh.sent[p]!;
    const count = sum((r) => r.counts[p]!);
    const seqSum = sum((r) => r.seqSums[p]!);
    if (count !== sent || seqSum !== (sent * (sent - 1)) / 2) {
      wrongProducers.push(`producer ${p}: ${count} of ${sent} messages, seq sum ${seqSum}`);
    }
  }
  t.same(wrongProducers, [], `${label}: per producer, count and sum of seqs match what was sent`);

  const words = new Int32Array(mesh.bitmap);
  const missing: string[] = [];
  for (let p = 0; p < o.producers && missing.length < 5; p++) {
    for (let seq = 0; seq < mesh.sent[p]! && missing.length < 5; seq++) {
      if ((words[p * mesh.bitmapWords + (seq >>> 5)]! & (1 << (seq & 31))) === 0) missing.push(`(${p}, ${seq})`);
    }
  }
  t.same(missing, [], `${label}: every (producer, seq) that was pushed arrived`);

  const s = mesh.ring.stats();
  t.same(
    [s.pushedMessages, s.poppedMessages, s.depthMessages, s.depthBytes],
    [total, total, 0, 0],
    `${label}: stats reconcile (pushed, popped, depth messages, depth bytes)`,
  );
  t.equal(s.attachedProducers, 0, `${label}: producers detached when done`);
}

t.test('10 producers x 10 consumers pass 5,000,000 messages exactly once through 256-byte lanes', async (t) => {
  const o: MeshOptions = {
    seed: testSeed(),
    producers: 10,
    consumers: 10,
    laneCapacityBytes: 256,
    perProducer: 500_000,
    producerStyle: 'mixed',
    consumerStyle: 'mixed',
    minPayload: 8,
    maxPayload: 120,
    bigChance: 0.05,
    batchBytes: 2048,
    timeoutMs: 90_000,
  };
  const start = performance.now();
  const mesh = await runMesh(t, o);
  const ms = performance.now() - start;
  checkDelivery(t, o, mesh);
  const s = mesh.ring.stats();
  t.ok(s.pushedBytes / o.laneCapacityBytes > 100 * 100, `seed ${o.seed}: lanes wrapped about ${Math.round(s.pushedBytes / o.laneCapacityBytes / 100)} times each`);
  t.comment(`5M messages in ${ms.toFixed(0)} ms (${((5e6 / ms) * 1000).toFixed(0)} msg/s), producers blocked ${s.producerBlockedWaits} times`);
});

t.test('2 producers x 2 consumers pushing and popping one message at a time deliver each exactly once', async (t) => {
  const o: MeshOptions = {
    seed: testSeed(),
    producers: 2,
    consumers: 2,
    laneCapacityBytes: 64,
    perProducer: 100_000,
    producerStyle: 'single',
    consumerStyle: 'one',
    minPayload: 8,
    maxPayload: 60,
    bigChance: 0.2,
    batchBytes: 256,
    timeoutMs: 60_000,
  };
  const mesh = await runMesh(t, o);
  checkDelivery(t, o, mesh);
});

t.test("with the 'sleep' wait policy (no spinning), 6 x 6 threads blocking on full and empty lanes deliver each message exactly once", async (t) => {
  const o: MeshOptions = {
    seed: testSeed(),
    producers: 6,
    consumers: 6,
    laneCapacityBytes: 128,
    perProducer: 100_000,
    producerStyle: 'mixed',
    consumerStyle: 'mixed',
    minPayload: 8,
    maxPayload: 100,
    bigChance: 0.1,
    batchBytes: 512,
    timeoutMs: 120_000,
    wait: 'sleep',
  };
  const mesh = await runMesh(t, o);
  checkDelivery(t, o, mesh);
  const s = mesh.ring.stats();
  t.ok(s.producerBlockedWaits > 100, `producers slept on full lanes ${s.producerBlockedWaits} times`);
});

t.test('a consumer stopped under load drains, reports DONE, and its slot is reused; nothing is lost', async (t) => {
  let stoppedReport: ConsumerReport | undefined;
  let replacement: TestWorker | undefined;
  const o: MeshOptions = {
    seed: testSeed(),
    producers: 4,
    consumers: 3,
    laneCapacityBytes: 256,
    perProducer: 200_000,
    producerStyle: 'mixed',
    consumerStyle: 'mixed',
    minPayload: 8,
    maxPayload: 120,
    bigChance: 0.05,
    batchBytes: 2048,
    timeoutMs: 60_000,
    meanwhile: async (mesh) => {
      const total = o.producers * o.perProducer;
      // Start the replacement now (a worker takes a while to boot on a busy box); it attaches when the gate opens.
      const gate = new SharedArrayBuffer(4);
      replacement = mesh.startConsumer('replacement consumer 1', 1, gate);
      await replacement.message('started', 30_000);
      await until(() => mesh.ring.stats().poppedMessages > total * 0.2, 30_000, '20% of the messages to be popped');
      const stopped = mesh.consumers.find((w) => mesh.slots.get(w) === 1)!;
      mesh.ring.stopConsumer(1);
      stoppedReport = await mesh.collect(stopped, 10_000);
      t.equal(mesh.ring.closed, false, 'the stopped consumer reported DONE while the ring was open');
      t.equal(mesh.ring.stats().openConsumers, 2, 'two consumers are left open');
      Atomics.store(new Int32Array(gate), 0, 1);
      Atomics.notify(new Int32Array(gate), 0);
      const attached = await replacement.message<Attached>('attached', 10_000);
      t.equal(attached.index, 1, 'a new consumer attaches to the freed slot');
      const pushed = mesh.ring.stats().pushedMessages;
      t.ok(pushed < total * 0.9, `seed ${o.seed}: producers were still pushing when it attached (${pushed} of ${total})`);
    },
  };
  const mesh = await runMesh(t, o);
  checkDelivery(t, o, mesh);
  t.ok(stoppedReport!.popped > 0, `the stopped consumer had popped ${stoppedReport!.popped} before it left`);
  const replacementReport = mesh.reports.get(replacement!)!;
  t.ok(replacementReport.popped > 0, `seed ${o.seed}: the replacement got messages too (${replacementReport.popped})`);
});

t.test('close under load delivers exactly the messages the ring accepted before it', async (t) => {
  const o: MeshOptions = {
    seed: testSeed(),
    producers: 4,
    consumers: 3,
    laneCapacityBytes: 256,
    perProducer: 4_000_000,
    producerStyle: 'mixed',
    consumerStyle: 'mixed',
    minPayload: 8,
    maxPayload: 120,
    bigChance: 0.05,
    batchBytes: 2048,
    timeoutMs: 30_000,
    closeWhen: (ring) => ring.stats().poppedMessages > 300_000,
  };
  const mesh = await runMesh(t, o);
  checkDelivery(t, o, mesh);
});

t.test('close wakes producers blocked on a full ring and consumers blocked on an empty one', async (t) => {
  const seed = testSeed();
  const all: TestWorker[] = [];
  t.teardown(() => Promise.all(all.map((w) => w.terminate())).then(() => undefined));

  // Ring A: three producers and one consumer slot that the main thread holds and does not pop.
  const full = FreeRing.create({ maxProducers: 3, maxConsumers: 1, laneCapacityBytes: 256 });
  const holder = full.attachConsumer();
  const styles: ProducerJob['style'][] = ['single', 'batch', 'mixed'];
  const producers = styles.map((style, p) => {
    const job: ProducerJob = {
      role: 'producer',
      buffer: full.buffer,
      id: p,
      count: Infinity,
      seed: subSeed(seed, p),
      style,
      minPayload: 8,
      maxPayload: 100,
      bigChance: 0.2,
      batchBytes: 1024,
    };
    const w = new TestWorker(`blocked producer ${p} (${style})`, job);
    all.push(w);
    return w;
  });

  // Ring B: nobody pushes; three consumers wait in pop.
  const empty = FreeRing.create({ maxProducers: 1, maxConsumers: 3, laneCapacityBytes: 256 });
  const consumers = [0, 1, 2].map((c) => {
    const job: ConsumerJob = {
      role: 'consumer',
      buffer: empty.buffer,
      producers: 1,
      bitmap: new SharedArrayBuffer(4),
      bitmapWords: 1,
      seed: subSeed(seed, 100 + c),
      batchBytes: 1024,
      style: 'pop',
    };
    const w = new TestWorker(`waiting consumer ${c}`, job);
    all.push(w);
    return w;
  });

  await Promise.all([...producers, ...consumers].map((w) => w.message('attached', 10_000)));
  // Every producer has hit a full lane and gone to wait; give them time to fall asleep.
  await until(() => full.stats().producerBlockedWaits >= 3, 10_000, 'all three producers to block');
  await sleep(200);
  t.ok(full.stats().depthBytes > 3 * 256 - 3 * 104, `ring A is full (${full.stats().depthBytes} of ${3 * 256} bytes)`);
  t.notOk(
    [...producers, ...consumers].some((w) => w.has('done') || w.has('closed')),
    'nobody has finished before the close',
  );

  full.close();
  empty.close();
  const start = performance.now();
  const closed = await Promise.all(
    producers.map((w) => w.message<Closed>('closed', 5_000)),
  );
  const reports = await Promise.all(consumers.map((w) => w.message<ConsumerReport>('done', 5_000)));
  t.ok(performance.now() - start < 2_000, `all woke within ${(performance.now() - start).toFixed(0)} ms of the close`);
  t.same(
    closed.map((m) => m.name),
    [RingClosedError.name, RingClosedError.name, RingClosedError.name],
    'each blocked producer got RingClosedError',
  );
  t.same(
    reports.map((r) => r.popped),
    [0, 0, 0],
    'each waiting consumer got DONE with nothing popped',
  );

  // The held consumer drains ring A: exactly what the producers say the ring accepted, in order, intact.
  const batch = new MessageBatch(4096);
  const next = [0, 0, 0];
  let bad = '';
  let drained = 0;
  for (let n = holder.tryPop(batch); n !== DONE; n = holder.tryPop(batch)) {
    if (n === 0) {
      bad ||= 'tryPop returned 0 on a closed ring with no producer left';
      break;
    }
    batch.forEach((bytes, offset, length) => {
      const id = payloadProducer(bytes, offset);
      if (!payloadOk(bytes, offset, length) || id > 2) bad ||= `corrupt message after ${drained}`;
      else if (payloadSeq(bytes, offset) !== next[id]!++) bad ||= `producer ${id}: seq ${payloadSeq(bytes, offset)}, expected ${next[id]! - 1}`;
      drained++;
    });
    batch.reset();
  }
  t.equal(bad, '', `seed ${seed}: the drained messages are intact and in order`);
  t.same(next, closed.map((m) => m.sent), `seed ${seed}: the holder drained exactly the messages each producer had pushed`);
  const s = full.stats();
  t.same([s.pushedMessages, s.poppedMessages, s.depthBytes], [drained, drained, 0], 'ring A stats reconcile');
});
