/**
 * RowBuilder: from one record's fields to a row in the batch, or a reject.
 * The second half of {@link DcgmCsvParser} (which frames records): it holds
 * the batch, the dictionaries, the counts and the callbacks.
 *
 * - `fastLine` splits a single line by itself (quoted fields with `""`
 *   escapes, or unquoted ones), checks timestamp, metric, uuid and value from
 *   bytes, and interns strings by their bytes. It declines (returns false)
 *   whatever it does not handle exactly as csv-parse would.
 * - `slowRecord` takes the decoded fields csv-parse produced for the rest.
 * Both apply the same checks in the same order with the same messages
 * (reject-detail.ts).
 *
 * Single-threaded, owned by one parser.
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
import type { GpuDictionary, ParserDictionaries, StringDictionary } from './dictionary.js';
import { decodeField, parseTimestampBytes, parseValueBytes, VALUE_NOT_FINITE } from './field-parse.js';
import type { ColumnMap } from './header.js';
import { checkRecordStrings, rejectDetail, type CheckedRecord } from './reject-detail.js';

/** Timestamps up to this long are cached by their bytes (rows of one scrape share one). */
const TS_CACHE_BYTES = 64;

const QUOTE = 0x22;
const COMMA = 0x2c;

/** Buffer's undeclared per-encoding decoders: toString without the dispatch on the encoding name. */
type NodeBuffer = Buffer & { latin1Slice(start: number, end: number): string };

/** Builds rows into a batch; see the module comment. */
export class RowBuilder {
  /** Rows and rejects by reason so far (`bytes` is the parser's to count). */
  readonly counts: ParseCounts = { rows: 0, rejected: emptyRejectCounts(), bytes: 0 };
  /** The header's columns; set once before the first record. */
  columns: ColumnMap | undefined;

  private readonly batch: RowBatch;
  private readonly gpuDict: GpuDictionary;
  private readonly metricDict: StringDictionary;
  private readonly labelsDict: StringDictionary;
  /** Value index of '' per identity field, for columns the file lacks. */
  private readonly absentIdentity = new Int32Array(8);
  private absentLabels = 0;

  // Fields of the current line: field i is b[fieldStart[i], fieldEnd[i]).
  private fieldStart = new Int32Array(0);
  private fieldEnd = new Int32Array(0);
  private fieldEscaped = new Uint8Array(0);
  private readonly tsBytes = new Uint8Array(TS_CACHE_BYTES);
  private tsLength = -1;
  private tsMs = NaN;
  /** Unescaped bytes of a new labels_raw value (+4: whole-word writes may pass the end). */
  private readonly scratch: Buffer;
  private readonly scratchDv: DataView;
  private readonly checked: CheckedRecord = { tsMs: 0, value: 0, detail: '' };

  constructor(
    private readonly source: string,
    private readonly maxFieldBytes: number,
    batchRows: number,
    dictionaries: ParserDictionaries,
    private readonly onBatch: BatchHandler,
    private readonly onReject: RejectHandler,
  ) {
    this.batch = new RowBatch(batchRows);
    this.gpuDict = dictionaries.gpus;
    this.metricDict = dictionaries.metrics;
    this.labelsDict = dictionaries.labels;
    this.scratch = Buffer.allocUnsafe(maxFieldBytes + 4);
    this.scratchDv = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
  }

  get gpus(): readonly GpuIdentity[] {
    return this.gpuDict.values;
  }

  get metrics(): readonly string[] {
    return this.metricDict.values;
  }

  get labels(): readonly string[] {
    return this.labelsDict.values;
  }

  /** Takes the header's columns; call once, before any record. */
  setColumns(columns: ColumnMap): void {
    this.columns = columns;
    this.fieldStart = new Int32Array(columns.count);
    this.fieldEnd = new Int32Array(columns.count);
    this.fieldEscaped = new Uint8Array(columns.count);
    const dicts = this.gpuDict.fields;
    columns.identity.forEach((col, k) => {
      if (col < 0) this.absentIdentity[k] = dicts[k]!.internString('');
    });
    if (columns.labelsRaw < 0) this.absentLabels = this.labelsDict.internString('');
  }

  /** Counts and reports a rejected record. */
  reject(reason: RejectReason, line: number, detail: string): void {
    this.counts.rejected[reason]++;
    this.onReject(reason, line, detail);
  }

  /** Hands over the partial batch, if any. */
  flush(): void {
    if (this.batch.length > 0) {
      this.onBatch(this.batch);
      this.batch.reset();
    }
  }

  /**
   * The fast path for the single line `b[start, contentEnd)` (its `\r\n` or
   * `\n` excluded), which starts on line `line`; `dv` views `b`. Returns
   * false when the line needs the framer (nothing was emitted or counted);
   * otherwise emits its row or reject.
   */
  fastLine(b: Buffer, dv: DataView, start: number, contentEnd: number, line: number): boolean {
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
        labels = this.labelsDict.lookupBytes(dv, b, p + 1, contentEnd - 1);
        if (labels < 0) labels = this.newLastLabels(b, dv, p + 1, contentEnd);
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
  private newLastLabels(b: Buffer, dv: DataView, start: number, contentEnd: number): number {
    const out = this.scratch;
    const outDv = this.scratchDv;
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
  slowRecord(fields: string[], line: number): void {
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
