/**
 * native-free-ring benchmark: messages/s and MB/s through the ring for
 * producer × consumer mixes, message sizes and batch sizes, each measured in
 * the same run as the baseline users would otherwise reach for,
 * MessagePort.postMessage of the same payloads. Ring and baseline runs are
 * interleaved, so a ratio holds while the machine's speed drifts.
 *
 *   npm run bench -w native-free-ring -- [--json] [--quick] [--runs N] ...
 */
import os from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { FreeRing } from '../src/index.js';
import type { WorkerJob, WorkerResult } from './ring-worker.js';

const HELP = `usage: npm run bench -w native-free-ring -- [options]

Moves sequence-numbered messages from P producer threads to C consumer
threads through native-free-ring and, interleaved in the same run, through
MessagePort.postMessage; prints messages/s, MB/s and the ratio.

  --mixes LIST      producer x consumer mixes      (default 1x1,2x2,4x4,10x10)
  --bytes LIST      payload sizes in bytes         (default 32,256)
  --batch LIST      messages per push/pop call     (default 1,256)
  --duration MS     producing time per run, ms     (default 500)
  --runs N          runs per case; median reported (default 3)
  --lane-bytes N    ring bytes per lane            (default 262144)
  --quick           --duration 150 --runs 1
  --json            one JSON object per case on stdout instead of a table
  --help            this text
`;

interface Case {
  producers: number;
  consumers: number;
  bytes: number;
  batch: number;
}

interface RunResult {
  msgsPerS: number;
  messages: number;
  elapsedMs: number;
}

const workerUrl = new URL('./ring-worker.js', import.meta.url);

function parseList(name: string, value: string): number[] {
  const list = value.split(',').map((s) => Number(s.trim()));
  for (const n of list) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a comma-separated list of positive integers, got "${value}"`);
  }
  return list;
}

function parseMixes(value: string): Array<[number, number]> {
  return value.split(',').map((mix) => {
    const m = /^(\d+)x(\d+)$/.exec(mix.trim());
    if (!m) throw new RangeError(`--mixes entries look like 4x2 (producers x consumers), got "${mix}"`);
    return [Number(m[1]), Number(m[2])];
  });
}

function start(job: WorkerJob, transfer: MessagePort[] = []): { worker: Worker; ready: Promise<void>; result: Promise<WorkerResult> } {
  const worker = new Worker(workerUrl, { workerData: job, transferList: transfer });
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<WorkerResult>((resolve, reject) => {
    worker.on('message', (m: 'ready' | WorkerResult) => (m === 'ready' ? onReady() : resolve(m)));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`${job.role} ${job.id} exited with code ${code} before reporting`)));
  });
  return { worker, ready, result };
}

async function run(kind: 'ring' | 'pm', c: Case, durationMs: number, laneBytes: number): Promise<RunResult> {
  const control = new SharedArrayBuffer(8);
  const flags = new Int32Array(control);
  const base = { bytes: c.bytes, batch: c.batch, control, producers: c.producers };
  const consumers: ReturnType<typeof start>[] = [];
  const producers: ReturnType<typeof start>[] = [];
  let ring: FreeRing | undefined;
  if (kind === 'ring') {
    ring = FreeRing.create({ maxProducers: c.producers, maxConsumers: c.consumers, laneCapacityBytes: laneBytes });
    for (let id = 0; id < c.consumers; id++) consumers.push(start({ ...base, role: 'ring-consumer', id, ring: ring.buffer }));
    for (let id = 0; id < c.producers; id++) producers.push(start({ ...base, role: 'ring-producer', id, ring: ring.buffer }));
  } else {
    const toConsumer: MessagePort[][] = Array.from({ length: c.consumers }, () => []);
    const fromProducer: MessagePort[][] = Array.from({ length: c.producers }, () => []);
    for (let p = 0; p < c.producers; p++) {
      for (let q = 0; q < c.consumers; q++) {
        const { port1, port2 } = new MessageChannel();
        fromProducer[p]!.push(port1);
        toConsumer[q]!.push(port2);
      }
    }
    for (let id = 0; id < c.consumers; id++) consumers.push(start({ ...base, role: 'pm-consumer', id, ports: toConsumer[id]! }, toConsumer[id]!));
    for (let id = 0; id < c.producers; id++) producers.push(start({ ...base, role: 'pm-producer', id, ports: fromProducer[id]! }, fromProducer[id]!));
  }
  await Promise.all([...consumers, ...producers].map((w) => w.ready));
  const t0 = performance.now();
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  const timer = setTimeout(() => Atomics.store(flags, 1, 1), durationMs);
  try {
    const sent = await Promise.all(producers.map((w) => w.result));
    ring?.close();
    const got = await Promise.all(consumers.map((w) => w.result));
    const elapsedMs = performance.now() - t0;
    const sentTotal = sent.reduce((s, r) => s + r.messages, 0);
    const gotTotal = got.reduce((s, r) => s + r.messages, 0);
    const disorder = got.reduce((s, r) => s + r.disorder, 0);
    if (sentTotal !== gotTotal || disorder !== 0) {
      throw new Error(`BUG: ${kind} ${describe(c)}: sent ${sentTotal}, received ${gotTotal}, ${disorder} out of order`);
    }
    return { msgsPerS: gotTotal / (elapsedMs / 1000), messages: gotTotal, elapsedMs };
  } finally {
    clearTimeout(timer);
    await Promise.all([...consumers, ...producers].map((w) => w.worker.terminate()));
  }
}

function describe(c: Case): string {
  return `${c.producers}x${c.consumers} ${c.bytes} B batch ${c.batch}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mixes: { type: 'string', default: '1x1,2x2,4x4,10x10' },
      bytes: { type: 'string', default: '32,256' },
      batch: { type: 'string', default: '1,256' },
      duration: { type: 'string', default: '500' },
      runs: { type: 'string', default: '3' },
      'lane-bytes': { type: 'string', default: '262144' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const durationMs = values.quick ? 150 : parseList('duration', values.duration)[0]!;
  const runs = values.quick ? 1 : parseList('runs', values.runs)[0]!;
  const laneBytes = parseList('lane-bytes', values['lane-bytes'])[0]!;
  const cases: Case[] = [];
  for (const [producers, consumers] of parseMixes(values.mixes)) {
    for (const bytes of parseList('bytes', values.bytes)) {
      if (bytes < 8) throw new RangeError(`--bytes must be at least 8 (the payload carries producer id and sequence), got ${bytes}`);
      for (const batch of parseList('batch', values.batch)) cases.push({ producers, consumers, bytes, batch });
    }
  }
  const cpus = os.cpus();
  const machine = { cores: cpus.length, cpu: cpus[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.arch()}` };
  process.stderr.write(`native-free-ring bench: ${machine.cores} cores, ${machine.cpu}, node ${machine.node}; ${runs} run(s) of ${durationMs} ms per case\n`);
  const rows: string[][] = [];
  for (const [i, c] of cases.entries()) {
    const ring: RunResult[] = [];
    const pm: RunResult[] = [];
    for (let r = 0; r < runs; r++) {
      // Alternate which goes first so that neither always gets the warmer machine.
      if (r % 2 === 0) {
        ring.push(await run('ring', c, durationMs, laneBytes));
        pm.push(await run('pm', c, durationMs, laneBytes));
      } else {
        pm.push(await run('pm', c, durationMs, laneBytes));
        ring.push(await run('ring', c, durationMs, laneBytes));
      }
      process.stderr.write(`\r[${i + 1}/${cases.length}] ${describe(c)}: run ${r + 1}/${runs}   `);
    }
    const x = median(ring.map((r) => r.msgsPerS));
    const y = median(pm.map((r) => r.msgsPerS));
    const result = {
      case: `${c.producers}x${c.consumers}/${c.bytes}B/batch${c.batch}`,
      producers: c.producers,
      consumers: c.consumers,
      bytes: c.bytes,
      batch: c.batch,
      msgs_per_s: Math.round(x),
      baseline_msgs_per_s: Math.round(y),
      ratio: Number((x / y).toFixed(2)),
      mb_per_s: Number(((x * c.bytes) / 1e6).toFixed(1)),
      baseline_mb_per_s: Number(((y * c.bytes) / 1e6).toFixed(1)),
      msgs_per_s_min: Math.round(Math.min(...ring.map((r) => r.msgsPerS))),
      msgs_per_s_max: Math.round(Math.max(...ring.map((r) => r.msgsPerS))),
      runs,
      duration_ms: durationMs,
      machine,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    rows.push([
      `${c.producers}x${c.consumers}`,
      `${c.bytes}`,
      `${c.batch}`,
      fmt(x),
      ((x * c.bytes) / 1e6).toFixed(1),
      fmt(y),
      ((y * c.bytes) / 1e6).toFixed(1),
      `${(x / y).toFixed(1)}x`,
    ]);
  }
  process.stderr.write('\n');
  if (!values.json) {
    const head = ['P x C', 'bytes', 'batch', 'ring msgs/s', 'ring MB/s', 'postMessage msgs/s', 'postMessage MB/s', 'ratio'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]): string => `| ${cells.map((s, i) => s.padStart(widths[i]!)).join(' | ')} |`;
    process.stdout.write(`${line(head)}\n|${widths.map((w) => '-'.repeat(w + 1) + ':').join('|')}|\n${rows.map(line).join('\n')}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`\nbench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
