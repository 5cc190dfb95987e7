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
 * Two paths, chosen per record:
 * - fast: the line is found with indexOf, split into fields byte by byte
 *   (quoted with `""` escapes, or unquoted), numbers and timestamps are parsed
 *   from bytes, strings are interned by hashing their bytes (decoded only when
 *   first seen). The real export's rows all take this path.
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
import {
  emptyRejectCounts,
  RejectReason,
  RowBatch,
  type BatchHandler,
  type GpuIdentity,
  type ParseCounts,
  type RejectHandler,
} from './dcgm-row.js';
import { createDictionaries, type GpuDictionary, type ParserDictionaries, type StringDictionary } from './dictionary.js';
import { CsvHeaderError } from './errors.js';
import { decodeField, parseTimestampBytes, parseValueBytes, VALUE_NOT_FINITE } from './field-parse.js';
import { Frame, Framer } from './framer.js';
import { fieldName, resolveHeader, type ColumnMap } from './header.js';
import { parseOneRecord } from './record-parse.js';
import { checkRecordStrings, rejectDetail, type CheckedRecord } from './reject-detail.js';

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
  // The real export's longest field (labels_raw) is 376 bytes; 10x headroom.
  maxFieldBytes: 4096,
  // 1024 rows = 40 KiB of columns: amortizes the callback, stays in L2.
  batchRows: 1024,
  fastPath: true,
});

/** The header may have this many columns at most. */
const MAX_HEADER_FIELDS = 4096;
/** Initial working buffer; it grows to the largest chunk plus a partial record. */
const INITIAL_BUFFER_BYTES = 64 * 1024;
/** Timestamps up to this long are cached by their bytes. */
const TS_CACHE_BYTES = 64;

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const BOM = [0xef, 0xbb, 0xbf] as const;

/** Buffer's undeclared per-encoding decoders: toString without the dispatch on the encoding name. */
type NodeBuffer = Buffer & { latin1Slice(start: number, end: number): string };

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
  /** Rows, rejects by reason, and bytes pushed so far. */
  readonly counts: ParseCounts = { rows: 0, rejected: emptyRejectCounts(), bytes: 0 };
  /** The header's column map, once read. */
  columns: ColumnMap | undefined;

  private readonly source: string;
  private readonly maxFieldBytes: number;
  private readonly fastPath: boolean;
  private readonly onBatch: BatchHandler;
  private readonly onReject: RejectHandler;
  private readonly batch: RowBatch;

  private readonly gpuDict: GpuDictionary;
  private readonly metricDict: StringDictionary;
  private readonly labelsDict: StringDictionary;
  /** Value index of '' per identity field, for columns the file lacks. */
  private readonly absentIdentity = new Int32Array(8);
  private absentLabels = 0;

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

  // Fast path scratch: field i of the current line is b[fieldStart[i], fieldEnd[i]).
  private fieldStart = new Int32Array(0);
  private fieldEnd = new Int32Array(0);
  private fieldEscaped = new Uint8Array(0);
  private readonly tsBytes = new Uint8Array(TS_CACHE_BYTES);
  /** Unescaped bytes of a new labels_raw value (+4: whole-word writes may pass the end). */
  private readonly scratch: Buffer;
  private readonly scratchDv: DataView;
  private tsLength = -1;
  private tsMs = NaN;
  private readonly checked: CheckedRecord = { tsMs: 0, value: 0, detail: '' };

  constructor(options: DcgmCsvParserOptions, onBatch: BatchHandler, onReject: RejectHandler = () => {}) {
    const o = validateOptions(options);
    this.source = o.source;
    this.maxFieldBytes = o.maxFieldBytes;
    this.fastPath = o.fastPath;
    this.onBatch = onBatch;
    this.onReject = onReject;
    this.batch = new RowBatch(o.batchRows);
    const dictionaries = options.dictionaries ?? createDictionaries();
    this.gpuDict = dictionaries.gpus;
    this.metricDict = dictionaries.metrics;
    this.labelsDict = dictionaries.labels;
    this.framer = new Framer(o.maxFieldBytes, Infinity);
    this.headerFramer = new Framer(o.maxFieldBytes, MAX_HEADER_FIELDS);
    this.scratch = Buffer.allocUnsafe(o.maxFieldBytes + 4);
    this.scratchDv = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
  }

  /** GPU identities by index (RowBatch.gpu). Append-only. */
  get gpus(): readonly GpuIdentity[] {
    return this.gpuDict.values;
  }

  /** Metric names by index (RowBatch.metric). Append-only. */
  get metrics(): readonly string[] {
    return this.metricDict.values;
  }

  /** Distinct labels_raw strings by index (RowBatch.labels). Append-only. */
  get labels(): readonly string[] {
    return this.labelsDict.values;
  }

  /** Parses what `chunk` completes. The parser copies the bytes it needs. */
  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.ended) throw new Error('DcgmCsvParser.push called after end()');
    this.counts.bytes += chunk.length;
    this.append(chunk);
    this.guard(false);
  }

  /** Parses the rest and flushes the last batch. */
  end(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.ended) return;
    this.ended = true;
    this.guard(true);
    if (this.batch.length > 0) {
      this.onBatch(this.batch);
      this.batch.reset();
    }
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
          if (this.fastRecord(b, p, b[eol - 1] === CR && eol > p ? eol - 1 : eol)) {
            this.pos = eol + 1;
            this.line++;
            continue;
          }
        } else if (eof && this.fastRecord(b, p, end)) {
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
    this.fieldStart = new Int32Array(columns.count);
    this.fieldEnd = new Int32Array(columns.count);
    this.fieldEscaped = new Uint8Array(columns.count);
    const dicts = this.gpuDict.fields;
    columns.identity.forEach((col, k) => {
      if (col < 0) this.absentIdentity[k] = dicts[k]!.internString('');
    });
    if (columns.labelsRaw < 0) this.absentLabels = this.labelsDict.internString('');
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
          this.reject(RejectReason.ColumnCount, line, rejectDetail.columnCount(this.source, line, columns.count, fields));
        } else {
          this.slowRecord(parseOneRecord(view, start, framer.end), line);
        }
        this.line += countLf(view, start, framer.end);
        this.pos = framer.end;
        this.mode = Mode.Records;
        return true;
      }
      case Frame.TooManyFields:
        this.reject(RejectReason.ColumnCount, line, rejectDetail.columnCount(this.source, line, columns.count, null));
        break;
      case Frame.FieldTooLong:
        this.reject(
          RejectReason.FieldTooLong,
          line,
          rejectDetail.fieldTooLong(this.source, line, columns, framer.field, this.maxFieldBytes),
        );
        break;
      case Frame.EofInQuote:
        this.reject(RejectReason.UnterminatedQuote, line, rejectDetail.unterminatedQuote(this.source, line, columns, framer.field));
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

  private reject(reason: RejectReason, line: number, detail: string): void {
    this.counts.rejected[reason]++;
    this.onReject(reason, line, detail);
  }

  /**
   * The fast path for the single line `b[start, contentEnd)` (its `\r\n` or
   * `\n` excluded). Returns false, having changed nothing, when the line needs
   * the framer; otherwise emits its row or reject.
   */
  private fastRecord(b: Buffer, start: number, contentEnd: number): boolean {
    const count = this.fieldStart.length;
    const fieldStart = this.fieldStart;
    const fieldEnd = this.fieldEnd;
    const fieldEscaped = this.fieldEscaped;
    const cap = this.maxFieldBytes;
    const labelsLast = this.columns!.labelsRaw === count - 1 ? count - 1 : -1;
    let labels = -1;
    let p = start;
    let f = 0;
    for (;;) {
      if (f === count) return false; // more fields than the header
      if (f === labelsLast && p < contentEnd - 1 && contentEnd - p - 2 <= cap && b[p] === QUOTE && b[contentEnd - 1] === QUOTE) {
        // A last field equal to a known labels_raw is a valid quoted field:
        // every key in the dictionary is. No need to scan its quotes. (A new
        // value is checked and added here too, even if the row is rejected later.)
        labels = this.labelsDict.lookupBytes(this.dv, b, p + 1, contentEnd - 1);
        if (labels < 0) labels = this.newLastLabels(b, p + 1, contentEnd);
        if (labels === -1) return false;
        if (labels >= 0) {
          fieldStart[f] = p + 1;
          fieldEnd[f] = contentEnd - 1;
          f++;
          break;
        }
      }
      let fs: number;
      let fe: number;
      let escaped = 0;
      if (p < contentEnd && b[p] === QUOTE) {
        let q = p + 1;
        fs = q;
        for (;;) {
          while (q < contentEnd && b[q] !== QUOTE) q++;
          if (q >= contentEnd) return false; // not closed on this line
          if (q + 1 < contentEnd && b[q + 1] === QUOTE) {
            escaped = 1;
            q += 2;
            continue;
          }
          break;
        }
        fe = q;
        p = q + 1;
        if (p < contentEnd && b[p] !== COMMA) return false; // bytes after the closing quote
      } else {
        fs = p;
        for (; p < contentEnd; p++) {
          const c = b[p];
          if (c === COMMA) break;
          if (c === QUOTE) return false; // a quote inside an unquoted field
        }
        fe = p;
      }
      if (fe - fs > cap) return false;
      fieldStart[f] = fs;
      fieldEnd[f] = fe;
      fieldEscaped[f] = escaped;
      f++;
      if (p >= contentEnd) break;
      p++; // the comma
    }
    if (f !== count) return false;

    const columns = this.columns!;
    const line = this.line;
    const dv = this.dv;
    // timestamp, by its bytes: rows of one scrape share it.
    let fs = fieldStart[columns.timestamp]!;
    let fe = fieldEnd[columns.timestamp]!;
    const tsLen = fe - fs;
    let tsMs: number;
    if (tsLen === this.tsLength && bytesEqual(this.tsBytes, b, fs, tsLen)) {
      tsMs = this.tsMs;
    } else {
      tsMs = parseTimestampBytes(b, fs, fe);
      if (tsLen <= TS_CACHE_BYTES) {
        this.tsBytes.set(b.subarray(fs, fe));
        this.tsLength = tsLen;
        this.tsMs = tsMs;
      }
    }
    if (Number.isNaN(tsMs)) {
      const shown = decodeField(b, fs, fe, fieldEscaped[columns.timestamp] === 1);
      this.reject(RejectReason.BadTimestamp, line, rejectDetail.badTimestamp(this.source, line, shown));
      return true;
    }
    if (fieldEnd[columns.metricName] === fieldStart[columns.metricName]) {
      this.reject(RejectReason.EmptyMetric, line, rejectDetail.emptyMetric(this.source, line));
      return true;
    }
    if (fieldEnd[columns.uuid] === fieldStart[columns.uuid]) {
      this.reject(RejectReason.EmptyUuid, line, rejectDetail.emptyUuid(this.source, line));
      return true;
    }
    fs = fieldStart[columns.value]!;
    fe = fieldEnd[columns.value]!;
    const value = parseValueBytes(b, fs, fe);
    if (Number.isNaN(value) || value === VALUE_NOT_FINITE) {
      const shown = decodeField(b, fs, fe, fieldEscaped[columns.value] === 1);
      if (value === VALUE_NOT_FINITE) {
        this.reject(RejectReason.NonFinite, line, rejectDetail.nonFinite(this.source, line, shown));
      } else {
        this.reject(RejectReason.BadValue, line, rejectDetail.badValue(this.source, line, shown));
      }
      return true;
    }

    const m = columns.metricName;
    const metric = this.metricDict.internBytes(dv, b, fieldStart[m]!, fieldEnd[m]!, fieldEscaped[m] === 1);
    const gpus = this.gpuDict;
    const tuple = gpus.tuple;
    const identity = columns.identity;
    for (let k = 0; k < 8; k++) {
      const col = identity[k]!;
      tuple[k] =
        col < 0
          ? this.absentIdentity[k]!
          : gpus.fields[k]!.internBytes(dv, b, fieldStart[col]!, fieldEnd[col]!, fieldEscaped[col] === 1);
    }
    const gpu = gpus.intern();
    const l = columns.labelsRaw;
    if (labels < 0) {
      labels =
        l < 0 ? this.absentLabels : this.labelsDict.internBytes(dv, b, fieldStart[l]!, fieldEnd[l]!, fieldEscaped[l] === 1);
    }
    this.emit(line, tsMs, value, gpu, metric, labels);
    return true;
  }

  /**
   * A labels_raw value not in the dictionary, in the last field, whose opening
   * quote is before `start` and whose last byte `b[contentEnd - 1]` is a quote.
   * Checks the escapes while it unescapes into a scratch buffer, then adds the
   * value. Returns its index; -2 when the quote closes earlier (the general
   * split decides); -1 when the quote never closes on this line (the framer
   * decides).
   */
  private newLastLabels(b: Buffer, start: number, contentEnd: number): number {
    const out = this.scratch;
    const outDv = this.scratchDv;
    const dv = this.dv;
    const end = contentEnd - 1;
    if (end - start > this.maxFieldBytes) return -2;
    let n = 0;
    let bits = 0;
    let i = start;
    scan: for (;;) {
      // 4 bytes at a time while none is a quote (SWAR zero-byte test on w ^ '""""').
      while (i + 4 <= contentEnd) {
        const w = dv.getInt32(i, true);
        const x = w ^ 0x22222222;
        if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
        outDv.setInt32(n, w, true);
        bits |= w;
        n += 4;
        i += 4;
      }
      for (const stop = Math.min(i + 4, contentEnd); i < stop; i++) {
        const c = b[i]!;
        if (c === QUOTE) {
          if (i + 1 < contentEnd && b[i + 1] === QUOTE) i++;
          else break scan;
        }
        out[n++] = c;
        bits |= c;
      }
      if (i >= contentEnd) return -1;
    }
    if (i !== end) return -2;
    const value = (bits & 0x80808080) === 0 ? (out as NodeBuffer).latin1Slice(0, n) : out.toString('utf8', 0, n);
    return this.labelsDict.addLookedUp(b, start, end, value);
  }

  /** A record framed by the framer and parsed by csv-parse, with the header's field count. */
  private slowRecord(fields: string[], line: number): void {
    const columns = this.columns!;
    const out = this.checked;
    const reason = checkRecordStrings(fields, columns, this.source, line, out);
    if (reason !== null) {
      this.reject(reason, line, out.detail);
      return;
    }
    const metric = this.metricDict.internString(fields[columns.metricName]!);
    const gpus = this.gpuDict;
    columns.identity.forEach((col, k) => {
      gpus.tuple[k] = col < 0 ? this.absentIdentity[k]! : gpus.fields[k]!.internString(fields[col]!);
    });
    const gpu = gpus.intern();
    const labels = columns.labelsRaw < 0 ? this.absentLabels : this.labelsDict.internString(fields[columns.labelsRaw]!);
    this.emit(line, out.tsMs, out.value, gpu, metric, labels);
  }

  private emit(line: number, tsMs: number, value: number, gpu: number, metric: number, labels: number): void {
    const batch = this.batch;
    const i = batch.length;
    batch.line[i] = line;
    batch.tsMs[i] = tsMs;
    batch.value[i] = value;
    batch.gpu[i] = gpu;
    batch.metric[i] = metric;
    batch.labels[i] = labels;
    batch.length = i + 1;
    this.counts.rows++;
    if (i + 1 === batch.capacity) {
      this.onBatch(batch);
      batch.reset();
    }
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array, bStart: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[i] !== b[bStart + i]) return false;
  return true;
}

function countLf(b: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (b[i] === LF) n++;
  return n;
}
