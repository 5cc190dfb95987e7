/**
 * The API as `npm start` runs it: the entry point starts it after the
 * engine, logs its URL, serves until a signal, and then answers 503 on
 * /ready while it drains, closes and exits 0. A taken port stops start-up.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import t from 'tap';
import { distPath } from '../fixtures/dist.js';
import { fedEngine, serve, until } from './fixtures/harness.js';

const MAIN = distPath('src/main.js');

interface Line {
  msg?: string;
  url?: string;
  admin?: string;
  err?: string;
}

function start(env: Record<string, string>): { child: ChildProcessByStdio<null, Readable, Readable>; lines: Line[] } {
  const child = spawn(process.execPath, [MAIN, '--streamers', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, API_HOST: '127.0.0.1', API_PORT: '0', STREAM_INTERVAL: '1', ...env },
  });
  const lines: Line[] = [];
  let rest = '';
  child.stdout.on('data', (d: Buffer) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop()!;
    for (const p of parts) lines.push(JSON.parse(p) as Line);
  });
  return { child, lines };
}

t.test('the entry point serves the API after the engine starts, and drains, closes and exits 0 on SIGTERM', async (t) => {
  const { child, lines } = start({ ADMIN_TOKEN: 'main-test-token-0123456789' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await until('the API listening line', () => lines.some((l) => l.msg === 'API listening'));
  const listening = lines.find((l) => l.msg === 'API listening')!;
  t.match(listening.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  t.equal(listening.admin, 'bearer token');
  t.ok(
    lines.findIndex((l) => l.msg === 'pipeline started') < lines.indexOf(listening),
    'the engine starts first',
  );
  t.notMatch(JSON.stringify(lines), /main-test-token/, 'the token is never logged');
  const base = listening.url!.slice(0, -1);
  await until('/ready 200', async () => (await fetch(`${base}/ready`)).status === 200);
  const gpus = (await (await fetch(`${base}/api/v1/gpus`)).json()) as { data: unknown[] };
  t.ok(gpus.data.length > 0, 'GPUs are listed');
  t.equal((await fetch(`${base}/api/v1/admin/workers`)).status, 401, 'ADMIN_TOKEN reaches the API');
  const workers = await fetch(`${base}/api/v1/admin/workers`, { headers: { authorization: 'Bearer main-test-token-0123456789' } });
  t.strictSame(await workers.json(), { streamers: 2, collectors: 1 });
  t.match(await (await fetch(`${base}/metrics`)).text(), /^gpu_telemetry_samples_stored_total [1-9]/m);
  const sent = performance.now();
  child.kill('SIGTERM');
  const code = await exited;
  t.equal(code, 0);
  t.ok(performance.now() - sent < 10_000, 'within 10 s');
  const msgs = lines.map((l) => l.msg);
  t.ok(msgs.includes('draining'), 'it drained');
  t.equal(msgs[msgs.length - 1], 'stopped', 'and stopped last');
  await t.rejects(fetch(`${base}/health`), 'nothing listens once stopped');
});

t.test('/ready answers 503 while the process drains', async (t) => {
  // A slow drain: 10 collectors with full lanes take a moment to store what they hold.
  const { child, lines } = start({ STREAM_INTERVAL: '0', COLLECTORS: '10', QUEUE_BUFFER_SIZE: '4194304' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await until('the API listening line', () => lines.some((l) => l.msg === 'API listening'));
  const base = lines.find((l) => l.msg === 'API listening')!.url!.slice(0, -1);
  await until('/ready 200', async () => (await fetch(`${base}/ready`)).status === 200);
  const statuses: number[] = [];
  child.kill('SIGINT');
  await until('the drain to begin', () => lines.some((l) => l.msg === 'draining'));
  for (;;) {
    try {
      const r = await fetch(`${base}/ready`);
      statuses.push(r.status);
      await r.arrayBuffer();
    } catch {
      break; // closed
    }
  }
  t.equal(await exited, 0);
  t.ok(statuses.length > 0, `answered while draining (${statuses.length} times)`);
  t.ok(
    statuses.every((s) => s === 503),
    `only 503 once draining began: ${[...new Set(statuses)].join(', ')}`,
  );
});

t.test('a taken API_PORT stops start-up with exit 2 and a message naming it', async (t) => {
  const taken = await serve(t, fedEngine().engine);
  const r = spawnSync(process.execPath, [MAIN, '--once'], {
    encoding: 'utf8',
    env: { ...process.env, API_HOST: '127.0.0.1', API_PORT: String(taken.server.port) },
    timeout: 30_000,
  });
  t.equal(r.status, 2);
  t.match(r.stdout, new RegExp(`API cannot listen on 127\\.0\\.0\\.1:${taken.server.port}`));
});
