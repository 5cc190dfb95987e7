/**
 * `npm run perf -- [scenario ...] [flags]`: every performance scenario in one
 * go, each with a progress bar, each baseline interleaved with the case it is
 * compared to. Writes the measurements to perf/results/<time>.jsonl and
 * perf/results/latest.jsonl, and regenerates perf/RESULTS.md and the charts
 * in perf/charts/ from them. `--json` also prints one JSON object per
 * measurement on stdout. `--quick` (CI) runs everything short, writes under
 * perf/results/quick/ instead, and fails unless every scenario produced numbers.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, Progress, type Measurement, type Scenario } from './harness.js';
import { ingest, latency, memory } from './ingest.js';
import { metrics, query } from './query.js';
import { writeReport, type RunHeader } from './report.js';
import { csv, ring } from './ring.js';

const SCENARIOS: Scenario[] = [ring, csv, ingest, latency, query, metrics, memory];
const REAL_EXPORT = '../shared/data/dcgm_metrics_20250718_134233.csv';
const SAMPLE = 'data/sample.csv';
const FULL_MIXES = '1x1,2x2,10x2,2x10,5x5,10x10';
const QUICK_MIXES = '1x1,10x10';

function usage(): string {
  return [
    'usage: npm run perf -- [scenario ...] [flags]',
    '',
    'Scenarios (default: all, in this order):',
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(9)} ${s.about}`),
    '',
    'Flags:',
    '  --quick           everything short (about a minute): for CI, numbers not for quoting;',
    '                    results go to perf/results/quick/, and the run fails unless every scenario produced numbers',
    '  --runs N          runs per case, interleaved with its baseline; median, min and max reported (default 2, quick 1)',
    '  --seconds S       measured seconds per run of ingest and latency (default 4, quick 1)',
    `  --mixes LIST      ingest (streamers x collectors) mixes (default ${FULL_MIXES}, quick ${QUICK_MIXES})`,
    '  --file PATH       the CSV to loop (default: the real export if present, else data/sample.csv)',
    '  --json            also print one JSON object per measurement on stdout',
    '  --help            this text',
    '',
  ].join('\n');
}

/** Every number in a measurement is finite (a scenario that produced nothing, or NaN, fails --quick). */
function hasNumbers(m: Measurement): boolean {
  const nums: number[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'number') nums.push(v);
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walk(x);
  };
  walk(m);
  return nums.length > 0 && nums.every(Number.isFinite);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      seconds: { type: 'string' },
      mixes: { type: 'string' },
      file: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage());
    return 0;
  }
  const unknown = positionals.filter((p) => !SCENARIOS.some((s) => s.name === p));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario ${unknown.map((u) => `"${u}"`).join(', ')}: one of ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
    return 2;
  }
  const quick = values.quick;
  const runs = Number(values.runs ?? (quick ? 1 : 2));
  const seconds = Number(values.seconds ?? (quick ? 1 : 4));
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`--runs must be a whole number >= 1, got ${values.runs}`);
  if (!(seconds > 0)) throw new RangeError(`--seconds must be a positive number, got ${values.seconds}`);
  const file = values.file ?? (existsSync(REAL_EXPORT) ? REAL_EXPORT : SAMPLE);
  if (!existsSync(file)) throw new Error(`--file ${file} does not exist`);
  const chosen = positionals.length > 0 ? SCENARIOS.filter((s) => positionals.includes(s.name)) : SCENARIOS;
  const m = machine();
  const started = new Date();
  process.stderr.write(`perf: ${chosen.map((s) => s.name).join(', ')} on ${file}; ${m.cores} cores, ${m.cpu}, node ${m.node}${quick ? ' (quick)' : ''}\n`);

  const progress = new Progress();
  const options = { quick, runs, seconds, file, progress, mixes: (values.mixes ?? (quick ? QUICK_MIXES : FULL_MIXES)).split(',') };
  const all: Measurement[] = [];
  for (const scenario of chosen) {
    const ms = await scenario.run(options);
    for (const x of ms) {
      all.push(x);
      if (values.json) process.stdout.write(`${JSON.stringify({ ...x, machine: m })}\n`);
    }
  }

  const header: RunHeader = {
    run: started.toISOString(),
    started: started.toISOString(),
    finished: new Date().toISOString(),
    quick,
    machine: m,
    scenarios: chosen.map((s) => s.name),
    command: `npm run perf${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  };
  const dir = quick ? join('perf', 'results', 'quick') : join('perf', 'results');
  mkdirSync(dir, { recursive: true });
  const file0 = join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.jsonl`);
  writeFileSync(file0, [header, ...all.map((x) => ({ ...x, machine: m }))].map((x) => JSON.stringify(x)).join('\n') + '\n');
  copyFileSync(file0, join(dir, 'latest.jsonl'));
  const written = writeReport(quick ? dir : 'perf', header, all);
  process.stderr.write(`results: ${file0}\nreport: ${written.join(', ')}\n`);

  if (quick) {
    const empty = chosen.filter((s) => !all.some((x) => x.scenario === s.name && hasNumbers(x)));
    if (empty.length > 0) {
      process.stderr.write(`perf --quick: no numbers from ${empty.map((s) => s.name).join(', ')}\n`);
      return 1;
    }
    process.stderr.write(`perf --quick: every scenario produced numbers (${all.length} measurements)\n`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`perf failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
