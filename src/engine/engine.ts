/**
 * The engine: one process, streamer and collector worker threads joined by
 * native-free-ring, the store's registry and the counters on the main thread.
 *
 * Main thread only. Workers run from compiled JS (dist/), beside this file.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { FreeRing, type WaitPolicy } from 'native-free-ring';
import type { Config } from '../config/load.js';
import type { CollectorJob, CollectorMessage, Definitions } from '../collect/collector-worker.js';
import { openRowSource } from '../ingest/row-source.js';
import { Control, END_LINE, Position } from '../ingest/handover.js';
import type { StreamerJob, StreamerMessage } from '../ingest/streamer-worker.js';
import { Registry } from '../storage/registry.js';
import { InMemoryStore, type StorageType, type TelemetryStore } from '../storage/store.js';
import { Counters, MAX_COLLECTORS, MAX_STREAMERS } from './counters.js';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type EngineOptions = Pick<
  Config,
  'csvFile' | 'streamIntervalMs' | 'queueBufferSize' | 'streamers' | 'collectors' | 'loop' | 'timestampMode' | 'retentionMs' | 'maxSamplesPerSeries'
> & {
  /** Default inmemory. */
  storageType?: StorageType;
  /** Paces all streamers together to this many rows a second (latency benchmarks); default unpaced. */
  rowsPerSecond?: number;
  /** Owned rows a streamer keeps for replay (24 B each); default 4 M (96 MiB). */
  replayBudgetRows?: number;
  /** Node flags for the worker threads; default: the process' own. */
  workerExecArgv?: string[];
  /**
   * `ring` (default): native-free-ring. `postMessage` (a batch per message)
   * and `postMessageRecords` (a message per record): the same pipeline over
   * MessagePorts, the baselines of the ingest benchmark; fixed worker counts
   * (no scaling), and a crashed worker is not replaced.
   */
  transport?: 'ring' | 'postMessage' | 'postMessageRecords';
};

interface Running {
  worker: Worker;
  slot: number;
  /** The thread has exited. */
  gone: boolean;
  /** Resolves once the worker holds its ring slot. */
  ready: Promise<void>;
  exited: Promise<number>;
  stopping: boolean;
}

const collectorUrl = new URL('../collect/collector-worker.js', import.meta.url);
const streamerUrl = new URL('../ingest/streamer-worker.js', import.meta.url);

export class Engine {
  readonly registry = new Registry();
  /** The API's way in: queries through the STORAGE_TYPE store. */
  readonly store: TelemetryStore = new InMemoryStore(this.registry);
  readonly counters = new Counters();
  readonly ring: FreeRing;
  private readonly control = new SharedArrayBuffer(8 * 4);
  private readonly positions = new SharedArrayBuffer(MAX_STREAMERS * Position.Words * 4);
  private streamerCount = 0;
  private pauses = 0;
  private readonly streamers: Array<Running | undefined> = new Array(MAX_STREAMERS).fill(undefined);
  private readonly collectors: Array<Running | undefined> = new Array(MAX_COLLECTORS).fill(undefined);
  private nextShard = 0;
  /** Per collector slot: the wire definitions its collector learned (for a replacement). */
  private readonly collectorDefs: Definitions[] = Array.from({ length: MAX_COLLECTORS }, () => ({ gpus: [], metrics: [] }));
  private stopped = false;
  private streamersDone: Promise<void> = Promise.resolve();
  /** The postMessage baseline: [streamer][collector] channels. */
  private channels: MessageChannel[][] = [];

  constructor(
    private readonly options: EngineOptions,
    private readonly log: Logger,
  ) {
    this.ring = FreeRing.create({ maxProducers: MAX_STREAMERS, maxConsumers: MAX_COLLECTORS, laneCapacityBytes: options.queueBufferSize });
  }

  /** Starts collectors, then streamers. @throws CsvFileError / CsvHeaderError for a bad CSV_FILE */
  async start(): Promise<void> {
    await openRowSource(this.options.csvFile).check();
    if (this.options.transport !== undefined && this.options.transport !== 'ring') {
      this.channels = Array.from({ length: this.options.streamers }, () =>
        Array.from({ length: this.options.collectors }, () => new MessageChannel()),
      );
    }
    for (let i = 0; i < this.options.collectors; i++) this.startCollector(i, false);
    this.startStreamers(this.options.streamers, 0, 0);
    await Promise.all([...this.collectors, ...this.streamers].map((w) => w?.ready));
    this.log.info({ streamers: this.options.streamers, collectors: this.options.collectors, csvFile: this.options.csvFile }, 'pipeline started');
  }

  /**
   * Terminates a worker as a crash would (fault drills, tests): the engine
   * logs it and starts a replacement that takes its ring slot over.
   */
  async kill(role: 'streamer' | 'collector', slot: number): Promise<void> {
    const running = (role === 'streamer' ? this.streamers : this.collectors)[slot];
    if (running === undefined) throw new RangeError(`no ${role} runs in slot ${slot}`);
    await running.ready;
    await running.worker.terminate();
  }

  /** Resolves when every streamer has finished (LOOP=false: after one pass), across handovers. */
  async finished(): Promise<void> {
    for (;;) {
      const done = this.streamersDone;
      await done;
      if (done === this.streamersDone) return;
    }
  }

  get streamerCountNow(): number {
    return this.streamerCount;
  }

  /**
   * Changes the number of streamers while running. GPUs are shared out by
   * uuid hash mod the number of streamers, so every GPU may change hands: the
   * streamers pause, report where they are in the file, stream their rows up
   * to the furthest position (the cut) and exit; the new ones start at the
   * cut. Each row of each pass is streamed exactly once.
   */
  async scaleStreamers(n: number): Promise<void> {
    this.mustScale();
    if (!Number.isInteger(n) || n < 1 || n > MAX_STREAMERS) throw new RangeError(`streamers must be 1 to ${MAX_STREAMERS}, got ${n}`);
    const control = new Int32Array(this.control);
    const old = this.streamers.filter((r): r is Running => r !== undefined);
    await Promise.all(old.map((r) => r.ready));
    const pause = ++this.pauses;
    Atomics.store(control, Control.Pause, pause);
    const pos = (slot: number, word: number): number => Atomics.load(new Int32Array(this.positions), slot * Position.Words + word);
    // Every slot of the current set counts, also one whose streamer already
    // finished its pass and exited: its rows run to the end of that pass.
    const slots = Array.from({ length: this.streamerCount }, (_, slot) => slot);
    const answered = (slot: number): boolean => {
      const r = this.streamers[slot];
      return pos(slot, Position.Acked) === pause || pos(slot, Position.Finished) === 1 || r === undefined || r.gone;
    };
    for (const started = performance.now(); !slots.every(answered); ) {
      if (performance.now() - started > 10_000) throw new Error('streamers did not answer the pause within 10 s');
      await new Promise((r) => setTimeout(r, 2));
    }
    // The cut: the furthest any streamer has got (a finished one: the end of its last pass).
    let cutPass = 0;
    let cutLine = 0;
    for (const slot of slots) {
      const p = pos(slot, Position.Pass);
      const line = pos(slot, Position.Finished) === 1 ? END_LINE : pos(slot, Position.Line);
      if (p > cutPass || (p === cutPass && line > cutLine)) [cutPass, cutLine] = [p, line];
    }
    Atomics.store(control, Control.CutPass, cutPass);
    Atomics.store(control, Control.CutLine, cutLine);
    Atomics.store(control, Control.CutSet, 1);
    Atomics.add(control, Control.Bell, 1);
    Atomics.notify(control, Control.Bell);
    for (const r of old) r.stopping = true;
    await Promise.all(old.map((r) => r.exited));
    // Let the collectors take what the old streamers pushed before the new
    // ones push later samples of the same GPUs: each GPU's samples stay in time order.
    for (const started = performance.now(); this.ring.stats().depthBytes > 0; ) {
      if (performance.now() - started > 10_000) throw new Error('the ring did not drain within 10 s of a streamer handover');
      await new Promise((r) => setTimeout(r, 1));
    }
    Atomics.store(control, Control.CutSet, 0);
    Atomics.store(control, Control.Pause, 0);
    new Int32Array(this.positions).fill(0);
    if (this.stopped) return;
    this.startStreamers(n, cutPass, cutLine);
    await Promise.all(this.streamers.map((w) => w?.ready));
    this.log.info({ streamers: n, cutPass, cutLine }, 'streamers scaled');
  }

  private startStreamers(n: number, startPass: number, startLine: number): void {
    this.streamerCount = n;
    for (let i = 0; i < n; i++) this.startStreamer(i, false, n, startPass, startLine);
    this.streamersDone = Promise.all(this.streamers.map((s) => s?.exited)).then(() => undefined);
  }

  get collectorCount(): number {
    return this.collectors.filter((c) => c !== undefined && !c.stopping).length;
  }

  /**
   * Changes the number of collectors while running: new ones attach to free
   * ring slots; removed ones stop taking messages, drain what they hold and
   * exit (their store shard stays readable). Nothing is lost or duplicated.
   */
  async scaleCollectors(n: number): Promise<void> {
    this.mustScale();
    if (!Number.isInteger(n) || n < 1 || n > MAX_COLLECTORS) throw new RangeError(`collectors must be 1 to ${MAX_COLLECTORS}, got ${n}`);
    const running = this.collectors.filter((c): c is Running => c !== undefined && !c.stopping);
    const leaving = running.slice(n);
    const joining: Running[] = [];
    for (let slot = 0, have = running.length; have < n && slot < MAX_COLLECTORS; slot++) {
      if (this.collectors[slot] === undefined) {
        joining.push(this.startCollector(slot, false));
        have++;
      }
    }
    for (const c of leaving) c.stopping = true;
    // A collector stops by its ring slot: it must hold one first.
    await Promise.all([...joining, ...leaving].map((c) => c.ready));
    for (const c of leaving) this.ring.stopConsumer(c.slot);
    await Promise.all(leaving.map((c) => c.exited));
    this.log.info({ collectors: n }, 'collectors scaled');
  }

  /**
   * Spin before sleeping only while every worker can have a core to itself:
   * with more threads than cores a spinner steals the CPU from the thread it
   * waits for (measured at 10x10 on 2 cores: spinning ran at a third of the
   * rate of sleeping at once).
   */
  private waitPolicy(): WaitPolicy {
    const threads = Math.max(this.streamerCount, this.options.streamers) + Math.max(this.collectorCount, this.options.collectors);
    return threads <= availableParallelism() ? 'spin' : 'sleep';
  }

  private mustScale(): void {
    if (this.channels.length > 0) throw new Error('scaling needs the ring transport (postMessage is a benchmark baseline)');
  }

  /** Stops reading, drains the ring, lets collectors finish. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const control = new Int32Array(this.control);
    Atomics.store(control, Control.Stop, 1);
    Atomics.notify(control, Control.Stop);
    Atomics.add(control, Control.Bell, 1);
    Atomics.notify(control, Control.Bell);
    for (const s of this.streamers) if (s) s.stopping = true;
    await Promise.all(this.streamers.map((s) => s?.exited));
    this.ring.close();
    for (const c of this.collectors) if (c) c.stopping = true;
    await Promise.all(this.collectors.map((c) => c?.exited));
  }

  private startCollector(slot: number, takeover: boolean): Running {
    if (!takeover) this.collectorDefs[slot] = { gpus: [], metrics: [] };
    const defs = this.collectorDefs[slot]!;
    const job: CollectorJob = {
      defs,
      ring: this.ring.buffer,
      counters: this.counters.buffer,
      slot,
      shard: this.nextShard++,
      retentionMs: this.options.retentionMs,
      maxSamplesPerSeries: this.options.maxSamplesPerSeries,
      takeover,
      wait: this.waitPolicy(),
      storageType: this.options.storageType ?? 'inmemory',
    };
    const transferList: MessagePort[] = [];
    if (this.channels.length > 0) transferList.push(...(job.ports = this.channels.map((row) => row[slot]!.port2)));
    const worker = new Worker(collectorUrl, { workerData: job, transferList, execArgv: this.options.workerExecArgv ?? process.execArgv });
    worker.on('message', (m: CollectorMessage) => {
      if (m.t !== 'events') return;
      for (const e of m.events) this.registry.apply(e);
      defs.gpus.push(...m.defs.gpus);
      defs.metrics.push(...m.defs.metrics);
    });
    // A crashed collector's replacement takes its slot over and gets the batch
    // it had not acknowledged again (see collector-worker).
    const running = this.watch(worker, slot, 'collector', () => this.startCollector(slot, true), (r) => {
      if (this.collectors[slot] === r) this.collectors[slot] = undefined;
    });
    this.collectors[slot] = running;
    return running;
  }

  private startStreamer(slot: number, takeover: boolean, parts: number, startPass: number, startLine: number): void {
    const job: StreamerJob = {
      ring: this.ring.buffer,
      counters: this.counters.buffer,
      control: this.control,
      positions: this.positions,
      startPass,
      startLine,
      slot,
      part: slot,
      parts,
      csvFile: this.options.csvFile,
      loop: this.options.loop,
      streamIntervalMs: this.options.streamIntervalMs,
      rowsPerSecond: (this.options.rowsPerSecond ?? 0) / parts,
      timestampMode: this.options.timestampMode,
      replayBudgetRows: this.options.replayBudgetRows ?? 4_000_000,
      takeover,
      wait: this.waitPolicy(),
    };
    const transferList: MessagePort[] = [];
    if (this.channels.length > 0) {
      transferList.push(...(job.ports = this.channels[slot]!.map((c) => c.port1)));
      job.laneBytes = this.options.queueBufferSize;
      job.portMessages = this.options.transport === 'postMessageRecords' ? 'record' : 'batch';
    }
    const worker = new Worker(streamerUrl, { workerData: job, transferList, execArgv: this.options.workerExecArgv ?? process.execArgv });
    worker.on('message', (m: StreamerMessage) => {
      if (m.t === 'log') {
        const { t: _t, level, msg, ...fields } = m;
        this.log[level]({ ...fields, streamer: slot }, msg);
      }
    });
    this.streamers[slot] = this.watch(worker, slot, 'streamer', () => this.startStreamer(slot, true, parts, startPass, startLine), (r) => {
      if (this.streamers[slot] === r) this.streamers[slot] = undefined;
    });
  }

  /** Logs a crash and calls `replace`, unless the engine is stopping. */
  private watch(worker: Worker, slot: number, role: string, replace: () => void, gone: (r: Running) => void): Running {
    let crash: Error | undefined;
    worker.on('error', (err) => {
      crash = err;
    });
    const running: Running = {
      worker,
      slot,
      gone: false,
      stopping: false,
      ready: new Promise<void>((resolve) => {
        const onMessage = (m: { t: string }): void => {
          if (m.t !== 'ready') return;
          worker.off('message', onMessage);
          resolve();
        };
        worker.on('message', onMessage);
        worker.once('exit', () => resolve());
      }),
      exited: new Promise<number>((resolve) => {
        worker.once('exit', (code) => {
          running.gone = true;
          gone(running);
          if (code !== 0 || crash !== undefined) {
            this.log.error({ role, slot, code, err: crash?.stack ?? crash?.message }, `${role} ${slot} crashed`);
            if (!this.stopped && !running.stopping && this.channels.length === 0) {
              replace();
              const next = role === 'collector' ? this.collectors[slot] : this.streamers[slot];
              void next?.exited.then(resolve);
              return;
            }
          }
          resolve(code);
        });
      }),
    };
    return running;
  }
}
