/**
 * The blocking calls (push, pushBatch, pop) on the main thread, woken by
 * another thread: a worker closes the ring while the main thread waits in
 * Atomics.wait (Node allows that on the main thread). Needs the compiled
 * worker: `npm run build`.
 */
import t, { type Test } from 'tap';
import { DONE, FreeRing, MessageBatch, RingClosedError } from '../src/index.js';
import { compiledUrl } from './fixtures/compiled.js';
import { popSeqs, seqMessage, since } from './fixtures/ring-helpers.js';
import { TestWorker } from './fixtures/test-worker.js';

compiledUrl('test/fixtures/stress-worker.js'); // fail clearly when not built

/** Starts a worker that closes `ring` `delayMs` after it is running, and waits until it runs. */
async function closeFromWorker(t: Test, ring: FreeRing, delayMs: number): Promise<TestWorker> {
  const closer = new TestWorker('closer', { role: 'closer', buffer: ring.buffer, delayMs });
  t.teardown(() => closer.terminate().then(() => undefined));
  await closer.message('started', 10_000);
  return closer;
}

/** Calls `fn`, which should throw; returns what it threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

t.test('pushBatch woken by a close on another thread reports the messages it moved before', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  const batch = new MessageBatch(256);
  for (let i = 0; i < 10; i++) batch.push(seqMessage(i)); // five 12-byte records fit the lane
  const closer = await closeFromWorker(t, ring, 200);
  const start = performance.now();
  const err = thrown(() => producer.pushBatch(batch));
  t.ok(since(start) >= 100, `pushBatch waited for the close (${since(start).toFixed(0)} ms)`);
  t.ok(err instanceof RingClosedError, `it threw RingClosedError (${String(err)})`);
  t.same([batch.sentCount, batch.sentBytes], [5, 60], 'the five that fit were moved');
  t.equal((err as RingClosedError).moved, 5, 'and RingClosedError.moved counts them, as pushBatchAsync does');
  t.same(popSeqs(consumer), [0, 1, 2, 3, 4]);
  await closer.message('closed', 10_000);
});

t.test('push waiting on a full ring is woken by a close on another thread', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  ring.attachConsumer();
  while (producer.tryPush(seqMessage(0)) === 1);
  await closeFromWorker(t, ring, 200);
  const start = performance.now();
  const err = thrown(() => producer.push(seqMessage(1)));
  t.ok(since(start) >= 100, `push waited for the close (${since(start).toFixed(0)} ms)`);
  t.ok(err instanceof RingClosedError, `it threw RingClosedError (${String(err)})`);
  t.equal((err as RingClosedError).moved, 0);
});

t.test('pop waiting on an empty ring is woken by a close on another thread and returns DONE', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  ring.attachProducer();
  const consumer = ring.attachConsumer();
  await closeFromWorker(t, ring, 200);
  const start = performance.now();
  t.equal(consumer.pop(new MessageBatch(64)), DONE);
  t.ok(since(start) >= 100, `pop waited for the close (${since(start).toFixed(0)} ms)`);
});
