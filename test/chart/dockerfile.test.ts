/**
 * The container recipe, checked without a Docker engine: dockerfilelint;
 * the stages, user, port, health check and entry point the image must have;
 * .dockerignore against what the build needs; and the runtime stage laid
 * out in a folder as its COPY and RUN lines would lay it out
 * (fixtures/dockerfile.ts), then started with its own CMD, ENV and
 * HEALTHCHECK. A file the image forgets, or a dev dependency the engine
 * needs at run time, fails here. `fixtures/replay-image.ts` replays both stages
 * with real installs, where the npm registry can be reached.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import t from 'tap';
import { REPO, defaultValues } from './fixtures/chart.js';
import { DockerIgnore, IMAGE_PATHS, execForm, layOutImage, listFiles, parseCopy, parseDockerfile, runImage, splitRun, type Stage } from './fixtures/dockerfile.js';

const require = createRequire(import.meta.url);
const dockerfilelint = require('dockerfilelint') as { run(configDir: string, content: string): { line: number; rule: string; title: string }[] };

const DOCKERFILE = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(DOCKERFILE);
const runtime = stages.at(-1)!;
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

function args(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

t.test('the Dockerfile passes dockerfilelint', async (t) => {
  t.strictSame(dockerfilelint.run(REPO, DOCKERFILE), [], 'no findings');
  // The linter can fail: an untagged base image and a shell-form CMD as root are findings.
  const findings = dockerfilelint.run(REPO, 'FROM node\nRUN apt-get install curl\nCMD node main.js\n');
  t.ok(findings.length > 0, `a poor Dockerfile is flagged (${findings.map((f) => f.rule).join(', ')})`);
});

t.test('the image is built in two stages on node:20-bookworm-slim', async (t) => {
  t.strictSame(
    stages.map((s) => [s.from, s.name]),
    [
      ['node:20-bookworm-slim', 'build'],
      ['node:20-bookworm-slim', 'runtime'],
    ],
    'build, then runtime, both on node:20-bookworm-slim',
  );
  const build = stages[0]!;
  t.match(args(build, 'RUN').join('\n'), /^npm ci\b(?!.*--omit=dev)/m, 'the build stage installs dev dependencies');
  t.match(args(build, 'RUN').join('\n'), /^npm run build$/m, 'and compiles');
  t.match(args(runtime, 'RUN').join('\n'), /^npm ci --omit=dev\b/m, 'the runtime stage installs production dependencies only');
  for (const s of stages) {
    for (const run of args(s, 'RUN')) t.doesNotThrow(() => splitRun(run), `RUN ${run.slice(0, 40)}... reads without shell expansions`);
  }
  t.strictSame(
    args(runtime, 'COPY').map(parseCopy).filter((c) => c.from !== undefined).map((c) => c.sources).flat(),
    ['/app/native-free-ring/dist/src', '/app/dist/src'],
    'only compiled sources come from the build stage',
  );
});

t.test('the runtime stage runs node directly as a non-root user, with a health check on /health', async (t) => {
  t.ok(args(runtime, 'ENV').includes('NODE_ENV=production'), 'NODE_ENV=production');
  t.ok(args(runtime, 'ENV').includes('CSV_FILE=/app/data/sample.csv'), 'CSV_FILE defaults to the baked sample');
  const user = args(runtime, 'USER').at(-1) ?? 'root';
  t.match(user, /^[1-9]\d*(:\d+)?$/, 'a numeric non-root user, which runAsNonRoot can verify');
  const podSecurity = defaultValues().podSecurityContext as { runAsUser: number };
  t.equal(Number(user.split(':')[0]), podSecurity.runAsUser, "the chart's runAsUser is the image's user");
  const port = (defaultValues().config as { apiPort: number }).apiPort;
  t.strictSame(args(runtime, 'EXPOSE'), [String(port)], "EXPOSE is the chart's (and the engine's) default port");
  t.strictSame(execForm(args(runtime, 'CMD').at(-1) ?? ''), ['node', 'dist/src/main.js'], 'exec form: node is PID 1 and gets SIGTERM itself');
  t.strictSame(args(runtime, 'ENTRYPOINT'), [], 'no entry point wrapping node in a shell');
  const hc = args(runtime, 'HEALTHCHECK');
  t.equal(hc.length, 1, 'one HEALTHCHECK');
  t.match(hc[0], /CMD \["node", "-e", ".*\/health/, 'the health check asks /health with node (no curl in slim)');
});

t.test('.dockerignore keeps host output out and what the build needs in', async (t) => {
  const ignore = new DockerIgnore(readFileSync(join(REPO, '.dockerignore'), 'utf8'));
  for (const p of ['node_modules', 'native-free-ring/node_modules', 'dist/src/main.js', 'native-free-ring/dist/src/index.js', 'tsconfig.tsbuildinfo', '.git', 'chart/values.yaml', 'test/chart/chart.test.ts', 'perf/run.ts']) {
    t.ok(ignore.ignores(p), `leaves out ${p}`);
  }
  const sources = stages.flatMap((s) => args(s, 'COPY').map(parseCopy)).filter((c) => c.from === undefined).flatMap((c) => c.sources);
  for (const src of sources.filter((s) => s !== '.')) {
    t.notOk(ignore.ignores(src), `keeps ${src}`);
    t.ok(existsSync(join(REPO, src)), `${src} exists`);
  }
  // What `COPY . .` then `npm run build` (tsc -b) compiles: the sources.
  const context = listFiles(REPO, (rel) => ignore.ignores(rel));
  for (const p of ['tsconfig.json', 'tsconfig.base.json', 'native-free-ring/tsconfig.json', 'native-free-ring/src/index.ts', 'src/main.ts', 'data/sample.csv']) {
    t.ok(context.includes(p), `the context holds ${p}`);
  }
  t.ok(context.every((p) => !p.includes('node_modules/')), 'no node_modules in the context');
});

t.test('the compiled engine imports only production dependencies', async (t) => {
  // Bare imports in dist/src must be installed by `npm ci --omit=dev`.
  const files = listFiles(join(REPO, 'dist/src')).filter((f) => f.endsWith('.js'));
  t.ok(files.includes('main.js'), 'dist/src is built');
  const imported = new Set<string>();
  for (const f of files) {
    const text = readFileSync(join(REPO, 'dist/src', f), 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\(\s*|require\(\s*|\.resolve\(\s*)'([^'./][^']*)'/g)) imported.add(m[1]!);
  }
  const packages = [...imported].filter((s) => !s.startsWith('node:')).map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
  t.ok(packages.length > 0, 'imports found');
  for (const p of new Set(packages)) {
    t.ok(p in pkg.dependencies || p === 'native-free-ring', `${p} is a production dependency`);
  }
});

t.test("the runtime stage's files and production dependencies run the engine, its health check and a clean SIGTERM", async (t) => {
  const image = layOutImage(REPO, 'emulate');
  t.teardown(() => rmSync(image.root, { recursive: true, force: true }));
  const files = listFiles(image.workdir, (rel) => rel === 'node_modules');
  for (const f of ['package.json', 'package-lock.json', 'dist/src/main.js', 'data/sample.csv', 'native-free-ring/package.json', 'native-free-ring/dist/src/index.js']) {
    t.ok(files.includes(f), `the image holds ${f}`);
  }
  t.notOk(files.some((f) => /^(src|test|perf|dist\/test|dist\/perf)\//.test(f)), 'no sources, tests or benchmarks in the image');
  t.ok(existsSync(image.hostPath(image.env.CSV_FILE!)), 'CSV_FILE names a file the image holds');
  const uws = readdirSync(join(image.workdir, 'node_modules/uWebSockets.js/binaries'));
  t.strictSame(uws, [`uws_${process.platform}_${process.arch}_${process.versions.modules}.node`], 'one uWS binary is kept: the one node loads');

  const run = await runImage(image);
  t.strictSame(run.statuses, Object.fromEntries(IMAGE_PATHS.map((p) => [p, 200])), 'every route answers 200');
  t.equal(run.gpus, 32, 'the baked sample (4 hosts x 8 GPUs) was streamed');
  t.match(run.docsPage, /swagger-ui/, '/docs is Swagger UI, from swagger-ui-dist on disk');
  t.equal(run.openapiVersion, '3.1.0', 'the OpenAPI document is built in: no JSON file to copy');
  t.match(run.gpuMetrics, /^DCGM_FI_DEV_GPU_UTIL\{/m, '/metrics/gpus has DCGM series');
  t.equal(run.healthWhileServing, 0, 'HEALTHCHECK passes while serving');
  t.equal(run.exitCode, 0, 'SIGTERM drains and exits 0');
  t.ok(run.stopMs < 10_000, `within 10 s (${run.stopMs} ms)`);
  t.equal(run.healthAfterStop, 1, 'HEALTHCHECK fails once it is gone');
});
