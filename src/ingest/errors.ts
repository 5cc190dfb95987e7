/**
 * Errors of the CSV ingest layer. Bad rows are not errors (they are rejects,
 * reported through a callback); these stop a whole file.
 */

/** The header row is missing, unreadable, or lacks required columns. */
export class CsvHeaderError extends Error {
  override readonly name = 'CsvHeaderError';
  /** The file (or the parser's `source` name) whose header failed. */
  readonly source: string;
  /** Required columns the header does not have; empty for other header faults. */
  readonly missing: readonly string[];

  constructor(source: string, message: string, missing: readonly string[] = []) {
    super(`${source}: ${message}`);
    this.source = source;
    this.missing = Object.freeze([...missing]);
  }
}

/** A CSV file cannot be opened or read. `cause` is the underlying system error. */
export class CsvFileError extends Error {
  override readonly name = 'CsvFileError';
  readonly path: string;
  /** The system error code (`ENOENT`, `EACCES`, `EISDIR`, ...), when there is one. */
  readonly code: string | undefined;

  constructor(path: string, action: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`cannot ${action} CSV file ${JSON.stringify(path)}: ${why}`, { cause });
    this.path = path;
    this.code = code;
  }
}
