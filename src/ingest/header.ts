/**
 * The DCGM export's header: which column holds what. Columns are found by
 * name, in any order; unknown columns are ignored.
 *
 * Real exports write
 * `timestamp,metric_name,gpu_id,device,uuid,modelName,Hostname,container,pod,namespace,value,labels_raw`.
 */
import { CsvHeaderError } from './errors.js';

/** Columns a file must have: the sample and the GPU identity. */
export const REQUIRED_COLUMNS = [
  'timestamp',
  'metric_name',
  'uuid',
  'value',
  'gpu_id',
  'device',
  'modelName',
  'Hostname',
] as const;
/** Columns read when present; absent ones read as the empty string. */
export const OPTIONAL_COLUMNS = ['container', 'pod', 'namespace', 'labels_raw'] as const;

/** Column indexes of one file; -1 for an absent optional column. */
export interface ColumnMap {
  /** Fields per record: every column of the header, known or not. */
  readonly count: number;
  /** The header's names, as written. */
  readonly names: readonly string[];
  readonly timestamp: number;
  readonly metricName: number;
  readonly uuid: number;
  readonly value: number;
  readonly gpuId: number;
  readonly device: number;
  readonly modelName: number;
  readonly hostname: number;
  readonly container: number;
  readonly pod: number;
  readonly namespace: number;
  readonly labelsRaw: number;
  /** Identity columns in IDENTITY_FIELDS order (uuid, gpuId, device, modelName, hostname, container, pod, namespace). */
  readonly identity: readonly number[];
}

/**
 * Maps header names to columns. Throws {@link CsvHeaderError} naming the
 * missing required columns, or a known column that appears twice.
 */
export function resolveHeader(names: readonly string[], source: string): ColumnMap {
  const index = new Map<string, number>();
  const known = new Set<string>([...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]);
  names.forEach((name, i) => {
    if (!known.has(name)) return;
    if (index.has(name)) {
      throw new CsvHeaderError(source, `CSV header names column ${JSON.stringify(name)} twice (columns ${index.get(name)! + 1} and ${i + 1})`);
    }
    index.set(name, i);
  });
  const missing = REQUIRED_COLUMNS.filter((name) => !index.has(name));
  if (missing.length > 0) {
    const shown = names.length > 0 ? names.map((n) => JSON.stringify(n)).join(',') : '(empty)';
    throw new CsvHeaderError(
      source,
      `CSV header is missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (header: ${shown.length > 300 ? `${shown.slice(0, 300)}...` : shown})`,
      missing,
    );
  }
  const at = (name: string): number => index.get(name) ?? -1;
  const map = {
    count: names.length,
    names: Object.freeze([...names]),
    timestamp: at('timestamp'),
    metricName: at('metric_name'),
    uuid: at('uuid'),
    value: at('value'),
    gpuId: at('gpu_id'),
    device: at('device'),
    modelName: at('modelName'),
    hostname: at('Hostname'),
    container: at('container'),
    pod: at('pod'),
    namespace: at('namespace'),
    labelsRaw: at('labels_raw'),
  };
  return Object.freeze({
    ...map,
    identity: Object.freeze([
      map.uuid,
      map.gpuId,
      map.device,
      map.modelName,
      map.hostname,
      map.container,
      map.pod,
      map.namespace,
    ]),
  });
}

/** Human name of 0-based field `i`: `field 5 (uuid)`. */
export function fieldName(columns: ColumnMap | undefined, i: number): string {
  const name = columns?.names[i];
  return name === undefined ? `field ${i + 1}` : `field ${i + 1} (${name})`;
}
