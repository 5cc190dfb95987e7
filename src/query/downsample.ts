/**
 * Downsampling: one GPU's samples in an inclusive time window, reduced to
 * one value per (bucket, metric), a page at a time.
 *
 * Buckets are aligned to multiples of `stepMs` since the epoch; a bucket is
 * named by its start (`tsMs`) and covers [tsMs, tsMs + stepMs). Only the
 * samples inside the window count, so the first and last bucket may be
 * partial. Pages are ordered by (tsMs, metric), ascending or descending, and
 * resume after an opaque cursor, exactly as `readSamples` pages samples.
 *
 * Contract: any thread that can read the chunks. The API thread calls
 * `downsample` on the Registry; a query-pool worker calls `downsampleSeries`
 * on views rebuilt from a snapshot (query-pool.ts). Chunks are read in place,
 * with no lock: a chunk's samples are used only if the chunk is still in the
 * life it was announced in once they are read (see chunk.ts), so a chunk
 * dropped and reused meanwhile is never read as this series.
 *
 * Cost per page: each series view is read from the window's start (binary
 * search inside a chunk) until it has shown `limit + 1` buckets past the
 * cursor, so a page reads at most the samples of the window, each once, and
 * copies them once (into columns reused from query to query); views of one
 * metric from several shards are merged pairwise (O(n log shards)), and the
 * metrics' bucket lists are merged into the page in O(buckets × metrics) at
 * worst. Measured: about 10 ns a sample on the 2-core machine.
 */
import type { Registry, SeriesView } from '../storage/registry.js';
import { CursorError, decodeCursor, encodeCursor } from './range-read.js';

export { CursorError };

export const AGGS = ['avg', 'min', 'max', 'last', 'count'] as const;
export type Agg = (typeof AGGS)[number];

export interface DownsampleQuery {
  /** Inclusive; default: no bound. */
  startMs?: number;
  /** Inclusive; default: no bound. */
  endMs?: number;
  /** Only these metric names; default all. */
  metrics?: readonly string[];
  /** Bucket width, >= 1. */
  stepMs: number;
  agg: Agg;
  /** Default 'asc'. */
  order?: 'asc' | 'desc';
  /** Buckets per page, an integer >= 1. */
  limit: number;
  /** `next` of the previous page. */
  cursor?: string;
}

export interface Bucket {
  /** The bucket's start: a multiple of stepMs. */
  tsMs: number;
  metric: string;
  /** The aggregate of the bucket's samples (for `count`, the count). */
  value: number;
  /** Samples in the bucket (inside the window). */
  samples: number;
}

export interface DownsamplePage {
  samples: Bucket[];
  /** Pass as `cursor` for the following page; null when this is the last. */
  next: string | null;
}

/**
 * A validated query, with its cursor decoded: plain data, so the query pool
 * can post it to a worker.
 */
export interface DownsamplePlan {
  startMs: number;
  endMs: number;
  metrics: string[] | null;
  stepMs: number;
  agg: Agg;
  desc: boolean;
  limit: number;
  /** The last bucket already served, or null on the first page. */
  after: { tsMs: number; metric: string } | null;
}

/**
 * Validates a query and decodes its cursor.
 * @throws RangeError naming the bad field; CursorError for a cursor this layer did not make
 */
export function planDownsample(q: DownsampleQuery): DownsamplePlan {
  if (typeof q.stepMs !== 'number' || !Number.isFinite(q.stepMs) || q.stepMs < 1) {
    throw new RangeError(`stepMs must be a finite number >= 1, got ${q.stepMs}`);
  }
  if (!Number.isInteger(q.limit) || q.limit < 1) throw new RangeError(`limit must be an integer >= 1, got ${q.limit}`);
  if (!AGGS.includes(q.agg)) throw new RangeError(`agg must be one of ${AGGS.join(', ')}, got ${JSON.stringify(q.agg)}`);
  if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') {
    throw new RangeError(`order must be asc or desc, got ${JSON.stringify(q.order)}`);
  }
  for (const key of ['startMs', 'endMs'] as const) {
    const v = q[key];
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) throw new RangeError(`${key} must be a number, got ${v}`);
  }
  return {
    startMs: q.startMs ?? -Infinity,
    endMs: q.endMs ?? Infinity,
    metrics: q.metrics === undefined ? null : [...q.metrics],
    stepMs: q.stepMs,
    agg: q.agg,
    desc: q.order === 'desc',
    limit: q.limit,
    after: q.cursor === undefined ? null : decodeCursor(q.cursor),
  };
}

/**
 * One GPU's samples downsampled, a page of buckets; undefined for an unknown GPU.
 * @throws RangeError for a bad stepMs, limit, agg or order; CursorError for a bad cursor
 */
export function downsample(registry: Registry, uuid: string, q: DownsampleQuery): DownsamplePage | undefined {
  const plan = planDownsample(q);
  const gpu = registry.gpus.get(uuid);
  if (gpu === undefined) return undefined;
  return downsampleSeries(gpu.series, plan);
}

/** The bucket a sample falls in: its start. Every path names buckets with this one expression. */
function bucketOf(tsMs: number, stepMs: number): number {
  return Math.floor(tsMs / stepMs) * stepMs;
}

/**
 * The sample times a plan can need, [lo, hi]: the window narrowed to the
 * cursor's bucket and what follows it in the page order. Loose by a bucket on
 * the cursor's side, since a bucket start is a rounded double that may land a
 * hair past a sample at its edge; the exact test is on each sample's bucket.
 */
function windowOf(plan: DownsamplePlan): { lo: number; hi: number } {
  let lo = plan.startMs;
  let hi = plan.endMs;
  if (plan.after !== null) {
    if (plan.desc) hi = Math.min(hi, plan.after.tsMs + 2 * plan.stepMs);
    else lo = Math.max(lo, plan.after.tsMs - plan.stepMs);
  }
  return { lo, hi };
}

/**
 * Samples held in the plan's window, from chunk bounds and a binary search
 * in at most two chunks per view: O(chunks). An estimate: it reads without
 * the epoch check, and the writer may append meanwhile.
 */
export function samplesInWindow(series: ReadonlyMap<string, readonly SeriesView[]>, plan: DownsamplePlan): number {
  const { lo, hi } = windowOf(plan);
  const wanted = plan.metrics === null ? null : new Set(plan.metrics);
  let n = 0;
  for (const [metric, views] of series) {
    if (wanted !== null && !wanted.has(metric)) continue;
    for (const view of views) n += viewSamplesIn(view, lo, hi);
  }
  return n;
}

function viewSamplesIn(view: SeriesView, lo: number, hi: number): number {
  let n = 0;
  for (const ref of view.chunks) {
    const count = ref.count;
    if (count === 0) continue;
    const chunk = ref.chunk;
    const firstMs = chunk.tsMs[0]!;
    const lastMs = chunk.tsMs[count - 1]!;
    if (lastMs < lo || firstMs > hi) continue;
    n += firstMs >= lo && lastMs <= hi ? count : chunk.upperBound(hi, count) - chunk.lowerBound(lo, count);
  }
  return n;
}

/** The page of a validated plan over one GPU's series (metric name → one view per shard). */
export function downsampleSeries(series: ReadonlyMap<string, readonly SeriesView[]>, plan: DownsamplePlan): DownsamplePage {
  const { lo, hi } = windowOf(plan);
  const wanted = plan.metrics === null ? null : new Set(plan.metrics);
  const names = [...series.keys()].filter((m) => wanted === null || wanted.has(m)).sort(); // by UTF-16 code units, as `<`
  // Per metric, by name: its first limit + 1 buckets in the page order, oldest first.
  const lists: Bucket[][] = [];
  for (const metric of names) {
    const scan: Scan = {
      lo,
      hi,
      stepMs: plan.stepMs,
      want: plan.limit + 1,
      afterTsMs: plan.after?.tsMs ?? NaN,
      // At the cursor's own bucket, only metrics past the cursor's are new.
      cursorBucketOpen: plan.after === null || (plan.desc ? metric < plan.after.metric : metric > plan.after.metric),
    };
    const runs: Run[] = [];
    let cutoff = plan.desc ? -Infinity : Infinity;
    scratch.used = 0; // this metric's runs reuse the previous one's
    for (const view of series.get(metric)!) {
      const run = scratch.take();
      const viewCutoff = plan.desc ? takeDesc(view, scan, run) : takeAsc(view, scan, run);
      if (run.length === 0) continue;
      runs.push(run);
      cutoff = plan.desc ? Math.max(cutoff, viewCutoff) : Math.min(cutoff, viewCutoff);
    }
    if (runs.length === 0) continue;
    const list: Bucket[] = [];
    aggregate(mergeRuns(runs, plan.desc), plan.desc, metric, plan.agg, cutoff, list);
    lists.push(list);
  }
  scratch.trim();
  const page = mergeLists(lists, plan.desc, plan.limit + 1);
  if (page.length <= plan.limit) return { samples: page, next: null };
  page.length = plan.limit;
  const last = page[plan.limit - 1]!;
  return { samples: page, next: encodeCursor(last.tsMs, last.metric) };
}

/**
 * The first `count` buckets of all lists in (time, metric) order, or the
 * reverse: lists are one per metric, in name order, each oldest first. Each
 * round finds the next time over the lists' heads and takes every head at
 * that time, in metric order: O(metrics) a round, and a round usually takes
 * a bucket of every metric (their buckets share the step's grid).
 */
function mergeLists(lists: Bucket[][], desc: boolean, count: number): Bucket[] {
  const out: Bucket[] = [];
  const heads = lists.map((l) => (desc ? l.length - 1 : 0));
  const k = lists.length;
  while (out.length < count) {
    let next = desc ? -Infinity : Infinity;
    for (let m = 0; m < k; m++) {
      const b = lists[m]![heads[m]!];
      if (b !== undefined && (desc ? b.tsMs > next : b.tsMs < next)) next = b.tsMs;
    }
    if (next === Infinity || next === -Infinity) break;
    for (let j = 0; j < k && out.length < count; j++) {
      const m = desc ? k - 1 - j : j;
      const b = lists[m]![heads[m]!];
      if (b === undefined || b.tsMs !== next) continue;
      out.push(b);
      heads[m]! += desc ? -1 : 1;
    }
  }
  return out;
}

/** What one metric's scan needs to know. */
interface Scan {
  lo: number;
  hi: number;
  stepMs: number;
  /** Distinct buckets to take per view: the page's limit + 1. */
  want: number;
  /** The cursor's bucket (NaN without a cursor: every comparison false). */
  afterTsMs: number;
  /** Whether this metric's bucket at the cursor's time is still to serve. */
  cursorBucketOpen: boolean;
}

/** Runs up to this many samples (1.5 MiB) are kept for the next query; larger ones are let go. */
const RUN_KEEP_MAX = 65_536;

/** Samples copied out of chunks, in scan order, with their buckets: three growable columns. */
class Run {
  tsMs = new Float64Array(0);
  value = new Float64Array(0);
  bucket = new Float64Array(0);
  length = 0;

  push(tsMs: number, value: number, bucket: number): void {
    if (this.length === this.tsMs.length) this.resize(Math.max(16, this.length * 2));
    const i = this.length++;
    this.tsMs[i] = tsMs;
    this.value[i] = value;
    this.bucket[i] = bucket;
  }

  private resize(size: number): void {
    for (const key of ['tsMs', 'value', 'bucket'] as const) {
      const next = new Float64Array(size);
      next.set(this[key].subarray(0, this.length));
      this[key] = next;
    }
  }
}

/**
 * Runs reused from metric to metric and query to query: allocating and
 * zeroing fresh columns for every view cost as much as reading the samples
 * (measured: 36,000 samples a metric). One set per thread is enough, since a
 * query runs to completion on its thread.
 */
const scratch = {
  runs: [] as Run[],
  used: 0,
  /** An empty run. */
  take(): Run {
    let run = this.runs[this.used];
    if (run === undefined) {
      run = new Run();
      this.runs.push(run);
    }
    this.used++;
    run.length = 0;
    return run;
  },
  /** Lets go of runs grown past RUN_KEEP_MAX by a large query. */
  trim(): void {
    this.used = 0;
    this.runs = this.runs.filter((r) => r.tsMs.length <= RUN_KEEP_MAX);
  },
};

/**
 * Copies into `run`, oldest first, the view's samples in [lo, hi] whose
 * buckets come after the cursor, until it meets the (want + 1)th distinct
 * bucket, and returns that bucket (Infinity if the view ran out first):
 * buckets from it on may be partial and are not served from this view.
 *
 * As range-read's takeAsc: each chunk's samples are kept only if the chunk
 * is still in the life it was announced in after they were copied. Retention
 * drops a series' chunks oldest first, so a chunk found dropped means every
 * older one is gone too: what was taken so far is discarded, and the run
 * stays contiguous.
 */
function takeAsc(view: SeriesView, scan: Scan, run: Run): number {
  const { lo, hi, stepMs, want, afterTsMs, cursorBucketOpen } = scan;
  let buckets = 0;
  let prev = NaN;
  for (const ref of view.chunks) {
    const chunk = ref.chunk;
    const count = ref.count;
    if (count === 0 && !ref.live) {
      run.length = 0; // dropped, so are the older chunks
      buckets = 0;
      prev = NaN;
      continue;
    }
    if (count === 0 || chunk.tsMs[count - 1]! < lo) continue;
    if (chunk.tsMs[0]! > hi && ref.live) break;
    let cutoff = Infinity;
    let done = false;
    for (let i = chunk.lowerBound(lo, count); i < count; i++) {
      const tsMs = chunk.tsMs[i]!;
      if (tsMs > hi) {
        done = true;
        break;
      }
      const b = bucketOf(tsMs, stepMs);
      if (b < afterTsMs || (b === afterTsMs && !cursorBucketOpen)) continue;
      if (b !== prev) {
        if (buckets === want) {
          cutoff = b;
          done = true;
          break;
        }
        buckets++;
        prev = b;
      }
      run.push(tsMs, chunk.value[i]!, b);
    }
    if (!ref.live) {
      run.length = 0; // dropped while read, so are the older chunks
      buckets = 0;
      prev = NaN;
      continue;
    }
    if (done) return cutoff;
  }
  return Infinity;
}

/**
 * As takeAsc, newest first; returns the bucket it stopped at (-Infinity if
 * the view ran out first). A chunk found dropped ends the run: the older
 * ones are gone too, so the view holds nothing older.
 */
function takeDesc(view: SeriesView, scan: Scan, run: Run): number {
  const { lo, hi, stepMs, want, afterTsMs, cursorBucketOpen } = scan;
  let buckets = 0;
  let prev = NaN;
  for (let c = view.chunks.length - 1; c >= 0; c--) {
    const ref = view.chunks[c]!;
    const chunk = ref.chunk;
    const count = ref.count;
    if (count === 0 && !ref.live) return -Infinity; // dropped, so are the older chunks
    if (count === 0 || chunk.tsMs[0]! > hi) continue;
    if (chunk.tsMs[count - 1]! < lo && ref.live) return -Infinity;
    const mark = run.length;
    let cutoff = -Infinity;
    let done = false;
    for (let i = chunk.upperBound(hi, count) - 1; i >= 0; i--) {
      const tsMs = chunk.tsMs[i]!;
      if (tsMs < lo) {
        done = true;
        break;
      }
      const b = bucketOf(tsMs, stepMs);
      if (b > afterTsMs || (b === afterTsMs && !cursorBucketOpen)) continue;
      if (b !== prev) {
        if (buckets === want) {
          cutoff = b;
          done = true;
          break;
        }
        buckets++;
        prev = b;
      }
      run.push(tsMs, chunk.value[i]!, b);
    }
    if (!ref.live) {
      run.length = mark;
      return -Infinity;
    }
    if (done) return cutoff;
  }
  return -Infinity;
}

/** One run in scan order, from runs in scan order; the same timestamp in two runs (two shards) is kept once. */
function mergeRuns(runs: Run[], desc: boolean): Run {
  while (runs.length > 1) {
    const merged: Run[] = [];
    for (let i = 0; i + 1 < runs.length; i += 2) merged.push(mergeTwo(runs[i]!, runs[i + 1]!, desc));
    if (runs.length % 2 === 1) merged.push(runs[runs.length - 1]!);
    runs = merged;
  }
  return runs[0]!;
}

function mergeTwo(a: Run, b: Run, desc: boolean): Run {
  const out = scratch.take();
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ta = a.tsMs[i]!;
    const tb = b.tsMs[j]!;
    if (ta === tb) {
      out.push(ta, a.value[i]!, a.bucket[i]!);
      i++;
      j++;
    } else if (ta < tb !== desc) {
      out.push(ta, a.value[i]!, a.bucket[i]!);
      i++;
    } else {
      out.push(tb, b.value[j]!, b.bucket[j]!);
      j++;
    }
  }
  for (; i < a.length; i++) out.push(a.tsMs[i]!, a.value[i]!, a.bucket[i]!);
  for (; j < b.length; j++) out.push(b.tsMs[j]!, b.value[j]!, b.bucket[j]!);
  return out;
}

/**
 * Appends one Bucket per bucket of the run short of `cutoff` (asc: buckets
 * before it; desc: buckets after it). Each bucket is reduced oldest sample
 * first whatever the page order, so both orders give the same values.
 */
function aggregate(run: Run, desc: boolean, metric: string, agg: Agg, cutoff: number, out: Bucket[]): void {
  const { value, bucket } = run;
  const n = run.length;
  const step = desc ? -1 : 1;
  const end = desc ? -1 : n;
  let i = desc ? n - 1 : 0;
  while (i !== end) {
    const b = bucket[i]!;
    let count = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    let last = NaN;
    for (; i !== end && bucket[i] === b; i += step) {
      const v = value[i]!;
      count++;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
      last = v;
    }
    if (desc ? b <= cutoff : b >= cutoff) {
      if (desc) continue; // desc: the buckets cut off are the oldest, met first
      return;
    }
    const v = agg === 'avg' ? sum / count : agg === 'min' ? min : agg === 'max' ? max : agg === 'last' ? last : count;
    out.push({ tsMs: b, metric, value: v, samples: count });
  }
}
