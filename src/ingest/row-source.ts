/**
 * Where rows come from: the small interface streamers read through, so that
 * another source (a live dcgm-exporter scrape, say) plugs in at
 * `openRowSource` without touching the pipeline.
 *
 * A source streams passes: each pass delivers every row once, in order, as
 * columnar RowBatches whose gpu/metric columns index the dictionaries handed
 * along with them, and every bad record as a reject with its line.
 */
import { fileURLToPath } from 'node:url';
import type { GpuIdentity, RejectReason, RowBatch } from './dcgm-row.js';
import { openCsvFile } from './csv-source.js';
import { CsvFileError } from './errors.js';
import { DcgmCsvParser } from './fast-parser.js';
import { resolveHeader } from './header.js';
import { parseOneRecord } from './record-parse.js';

export interface RowSink {
  /** A batch of rows; valid only during the call. `gpus`/`metrics` are the dictionaries its columns index. */
  rows(batch: RowBatch, gpus: readonly GpuIdentity[], metrics: readonly string[]): void;
  reject(reason: RejectReason, line: number, detail: string): void;
  /** Looked at between reads: true ends the pass early. */
  readonly stopped: boolean;
}

export interface RowSource {
  /** For logs and reject messages (the file path). */
  readonly name: string;
  /** Fails fast, before any worker starts: the source cannot be read, or its header lacks a required column. */
  check(): Promise<void>;
  /** One pass over every row. */
  pass(sink: RowSink): Promise<void>;
}

/**
 * The source for a CSV_FILE setting: a path or a file: URL to a DCGM CSV
 * export. Other schemes are a clear error until a source for them exists.
 */
export function openRowSource(spec: string): RowSource {
  if (spec.startsWith('file:')) return new CsvFileSource(fileURLToPath(spec));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new TypeError(`no row source reads "${spec}": CSV_FILE is the path (or file: URL) of a DCGM CSV export`);
  }
  return new CsvFileSource(spec);
}

/** Read size: big enough that per-read costs vanish, small enough to stop promptly. */
const READ_CHUNK_BYTES = 256 * 1024;
/** The header must fit in this many bytes. */
const HEADER_PROBE_BYTES = 64 * 1024;

/** A DCGM CSV file, read with a stream (never whole) through the fast parser. */
export class CsvFileSource implements RowSource {
  constructor(readonly name: string) {}

  async check(): Promise<void> {
    const file = await openCsvFile(this.name);
    try {
      const buf = Buffer.alloc(HEADER_PROBE_BYTES);
      let bytesRead: number;
      try {
        ({ bytesRead } = await file.read(buf, 0, buf.length, 0));
      } catch (err) {
        throw new CsvFileError(this.name, 'read', err);
      }
      let text = buf.subarray(0, bytesRead);
      if (text[0] === 0xef && text[1] === 0xbb && text[2] === 0xbf) text = text.subarray(3);
      const end = text.indexOf(0x0a);
      const line = end < 0 ? text : text.subarray(0, end);
      resolveHeader(parseOneRecord(line, 0, line.length).map((s) => s.trim()), this.name);
    } finally {
      await file.close();
    }
  }

  async pass(sink: RowSink): Promise<void> {
    const parser: DcgmCsvParser = new DcgmCsvParser(
      { source: this.name },
      (batch) => sink.rows(batch, parser.gpus, parser.metrics),
      (reason, line, detail) => sink.reject(reason, line, detail),
    );
    const file = await openCsvFile(this.name);
    const stream = file.createReadStream({ highWaterMark: READ_CHUNK_BYTES });
    try {
      for await (const chunk of stream) {
        parser.push(chunk as Buffer);
        if (sink.stopped) return;
      }
    } catch (err) {
      throw err instanceof CsvFileError ? err : new CsvFileError(this.name, 'read', err);
    } finally {
      stream.destroy();
    }
    parser.end();
  }
}
