import t from 'tap';
import { FreeRing, MessageBatch } from '../src/index.js';

function batchOf(...values: number[]): MessageBatch {
  const batch = new MessageBatch(256);
  for (const v of values) batch.push(new Uint8Array([v]));
  return batch;
}

function popValues(consumer: ReturnType<FreeRing['attachConsumer']>): number[] {
  const batch = new MessageBatch(4096);
  consumer.tryPop(batch);
  return batch.toArrays().map((a) => a[0]!);
}

t.test('route maps a key to the same open consumer, and spreads keys over all of them', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 4, laneCapacityBytes: 256 });
  const producer = ring.attachProducer();
  t.equal(producer.route(7), -1, 'no consumer open: -1');
  ring.attachConsumer({ index: 1 });
  ring.attachConsumer({ index: 3 });
  t.equal(producer.route(7), producer.route(7), 'stable');
  t.same(new Set([0, 1, 2, 3].map((k) => producer.route(k))), new Set([1, 3]), 'only open consumers, all of them');
  ring.stopConsumer(3);
  t.same(new Set([0, 1, 2, 3].map((k) => producer.route(k))), new Set([1]), 'a leaving consumer gets no new keys');
});

t.test('a push aimed at a consumer goes only there, and reports 0 when it is full or not open', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 2, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const c0 = ring.attachConsumer({ index: 0 });
  const c1 = ring.attachConsumer({ index: 1 });
  t.equal(producer.tryPushBatch(batchOf(1, 2, 3), 1), 3);
  t.same(popValues(c0), [], 'nothing reached consumer 0');
  t.same(popValues(c1), [1, 2, 3]);
  const big = batchOf(...Array.from({ length: 12 }, (_, i) => i));
  t.equal(producer.tryPushBatch(big, 1), 8, 'only what lane 1 holds (8 records of 8 bytes)');
  t.equal(producer.tryPushBatch(big, 1), 0, 'lane 1 full: 0, even though lane 0 is empty');
  t.same(popValues(c0), [], 'consumer 0 still got nothing');
  ring.stopConsumer(1);
  t.equal(producer.pushBatch(big, 1000, 1), 0, 'a blocking push to a consumer that left returns at once with nothing moved');
  t.equal(big.sentCount, 8, 'the rest is left for the caller to re-route');
});

t.test('generation tells a new consumer in a reused slot from the one that left', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const first = ring.attachConsumer({ index: 0 });
  const gen = producer.generation(0);
  t.equal(producer.tryPushBatch(batchOf(1), 0, gen), 1);
  first.stop();
  t.same(popValues(first), [1], 'the leaving consumer drains');
  t.equal(first.tryPop(new MessageBatch(64)), -1, 'and is done');
  const second = ring.attachConsumer({ index: 0 });
  t.not(producer.generation(0), gen, 'the slot has a new generation');
  t.ok(producer.isOpen(0), 'slot 0 is open');
  t.notOk(producer.isOpen(0, gen), 'but not for the old generation');
  t.equal(producer.tryPushBatch(batchOf(2), 0, gen), 0, 'a push meant for the old consumer does not reach the new one');
  t.equal(producer.pushBatch(batchOf(2), 1000, 0, gen), 0, 'nor a blocking one, which returns at once');
  t.equal(producer.tryPushBatch(batchOf(3), 0, producer.generation(0)), 1);
  t.same(popValues(second), [3]);
});

t.test('takeover claims a slot in use, keeping its lanes, so a replacement thread drains what a dead one left', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 256 });
  const producer = ring.attachProducer({ index: 0 });
  ring.attachConsumer({ index: 0 }); // its thread "dies" without popping
  t.equal(producer.tryPushBatch(batchOf(4, 5)), 2);
  t.throws(() => ring.attachConsumer({ index: 0 }), /consumer slot 0 is in use/);
  t.throws(() => ring.attachConsumer({ takeover: true }), /takeover needs the index/);
  const replacement = ring.attachConsumer({ index: 0, takeover: true });
  t.same(popValues(replacement), [4, 5], 'the replacement gets the queued messages');
  const producer2 = ring.attachProducer({ index: 0, takeover: true });
  t.equal(producer2.tryPushBatch(batchOf(6)), 1, 'a producer slot can be taken over too');
  t.same(popValues(replacement), [6]);
});

t.test('with manualRelease, popped messages keep their space until release(), and a takeover gets them again', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const dying = ring.attachConsumer({ index: 0, manualRelease: true });
  t.equal(producer.tryPushBatch(batchOf(...Array.from({ length: 8 }, (_, i) => i))), 8, 'the lane is full');
  t.same(popValues(dying), [0, 1, 2, 3, 4, 5, 6, 7]);
  t.equal(producer.tryPushBatch(batchOf(9)), 0, 'popped but not released: still no room');
  // The consumer "dies" here, before release(): a replacement takes the slot over.
  const replacement = ring.attachConsumer({ index: 0, takeover: true, manualRelease: true });
  t.same(popValues(replacement), [0, 1, 2, 3, 4, 5, 6, 7], 'it gets the unacknowledged messages again');
  replacement.release();
  t.equal(producer.tryPushBatch(batchOf(9)), 1, 'after release() the space is free');
  t.same(popValues(replacement), [9]);
});
