/**
 * FreeRing on one thread: options, opening a buffer, full/empty, framing
 * across the lane end, sizes, batches, order and statistics. Lifecycle
 * (close, stopConsumer, attach/detach, blocking and async calls) is in
 * ring-lifecycle.test.ts; real threads are in stress.test.ts.
 */
import t from 'tap';
import { FreeRing, MessageBatch } from '../src/index.js';
import { H_LANE_CAPACITY, H_MAGIC, H_VERSION, LAYOUT_VERSION, recordBytes } from '../src/internal.js';
import { Prng, testSeed } from './fixtures/prng.js';
import { fill, popAll, popSeqs, seqMessage, seqOf } from './fixtures/ring-helpers.js';

t.test('create rejects slot counts outside 1 to 256', async (t) => {
  for (const name of ['maxProducers', 'maxConsumers'] as const) {
    for (const bad of [0, 257, -1, 1.5, NaN]) {
      t.throws(
        () => FreeRing.create({ [name]: bad }),
        { name: 'RangeError', message: `${name} must be an integer from 1 to 256, got ${bad}` },
        `${name} ${bad}`,
      );
    }
  }
  t.equal(FreeRing.create({ maxProducers: 256, maxConsumers: 1, laneCapacityBytes: 64 }).layout.maxProducers, 256, '256 is allowed');
  t.equal(FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 }).stats().lanes, 1, '1 is allowed');
});

t.test('create rejects a lane capacity that is not a power of two from 64 B to 1 GiB', async (t) => {
  for (const bad of [100, 96, 32, 0, -64, 2 ** 31, 64.5, NaN]) {
    t.throws(
      () => FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: bad }),
      { name: 'RangeError', message: `laneCapacityBytes must be a power of two from 64 to 1073741824, got ${bad}` },
      `laneCapacityBytes ${bad}`,
    );
  }
  for (const good of [64, 128, 4096]) {
    t.equal(FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: good }).stats().laneCapacityBytes, good);
  }
});

t.test('create rejects a ring whose buffer would pass 2 GiB before allocating it', async (t) => {
  t.throws(
    () => FreeRing.create({ maxProducers: 256, maxConsumers: 256, laneCapacityBytes: 2 ** 20 }),
    { name: 'RangeError', message: /256 x 256 lanes of 1048576 bytes needs \d+ bytes, over the 2147483647-byte limit/ },
  );
});

t.test('create defaults to 10 producers, 10 consumers and 64 KiB lanes', async (t) => {
  const s = FreeRing.create().stats();
  t.same(
    [s.lanes, s.laneCapacityBytes, s.capacityBytes, s.maxMessageBytes],
    [100, 65536, 100 * 65536, 65532],
  );
  t.same([s.attachedProducers, s.openConsumers, s.closed], [0, 0, false]);
});

t.test('FreeRing.from opens the same ring on the same buffer', async (t) => {
  const ring = FreeRing.create({ maxProducers: 3, maxConsumers: 2, laneCapacityBytes: 128 });
  const other = FreeRing.from(ring.buffer);
  t.same(other.layout, ring.layout, 'the header describes the same layout');
  t.equal(other.maxMessageBytes, 124);
  const producer = other.attachProducer();
  const consumer = ring.attachConsumer();
  t.equal(producer.tryPush(seqMessage(42, 20)), 1);
  t.same(popSeqs(consumer), [42], 'a message pushed through one handle pops through the other');
  t.equal(ring.stats().attachedProducers, 1, 'slots are shared state');
  t.equal(other.stats().openConsumers, 1);
  other.close();
  t.equal(ring.closed, true, 'so is closing');
});

t.test('FreeRing.from throws TypeError for a buffer that is not a ring', async (t) => {
  t.throws(() => FreeRing.from(new ArrayBuffer(4096) as unknown as SharedArrayBuffer), {
    name: 'TypeError',
    message: 'FreeRing.from needs the SharedArrayBuffer of a ring made by FreeRing.create',
  });
  t.throws(() => FreeRing.from(new SharedArrayBuffer(16)), { name: 'TypeError' }, 'too small for a header');
  t.throws(
    () => FreeRing.from(new SharedArrayBuffer(4096)),
    { name: 'TypeError', message: 'buffer is not a FreeRing (bad magic)' },
    'zeroed memory',
  );

  const ring = FreeRing.create({ maxProducers: 2, maxConsumers: 2, laneCapacityBytes: 64 });
  const wrongMagic = new SharedArrayBuffer(ring.buffer.byteLength);
  new Uint8Array(wrongMagic).set(new Uint8Array(ring.buffer));
  new Int32Array(wrongMagic)[H_MAGIC] ^= 1;
  t.throws(() => FreeRing.from(wrongMagic), { name: 'TypeError', message: /bad magic/ }, 'one bit of the magic flipped');

  const wrongVersion = new SharedArrayBuffer(ring.buffer.byteLength);
  new Uint8Array(wrongVersion).set(new Uint8Array(ring.buffer));
  new Int32Array(wrongVersion)[H_VERSION] = LAYOUT_VERSION + 1;
  t.throws(() => FreeRing.from(wrongVersion), { name: 'TypeError', message: /version/ }, 'a newer layout version');

  const truncated = new SharedArrayBuffer(ring.buffer.byteLength - 64);
  new Uint8Array(truncated).set(new Uint8Array(ring.buffer, 0, truncated.byteLength));
  t.throws(
    () => FreeRing.from(truncated),
    { name: 'TypeError', message: `FreeRing buffer is ${truncated.byteLength} bytes, its header describes ${ring.buffer.byteLength}` },
    'a buffer shorter than its header says',
  );

  const lying = new SharedArrayBuffer(ring.buffer.byteLength);
  new Uint8Array(lying).set(new Uint8Array(ring.buffer));
  new Int32Array(lying)[H_LANE_CAPACITY] = 128;
  t.throws(() => FreeRing.from(lying), { name: 'TypeError' }, 'a header whose lane capacity does not match the size');
});

t.test('tryPush returns 0 when every open consumer lane is full', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 3, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const c0 = ring.attachConsumer();
  const c1 = ring.attachConsumer();
  // 8-byte payloads take 12-byte records: 5 fit a 64-byte lane, two lanes are open.
  t.equal(fill(producer), 10, 'five records per open lane');
  t.equal(producer.tryPush(seqMessage(99)), 0, 'and 0 again');
  t.equal(producer.tryPush(new Uint8Array(0)), 1, 'a 4-byte record still fits the 4 bytes left in a lane');
  t.equal(producer.tryPush(new Uint8Array(0)), 1, 'in the other lane too');
  t.equal(producer.tryPush(new Uint8Array(0)), 0, 'now even an empty message does not fit');
  const s = ring.stats();
  t.equal(s.depthBytes, 128, 'both open lanes are full to the byte');
  t.equal(s.depthMessages, 12);

  const drained = popAll(c0).length;
  t.equal(drained, 6, 'the first lane held six of them');
  t.equal(fill(producer, 100), 5, 'once a lane is drained, it takes five more');
  t.equal(popAll(c0).length + popAll(c1).length, 11, 'everything pushed is there to pop');
});

t.test('tryPush returns 0 when no consumer is attached', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 2, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  t.equal(producer.tryPush(seqMessage(1)), 0);
  const batch = new MessageBatch(64);
  batch.push(seqMessage(1));
  t.equal(producer.tryPushBatch(batch), 0, 'tryPushBatch too');
  t.same([batch.sentBytes, batch.sentCount], [0, 0], 'and the batch is not marked sent');
  t.equal(ring.stats().pushedMessages, 0);
  ring.attachConsumer();
  t.equal(producer.tryPushBatch(batch), 1, 'once a consumer attaches the batch goes');
});

t.test('tryPop returns 0 and leaves the batch alone when nothing is waiting', async (t) => {
  const ring = FreeRing.create({ maxProducers: 2, maxConsumers: 2, laneCapacityBytes: 64 });
  ring.attachProducer();
  const consumer = ring.attachConsumer();
  const batch = new MessageBatch(64);
  batch.push(seqMessage(7));
  t.equal(consumer.tryPop(batch), 0);
  t.equal(consumer.pop(batch, Infinity, 0), 0, 'pop with a zero timeout as well');
  t.same([batch.count, batch.byteLength], [1, 12], 'what the batch held is untouched');
  t.same(
    batch.toArrays().map((m) => seqOf(m)),
    [7],
  );
});

t.test('a record may start at any offset of the lane and straddle its end', async (t) => {
  // Byte-exhaustive for a 64-byte lane: every start offset × every payload
  // length, through the single and the batch paths, popped into a batch that
  // just fits (so the pop side's split copy is exercised too).
  for (const via of ['tryPush', 'tryPushBatch'] as const) {
    const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
    const producer = ring.attachProducer();
    const consumer = ring.attachConsumer();
    const out = new MessageBatch(64);
    const send = new MessageBatch(64);
    let position = 0;
    let failures = 0;
    let cases = 0;
    for (let start = 0; start < 64; start += 4) {
      for (let length = 0; length <= ring.maxMessageBytes; length++) {
        const gap = (start - position) & 63;
        if (gap !== 0) {
          // A filler record of exactly `gap` bytes moves the lane to `start`.
          if (producer.tryPush(new Uint8Array(gap - 4)) !== 1) throw new Error('BUG in test: filler did not fit');
          out.reset();
          consumer.tryPop(out);
        }
        const payload = new Uint8Array(length);
        for (let i = 0; i < length; i++) payload[i] = (start * 61 + length * 17 + i * 13 + 1) & 0xff;
        // Take the payload from an aligned or unaligned place of a larger buffer.
        const shift = (start >> 2) & 3;
        const src = new Uint8Array(length + 8).fill(0xa5);
        src.set(payload, shift);
        let moved: number;
        if (via === 'tryPush') {
          moved = producer.tryPush(src, shift, length);
        } else {
          send.reset();
          send.push(src, shift, length);
          moved = producer.tryPushBatch(send);
        }
        out.reset();
        const popped = consumer.tryPop(out);
        const got = out.toArrays();
        cases++;
        if (moved !== 1 || popped !== 1 || got.length !== 1 || !bytesEqual(got[0]!, payload)) {
          if (failures++ < 5) t.fail(`${via}: ${length}-byte payload at lane offset ${start}: moved ${moved}, popped ${popped}, got [${got.map((g) => [...g].join(','))}]`);
        }
        position = (start + recordBytes(length)) & 63;
      }
    }
    t.equal(failures, 0, `${via}: all ${cases} offset × length cases came back byte for byte`);
    t.equal(ring.stats().depthBytes, 0, `${via}: the lane is empty at the end`);
  }
});

t.test('messages of random sizes survive thousands of wrap-arounds byte for byte', async (t) => {
  const seed = testSeed();
  for (const laneCapacityBytes of [64, 128]) {
    const prng = new Prng(seed ^ laneCapacityBytes);
    const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes });
    const producer = ring.attachProducer();
    const consumer = ring.attachConsumer();
    const max = ring.maxMessageBytes;
    const expected: Uint8Array[] = [];
    let head = 0;
    let pushedBytes = 0;
    let popped = 0;
    let firstError = '';
    const send = new MessageBatch(laneCapacityBytes * 2);
    const out = new MessageBatch(laneCapacityBytes * 2);
    const wrapsWanted = 3000;
    const nextPayload = (): Uint8Array => {
      // Mostly small, sometimes up to the largest message a lane takes.
      const length = prng.float() < 0.8 ? prng.int(0, 24) : prng.int(0, max);
      const payload = new Uint8Array(length);
      prng.fill(payload);
      return payload;
    };
    for (let step = 0; pushedBytes < wrapsWanted * laneCapacityBytes && !firstError; step++) {
      const op = prng.int(0, 2);
      if (op === 0) {
        // Single pushes until full.
        for (let k = prng.int(1, 6); k > 0; k--) {
          const payload = nextPayload();
          const n = producer.tryPush(payload);
          if (n === 0) break;
          expected.push(payload);
          pushedBytes += recordBytes(payload.length);
        }
      } else if (op === 1) {
        // One batch, of which a prefix (maybe nothing) fits.
        send.reset();
        for (let k = prng.int(1, 8); k > 0; k--) {
          const payload = nextPayload();
          if (!send.push(payload)) break;
          expected.push(payload); // provisional: trimmed below to what was sent
        }
        const n = producer.tryPushBatch(send);
        expected.length -= send.count - n;
        if (send.sentCount !== n) firstError = `step ${step}: sentCount ${send.sentCount} after moving ${n}`;
        send.forEach((_, __, length, i) => {
          if (i < n) pushedBytes += recordBytes(length);
        });
      } else {
        out.reset();
        const n = consumer.tryPop(out, prng.float() < 0.5 ? prng.int(1, 4) : Infinity);
        if (n < 0) firstError = `step ${step}: tryPop returned ${n}`;
        out.forEach((bytes, offset, length) => {
          const want = expected[head++];
          popped++;
          if (!firstError && (want === undefined || !bytesEqual(bytes.subarray(offset, offset + length), want))) {
            firstError = `step ${step}: message ${popped} has ${length} bytes, expected ${want?.length} bytes (or different content)`;
          }
        });
      }
    }
    for (const rest of popAll(consumer, laneCapacityBytes * 2)) {
      const want = expected[head++];
      popped++;
      if (!firstError && (want === undefined || !bytesEqual(rest, want))) firstError = `final drain: message ${popped} differs`;
    }
    t.equal(firstError, '', `seed ${seed}, lane ${laneCapacityBytes} B: every message came back byte for byte`);
    t.equal(popped, expected.length, `seed ${seed}, lane ${laneCapacityBytes} B: popped all ${expected.length} messages`);
    t.ok(pushedBytes / laneCapacityBytes >= wrapsWanted, `seed ${seed}: wrapped the lane ${Math.floor(pushedBytes / laneCapacityBytes)} times`);
    const s = ring.stats();
    t.same(
      [s.pushedMessages, s.poppedMessages, s.depthBytes, s.depthMessages],
      [expected.length, expected.length, 0, 0],
      `seed ${seed}, lane ${laneCapacityBytes} B: stats agree`,
    );
  }
});

t.test('zero-length messages are queued and popped as empty messages', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  let n = 0;
  while (producer.tryPush(new Uint8Array(0)) === 1) n++;
  t.equal(n, 16, 'sixteen 4-byte records fill a 64-byte lane');
  const batch = new MessageBatch(128);
  t.equal(consumer.tryPop(batch), 16);
  t.same(
    batch.toArrays().map((m) => m.length),
    new Array(16).fill(0),
  );
  const s = ring.stats();
  t.same([s.pushedMessages, s.pushedBytes, s.poppedMessages, s.poppedBytes], [16, 0, 16, 0], 'they count as messages of 0 bytes');
});

t.test('tryPush throws RangeError naming the size and the maximum for a message no lane can hold', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  t.equal(ring.maxMessageBytes, 60);
  const tooBig = { name: 'RangeError', message: /61 bytes.*64 bytes.*max 60/ };
  t.throws(() => producer.tryPush(new Uint8Array(61)), tooBig);
  t.throws(() => producer.push(new Uint8Array(61)), tooBig, 'push too');
  t.throws(() => producer.tryPush(new Uint8Array(1000)), { name: 'RangeError', message: /1000 bytes/ });
  t.equal(producer.tryPush(new Uint8Array(60)), 1, 'maxMessageBytes itself fits');
  t.same(
    popAll(consumer).map((m) => m.length),
    [60],
    'only that one was queued',
  );
});

t.test('tryPushBatch and pushBatch throw RangeError for a batched message no lane can hold', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  const batch = new MessageBatch(256);
  batch.push(seqMessage(1, 10));
  batch.push(new Uint8Array(100));
  batch.push(seqMessage(3, 10));
  t.equal(producer.tryPushBatch(batch), 1, 'the message in front of the oversized one goes');
  const tooBig = { name: 'RangeError', message: /100 bytes.*max 60/ };
  t.throws(() => producer.tryPushBatch(batch), tooBig, 'then tryPushBatch throws on the oversized one');
  t.throws(() => producer.pushBatch(batch), tooBig, 'and so does pushBatch');
  t.same([batch.sentCount, batch.sentBytes], [1, recordBytes(10)], 'the batch stays at the oversized message');
  t.same(popSeqs(consumer), [1]);
});

t.test('tryPushBatch moves the prefix that fits and the rest goes later', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  const batch = new MessageBatch(256);
  for (let i = 0; i < 10; i++) batch.push(seqMessage(i)); // 12-byte records
  t.equal(producer.tryPushBatch(batch), 5, 'five 12-byte records fit a 64-byte lane');
  t.same([batch.sentCount, batch.sentBytes], [5, 60]);
  t.equal(producer.tryPushBatch(batch), 0, 'the lane is full');
  t.same([batch.sentCount, batch.sentBytes], [5, 60], 'a push that moved nothing changes nothing');
  t.same(popSeqs(consumer), [0, 1, 2, 3, 4]);
  t.equal(producer.tryPushBatch(batch), 5, 'the rest goes later');
  t.same([batch.sentCount, batch.sentBytes], [10, batch.byteLength]);
  t.equal(producer.tryPushBatch(batch), 0, 'nothing is left to send');
  t.same(popSeqs(consumer), [5, 6, 7, 8, 9]);
  t.same([ring.stats().pushedMessages, ring.stats().poppedMessages], [10, 10]);
});

t.test('tryPushBatch fills one lane per call and the next call moves on to the next consumer', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 2, laneCapacityBytes: 64 });
  const producer = ring.attachProducer();
  const c0 = ring.attachConsumer();
  const c1 = ring.attachConsumer();
  const batch = new MessageBatch(256);
  for (let i = 0; i < 12; i++) batch.push(seqMessage(i));
  t.equal(producer.tryPushBatch(batch), 5);
  t.equal(producer.tryPushBatch(batch), 5);
  t.equal(producer.tryPushBatch(batch), 0, 'both lanes are full');
  const got = [popSeqs(c0), popSeqs(c1)].sort((a, b) => a[0]! - b[0]!);
  t.same(got, [
    [0, 1, 2, 3, 4],
    [5, 6, 7, 8, 9],
  ], 'each consumer got one contiguous run');
  t.equal(producer.tryPushBatch(batch), 2, 'the last two go once there is room');
});

t.test('tryPop takes at most maxMessages and leaves the rest queued', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 128 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  for (let i = 0; i < 5; i++) t.equal(producer.tryPush(seqMessage(i)), 1);
  const batch = new MessageBatch(256);
  t.equal(consumer.tryPop(batch, 2), 2);
  t.same(
    batch.toArrays().map((m) => seqOf(m)),
    [0, 1],
  );
  t.equal(consumer.tryPop(batch, 2), 2, 'a second pop appends to what the batch holds');
  t.same(
    batch.toArrays().map((m) => seqOf(m)),
    [0, 1, 2, 3],
  );
  t.equal(consumer.tryPop(batch), 1);
  t.equal(consumer.tryPop(batch), 0);
  t.equal(batch.count, 5);
});

t.test('tryPop stops when the batch is full and takes the rest on the next call', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 128 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  for (let i = 0; i < 7; i++) producer.tryPush(seqMessage(i));
  const batch = new MessageBatch(32); // room for two 12-byte records
  const rounds: number[][] = [];
  for (;;) {
    batch.reset();
    if (consumer.tryPop(batch) <= 0) break;
    rounds.push(batch.toArrays().map((m) => seqOf(m)));
  }
  t.same(rounds, [[0, 1], [2, 3], [4, 5], [6]]);
});

t.test('tryPop throws RangeError when an empty batch is too small for the next message', async (t) => {
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 128 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  producer.tryPush(new Uint8Array(40));
  t.throws(() => consumer.tryPop(new MessageBatch(16)), { name: 'RangeError', message: /40 bytes/ });
  t.same(
    popAll(consumer, 64).map((m) => m.length),
    [40],
    'the message is still there for a batch that fits it',
  );
});

t.test('each consumer sees a producer’s messages in push order', async (t) => {
  const seed = testSeed();
  const prng = new Prng(seed);
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 2, laneCapacityBytes: 128 });
  const producer = ring.attachProducer();
  const consumers = [ring.attachConsumer(), ring.attachConsumer()];
  const seen: number[][] = [[], []];
  const total = 20_000;
  const batch = new MessageBatch(256);
  let popped = 0;
  for (let next = 0, step = 0; popped < total && step < 10 * total; step++) {
    while (next < total && producer.tryPush(seqMessage(next, prng.int(4, 40))) === 1) next++;
    const c = prng.int(0, 1);
    batch.reset();
    const n = consumers[c]!.tryPop(batch, prng.int(1, 8));
    if (n > 0) popped += n;
    batch.forEach((bytes, offset) => seen[c]!.push(seqOf(bytes, offset)));
  }
  for (const c of [0, 1]) {
    const order = seen[c]!;
    const firstBackwards = order.findIndex((seq, i) => i > 0 && seq <= order[i - 1]!);
    t.equal(firstBackwards, -1, `seed ${seed}: consumer ${c} got its ${order.length} messages in push order`);
    t.ok(order.length > total / 10, `seed ${seed}: consumer ${c} got a share (${order.length})`);
  }
  const all = [...seen[0]!, ...seen[1]!].sort((a, b) => a - b);
  t.equal(all.length, total, `seed ${seed}: every message arrived once`);
  t.ok(all.every((seq, i) => seq === i), `seed ${seed}: and they are exactly 0..${total - 1}`);
});

t.test('tryPush copies from any byte offset of a larger buffer', async (t) => {
  // Payloads of up to 256 bytes from aligned and unaligned views, so each copy
  // path (bytes, words, TypedArray.set) reads from where the view starts.
  const ring = FreeRing.create({ maxProducers: 1, maxConsumers: 1, laneCapacityBytes: 1024 });
  const producer = ring.attachProducer();
  const consumer = ring.attachConsumer();
  const backing = new Uint8Array(1024);
  for (let i = 0; i < backing.length; i++) backing[i] = (i * 7 + 3) & 0xff;
  let failures = 0;
  let cases = 0;
  for (const viewStart of [0, 1, 2, 3, 4, 8, 12]) {
    const view = backing.subarray(viewStart, viewStart + 600);
    for (const offset of [0, 1, 4, 5]) {
      for (const length of [0, 1, 3, 4, 7, 8, 60, 63, 64, 65, 68, 100, 128, 200, 252, 256, 257, 300, 500]) {
        const want = view.slice(offset, offset + length);
        const pushed = producer.tryPush(view, offset, length);
        const got = popAll(consumer, 1024);
        cases++;
        if (pushed !== 1 || got.length !== 1 || !bytesEqual(got[0]!, want)) {
          if (failures++ < 5) t.fail(`view at ${viewStart}, offset ${offset}, length ${length}: pushed ${pushed}, got ${got.length} message(s) that differ`);
        }
      }
    }
  }
  t.equal(failures, 0, `all ${cases} view × offset × length cases came back byte for byte`);
});

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
