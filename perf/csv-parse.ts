/**
 * perf: DCGM CSV parsing, DcgmCsvParser (fast path) against csv-parse alone.
 *
 *   npm run build && node dist/perf/csv-parse.js [--json] [--min-ms 1000] [--file path]
 *
 * Input: the real export `../shared/data/dcgm_metrics_20250718_134233.csv`
 * (relative to the repository root) when it exists, else `data/sample.csv`.
 * The file is read into memory once and fed as 64 KiB chunks (fs.createReadStream's
 * default), so the numbers are parsing, not I/O. Each pass parses the whole file:
 * - fast/cold: a new parser with empty dictionaries, so every distinct string is
 *   decoded in the pass (in the real export each labels_raw value is distinct);
 * - fast/warm: a new parser on dictionaries that earlier passes filled, the steady
 *   state of a replayed file or a long export where values repeat;
 * - csv-parse: csv-parse/sync over the whole buffer with this layer's options,
 *   each record's value converted with Number (the least a consumer does).
 * The implementations run interleaved, in rounds of about 100 ms each, until
 * each has run --min-ms. rows/s is from the median pass time (robust to other
 * load on the machine); the ratio is rows/s against csv-parse's.
 * Output: one line per implementation, or with --json one JSON object per line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { createDictionaries, type ParserDictionaries } from '../src/ingest/dictionary.js';
import { DcgmCsvParser } from '../src/ingest/fast-parser.js';
import { CSV_PARSE_OPTIONS } from '../src/ingest/record-parse.js';

const REAL_EXPORT = '../shared/data/dcgm_metrics_20250718_134233.csv';
const SAMPLE = 'data/sample.csv';
const CHUNK_BYTES = 64 * 1024;
const ROUND_MS = 100;

/** The repository root: the nearest folder above this script with a package.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('perf/csv-parse: no package.json above the script');
    dir = up;
  }
  return dir;
}

interface Impl {
  name: string;
  /** Parses the input once; returns a checksum of what it read (rows + values). */
  pass: () => number;
  passMs: number[];
  ms: number;
}

function fastPass(input: Buffer, dictionaries: ParserDictionaries | undefined): number {
  let sum = 0;
  const parser = new DcgmCsvParser(dictionaries === undefined ? {} : { dictionaries }, (batch) => {
    const v = batch.value;
    for (let i = 0; i < batch.length; i++) sum += v[i]! + batch.labels[i]! * 0;
  });
  for (let at = 0; at < input.length; at += CHUNK_BYTES) parser.push(input.subarray(at, at + CHUNK_BYTES));
  parser.end();
  return parser.counts.rows + sum;
}

function csvParsePass(input: Buffer): number {
  const records = parse(input, { ...CSV_PARSE_OPTIONS, encoding: 'utf8', from_line: 2 }) as string[][];
  let sum = 0;
  for (const r of records) sum += Number(r[10]);
  return records.length + sum;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      'min-ms': { type: 'string', default: '1000' },
      file: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node dist/perf/csv-parse.js [--json] [--min-ms 1000] [--file path]');
    return;
  }
  const minMs = Number(values['min-ms']);
  if (!(minMs > 0)) throw new RangeError(`--min-ms must be a positive number, got ${values['min-ms']}`);
  const root = repoRoot();
  const file = values.file ?? (existsSync(join(root, REAL_EXPORT)) ? join(root, REAL_EXPORT) : join(root, SAMPLE));
  const input = readFileSync(file);

  const warm = createDictionaries();
  fastPass(input, warm); // fill the shared dictionaries once
  const impls: Impl[] = [
    { name: 'fast/cold', pass: () => fastPass(input, undefined), passMs: [], ms: 0 },
    { name: 'fast/warm', pass: () => fastPass(input, warm), passMs: [], ms: 0 },
    { name: 'csv-parse', pass: () => csvParsePass(input), passMs: [], ms: 0 },
  ];
  // Rows per pass, and a check that all read the same (their checksums must agree).
  const checks = impls.map((impl) => impl.pass());
  if (checks.some((c) => c !== checks[0])) {
    throw new Error(`perf/csv-parse: implementations disagree on ${file}: checksums ${checks.join(', ')}`);
  }
  const rowsPerPass = new DcgmCsvParser({}, () => {});
  rowsPerPass.push(input);
  rowsPerPass.end();
  const rows = rowsPerPass.counts.rows;

  let sink = 0;
  while (impls.some((impl) => impl.ms < minMs)) {
    for (const impl of impls) {
      const start = performance.now();
      let elapsed = 0;
      do {
        const t0 = performance.now();
        sink += impl.pass();
        impl.passMs.push(performance.now() - t0);
        elapsed = performance.now() - start;
      } while (elapsed < ROUND_MS);
      impl.ms += elapsed;
    }
  }

  const shownFile = relative(process.cwd(), file) || file;
  const base = impls.find((i) => i.name === 'csv-parse')!;
  const rate = (impl: Impl): number => {
    const sorted = [...impl.passMs].sort((a, b) => a - b);
    return rows / (sorted[sorted.length >> 1]! / 1000);
  };
  if (!values.json) console.log(`input ${shownFile}: ${rows} rows, ${input.length} bytes; ${process.version}`);
  for (const impl of impls) {
    const rowsPerSec = rate(impl);
    const bytesPerSec = (rowsPerSec / rows) * input.length;
    const ratio = rowsPerSec / rate(base);
    if (values.json) {
      console.log(
        JSON.stringify({
          bench: 'csv-parse',
          impl: impl.name,
          file: shownFile,
          rowsPerPass: rows,
          passes: impl.passMs.length,
          seconds: Number((impl.ms / 1000).toFixed(3)),
          rowsPerSec: Math.round(rowsPerSec),
          bytesPerSec: Math.round(bytesPerSec),
          ratioVsCsvParse: Number(ratio.toFixed(2)),
        }),
      );
    } else {
      console.log(
        `${impl.name.padEnd(10)} ${Math.round(rowsPerSec).toLocaleString('en-US').padStart(11)} rows/s ` +
          `${(bytesPerSec / 1e6).toFixed(1).padStart(7)} MB/s  ${ratio.toFixed(2)}x csv-parse`,
      );
    }
  }
  if (Number.isNaN(sink)) console.log('(unreachable)'); // consume the results
}

main();
