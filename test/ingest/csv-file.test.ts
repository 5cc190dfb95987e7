/** Files: openCsvFile and parseFile, on temporary files. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CsvFileError, CsvHeaderError, generateDcgmSample, openCsvFile, parseFile, RejectReason } from '../../src/ingest/index.js';
import { csvOf, realRow } from './fixtures/dcgm-lines.js';

const dir = mkdtempSync(join(tmpdir(), 'ingest-csv-file-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('parseFile streams a file and resolves with its counts', async (t) => {
  const path = join(dir, 'export.csv');
  const text = generateDcgmSample({ hosts: 8, scrapes: 4 }); // several 64 KiB chunks
  writeFileSync(path, text);
  let rows = 0;
  let batches = 0;
  const counts = await parseFile(path, { batchRows: 500 }, (batch) => {
    rows += batch.length;
    batches++;
  });
  t.equal(counts.rows, 8 * 8 * 10 * 4);
  t.equal(rows, counts.rows);
  t.equal(batches, Math.ceil(rows / 500));
  t.equal(counts.bytes, Buffer.byteLength(text));
  t.ok(Object.values(counts.rejected).every((n) => n === 0));
});

t.test('parseFile reports rejects with the file as source', async (t) => {
  const path = join(dir, 'bad.csv');
  writeFileSync(path, csvOf(realRow(), realRow({ value: 'n/a' })));
  const rejects: string[] = [];
  const counts = await parseFile(path, {}, () => {}, (reason, line, detail) => rejects.push(`${reason} ${line} ${detail}`));
  t.same(rejects, [`bad_value 3 ${path} line 3: value "n/a" is not a number`]);
  t.equal(counts.rejected[RejectReason.BadValue], 1);
  t.equal(counts.rows, 1);
});

t.test('a missing file is a CsvFileError naming the path and the cause', async (t) => {
  const path = join(dir, 'missing.csv');
  await t.rejects(openCsvFile(path), { name: 'CsvFileError', code: 'ENOENT', path, message: new RegExp(`^cannot open CSV file "${path}": ENOENT`) });
  await t.rejects(parseFile(path, {}, () => {}), CsvFileError);
  const err = await openCsvFile(path).catch((e: unknown) => e);
  t.equal((err as Error).cause instanceof Error, true, 'the system error is the cause');
});

t.test('a directory is a CsvFileError', async (t) => {
  await t.rejects(openCsvFile(dir), { name: 'CsvFileError', code: 'EISDIR', message: `cannot read CSV file ${JSON.stringify(dir)}: it is a directory` });
});

t.test('a bad path argument is a TypeError', async (t) => {
  await t.rejects(openCsvFile(''), { name: 'TypeError', message: 'CSV file path must be a non-empty string, got ""' });
});

t.test('a bad header rejects parseFile with CsvHeaderError naming the file', async (t) => {
  const path = join(dir, 'header.csv');
  writeFileSync(path, 'a,b,c\n1,2,3\n');
  const err = await parseFile(path, {}, () => {}).catch((e: unknown) => e);
  t.ok(err instanceof CsvHeaderError, 'CsvHeaderError');
  t.match(err, { source: path, message: `${path}: CSV header is missing required columns timestamp, metric_name, uuid, value, gpu_id, device, modelName, Hostname (header: "a","b","c")` });
});

t.test('an error thrown by a callback rejects parseFile as it is', async (t) => {
  const path = join(dir, 'callback.csv');
  writeFileSync(path, csvOf(realRow()));
  await t.rejects(
    parseFile(path, {}, () => {
      throw new Error('consumer failed');
    }),
    { message: 'consumer failed' },
  );
});
