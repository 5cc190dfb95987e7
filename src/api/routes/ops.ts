/**
 * Operations: liveness, readiness and the two Prometheus endpoints. API
 * thread; `/metrics` renders asynchronously (prom-client), so it checks that
 * its client is still there before answering.
 */
import { Health, Readiness } from '../components.js';
import { s } from '../schema.js';
import { defineRoute, type ResponseSpec } from './route.js';

const PROMETHEUS_TYPE = 'text/plain';
const noQuery: ResponseSpec = { description: 'The route takes no query parameters; the message names the one given' };

export const healthRoute = defineRoute({
  method: 'GET',
  path: '/health',
  operationId: 'getHealth',
  summary: 'Liveness',
  description: 'Answers 200 while the server serves.',
  tag: 'operations',
  query: [],
  responses: { 200: { description: 'Serving', schema: s.ref('Health', Health) }, 400: noQuery },
  handle(ex) {
    ex.json(200, '{"status":"ok"}');
  },
});

export const readyRoute = defineRoute({
  method: 'GET',
  path: '/ready',
  operationId: 'getReady',
  summary: 'Readiness',
  description: 'Answers 200 once the store holds samples, and 503 before that and while the process drains for shutdown.',
  tag: 'operations',
  query: [],
  responses: {
    200: { description: 'Ready: samples are stored and the process is not shutting down', schema: s.ref('Readiness', Readiness) },
    400: noQuery,
    503: { description: 'Not ready; `reason` says why', schema: s.ref('Readiness', Readiness) },
  },
  handle(ex, _call, ctx) {
    if (!ctx.accepting) ex.json(503, '{"status":"not_ready","reason":"draining for shutdown"}');
    else if (!ctx.hasSamples()) ex.json(503, '{"status":"not_ready","reason":"no samples stored yet"}');
    else ex.json(200, '{"status":"ready"}');
  },
});

export const metricsRoute = defineRoute({
  method: 'GET',
  path: '/metrics',
  operationId: 'getMetrics',
  summary: "The pipeline's own metrics (Prometheus)",
  description:
    'Prometheus text format: process metrics, the pipeline counters read from shared memory at scrape time (rows read, rejected by reason, samples stored, duplicates), ring depth and capacity, ingest latency, store size, and HTTP requests by route and status.',
  tag: 'operations',
  query: [],
  responses: { 200: { description: 'Prometheus text exposition format 0.0.4', contentType: PROMETHEUS_TYPE, schema: s.string() }, 400: noQuery },
  async handle(ex, _call, ctx) {
    const metrics = ctx.deps.metrics;
    const text = await metrics.render();
    if (ex.aborted) return;
    ex.send(200, metrics.contentType, text);
  },
});

export const gpuMetricsRoute = defineRoute({
  method: 'GET',
  path: '/metrics/gpus',
  operationId: 'getGpuMetrics',
  summary: 'The latest GPU telemetry (Prometheus, DCGM exporter names)',
  description:
    "The newest value of every GPU series in Prometheus text format, under the DCGM exporter's own metric names and labels (`DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-…\",device=\"nvidia0\",modelName=\"…\",Hostname=\"…\"} 87`), so a Prometheus set up for dcgm-exporter can scrape it as it is.",
  tag: 'operations',
  query: [],
  responses: { 200: { description: 'Prometheus text exposition format 0.0.4', contentType: PROMETHEUS_TYPE, schema: s.string() }, 400: noQuery },
  handle(ex, _call, ctx) {
    const gpuMetrics = ctx.deps.gpuMetrics;
    ex.send(200, gpuMetrics.contentType, gpuMetrics.render());
  },
});
