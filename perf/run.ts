/**
 * `npm run perf -- [scenario ...] [flags]`: runs performance scenarios.
 *
 *   ring     native-free-ring against MessagePort.postMessage (native-free-ring/bench)
 *   csv      DCGM CSV parsing: the fast path against csv-parse alone
 *   ingest   CSV → streamers → ring → collectors → store, samples/s per mix
 *
 * With no scenario, all of them. Flags after the scenario go to it
 * (`npm run perf -- ingest --json --seconds 5`); `--help` for each.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCENARIOS = {
  ring: fileURLToPath(new URL('../../native-free-ring/dist/bench/ring-bench.js', import.meta.url)),
  csv: fileURLToPath(new URL('./csv-parse.js', import.meta.url)),
  ingest: 'ingest',
} as const;
type Scenario = keyof typeof SCENARIOS;

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args[0] === '--help' || args[0] === '-h') {
    process.stdout.write(`usage: npm run perf -- [${Object.keys(SCENARIOS).join('|')}] [flags]\n`);
    return 0;
  }
  const named = args.length > 0 && args[0]! in SCENARIOS ? [args[0] as Scenario] : (Object.keys(SCENARIOS) as Scenario[]);
  const flags = args.length > 0 && args[0]! in SCENARIOS ? args.slice(1) : args;
  if (args.length > 0 && !(args[0]! in SCENARIOS) && !args[0]!.startsWith('--')) {
    process.stderr.write(`unknown scenario "${args[0]}": one of ${Object.keys(SCENARIOS).join(', ')}\n`);
    return 2;
  }
  for (const scenario of named) {
    if (scenario === 'ingest') {
      const { main: ingest } = await import('./ingest.js');
      await ingest(flags);
      continue;
    }
    const r = spawnSync(process.execPath, [SCENARIOS[scenario], ...flags], { stdio: 'inherit' });
    if (r.status !== 0) return r.status ?? 1;
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
