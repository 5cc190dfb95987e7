/**
 * MessageBatch: the thread-local framed buffer that producers fill and
 * consumers pop into. Single-threaded; no ring involved.
 */
import t from 'tap';
import { MessageBatch } from '../src/index.js';
import { recordBytes } from '../src/internal.js';
import { Prng, testSeed } from './fixtures/prng.js';

/** Bytes 1, 2, 3, … n (wrapping at 256), so that any misplacement shows. */
function counting(n: number, from = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (from + i) & 0xff;
  return out;
}

/** Each message in the batch as `[length, [...bytes]]`, read through forEach. */
function contents(batch: MessageBatch): Array<[number, number[]]> {
  const out: Array<[number, number[]]> = [];
  batch.forEach((bytes, offset, length) => out.push([length, [...bytes.subarray(offset, offset + length)]]));
  return out;
}

t.test('the constructor rejects a capacity that is not a multiple of 4 of at least 8 bytes', async (t) => {
  for (const bad of [0, 4, 7, 10, 8.5, -8, NaN, Infinity]) {
    t.throws(
      () => new MessageBatch(bad),
      { name: 'RangeError', message: `batch capacityBytes must be a multiple of 4 and at least 8, got ${bad}` },
      `capacity ${bad}`,
    );
  }
  const smallest = new MessageBatch(8);
  t.equal(smallest.capacityBytes, 8);
  t.equal(smallest.maxMessageBytes, 4, 'a batch holds one payload of capacity - 4 bytes');
  const batch = new MessageBatch(1024);
  t.equal(batch.capacityBytes, 1024);
  t.equal(batch.maxMessageBytes, 1020);
  t.same([batch.byteLength, batch.count, batch.sentBytes, batch.sentCount], [0, 0, 0, 0], 'a new batch is empty');
});

t.test('push appends a framed copy of the message', async (t) => {
  const batch = new MessageBatch(64);
  const a = counting(5);
  t.equal(batch.push(a), true);
  a[0] = 99; // the batch holds a copy, not a view
  t.equal(batch.push(counting(8, 50)), true);
  t.equal(batch.count, 2);
  t.equal(batch.byteLength, recordBytes(5) + recordBytes(8));
  t.equal(recordBytes(5), 12, 'a record is a 4-byte length, the payload and padding to 4 bytes');
  t.same(contents(batch), [
    [5, [1, 2, 3, 4, 5]],
    [8, [50, 51, 52, 53, 54, 55, 56, 57]],
  ]);
  t.equal(new Int32Array(batch.bytes.buffer)[0], 5, 'the record starts with its length as an Int32');
});

t.test('push copies only src[offset, offset + length)', async (t) => {
  const batch = new MessageBatch(64);
  const src = counting(20);
  t.equal(batch.push(src, 3, 4), true);
  t.equal(batch.push(src, 17), true, 'the length defaults to the rest of src');
  t.same(contents(batch), [
    [4, [4, 5, 6, 7]],
    [3, [18, 19, 20]],
  ]);
});

t.test('zero-length messages take one length word and come back empty', async (t) => {
  const batch = new MessageBatch(16);
  for (let i = 0; i < 4; i++) t.equal(batch.push(new Uint8Array(0)), true, `empty message ${i}`);
  t.equal(batch.push(new Uint8Array(0)), false, 'the fifth does not fit 16 bytes');
  t.equal(batch.count, 4);
  t.equal(batch.byteLength, 16);
  t.same(contents(batch), [[0, []], [0, []], [0, []], [0, []]]);
  t.same(
    batch.toArrays().map((a) => a.length),
    [0, 0, 0, 0],
  );
});

t.test('push returns false and changes nothing when the batch is full', async (t) => {
  const batch = new MessageBatch(32);
  t.equal(batch.push(counting(10)), true); // 16 bytes
  t.equal(batch.push(counting(6)), true); // 12 bytes, 28 in use
  const before = batch.bytes.slice();
  t.equal(batch.push(counting(1)), false, 'an 8-byte record does not fit the 4 bytes left');
  t.equal(batch.reserve(4), -1, 'reserve reports -1 for the same reason');
  t.equal(batch.count, 2);
  t.equal(batch.byteLength, 28);
  t.same(batch.bytes, before, 'no byte of the batch changed');
  t.equal(batch.push(new Uint8Array(0)), true, 'a zero-length message still fits the last 4 bytes');
  t.equal(batch.byteLength, 32);
});

t.test('push and reserve throw RangeError for a message that can never fit', async (t) => {
  const batch = new MessageBatch(16);
  const tooBig = { name: 'RangeError', message: 'message of 13 bytes can never fit a batch of 16 bytes (max 12)' };
  t.throws(() => batch.push(new Uint8Array(13)), tooBig, 'even into an empty batch');
  t.throws(() => batch.reserve(13), tooBig);
  t.equal(batch.push(new Uint8Array(4)), true);
  t.throws(() => batch.push(new Uint8Array(13)), tooBig, 'and into a partly full one');
  t.equal(batch.count, 1, 'the failed calls changed nothing');
  const exact = new MessageBatch(16);
  t.equal(exact.push(counting(12)), true, 'maxMessageBytes itself fits');
  t.equal(exact.byteLength, 16);
});

t.test('push and reserve throw RangeError for a negative or NaN length', async (t) => {
  // A length below 0 can never fit either; the lane-side tryPush rejects it
  // the same way. Accepting it would frame a record that moves byteLength
  // backwards (reserve(-8) takes recordBytes(-8) = -4 bytes) or by nothing.
  for (const bad of [-1, -5, -8, NaN]) {
    const batch = new MessageBatch(32);
    t.equal(batch.push(counting(8)), true);
    t.throws(() => batch.reserve(bad), { name: 'RangeError' }, `reserve(${bad}) throws`);
    t.same([batch.count, batch.byteLength], [1, 12], `reserve(${bad}) leaves the batch as it was`);
  }
  const batch = new MessageBatch(32);
  t.throws(() => batch.push(new Uint8Array(2), 5), { name: 'RangeError' }, 'an offset past the end of src gives a negative length');
  t.same([batch.count, batch.byteLength], [0, 0]);
});

t.test('reserve returns the offset where the caller encodes the payload in place', async (t) => {
  const batch = new MessageBatch(64);
  const at = batch.reserve(6);
  t.equal(at, 4, 'the payload follows the first length word');
  batch.bytes.set([9, 8, 7, 6, 5, 4], at);
  const at2 = batch.reserve(3);
  t.equal(at2, 4 + 8 + 4, 'the next payload follows the padded first record and its own length word');
  batch.bytes.set([1, 2, 3], at2);
  t.same(contents(batch), [
    [6, [9, 8, 7, 6, 5, 4]],
    [3, [1, 2, 3]],
  ]);
  t.equal(batch.reserve(0), 24, 'a zero-length reservation still gets an offset');
  t.equal(batch.count, 3);
});

t.test('forEach visits every message in order with its index', async (t) => {
  const seed = testSeed();
  const prng = new Prng(seed);
  const batch = new MessageBatch(4096);
  const expected: number[][] = [];
  for (;;) {
    const msg = new Uint8Array(prng.int(0, 40));
    prng.fill(msg);
    if (!batch.push(msg)) break;
    expected.push([...msg]);
  }
  const seen: number[][] = [];
  const indices: number[] = [];
  batch.forEach((bytes, offset, length, index) => {
    seen.push([...bytes.subarray(offset, offset + length)]);
    indices.push(index);
  });
  t.same(seen, expected, `seed ${seed}: messages come back in push order, byte for byte`);
  t.same(
    indices,
    expected.map((_, i) => i),
    `seed ${seed}: index counts from 0`,
  );
  t.equal(batch.count, expected.length, `seed ${seed}`);
});

t.test('toArrays returns copies that outlive a reset and refill', async (t) => {
  const batch = new MessageBatch(64);
  batch.push(counting(3));
  batch.push(counting(2, 200));
  const arrays = batch.toArrays();
  batch.reset();
  batch.push(new Uint8Array(20).fill(0xee));
  t.same(
    arrays.map((a) => [...a]),
    [
      [1, 2, 3],
      [200, 201],
    ],
  );
  t.not(arrays[0]!.buffer, batch.bytes.buffer, 'each array has its own memory');
});

t.test('reset empties the batch, including what a producer already sent', async (t) => {
  const batch = new MessageBatch(32);
  batch.push(counting(4));
  batch.push(counting(4));
  batch.sentBytes = 8; // as tryPushBatch leaves it after a partial push
  batch.sentCount = 1;
  batch.reset();
  t.same([batch.byteLength, batch.count, batch.sentBytes, batch.sentCount], [0, 0, 0, 0]);
  t.same(contents(batch), [], 'forEach sees nothing');
  t.equal(batch.push(counting(28)), true, 'the whole capacity is free again');
  t.same(contents(batch), [[28, [...counting(28)]]]);
});

t.test('load copies framed records from another batch and checks their framing', async (t) => {
  const from = new MessageBatch(64);
  from.push(Uint8Array.of(1, 2, 3));
  from.push(new Uint8Array(0));
  from.push(Uint8Array.of(9, 8, 7, 6, 5));
  const records = from.bytes.slice(0, from.byteLength);
  const to = new MessageBatch(64);
  to.push(Uint8Array.of(42));
  to.load(records);
  t.equal(to.count, 3);
  t.equal(to.byteLength, from.byteLength);
  t.equal(to.payloadBytes, 8);
  t.strictSame(to.toArrays(), [Uint8Array.of(1, 2, 3), new Uint8Array(0), Uint8Array.of(9, 8, 7, 6, 5)]);
  records[0] = 0; // a copy: the source can be reused
  t.equal(to.toArrays()[0]!.length, 3);
  to.load(new Uint8Array(0));
  t.equal(to.count, 0, 'no records: an empty batch');

  t.throws(() => new MessageBatch(8).load(from.bytes.subarray(0, 12)), /12 bytes of records do not fit a batch of 8 bytes/);
  t.throws(() => to.load(Uint8Array.of(1, 0, 0)), /whole 4-byte words, got 3/);
  const bad = from.bytes.slice(0, from.byteLength);
  new DataView(bad.buffer).setInt32(0, 1000, true);
  t.throws(() => to.load(bad), /malformed records: message 0 at byte 0 claims 1000 bytes of 20 left/);
  t.equal(to.count, 0, 'left empty after a failed load');
  t.equal(to.byteLength, 0);
  new DataView(bad.buffer).setInt32(0, -4, true);
  t.throws(() => to.load(bad), RangeError, 'a negative length');
  const truncated = from.bytes.slice(0, from.byteLength - 4);
  t.throws(() => to.load(truncated), /message 2 at byte 12 claims 5 bytes of 4 left/);
});
