/**
 * perf: ingest end to end. Loops a DCGM CSV at STREAM_INTERVAL=0 through
 * streamers → native-free-ring → collectors → the in-memory store for each
 * (streamers, collectors) mix, and reports samples stored per second, CPU
 * seconds, peak RSS, and memory per stored sample once retention is full:
 * (RSS after the measured window − RSS just after start) ÷ samples held, after
 * a warm-up that fills retention (1,024 samples per series).
 *
 *   npm run perf -- ingest [--json] [--seconds 3] [--mixes 1x1,2x2,10x2,2x10,5x5,10x10] [--file path]
 *
 * Input: the real export (../shared/data, relative to the repository root)
 * when it exists, else data/sample.csv. Each mix runs in a fresh child
 * process, so RSS and CPU time are its own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REAL_EXPORT = '../shared/data/dcgm_metrics_20250718_134233.csv';
const SAMPLE = 'data/sample.csv';
/** Per series: with retention full, memory per sample is steady-state RSS growth ÷ samples held. */
const SAMPLES_PER_SERIES = 1024;
/** Looping before measuring, until retention is full (2,470 series × 1,024 samples in the real export). */
const WARM_UP_S = 3;

interface Result {
  streamers: number;
  collectors: number;
  seconds: number;
  samples_per_s: number;
  samples_stored: number;
  cpu_s: number;
  peak_rss_mib: number;
  bytes_per_sample: number;
  samples_held: number;
  reconciled: boolean;
}

async function child(file: string, streamers: number, collectors: number, seconds: number): Promise<Result> {
  const { Engine } = await import('../src/engine/engine.js');
  const { listGpus } = await import('../src/query/range-read.js');
  const silent = { info() {}, warn() {}, error() {} };
  const engine = new Engine(
    {
      csvFile: file,
      streamers,
      collectors,
      loop: true,
      timestampMode: 'processed',
      streamIntervalMs: 0,
      queueBufferSize: 262144,
      retentionMs: 3_600_000,
      maxSamplesPerSeries: SAMPLES_PER_SERIES,
    },
    silent,
  );
  await engine.start();
  // Baseline: the ring, the workers and an (almost) empty store.
  const rss0 = process.memoryUsage().rss;
  await new Promise((r) => setTimeout(r, WARM_UP_S * 1000));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stored0 = engine.counters.snapshot().samplesStored;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  const stored = engine.counters.snapshot().samplesStored - stored0;
  const cpu = process.cpuUsage(cpu0);
  const rss = process.memoryUsage().rss;
  let held = 0;
  for (const gpu of listGpus(engine.registry)) held += gpu.samples;
  await engine.stop();
  const c = engine.counters.snapshot();
  return {
    streamers,
    collectors,
    seconds: Number(elapsed.toFixed(2)),
    samples_per_s: Math.round(stored / elapsed),
    samples_stored: c.samplesStored,
    cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    bytes_per_sample: held > 0 ? Number(((rss - rss0) / held).toFixed(1)) : NaN,
    samples_held: held,
    reconciled: c.unaccounted === 0,
  };
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '3' },
      mixes: { type: 'string', default: '1x1,2x2,10x2,2x10,5x5,10x10' },
      file: { type: 'string' },
      child: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run perf -- ingest [--json] [--seconds 3] [--mixes 1x1,2x2,...] [--file path]\n');
    return;
  }
  const file = values.file ?? (existsSync(REAL_EXPORT) ? REAL_EXPORT : SAMPLE);
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new RangeError(`--seconds must be a positive number, got ${values.seconds}`);
  if (values.child !== undefined) {
    const [s, c] = values.child.split('x').map(Number);
    process.stdout.write(JSON.stringify(await child(file, s!, c!, seconds)));
    return;
  }
  const mixes = values.mixes.split(',').map((m) => {
    const r = /^(\d+)x(\d+)$/.exec(m.trim());
    if (!r) throw new RangeError(`--mixes entries look like 2x10 (streamers x collectors), got "${m}"`);
    return r[1] + 'x' + r[2];
  });
  const machine = { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version };
  process.stderr.write(`ingest: ${file}, ${seconds} s per mix, ${machine.cores} cores, ${machine.cpu}, node ${machine.node}\n`);
  const script = fileURLToPath(new URL('./run.js', import.meta.url));
  for (const [i, mix] of mixes.entries()) {
    process.stderr.write(`[${i + 1}/${mixes.length}] ${mix} ...\n`);
    const out = execFileSync(process.execPath, [script, 'ingest', '--child', mix, '--seconds', String(seconds), '--file', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const r = { scenario: 'ingest', ...(JSON.parse(out) as Result), machine };
    if (values.json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      process.stdout.write(
        `${mix.padEnd(6)} ${(r.samples_per_s / 1e6).toFixed(2)} M samples/s  cpu ${r.cpu_s} s  peak RSS ${r.peak_rss_mib} MiB  ` +
          `${r.bytes_per_sample} B/sample held (${r.samples_held})  ${r.reconciled ? 'counters reconcile' : 'COUNTERS DO NOT RECONCILE'}\n`,
      );
    }
  }
}
