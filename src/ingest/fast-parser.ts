/**
 * DcgmCsvParser: DCGM CSV bytes in, columnar row batches and rejects out.
 *
 * Feed it chunks split at any byte offset with `push`, then call `end`. Rows
 * arrive in {@link RowBatch}es through `onBatch` (the batch is reset when the
 * call returns, so copy what you keep); bad records arrive through
 * `onReject(reason, line, detail)` and never stop the stream. The header is
 * read from the first record; a header without the required columns throws
 * {@link CsvHeaderError} from the `push` (or `end`) that completes it.
 *
 * Two paths, chosen per record (this file frames records; row-builder.ts
 * turns them into rows):
 * - fast: the line is found with indexOf (memchr), split into fields byte by
 *   byte (quoted with `""` escapes, or unquoted), numbers and timestamps are
 *   parsed from bytes, strings are interned by hashing their bytes (decoded
 *   only when first seen). The real export's rows all take this path.
 * - slow: anything else (a quote spanning lines, odd quoting, wrong field
 *   count, a limit exceeded) is framed by {@link Framer} with csv-parse's
 *   rules and, when complete, parsed by csv-parse itself.
 * Both give the same rows and rejects; test/ingest/differential.test.ts holds
 * them to a reference that runs csv-parse over the whole input.
 *
 * Limits: a field over `maxFieldBytes` (decoded) stops its record, which is
 * rejected, and parsing resumes at the line after the one the record started
 * on; so does a record with more fields than the header, and a quote still
 * open at the end of input. So an unclosed quote costs at most
 * `maxFieldBytes` of input, and memory stays bounded by about
 * `columns * 2 * maxFieldBytes` plus the largest chunk.
 *
 * Single-threaded; the callbacks run synchronously inside push/end and must
 * not call back into the parser. An error thrown by a callback propagates out
 * of push/end and leaves the parser failed (later calls rethrow it).
 */
import { RejectReason, type BatchHandler, type GpuIdentity, type ParseCounts, type RejectHandler } from './dcgm-row.js';
import { createDictionaries, type ParserDictionaries } from './dictionary.js';
import { CsvHeaderError } from './errors.js';
import { Frame, Framer } from './framer.js';
import { fieldName, resolveHeader, type ColumnMap } from './header.js';
import { parseOneRecord } from './record-parse.js';
import { rejectDetail } from './reject-detail.js';
import { RowBuilder } from './row-builder.js';

/** Options of {@link DcgmCsvParser}. */
export interface DcgmCsvParserOptions {
  /** Names the input in messages (`<source> line 418: ...`); a file path, say. */
  source?: string;
  /** Longest field, in decoded bytes; longer ones reject their record. */
  maxFieldBytes?: number;
  /** Rows per {@link RowBatch}. */
  batchRows?: number;
  /** Kill switch: false sends every record through the framer and csv-parse. */
  fastPath?: boolean;
  /**
   * Dictionaries to intern into (see createDictionaries): share them between
   * parsers, e.g. across the passes of a replayed file, to keep indexes stable.
   * Default: a fresh set per parser.
   */
  dictionaries?: ParserDictionaries;
}

/** Defaults of {@link DcgmCsvParserOptions}. */
export const PARSER_DEFAULTS = Object.freeze({
  source: 'csv',
  // The real export's longest field (labels_raw) is 268 bytes; 15x headroom, and an
  // unclosed quote costs at most this much input.
  maxFieldBytes: 4096,
  // 1024 rows = 32 KiB of columns: amortizes the callback, stays in L2.
  batchRows: 1024,
  fastPath: true,
});

/** The header may have this many columns at most. */
const MAX_HEADER_FIELDS = 4096;
/** Initial working buffer; it grows to the largest chunk plus a partial record. */
const INITIAL_BUFFER_BYTES = 64 * 1024;
const LF = 0x0a;
const CR = 0x0d;
const BOM = [0xef, 0xbb, 0xbf] as const;

/** What the parser is in the middle of. */
const Mode = {
  /** At a record boundary (or reading the header). */
  Records: 0,
  /** The framer holds an incomplete record starting at `pos`. */
  Framing: 1,
  /** Dropping input up to the next `\n` after a stopped record. */
  SkipLine: 2,
} as const;
type Mode = (typeof Mode)[keyof typeof Mode];

function validateOptions(options: DcgmCsvParserOptions): Required<Omit<DcgmCsvParserOptions, 'dictionaries'>> {
  const o = { ...PARSER_DEFAULTS, ...options };
  if (typeof o.source !== 'string') throw new TypeError(`parser source must be a string, got ${typeof o.source}`);
  if (!Number.isInteger(o.maxFieldBytes) || o.maxFieldBytes < 1 || o.maxFieldBytes > 0x4000000) {
    throw new RangeError(`parser maxFieldBytes must be an integer from 1 to 67108864, got ${o.maxFieldBytes}`);
  }
  if (!Number.isInteger(o.batchRows) || o.batchRows < 1 || o.batchRows > 0x1000000) {
    throw new RangeError(`parser batchRows must be an integer from 1 to 16777216, got ${o.batchRows}`);
  }
  if (typeof o.fastPath !== 'boolean') throw new TypeError(`parser fastPath must be a boolean, got ${typeof o.fastPath}`);
  return o;
}

/** Streaming parser of DCGM exporter CSV. */
export class DcgmCsvParser {
  /** The header's column map, once read. */
  columns: ColumnMap | undefined;

  private readonly source: string;
  private readonly maxFieldBytes: number;
  private readonly fastPath: boolean;
  private readonly rows: RowBuilder;

  // Working buffer: b[pos, len) is unparsed input; `line` is the line of b[pos].
  private b: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER_BYTES);
  private dv = new DataView(this.b.buffer, this.b.byteOffset, this.b.byteLength);
  private len = 0;
  private pos = 0;
  private line = 1;
  /** No `\n` in b[pos, scanFrom): where the next indexOf starts. */
  private scanFrom = 0;
  private mode: Mode = Mode.Records;
  private bomChecked = false;
  private headerFraming = false;
  private framer: Framer;
  private headerFramer: Framer;
  private ended = false;
  private failure: Error | undefined;
  /** Records longer than this without a `\n` cannot be valid; the framer stops them. */
  private maxPendingBytes = 0;

  constructor(options: DcgmCsvParserOptions, onBatch: BatchHandler, onReject: RejectHandler = () => {}) {
    const o = validateOptions(options);
    this.source = o.source;
    this.maxFieldBytes = o.maxFieldBytes;
    this.fastPath = o.fastPath;
    const dictionaries = options.dictionaries ?? createDictionaries();
    this.rows = new RowBuilder(o.source, o.maxFieldBytes, o.batchRows, dictionaries, onBatch, onReject);
    this.framer = new Framer(o.maxFieldBytes, Infinity);
    this.headerFramer = new Framer(o.maxFieldBytes, MAX_HEADER_FIELDS);
  }

  /** Rows, rejects by reason, and bytes pushed so far. */
  get counts(): ParseCounts {
    return this.rows.counts;
  }

  /** GPU identities by index (RowBatch.gpu). Append-only. */
  get gpus(): readonly GpuIdentity[] {
    return this.rows.gpus;
  }

  /** Metric names by index (RowBatch.metric). Append-only. */
  get metrics(): readonly string[] {
    return this.rows.metrics;
  }

  /** Distinct labels_raw strings by index (RowBatch.labels). Append-only. */
  get labels(): readonly string[] {
    return this.rows.labels;
  }

  /** Parses what `chunk` completes. The parser copies the bytes it needs. */
  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.ended) throw new Error('DcgmCsvParser.push called after end()');
    this.rows.counts.bytes += chunk.length;
    this.append(chunk);
    this.guard(false);
  }

  /** Parses the rest and flushes the last batch. */
  end(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.ended) return;
    this.ended = true;
    this.guard(true);
    this.rows.flush();
  }

  /** Runs process; whatever it throws (a header error, a callback's error) leaves the parser failed. */
  private guard(eof: boolean): void {
    try {
      this.process(eof);
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  }

  private append(chunk: Uint8Array): void {
    const live = this.len - this.pos;
    if (this.len + chunk.length > this.b.length) {
      if (live + chunk.length <= this.b.length && live <= this.b.length >>> 1) {
        this.b.copyWithin(0, this.pos, this.len);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(this.b.length * 2, live + chunk.length));
        this.b.copy(grown, 0, this.pos, this.len);
        this.b = grown;
        this.dv = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
      }
      const shift = this.pos;
      this.pos = 0;
      this.len = live;
      this.scanFrom = Math.max(0, this.scanFrom - shift);
      this.framer.shift(shift);
      this.headerFramer.shift(shift);
    }
    this.b.set(chunk, this.len);
    this.len += chunk.length;
  }

  private process(eof: boolean): void {
    if (this.columns === undefined && !this.readHeader(eof)) return;
    const b = this.b;
    const end = this.len;
    const view = b.subarray(0, end); // indexOf must not see stale bytes past `end`
    for (;;) {
      if (this.mode === Mode.SkipLine) {
        const nl = view.indexOf(LF, this.pos);
        if (nl < 0) {
          this.pos = end;
          return;
        }
        this.pos = nl + 1;
        this.line++;
        this.mode = Mode.Records;
      }
      if (this.mode === Mode.Framing) {
        if (!this.frame(view, eof)) return;
        continue;
      }
      // Mode.Records: one record per iteration.
      let p = this.pos;
      while (p < end) {
        const c = b[p];
        if (c === LF) {
          p++;
          this.line++;
        } else if (c === CR && p + 1 < end && b[p + 1] === LF) {
          p += 2;
          this.line++;
        } else {
          break;
        }
      }
      this.pos = p;
      if (p >= end || (b[p] === CR && p + 1 >= end && !eof)) return;
      const eol = view.indexOf(LF, Math.max(p, this.scanFrom));
      if (eol < 0 && !eof && end - p <= this.maxPendingBytes) {
        this.scanFrom = end; // wait for the rest of the line
        return;
      }
      this.scanFrom = 0;
      if (this.fastPath) {
        if (eol >= 0) {
          if (this.rows.fastLine(b, this.dv, p, b[eol - 1] === CR && eol > p ? eol - 1 : eol, this.line)) {
            this.pos = eol + 1;
            this.line++;
            continue;
          }
        } else if (eof && this.rows.fastLine(b, this.dv, p, end, this.line)) {
          this.pos = end;
          continue;
        }
      }
      // Slow path; also stops a line too long to be a record.
      this.framer.begin(p);
      this.mode = Mode.Framing;
    }
  }

  /** Reads the header once it is complete; false: needs more input. */
  private readHeader(eof: boolean): boolean {
    const b = this.b;
    if (!this.bomChecked) {
      if (this.len < BOM.length && !eof) return false;
      if (this.len >= BOM.length && b[0] === BOM[0] && b[1] === BOM[1] && b[2] === BOM[2]) this.pos = BOM.length;
      this.bomChecked = true;
    }
    if (!this.headerFraming) {
      let p = this.pos;
      for (;;) {
        if (p < this.len && b[p] === LF) p++;
        else if (p + 1 < this.len && b[p] === CR && b[p + 1] === LF) p += 2;
        else break;
        this.line++;
      }
      this.pos = p;
      if (p >= this.len) {
        if (eof) throw new CsvHeaderError(this.source, 'no CSV header row: the input is empty');
        return false;
      }
      if (b[p] === CR && p + 1 >= this.len && !eof) return false;
      this.headerFramer.begin(p);
      this.headerFraming = true;
    }
    const framer = this.headerFramer;
    switch (framer.run(b, this.len, eof)) {
      case Frame.NeedMore:
        return false;
      case Frame.FieldTooLong:
        throw new CsvHeaderError(
          this.source,
          `CSV header (line ${this.line}) ${fieldName(undefined, framer.field)} is longer than maxFieldBytes (${this.maxFieldBytes})`,
        );
      case Frame.TooManyFields:
        throw new CsvHeaderError(this.source, `CSV header (line ${this.line}) has more than ${MAX_HEADER_FIELDS} columns`);
      case Frame.EofInQuote:
        throw new CsvHeaderError(
          this.source,
          `CSV header (line ${this.line}) ${fieldName(undefined, framer.field)} opens a quote that the input never closes`,
        );
    }
    const names = parseOneRecord(b, this.pos, framer.end);
    const columns = resolveHeader(names, this.source);
    this.columns = columns;
    this.headerFraming = false;
    this.line += countLf(b, this.pos, framer.end);
    this.pos = framer.end;
    this.framer = new Framer(this.maxFieldBytes, columns.count);
    this.maxPendingBytes = columns.count * (2 * this.maxFieldBytes + 3) + 2;
    this.rows.setColumns(columns);
    return true;
  }

  /** Runs the framer on the record at `pos`; false: needs more input. */
  private frame(view: Buffer, eof: boolean): boolean {
    const framer = this.framer;
    const columns = this.columns!;
    const start = this.pos;
    const line = this.line;
    switch (framer.run(view, view.length, eof)) {
      case Frame.NeedMore:
        return false;
      case Frame.End: {
        const fields = framer.field + 1;
        if (fields !== columns.count) {
          this.rows.reject(RejectReason.ColumnCount, line, rejectDetail.columnCount(this.source, line, columns.count, fields));
        } else {
          this.rows.slowRecord(parseOneRecord(view, start, framer.end), line);
        }
        this.line += countLf(view, start, framer.end);
        this.pos = framer.end;
        this.mode = Mode.Records;
        return true;
      }
      case Frame.TooManyFields:
        this.rows.reject(RejectReason.ColumnCount, line, rejectDetail.columnCount(this.source, line, columns.count, null));
        break;
      case Frame.FieldTooLong:
        this.rows.reject(
          RejectReason.FieldTooLong,
          line,
          rejectDetail.fieldTooLong(this.source, line, columns, framer.field, this.maxFieldBytes),
        );
        break;
      case Frame.EofInQuote:
        this.rows.reject(RejectReason.UnterminatedQuote, line, rejectDetail.unterminatedQuote(this.source, line, columns, framer.field));
        break;
    }
    // Stopped record: resume at the line after its first one.
    const nl = view.indexOf(LF, start);
    if (nl >= 0) {
      this.pos = nl + 1;
      this.line++;
      this.mode = Mode.Records;
    } else {
      this.pos = view.length;
      this.mode = eof ? Mode.Records : Mode.SkipLine;
    }
    return true;
  }
}

function countLf(b: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (b[i] === LF) n++;
  return n;
}
