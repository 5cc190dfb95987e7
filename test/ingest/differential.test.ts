/**
 * The fast path against csv-parse: DcgmCsvParser (fast path on, and off) must
 * give the same rows and rejects as the reference, which runs csv-parse over
 * the whole input (see fixtures/results.ts), on the generated sample, on other
 * layouts, and on seeded random damage.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { assertSameResult, parseWithParser, referenceParse } from './fixtures/results.js';
import { mutate, rewriteCsv, smallCsv, type Layout } from './fixtures/inputs.js';
import { Prng, testSeed } from '../fixtures/prng.js';

const enc = new TextEncoder();
const SAMPLE = new URL('../../data/sample.csv', import.meta.url);

t.test('the fast path reads data/sample.csv exactly as csv-parse does', async (t) => {
  const input = readFileSync(SAMPLE);
  const want = referenceParse(input);
  t.equal(want.rejects.length, 0, 'the sample has no bad rows');
  t.ok(want.rows.length >= 900, `the sample has ${want.rows.length} rows`);
  assertSameResult(t, parseWithParser(input), want, 'fast path');
  assertSameResult(t, parseWithParser(input, { fastPath: false }), want, 'fast path off');
});

const LAYOUTS: Array<[string, Layout]> = [
  ['CRLF line endings', { eol: '\r\n' }],
  ['a UTF-8 BOM', { bom: true }],
  ['a quoted header', { quoteHeader: true }],
  ['reordered columns', { order: [11, 10, 4, 0, 1, 2, 3, 5, 6, 7, 8, 9] }],
  ['extra columns', { order: ['first', 0, 1, 2, 3, 'mid', 4, 5, 6, 7, 8, 9, 10, 11, 'last'], extraValue: (n, i) => (i % 3 === 0 ? `a "${n}", b` : `${n}${i}`) }],
  ['minimal quoting', { quote: 'minimal' }],
  ['no quotes and no labels_raw', { quote: 'none', order: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }],
  ['optional columns left out', { order: [0, 1, 2, 3, 4, 5, 6, 10] }],
  ['everything at once', { eol: '\r\n', bom: true, quote: 'minimal', order: [10, 'x', 4, 6, 5, 3, 2, 1, 0, 11] }],
];

t.test('other layouts read the same through both paths', async (t) => {
  const base = smallCsv({ hosts: 2, gpusPerHost: 2 });
  for (const [name, layout] of LAYOUTS) {
    const input = enc.encode(rewriteCsv(base, layout));
    const want = referenceParse(input);
    t.equal(want.rejects.length, 0, `${name}: no rejects`);
    t.equal(want.rows.length, 80, `${name}: 80 rows`);
    assertSameResult(t, parseWithParser(input), want, `${name}: fast path`);
  }
});

t.test('seeded random damage gives the same rows and rejects through both paths', async (t) => {
  const seed = testSeed();
  const prng = new Prng(seed);
  const cases = Number(process.env["DIFF_CASES"] ?? 400);
  let rejects = 0;
  let stopped = 0;
  for (let c = 0; c < cases; c++) {
    const layout = prng.int(0, 2) === 0 ? prng.pick(LAYOUTS)[1] : {};
    const base = enc.encode(rewriteCsv(smallCsv({ seed: prng.next(), scrapes: prng.int(1, 2) }), layout));
    const maxFieldBytes = prng.pick([64, 256, 512, 4096]);
    const { bytes, log } = mutate(base, prng, prng.int(1, 6), maxFieldBytes);
    const want = referenceParse(bytes, { maxFieldBytes });
    const what = `seed ${seed} case ${c} (maxFieldBytes ${maxFieldBytes}; ${log.join('; ')})`;
    const cuts = [prng.int(0, bytes.length)].sort((a, b) => a - b);
    const got = parseWithParser(bytes, { maxFieldBytes }, cuts);
    assertSameResult(t, got, want, what);
    if (got.rejects.length > 0 || got.error !== undefined) rejects++;
    if (want.rejects.some((r) => r.reason === 'field_too_long' || r.reason === 'unterminated_quote')) stopped++;
    if (c % 4 === 0) assertSameResult(t, parseWithParser(bytes, { maxFieldBytes, fastPath: false }), want, `${what}, fast path off`);
  }
  t.ok(rejects > cases / 2, `most cases reject something (${rejects} of ${cases}, seed ${seed})`);
  t.ok(stopped > 10, `some cases stop a record at a limit (${stopped} of ${cases}, seed ${seed})`);
});
