/**
 * The API's own documentation: the OpenAPI document, and Swagger UI served
 * from swagger-ui-dist's files on disk (no CDN: clusters are often offline).
 * API thread; an asset is read from disk once, on first request, then
 * served from memory.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ApiError, ErrorCode } from '../errors.js';
import { param, s } from '../schema.js';
import { defineRoute } from './route.js';

const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The files of swagger-ui-dist the page loads, by name, with their types. */
const ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'index.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

/** Replaces the package's initializer, which points at the Petstore. */
const INITIALIZER = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: 'StandaloneLayout',
  });
};
`;

const PAGE = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>gpu-telemetry API</title>
    <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
    <link rel="stylesheet" type="text/css" href="/docs/index.css">
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
`;

/** The assets change only with the package: browsers may keep them an hour. */
const CACHE = { 'Cache-Control': 'public, max-age=3600' };
const cache = new Map<string, Promise<Buffer>>();

function asset(name: string): Promise<Buffer> {
  let body = cache.get(name);
  if (body === undefined) {
    body = readFile(join(swaggerDir, name));
    body.catch(() => cache.delete(name)); // a failed read is retried next time
    cache.set(name, body);
  }
  return body;
}

export const openapiRoute = defineRoute({
  method: 'GET',
  path: '/openapi.json',
  operationId: 'getOpenApi',
  summary: 'This document',
  description: 'The OpenAPI 3.1 document of this API, generated from the schemas that validate its requests.',
  tag: 'docs',
  query: [],
  responses: { 200: { description: 'OpenAPI 3.1', schema: s.object({}, [], { additionalProperties: true }) }, 400: { description: 'The route takes no query parameters' } },
  handle(ex, _call, ctx) {
    ex.json(200, ctx.openapiJson);
  },
});

export const docsRoute = defineRoute({
  method: 'GET',
  path: '/docs',
  operationId: 'getDocs',
  summary: 'Interactive documentation (Swagger UI)',
  description: 'Swagger UI on /openapi.json, from local files.',
  tag: 'docs',
  query: [],
  responses: { 200: { description: 'The page', contentType: 'text/html', schema: s.string() }, 400: { description: 'The route takes no query parameters' } },
  handle(ex) {
    ex.send(200, 'text/html; charset=utf-8', PAGE);
  },
});

export const docsAssetRoute = defineRoute({
  method: 'GET',
  path: '/docs/{asset}',
  operationId: 'getDocsAsset',
  summary: 'A file of the documentation page',
  description: `Swagger UI's files: ${[...Object.keys(ASSETS), 'swagger-initializer.js'].join(', ')}; an empty name (\`/docs/\`) is the page.`,
  tag: 'docs',
  pathParams: [param.path('asset', s.string({ examples: ['swagger-ui.css'] }), 'The file name')],
  query: [],
  responses: {
    200: {
      description: 'The file (CSS, JavaScript or PNG)',
      contentType: '*/*',
      schema: s.string(),
    },
    400: { description: 'The route takes no query parameters' },
    404: { description: 'No such file' },
  },
  async handle(ex, { params }) {
    const name = params.asset!;
    if (name === '') {
      ex.send(200, 'text/html; charset=utf-8', PAGE); // `/docs/`
      return;
    }
    if (name === 'swagger-initializer.js') {
      ex.send(200, 'text/javascript; charset=utf-8', INITIALIZER, CACHE);
      return;
    }
    const type = ASSETS[name];
    if (type === undefined) throw new ApiError(404, ErrorCode.RouteNotFound, `no documentation file ${JSON.stringify(name)}`);
    const body = await asset(name);
    if (ex.aborted) return;
    ex.send(200, type, body, CACHE);
  },
});
