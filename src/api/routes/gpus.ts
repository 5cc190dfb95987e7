/**
 * The telemetry routes: the GPU list, one GPU's telemetry (raw, or
 * downsampled through the QueryPool), its latest values, and the catalogue
 * of metric names. API thread; raw reads run inline
 * (a page costs O(limit) per series), downsampling may run on a worker.
 */
import { GpuList, LatestValues, MetricCatalogue, TelemetryPage } from '../components.js';
import { ApiError, ErrorCode } from '../errors.js';
import type { Exchange } from '../exchange.js';
import { param, s } from '../schema.js';
import { formatTimeMs, parseStepMs, parseTimeMs } from '../time.js';
import { CursorError, decodeCursor, listGpus, readSamples } from '../../query/range-read.js';
import { AGGS } from '../../query/downsample.js';
import { metricCatalogue } from '../../query/catalogue.js';
import { latest } from '../../query/latest.js';
import { defineRoute, type ResponseSpec } from './route.js';

/** Samples per page when `limit` is not given. */
export const DEFAULT_LIMIT = 1000;
/** The largest page: 10,000 samples render to about 0.8 MB of JSON in a few ms. */
export const MAX_LIMIT = 10_000;

const json = (description: string, schema: ResponseSpec['schema']): ResponseSpec => ({ description, schema });
const badRequest: ResponseSpec = { description: 'A parameter is malformed or out of range; the message names it and its value' };
const gpuNotFound: ResponseSpec = { description: 'No GPU with this id has telemetry' };

const idParam = param.path('id', s.string({ examples: ['GPU-e8b5b644-a7b3-b263-dbe7-3065492f32f0'] }), 'The GPU: its uuid (the `id` of `GET /api/v1/gpus`)');

function throwGpuNotFound(uuid: string): never {
  throw new ApiError(404, ErrorCode.GpuNotFound, `no GPU with id ${JSON.stringify(uuid)} has telemetry (see GET /api/v1/gpus)`);
}

export const listGpusRoute = defineRoute({
  method: 'GET',
  path: '/api/v1/gpus',
  operationId: 'listGpus',
  summary: 'Every GPU with telemetry',
  description: 'Each GPU held in the store, with its identity, the metric names it has, its sample count and the time of its oldest and newest sample. Ordered by hostname, then gpu_id (numerically), then uuid.',
  tag: 'telemetry',
  query: [
    param.query('hostname', s.string(), 'Only GPUs of this host (exact match)'),
    param.query('model', s.string({ examples: ['NVIDIA H100 80GB HBM3'] }), 'Only GPUs of this model name (exact match)'),
  ],
  responses: { 200: json('The GPUs', s.ref('GpuList', GpuList)), 400: badRequest },
  handle(ex, { query }, ctx) {
    const gpus = listGpus(ctx.deps.engine.registry, { hostname: query.hostname, model: query.model });
    const data = gpus.map((g) => ({
      id: g.uuid,
      uuid: g.uuid,
      gpu_id: g.gpuId,
      device: g.device,
      model_name: g.modelName,
      hostname: g.hostname,
      ...(g.container !== '' && { container: g.container }),
      ...(g.pod !== '' && { pod: g.pod }),
      ...(g.namespace !== '' && { namespace: g.namespace }),
      metrics: g.metrics,
      samples: g.samples,
      first_sample_time: formatTimeMs(g.firstMs),
      last_sample_time: formatTimeMs(g.lastMs),
    }));
    ex.json(200, JSON.stringify({ data }));
  },
});

const timeParam = (name: string, bound: string) =>
  param.query(name, s.string({ format: 'date-time', examples: ['2025-07-18T13:42:33.125Z'] }), `${bound} of the window, inclusive, RFC 3339; digits past the microsecond round inwards. Default: unbounded.`);

export const telemetryRoute = defineRoute({
  method: 'GET',
  path: '/api/v1/gpus/{id}/telemetry',
  operationId: 'getGpuTelemetry',
  summary: "One GPU's samples, a page at a time",
  description:
    'The samples of one GPU in the window [start_time, end_time], ordered by time (then metric name), newest first by default. ' +
    `A page holds at most \`limit\` entries (default ${DEFAULT_LIMIT}, at most ${MAX_LIMIT}); \`next\` fetches the following one. ` +
    'With `step` the window is downsampled: each entry aggregates one metric over a bucket of `step`, aligned to multiples of it since the epoch, with `agg` (default avg). ' +
    'Timestamps have milliseconds; one between two milliseconds (the store keeps microseconds) has six fractional digits, and passing it back as start_time or end_time selects exactly that sample.',
  tag: 'telemetry',
  pathParams: [idParam],
  query: [
    timeParam('start_time', 'Start'),
    timeParam('end_time', 'End'),
    param.query('metric', s.array(s.string({ examples: ['DCGM_FI_DEV_GPU_UTIL'] })), 'Only these metrics: repeat the parameter or separate names with commas. Default: all.'),
    param.queryWithDefault('order', s.enum(['desc', 'asc'] as const), 'desc', 'desc: newest first; asc: oldest first'),
    param.queryWithDefault('limit', s.integer({ minimum: 1, maximum: MAX_LIMIT }), DEFAULT_LIMIT, `Entries per page, 1 to ${MAX_LIMIT}`),
    param.query('cursor', s.string({ maxLength: 1024 }), 'The `next` of the previous page; keep the other parameters as they were'),
    param.query(
      'step',
      s.string({ pattern: '^[1-9][0-9]{0,11}(ms|s|m|h|d)?$', description: 'a positive duration: 500ms, 30s, 1m, 2h, 1d, or a number of milliseconds', examples: ['30s', '1m', '60000'] }),
      'Downsample to buckets of this length: a positive integer with ms, s, m, h or d, or bare milliseconds',
    ),
    param.query('agg', s.enum(AGGS), 'How a bucket aggregates its samples (needs `step`; default avg)'),
  ],
  responses: {
    200: json('A page of samples (or buckets, with `step`)', s.ref('TelemetryPage', TelemetryPage)),
    400: badRequest,
    404: gpuNotFound,
  },
  async handle(ex, { params, query: q }, ctx) {
    const uuid = params.id!;
    const registry = ctx.deps.engine.registry;
    const startMs = q.start_time === undefined ? undefined : parseTimeMs(q.start_time, 'ceil');
    const endMs = q.end_time === undefined ? undefined : parseTimeMs(q.end_time, 'floor');
    if (startMs !== undefined && endMs !== undefined && startMs > endMs) {
      throw new ApiError(400, ErrorCode.BadTimeRange, `start_time "${q.start_time}" is after end_time "${q.end_time}"`);
    }
    if (q.step === undefined) {
      if (q.agg !== undefined) throw new ApiError(400, ErrorCode.BadParameter, `agg "${q.agg}" needs step (the bucket length), which is missing`);
      if (q.cursor !== undefined) checkCursor(q.cursor);
      const page = readSamples(registry, uuid, { startMs, endMs, metrics: q.metric, order: q.order, limit: q.limit, cursor: q.cursor });
      if (page === undefined) throwGpuNotFound(uuid);
      sendPage(ex, uuid, page.samples, page.next, false);
      return;
    }
    if (!registry.gpus.has(uuid)) throwGpuNotFound(uuid);
    const stepMs = parseStepMs(q.step);
    let result;
    try {
      result = await ctx.deps.queries.downsample(registry, uuid, {
        startMs,
        endMs,
        metrics: q.metric,
        stepMs,
        agg: q.agg ?? 'avg',
        order: q.order,
        limit: q.limit,
        cursor: q.cursor,
      });
    } catch (err) {
      if (q.cursor !== undefined && err instanceof CursorError) throw badCursor(q.cursor, err);
      throw err;
    }
    if (ex.aborted) return;
    if (result === undefined) throwGpuNotFound(uuid);
    sendPage(ex, uuid, result.samples, result.next, true);
  },
});

function checkCursor(cursor: string): void {
  try {
    decodeCursor(cursor);
  } catch (err) {
    throw badCursor(cursor, err);
  }
}

function badCursor(cursor: string, cause: unknown): ApiError {
  const shown = cursor.length > 100 ? `${cursor.slice(0, 100)}…` : cursor;
  return new ApiError(400, ErrorCode.BadCursor, `cursor "${shown}" is not a cursor this API returned (pass the \`next\` of the previous page)`, {}, { cause });
}

interface Entry {
  tsMs: number;
  metric: string;
  value: number;
  samples?: number;
}

/** Renders a page by hand: a 10,000-sample page is the largest response, and the shape is fixed. */
function sendPage(ex: Exchange, uuid: string, entries: readonly Entry[], next: string | null, buckets: boolean): void {
  const parts: string[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const tail = buckets ? `,"samples":${e.samples}}` : '}';
    parts[i] = `{"timestamp":"${formatTimeMs(e.tsMs)}","metric_name":${JSON.stringify(e.metric)},"value":${jsonNumber(e.value)}${tail}`;
  }
  ex.json(200, `{"id":${JSON.stringify(uuid)},"data":[${parts.join(',')}],"next":${next === null ? 'null' : JSON.stringify(next)}}`);
}

function jsonNumber(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null';
}

export const latestRoute = defineRoute({
  method: 'GET',
  path: '/api/v1/gpus/{id}/latest',
  operationId: 'getGpuLatest',
  summary: 'The newest value of every metric of one GPU',
  description: 'For each metric the GPU has, its newest sample. Sorted by metric name.',
  tag: 'telemetry',
  pathParams: [idParam],
  query: [],
  responses: { 200: json('The newest samples', s.ref('LatestValues', LatestValues)), 400: badRequest, 404: gpuNotFound },
  handle(ex, { params }, ctx) {
    const uuid = params.id!;
    const values = latest(ctx.deps.engine.registry, uuid);
    if (values === undefined) throwGpuNotFound(uuid);
    const data = values.map((v) => ({ metric_name: v.metric, timestamp: formatTimeMs(v.tsMs), value: v.value }));
    ex.json(200, JSON.stringify({ id: uuid, data }));
  },
});

export const metricCatalogueRoute = defineRoute({
  method: 'GET',
  path: '/api/v1/metrics',
  operationId: 'listMetrics',
  summary: 'The metric names seen, with unit and meaning',
  description: 'Every metric name held in the store, with its unit, a one-line meaning (for the DCGM fields) and how many GPUs have it. Sorted by name.',
  tag: 'telemetry',
  query: [],
  responses: { 200: json('The catalogue', s.ref('MetricCatalogue', MetricCatalogue)), 400: badRequest },
  handle(ex, _call, ctx) {
    const data = metricCatalogue(ctx.deps.engine.registry).map((m) => ({ name: m.name, unit: m.unit, description: m.description, gpus: m.gpus }));
    ex.json(200, JSON.stringify({ data }));
  },
});
