/**
 * The OpenAPI 3.1 document, generated from the routes: their parameters,
 * bodies and responses are the same schema objects the server validates
 * requests with (see schema.ts), so the document cannot drift from the
 * code. `npm run openapi` writes it to src/api/openapi.json, and a test
 * fails when that file differs from what this module generates.
 */
import { COMPONENTS } from './components.js';
import { MAX_URL_BYTES } from './limits.js';
import type { Param, Schema } from './schema.js';
import type { AnyRoute, ResponseSpec } from './routes/route.js';
import { ROUTES } from './routes/index.js';

/** The version of this document's API (paths under /api/v1). */
export const API_VERSION = '1.0.0';

const TAGS = [
  { name: 'telemetry', description: 'GPUs, their samples and the metric catalogue' },
  { name: 'admin', description: 'Worker threads at runtime (ADMIN_TOKEN, or loopback only)' },
  { name: 'operations', description: 'Liveness, readiness and Prometheus metrics' },
  { name: 'docs', description: 'This document and its interactive viewer' },
];

const DESCRIPTION = [
  'GPU telemetry streamed from DCGM exporter CSV into a per-GPU time-series store, and the pipeline operated over HTTP.',
  '',
  'Every error has the body `{"error":{"code":"…","message":"…"}}`; the message names the offending parameter and value.',
  'Besides the statuses each operation lists: 404 `route_not_found` for an unknown path, 405 `method_not_allowed` (with `Allow`) for a known path with another method,',
  `and 413 \`request_too_large\` for a URL over ${MAX_URL_BYTES} bytes. Unknown query parameters are a 400, so a misspelt one is never ignored.`,
  '',
  'Times are RFC 3339 in UTC with milliseconds (`2025-07-18T13:42:33.125Z`); a sample stamped between two milliseconds shows six fractional digits.',
].join('\n');

const errorRef = { $ref: '#/components/schemas/Error' };

function parameter(p: Param): object {
  return {
    name: p.name,
    in: p.in,
    description: p.description,
    required: p.required,
    ...(p.schema.type === 'array' && { style: 'form', explode: true }),
    schema: p.schema,
  };
}

function response(status: number, spec: ResponseSpec): object {
  const schema = spec.schema ?? (status >= 400 ? errorRef : undefined);
  return {
    description: spec.description,
    ...(spec.headers !== undefined && { headers: spec.headers }),
    ...(schema !== undefined && { content: { [spec.contentType ?? 'application/json']: { schema } } }),
  };
}

function operation(route: AnyRoute): object {
  const responses: Record<string, ResponseSpec> = {};
  for (const [status, spec] of Object.entries(route.responses)) responses[status] = spec;
  if (responses[401] !== undefined) {
    responses[401] = { ...responses[401], headers: { 'WWW-Authenticate': { description: 'Bearer realm="gpu-telemetry admin"', schema: { type: 'string' } as Schema } } };
  }
  responses[413] ??= { description: `The URL is over ${MAX_URL_BYTES} bytes` };
  responses[500] = { description: 'An unexpected failure; logged, and reported without internals' };
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: route.description,
    tags: [route.tag],
    ...(route.admin === true && { security: [{ adminToken: [] }, {}] }),
    parameters: [...(route.pathParams ?? []), ...(route.query ?? [])].map(parameter),
    ...(route.body !== undefined && {
      requestBody: { description: route.body.description, required: true, content: { 'application/json': { schema: route.body.schema } } },
    }),
    responses: Object.fromEntries(Object.entries(responses).map(([status, spec]) => [status, response(Number(status), spec)])),
  };
}

/** The document as a plain object. */
export function buildOpenApi(routes: readonly AnyRoute[] = ROUTES): Record<string, unknown> {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'gpu-telemetry API',
      version: API_VERSION,
      summary: 'GPU telemetry: query the store, operate the pipeline',
      description: DESCRIPTION,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'The server this document came from' }],
    tags: TAGS,
    security: [],
    paths,
    components: {
      schemas: COMPONENTS,
      securitySchemes: {
        adminToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'ADMIN_TOKEN. Without it set on the server, admin routes take no token but answer loopback callers only.',
        },
      },
    },
  };
}

/** The document as written to src/api/openapi.json and served at /openapi.json. */
export function renderOpenApi(routes: readonly AnyRoute[] = ROUTES): string {
  return `${JSON.stringify(buildOpenApi(routes), null, 2)}\n`;
}
