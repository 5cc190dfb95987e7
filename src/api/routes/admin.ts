/**
 * Admin routes: read and change the number of streamer and collector
 * threads at runtime, and who may call them. With ADMIN_TOKEN set a caller
 * needs `Authorization: Bearer <token>` (compared in constant time); without
 * it, only loopback callers are served. API thread; changes run one at a
 * time, in the order they came.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { MAX_WORKERS, Workers, WorkersChange, type WorkersBody } from '../components.js';
import { ApiError, ErrorCode } from '../errors.js';
import type { Exchange } from '../exchange.js';
import { s } from '../schema.js';
import { defineRoute, type ApiContext, type ResponseSpec } from './route.js';

/** An admin body is `{"streamers":N,"collectors":M}`: 1 KiB is plenty. */
export const MAX_ADMIN_BODY_BYTES = 1024;

const auth: Readonly<Record<number, ResponseSpec>> = {
  401: { description: 'ADMIN_TOKEN is set and the request has no `Authorization: Bearer` header, or the wrong token' },
  403: { description: 'ADMIN_TOKEN is not set and the caller is not on a loopback address' },
};

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8, given as 4 or 16 address bytes. */
export function isLoopback(address: Uint8Array): boolean {
  if (address.length === 4) return address[0] === 127;
  if (address.length !== 16) return false;
  const zeros = (from: number, to: number): boolean => address.subarray(from, to).every((b) => b === 0);
  if (zeros(0, 15) && address[15] === 1) return true; // ::1
  return zeros(0, 10) && address[10] === 0xff && address[11] === 0xff && address[12] === 127; // ::ffff:127.x.y.z
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Throws 401/403 unless the caller may use admin routes. Digests of equal
 * length go to timingSafeEqual, so the time taken says nothing of the token.
 */
export function authorize(ex: Exchange, adminToken: string | undefined, trustCaller: (address: Uint8Array) => boolean = isLoopback): void {
  if (adminToken === undefined) {
    if (!trustCaller(ex.remoteAddress())) {
      throw new ApiError(403, ErrorCode.Forbidden, 'admin routes are open to loopback callers only while ADMIN_TOKEN is not set');
    }
    return;
  }
  const challenge = { 'WWW-Authenticate': 'Bearer realm="gpu-telemetry admin"' };
  const m = /^Bearer +(\S+) *$/i.exec(ex.authorization);
  if (m === null) {
    throw new ApiError(401, ErrorCode.Unauthorized, 'admin routes need an Authorization: Bearer <ADMIN_TOKEN> header', challenge);
  }
  if (!timingSafeEqual(digest(m[1]!), digest(adminToken))) {
    throw new ApiError(401, ErrorCode.Unauthorized, 'the bearer token is not the ADMIN_TOKEN', challenge);
  }
}

function counts(ctx: ApiContext): WorkersBody {
  const engine = ctx.deps.engine;
  return { streamers: engine.streamerCountNow, collectors: engine.collectorCount };
}

const description =
  `Streamers and collectors are worker threads, 1 to ${MAX_WORKERS} of each. ` +
  'With ADMIN_TOKEN set, admin routes need `Authorization: Bearer <token>`; without it they serve loopback callers only.';

export const getWorkersRoute = defineRoute({
  method: 'GET',
  path: '/api/v1/admin/workers',
  operationId: 'getWorkers',
  summary: 'The number of streamer and collector threads',
  description,
  tag: 'admin',
  admin: true,
  query: [],
  responses: { 200: { description: 'The counts now', schema: s.ref('Workers', Workers) }, 400: { description: 'The route takes no query parameters' }, ...auth },
  handle(ex, _call, ctx) {
    ex.json(200, JSON.stringify(counts(ctx)));
  },
});

export const putWorkersRoute = defineRoute({
  method: 'PUT',
  path: '/api/v1/admin/workers',
  operationId: 'setWorkers',
  summary: 'Change the number of streamer and collector threads',
  description:
    `${description} Scaling streamers hands every GPU over at a common cut in the file, so each row of each pass is streamed once; ` +
    'scaling collectors drains the leaving ones. The answer comes once the change is done. ' +
    `The body is JSON, at most ${MAX_ADMIN_BODY_BYTES} bytes.`,
  tag: 'admin',
  admin: true,
  query: [],
  body: { schema: s.ref('WorkersChange', WorkersChange), description: 'The new counts; give one or both' },
  responses: {
    200: { description: 'The counts after the change', schema: s.ref('Workers', Workers) },
    400: { description: 'The body is not JSON, or a count is not an integer from 1 to 10; the message names it' },
    ...auth,
    413: { description: `The body is over ${MAX_ADMIN_BODY_BYTES} bytes` },
    503: { description: 'The process is shutting down' },
  },
  async handle(ex, { body }, ctx) {
    if (!ctx.accepting) throw new ApiError(503, ErrorCode.Unavailable, 'the pipeline is shutting down; workers cannot change now');
    const engine = ctx.deps.engine;
    const change = async (): Promise<void> => {
      if (body.streamers !== undefined && body.streamers !== engine.streamerCountNow) await engine.scaleStreamers(body.streamers);
      if (body.collectors !== undefined && body.collectors !== engine.collectorCount) await engine.scaleCollectors(body.collectors);
    };
    const done = ctx.adminQueue.then(change);
    ctx.adminQueue = done.catch(() => undefined);
    await done;
    ctx.deps.log.info({ ...counts(ctx) }, 'workers changed through the API');
    ex.json(200, JSON.stringify(counts(ctx)));
  },
});
