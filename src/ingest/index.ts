/**
 * CSV ingest: DCGM exporter CSV bytes -> columnar row batches.
 *
 * `parseFile(path, options, onBatch, onReject)` streams a file; `DcgmCsvParser`
 * takes chunks from any source. Rows arrive in reusable `RowBatch`es whose
 * gpu/metric/labels columns index the parser's dictionaries.
 */
export { openCsvFile, parseFile } from './csv-source.js';
export { DcgmCsvParser, PARSER_DEFAULTS, type DcgmCsvParserOptions } from './fast-parser.js';
export {
  emptyRejectCounts,
  REJECT_REASONS,
  RejectReason,
  RowBatch,
  type BatchHandler,
  type GpuIdentity,
  type ParseCounts,
  type RejectHandler,
} from './dcgm-row.js';
export { createDictionaries, GpuDictionary, StringDictionary, type ParserDictionaries } from './dictionary.js';
export { CsvFileError, CsvHeaderError } from './errors.js';
export { OPTIONAL_COLUMNS, REQUIRED_COLUMNS, type ColumnMap } from './header.js';
export { DCGM_HEADER, DCGM_METRICS, generateDcgmSample, SAMPLE_DEFAULTS, type SampleOptions } from './sample-generator.js';
