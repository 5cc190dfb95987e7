/**
 * Integration: the real DCGM export (../shared/data/, beside the project; not
 * copied into it). Not a *.test.ts file, so `npm test` leaves it out; run it
 * with `npx tap test/ingest/real-export.integration.ts`.
 *
 * The fast path must read the real file exactly as csv-parse does, whatever
 * the chunking, and find the facts that shared/data/README.md measured.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseFile, RejectReason } from '../../src/ingest/index.js';
import { assertSameResult, parseWithParser, referenceParse } from './fixtures/results.js';
import { Prng, testSeed } from '../fixtures/prng.js';

const REAL_EXPORT = fileURLToPath(new URL('../../../shared/data/dcgm_metrics_20250718_134233.csv', import.meta.url));
const input = readFileSync(REAL_EXPORT);

t.test('the fast path reads the real export exactly as csv-parse does', async (t) => {
  const want = referenceParse(input);
  assertSameResult(t, parseWithParser(input), want, 'one chunk');
  assertSameResult(t, parseWithParser(input, { fastPath: false }), want, 'fast path off');
  const seed = testSeed();
  const prng = new Prng(seed);
  for (let round = 0; round < 10; round++) {
    const cuts = Array.from({ length: prng.int(1, 200) }, () => prng.int(0, input.length)).sort((a, b) => a - b);
    assertSameResult(t, parseWithParser(input, {}, cuts), want, `seed ${seed} round ${round}: ${cuts.length} cuts`);
  }
});

t.test('the real export has the measured rows, GPUs, hosts, metrics and timestamps', async (t) => {
  const { rows, rejects, error } = parseWithParser(input);
  t.equal(error, undefined);
  t.same(rejects, []);
  t.equal(rows.length, 2470);
  t.equal(new Set(rows.map((r) => r.gpu.uuid)).size, 247);
  t.equal(new Set(rows.map((r) => r.gpu.hostname)).size, 31);
  t.same([...new Set(rows.map((r) => r.gpu.modelName))], ['NVIDIA H100 80GB HBM3']);
  t.ok(rows.every((r) => r.gpu.container === '' && r.gpu.pod === '' && r.gpu.namespace === ''));
  const perMetric = new Map<string, number>();
  for (const r of rows) perMetric.set(r.metric, (perMetric.get(r.metric) ?? 0) + 1);
  t.equal(perMetric.size, 10);
  t.ok([...perMetric.values()].every((n) => n === 247), '247 rows per metric');
  t.same(
    [...new Set(rows.map((r) => r.tsMs))].sort().map((ms) => new Date(ms).toISOString()),
    ['2025-07-18T20:42:34.000Z', '2025-07-18T20:42:35.000Z', '2025-07-18T20:42:36.000Z', '2025-07-18T20:42:37.000Z'],
  );
  t.same(
    rows.map((r) => r.line),
    Array.from({ length: 2470 }, (_, i) => i + 2),
    'lines 2..2471',
  );
  t.match(rows[0]!.labels, /^DCGM_FI_DRIVER_VERSION="535\.129\.03",Hostname="mtv5-dgx1-hgpu-031",UUID="GPU-5fd4/);
});

t.test('parseFile streams the real export with no rejects', async (t) => {
  let rows = 0;
  const counts = await parseFile(REAL_EXPORT, {}, (batch) => {
    rows += batch.length;
  });
  t.equal(counts.rows, 2470);
  t.equal(rows, 2470);
  t.equal(counts.bytes, 1_107_455);
  t.equal(counts.rejected[RejectReason.BadValue], 0);
});
