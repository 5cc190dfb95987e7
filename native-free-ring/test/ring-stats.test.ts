/**
 * FreeRing.stats() on one thread: message and byte counters, depth, the
 * high-water mark and slot counts. (Blocked-wait counters are checked with the
 * timed pushes in ring-lifecycle.test.ts; reconciliation under load in
 * stress.test.ts.)
 */
import t from 'tap';
import { FreeRing, MessageBatch } from '../src/index.js';
import { fill, popAll, seqMessage } from './fixtures/ring-helpers.js';

t.test('stats counts messages, bytes, depth and the high-water mark', async (t) => {
  const ring = FreeRing.create({ maxProducers: 2, maxConsumers: 2, laneCapacityBytes: 64 });
  const p0 = ring.attachProducer();
  const p1 = ring.attachProducer();
  const c0 = ring.attachConsumer();
  let s = ring.stats();
  t.same(
    [s.closed, s.lanes, s.laneCapacityBytes, s.capacityBytes, s.maxMessageBytes, s.attachedProducers, s.openConsumers],
    [false, 4, 64, 256, 60, 2, 1],
  );
  for (let i = 0; i < 3; i++) p0.tryPush(seqMessage(i, 8)); // 3 × 12 bytes, all to c0
  t.equal(p1.tryPush(seqMessage(9, 12)), 1); // 16 bytes
  s = ring.stats();
  t.same(
    [s.pushedMessages, s.pushedBytes, s.poppedMessages, s.poppedBytes, s.depthMessages, s.depthBytes],
    [4, 36, 0, 0, 4, 52],
    'pushed counts payload bytes; depth counts the record bytes waiting',
  );
  t.equal(fill(p0, 10, 8), 2, 'two more 12-byte records fill the lane to 60 bytes');
  s = ring.stats();
  t.equal(s.depthBytes, 76);
  t.ok(
    s.highWaterMarkBytes >= 60 && s.highWaterMarkBytes <= 64,
    `a lane that filled up sets the high-water mark to about its fill (got ${s.highWaterMarkBytes})`,
  );
  const peak = s.highWaterMarkBytes;
  popAll(c0);
  s = ring.stats();
  t.same(
    [s.pushedMessages, s.pushedBytes, s.poppedMessages, s.poppedBytes, s.depthMessages, s.depthBytes],
    [6, 52, 6, 52, 0, 0],
    'after draining: all popped and nothing waits',
  );
  t.equal(s.highWaterMarkBytes, peak, 'the mark remembers the peak');
  t.same([s.producerBlockedWaits, s.producerBlockedMs], [0, 0], 'nobody had to wait');
  p1.detach();
  ring.stopConsumer(c0.index);
  s = ring.stats();
  t.same([s.attachedProducers, s.openConsumers], [1, 0], 'detached producers and stopped consumers are not counted');
});

t.test('highWaterMarkBytes reports the fullest a lane has been, even if it never filled', async (t) => {
  // RingStats documents it as "Fullest any single lane has been, in bytes".
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 256 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  for (let i = 0; i < 4; i++) producer.tryPush(seqMessage(i, 8)); // 48 bytes in the lane
  t.equal(ring.stats().depthBytes, 48);
  popAll(consumer);
  t.equal(ring.stats().highWaterMarkBytes, 48, 'four 12-byte records were waiting at once');
});

t.test('pushedBytes and poppedBytes count payload bytes alike for single and batched messages', async (t) => {
  // Payload lengths that are not multiples of 4, so padding would show.
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 128 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  producer.tryPush(new Uint8Array(1));
  producer.tryPush(new Uint8Array(5));
  let s = ring.stats();
  t.equal(s.pushedBytes, 6, 'tryPush counts 1 + 5 payload bytes');
  const batch = new MessageBatch(64);
  batch.push(new Uint8Array(1));
  batch.push(new Uint8Array(6));
  producer.tryPushBatch(batch);
  s = ring.stats();
  t.equal(s.pushedBytes, 13, 'tryPushBatch adds 1 + 6 payload bytes, not their padded records');
  popAll(consumer);
  s = ring.stats();
  t.equal(s.poppedBytes, 13, 'tryPop counts the same 13 payload bytes');
  t.equal(s.poppedBytes, s.pushedBytes, 'so pushed and popped bytes reconcile');
});
