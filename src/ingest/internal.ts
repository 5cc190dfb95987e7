/**
 * The ingest layer's internals, for tests and benchmarks: the public API plus
 * the framer, the field grammars and the csv-parse settings.
 */
export * from './index.js';
export { IDENTITY_FIELDS, hashBytes } from './dictionary.js';
export {
  decodeField,
  parseTimestampBytes,
  parseTimestampString,
  parseValueBytes,
  parseValueString,
  VALUE_NOT_A_NUMBER,
  VALUE_NOT_FINITE,
} from './field-parse.js';
export { Frame, Framer } from './framer.js';
export { fieldName, resolveHeader } from './header.js';
export { CSV_PARSE_OPTIONS, decodeFields, parseOneRecord } from './record-parse.js';
export { checkRecordStrings, rejectDetail, type CheckedRecord } from './reject-detail.js';
