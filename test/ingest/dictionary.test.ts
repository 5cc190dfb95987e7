/**
 * Interning: StringDictionary (bytes and strings meet at one index, each value
 * decoded once) and GpuDictionary (identity tuples).
 */
import t from 'tap';
import { GpuDictionary, hashBytes, StringDictionary } from '../../src/ingest/internal.js';
import { Prng, testSeed } from '../fixtures/prng.js';

const enc = new TextEncoder();

/** `text` as bytes at `offset` inside a buffer, with its DataView. */
function placed(text: string | Uint8Array, offset = 3): { b: Buffer; dv: DataView; start: number; end: number } {
  const body = typeof text === 'string' ? enc.encode(text) : text;
  const b = Buffer.alloc(body.length + offset + 5, 0x7e);
  b.set(body, offset);
  return { b, dv: new DataView(b.buffer, b.byteOffset, b.byteLength), start: offset, end: offset + body.length };
}

function internText(d: StringDictionary, text: string | Uint8Array, escaped = false, offset = 3): number {
  const { b, dv, start, end } = placed(text, offset);
  return d.internBytes(dv, b, start, end, escaped);
}

t.test('the same bytes get the same index, wherever they lie', async (t) => {
  for (const repeats of [true, false]) {
    const d = new StringDictionary(repeats);
    t.equal(internText(d, 'DCGM_FI_DEV_GPU_UTIL', false, 0), 0);
    t.equal(internText(d, 'DCGM_FI_DEV_FB_USED', false, 1), 1);
    t.equal(internText(d, 'DCGM_FI_DEV_GPU_UTIL', false, 7), 0);
    t.equal(internText(d, '', false, 2), 2);
    t.equal(internText(d, '', false, 5), 2);
    t.same(d.values, ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_FB_USED', '']);
  }
});

t.test('escaped bytes and the decoded string meet at one index', async (t) => {
  const d = new StringDictionary();
  const id = internText(d, 'job=""dcgm"",gpu=""0""', true);
  t.same(d.values, ['job="dcgm",gpu="0"']);
  t.equal(d.internString('job="dcgm",gpu="0"'), id);
  t.equal(d.internString('plain'), 1);
  t.equal(internText(d, 'plain'), 1);
  t.equal(d.internString('a"b'), 2);
  t.equal(internText(d, 'a""b', true), 2);
  t.equal(d.values.length, 3);
});

t.test('invalid UTF-8 joins the value it decodes to', async (t) => {
  const d = new StringDictionary();
  const a = internText(d, Uint8Array.of(0x61, 0xff));
  const b = internText(d, Uint8Array.of(0x61, 0xfe));
  t.equal(a, b, 'two invalid bytes decode to the same U+FFFD');
  t.equal(d.internString('a\uFFFD'), a);
  t.equal(internText(d, Uint8Array.of(0x61, 0xef, 0xbf, 0xbd)), a, 'and so does U+FFFD written out');
  t.same(d.values, ['a\uFFFD']);
});

t.test('indexes survive the table and the arena growing', async (t) => {
  const seed = testSeed();
  const prng = new Prng(seed);
  const d = new StringDictionary(false);
  const words = Array.from({ length: 5000 }, (_, i) => `${'w'.repeat(prng.int(0, 60))}${i}`);
  words.forEach((w, i) => {
    if (internText(d, w, false, prng.int(0, 7)) !== i) t.fail(`seed ${seed}: ${w} got a wrong index`);
  });
  for (let k = 0; k < 5000; k++) {
    const i = prng.int(0, words.length - 1);
    if (internText(d, words[i]!, false, prng.int(0, 7)) !== i) {
      t.fail(`seed ${seed}: ${words[i]} changed index`);
      break;
    }
    if (d.internString(words[i]!) !== i) {
      t.fail(`seed ${seed}: ${words[i]} as a string got another index`);
      break;
    }
  }
  t.equal(d.values.length, 5000, `5000 values, each once (seed ${seed})`);
});

t.test('lookupBytes finds without adding; addLookedUp adds what it missed', async (t) => {
  const d = new StringDictionary(false);
  const { b, dv, start, end } = placed('x=""1""');
  t.equal(d.lookupBytes(dv, b, start, end), -1);
  t.equal(d.values.length, 0);
  t.equal(d.addLookedUp(b, start, end, 'x="1"'), 0);
  t.equal(d.lookupBytes(dv, b, start, end), 0);
  t.equal(d.internString('x="1"'), 0);
});

t.test('hashBytes depends on the bytes only, not on where they are', async (t) => {
  const seed = testSeed();
  const prng = new Prng(seed);
  for (let n = 0; n < 40; n++) {
    const body = Uint8Array.from({ length: n }, () => prng.int(0, 255));
    const a = placed(body, 0);
    const b = placed(body, prng.int(1, 7));
    t.equal(hashBytes(a.dv, a.b, a.start, a.end), hashBytes(b.dv, b.b, b.start, b.end), `length ${n} (seed ${seed})`);
  }
  const x = placed('abcdefgh');
  const y = placed('abcdefgi');
  t.not(hashBytes(x.dv, x.b, x.start, x.end), hashBytes(y.dv, y.b, y.start, y.end));
});

t.test('GpuDictionary interns identity tuples and builds each identity once', async (t) => {
  const g = new GpuDictionary();
  const fill = (...values: string[]): void => values.forEach((v, k) => (g.tuple[k] = g.fields[k]!.internString(v)));
  fill('GPU-a', '0', 'nvidia0', 'H100', 'host1', '', '', '');
  t.equal(g.intern(), 0);
  fill('GPU-b', '1', 'nvidia1', 'H100', 'host1', '', '', '');
  t.equal(g.intern(), 1);
  fill('GPU-a', '0', 'nvidia0', 'H100', 'host1', '', '', '');
  t.equal(g.intern(), 0);
  fill('GPU-a', '0', 'nvidia0', 'H100', 'host1', 'c', 'p', 'ns');
  t.equal(g.intern(), 2);
  t.same(g.values[2], { uuid: 'GPU-a', gpuId: '0', device: 'nvidia0', modelName: 'H100', hostname: 'host1', container: 'c', pod: 'p', namespace: 'ns' });
  t.ok(Object.isFrozen(g.values[0]));
  for (let i = 0; i < 3000; i++) {
    fill(`GPU-${i}`, String(i % 8), `nvidia${i % 8}`, 'H100', `host${i >> 3}`, '', '', '');
    g.intern();
  }
  fill('GPU-b', '1', 'nvidia1', 'H100', 'host1', '', '', '');
  t.equal(g.intern(), 1, 'still found after growing');
  t.equal(g.values.length, 3003);
});
