/**
 * Finds the route of a request path: exact paths by one Map lookup, path
 * templates (`/api/v1/gpus/{id}/telemetry`) segment by segment. A path that
 * matches with another method tells the caller which methods it has (405).
 * Built once; read-only afterwards.
 */
import type { AnyRoute } from './routes/route.js';

export interface Match {
  /** The template that matched: the `route` label of the request metrics. */
  pattern: string;
  /** The path's routes by method. */
  byMethod: ReadonlyMap<string, AnyRoute>;
  /** Template parameters, still percent-encoded, in template order. */
  values: string[];
  names: readonly string[];
}

interface Template {
  pattern: string;
  /** A literal segment, or null for a `{param}`. */
  segments: Array<string | null>;
  names: string[];
  byMethod: Map<string, AnyRoute>;
}

const NONE: readonly string[] = [];

export class Router {
  private readonly exact = new Map<string, Map<string, AnyRoute>>();
  private readonly templates: Template[] = [];

  constructor(routes: readonly AnyRoute[]) {
    for (const route of routes) {
      if (!route.path.includes('{')) {
        let byMethod = this.exact.get(route.path);
        if (byMethod === undefined) this.exact.set(route.path, (byMethod = new Map()));
        add(byMethod, route);
        continue;
      }
      let template = this.templates.find((t) => t.pattern === route.path);
      if (template === undefined) {
        const parts = route.path.split('/');
        template = {
          pattern: route.path,
          segments: parts.map((p) => (p.startsWith('{') && p.endsWith('}') ? null : p)),
          names: parts.filter((p) => p.startsWith('{')).map((p) => p.slice(1, -1)),
          byMethod: new Map(),
        };
        this.templates.push(template);
      }
      add(template.byMethod, route);
    }
  }

  match(path: string): Match | undefined {
    const byMethod = this.exact.get(path);
    if (byMethod !== undefined) return { pattern: path, byMethod, values: [], names: NONE };
    const parts = path.split('/');
    for (const t of this.templates) {
      if (t.segments.length !== parts.length) continue;
      const values: string[] = [];
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const literal = t.segments[i];
        if (literal === null) values.push(parts[i]!);
        else ok = literal === parts[i];
      }
      if (ok) return { pattern: t.pattern, byMethod: t.byMethod, values, names: t.names };
    }
    return undefined;
  }
}

function add(byMethod: Map<string, AnyRoute>, route: AnyRoute): void {
  if (byMethod.has(route.method)) throw new Error(`BUG: two routes for ${route.method} ${route.path}`);
  byMethod.set(route.method, route);
}
