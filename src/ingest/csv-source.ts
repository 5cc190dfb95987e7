/**
 * CSV files in: open a DCGM export and stream it through {@link DcgmCsvParser}.
 *
 * The file is read with a stream (64 KiB chunks), never whole, so memory stays
 * flat whatever the file size. Errors: a file that cannot be opened or read is
 * a {@link CsvFileError} naming the path and the system error; a bad header is
 * a {@link CsvHeaderError}; bad rows are rejects, counted and reported through
 * `onReject`, and never stop the file.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { BatchHandler, ParseCounts, RejectHandler } from './dcgm-row.js';
import { CsvFileError } from './errors.js';
import { DcgmCsvParser, type DcgmCsvParserOptions } from './fast-parser.js';

export { DcgmCsvParser, PARSER_DEFAULTS, type DcgmCsvParserOptions } from './fast-parser.js';

/** Read size: fs.createReadStream's default, and big enough that per-chunk costs vanish. */
const READ_CHUNK_BYTES = 64 * 1024;

/**
 * Opens `path` for reading. Throws {@link CsvFileError} (with the system error
 * as `cause` and its `code`) when it is missing, unreadable or a directory.
 * The caller closes the handle.
 */
export async function openCsvFile(path: string): Promise<FileHandle> {
  if (typeof path !== 'string' || path === '') {
    throw new TypeError(`CSV file path must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new CsvFileError(path, 'open', err);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) {
      throw new CsvFileError(path, 'read', Object.assign(new Error('it is a directory'), { code: 'EISDIR' }));
    }
  } catch (err) {
    await handle.close();
    throw err instanceof CsvFileError ? err : new CsvFileError(path, 'stat', err);
  }
  return handle;
}

/**
 * Streams the CSV file at `path` through a {@link DcgmCsvParser} (whose
 * `source` defaults to `path`) and resolves with its counts once the whole
 * file is parsed. Rejects with CsvFileError (open/read failures),
 * CsvHeaderError, or whatever a callback throws.
 */
export async function parseFile(
  path: string,
  options: DcgmCsvParserOptions,
  onBatch: BatchHandler,
  onReject?: RejectHandler,
): Promise<ParseCounts> {
  const parser = new DcgmCsvParser({ source: path, ...options }, onBatch, onReject);
  const handle = await openCsvFile(path);
  try {
    const chunks = handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES, autoClose: false })[Symbol.asyncIterator]();
    try {
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = (await chunks.next()) as IteratorResult<Buffer>;
        } catch (err) {
          throw new CsvFileError(path, 'read', err);
        }
        if (next.done === true) break;
        parser.push(next.value);
      }
    } finally {
      await chunks.return?.();
    }
    parser.end();
    return parser.counts;
  } finally {
    await handle.close();
  }
}
