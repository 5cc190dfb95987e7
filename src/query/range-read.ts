/**
 * The query layer the API calls: list GPUs, and read one GPU's samples in an
 * inclusive time window, by metric, in either order, a page at a time.
 * Main thread; reads chunks in place through the Registry.
 */
import type { Registry, SeriesView } from '../storage/registry.js';

export interface GpuSummary {
  uuid: string;
  gpuId: string;
  device: string;
  modelName: string;
  hostname: string;
  container: string;
  pod: string;
  namespace: string;
  metrics: string[];
  samples: number;
  firstMs: number;
  lastMs: number;
}

export interface GpuFilter {
  hostname?: string;
  model?: string;
}

export interface SampleQuery {
  /** Inclusive; default: no bound. */
  startMs?: number;
  /** Inclusive; default: no bound. */
  endMs?: number;
  /** Only these metric names; default all. */
  metrics?: readonly string[];
  order?: 'asc' | 'desc';
  limit: number;
  /** `next` of the previous page. */
  cursor?: string;
}

export interface Sample {
  tsMs: number;
  metric: string;
  value: number;
}

export interface SamplePage {
  samples: Sample[];
  /** Pass as `cursor` for the following page; null when this is the last. */
  next: string | null;
}

export class CursorError extends Error {
  override readonly name = 'CursorError';
}

/** Every GPU with telemetry, by hostname, then gpu_id (numerically), then uuid. */
export function listGpus(registry: Registry, filter: GpuFilter = {}): GpuSummary[] {
  const out: GpuSummary[] = [];
  for (const [uuid, gpu] of registry.gpus) {
    const id = gpu.identity;
    if (filter.hostname !== undefined && id.hostname !== filter.hostname) continue;
    if (filter.model !== undefined && id.modelName !== filter.model) continue;
    let samples = 0;
    let firstMs = Infinity;
    let lastMs = -Infinity;
    const metrics: string[] = [];
    for (const [metric, views] of gpu.series) {
      let held = 0;
      for (const v of views) {
        const n = v.count;
        if (n === 0) continue;
        held += n;
        firstMs = Math.min(firstMs, v.firstMs);
        lastMs = Math.max(lastMs, v.lastMs);
      }
      if (held > 0) metrics.push(metric);
      samples += held;
    }
    if (samples === 0) continue;
    metrics.sort();
    out.push({ ...id, uuid, metrics, samples, firstMs, lastMs });
  }
  return out.sort(
    (a, b) =>
      cmp(a.hostname, b.hostname) || Number(a.gpuId) - Number(b.gpuId) || cmp(a.gpuId, b.gpuId) || cmp(a.uuid, b.uuid),
  );
}

/**
 * One GPU's samples, ordered by (time, metric); undefined for an unknown GPU.
 * A page costs O(limit) per series, whatever the window: each series (already
 * in time order) gives at most its first `limit + 1` samples past the cursor,
 * and only those are merged.
 */
export function readSamples(registry: Registry, uuid: string, query: SampleQuery): SamplePage | undefined {
  if (!Number.isInteger(query.limit) || query.limit < 1) throw new RangeError(`limit must be an integer >= 1, got ${query.limit}`);
  const gpu = registry.gpus.get(uuid);
  if (gpu === undefined) return undefined;
  const desc = query.order === 'desc';
  let startMs = query.startMs ?? -Infinity;
  let endMs = query.endMs ?? Infinity;
  let after: Cursor | undefined;
  if (query.cursor !== undefined) {
    after = decodeCursor(query.cursor);
    // Everything before the cursor's time in this order is already served.
    if (desc) endMs = Math.min(endMs, after.tsMs);
    else startMs = Math.max(startMs, after.tsMs);
  }
  const want = query.limit + 1;
  const candidates: Sample[] = [];
  const wanted = query.metrics === undefined ? undefined : new Set(query.metrics);
  for (const [metric, views] of gpu.series) {
    if (wanted !== undefined && !wanted.has(metric)) continue;
    for (const view of views) {
      if (desc) takeDesc(view, startMs, endMs, after, want, candidates);
      else takeAsc(view, startMs, endMs, after, want, candidates);
    }
  }
  candidates.sort(desc ? (a, b) => b.tsMs - a.tsMs || cmp(b.metric, a.metric) : (a, b) => a.tsMs - b.tsMs || cmp(a.metric, b.metric));
  const page: Sample[] = [];
  let prev: Sample | undefined;
  for (const s of candidates) {
    if (prev !== undefined && prev.tsMs === s.tsMs && prev.metric === s.metric) continue; // the same sample in two shards
    prev = s;
    if (page.length === query.limit) {
      const last = page[page.length - 1]!;
      return { samples: page, next: encodeCursor(last.tsMs, last.metric) };
    }
    page.push(s);
  }
  return { samples: page, next: null };
}

interface Cursor {
  tsMs: number;
  metric: string;
}

/**
 * Appends to `out` the view's first `want` samples in [startMs, endMs] past
 * the cursor, oldest first. Each chunk's samples are copied, then kept only
 * if the chunk is still in the life it was announced in. Retention drops a
 * series' chunks oldest first, so a chunk found dropped means every older one
 * is gone too: what was taken from them is discarded, and the run returned
 * stays contiguous.
 */
function takeAsc(view: SeriesView, startMs: number, endMs: number, after: Cursor | undefined, want: number, out: Sample[]): void {
  const metric = view.metric;
  const first = out.length;
  let taken = 0;
  for (const ref of view.chunks) {
    const chunk = ref.chunk;
    const count = ref.count;
    if (count === 0 && !ref.live) {
      out.length = first; // dropped, so are the older chunks
      taken = 0;
      continue;
    }
    if (count === 0 || chunk.tsMs[count - 1]! < startMs) continue;
    if (chunk.tsMs[0]! > endMs && ref.live) return;
    for (let i = chunk.lowerBound(startMs, count); i < count && taken < want; i++) {
      const tsMs = chunk.tsMs[i]!;
      if (tsMs > endMs) break;
      const s = { tsMs, metric, value: chunk.value[i]! };
      if (after !== undefined && !isAfter(s, after, false)) continue;
      out.push(s);
      taken++;
    }
    if (!ref.live) {
      out.length = first; // dropped while read, so are the older chunks
      taken = 0;
    }
    if (taken >= want) return;
  }
}

/** As takeAsc, newest first: a chunk found dropped ends the run (older ones are gone too). */
function takeDesc(view: SeriesView, startMs: number, endMs: number, after: Cursor | undefined, want: number, out: Sample[]): void {
  const metric = view.metric;
  let taken = 0;
  for (let c = view.chunks.length - 1; c >= 0; c--) {
    const ref = view.chunks[c]!;
    const chunk = ref.chunk;
    const count = ref.count;
    if (count === 0 && !ref.live) return; // dropped, so are the older chunks
    if (count === 0 || chunk.tsMs[0]! > endMs) continue;
    if (chunk.tsMs[count - 1]! < startMs && ref.live) return;
    const mark = out.length;
    for (let i = chunk.upperBound(endMs, count) - 1; i >= 0 && taken < want; i--) {
      const tsMs = chunk.tsMs[i]!;
      if (tsMs < startMs) break;
      const s = { tsMs, metric, value: chunk.value[i]! };
      if (after !== undefined && !isAfter(s, after, true)) continue;
      out.push(s);
      taken++;
    }
    if (!ref.live) {
      out.length = mark;
      return;
    }
    if (taken >= want) return;
  }
}

function isAfter(s: Sample, cursor: Cursor, desc: boolean): boolean {
  const c = s.tsMs - cursor.tsMs || cmp(s.metric, cursor.metric);
  return desc ? c < 0 : c > 0;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function encodeCursor(tsMs: number, metric: string): string {
  return Buffer.from(JSON.stringify([tsMs, metric])).toString('base64url');
}

/** @throws CursorError when the text is not a cursor this layer made */
export function decodeCursor(text: string): { tsMs: number; metric: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && Number.isFinite(v[0]) && typeof v[1] === 'string') {
      return { tsMs: v[0], metric: v[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw new CursorError(`cursor "${text}" is not a cursor this API returned`);
}
