/**
 * End to end on the real DCGM export (../shared/data, beside the project in
 * CI; not in a user's clone, so this runs in `npm run test:integration` only).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import type * as EngineModule from '../../src/engine/engine.js';
import type * as QueryModule from '../../src/query/range-read.js';
import { distPath } from '../fixtures/dist.js';

const REAL_EXPORT = fileURLToPath(new URL('../../../shared/data/dcgm_metrics_20250718_134233.csv', import.meta.url));
if (!existsSync(REAL_EXPORT)) throw new Error(`${REAL_EXPORT} is missing: the integration tests need the shared reference data`);

const { Engine } = (await import(pathToFileURL(distPath('src/engine/engine.js')).href)) as typeof EngineModule;
const { listGpus, readSamples } = (await import(pathToFileURL(distPath('src/query/range-read.js')).href)) as typeof QueryModule;

const silent = { info() {}, warn() {}, error() {} };

t.test('the real export streamed once by 10 streamers into 10 collectors: 247 GPUs on 31 hosts, 2,470 samples, each once, with the file timestamps', async (t) => {
  const engine = new Engine(
    {
      csvFile: REAL_EXPORT,
      streamers: 10,
      collectors: 10,
      loop: false,
      timestampMode: 'source',
      streamIntervalMs: 0,
      queueBufferSize: 262144,
      retentionMs: 10 * 365 * 86_400_000,
      maxSamplesPerSeries: 36000,
      workerExecArgv: [],
    },
    silent,
  );
  await engine.start();
  await engine.finished();
  await engine.stop();
  const c = engine.counters.snapshot();
  t.equal(c.rowsRead, 2470, 'rows read');
  t.equal(c.samplesStored, 2470, 'samples stored');
  t.equal(c.rejectedTotal + c.duplicates, 0, 'nothing rejected or duplicated');
  const gpus = listGpus(engine.registry);
  t.equal(gpus.length, 247, 'GPUs');
  t.equal(new Set(gpus.map((g) => g.hostname)).size, 31, 'hosts');
  t.ok(gpus.every((g) => g.modelName === 'NVIDIA H100 80GB HBM3' && g.metrics.length === 10), 'each GPU has the 10 metrics');

  // Every (uuid, metric) once, with the file's timestamp and value.
  const want = new Map<string, string>();
  for (const line of readFileSync(REAL_EXPORT, 'utf8').trim().split('\n').slice(1)) {
    const f = line.split('","');
    want.set(`${f[4]} ${f[1]}`, `${Date.parse(f[0]!.slice(1))} ${Number(f[10])}`);
  }
  const got = new Map<string, string>();
  for (const gpu of gpus) {
    for (const s of readSamples(engine.registry, gpu.uuid, { limit: 100 })!.samples) {
      t.notOk(got.has(`${gpu.uuid} ${s.metric}`), `${gpu.uuid} ${s.metric} is stored once`);
      got.set(`${gpu.uuid} ${s.metric}`, `${s.tsMs} ${s.value}`);
    }
  }
  t.same(got, want, 'stored timestamps and values equal the file');
});
