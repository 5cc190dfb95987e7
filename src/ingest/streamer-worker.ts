/**
 * A streamer thread: reads the CSV, keeps the rows of the GPUs it owns
 * (uuid hash mod the number of streamers), stamps each row when it is
 * processed (or keeps the CSV time in source mode), and pushes samples to
 * the collector that owns the GPU through its producer slot of the ring.
 *
 * The first pass parses the file; if the owned rows fit the memory budget
 * they are kept in columns (28 bytes a row) and later passes replay them
 * without parsing, otherwise every pass parses the file again (streaming,
 * never whole).
 *
 * Handover (the engine changes the number of streamers): on a pause request
 * each streamer flushes and reports where it is, (pass, line); the engine
 * sets the cut at the furthest position; each streamer streams its rows up
 * to the cut and exits; the new streamers start at the cut. Every row of
 * every pass is streamed once.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { FreeRing, MessageBatch, RingClosedError, type WaitPolicy } from 'native-free-ring';
import { Counter, Counters, rejectCounter } from '../engine/counters.js';
import { globalRef, Kind, viewOf, writeClock, writeGpu, writeMetric, writeSample } from '../engine/wire.js';
import type { GpuIdentity, RejectReason, RowBatch } from './dcgm-row.js';
import { Control, END_LINE, Position } from './handover.js';
import { openRowSource, type RowSource } from './row-source.js';
import { PortOutlet, RingOutlet, type Outlet } from './outlet.js';

export interface StreamerJob {
  ring: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  /** Int32 words, see Control. */
  control: SharedArrayBuffer;
  /** Int32 words per streamer slot, see Position: where each streamer is, for handovers. */
  positions: SharedArrayBuffer;
  /** Stream rows from this (pass, line) on: a handover's cut (0, 0 from the start). */
  startPass: number;
  startLine: number;
  /** Producer slot in the ring (0-9), also this streamer's counters slot. */
  slot: number;
  /** This streamer owns GPUs with hash(uuid) % parts === part. */
  part: number;
  parts: number;
  csvFile: string;
  loop: boolean;
  streamIntervalMs: number;
  /** Paces the stream to this many rows a second (0: no pacing); benchmarks use it. */
  rowsPerSecond: number;
  timestampMode: 'processed' | 'source';
  /** Owned rows kept in memory for replay, at most (24 bytes each). */
  replayBudgetRows: number;
  takeover: boolean;
  /** The ring's wait policy: 'sleep' when threads outnumber cores. */
  wait: WaitPolicy;
  /**
   * The postMessage baseline (benchmarks): one port per collector slot
   * instead of the ring, at most `laneBytes` in flight on each.
   */
  ports?: MessagePort[];
  laneBytes?: number;
  /** A batch per message, or a message per record. */
  portMessages?: 'batch' | 'record';
}

export type StreamerMessage =
  | { t: 'ready' }
  | { t: 'log'; level: 'warn' | 'info'; msg: string; [field: string]: unknown }


const STOP = Control.Stop;
/** The local dictionary index inside a wire ref (see globalRef). */
const LOCAL_MASK = 0xffffff;
/** 64 KiB per collector: ~2,300 samples, flushed when full or after each pass/row wait. */
const BATCH_BYTES = 64 * 1024;
/** A part-full batch is sent once its oldest sample has waited this long (ms). */
const LINGER_MS = 2;
/** Rows stamped with one reading of the clock: at 5 M rows/s, a few µs. */
const CLOCK_ROWS = 16;
const TIME_ORIGIN_MS = performance.timeOrigin;
/** Reject log lines per second at most; the rest are counted and summarised. */
const REJECT_LOGS_PER_S = 10;

/** FNV-1a of a string: GPU ownership and collector routing key. */
export function hashUuid(uuid: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < uuid.length; i++) h = Math.imul(h ^ uuid.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

class Streamer {
  private readonly outlet: Outlet;
  private readonly source: RowSource;
  private readonly counts: Float64Array;
  private readonly control: Int32Array;
  private readonly position: Int32Array;
  /** Pass being streamed. */
  private pass: number;
  private cutPass = -1;
  private cutLine = 0;
  /** Reached the handover cut: stream nothing more. */
  private atCut = false;
  private firstEmitted = -1;
  private lastEmitted = -1;
  private readonly batches: MessageBatch[];
  private readonly defined: Array<Set<number>>;
  /** Samples in each collector's batch, not yet in the ring. */
  private readonly pending: Float64Array;
  /** Per collector slot: the attachment our definitions went to (see Producer.generation). */
  private readonly generations: Int32Array;
  private gpus: readonly GpuIdentity[] = [];
  private metrics: readonly string[] = [];
  /** Per local GPU ref: hash of its uuid (-1 until computed). */
  private gpuHash = new Float64Array(0);
  /** Per local GPU ref, per local metric ref: the last processed-time stamp given (ms). */
  private stamps: Float64Array[] = [];
  /** The clock (ms, µs resolution), read every CLOCK_ROWS rows and after every flush. */
  private clockMs = 0;
  private clockRows = 0;
  /** When the oldest sample not yet sent entered a batch (clock ms); Infinity when none waits. */
  private pendingSinceMs = Infinity;
  private paced = 0;
  private paceStartMs = 0;
  /** Per local GPU ref: its collector (-1 unknown); forgotten at every flush, so scaling is seen within a batch. */
  private routes = new Int32Array(0);
  private logsThisSecond = 0;
  private logSecond = 0;
  private suppressed = 0;
  // Owned rows kept for replay (columns), while within budget.
  private keep = true;
  private kept = 0;
  private rowLine = new Int32Array(1024);
  private rowGpu = new Int32Array(1024);
  private rowMetric = new Int32Array(1024);
  private rowTs = new Float64Array(1024);
  private rowValue = new Float64Array(1024);

  constructor(private readonly job: StreamerJob) {
    this.source = openRowSource(job.csvFile);
    if (job.ports !== undefined) {
      this.outlet = new PortOutlet(job.ports, job.laneBytes!, job.portMessages);
    } else {
      const ring = FreeRing.from(job.ring);
      this.outlet = new RingOutlet(ring, ring.attachProducer({ index: job.slot, takeover: job.takeover, wait: job.wait }));
    }
    this.counts = new Counters(job.counters).block(job.slot);
    this.control = new Int32Array(job.control);
    this.position = new Int32Array(job.positions, job.slot * Position.Words * 4, Position.Words);
    this.pass = job.startPass;
    const c = this.outlet.lanes;
    this.batches = Array.from({ length: c }, () => new MessageBatch(BATCH_BYTES));
    this.defined = Array.from({ length: c }, () => new Set<number>());
    this.generations = new Int32Array(c).fill(-1);
    this.pending = new Float64Array(c);
  }

  get stopping(): boolean {
    return Atomics.load(this.control, STOP) !== 0;
  }

  async run(): Promise<void> {
    parentPort!.postMessage({ t: 'ready' } satisfies StreamerMessage);
    let passes = 0;
    try {
      do {
        if (passes === 0 || !this.keep) await this.parsePass(passes === 0);
        else this.replayPass();
        this.flushAll();
        if (this.stopping || this.atCut) break;
        passes++;
        if (this.job.part === 0) this.counts[Counter.Passes]!++;
        this.pass++;
        // A streamer that owns no rows still answers a pause between passes.
        if (this.job.loop && this.check(0) === Step.Stop) break;
      } while (this.job.loop && !this.stopping);
    } catch (err) {
      if (!(err instanceof RingClosedError)) throw err;
    }
    parentPort!.postMessage({
      t: 'log',
      level: 'info',
      msg: 'streamer done',
      part: this.job.part,
      parts: this.job.parts,
      start: [this.job.startPass, this.job.startLine],
      cut: [this.cutPass, this.cutLine],
      emitted: [this.firstEmitted, this.lastEmitted],
      pass: this.pass,
    } satisfies StreamerMessage);
    Atomics.store(this.position, Position.Pass, this.atCut ? this.cutPass : this.pass);
    Atomics.store(this.position, Position.Line, END_LINE);
    Atomics.store(this.position, Position.Finished, 1);
    this.outlet.close();
  }

  private async parsePass(first: boolean): Promise<void> {
    const { part, parts } = this.job;
    const streamer = this; // for the getter below
    await this.source.pass({
      rows: (batch, gpus, metrics) => this.onRows(batch, gpus, metrics, first),
      reject: (reason, line, detail) => {
        if (line % parts !== part) return; // each rejected line is counted by one streamer
        this.counts[Counter.RowsRead]!++;
        this.counts[rejectCounter(reason)]!++;
        this.logReject(reason, line, detail);
      },
      get stopped() {
        return streamer.stopping;
      },
    });
  }

  private onRows(batch: RowBatch, gpus: readonly GpuIdentity[], metrics: readonly string[], first: boolean): void {
    this.gpus = gpus;
    this.metrics = metrics;
    const { part, parts } = this.job;
    for (let i = 0; i < batch.length; i++) {
      const g = batch.gpu[i]!;
      if (this.hashOf(g) % parts !== part) continue;
      const line = batch.line[i]!;
      if (first && this.keep) this.remember(g, batch.metric[i]!, batch.tsMs[i]!, batch.value[i]!, line);
      const step = this.check(line);
      if (step === Step.Stop) return;
      if (step === Step.Emit) {
        if (this.firstEmitted < 0) this.firstEmitted = line;
        this.lastEmitted = line;
        this.emit(g, batch.metric[i]!, batch.tsMs[i]!, batch.value[i]!);
      }
      if (this.stopping) return;
    }
  }

  private replayPass(): void {
    for (let i = 0; i < this.kept && !this.stopping; i++) {
      const step = this.check(this.rowLine[i]!);
      if (step === Step.Stop) return;
      if (step === Step.Emit) this.emit(this.rowGpu[i]!, this.rowMetric[i]!, this.rowTs[i]!, this.rowValue[i]!);
    }
  }

  /**
   * Before an owned row at `line` of the current pass: skip it (before our
   * start), emit it, or stop (at or past a handover cut). Answers a pause
   * request: flushes, reports this position, and waits for the cut.
   */
  private check(line: number): Step {
    if (this.atCut || this.stopping) return Step.Stop;
    const pause = this.control[Control.Pause]!; // relaxed: the engine waits for our answer
    if (pause !== 0 && pause !== this.position[Position.Acked]) this.pauseAt(line, pause);
    if (this.cutPass >= 0 && !before(this.pass, line, this.cutPass, this.cutLine)) {
      this.atCut = true;
      return Step.Stop;
    }
    return before(this.pass, line, this.job.startPass, this.job.startLine) ? Step.Skip : Step.Emit;
  }

  private pauseAt(line: number, pause: number): void {
    this.flushAll();
    // Still skipping up to our start (an earlier cut): everything before it is done.
    const starting = before(this.pass, line, this.job.startPass, this.job.startLine);
    Atomics.store(this.position, Position.Pass, starting ? this.job.startPass : this.pass);
    Atomics.store(this.position, Position.Line, starting ? this.job.startLine : line);
    Atomics.store(this.position, Position.Acked, pause);
    for (;;) {
      const bell = Atomics.load(this.control, Control.Bell);
      if (Atomics.load(this.control, Control.CutSet) !== 0 || this.stopping) break;
      Atomics.wait(this.control, Control.Bell, bell, 100);
    }
    if (Atomics.load(this.control, Control.CutSet) !== 0) {
      this.cutPass = Atomics.load(this.control, Control.CutPass);
      this.cutLine = Atomics.load(this.control, Control.CutLine);
    }
  }

  private remember(g: number, m: number, tsMs: number, value: number, line: number): void {
    if (this.kept === this.rowGpu.length) {
      if (this.kept * 2 > this.job.replayBudgetRows) {
        this.keep = false; // too big to keep: every pass parses the file again
        this.rowLine = new Int32Array(0);
        this.rowGpu = new Int32Array(0);
        this.rowMetric = new Int32Array(0);
        this.rowTs = new Float64Array(0);
        this.rowValue = new Float64Array(0);
        return;
      }
      this.rowLine = grow(this.rowLine, new Int32Array(this.kept * 2));
      this.rowGpu = grow(this.rowGpu, new Int32Array(this.kept * 2));
      this.rowMetric = grow(this.rowMetric, new Int32Array(this.kept * 2));
      this.rowTs = grow(this.rowTs, new Float64Array(this.kept * 2));
      this.rowValue = grow(this.rowValue, new Float64Array(this.kept * 2));
    }
    this.rowLine[this.kept] = line;
    this.rowGpu[this.kept] = g;
    this.rowMetric[this.kept] = m;
    this.rowTs[this.kept] = tsMs;
    this.rowValue[this.kept] = value;
    this.kept++;
  }

  private hashOf(g: number): number {
    if (g >= this.gpuHash.length) {
      const next = new Float64Array(Math.max(64, (g + 1) * 2)).fill(-1);
      next.set(this.gpuHash);
      this.gpuHash = next;
    }
    let h = this.gpuHash[g]!;
    if (h < 0) h = this.gpuHash[g] = hashUuid(this.gpus[g]!.uuid);
    return h;
  }

  /** Stamps, encodes and queues one row for the collector that owns its GPU. */
  private emit(g: number, m: number, sourceTsMs: number, value: number): void {
    let tsMs = sourceTsMs;
    if (this.clockRows++ % CLOCK_ROWS === 0) {
      this.clockMs = Math.round((TIME_ORIGIN_MS + performance.now()) * 1000) / 1000;
      // A batch waiting longer than LINGER_MS goes out part full, so a slow stream is not held back.
      if (this.clockMs - this.pendingSinceMs > LINGER_MS) this.flushAll();
    }
    if (this.job.timestampMode === 'processed') {
      // Microsecond resolution, strictly increasing per series: a looped file
      // revisits a series every few hundred µs at full speed. Only a series
      // seen again within the same µs gets the next µs instead.
      const row = this.stampsOf(g, m);
      const last = row[m]!;
      tsMs = row[m] = this.clockMs > last ? this.clockMs : Math.round((last + 0.001) * 1000) / 1000;
    }
    if (this.pendingSinceMs === Infinity) this.pendingSinceMs = this.clockMs;
    this.enqueue(g, m, tsMs, value);
    if (this.job.streamIntervalMs > 0) {
      this.flushAll();
      Atomics.wait(this.control, STOP, 0, this.job.streamIntervalMs);
    } else if (this.job.rowsPerSecond > 0) {
      this.pace();
    }
  }

  /** Holds the stream to rowsPerSecond: row k is due k / rate after the first; sleeps when over 1 ms early. */
  private pace(): void {
    const nowMs = performance.now();
    if (this.paced++ === 0) this.paceStartMs = nowMs;
    const aheadMs = this.paceStartMs + (this.paced * 1000) / this.job.rowsPerSecond - nowMs;
    // Held up (a full ring, a busy machine)? Catch up by at most 10 ms, not in a burst.
    if (aheadMs < -10) this.paceStartMs -= aheadMs + 10;
    if (aheadMs > 1) {
      this.flushAll();
      Atomics.wait(this.control, STOP, 0, aheadMs);
    }
  }

  /** The collector that owns GPU g now; waits while none is open. */
  private stampsOf(g: number, m: number): Float64Array {
    let row = this.stamps[g];
    if (row === undefined || m >= row.length) {
      const next = new Float64Array(Math.max(16, (m + 1) * 2));
      if (row !== undefined) next.set(row);
      row = this.stamps[g] = next;
    }
    return row;
  }

  private routeOf(g: number): number {
    if (g < this.routes.length && this.routes[g]! >= 0) return this.routes[g]!;
    const key = this.hashOf(g);
    for (;;) {
      const c = this.outlet.route(key);
      if (c >= 0) {
        if (g >= this.routes.length) {
          const next = new Int32Array(Math.max(64, (g + 1) * 2)).fill(-1);
          next.set(this.routes);
          this.routes = next;
        }
        return (this.routes[g] = c);
      }
      if (this.outlet.closed) throw new RingClosedError('ring is closed');
      Atomics.wait(this.control, STOP, 0, 10);
    }
  }

  private enqueue(g: number, m: number, tsMs: number, value: number): void {
    const c = this.routeOf(g);
    const batch = this.batches[c]!;
    const dv = viewOf(batch);
    const slot = this.job.slot;
    const gRef = globalRef(slot, g);
    const mRef = globalRef(slot, m);
    const defined = this.defined[c]!;
    for (;;) {
      if (batch.count === 0) {
        // A new collector in a reused slot knows none of our definitions.
        const generation = this.outlet.generation(c);
        if (generation !== this.generations[c]) {
          this.generations[c] = generation;
          defined.clear();
        }
        // When the batch's oldest row was read: the collector times ingest latency from it.
        writeClock(batch, dv, performance.timeOrigin + performance.now());
      }
      // Definitions go first, in the same batch (so on the same lane, in order).
      const ok =
        (defined.has(gRef) || (writeGpu(batch, dv, gRef, this.gpus[g]!) && defined.add(gRef) !== undefined)) &&
        (defined.has(-1 - mRef) || (writeMetric(batch, dv, mRef, this.metrics[m]!) && defined.add(-1 - mRef) !== undefined)) &&
        writeSample(batch, dv, gRef, mRef, tsMs, value);
      if (ok) break;
      this.flush(c);
    }
    this.pending[c]!++;
  }

  /**
   * Pushes collector c's batch to collector c only. If c left meanwhile
   * (scaled down), it has drained what it got; the unsent samples go to
   * the GPUs' new owners, with their definitions sent again.
   */
  private flush(c: number): void {
    const batch = this.batches[c]!;
    if (batch.count === 0) return;
    const sentBytes = this.outlet.send(batch, c, this.generations[c]!);
    this.routes.fill(-1); // collectors may have come or gone meanwhile
    this.clockRows = 0; // the send may have waited: read the clock again
    // A row counts as read once it is in the ring (a crash loses no counted row).
    const samples = this.pending[c]!;
    this.pending[c] = 0;
    if (sentBytes < batch.byteLength) {
      this.defined[c]!.clear();
      const dv = viewOf(batch);
      const rest: number[] = [];
      batch.forEach((_bytes, at) => {
        if (at < sentBytes || dv.getUint32(at, true) !== Kind.Sample) return;
        rest.push(dv.getUint32(at + 4, true) & LOCAL_MASK, dv.getUint32(at + 8, true) & LOCAL_MASK, dv.getFloat64(at + 12, true), dv.getFloat64(at + 20, true));
      });
      batch.reset();
      this.counts[Counter.RowsRead]! += samples - rest.length / 4;
      for (let i = 0; i < rest.length; i += 4) this.enqueue(rest[i]!, rest[i + 1]!, rest[i + 2]!, rest[i + 3]!);
      return;
    }
    this.counts[Counter.RowsRead]! += samples;
    batch.reset();
  }

  private flushAll(): void {
    for (let c = 0; c < this.batches.length; c++) this.flush(c);
    this.pendingSinceMs = Infinity;
  }

  private logReject(reason: RejectReason, line: number, detail: string): void {
    const second = Math.floor(performance.now() / 1000);
    if (second !== this.logSecond) {
      if (this.suppressed > 0) {
        parentPort!.postMessage({ t: 'log', level: 'warn', msg: `${this.suppressed} more rejected rows not logged`, file: this.job.csvFile } satisfies StreamerMessage);
      }
      this.logSecond = second;
      this.logsThisSecond = 0;
      this.suppressed = 0;
    }
    if (this.logsThisSecond++ < REJECT_LOGS_PER_S) {
      parentPort!.postMessage({ t: 'log', level: 'warn', msg: detail, reason, file: this.job.csvFile, line } satisfies StreamerMessage);
    } else {
      this.suppressed++;
    }
  }
}

const Step = { Emit: 0, Skip: 1, Stop: 2 } as const;
type Step = (typeof Step)[keyof typeof Step];

/** (pass, line) < (cutPass, cutLine) */
function before(pass: number, line: number, cutPass: number, cutLine: number): boolean {
  return pass < cutPass || (pass === cutPass && line < cutLine);
}

function grow<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

void new Streamer(workerData as StreamerJob).run();
