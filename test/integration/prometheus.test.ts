/**
 * The two Prometheus endpoints against the real thing, Debian's `prometheus`
 * package: `promtool check metrics` parses and lints both renderers' output,
 * and a real Prometheus scrapes them from a running Engine (data/sample.csv,
 * looped) and answers queries about what it scraped.
 *
 * The real export (../shared/data) is rendered and checked by promtool too.
 * The HTTP side is the API server itself (uWebSockets.js). Needs `prometheus` and
 * `promtool` on PATH (`apt-get install -y --no-install-recommends prometheus`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { GpuMetricsRenderer } from '../../src/api/gpu-metrics.js';
import { engineDeps } from '../../src/api/deps.js';
import { startApi } from '../../src/api/server.js';
import { QueryPool } from '../../src/query/query-pool.js';
import type * as EngineModule from '../../src/engine/engine.js';
import { parseFile } from '../../src/ingest/csv-source.js';
import { createDictionaries } from '../../src/ingest/dictionary.js';
import { Registry } from '../../src/storage/registry.js';
import { ShardWriter } from '../../src/storage/shard-writer.js';
import { distPath } from '../fixtures/dist.js';
import { parsePromText } from '../fixtures/prom-text.js';

function onPath(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(dir, name);
    if (dir !== '' && existsSync(path)) return path;
  }
  throw new Error(`${name} is not on PATH: this test needs Debian's prometheus package (apt-get install -y --no-install-recommends prometheus), which ships prometheus and promtool`);
}

const PROMETHEUS = onPath('prometheus');
const PROMTOOL = onPath('promtool');
const SAMPLE = fileURLToPath(new URL('../../data/sample.csv', import.meta.url));
const REAL_EXPORT = fileURLToPath(new URL('../../../shared/data/dcgm_metrics_20250718_134233.csv', import.meta.url));
if (!existsSync(REAL_EXPORT)) throw new Error(`${REAL_EXPORT} is missing: the integration tests need the shared reference data`);

// Workers load compiled JS, so the engine is the compiled one.
const { Engine } = (await import(pathToFileURL(distPath('src/engine/engine.js')).href)) as typeof EngineModule;

const silent = { info() {}, warn() {}, error() {} };

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** `promtool check metrics` on `text`: its exit status and its distinct findings (it repeats one per sample). */
function promtool(text: string): { status: number | null; findings: string[] } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  const findings = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
  return { status: r.status, findings: [...new Set(findings)] };
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The uuid of the sample's first data row. */
function firstUuid(csv: string): string {
  const lines = readFileSync(csv, 'utf8').split('\n', 2);
  const header = lines[0]!.split(',');
  const fields = lines[1]!.slice(1).split('","');
  return fields[header.indexOf('uuid')]!;
}

const engine = new Engine(
  {
    csvFile: SAMPLE,
    streamers: 1,
    collectors: 1,
    loop: true,
    // 2 ms a row: samples keep arriving without taking a core from Prometheus.
    streamIntervalMs: 2,
    timestampMode: 'processed',
    queueBufferSize: 65_536,
    retentionMs: 3_600_000,
    maxSamplesPerSeries: 1024,
    workerExecArgv: [],
  },
  silent,
);
await engine.start();
const queries = new QueryPool({ threads: 1 });
// The real API server (uWebSockets.js), as `npm start` runs it.
const deps = engineDeps(engine, queries, silent);
const server = await startApi(deps, { host: '127.0.0.1', port: 0 });
const dir = mkdtempSync(join(tmpdir(), 'gpu-telemetry-prometheus-'));
let prometheus: ChildProcess | undefined;
t.teardown(async () => {
  if (prometheus !== undefined && prometheus.exitCode === null && prometheus.signalCode === null) {
    const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
    prometheus.kill('SIGTERM');
    const killed = setTimeout(() => prometheus!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killed);
  }
  await server.close();
  await queries.close();
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
});

const base = `http://127.0.0.1:${server.port}`;
// A whole pass, so every series of the sample is held.
await until('a first pass over the sample', 60_000, async () => (engine.counters.snapshot().passes >= 1 ? true : undefined));

t.test('promtool parses both renderers\' output; its only lint findings are names kept as their owners wrote them', async (t) => {
  const pipeline = await (await fetch(`${base}/metrics`)).text();
  const gpus = await (await fetch(`${base}/metrics/gpus`)).text();
  const held = [...parsePromText(gpus).values()];
  t.equal(held.length, 10, 'all 10 DCGM metrics of the sample');
  t.equal(held.reduce((n, f) => n + f.samples.length, 0), engine.registry.gpus.size * 10, 'a line per (GPU, metric)');

  const p = promtool(pipeline);
  t.not(p.status, 1, '/metrics parses');
  t.ok(p.status === 0 || p.status === 3, `promtool exit ${p.status}: 0 clean, 3 lint findings only`);
  // prom-client's own default metrics name three gauges *_total; nothing of ours is flagged.
  t.same(
    p.findings.filter((f) => !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(f)),
    [],
    '/metrics: no finding on a gpu_telemetry_ metric',
  );
  t.comment(`promtool on /metrics: exit ${p.status}; ${p.findings.join('; ') || 'no findings'}`);

  const g = promtool(gpus);
  t.not(g.status, 1, '/metrics/gpus parses');
  t.ok(g.status === 0 || g.status === 3, `promtool exit ${g.status}: 0 clean, 3 lint findings only`);
  // dcgm-exporter's own names: camelCase labels (modelName, Hostname, UUID) and counters without _total.
  t.same(
    g.findings.filter(
      (f) => !/^DCGM_FI_\w+ label names should be written in 'snake_case' not 'camelCase'$/.test(f) && !/^DCGM_FI_\w+ counter metrics should have "_total" suffix$/.test(f),
    ),
    [],
    '/metrics/gpus: only the findings dcgm-exporter\'s own output gets',
  );
  t.comment(`promtool on /metrics/gpus: exit ${g.status}; ${g.findings.join('; ') || 'no findings'}`);

  const broken = promtool('bad{label="unterminated} 1\n');
  t.equal(broken.status, 1, 'promtool does fail a text it cannot parse');
});

t.test('promtool parses the real export\'s 2,470 series as /metrics/gpus renders them, a DCGM counter included', async (t) => {
  const registry = new Registry();
  const writer = new ShardWriter(0, { retentionMs: Number.MAX_SAFE_INTEGER, maxSamplesPerSeries: 1024 }, (e) => registry.apply(e));
  const dictionaries = createDictionaries();
  await parseFile(REAL_EXPORT, { dictionaries }, (batch) => {
    for (let i = 0; i < batch.length; i++) {
      writer.append(dictionaries.gpus.values[batch.gpu[i]!]!, dictionaries.metrics.values[batch.metric[i]!]!, batch.tsMs[i]!, batch.value[i]!);
    }
  });
  const first = registry.gpus.values().next().value!.identity;
  writer.append(first, 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 1, 123456789);
  const text = new GpuMetricsRenderer(registry).render();
  t.equal(text.split('\n').filter((l) => l.startsWith('DCGM_FI_')).length, 2471, '2,470 series and the counter');
  const r = promtool(text);
  t.not(r.status, 1, 'parses');
  t.same(
    r.findings.filter((f) => !/^DCGM_FI_\w+ label names should be written in 'snake_case' not 'camelCase'$/.test(f)),
    ['DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter metrics should have "_total" suffix'],
    'the counter is typed counter, under its DCGM name',
  );
});

t.test('a real Prometheus scrapes both endpoints and answers queries about them', async (t) => {
  const promPort = await freePort();
  const target = `127.0.0.1:${server.port}`;
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: pipeline',
      '    metrics_path: /metrics',
      `    static_configs: [{ targets: ['${target}'] }]`,
      '  - job_name: gpus',
      '    metrics_path: /metrics/gpus',
      `    static_configs: [{ targets: ['${target}'] }]`,
      '',
    ].join('\n'),
  );
  let log = '';
  prometheus = spawn(
    PROMETHEUS,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  prometheus.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  t.teardown(() => {
    if (!t.passing()) t.comment(`prometheus log:\n${log}`);
  });
  const api = `http://127.0.0.1:${promPort}`;
  const get = async (path: string): Promise<{ status: string; data: unknown }> => {
    if (prometheus!.exitCode !== null) throw new Error(`prometheus exited with ${prometheus!.exitCode}: ${log}`);
    const res = await fetch(`${api}${path}`);
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return (await res.json()) as { status: string; data: unknown };
  };
  const query = async (promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const r = await get(`/api/v1/query?query=${encodeURIComponent(promql)}`);
    if (r.status !== 'success') throw new Error(`query ${promql}: ${JSON.stringify(r)}`);
    return (r.data as { result: Array<{ metric: Record<string, string>; value: [number, string] }> }).result;
  };

  await until('Prometheus to be ready', 60_000, async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined));
  type Target = { labels: { job: string }; scrapeUrl: string; health: string; lastError: string };
  const targets = await until('both targets to be up', 30_000, async () => {
    const active = ((await get('/api/v1/targets')).data as { activeTargets: Target[] }).activeTargets;
    return active.length === 2 && active.every((x) => x.health === 'up') ? active : undefined;
  });
  t.same(
    targets.map((x) => [x.labels.job, x.scrapeUrl, x.health]).sort(),
    [
      ['gpus', `http://${target}/metrics/gpus`, 'up'],
      ['pipeline', `http://${target}/metrics`, 'up'],
    ],
    'both targets up',
  );

  const uuid = firstUuid(SAMPLE);
  const util = await until(`DCGM_FI_DEV_GPU_UTIL of ${uuid}`, 15_000, async () => {
    const r = await query(`DCGM_FI_DEV_GPU_UTIL{UUID="${uuid}"}`);
    return r.length > 0 ? r : undefined;
  });
  t.equal(util.length, 1, 'one series for the GPU');
  t.equal(util[0]!.metric.job, 'gpus');
  t.match(util[0]!.metric, { UUID: uuid, __name__: 'DCGM_FI_DEV_GPU_UTIL' });
  t.ok(Number.isFinite(Number(util[0]!.value[1])), `a value: ${util[0]!.value[1]}`);
  t.ok(util[0]!.metric.pod !== undefined && util[0]!.metric.modelName !== undefined, 'with the DCGM labels, pod included');

  const stored = async (): Promise<number | undefined> => {
    const r = await query('gpu_telemetry_samples_stored_total{job="pipeline"}');
    return r.length === 1 ? Number(r[0]!.value[1]) : undefined;
  };
  const first = await until('gpu_telemetry_samples_stored_total', 15_000, stored);
  const later = await until('gpu_telemetry_samples_stored_total to grow', 20_000, async () => {
    const v = await stored();
    return v !== undefined && v > first ? v : undefined;
  });
  t.ok(later > first, `samples stored grew from ${first} to ${later} between scrapes`);

  const requests = await until('the scrapes counted by route', 15_000, async () => {
    const r = await query('gpu_telemetry_http_requests_total{route="/metrics/gpus",method="GET",status="200"}');
    return r.length === 1 ? Number(r[0]!.value[1]) : undefined;
  });
  t.ok(requests >= 1, `/metrics/gpus requests counted by route: ${requests}`);
});
