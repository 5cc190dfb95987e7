/**
 * FreeRing lifecycle on one thread: full policies and timeouts, close,
 * stopConsumer (scale down), attaching and detaching slots, and the async
 * calls the main thread uses. The blocking calls are fine here because each
 * one is given a short timeout or cannot block (Node lets the main thread
 * Atomics.wait).
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { CLOSED, DONE, FreeRing, MessageBatch, RingClosedError } from '../src/index.js';
import { compiledUrl } from './fixtures/compiled.js';
import { fill, popSeqs, seqMessage, seqOf, since } from './fixtures/ring-helpers.js';

/** A 1 producer × 1 consumer ring with 64-byte lanes: five 8-byte messages fill it. */
function tiny(onFull: 'wait' | 'fail' = 'wait') {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer({ onFull });
  const consumer = ring.attachConsumer();
  return { ring, producer, consumer };
}

/**
 * Keeps the event loop alive until the returned function is called. On Node
 * 20 a pending Atomics.waitAsync does not (nodejs/node#61941): a test whose
 * only pending work is a timed popAsync/pushAsync would end before it settles.
 * See "a timed popAsync settles even when nothing else keeps the process alive".
 */
function keepAlive(): () => void {
  const timer = setInterval(() => {}, 1000);
  return () => clearInterval(timer);
}

t.test("push with onFull 'fail' returns false at once when the ring is full", async (t) => {
  const { ring, producer, consumer } = tiny('fail');
  t.equal(producer.onFull, 'fail');
  t.equal(fill(producer), 5);
  const start = performance.now();
  t.equal(producer.push(seqMessage(5)), false, 'push');
  const batch = new MessageBatch(64);
  batch.push(seqMessage(5));
  t.equal(producer.pushBatch(batch), 0, 'pushBatch moves nothing');
  t.equal(await producer.pushAsync(seqMessage(5)), false, 'pushAsync');
  t.ok(since(start) < 100, `and none of them waited (${since(start).toFixed(1)} ms)`);
  t.equal(ring.stats().producerBlockedWaits, 0, 'no wait was counted');
  t.same(popSeqs(consumer), [0, 1, 2, 3, 4], 'nothing extra was queued');
  t.equal(producer.push(seqMessage(5)), true, 'with room, push succeeds');
});

t.test("attachProducer rejects an onFull that is not 'wait' or 'fail'", async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  t.throws(() => ring.attachProducer({ onFull: 'drop' as 'fail' }), { name: 'RangeError', message: /onFull must be 'wait' or 'fail', got drop/ });
  t.equal(ring.stats().attachedProducers, 0, 'no slot was taken');
});

t.test('push with timeoutMs returns false after about the timeout', async (t) => {
  const { ring, producer } = tiny();
  fill(producer);
  let start = performance.now();
  t.equal(producer.push(seqMessage(9), 0, 8, 100), false);
  const waited = since(start);
  t.ok(waited >= 95 && waited < 2000, `push waited ${waited.toFixed(1)} ms for a 100 ms timeout`);
  let s = ring.stats();
  t.ok(s.producerBlockedWaits >= 1, `producerBlockedWaits counts the wait (${s.producerBlockedWaits})`);
  t.ok(s.producerBlockedMs >= 90, `producerBlockedMs counts its time (${s.producerBlockedMs.toFixed(1)} ms)`);

  const batch = new MessageBatch(64);
  batch.push(seqMessage(10));
  start = performance.now();
  t.equal(producer.pushBatch(batch, 50), 0, 'pushBatch times out too');
  t.ok(since(start) >= 45, `after ${since(start).toFixed(1)} ms`);
  t.equal(batch.sentCount, 0);
  s = ring.stats();
  t.ok(s.producerBlockedWaits >= 2, 'and that wait is counted as well');
  t.equal(s.pushedMessages, 5, 'nothing was queued by the timed-out calls');
});

t.test('pop with timeoutMs returns 0 after about the timeout', async (t) => {
  const { consumer } = tiny();
  const start = performance.now();
  t.equal(consumer.pop(new MessageBatch(64), Infinity, 50), 0);
  t.ok(since(start) >= 45 && since(start) < 2000, `after ${since(start).toFixed(1)} ms`);
});

t.test('after close, tryPush returns CLOSED and pop drains what is left, then DONE', async (t) => {
  const ring = FreeRing.create({ maxProducers: 2, maxConsumers: 2, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const c0 = ring.attachConsumer();
  const c1 = ring.attachConsumer();
  for (let i = 0; i < 6; i++) producer.tryPush(seqMessage(i));
  ring.close();
  t.equal(ring.closed, true);
  t.equal(ring.stats().closed, true);
  t.equal(producer.tryPush(seqMessage(6)), CLOSED, 'tryPush');
  const batch = new MessageBatch(64);
  batch.push(seqMessage(7));
  t.equal(producer.tryPushBatch(batch), CLOSED, 'tryPushBatch');
  t.equal(batch.sentCount, 0);
  const got = [...popSeqs(c0), ...popSeqs(c1)].sort((a, b) => a - b);
  t.same(got, [0, 1, 2, 3, 4, 5], 'the consumers drain every message pushed before the close');
  const out = new MessageBatch(64);
  t.equal(c0.tryPop(out), DONE, 'then tryPop reports DONE');
  t.equal(c0.tryPop(out), DONE, 'and keeps doing so');
  t.equal(c1.pop(out), DONE, 'pop reports DONE without blocking');
  t.equal(await c1.popAsync(out), DONE, 'popAsync too');
  t.equal(out.count, 0, 'DONE appends nothing');
  ring.close();
  t.equal(ring.closed, true, 'close is idempotent');
  const s = ring.stats();
  t.same([s.pushedMessages, s.poppedMessages, s.depthBytes], [6, 6, 0]);
});

t.test('close lets a consumer drain messages that are still queued when it first looks', async (t) => {
  const { ring, producer, consumer } = tiny();
  fill(producer);
  ring.close();
  const small = new MessageBatch(24); // two 12-byte records per pop
  const rounds: number[] = [];
  for (let n = consumer.tryPop(small); n !== DONE; n = consumer.tryPop(small)) {
    t.ok(n > 0, 'never 0 while draining a closed ring');
    rounds.push(n);
    small.reset();
    if (rounds.length > 10) break;
  }
  t.same(rounds, [2, 2, 1]);
});

t.test('a blocking push on a closed ring throws RingClosedError', async (t) => {
  const { ring, producer } = tiny();
  ring.close();
  const err = t.throws(() => producer.push(seqMessage(1))) as RingClosedError;
  t.ok(err instanceof RingClosedError, 'push throws RingClosedError');
  t.equal(err.name, 'RingClosedError');
  t.equal(err.moved, 0);
  t.match(err.message, /closed/);
  const batch = new MessageBatch(64);
  batch.push(seqMessage(1));
  t.throws(() => producer.pushBatch(batch), { name: 'RingClosedError', moved: 0 }, 'pushBatch too');
  await t.rejects(producer.pushAsync(seqMessage(1)), { name: 'RingClosedError' }, 'pushAsync rejects');
  await t.rejects(producer.pushBatchAsync(batch), { name: 'RingClosedError', moved: 0 }, 'pushBatchAsync rejects');
});

t.test('a push waiting for room when the ring closes fails with how many messages it had moved', async (t) => {
  const { ring, producer, consumer } = tiny();
  const batch = new MessageBatch(256);
  for (let i = 0; i < 10; i++) batch.push(seqMessage(i));
  setTimeout(() => ring.close(), 30);
  const start = performance.now();
  const err = await producer.pushBatchAsync(batch).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof RingClosedError, 'pushBatchAsync rejects with RingClosedError');
  t.equal((err as RingClosedError).moved, 5, 'after moving the five that fit');
  t.ok(since(start) >= 20, `it waited for the close (${since(start).toFixed(1)} ms)`);
  t.same([batch.sentCount, batch.sentBytes], [5, 60]);
  t.same(popSeqs(consumer), [0, 1, 2, 3, 4], 'the moved ones are still delivered');
  t.equal(consumer.tryPop(new MessageBatch(64)), DONE);
});

t.test('stopConsumer routes producers to the remaining consumer while the stopped one drains', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 2, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const c0 = ring.attachConsumer();
  const c1 = ring.attachConsumer();
  t.same([c0.index, c1.index], [0, 1]);
  for (let i = 0; i < 4; i++) producer.tryPush(seqMessage(i, 4)); // 8-byte records
  const before0 = ring.stats().depthBytes;
  t.equal(before0, 32);
  ring.stopConsumer(0);
  t.equal(ring.stats().openConsumers, 1, 'the stopped consumer no longer counts as open');
  t.equal(fill(producer, 4, 4), 6, 'new messages fill only the remaining lane: six more 8-byte records');
  const drained = popSeqs(c0);
  t.equal(drained.length, 2, 'the stopped consumer still gets what was queued for it');
  t.ok(drained.every((seq) => seq < 4), `and nothing pushed after the stop (${drained})`);
  t.equal(c0.tryPop(new MessageBatch(64)), DONE, 'then it reports DONE');
  const rest = popSeqs(c1);
  t.same(
    [...drained, ...rest].sort((a, b) => a - b),
    Array.from({ length: 10 }, (_, i) => i),
    'every message went to exactly one consumer',
  );
  t.ok(
    rest.every((seq, i) => i === 0 || seq > rest[i - 1]!),
    'the remaining consumer got them in order',
  );

  const again = ring.attachConsumer({ index: 0 });
  t.equal(again.index, 0, 'the stopped slot can be attached again');
  t.equal(ring.stats().openConsumers, 2);
  t.equal(fill(producer, 100, 4), 16, 'producers route to it again: both lanes fill');
  t.equal(popSeqs(again).length, 8, 'the new consumer gets its share');
  t.equal(popSeqs(c1).length, 8);
});

t.test('consumer.stop with nothing queued reports DONE at once and frees the slot', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  consumer.stop();
  t.equal(producer.tryPush(seqMessage(1)), 0, 'with its only consumer stopped, the ring is full to producers');
  const start = performance.now();
  t.equal(consumer.pop(new MessageBatch(64), Infinity, 1000), DONE, 'pop returns DONE, not a timeout');
  t.ok(since(start) < 500, `at once (${since(start).toFixed(1)} ms)`);
  const next = ring.attachConsumer();
  t.equal(next.index, 0, 'the slot is free for the next consumer');
  t.equal(producer.tryPush(seqMessage(2)), 1, 'which producers use at once');
  t.same(popSeqs(next), [2]);
});

t.test('stopConsumer wakes a consumer waiting in popAsync, which reports DONE', async (t) => {
  const { ring, consumer } = tiny();
  setTimeout(() => ring.stopConsumer(0), 30);
  const start = performance.now();
  t.equal(await consumer.popAsync(new MessageBatch(64), Infinity, 5000), DONE);
  t.ok(since(start) >= 20 && since(start) < 2000, `woken by the stop after ${since(start).toFixed(1)} ms`);
});

t.test('stopConsumer on a free or already stopped slot changes nothing; a bad index throws', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 2, laneCapacityBytes: 64 });
  ring.stopConsumer(1); // never attached
  const c = ring.attachConsumer({ index: 1 });
  t.equal(ring.stats().openConsumers, 1, 'a stop before attaching does not stick');
  ring.stopConsumer(1);
  ring.stopConsumer(1);
  t.equal(c.tryPop(new MessageBatch(64)), DONE);
  t.throws(() => ring.stopConsumer(2), { name: 'RangeError', message: 'consumer index must be an integer from 0 to 1, got 2' });
  t.throws(() => ring.stopConsumer(-1), { name: 'RangeError' });
});

t.test('a producer attached while a stopped consumer slot is empty routes to the consumer that attaches there next', async (t) => {
  const ring = FreeRing.create({ maxProducers: 2, maxConsumers: 1, laneCapacityBytes: 64 });
  const first = ring.attachConsumer();
  first.stop();
  t.equal(first.tryPop(new MessageBatch(64)), DONE, 'the stopped consumer is done and its slot free');
  const producer = ring.attachProducer(); // attaches while the slot has no consumer
  t.equal(producer.tryPush(seqMessage(1)), 0, 'no open consumer: full');
  const second = ring.attachConsumer();
  t.equal(second.index, 0);
  t.equal(fill(producer, 2), 5, 'the producer fills the lane of the new consumer');
  t.same(popSeqs(second), [2, 3, 4, 5, 6]);
});

t.test('blocking calls reject a negative or NaN timeout with RangeError', async (t) => {
  const { producer, consumer } = tiny();
  fill(producer);
  t.throws(() => producer.push(seqMessage(9), 0, 8, -1), { name: 'RangeError', message: 'timeoutMs must be a number >= 0, got -1' });
  const batch = new MessageBatch(64);
  batch.push(seqMessage(9));
  t.throws(() => producer.pushBatch(batch, NaN), { name: 'RangeError', message: /timeoutMs must be a number >= 0, got NaN/ });
  popSeqs(consumer);
  t.throws(() => consumer.pop(new MessageBatch(64), Infinity, -5), { name: 'RangeError', message: /got -5/ });
  await t.rejects(consumer.popAsync(new MessageBatch(64), Infinity, -5), { name: 'RangeError' });
});

t.test('attaching a slot that is in use throws RangeError', async (t) => {
  const ring = FreeRing.create({ maxProducers: 2, maxConsumers: 2, laneCapacityBytes: 64 });
  t.equal(ring.attachProducer({ index: 1 }).index, 1, 'an explicit free slot is claimed');
  t.throws(() => ring.attachProducer({ index: 1 }), { name: 'RangeError', message: 'producer slot 1 is in use' });
  t.equal(ring.attachProducer().index, 0, 'without an index, the first free slot');
  t.throws(() => ring.attachProducer(), { name: 'RangeError', message: 'all 2 producer slots are in use' });
  t.throws(() => ring.attachProducer({ index: 2 }), {
    name: 'RangeError',
    message: 'producer index must be an integer from 0 to 1, got 2',
  });

  t.equal(ring.attachConsumer({ index: 0 }).index, 0);
  t.throws(() => ring.attachConsumer({ index: 0 }), { name: 'RangeError', message: 'consumer slot 0 is in use' });
  t.equal(ring.attachConsumer().index, 1);
  t.throws(() => ring.attachConsumer(), { name: 'RangeError', message: 'all 2 consumer slots are in use' });
  t.throws(() => ring.attachConsumer({ index: 0.5 }), { name: 'RangeError', message: /consumer index must be an integer/ });
  const s = ring.stats();
  t.same([s.attachedProducers, s.openConsumers], [2, 2], 'failed attaches took no slot');
});

t.test('a detached producer slot is reused and its lane order continues', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const first = ring.attachProducer();
  const consumer = ring.attachConsumer();
  for (let i = 0; i < 3; i++) first.tryPush(seqMessage(i));
  first.detach();
  first.detach(); // idempotent
  t.equal(ring.stats().attachedProducers, 0);
  t.throws(() => first.tryPush(seqMessage(99)), { name: 'RangeError', message: /detached/ }, 'a detached handle cannot push');
  const second = ring.attachProducer();
  t.equal(second.index, 0, 'the slot is reused');
  t.equal(fill(second, 3), 2, 'the new handle continues in the same lane: 3 records + 2 fill it');
  t.same(popSeqs(consumer), [0, 1, 2, 3, 4], 'messages from both handles arrive in push order');
  t.equal(fill(second, 5), 5, 'and the lane wraps on as usual');
  t.same(popSeqs(consumer), [5, 6, 7, 8, 9]);
  t.equal(ring.stats().pushedMessages, 10);
});

t.test('popAsync resolves when another party pushes later', async (t) => {
  const { producer, consumer } = tiny();
  setTimeout(() => producer.tryPush(seqMessage(77, 20)), 30);
  const batch = new MessageBatch(64);
  const start = performance.now();
  t.equal(await consumer.popAsync(batch, Infinity, 5000), 1);
  t.ok(since(start) >= 20 && since(start) < 2000, `resolved after ${since(start).toFixed(1)} ms`);
  t.same(
    batch.toArrays().map((m) => [seqOf(m), m.length]),
    [[77, 20]],
  );
});

t.test('popAsync resolves 0 after its timeout when nothing arrives, without blocking the event loop', async (t) => {
  const { consumer } = tiny();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5); // also keeps the loop alive (see keepAlive)
  const start = performance.now();
  const n = await consumer.popAsync(new MessageBatch(64), Infinity, 80);
  clearInterval(timer);
  t.equal(n, 0);
  t.ok(since(start) >= 75 && since(start) < 2000, `after ${since(start).toFixed(1)} ms`);
  t.ok(ticks >= 3, `timers ran while it waited (${ticks} ticks)`);
});

t.test('popAsync hands out what is left after close, then resolves DONE', async (t) => {
  const { ring, producer, consumer } = tiny();
  producer.tryPush(seqMessage(1));
  const batch = new MessageBatch(64);
  t.equal(await consumer.popAsync(batch), 1, 'a queued message comes at once');
  setTimeout(() => {
    producer.tryPush(seqMessage(2));
    ring.close();
  }, 30);
  batch.reset();
  const n = await consumer.popAsync(batch, Infinity, 5000);
  t.equal(n, 1, 'the message pushed just before the close');
  t.same(
    batch.toArrays().map((m) => seqOf(m)),
    [2],
  );
  batch.reset();
  t.equal(await consumer.popAsync(batch, Infinity, 5000), DONE, 'then DONE');

  const idle = tiny();
  setTimeout(() => idle.ring.close(), 30);
  const start = performance.now();
  t.equal(await idle.consumer.popAsync(new MessageBatch(64), Infinity, 5000), DONE, 'a waiting popAsync resolves DONE on close');
  t.ok(since(start) < 2000, `promptly (${since(start).toFixed(1)} ms)`);
});

t.test('pushAsync waits for room and resolves true once the consumer pops', async (t) => {
  const { producer, consumer } = tiny();
  fill(producer);
  let drained: number[] = [];
  setTimeout(() => (drained = popSeqs(consumer)), 30);
  const start = performance.now();
  t.equal(await producer.pushAsync(seqMessage(5), 0, 8, 5000), true);
  t.ok(since(start) >= 20, `after ${since(start).toFixed(1)} ms`);
  t.same(drained, [0, 1, 2, 3, 4]);
  t.same(popSeqs(consumer), [5]);
});

t.test('pushAsync waits for a consumer to attach', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  let consumer: ReturnType<FreeRing['attachConsumer']> | undefined;
  setTimeout(() => (consumer = ring.attachConsumer()), 30);
  t.equal(await producer.pushAsync(seqMessage(3), 0, 8, 5000), true);
  t.ok(consumer, 'it went on once the consumer attached');
  t.same(popSeqs(consumer!), [3]);
});

t.test('pushAsync and pushBatchAsync give up after their timeout on a full ring', async (t) => {
  const { ring, producer } = tiny();
  fill(producer);
  const release = keepAlive();
  t.teardown(release);
  let start = performance.now();
  t.equal(await producer.pushAsync(seqMessage(5), 0, 8, 60), false);
  t.ok(since(start) >= 55, `pushAsync after ${since(start).toFixed(1)} ms`);
  const batch = new MessageBatch(64);
  batch.push(seqMessage(6));
  start = performance.now();
  t.equal(await producer.pushBatchAsync(batch, 60), 0);
  t.ok(since(start) >= 55, `pushBatchAsync after ${since(start).toFixed(1)} ms`);
  t.ok(ring.stats().producerBlockedWaits >= 2);
});

t.test('pushBatchAsync moves a batch larger than the lane as the consumer makes room', async (t) => {
  const { ring, producer, consumer } = tiny();
  const batch = new MessageBatch(1024);
  for (let i = 0; i < 40; i++) batch.push(seqMessage(i));
  const got: number[] = [];
  const timer = setInterval(() => got.push(...popSeqs(consumer)), 2);
  const moved = await producer.pushBatchAsync(batch, 5000);
  clearInterval(timer);
  got.push(...popSeqs(consumer));
  t.equal(moved, 40);
  t.same(got, Array.from({ length: 40 }, (_, i) => i), 'all of it, in order');
  t.equal(ring.stats().poppedMessages, 40);
});

t.test('a timed popAsync settles even when nothing else keeps the process alive', async (t) => {
  // A script on the main thread that only awaits popAsync with a timeout. On
  // Node 20 a pending Atomics.waitAsync holds no event-loop reference, so
  // unless the ring keeps one while it waits, the process exits before the
  // promise settles (exit code 13, "unsettled top-level await").
  const index = compiledUrl('src/index.js');
  const script = [
    `import { FreeRing, MessageBatch } from ${JSON.stringify(index.href)};`,
    'const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });',
    'const consumer = ring.attachConsumer();',
    'const n = await consumer.popAsync(new MessageBatch(64), Infinity, 100);',
    "console.log('settled ' + n);",
  ].join('\n');
  // A plain node: no loader hooks inherited from the test runner.
  const env = { PATH: process.env['PATH'] ?? '' };
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000, env });
  t.equal(
    child.stdout.trim(),
    'settled 0',
    `popAsync resolved 0 at its timeout (the child exited with status ${child.status}, stdout ${JSON.stringify(child.stdout)})`,
  );
});
