/**
 * `npm run test:system -- --url http://host:port`: runs
 * test/system/deployment.system.ts under tap against a running deployment.
 * tap takes no options of its own for a test, so the flags are checked here
 * and passed to the test file through the environment (fixtures/options.ts).
 * The output is tap's, so TAP_REPORTER and the rest of tap's environment
 * apply as they do to `npm test`. Exit status: tap's; 2 for a bad flag.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ENV, USAGE, resolveOptions, type SystemOptions } from './fixtures/options.js';

/** The repository root: this file runs as dist/test/system/run.js. */
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const TEST_FILE = 'test/system/deployment.system.ts';
/** tap's limit for the file: the wait for /ready plus 2 minutes for the checks themselves (about 10 s on the sample). */
const CHECKS_TIMEOUT_S = 120;

function tapBin(): string {
  const pkgPath = createRequire(import.meta.url).resolve('tap/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin: Record<string, string> };
  return join(dirname(pkgPath), pkg.bin.tap!);
}

function options(argv: string[]): SystemOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: { url: { type: 'string' }, 'max-age': { type: 'string' }, 'ready-timeout': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  return resolveOptions({
    url: values.url ?? process.env[ENV.url],
    maxAge: values['max-age'] ?? process.env[ENV.maxAgeS],
    readyTimeout: values['ready-timeout'] ?? process.env[ENV.readyTimeoutS],
  });
}

let opts: SystemOptions | 'help';
try {
  opts = options(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`test:system: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  process.exit(2);
}
if (opts === 'help') {
  process.stdout.write(USAGE);
  process.exit(0);
}

const env = {
  ...process.env,
  [ENV.url]: opts.url.href,
  [ENV.maxAgeS]: String(opts.maxAgeS),
  [ENV.readyTimeoutS]: String(opts.readyTimeoutS),
};
const timeoutS = Math.ceil(opts.readyTimeoutS + CHECKS_TIMEOUT_S);
const child = spawn(process.execPath, [tapBin(), '--disable-coverage', `--timeout=${timeoutS}`, TEST_FILE], { cwd: REPO, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
