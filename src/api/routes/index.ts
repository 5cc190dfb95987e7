/** Every route of the API, in the order the OpenAPI document lists them. */
import { getWorkersRoute, putWorkersRoute } from './admin.js';
import { docsAssetRoute, docsRoute, openapiRoute } from './docs.js';
import { latestRoute, listGpusRoute, metricCatalogueRoute, telemetryRoute } from './gpus.js';
import { gpuMetricsRoute, healthRoute, metricsRoute, readyRoute } from './ops.js';
import type { AnyRoute } from './route.js';

export const ROUTES: readonly AnyRoute[] = [
  listGpusRoute,
  telemetryRoute,
  latestRoute,
  metricCatalogueRoute,
  getWorkersRoute,
  putWorkersRoute,
  healthRoute,
  readyRoute,
  metricsRoute,
  gpuMetricsRoute,
  openapiRoute,
  docsRoute,
  docsAssetRoute,
] as AnyRoute[];
