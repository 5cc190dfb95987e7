/**
 * csv-parse, configured the one way this layer uses it: the options that match
 * {@link Framer}'s rules, and a helper that turns one framed record's bytes
 * into decoded fields. Used for the header and for the records the fast path
 * does not handle.
 */
import { parse, type Options } from 'csv-parse/sync';
import { decodeField } from './field-parse.js';

/**
 * csv-parse options of the whole layer (the test's reference parser uses them
 * too). `encoding: null` returns fields as Buffers so that sizes are bytes and
 * decoding is ours ({@link decodeField}); `bom` is set per call.
 */
export const CSV_PARSE_OPTIONS: Readonly<Options> = Object.freeze({
  delimiter: ',',
  quote: '"',
  escape: '"',
  record_delimiter: ['\n', '\r\n'],
  relax_quotes: true,
  relax_column_count: true,
  skip_empty_lines: true,
  encoding: null,
  bom: false,
});

/** Decodes csv-parse's Buffer fields. */
export function decodeFields(record: readonly Uint8Array[]): string[] {
  return record.map((f) => decodeField(f, 0, f.length, false));
}

/**
 * Parses `b[start, end)`, which {@link Framer} found to be exactly one
 * non-empty record, and returns its decoded fields.
 */
export function parseOneRecord(b: Uint8Array, start: number, end: number): string[] {
  const bytes = Buffer.from(b.buffer, b.byteOffset + start, end - start);
  const records = parse(bytes, CSV_PARSE_OPTIONS) as unknown as Uint8Array[][];
  if (records.length !== 1) {
    throw new Error(`BUG: csv-parse read ${records.length} records from one framed record of ${end - start} bytes`);
  }
  return decodeFields(records[0]!);
}
