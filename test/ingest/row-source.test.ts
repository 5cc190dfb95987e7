import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { CsvFileError, CsvHeaderError } from '../../src/ingest/errors.js';
import { CsvFileSource, openRowSource, type RowSink } from '../../src/ingest/row-source.js';
import { generateDcgmSample } from '../../src/ingest/sample-generator.js';

const dir = mkdtempSync(join(tmpdir(), 'gpu-telemetry-source-'));
const sample = join(dir, 'sample.csv');
const text = generateDcgmSample({ hosts: 2, gpusPerHost: 8, scrapes: 3 });
writeFileSync(sample, text);
const dataRows = text.trim().split('\n').length - 1;

function collect(stopAfter = Infinity): { sink: RowSink; rows: string[]; rejects: number[] } {
  const rows: string[] = [];
  const rejects: number[] = [];
  const sink: RowSink = {
    rows(batch, gpus, metrics) {
      for (let i = 0; i < batch.length; i++) rows.push(`${gpus[batch.gpu[i]!]!.uuid} ${metrics[batch.metric[i]!]} ${batch.tsMs[i]} ${batch.value[i]}`);
    },
    reject(_reason, line) {
      rejects.push(line);
    },
    get stopped() {
      return rows.length >= stopAfter;
    },
  };
  return { sink, rows, rejects };
}

t.test('a path and a file: URL open the same CSV source; a pass delivers every row once, in order', async (t) => {
  const byPath = collect();
  await openRowSource(sample).pass(byPath.sink);
  const byUrl = collect();
  await openRowSource(pathToFileURL(sample).href).pass(byUrl.sink);
  t.equal(byPath.rows.length, dataRows);
  t.strictSame(byUrl.rows, byPath.rows);
  t.equal(new Set(byPath.rows).size, dataRows, 'no row twice');
  const again = collect();
  await openRowSource(sample).pass(again.sink);
  t.strictSame(again.rows, byPath.rows, 'a second pass is the same');
});

t.test('a pass ends early once the sink says stopped', async (t) => {
  const big = join(dir, 'big.csv');
  writeFileSync(big, generateDcgmSample({ hosts: 20, gpusPerHost: 8, scrapes: 40 })); // several read chunks
  const some = collect(1);
  await new CsvFileSource(big).pass(some.sink);
  t.ok(some.rows.length >= 1 && some.rows.length < 64_000, `stopped after ${some.rows.length} of 64,000 rows`);
});

t.test('bad records reach the sink as rejects with their line', async (t) => {
  const lines = text.trim().split('\n');
  lines.splice(3, 0, '"2025-07-18T20:42:34Z","DCGM_FI_DEV_GPU_UTIL","0"');
  const bad = join(dir, 'bad.csv');
  writeFileSync(bad, lines.join('\n') + '\n');
  const got = collect();
  await openRowSource(bad).pass(got.sink);
  t.strictSame(got.rejects, [4]);
  t.equal(got.rows.length, dataRows);
});

t.test('check fails fast on a missing file, a directory, or a header without the required columns', async (t) => {
  await t.rejects(openRowSource(join(dir, 'nope.csv')).check(), CsvFileError);
  await t.rejects(openRowSource(dir).check(), CsvFileError);
  const noUuid = join(dir, 'no-uuid.csv');
  writeFileSync(noUuid, '"timestamp","metric_name","value"\n');
  await t.rejects(openRowSource(noUuid).check(), CsvHeaderError);
  await t.resolves(openRowSource(sample).check());
});

t.test('a URL scheme no source reads is a clear error', async (t) => {
  t.throws(() => openRowSource('http://dcgm-exporter:9400/metrics'), {
    name: 'TypeError',
    message: 'no row source reads "http://dcgm-exporter:9400/metrics": CSV_FILE is the path (or file: URL) of a DCGM CSV export',
  });
});
