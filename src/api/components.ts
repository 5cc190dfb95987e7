/**
 * The named schemas of the API's bodies: what handlers build (their types
 * come from these schemas) and what the OpenAPI document lists under
 * `components.schemas`.
 */
import { ErrorCode } from './errors.js';
import { s, type TypeOf } from './schema.js';

const time = (description: string) => s.string({ format: 'date-time', description, examples: ['2025-07-18T13:42:33.125Z'] });

export const MAX_WORKERS = 10;

export const ErrorBody = s.object(
  {
    error: s.object(
      {
        code: s.enum(Object.values(ErrorCode), { description: 'Stable, machine-readable' }),
        message: s.string({ description: 'What was wrong, naming the offending parameter and value' }),
      },
      ['code', 'message'],
    ),
  },
  ['error'],
  { description: 'Every error response (4xx, 5xx) has this body.' },
);

export const Gpu = s.object(
  {
    id: s.string({ description: 'The GPU id in this API: its uuid' }),
    uuid: s.string({ examples: ['GPU-e8b5b644-a7b3-b263-dbe7-3065492f32f0'] }),
    gpu_id: s.string({ description: 'Index on its host, as DCGM reports it', examples: ['0'] }),
    device: s.string({ examples: ['nvidia0'] }),
    model_name: s.string({ examples: ['NVIDIA H100 80GB HBM3'] }),
    hostname: s.string(),
    container: s.string({ description: 'Present when the exporter reported one' }),
    pod: s.string({ description: 'Present when the exporter reported one' }),
    namespace: s.string({ description: 'Present when the exporter reported one' }),
    metrics: s.array(s.string(), { description: 'Metric names with samples held, sorted' }),
    samples: s.integer({ minimum: 1, description: 'Samples held, all metrics' }),
    first_sample_time: time('Oldest sample held'),
    last_sample_time: time('Newest sample held'),
  },
  ['id', 'uuid', 'gpu_id', 'device', 'model_name', 'hostname', 'metrics', 'samples', 'first_sample_time', 'last_sample_time'],
);

export const GpuList = s.object({ data: s.array(s.ref('Gpu', Gpu), { description: 'By hostname, then gpu_id, then uuid' }) }, ['data']);

export const TelemetryEntry = s.object(
  {
    timestamp: time('The sample time; for a downsampled entry, the start of its bucket'),
    metric_name: s.string({ examples: ['DCGM_FI_DEV_GPU_UTIL'] }),
    value: s.number({ description: 'The sample value; for a downsampled entry, the aggregate' }),
    samples: s.integer({ minimum: 1, description: 'Downsampled entries only: samples in the bucket' }),
  },
  ['timestamp', 'metric_name', 'value'],
);

export const TelemetryPage = s.object(
  {
    id: s.string({ description: 'The GPU (uuid)' }),
    data: s.array(s.ref('TelemetryEntry', TelemetryEntry), { description: 'Ordered by time (then metric name) as `order` asks' }),
    next: s.nullable(s.string({ description: 'Pass as `cursor` (with the same other parameters) for the next page; null on the last page' })),
  },
  ['id', 'data', 'next'],
);

export const LatestValues = s.object(
  {
    id: s.string({ description: 'The GPU (uuid)' }),
    data: s.array(
      s.object(
        {
          metric_name: s.string(),
          timestamp: time('Time of the newest sample of this metric'),
          value: s.number(),
        },
        ['metric_name', 'timestamp', 'value'],
      ),
      { description: 'The newest sample of every metric the GPU has' },
    ),
  },
  ['id', 'data'],
);

export const MetricCatalogue = s.object(
  {
    data: s.array(
      s.object(
        {
          name: s.string({ examples: ['DCGM_FI_DEV_POWER_USAGE'] }),
          unit: s.string({ examples: ['W'] }),
          description: s.string({ description: 'One line: what the metric measures' }),
          gpus: s.integer({ minimum: 0, description: 'GPUs with samples of it' }),
        },
        ['name', 'unit', 'description', 'gpus'],
      ),
    ),
  },
  ['data'],
);

const workerCount = (what: string) => s.integer({ minimum: 1, maximum: MAX_WORKERS, description: `${what} threads` });

export const Workers = s.object({ streamers: workerCount('Streamer'), collectors: workerCount('Collector') }, ['streamers', 'collectors']);

export const WorkersChange = s.object({ streamers: workerCount('Streamer'), collectors: workerCount('Collector') }, [], {
  minProperties: 1,
  description: 'One or both counts; the other stays as it is.',
});

export const Health = s.object({ status: s.enum(['ok'] as const) }, ['status']);

export const Readiness = s.object(
  {
    status: s.enum(['ready', 'not_ready'] as const),
    reason: s.string({ description: 'Why not ready: no samples stored yet, or draining for shutdown' }),
  },
  ['status'],
);

export type GpuBody = TypeOf<typeof Gpu>;
export type TelemetryEntryBody = TypeOf<typeof TelemetryEntry>;
export type WorkersBody = TypeOf<typeof Workers>;
export type WorkersChangeBody = TypeOf<typeof WorkersChange>;

/** `components.schemas` of the OpenAPI document. */
export const COMPONENTS = {
  Error: ErrorBody,
  Gpu,
  GpuList,
  TelemetryEntry,
  TelemetryPage,
  LatestValues,
  MetricCatalogue,
  Workers,
  WorkersChange,
  Health,
  Readiness,
} as const;
