import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Measurement } from '../../perf/harness.js';
import { spread } from '../../perf/harness.js';
import { charts, goals, readResults, writeReport, type RunHeader } from '../../perf/report.js';
import { barChart } from '../../perf/svg.js';

const header: RunHeader = {
  run: '2026-01-01T00:00:00.000Z',
  started: '2026-01-01T00:00:00.000Z',
  finished: '2026-01-01T00:05:00.000Z',
  quick: false,
  machine: { cores: 2, cpu: 'Test CPU', node: 'v20.0.0', platform: 'linux x64' },
  scenarios: ['ring', 'csv', 'ingest', 'latency', 'memory'],
  command: 'npm run perf',
};

const measurements: Measurement[] = [
  { scenario: 'ring', case: '1x1/32B/batch256', msgs_per_s: 50e6, baseline_msgs_per_s: 1e6, ratio: 50, mb_per_s: 1600, msgs_per_s_min: 49e6, msgs_per_s_max: 51e6 },
  { scenario: 'ring', case: '1x1/32B/batch1', msgs_per_s: 4e6, baseline_msgs_per_s: 0.3e6, ratio: 13.3, mb_per_s: 128, msgs_per_s_min: 4e6, msgs_per_s_max: 4e6 },
  { scenario: 'csv', case: 'fast/cold', rows_per_s: 650_000, mb_per_s: 290, ratio_to_csv_parse: 4.2, rows_per_pass: 2470 },
  {
    scenario: 'ingest',
    case: '1x1',
    samples_per_s: spread([8e6, 9e6, 8.5e6]),
    postmessage_batched_samples_per_s: spread([7e6]),
    postmessage_per_record_samples_per_s: spread([0.2e6]),
    ratio_to_postmessage_batched: 1.21,
    ratio_to_postmessage_per_record: 42.5,
    cpu_s: 7.9,
    peak_rss_mib: 200,
    ring_hwm_bytes: 262144,
    producer_blocked_ms_per_s: spread([20], 1),
    latency_p50_ms: 1,
    latency_p99_ms: 10,
    reconciled: true,
  },
  { scenario: 'latency', case: '100 k/s', target_samples_per_s: 100000, samples_per_s: spread([99_900]), latency_p50_ms: spread([0.1], 3), latency_p99_ms: spread([1], 3), latency_max_ms: spread([5], 3), reconciled: true },
  { scenario: 'memory', case: '8192 per series', samples_held: 20.8e6, rss_start_mib: 72, rss_mib: 539, bytes_per_sample: 23.6, chunk_bytes_per_sample: 17.5, goal_bytes_per_sample: 24, reconciled: true },
];

t.test('goals: each measured goal with its number and whether it is met', async (t) => {
  const g = goals(measurements);
  const by = new Map(g.map((x) => [x.goal, x]));
  t.equal(by.get('ring 1x1/32B/batch256: ≥ 100 M msgs/s and ≥ 50× postMessage')?.met, false, '50 M is under 100 M');
  t.equal(by.get('ingest at 1x1: ≥ 2 M samples/s stored')?.met, true);
  t.equal(by.get('ingest at 1x1: ≥ 2 M samples/s stored')?.measured, '8.5 M samples/s', 'the median of the runs');
  t.equal(by.get('ingest at 1x1: ≥ 10× the postMessage pipeline')?.met, false, 'judged against the batched baseline');
  t.equal(by.get('CSV first pass: ≥ 600 k rows/s per thread')?.met, true);
  t.equal(by.get('memory: ≤ 24 B per stored sample')?.met, true);
  t.notOk(g.some((x) => x.goal.includes('10x10')), 'no goal for a case not measured');
});

t.test('the report: RESULTS.md with goals, charts and a table per scenario, from a results file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'perf-report-'));
  const file = join(dir, 'latest.jsonl');
  writeFileSync(file, [header, ...measurements].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const read = readResults(file);
  t.strictSame(read.header, header);
  t.equal(read.measurements.length, measurements.length);
  const written = writeReport(dir, read.header, read.measurements);
  t.equal(written.length, 5, 'RESULTS.md and four charts');
  const md = readFileSync(join(dir, 'RESULTS.md'), 'utf8');
  t.match(md, /on 2 cores \(Test CPU\), Node v20\.0\.0/);
  t.match(md, /\| ingest at 1x1: ≥ 2 M samples\/s stored \| 8\.5 M samples\/s \| yes \|/);
  t.match(md, /\| 1x1 \| 8\.5 M \(8 M–9 M\) \| 7 M \(7 M–7 M\) \| 1\.21× \|/);
  t.match(md, /!\[ingest-throughput\]\(charts\/ingest-throughput\.svg\)/);
  for (const scenario of header.scenarios) t.match(md, new RegExp(`^## ${scenario}$`, 'm'), `a section for ${scenario}`);
  t.throws(() => readResults(join(dir, 'charts', 'ring.svg')), 'not a results file');
});

t.test('charts are SVG with a bar and a label per value, and a goal line', async (t) => {
  const svgs = charts(measurements);
  t.strictSame([...svgs.keys()].sort(), ['ingest-throughput.svg', 'latency.svg', 'memory.svg', 'ring.svg']);
  const mem = svgs.get('memory.svg')!;
  t.match(mem, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  t.match(mem, /goal: 24 B/);
  t.match(mem, />23\.6</);
  const svg = barChart({ title: 'a <b> & c', unit: 'x/s', categories: ['one', 'two'], series: [{ name: 's', values: [10, null] }], log: true });
  t.equal((svg.match(/<rect x=/g) ?? []).length, 2, 'one bar (the null is left out) and one legend box');
  t.match(svg, /a &lt;b&gt; &amp; c/, 'text is escaped');
  t.match(svg, /\(log scale\)/);
});

t.test('compact numbers keep their zeros before the point and switch unit at the rounding edge', async (t) => {
  const { compact } = await import('../../perf/svg.js');
  const cases: Array<[number, string]> = [
    [330, '330'],
    [1, '1'],
    [0.25, '0.25'],
    [999, '999'],
    [999.7, '1 k'],
    [1500, '1.5 k'],
    [999_700, '1 M'],
    [8_500_000, '8.5 M'],
    [120_000_000, '120 M'],
    [2.5e9, '2.5 G'],
  ];
  for (const [v, text] of cases) t.equal(compact(v), text, String(v));
});
