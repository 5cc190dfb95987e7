/**
 * What a route is: its method and path template, its parameters, body and
 * responses as schemas (validated by the server, written into the OpenAPI
 * document by openapi.ts), and its handler. Routes are constants, free of
 * any running engine, so the document can be generated without one.
 */
import type { ApiDeps } from '../deps.js';
import type { Exchange } from '../exchange.js';
import type { Param, QueryValues, Schema, Typed } from '../schema.js';

export type Method = 'GET' | 'PUT';

export interface ResponseSpec {
  description: string;
  /** Default `application/json`. */
  contentType?: string;
  /** Default: the Error schema for 4xx/5xx, none otherwise. */
  schema?: Schema;
  headers?: Record<string, { description: string; schema: Schema }>;
}

/** What every handler may use: the pipeline, the settings and the server's own state. */
export interface ApiContext {
  readonly deps: ApiDeps;
  /** The admin token, or undefined: trusted (loopback) callers only. */
  readonly adminToken: string | undefined;
  /** Without a token, the callers admin routes answer (isLoopback). */
  readonly trustCaller: (address: Uint8Array) => boolean;
  /** The OpenAPI document, rendered once. */
  readonly openapiJson: string;
  /** True while the process has not withdrawn readiness (it does while draining). */
  accepting: boolean;
  /** The store has held samples (latched once seen). */
  hasSamples(): boolean;
  /** Admin changes run one at a time, in order. */
  adminQueue: Promise<unknown>;
}

export interface Call<Q, B> {
  /** Path parameters, percent-decoded, by name. */
  params: Readonly<Record<string, string>>;
  query: Q;
  body: B;
}

export interface Route<P extends readonly Param[] = readonly Param[], B = unknown> {
  method: Method;
  /** OpenAPI path template: `/api/v1/gpus/{id}/telemetry`. */
  path: string;
  operationId: string;
  summary: string;
  description: string;
  tag: string;
  pathParams?: readonly Param[];
  query?: P;
  body?: { schema: Typed<B>; description: string };
  /** Admin routes need the bearer token when ADMIN_TOKEN is set, else a loopback caller. */
  admin?: boolean;
  responses: Readonly<Record<number, ResponseSpec>>;
  handle(ex: Exchange, call: Call<QueryValues<P>, B>, ctx: ApiContext): void | Promise<void>;
}

/** Keeps a route's query and body types for its handler. */
export function defineRoute<const P extends readonly Param[] = readonly [], B = undefined>(route: Route<P, B>): Route<P, B> {
  return route;
}

/** A route of any parameters, as the server and the document generator see it. */
export type AnyRoute = Route<readonly Param[], any>;
