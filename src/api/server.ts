/**
 * The HTTP API: one native uWebSockets.js server in the engine's process.
 *
 * Main (API) thread only. Every request goes through `dispatch`: size check,
 * route, method, admin check, query (and body) validated against the route's
 * schemas, then the handler. Whatever a handler throws, synchronously or
 * not, becomes a JSON error; an unexpected one is logged with its stack and
 * answered as a 500 without it. Each request is counted once in the
 * pipeline metrics, by route template, method and status (499 when the
 * client left first).
 */
import { ApiError, ErrorCode } from './errors.js';
import { Exchange, type Finish } from './exchange.js';
import { MAX_URL_BYTES } from './limits.js';
import { renderOpenApi } from './openapi.js';
import { Router } from './router.js';
import { MAX_ADMIN_BODY_BYTES, authorize, isLoopback } from './routes/admin.js';
import { ROUTES } from './routes/index.js';
import type { AnyRoute, ApiContext } from './routes/route.js';
import { ValidationError, validateBody, validateQuery } from './schema.js';
import { closeApp, listenExclusive, nativeUws, type HttpRequest, type HttpResponse, type TemplatedApp, type us_socket } from './uws.js';
import type { ApiDeps } from './deps.js';
import type { Registry } from '../storage/registry.js';

export type { ApiDeps, EngineLike } from './deps.js';

export interface ApiOptions {
  /** Interface to listen on: `0.0.0.0` (all IPv4), `127.0.0.1`, `::`. */
  host: string;
  /** 0 picks a free port; ApiServer.port says which. */
  port: number;
  /** Bearer token for admin routes; unset or empty: loopback callers only. */
  adminToken?: string;
  /**
   * Without a token, which callers admin routes answer, by address (4 or 16
   * bytes); default isLoopback. Tests pass a stricter one to see the 403
   * without calling from another address.
   */
  trustCaller?: (address: Uint8Array) => boolean;
}

export interface ApiServer {
  /** The bound port. */
  readonly port: number;
  /** Stops listening and closes every connection; in-flight requests are dropped. */
  close(): Promise<void>;
  /** Readiness as the process sees it: false while draining for shutdown. */
  setReady(ready: boolean): void;
}

/** The port is taken or the host is not an address of this machine. */
export class ApiListenError extends Error {
  override readonly name = 'ApiListenError';
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);

/**
 * Starts the API. @throws UwsFallbackError on uWS's JavaScript fallback;
 * ApiListenError when it cannot listen.
 */
export async function startApi(deps: ApiDeps, options: ApiOptions): Promise<ApiServer> {
  const uws = nativeUws();
  const router = new Router(ROUTES);
  let seenSamples = false;
  const ctx: ApiContext = {
    deps,
    adminToken: options.adminToken === undefined || options.adminToken === '' ? undefined : options.adminToken,
    trustCaller: options.trustCaller ?? isLoopback,
    openapiJson: renderOpenApi(),
    accepting: true,
    hasSamples: () => (seenSamples ||= storeHasSamples(deps.engine.registry)),
    adminQueue: Promise.resolve(),
  };
  const finish: Finish = (ex, status) => {
    try {
      deps.metrics.observeRequest(ex.route, METHODS.has(ex.method) ? ex.method : 'OTHER', status, (performance.now() - ex.startedMs) / 1000);
    } catch (err) {
      deps.log.error({ err: errorText(err) }, 'cannot count a request');
    }
  };
  const app: TemplatedApp = uws.App();
  app.any('/*', (res: HttpResponse, req: HttpRequest) => {
    let ex: Exchange | undefined;
    try {
      ex = new Exchange(res, req, finish);
      dispatch(ex, router, ctx);
    } catch (err) {
      if (ex !== undefined) fail(ex, err, ctx);
      else {
        deps.log.error({ err: errorText(err) }, 'cannot read a request');
        res.cork(() => res.writeStatus('500 Internal Server Error').end('', true));
      }
    }
  });
  const listenSocket = await listenExclusive(uws, app, options.host, options.port);
  if (listenSocket === false) {
    closeApp(app);
    throw new ApiListenError(`API cannot listen on ${options.host}:${options.port} (port in use, or not an address of this machine)`);
  }
  const port = uws.us_socket_local_port(listenSocket as unknown as us_socket);
  let closed = false;
  return {
    port,
    setReady(ready: boolean): void {
      ctx.accepting = ready;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      ctx.accepting = false;
      uws.us_listen_socket_close(listenSocket);
      closeApp(app);
    },
  };
}

function dispatch(ex: Exchange, router: Router, ctx: ApiContext): void {
  if (ex.path.length + ex.query.length + 1 > MAX_URL_BYTES) {
    throw new ApiError(413, ErrorCode.TooLarge, `the URL is ${ex.path.length + ex.query.length + 1} bytes, over the ${MAX_URL_BYTES}-byte limit`);
  }
  const match = router.match(ex.path);
  if (match === undefined) {
    throw new ApiError(404, ErrorCode.RouteNotFound, `no route ${ex.method} ${clip(ex.path)} (see /openapi.json or /docs)`);
  }
  ex.route = match.pattern;
  const route = match.byMethod.get(ex.method);
  if (route === undefined) {
    const allow = [...match.byMethod.keys()].join(', ');
    throw new ApiError(405, ErrorCode.MethodNotAllowed, `${match.pattern} takes ${allow}, not ${clip(ex.method)}`, { Allow: allow });
  }
  if (route.admin === true) authorize(ex, ctx.adminToken, ctx.trustCaller);
  const params: Record<string, string> = {};
  match.names.forEach((name, i) => (params[name] = decodeSegment(name, match.values[i]!)));
  const query = validateQuery(route.query ?? [], new URLSearchParams(ex.query));
  if (route.body !== undefined) {
    const schema = route.body.schema;
    ex.readBody(MAX_ADMIN_BODY_BYTES)
      .then((bytes) => {
        if (ex.aborted) return undefined;
        const body = bodyOf(schema, bytes);
        return route.handle(ex, { params, query, body }, ctx);
      })
      .catch((err: unknown) => fail(ex, err, ctx));
    return;
  }
  const pending = route.handle(ex, { params, query, body: undefined }, ctx);
  if (pending instanceof Promise) pending.catch((err: unknown) => fail(ex, err, ctx));
}

function bodyOf(schema: NonNullable<AnyRoute['body']>['schema'], bytes: Buffer): unknown {
  try {
    return validateBody(schema, bytes.toString('utf8'));
  } catch (err) {
    if (err instanceof ValidationError) throw new ApiError(400, ErrorCode.BadBody, err.message, {}, { cause: err });
    throw err;
  }
}

function decodeSegment(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch (err) {
    throw new ApiError(400, ErrorCode.BadParameter, `${name} "${clip(raw)}" is not valid percent-encoding`, {}, { cause: err });
  }
}

/** Answers a failed request: its ApiError, a 400 for a ValidationError, else a logged 500. */
function fail(ex: Exchange, err: unknown, ctx: ApiContext): void {
  let apiError: ApiError;
  if (err instanceof ApiError) apiError = err;
  else if (err instanceof ValidationError) apiError = new ApiError(400, ErrorCode.BadParameter, err.message, {}, { cause: err });
  else {
    ctx.deps.log.error({ err: errorText(err), method: ex.method, path: clip(ex.path), route: ex.route }, 'request failed');
    apiError = new ApiError(500, ErrorCode.Internal, `internal error answering ${ex.method} ${ex.route}; the server log has the details`);
  }
  // A body left unread (an oversized one, or a request refused before
  // reading it) would be taken for the next request: close after answering.
  ex.error(apiError, ex.contentLength > 0);
}

function storeHasSamples(registry: Registry): boolean {
  for (const gpu of registry.gpus.values()) {
    for (const views of gpu.series.values()) for (const view of views) if (view.count > 0) return true;
  }
  return false;
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
