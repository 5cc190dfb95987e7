import { spawn, spawnSync } from 'node:child_process';
import t from 'tap';
import { distPath } from '../fixtures/dist.js';

const MAIN = distPath('src/main.js');

t.test('SIGTERM and SIGINT stop reading, drain, and exit 0 with reconciled counters', async (t) => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // API_PORT=0: a free port, so a server already on 8080 cannot fail the test.
    const child = spawn(process.execPath, [MAIN, '--streamers', '2', '--collectors', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, API_PORT: '0' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (out.includes('"pipeline started"')) resolve();
        else setTimeout(check, 20);
      };
      check();
    });
    await new Promise((r) => setTimeout(r, 500));
    const sent = performance.now();
    child.kill(signal);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const tookMs = performance.now() - sent;
    t.equal(code, 0, `${signal}: exit 0`);
    t.ok(tookMs < 10_000, `${signal}: within 10 s (${tookMs.toFixed(0)} ms)`);
    const last = JSON.parse(out.trim().split('\n').pop()!) as { msg: string; instance: string; counters: { rowsRead: number; unaccounted: number } };
    t.equal(last.msg, 'stopped');
    t.ok(last.instance.length > 0, 'log lines carry the instance id');
    t.ok(last.counters.rowsRead > 0, `${signal}: it streamed (${last.counters.rowsRead} rows)`);
    t.equal(last.counters.unaccounted, 0, `${signal}: drained: read = stored + rejected + duplicates`);
  }
});

t.test('--help lists every setting; a bad setting or CSV_FILE stops start-up with a message naming it', async (t) => {
  const help = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
  t.equal(help.status, 0);
  for (const env of ['CSV_FILE', 'STREAMERS', 'COLLECTORS', 'RETENTION', 'TIMESTAMP_MODE', 'QUEUE_BUFFER_SIZE']) t.match(help.stdout, env);
  const bad = spawnSync(process.execPath, [MAIN], { encoding: 'utf8', env: { ...process.env, STREAMERS: '11' } });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /STREAMERS must be an integer from 1 to 10, got "11"/);
  const missing = spawnSync(process.execPath, [MAIN, '--csv-file', '/nonexistent/x.csv'], { encoding: 'utf8' });
  t.equal(missing.status, 2);
  t.match(missing.stdout, /nonexistent\/x\.csv/);
});
