/**
 * perf/RESULTS.md and the charts under perf/charts/, regenerated from one
 * results file (JSON lines: a `run` header, then one measurement per line).
 *
 *   node dist/perf/report.js [perf/results/latest.jsonl] [--out perf]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Machine, Measurement } from './harness.js';
import { barChart, compact } from './svg.js';

export interface RunHeader {
  run: string;
  started: string;
  finished: string;
  quick: boolean;
  machine: Machine;
  scenarios: string[];
  command: string;
}

type Spread = { median: number; min: number; max: number };

const isSpread = (v: unknown): v is Spread => typeof v === 'object' && v !== null && 'median' in v && 'min' in v && 'max' in v;
const med = (v: unknown): number => (isSpread(v) ? v.median : Number(v));
const num = (v: number, digits = 0): string => (Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: digits }) : '–');
const rate = (v: unknown): string => (isSpread(v) ? `${compact(v.median)} (${compact(v.min)}–${compact(v.max)})` : compact(Number(v)));
/** Millions, two decimals: `1.00 M (0.98 M–1.01 M)`. */
const mega = (v: unknown): string => {
  const m = (x: number): string => `${(x / 1e6).toFixed(2)} M`;
  return isSpread(v) ? `${m(v.median)} (${m(v.min)}–${m(v.max)})` : m(Number(v));
};
/** Requests per second as whole numbers with separators: `12,345 (12,001–12,910)`. */
const reqs = (v: unknown): string => (isSpread(v) ? `${num(v.median)} (${num(v.min)}–${num(v.max)})` : num(Number(v)));
const ms = (v: unknown): string => (isSpread(v) ? (v.min === v.max ? `≤ ${v.median}` : `≤ ${v.median} (${v.min}–${v.max})`) : `≤ ${v}`);

interface Goal {
  goal: string;
  measured: string;
  met: boolean;
}

function find(ms: Measurement[], scenario: string, name: string): Measurement | undefined {
  return ms.find((m) => m.scenario === scenario && m.case === name);
}

/** Every goal of the issues that a scenario measured, with the measured value and ratio. */
export function goals(all: Measurement[]): Goal[] {
  const out: Goal[] = [];
  const ringCase = (name: string, goalRate: number, goalRatio: number): void => {
    const m = find(all, 'ring', name);
    if (!m) return;
    const r = Number(m.msgs_per_s);
    const ratio = Number(m.ratio);
    out.push({
      goal: `ring ${name}: ≥ ${compact(goalRate)} msgs/s and ≥ ${goalRatio}× postMessage`,
      measured: `${compact(r)} msgs/s, ${ratio}×`,
      met: r >= goalRate && ratio >= goalRatio,
    });
  };
  ringCase('1x1/32B/batch256', 100e6, 50);
  ringCase('1x1/32B/batch1', 15e6, 20);
  const tenSingle = find(all, 'ring', '10x10/32B/batch1');
  const tenBatched = find(all, 'ring', '10x10/32B/batch256');
  if (tenSingle && tenBatched) {
    out.push({
      goal: 'ring 10x10 one at a time beats postMessage batched',
      measured: `${compact(Number(tenSingle.msgs_per_s))} vs ${compact(Number(tenBatched.baseline_msgs_per_s))} msgs/s`,
      met: Number(tenSingle.msgs_per_s) > Number(tenBatched.baseline_msgs_per_s),
    });
  }
  const one = find(all, 'ingest', '1x1');
  if (one) {
    const r = med(one.samples_per_s);
    out.push({ goal: 'ingest at 1x1: ≥ 2 M samples/s stored', measured: `${compact(r)} samples/s`, met: r >= 2e6 });
    out.push({
      goal: 'ingest at 1x1: ≥ 10× the postMessage pipeline',
      measured: `${one.ratio_to_postmessage_per_record}× per record, ${one.ratio_to_postmessage_batched}× batched`,
      met: Number(one.ratio_to_postmessage_batched) >= 10,
    });
  }
  const cold = find(all, 'csv', 'fast/cold');
  if (cold) out.push({ goal: 'CSV first pass: ≥ 600 k rows/s per thread', measured: `${compact(Number(cold.rows_per_s))} rows/s`, met: Number(cold.rows_per_s) >= 600e3 });
  const mem = all.find((m) => m.scenario === 'memory');
  if (mem) {
    out.push({
      goal: 'memory: ≤ 24 B per stored sample',
      measured: `${mem.bytes_per_sample} B (chunks alone ${mem.chunk_bytes_per_sample} B), ${compact(Number(mem.samples_held))} held`,
      met: Number(mem.bytes_per_sample) <= 24,
    });
  }
  const tele = find(all, 'query', 'telemetry, 1,000 samples');
  if (tele) {
    const ratio = Number(tele.ratio);
    const p99 = med(tele.p99_ms);
    const ingest = med(tele.ingest_samples_per_s);
    out.push({
      goal: 'telemetry 1,000 samples: ≥ 1.5× node:http req/s, p99 < 10 ms, ingest ≥ 1 M samples/s',
      measured: `${ratio}× (${num(med(tele.req_per_s))} vs ${num(med(tele.baseline_req_per_s))} req/s), p99 ${p99} ms, ingest ${mega(ingest)} samples/s`,
      met: ratio >= 1.5 && p99 < 10 && ingest >= 1e6,
    });
  }
  const render = (name: string, goalMs: number): void => {
    const m = find(all, 'metrics', name);
    if (!m) return;
    const p99 = med(m.render_p99_ms);
    out.push({
      goal: `${name} for ${num(Number(m.series))} series: rendered in < ${goalMs} ms`,
      measured: `p99 ${p99} ms, median ${med(m.render_ms)} ms${m.baseline_render_ms === undefined ? '' : ` (prom-client ${med(m.baseline_render_ms)} ms)`}`,
      met: p99 < goalMs,
    });
  };
  render('/metrics/gpus', 2);
  render('/metrics', 5);
  return out;
}

function table(head: string[], rows: string[][]): string {
  const align = head.map((_, i) => (i === 0 ? '---' : '---:'));
  return [`| ${head.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function scenarioTable(scenario: string, ms: Measurement[]): string {
  switch (scenario) {
    case 'ring':
      return table(
        ['case', 'ring msgs/s', 'postMessage msgs/s', 'ratio', 'ring MB/s'],
        ms.map((m) => [m.case, `${compact(Number(m.msgs_per_s))} (${compact(Number(m.msgs_per_s_min))}–${compact(Number(m.msgs_per_s_max))})`, compact(Number(m.baseline_msgs_per_s)), `${m.ratio}×`, num(Number(m.mb_per_s))]),
      );
    case 'csv':
      return table(['parser', 'rows/s', 'MB/s', 'vs csv-parse'], ms.map((m) => [m.case, compact(Number(m.rows_per_s)), num(Number(m.mb_per_s), 1), `${m.ratio_to_csv_parse}×`]));
    case 'ingest':
      return table(
        ['streamers × collectors', 'ring samples/s', 'postMessage batched', 'ratio', 'postMessage per record', 'ratio', 'CPU s', 'peak RSS MiB', 'fullest lane KiB', 'producers blocked ms/s', 'latency p50 / p99 ms', 'reconcile'],
        ms.map((m) => [
          m.case,
          rate(m.samples_per_s),
          rate(m.postmessage_batched_samples_per_s),
          `${m.ratio_to_postmessage_batched}×`,
          rate(m.postmessage_per_record_samples_per_s),
          `${m.ratio_to_postmessage_per_record}×`,
          String(m.cpu_s),
          String(m.peak_rss_mib),
          num(Number(m.ring_hwm_bytes) / 1024),
          String(med(m.producer_blocked_ms_per_s)),
          `≤ ${m.latency_p50_ms} / ≤ ${m.latency_p99_ms}`,
          m.reconciled ? 'yes' : '**no**',
        ]),
      );
    case 'memory':
      return table(
        ['retention', 'samples held', 'RSS start → end MiB', 'RSS per sample, B', 'chunks per sample, B', 'goal, B'],
        ms.map((m) => [m.case, compact(Number(m.samples_held)), `${m.rss_start_mib} → ${m.rss_mib}`, String(m.bytes_per_sample), String(m.chunk_bytes_per_sample), String(m.goal_bytes_per_sample)]),
      );
    case 'latency':
      return table(
        ['rate', 'stored samples/s', 'p50 ms', 'p99 ms', 'max ms'],
        ms.map((m) => [m.case, rate(m.samples_per_s), ms_(m.latency_p50_ms), ms_(m.latency_p99_ms), ms_(m.latency_max_ms)]),
      );
    case 'query':
      return table(
        ['case', 'uWS req/s', 'node:http req/s', 'ratio', 'uWS p50 / p99 ms', 'node:http p50 / p99 ms', 'ingest samples/s'],
        ms.map((m) => [
          m.case,
          reqs(m.req_per_s),
          reqs(m.baseline_req_per_s),
          `${m.ratio}×`,
          `${med(m.p50_ms)} / ${med(m.p99_ms)}`,
          `${med(m.baseline_p50_ms)} / ${med(m.baseline_p99_ms)}`,
          mega(m.ingest_samples_per_s),
        ]),
      );
    case 'metrics':
      return table(
        ['endpoint', 'series × samples', 'median ms', 'p99 ms', 'KiB', 'prom-client median ms', 'ratio'],
        ms.map((m) => [
          m.case,
          `${num(Number(m.series))} × ${num(Number(m.samples_per_series))}`,
          String(med(m.render_ms)),
          String(med(m.render_p99_ms)),
          num(Number(m.bytes) / 1024),
          m.baseline_render_ms === undefined ? '–' : String(med(m.baseline_render_ms)),
          m.ratio === undefined ? '–' : `${m.ratio}×`,
        ]),
      );
    default: {
      const keys = [...new Set(ms.flatMap((m) => Object.keys(m)))].filter((k) => k !== 'scenario' && k !== 'case');
      return table(['case', ...keys], ms.map((m) => [m.case, ...keys.map((k) => (isSpread(m[k]) ? rate(m[k]) : String(m[k] ?? '')))]));
    }
  }
}
const ms_ = ms;

/** The charts for the scenarios present: file name → SVG text. */
export function charts(all: Measurement[]): Map<string, string> {
  const out = new Map<string, string>();
  const ingest = all.filter((m) => m.scenario === 'ingest');
  if (ingest.length > 0) {
    out.set(
      'ingest-throughput.svg',
      barChart({
        title: 'Ingest: samples stored per second by streamers × collectors',
        unit: 'samples/s',
        log: true,
        categories: ingest.map((m) => m.case),
        series: [
          { name: 'native-free-ring', values: ingest.map((m) => med(m.samples_per_s)) },
          { name: 'postMessage, batched', values: ingest.map((m) => med(m.postmessage_batched_samples_per_s)) },
          { name: 'postMessage, per record', values: ingest.map((m) => med(m.postmessage_per_record_samples_per_s)) },
        ],
      }),
    );
  }
  const lat = all.filter((m) => m.scenario === 'latency');
  if (lat.length > 0) {
    out.set(
      'latency.svg',
      barChart({
        title: 'Ingest latency, row read → queryable (2 × 2; bucket upper bounds)',
        unit: 'ms',
        log: true,
        categories: lat.map((m) => m.case),
        series: [
          { name: 'p50', values: lat.map((m) => med(m.latency_p50_ms)) },
          { name: 'p99', values: lat.map((m) => med(m.latency_p99_ms)) },
          { name: 'max', values: lat.map((m) => med(m.latency_max_ms)) },
        ],
        format: (v) => (v < 1 ? v.toString() : compact(v)),
      }),
    );
  }
  const mem = all.filter((m) => m.scenario === 'memory');
  if (mem.length > 0) {
    out.set(
      'memory.svg',
      barChart({
        title: 'Memory per stored sample, retention full (1 × 1)',
        unit: 'bytes per sample',
        categories: mem.map((m) => m.case),
        series: [
          { name: 'RSS growth ÷ samples held', values: mem.map((m) => Number(m.bytes_per_sample)) },
          { name: 'chunk memory ÷ samples held', values: mem.map((m) => Number(m.chunk_bytes_per_sample)) },
        ],
        goal: { value: 24, label: 'goal: 24 B' },
      }),
    );
  }
  const query = all.filter((m) => m.scenario === 'query');
  if (query.length > 0) {
    out.set(
      'query.svg',
      barChart({
        title: 'HTTP API under load while ingest runs: requests per second by case',
        unit: 'req/s',
        log: true,
        categories: query.map((m) => m.case.replace(/^GET /, '')),
        series: [
          { name: 'uWebSockets.js (the API)', values: query.map((m) => med(m.req_per_s)) },
          { name: 'node:http, same handlers', values: query.map((m) => med(m.baseline_req_per_s)) },
        ],
        format: (v) => num(v),
      }),
    );
  }
  const ring = all.filter((m) => m.scenario === 'ring');
  if (ring.length > 0) {
    out.set(
      'ring.svg',
      barChart({
        title: 'native-free-ring against postMessage',
        unit: 'messages/s',
        log: true,
        categories: ring.map((m) => m.case.replace('/batch', ' ×')),
        series: [
          { name: 'native-free-ring', values: ring.map((m) => Number(m.msgs_per_s)) },
          { name: 'postMessage', values: ring.map((m) => Number(m.baseline_msgs_per_s)) },
        ],
      }),
    );
  }
  return out;
}

const ABOUT: Record<string, string> = {
  ring: 'Messages moved from P producer threads to C consumer threads, native-free-ring against `MessagePort.postMessage`, interleaved (`npm run bench -w native-free-ring`). Median of runs, min–max in brackets.',
  csv: 'DCGM CSV rows parsed per second on one thread: the fast path with fresh dictionaries (a first pass), with warm ones (later passes of a long export), and csv-parse alone.',
  ingest: 'The CSV looped flat out through streamers → ring → collectors → store, against the same pipeline over `postMessage` (a batch per message, and a message per record), each run interleaved. Median (min–max) of runs. Producers blocked: time streamers waited on full lanes per second, summed over streamers: where backpressure sets in.',
  memory: 'RSS growth from just after start to once retention is full and has turned over, divided by the samples held; and the chunk slabs alone.',
  latency: 'Row read → stored and announced to the API thread, from the collectors\' histogram (so upper bounds of its buckets), 2 streamers × 2 collectors, paced.',
  query: 'HTTP load (autocannon, 10 keep-alive connections) on the uWS API while ingest is paced at 1.02 M samples/s (1 streamer × 1 collector, leaving the API thread a core of the two), against a node:http server answering the same queries from the same store with the same handlers, interleaved case by case. Median (min–max) of runs; latency p50 / p99 are medians of runs; ingest: samples stored per second during the uWS loads.',
  metrics: 'Rendering `/metrics/gpus` and `/metrics` for the CSV\'s series (2,470 for the real export), against prom-client rendering the same series as labelled gauges with values already set. Median of runs.',
};

export function resultsMarkdown(header: RunHeader, all: Measurement[], chartFiles: string[]): string {
  const lines: string[] = [];
  lines.push('# Performance results', '');
  lines.push(`Generated by \`${header.command}\` (perf/report.ts) from \`perf/results/latest.jsonl\`; do not edit by hand.`, '');
  const m = header.machine;
  lines.push(`Run ${header.started} → ${header.finished} on ${m.cores} cores (${m.cpu}), Node ${m.node}, ${m.platform}${header.quick ? ' (--quick: short runs, not for quoting)' : ''}.`, '');
  const g = goals(all);
  if (g.length > 0) {
    lines.push('## Goals', '', table(['goal', 'measured', 'met'], g.map((x) => [x.goal, x.measured, x.met ? 'yes' : '**no**'])), '');
  }
  if (chartFiles.length > 0) {
    lines.push('## Charts', '');
    for (const f of chartFiles) lines.push(`![${f.replace('.svg', '')}](charts/${f})`, '');
  }
  for (const scenario of header.scenarios) {
    const ms = all.filter((x) => x.scenario === scenario);
    if (ms.length === 0) continue;
    lines.push(`## ${scenario}`, '');
    if (ABOUT[scenario]) lines.push(ABOUT[scenario]!, '');
    lines.push(scenarioTable(scenario, ms), '');
  }
  return lines.join('\n');
}

/** Reads a results file: its header and measurements. */
export function readResults(path: string): { header: RunHeader; measurements: Measurement[] } {
  const rows = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const header = rows.find((r) => typeof r.run === 'string') as RunHeader | undefined;
  if (!header) throw new Error(`${path}: no run header line`);
  return { header, measurements: rows.filter((r) => typeof r.scenario === 'string') as Measurement[] };
}

/** Writes RESULTS.md and charts/ under `outDir`. */
export function writeReport(outDir: string, header: RunHeader, all: Measurement[]): string[] {
  const svgs = charts(all);
  mkdirSync(join(outDir, 'charts'), { recursive: true });
  for (const [name, svg] of svgs) writeFileSync(join(outDir, 'charts', name), svg);
  const md = join(outDir, 'RESULTS.md');
  writeFileSync(md, resultsMarkdown(header, all, [...svgs.keys()]));
  return [md, ...[...svgs.keys()].map((n) => join(outDir, 'charts', n))];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args[outAt + 1]! : 'perf';
  const file = args.find((a, i) => !a.startsWith('--') && (outAt < 0 || i !== outAt + 1)) ?? 'perf/results/latest.jsonl';
  const { header, measurements } = readResults(file);
  for (const f of writeReport(out, header, measurements)) process.stdout.write(`wrote ${f}\n`);
}
