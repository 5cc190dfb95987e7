import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import { generateDcgmSample } from '../../src/ingest/sample-generator.js';
import type * as EngineModule from '../../src/engine/engine.js';
import type * as QueryModule from '../../src/query/range-read.js';
import { distPath } from '../fixtures/dist.js';

// Workers load compiled JS, so the engine under test is the compiled one.
const { Engine } = (await import(pathToFileURL(distPath('src/engine/engine.js')).href)) as typeof EngineModule;
const { listGpus, readSamples } = (await import(pathToFileURL(distPath('src/query/range-read.js')).href)) as typeof QueryModule;

type Engine = InstanceType<typeof Engine>;
interface Line {
  level: string;
  msg: string | undefined;
  fields: object;
}

function quietLog(lines: Line[] = []): EngineModule.Logger & { lines: Line[] } {
  const at = (level: string) => (fields: object, msg?: string) => void lines.push({ level, msg, fields });
  return { info: at('info'), warn: at('warn'), error: at('error'), lines };
}

const dir = mkdtempSync(join(tmpdir(), 'gpu-telemetry-engine-'));
let files = 0;
function csvFile(text: string): string {
  const path = join(dir, `input-${files++}.csv`);
  writeFileSync(path, text);
  return path;
}

const base = {
  streamIntervalMs: 0,
  queueBufferSize: 4096, // small lanes: many wrap-arounds and some backpressure
  loop: false,
  timestampMode: 'source' as const,
  retentionMs: 365 * 86_400_000 * 10,
  maxSamplesPerSeries: 1_000_000,
  workerExecArgv: [], // not tap's TypeScript loader: workers run compiled JS
};

/** Parses the generated CSV's data rows: [timestamp, metric, uuid, value] per row. */
function rowsOf(text: string): Array<{ tsMs: number; metric: string; uuid: string; value: number }> {
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const f = line.slice(1, line.indexOf('","DCGM_FI_DRIVER') > 0 ? undefined : -1).split('","');
      return { tsMs: Date.parse(f[0]!), metric: f[1]!, uuid: f[4]!, value: Number(f[10]) };
    });
}

async function runOnce(text: string, streamers: number, collectors: number, log = quietLog()): Promise<Engine> {
  const engine = new Engine({ ...base, csvFile: csvFile(text), streamers, collectors }, log);
  await engine.start();
  await engine.finished();
  await engine.stop();
  return engine;
}

t.test('every row is stored exactly once with its source timestamp, for any mix of streamers and collectors', async (t) => {
  const text = generateDcgmSample({ hosts: 3, gpusPerHost: 8, scrapes: 4 });
  const rows = rowsOf(text);
  for (const [streamers, collectors] of [
    [1, 1],
    [3, 2],
    [10, 10],
  ] as const) {
    const engine = await runOnce(text, streamers, collectors);
    const c = engine.counters.snapshot();
    t.equal(c.rowsRead, rows.length, `${streamers}x${collectors}: every row read once`);
    t.equal(c.samplesStored, rows.length, `${streamers}x${collectors}: every row stored`);
    t.equal(c.duplicates + c.rejectedTotal, 0, `${streamers}x${collectors}: nothing rejected or duplicated`);
    t.equal(c.unaccounted, 0, `${streamers}x${collectors}: counters reconcile`);
    const gpus = listGpus(engine.registry);
    t.equal(gpus.length, 24, `${streamers}x${collectors}: 24 GPUs`);
    const stored = new Map<string, number>();
    for (const gpu of gpus) {
      const page = readSamples(engine.registry, gpu.uuid, { limit: 1_000_000 })!;
      t.equal(page.next, null);
      for (const s of page.samples) stored.set(`${gpu.uuid} ${s.metric} ${s.tsMs}`, s.value);
    }
    t.equal(stored.size, rows.length, `${streamers}x${collectors}: every (uuid, metric, timestamp) is held once`);
    const mismatched = rows.filter((r) => stored.get(`${r.uuid} ${r.metric} ${r.tsMs}`) !== r.value);
    t.same(mismatched, [], `${streamers}x${collectors}: stored timestamps and values equal the file's`);
  }
});

t.test('a row repeated in the file is stored once and counted as a duplicate', async (t) => {
  const text = generateDcgmSample({ hosts: 1, gpusPerHost: 2, scrapes: 2 });
  const lines = text.trim().split('\n');
  const doubled = [...lines, lines[1]!, lines[2]!].join('\n') + '\n';
  const engine = await runOnce(doubled, 2, 2);
  const c = engine.counters.snapshot();
  t.equal(c.rowsRead, lines.length + 1);
  t.equal(c.duplicates, 2);
  t.equal(c.samplesStored, lines.length - 1);
  t.equal(c.unaccounted, 0, 'read = stored + rejected + duplicates');
});

t.test('bad rows are counted by reason and logged with their line, and the rest streams on', async (t) => {
  const text = generateDcgmSample({ hosts: 1, gpusPerHost: 2, scrapes: 2 });
  const lines = text.trim().split('\n');
  const good = lines.length - 1;
  const bad = [
    lines[1]!.replace(/"[0-9.]+","DCGM_FI_DRIVER/, '"n/a","DCGM_FI_DRIVER'),
    lines[2]!.replace(/^"[^"]+"/, '"yesterday"'),
    '"2025-03-14T09:26:53Z","DCGM_FI_DEV_GPU_UTIL","0"',
  ];
  const log = quietLog();
  const engine = await runOnce([...lines, ...bad].join('\n') + '\n', 2, 1, log);
  const c = engine.counters.snapshot();
  t.equal(c.samplesStored, good);
  t.equal(c.rejected.bad_value, 1);
  t.equal(c.rejected.bad_timestamp, 1);
  t.equal(c.rejected.column_count, 1);
  t.equal(c.unaccounted, 0);
  const warned = log.lines.filter((l) => l.level === 'warn').map((l) => l.msg ?? '');
  t.ok(warned.some((m) => m.includes(`line ${lines.length + 1}`)), `the bad value's line is named: ${warned.join(' | ')}`);
});

t.test('scaling collectors up and down mid-stream loses and duplicates nothing', async (t) => {
  const text = generateDcgmSample({ hosts: 4, gpusPerHost: 8, scrapes: 2 });
  const engine = new Engine(
    { ...base, csvFile: csvFile(text), streamers: 3, collectors: 2, loop: true, timestampMode: 'processed', streamIntervalMs: 0 },
    quietLog(),
  );
  await engine.start();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(200);
  await engine.scaleCollectors(5);
  t.equal(engine.collectorCount, 5);
  await sleep(200);
  await engine.scaleCollectors(1);
  t.equal(engine.collectorCount, 1);
  await sleep(200);
  await engine.scaleCollectors(3);
  await sleep(200);
  await engine.stop();
  const c = engine.counters.snapshot();
  t.ok(c.rowsRead > 10_000, `it streamed for real (${c.rowsRead} rows)`);
  t.equal(c.samplesStored, c.rowsRead, `every row read was stored: ${JSON.stringify(c)}`);
  t.equal(c.duplicates + c.rejectedTotal, 0, 'no duplicates or rejects');
  let held = 0;
  for (const gpu of listGpus(engine.registry)) held += gpu.samples;
  t.equal(held, c.samplesStored - c.evicted, 'the store holds every stored sample that retention kept');
});

t.test('a missing CSV_FILE or a header without the required columns is a clear start-up error', async (t) => {
  const missing = new Engine({ ...base, csvFile: join(dir, 'nope.csv'), streamers: 1, collectors: 1 }, quietLog());
  await t.rejects(missing.start(), { name: 'CsvFileError', message: /nope\.csv/ });
  const headerless = new Engine({ ...base, csvFile: csvFile('a,b,c\n1,2,3\n'), streamers: 1, collectors: 1 }, quietLog());
  await t.rejects(headerless.start(), { name: 'CsvHeaderError', message: /timestamp/ });
});

t.test('a collector or streamer that crashes is logged and replaced, and the counters still reconcile', async (t) => {
  const text = generateDcgmSample({ hosts: 2, gpusPerHost: 8, scrapes: 2 });
  const log = quietLog();
  const engine = new Engine(
    { ...base, csvFile: csvFile(text), streamers: 2, collectors: 2, loop: true, timestampMode: 'processed' },
    log,
  );
  await engine.start();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const readAt = () => engine.counters.snapshot().rowsRead;
  await sleep(300);
  await engine.kill('collector', 0);
  await sleep(300);
  await engine.kill('streamer', 1);
  const before = readAt();
  await sleep(500);
  t.ok(readAt() > before, 'the pipeline keeps streaming after the crashes');
  await engine.stop();
  const crashed = log.lines.filter((l) => l.level === 'error').map((l) => l.msg);
  t.ok(crashed.includes('collector 0 crashed'), `the collector crash is logged: ${crashed.join(', ')}`);
  t.ok(crashed.includes('streamer 1 crashed'), 'the streamer crash is logged');
  const c = engine.counters.snapshot();
  // A kill can land between handing a batch over and counting it: the counters
  // may be off by at most the one batch each killed thread had in hand.
  t.ok(Math.abs(c.unaccounted) <= 2 * 2400, `read ≈ stored + rejected + duplicates, within a batch per crash: ${JSON.stringify(c)}`);
  t.equal(c.rejectedTotal, 0, 'nothing rejected: the replacement collector knew the GPUs and metrics of the batch it got again');
  // The replacement collector stored what the crashed one had not acknowledged;
  // queries return each sample once even if both shards hold it.
  for (const gpu of listGpus(engine.registry)) {
    const page = readSamples(engine.registry, gpu.uuid, { limit: 1_000_000 })!;
    const keys = page.samples.map((s) => `${s.metric} ${s.tsMs}`);
    if (new Set(keys).size !== keys.length) t.fail(`${gpu.uuid} returned a sample twice`);
  }
});

t.test('scaling streamers mid-pass hands the rows over at a cut: every row streamed exactly once', async (t) => {
  const text = generateDcgmSample({ hosts: 2, gpusPerHost: 8, scrapes: 10 }); // 1,600 rows
  const rows = rowsOf(text);
  const log = quietLog();
  const engine = new Engine(
    { ...base, csvFile: csvFile(text), streamers: 2, collectors: 2, loop: false, timestampMode: 'source', streamIntervalMs: 1 },
    log,
  );
  await engine.start();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(150);
  const mid = engine.counters.snapshot().rowsRead;
  t.ok(mid > 0 && mid < rows.length, `the first handover is mid-pass (${mid} of ${rows.length} rows)`);
  await engine.scaleStreamers(5);
  t.equal(engine.streamerCountNow, 5);
  await sleep(150);
  await engine.scaleStreamers(1);
  t.equal(engine.streamerCountNow, 1);
  await engine.finished();
  await engine.stop();
  const c = engine.counters.snapshot();
  t.same(log.lines.filter((l) => l.level === 'error'), [], 'no worker crashed');
  t.equal(c.duplicates, 0, `no row was streamed twice: ${JSON.stringify(c)} ${JSON.stringify(log.lines.filter((l) => l.msg === 'streamers scaled' || l.msg === 'streamer done').map((l) => l.fields))}`);
  t.equal(c.samplesStored, rows.length, `every row was stored: ${JSON.stringify(c)}`);
  t.equal(c.unaccounted, 0);
  let held = 0;
  for (const gpu of listGpus(engine.registry)) held += readSamples(engine.registry, gpu.uuid, { limit: 1_000_000 })!.samples.length;
  t.equal(held, rows.length, 'queries return every row once');
});

t.test('scaling streamers while looping keeps every pass whole', async (t) => {
  const text = generateDcgmSample({ hosts: 2, gpusPerHost: 8, scrapes: 2 });
  const engine = new Engine(
    { ...base, csvFile: csvFile(text), streamers: 3, collectors: 2, loop: true, timestampMode: 'processed' },
    quietLog(),
  );
  await engine.start();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  for (const n of [1, 4, 2]) {
    await sleep(150);
    await engine.scaleStreamers(n);
  }
  await sleep(150);
  await engine.stop();
  const c = engine.counters.snapshot();
  t.ok(c.rowsRead > 1000, `it streamed (${c.rowsRead} rows)`);
  t.equal(c.samplesStored, c.rowsRead, 'every row read was stored');
  t.equal(c.duplicates + c.rejectedTotal, 0);
});

t.test('the postMessage baselines run the same pipeline: every row stored once, in time order, latency timed', async (t) => {
  for (const transport of ['postMessage', 'postMessageRecords'] as const) await t.test(transport, (t) => baseline(t, transport));
});

async function baseline(t: Test, transport: 'postMessage' | 'postMessageRecords'): Promise<void> {
  const text = generateDcgmSample({ hosts: 3, gpusPerHost: 8, scrapes: 6 });
  const rows = rowsOf(text);
  const engine = new Engine({ ...base, csvFile: csvFile(text), streamers: 3, collectors: 2, transport }, quietLog());
  await engine.start();
  await t.rejects(engine.scaleCollectors(3), /scaling needs the ring transport/);
  await t.rejects(engine.scaleStreamers(1), /scaling needs the ring transport/);
  await engine.finished();
  await engine.stop();
  const c = engine.counters.snapshot();
  t.equal(c.rowsRead, rows.length);
  t.equal(c.samplesStored, rows.length);
  t.equal(c.unaccounted, 0, 'counters reconcile');
  const byGpu = new Map<string, typeof rows>();
  for (const r of rows) byGpu.set(r.uuid, [...(byGpu.get(r.uuid) ?? []), r]);
  for (const [uuid, expected] of byGpu) {
    const got = readSamples(engine.registry, uuid, { limit: 1e6 })!.samples;
    const want = expected.map((r) => ({ tsMs: r.tsMs, metric: r.metric, value: r.value }));
    want.sort((a, b) => a.tsMs - b.tsMs || (a.metric < b.metric ? -1 : 1));
    if (JSON.stringify(got) !== JSON.stringify(want)) t.fail(`${uuid}: stored samples differ from the file`);
  }
  t.equal(engine.counters.latency().count, rows.length, 'every stored sample timed');
}

t.test('ingest latency is timed for every sample stored, over the ring', async (t) => {
  const text = generateDcgmSample({ hosts: 2, gpusPerHost: 8, scrapes: 5 });
  const engine = await runOnce(text, 2, 2);
  const h = engine.counters.latency();
  const stored = engine.counters.snapshot().samplesStored;
  t.equal(h.count, stored);
  t.equal(h.cumulative.at(-1), stored, 'the last bucket (+Inf) holds every observation');
  for (let i = 1; i < h.cumulative.length; i++) if (h.cumulative[i]! < h.cumulative[i - 1]!) t.fail('buckets are cumulative');
  t.ok(h.sumS > 0 && h.sumS / h.count < 10, `mean latency ${((h.sumS / h.count) * 1000).toFixed(2)} ms`);
});

t.test('in processed mode each sample is stamped when streamed: never ahead of the clock, never twice per series', async (t) => {
  // 160 rows looped flat out: well over a million rows a second, so a clock
  // stepping 1 µs per row (rather than per series) would run seconds ahead.
  const text = generateDcgmSample({ hosts: 2, gpusPerHost: 8, scrapes: 1 });
  const engine = new Engine(
    {
      ...base,
      csvFile: csvFile(text),
      streamers: 1,
      collectors: 1,
      loop: true,
      timestampMode: 'processed',
      queueBufferSize: 262144,
      maxSamplesPerSeries: 1024,
    },
    quietLog(),
  );
  const startedMs = Date.now();
  await engine.start();
  await new Promise((r) => setTimeout(r, 1500));
  await engine.stop();
  const stoppedMs = Date.now();
  const c = engine.counters.snapshot();
  t.ok(c.samplesStored > 1_000_000, `${c.samplesStored} samples stored in about 1 s`);
  t.equal(c.duplicates, 0, 'no two samples of a series share a timestamp');
  t.equal(c.unaccounted, 0);
  let newest = -Infinity;
  let oldest = Infinity;
  for (const gpu of listGpus(engine.registry)) {
    newest = Math.max(newest, gpu.lastMs);
    oldest = Math.min(oldest, gpu.firstMs);
  }
  t.ok(oldest >= startedMs - 1, `oldest stamp ${oldest} not before the start ${startedMs}`);
  // Stamps may run ahead only by 1 µs per repeat of a series within one µs: here well under 50 ms.
  t.ok(newest <= stoppedMs + 50, `newest stamp ${newest} is not ahead of the clock (${stoppedMs}) by more than 50 ms`);
});

t.test('rowsPerSecond paces all streamers together, and a paced stream sends what it has before it sleeps', async (t) => {
  const text = generateDcgmSample({ hosts: 2, gpusPerHost: 8, scrapes: 4 });
  const rate = 20_000;
  const engine = new Engine(
    { ...base, csvFile: csvFile(text), streamers: 2, collectors: 2, loop: true, timestampMode: 'processed', queueBufferSize: 262144, rowsPerSecond: rate },
    quietLog(),
  );
  await engine.start();
  await new Promise((r) => setTimeout(r, 300));
  const s0 = engine.counters.snapshot().samplesStored;
  const l0 = engine.counters.latency();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 1500));
  const stored = engine.counters.snapshot().samplesStored - s0;
  const seconds = (performance.now() - t0) / 1000;
  const l1 = engine.counters.latency();
  await engine.stop();
  const perS = stored / seconds;
  t.ok(perS <= rate * 1.1, `${perS.toFixed(0)} samples/s stored: not above the pace of ${rate}`);
  t.ok(perS >= rate * 0.5, `${perS.toFixed(0)} samples/s stored: not far below the pace of ${rate}`);
  // At 20 k rows/s a 64 KiB batch would take over 100 ms to fill: part-full batches go out before each pause.
  const meanMs = ((l1.sumS - l0.sumS) / (l1.count - l0.count)) * 1000;
  t.ok(meanMs < 50, `mean ingest latency ${meanMs.toFixed(2)} ms`);
});
