/**
 * A small JSON Schema (draft 2020-12) builder, and the validator that reads
 * the same objects. Routes declare their parameters, bodies and responses
 * with it; `validateQuery` and `validateBody` check requests against those
 * declarations, and openapi.ts writes them into the OpenAPI document as
 * they are, so the docs and the checks cannot disagree.
 *
 * The validator covers the subset the builder makes: type, enum, format
 * (`date-time`), pattern, minimum/maximum, minLength/maxLength, items,
 * properties, required, additionalProperties: false, minProperties.
 * Pure functions, any thread.
 */
import { parseTimeMs } from './time.js';

export type JsonType = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'null';

export interface Schema {
  type?: JsonType | JsonType[];
  $ref?: string;
  description?: string;
  enum?: readonly (string | number)[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: readonly string[];
  additionalProperties?: boolean | Schema;
  minProperties?: number;
  default?: unknown;
  examples?: readonly unknown[];
}

/** A schema that also carries, for TypeScript only, the type of a value it accepts. */
export type Typed<T> = Schema & { readonly __type?: T };
export type TypeOf<S> = S extends Typed<infer T> ? T : never;

const REF_TARGET = 'target';

type Extra = Omit<Schema, 'type' | 'items' | 'properties' | 'required' | 'enum' | '$ref'>;

const clean = <S extends Schema>(s: S): S => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as S;

export const s = {
  string: (extra: Extra = {}): Typed<string> => clean({ type: 'string', ...extra }),
  integer: (extra: Extra = {}): Typed<number> => clean({ type: 'integer', ...extra }),
  number: (extra: Extra = {}): Typed<number> => clean({ type: 'number', ...extra }),
  boolean: (extra: Extra = {}): Typed<boolean> => clean({ type: 'boolean', ...extra }),
  enum: <const V extends readonly string[]>(values: V, extra: Extra = {}): Typed<V[number]> => clean({ type: 'string', enum: values, ...extra }),
  array: <T>(items: Typed<T>, extra: Extra = {}): Typed<T[]> => clean({ type: 'array', items, ...extra }),
  /** Every property listed in `required`; no others allowed. */
  object: <P extends Record<string, Schema>, R extends keyof P & string = never>(
    properties: P,
    required: readonly R[] = [],
    extra: Extra = {},
  ): Typed<{ [K in R]: TypeOf<P[K]> } & { [K in Exclude<keyof P, R>]?: TypeOf<P[K]> }> =>
    clean({ type: 'object', properties, required: required.length > 0 ? required : undefined, additionalProperties: false, ...extra }),
  /** `type: [T, 'null']`. */
  nullable: <T>(schema: Typed<T>): Typed<T | null> => ({ ...schema, type: [schema.type as JsonType, 'null'] }),
  /**
   * A component of the OpenAPI document, by name. The validator follows it
   * to `target`, which JSON (the document) does not see.
   */
  ref: <T>(name: string, target: Typed<T>): Typed<T> =>
    Object.defineProperty({ $ref: `#/components/schemas/${name}` }, REF_TARGET, { value: target, enumerable: false }),
};

/**
 * One query or path parameter, in OpenAPI's terms. `N` and `D` are for
 * TypeScript: the parameter's name, and whether it has a default (then its
 * value is never undefined).
 */
export interface Param<T = unknown, N extends string = string, D extends boolean = boolean> {
  name: N;
  in: 'query' | 'path';
  description: string;
  required: boolean;
  schema: Typed<T>;
  readonly __default?: D;
}

export const param = {
  query: <T, const N extends string>(name: N, schema: Typed<T>, description: string): Param<T, N, false> => ({
    name,
    in: 'query',
    description,
    required: false,
    schema,
  }),
  /** A query parameter that takes `fallback` when absent (written into the schema as `default`). */
  queryWithDefault: <T, const N extends string>(name: N, schema: Typed<T>, fallback: T, description: string): Param<T, N, true> => ({
    name,
    in: 'query',
    description,
    required: false,
    schema: { ...schema, default: fallback },
  }),
  path: <T, const N extends string>(name: N, schema: Typed<T>, description: string): Param<T, N, true> => ({
    name,
    in: 'path',
    description,
    required: true,
    schema,
  }),
};

/** The values of a route's query parameters, as validateQuery returns them. */
export type QueryValues<P extends readonly Param[]> = {
  [K in P[number] as K['name']]: K extends Param<infer T, string, infer D> ? (D extends true ? T : T | undefined) : never;
};

/** A request that does not match its schema; `param` names the offending parameter or body field. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

const quote = (v: unknown): string => JSON.stringify(typeof v === 'string' && v.length > 200 ? `${v.slice(0, 200)}…` : v);

/** Checks a decoded JSON value; throws ValidationError naming `at` (`streamers`, `body`). */
export function validateValue(schema: Schema, value: unknown, at: string): void {
  if (schema.$ref !== undefined) {
    const target = (schema as Record<string, unknown>)[REF_TARGET] as Schema | undefined;
    if (target === undefined) throw new Error(`BUG: schema reference ${schema.$ref} has no target`);
    schema = target;
  }
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length > 0 && !types.some((t) => isType(t, value))) {
    throw new ValidationError(at, `${at} must be ${types.map(article).join(' or ')}, got ${quote(value)}`);
  }
  if (value === null) return;
  if (schema.enum !== undefined && !schema.enum.includes(value as string)) {
    throw new ValidationError(at, `${at} must be one of ${schema.enum.join(', ')}, got ${quote(value)}`);
  }
  if (typeof value === 'number') {
    if ((schema.minimum !== undefined && value < schema.minimum) || (schema.maximum !== undefined && value > schema.maximum)) {
      throw new ValidationError(at, `${at} must be ${range(schema)}, got ${quote(value)}`);
    }
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      throw new ValidationError(at, `${at} must be at least ${schema.minLength} characters, got ${quote(value)}`);
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      throw new ValidationError(at, `${at} must be at most ${schema.maxLength} characters, got ${quote(value)}`);
    }
    if (schema.pattern !== undefined && !patternOf(schema.pattern).test(value)) {
      throw new ValidationError(at, `${at} must ${schema.description ? `be ${schema.description}` : `match ${schema.pattern}`}, got ${quote(value)}`);
    }
    if (schema.format === 'date-time' && Number.isNaN(parseTimeMs(value, 'floor'))) {
      throw new ValidationError(at, `${at} must be an RFC 3339 date-time such as 2025-07-18T13:42:33.125Z, got ${quote(value)}`);
    }
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, i) => validateValue(schema.items!, item, `${at}[${i}]`));
  }
  if (typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (schema.minProperties !== undefined && keys.length < schema.minProperties) {
      throw new ValidationError(at, `${at} must have at least ${schema.minProperties} of ${Object.keys(schema.properties ?? {}).join(', ')}, got ${quote(value)}`);
    }
    for (const name of schema.required ?? []) {
      if (!(name in obj)) throw new ValidationError(name, `${at}.${name} is required`);
    }
    for (const key of keys) {
      const prop = schema.properties?.[key];
      if (prop === undefined) {
        if (schema.additionalProperties === false) throw new ValidationError(key, `${at} has an unknown field ${quote(key)}`);
        continue;
      }
      validateValue(prop, obj[key], key);
    }
  }
}

/** Patterns compiled once: a schema's few patterns are checked on every request. */
const patterns = new Map<string, RegExp>();
function patternOf(source: string): RegExp {
  let re = patterns.get(source);
  if (re === undefined) patterns.set(source, (re = new RegExp(source, 'u')));
  return re;
}

function isType(type: JsonType, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    case 'array':
      return Array.isArray(v);
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

function article(type: JsonType): string {
  return type === 'integer' || type === 'array' || type === 'object' ? `an ${type}` : type === 'null' ? 'null' : `a ${type}`;
}

function range(schema: Schema): string {
  if (schema.minimum !== undefined && schema.maximum !== undefined) return `from ${schema.minimum} to ${schema.maximum}`;
  return schema.minimum !== undefined ? `at least ${schema.minimum}` : `at most ${schema.maximum}`;
}

const INTEGER_TEXT = /^-?\d{1,16}$/;
const NUMBER_TEXT = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * A query parameter's text → the value its schema describes. An array
 * parameter takes every occurrence, each split at commas
 * (`metric=A&metric=B,C` → [A, B, C]); any other takes exactly one.
 */
function coerce(p: Param, texts: string[]): unknown {
  const schema = p.schema;
  if (schema.type === 'array') {
    return texts
      .flatMap((t) => t.split(','))
      .filter((t) => t.length > 0)
      .map((t) => coerceOne(p.name, schema.items ?? {}, t));
  }
  if (texts.length > 1) throw new ValidationError(p.name, `${p.name} must be given once, got ${texts.length} values`);
  return coerceOne(p.name, schema, texts[0]!);
}

function coerceOne(name: string, schema: Schema, text: string): unknown {
  if (schema.type === 'integer') {
    if (!INTEGER_TEXT.test(text)) throw new ValidationError(name, `${name} must be an integer${schema.minimum !== undefined || schema.maximum !== undefined ? ` ${range(schema)}` : ''}, got ${quote(text)}`);
    return Number(text);
  }
  if (schema.type === 'number') {
    if (!NUMBER_TEXT.test(text)) throw new ValidationError(name, `${name} must be a number, got ${quote(text)}`);
    return Number(text);
  }
  if (schema.type === 'boolean') {
    if (text !== 'true' && text !== 'false') throw new ValidationError(name, `${name} must be true or false, got ${quote(text)}`);
    return text === 'true';
  }
  return text;
}

/**
 * Validates a query string against a route's query parameters and returns
 * their values (defaults filled in). Unknown parameters are an error, so a
 * typo (`limt=5`) is not silently ignored. Throws ValidationError.
 */
export function validateQuery<P extends readonly Param[]>(params: P, search: URLSearchParams): QueryValues<P> {
  const out: Record<string, unknown> = {};
  const known = new Set<string>();
  for (const p of params) {
    if (p.in !== 'query') continue;
    known.add(p.name);
    const texts = search.getAll(p.name);
    const value = texts.length === 0 ? undefined : coerce(p, texts);
    if (value === undefined || (Array.isArray(value) && value.length === 0)) {
      if (p.schema.default !== undefined) out[p.name] = p.schema.default;
      else if (p.required) throw new ValidationError(p.name, `${p.name} is required`);
      continue;
    }
    validateValue(p.schema, value, p.name);
    out[p.name] = value;
  }
  for (const key of search.keys()) {
    if (!known.has(key)) {
      const allowed = [...known];
      throw new ValidationError(key, `unknown query parameter ${quote(key)}${allowed.length > 0 ? ` (this route takes ${allowed.join(', ')})` : ' (this route takes none)'}`);
    }
  }
  return out as QueryValues<P>;
}

/** Parses and validates a JSON request body. Throws ValidationError (param `body`). */
export function validateBody<T>(schema: Typed<T>, text: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ValidationError('body', `body must be JSON: ${(err as Error).message}`);
  }
  validateValue(schema, value, 'body');
  return value as T;
}
