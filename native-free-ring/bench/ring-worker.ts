/**
 * Worker side of the ring benchmark. One script, four roles:
 * - ring-producer / ring-consumer: native-free-ring
 * - pm-producer / pm-consumer: the baseline, MessagePort.postMessage
 *
 * Every payload starts with (producer id: u32, sequence: u32), so consumers
 * can check per-producer order and the work cannot be optimised away.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { DONE, FreeRing, MessageBatch } from '../src/index.js';

export interface WorkerJob {
  role: 'ring-producer' | 'ring-consumer' | 'pm-producer' | 'pm-consumer';
  id: number;
  bytes: number;
  batch: number;
  /** Int32 control words: [0] go (0/1), [1] stop (0/1). */
  control: SharedArrayBuffer;
  ring?: SharedArrayBuffer;
  ports?: MessagePort[];
  producers: number;
}

export interface WorkerResult {
  id: number;
  messages: number;
  /** Messages that arrived out of per-producer order (must be 0). */
  disorder: number;
  checksum: number;
}

const GO = 0;
const STOP = 1;
const job = workerData as WorkerJob;
const control = new Int32Array(job.control);

function waitForGo(): void {
  parentPort!.postMessage('ready');
  while (Atomics.load(control, GO) === 0) Atomics.wait(control, GO, 0, 100);
}

function writeHeader(buf: Uint8Array, at: number, id: number, seq: number): void {
  buf[at] = id;
  buf[at + 1] = id >>> 8;
  buf[at + 4] = seq;
  buf[at + 5] = seq >>> 8;
  buf[at + 6] = seq >>> 16;
  buf[at + 7] = seq >>> 24;
}

/** Per-producer order check; returns the running checksum contribution. */
class OrderCheck {
  readonly last: Int32Array;
  disorder = 0;
  messages = 0;
  checksum = 0;
  constructor(producers: number) {
    this.last = new Int32Array(producers).fill(-1);
  }
  see(buf: Uint8Array, at: number): void {
    const id = buf[at]! | (buf[at + 1]! << 8);
    const seq = buf[at + 4]! | (buf[at + 5]! << 8) | (buf[at + 6]! << 16) | (buf[at + 7]! << 24);
    if (seq <= this.last[id]!) this.disorder++;
    this.last[id] = seq;
    this.messages++;
    this.checksum = (this.checksum + seq) | 0;
  }
  result(id: number): WorkerResult {
    return { id, messages: this.messages, disorder: this.disorder, checksum: this.checksum };
  }
}

function ringProducer(): WorkerResult {
  const ring = FreeRing.from(job.ring!);
  const producer = ring.attachProducer({ index: job.id });
  let seq = 0;
  waitForGo();
  if (job.batch === 1) {
    const msg = new Uint8Array(job.bytes);
    while (Atomics.load(control, STOP) === 0) {
      for (let i = 0; i < 256; i++) {
        writeHeader(msg, 0, job.id, seq++);
        producer.push(msg);
      }
    }
  } else {
    const batch = new MessageBatch((job.bytes + 4) * job.batch);
    while (Atomics.load(control, STOP) === 0) {
      batch.reset();
      for (let i = 0; i < job.batch; i++) writeHeader(batch.bytes, batch.reserve(job.bytes), job.id, seq++);
      producer.pushBatch(batch);
    }
  }
  producer.detach();
  return { id: job.id, messages: seq, disorder: 0, checksum: 0 };
}

function ringConsumer(): WorkerResult {
  const ring = FreeRing.from(job.ring!);
  const consumer = ring.attachConsumer({ index: job.id });
  const check = new OrderCheck(job.producers);
  const batch = new MessageBatch(Math.max(4096, (job.bytes + 4) * job.batch));
  const see = (bytes: Uint8Array, offset: number): void => check.see(bytes, offset);
  waitForGo();
  for (;;) {
    batch.reset();
    const n = consumer.pop(batch, job.batch);
    if (n === DONE) break;
    batch.forEach(see);
  }
  return check.result(job.id);
}

function pmProducer(): WorkerResult {
  const ports = job.ports!;
  let seq = 0;
  let next = 0;
  waitForGo();
  if (job.batch === 1) {
    const msg = new Uint8Array(job.bytes);
    while (Atomics.load(control, STOP) === 0) {
      for (let i = 0; i < 256; i++) {
        writeHeader(msg, 0, job.id, seq++);
        ports[next]!.postMessage(msg);
        next = next + 1 === ports.length ? 0 : next + 1;
      }
    }
  } else {
    const msgs = Array.from({ length: job.batch }, () => new Uint8Array(job.bytes));
    while (Atomics.load(control, STOP) === 0) {
      for (const msg of msgs) writeHeader(msg, 0, job.id, seq++);
      ports[next]!.postMessage(msgs);
      next = next + 1 === ports.length ? 0 : next + 1;
    }
  }
  for (const port of ports) port.postMessage(null);
  return { id: job.id, messages: seq, disorder: 0, checksum: 0 };
}

function pmConsumer(): Promise<WorkerResult> {
  const ports = job.ports!;
  const check = new OrderCheck(job.producers);
  let open = ports.length;
  return new Promise((resolve) => {
    for (const port of ports) {
      port.on('message', (m: Uint8Array | Uint8Array[] | null) => {
        if (m === null) {
          port.close();
          if (--open === 0) resolve(check.result(job.id));
        } else if (Array.isArray(m)) {
          for (const msg of m) check.see(msg, 0);
        } else {
          check.see(m, 0);
        }
      });
    }
    waitForGo();
  });
}

async function main(): Promise<void> {
  let result: WorkerResult;
  switch (job.role) {
    case 'ring-producer':
      result = ringProducer();
      break;
    case 'ring-consumer':
      result = ringConsumer();
      break;
    case 'pm-producer':
      result = pmProducer();
      break;
    case 'pm-consumer':
      result = await pmConsumer();
      break;
  }
  parentPort!.postMessage(result);
}

void main();
