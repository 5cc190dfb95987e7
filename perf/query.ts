/**
 * perf scenarios of the HTTP API:
 *
 * - query: HTTP load (autocannon, 10 connections, keep-alive) on the uWS API
 *   while ingest stores 1 M samples/s, against a node:http server answering
 *   the same queries from the same store (perf/query-child.ts, one process
 *   for the whole scenario). Per case and run, the API then node:http, so a
 *   drift in the machine's speed hits both alike: req/s, latency p50, p99
 *   and max, and the samples/s ingest stored during each load. Any answer
 *   but a 200 fails the run.
 * - metrics: render time of /metrics/gpus and /metrics for the CSV's series
 *   (2,470 for the real export) against prom-client (perf/metrics-render.ts,
 *   a process per run).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { runJsonLines, spread, type Measurement, type Scenario, type ScenarioOptions } from './harness.js';
import type { IngestRate, Ready } from './query-child.js';

const CHILD = new URL('./query-child.js', import.meta.url);
/** Concurrent keep-alive connections per load, as the goal was measured. */
const CONNECTIONS = 10;
/** Requests per (case, server) before the first run, so both servers meet the load with optimized code. */
const WARM_UP_REQUESTS = 200;
/** The `metrics` scenario's store: the default retention (36,000 samples per series, 71 chunks), 4 in --quick. */
const RENDER_SAMPLES = { full: 36_000, quick: 4 } as const;
const RENDERS = { full: 200, quick: 50 } as const;

export interface QueryCase {
  /** The case's name in results (the goals in report.ts name TELEMETRY_CASE). */
  name: string;
  /** The request path and query for a GPU id. */
  path(gpu: string): string;
  /** Checks one answer's body: the right shape and size. */
  check(body: string): void;
}

export const TELEMETRY_CASE = 'telemetry, 1,000 samples';

function parsed(body: string): { data: Array<Record<string, unknown>>; next?: unknown } {
  const v = JSON.parse(body) as { data?: unknown };
  if (!Array.isArray(v.data)) throw new Error(`expected {"data":[…]}, got ${body.slice(0, 200)}`);
  return v as { data: Array<Record<string, unknown>>; next?: unknown };
}

function needKeys(entry: Record<string, unknown> | undefined, keys: string[]): void {
  const missing = keys.filter((k) => entry === undefined || !(k in entry));
  if (missing.length > 0) throw new Error(`an entry lacks ${missing.join(', ')}: ${JSON.stringify(entry)}`);
}

export const CASES: readonly QueryCase[] = [
  {
    name: 'GET /api/v1/gpus',
    path: () => '/api/v1/gpus',
    check(body) {
      const v = parsed(body);
      if (v.data.length === 0) throw new Error('no GPUs listed');
      needKeys(v.data[0], ['id', 'metrics', 'samples', 'first_sample_time', 'last_sample_time']);
    },
  },
  {
    name: TELEMETRY_CASE,
    path: (gpu) => `/api/v1/gpus/${encodeURIComponent(gpu)}/telemetry?limit=1000`,
    check(body) {
      const v = parsed(body);
      if (v.data.length !== 1000) throw new Error(`expected 1000 samples, got ${v.data.length}`);
      needKeys(v.data[0], ['timestamp', 'metric_name', 'value']);
    },
  },
  {
    // The whole held range (about 11 s of every metric) in 1 s buckets: one page.
    name: 'telemetry, step=1s avg',
    path: (gpu) => `/api/v1/gpus/${encodeURIComponent(gpu)}/telemetry?step=1s&agg=avg&limit=10000`,
    check(body) {
      const v = parsed(body);
      if (v.data.length === 0 || v.next !== null) throw new Error(`expected the whole range in one page, got ${v.data.length} buckets and next ${JSON.stringify(v.next)}`);
      needKeys(v.data[0], ['timestamp', 'metric_name', 'value', 'samples']);
    },
  },
  {
    name: 'GET /metrics',
    path: () => '/metrics',
    check(body) {
      if (!body.includes('gpu_telemetry_samples_stored_total ')) throw new Error(`no gpu_telemetry_samples_stored_total in ${body.slice(0, 200)}`);
    },
  },
  {
    name: 'GET /metrics/gpus',
    path: () => '/metrics/gpus',
    check(body) {
      if (!body.startsWith('# HELP ')) throw new Error(`not Prometheus text: ${body.slice(0, 200)}`);
    },
  },
];

/** One load's numbers. */
export interface LoadResult {
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  requests: number;
}

/**
 * autocannon's result as numbers: requests answered per second of the load,
 * and latency percentiles. @throws Error naming the server, case and every
 * answer that was not a 200, and any connection error or timeout.
 */
export function loadResult(r: autocannon.Result, label: string): LoadResult {
  const other = Object.entries(r.statusCodeStats ?? {})
    .filter(([code, s]) => code !== '200' && (s?.count ?? 0) > 0)
    .map(([code, s]) => `${s?.count} × ${code}`);
  const problems = [
    ...(other.length > 0 ? [`answers other than 200: ${other.join(', ')}`] : r.non2xx > 0 ? [`${r.non2xx} answers other than 2xx`] : []),
    ...(r.errors > 0 ? [`${r.errors} connection errors (${r.timeouts} timeouts)`] : []),
    ...(r.mismatches > 0 ? [`${r.mismatches} mismatched bodies`] : []),
    ...(r.requests.total === 0 ? ['no request answered'] : []),
  ];
  if (problems.length > 0) throw new Error(`${label}: ${problems.join('; ')}`);
  return {
    req_per_s: Math.round(r.requests.total / r.duration),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    max_ms: r.latency.max,
    requests: r.requests.total,
  };
}

/** perf/query-child.ts: waits for its Ready line, then sends commands and reads one JSON line each. */
class QueryChild {
  readonly ready: Promise<Ready>;
  private readonly proc: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly waiting: Array<{ resolve(v: unknown): void; reject(e: Error): void }> = [];
  private stderrTail = '';
  private readonly closed: Promise<number | null>;
  private exited = false;

  constructor(file: string) {
    const path = fileURLToPath(CHILD);
    this.proc = spawn(process.execPath, [path, '--file', file], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      this.waiting.shift()?.resolve(JSON.parse(line));
    });
    this.proc.stderr.setEncoding('utf8').on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-4000);
    });
    this.proc.stdin.on('error', () => {}); // a write after the child died: reported by 'close' below
    this.closed = new Promise((resolve) => {
      this.proc.on('error', (err) => {
        this.exited = true;
        for (const w of this.waiting.splice(0)) w.reject(err);
        resolve(null);
      });
      this.proc.on('close', (code, signal) => {
        this.exited = true;
        const err = new Error(`${path} exited with ${code ?? signal}: ${this.stderrTail.trim() || 'no output on stderr'}`);
        for (const w of this.waiting.splice(0)) w.reject(err);
        resolve(code);
      });
    });
    this.ready = this.next<Ready>();
  }

  command<T>(command: 'mark' | 'rate' | 'stop'): Promise<T> {
    const answer = this.next<T>();
    this.proc.stdin.write(`${command}\n`);
    return answer;
  }

  /** Stops the engine and both servers: the samples/s stored from Ready to now. */
  async stop(): Promise<IngestRate> {
    const rate = await this.command<IngestRate>('stop');
    const code = await this.closed;
    if (code !== 0) throw new Error(`${fileURLToPath(CHILD)} exited with ${code} after stop: ${this.stderrTail.trim()}`);
    return rate;
  }

  /** Ends the child if it still runs (after a failure). */
  async kill(): Promise<void> {
    if (this.exited) return;
    this.proc.kill('SIGTERM');
    await this.closed;
  }

  private next<T>(): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${fileURLToPath(CHILD)} has exited: ${this.stderrTail.trim()}`));
    return new Promise<T>((resolve, reject) => this.waiting.push({ resolve: resolve as (v: unknown) => void, reject }));
  }
}

type Server = 'uWS' | 'node:http';
const SERVERS: readonly Server[] = ['uWS', 'node:http'];

/** One request to each server for each case: a 200 with the expected body, or the run fails before any load. */
async function preflight(bases: Record<Server, string>, gpu: string): Promise<void> {
  for (const c of CASES) {
    for (const server of SERVERS) {
      const url = `${bases[server]}${c.path(gpu)}`;
      const res = await fetch(url);
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${server} answered ${res.status} to GET ${url}: ${body.slice(0, 300)}`);
      try {
        c.check(body);
      } catch (err) {
        throw new Error(`${server} GET ${url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
  }
}

function load(url: string, options: { seconds: number } | { amount: number }): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, ...('seconds' in options ? { duration: options.seconds } : { amount: options.amount }) });
}

export const query: Scenario = {
  name: 'query',
  about: 'HTTP req/s and latency of the uWS API against node:http, same queries, same store, while ingest stores 1 M samples/s',
  async run(o: ScenarioOptions): Promise<Measurement[]> {
    const steps = 1 + CASES.length * o.runs * SERVERS.length;
    o.progress.start('query', steps);
    o.progress.note('ingest at 1 M samples/s until retention is full');
    const child = new QueryChild(o.file);
    try {
      const ready = await child.ready;
      const bases: Record<Server, string> = { uWS: `http://127.0.0.1:${ready.port}`, 'node:http': `http://127.0.0.1:${ready.baseline_port}` };
      o.progress.step(`warmed up in ${ready.warm_up_s} s; ${ready.gpu_samples} samples on ${ready.gpu}`);
      await preflight(bases, ready.gpu);
      for (const c of CASES) {
        for (const server of SERVERS) {
          o.progress.note(`warm-up ${c.name} on ${server}`);
          loadResult(await load(`${bases[server]}${c.path(ready.gpu)}`, { amount: WARM_UP_REQUESTS }), `warm-up ${server} ${c.name}`);
        }
      }

      const runs = new Map<string, Record<Server, Array<LoadResult & { ingest: number }>>>(CASES.map((c) => [c.name, { uWS: [], 'node:http': [] }]));
      for (let run = 0; run < o.runs; run++) {
        for (const c of CASES) {
          for (const server of SERVERS) {
            o.progress.note(`${c.name} on ${server} (run ${run + 1}/${o.runs})`);
            await child.command('mark');
            const r = loadResult(await load(`${bases[server]}${c.path(ready.gpu)}`, { seconds: o.seconds }), `${server} ${c.name}`);
            const ingest = await child.command<IngestRate>('rate');
            runs.get(c.name)![server].push({ ...r, ingest: ingest.samples_per_s });
            o.progress.step(`${c.name} on ${server}: ${r.req_per_s} req/s`);
          }
        }
      }
      const overall = await child.stop();

      const out: Measurement[] = [];
      for (const c of CASES) {
        const by = runs.get(c.name)!;
        const field = (server: Server, f: keyof LoadResult | 'ingest', digits = 0) => spread(by[server].map((r) => r[f]), digits);
        const rate = field('uWS', 'req_per_s');
        const base = field('node:http', 'req_per_s');
        out.push({
          scenario: 'query',
          case: c.name,
          path: c.path('{id}'),
          connections: CONNECTIONS,
          runs: o.runs,
          seconds_per_run: o.seconds,
          req_per_s: rate,
          baseline_req_per_s: base,
          ratio: Number((rate.median / base.median).toFixed(2)),
          p50_ms: field('uWS', 'p50_ms', 2),
          p99_ms: field('uWS', 'p99_ms', 2),
          max_ms: field('uWS', 'max_ms', 2),
          baseline_p50_ms: field('node:http', 'p50_ms', 2),
          baseline_p99_ms: field('node:http', 'p99_ms', 2),
          baseline_max_ms: field('node:http', 'max_ms', 2),
          ingest_samples_per_s: field('uWS', 'ingest'),
          baseline_ingest_samples_per_s: field('node:http', 'ingest'),
          load_window_ingest_samples_per_s: overall.samples_per_s,
          gpu_samples: ready.gpu_samples,
        });
      }
      o.progress.finish();
      return out;
    } finally {
      await child.kill();
    }
  },
};

interface Timing {
  median_ms: number;
  p99_ms: number;
  bytes: number;
}

export const metrics: Scenario = {
  name: 'metrics',
  about: 'render ms of /metrics/gpus (2,470 series for the real export) and /metrics, against prom-client',
  async run(o: ScenarioOptions): Promise<Measurement[]> {
    const samples = o.quick ? RENDER_SAMPLES.quick : RENDER_SAMPLES.full;
    const renders = o.quick ? RENDERS.quick : RENDERS.full;
    o.progress.start('metrics', o.runs);
    const runs: Array<Record<string, unknown>> = [];
    for (let run = 0; run < o.runs; run++) {
      o.progress.note(`${samples} samples per series, ${renders} renders each (run ${run + 1}/${o.runs})`);
      const lines: Array<Record<string, unknown>> = [];
      await runJsonLines(CHILD, ['metrics', '--json', '--renders', String(renders), '--samples', String(samples), '--file', o.file], (v) => lines.push(v));
      const timings = lines.find((v) => v.scenario === 'metrics' && typeof v.gpu_metrics === 'object' && typeof v.pipeline_metrics === 'object');
      if (timings === undefined) throw new Error(`perf/metrics-render.ts printed no timings: ${JSON.stringify(lines).slice(0, 300)}`);
      runs.push(timings);
      o.progress.step(`run ${run + 1}`);
    }
    const first = runs[0]!;
    const timing = (key: string, f: keyof Timing, digits = 3) => spread(runs.map((r) => (r[key] as Timing)[f]), digits);
    const common = { series: first.series, gpus: first.gpus, samples_per_series: samples, renders, runs: o.runs };
    const gpus = timing('gpu_metrics', 'median_ms');
    const baseline = timing('baseline', 'median_ms');
    const baselineCollect = timing('baseline_collect', 'median_ms');
    o.progress.finish();
    return [
      {
        scenario: 'metrics',
        case: '/metrics/gpus',
        ...common,
        render_ms: gpus,
        render_p99_ms: timing('gpu_metrics', 'p99_ms'),
        bytes: timing('gpu_metrics', 'bytes', 0).max,
        baseline_render_ms: baseline,
        baseline_render_p99_ms: timing('baseline', 'p99_ms'),
        baseline_collect_render_ms: baselineCollect,
        ratio: Number((baseline.median / gpus.median).toFixed(1)),
        ratio_to_collect: Number((baselineCollect.median / gpus.median).toFixed(1)),
      },
      {
        scenario: 'metrics',
        case: '/metrics',
        ...common,
        render_ms: timing('pipeline_metrics', 'median_ms'),
        render_p99_ms: timing('pipeline_metrics', 'p99_ms'),
        bytes: timing('pipeline_metrics', 'bytes', 0).max,
        store_size_ms: timing('store_size', 'median_ms'),
        store_size_walk_ms: timing('store_size_walk', 'median_ms'),
      },
    ];
  },
};
