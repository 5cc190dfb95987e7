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
  const wanted = query.metrics === undefined ? undefined : new Set(query.metrics);
  const views: SeriesView[] = [];
  for (const [metric, vs] of gpu.series) if (wanted === undefined || wanted.has(metric)) views.push(...vs);
  // Merge the series a chunk at a time, reading about `limit` samples in all.
  // Only an oldest-first read can race retention (see ViewReader.load): then
  // read again, and after that take each series' first `limit + 1` and sort.
  for (let attempt = 0; attempt < MERGE_ATTEMPTS; attempt++) {
    const page = mergePage(views, startMs, endMs, after, desc, query.limit);
    if (page !== RACED) return page;
  }
  const want = query.limit + 1;
  const candidates: Sample[] = [];
  for (const view of views) takeAsc(view, startMs, endMs, after, want, candidates);
  candidates.sort((a, b) => a.tsMs - b.tsMs || cmp(a.metric, b.metric));
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

const MERGE_ATTEMPTS = 2;
const RACED = Symbol('raced');

/**
 * One series view read a chunk at a time, in the query's order: `ts`/`value`
 * hold the current chunk's samples in the window (copied, then checked to
 * be still in the chunk's life), `at` the next one to merge.
 */
class ViewReader {
  ts: number[] = [];
  value: number[] = [];
  at = 0;
  private chunk: number;
  /** Samples have been taken from this view. */
  private started = false;

  constructor(
    readonly view: SeriesView,
    private readonly startMs: number,
    private readonly endMs: number,
    private readonly desc: boolean,
  ) {
    this.chunk = desc ? view.chunks.length : -1;
  }

  get metric(): string {
    return this.view.metric;
  }

  get headTs(): number {
    return this.ts[this.at]!;
  }

  /**
   * Loads the next chunk with samples in the window: false when there is
   * none. A dropped chunk (retention drops a series' oldest first): newest
   * first, it ends the view; oldest first, it is skipped while nothing has
   * been taken from the view yet, and otherwise the read raced retention
   * (RACED), since the samples already taken are gone too.
   */
  load(): boolean | typeof RACED {
    const refs = this.view.chunks;
    this.ts.length = this.value.length = 0;
    this.at = 0;
    for (;;) {
      this.chunk += this.desc ? -1 : 1;
      if (this.chunk < 0 || this.chunk >= refs.length) return false;
      const ref = refs[this.chunk]!;
      const chunk = ref.chunk;
      const count = ref.count;
      if (count === 0) {
        if (!ref.live) {
          if (this.desc) return false;
          if (this.started) return RACED;
        }
        continue;
      }
      if (this.desc) {
        for (let i = chunk.upperBound(this.endMs, count) - 1; i >= 0; i--) {
          const tsMs = chunk.tsMs[i]!;
          if (tsMs < this.startMs) break;
          this.ts.push(tsMs);
          this.value.push(chunk.value[i]!);
        }
      } else {
        for (let i = chunk.lowerBound(this.startMs, count); i < count; i++) {
          const tsMs = chunk.tsMs[i]!;
          if (tsMs > this.endMs) break;
          this.ts.push(tsMs);
          this.value.push(chunk.value[i]!);
        }
      }
      if (!ref.live) {
        this.ts.length = this.value.length = 0;
        if (this.desc) return false;
        if (this.started) return RACED;
        continue;
      }
      if (this.ts.length > 0) return (this.started = true);
      // Nothing in the window here: past it in this order, the rest is too.
      const edge = this.desc ? chunk.tsMs[0]! < this.startMs : chunk.tsMs[count - 1]! > this.endMs;
      if (edge) return false;
    }
  }
}

/** (time, metric) of a before b in the query's order. */
function earlier(a: ViewReader, b: ViewReader, desc: boolean): boolean {
  const c = a.headTs - b.headTs || cmp(a.metric, b.metric);
  return desc ? c > 0 : c < 0;
}

/** A page by a k-way merge of the views (a binary heap on their next samples). */
function mergePage(
  views: readonly SeriesView[],
  startMs: number,
  endMs: number,
  after: Cursor | undefined,
  desc: boolean,
  limit: number,
): SamplePage | typeof RACED {
  const heap: ViewReader[] = [];
  const up = (i: number): void => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(heap[i]!, heap[p]!, desc)) return;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && earlier(heap[l]!, heap[m]!, desc)) m = l;
      if (r < heap.length && earlier(heap[r]!, heap[m]!, desc)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (const view of views) {
    const reader = new ViewReader(view, startMs, endMs, desc);
    const loaded = reader.load();
    if (loaded === RACED) return RACED;
    if (loaded) {
      heap.push(reader);
      up(heap.length - 1);
    }
  }
  const page: Sample[] = [];
  let prevTs = NaN;
  let prevMetric = '';
  while (heap.length > 0) {
    const top = heap[0]!;
    const s: Sample = { tsMs: top.headTs, metric: top.metric, value: top.value[top.at]! };
    if (++top.at === top.ts.length) {
      const loaded = top.load();
      if (loaded === RACED) return RACED;
      if (!loaded) {
        heap[0] = heap[heap.length - 1]!;
        heap.pop();
      }
    }
    if (heap.length > 0) down(0);
    if (s.tsMs === prevTs && s.metric === prevMetric) continue; // the same sample in two shards
    prevTs = s.tsMs;
    prevMetric = s.metric;
    if (after !== undefined && !isAfter(s, after, desc)) continue;
    if (page.length === limit) {
      const last = page[page.length - 1]!;
      return { samples: page, next: encodeCursor(last.tsMs, last.metric) };
    }
    page.push(s);
  }
  return { samples: page, next: null };
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
