/**
 * Where a streamer sends its batches: one lane per collector slot.
 *
 * - RingOutlet: native-free-ring, the pipeline's transport.
 * - PortOutlet: MessagePort.postMessage, the baselines the ingest benchmark
 *   compares the ring with: a whole batch per message (`batch`), or one
 *   message per record (`record`: the usual way to use postMessage). It
 *   keeps the ring's contract (a lane holds at most `laneBytes` in flight;
 *   the sender waits for room) with credit: the collector returns the bytes
 *   it has stored, once per event-loop turn. Fixed set of collectors; no
 *   scaling, no crash recovery.
 *
 * Streamer thread only.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { FreeRing, MessageBatch, Producer } from 'native-free-ring';

export interface Outlet {
  /** Collector slots (lanes). */
  readonly lanes: number;
  /** The collector that owns routing key `key` now; -1 while none is open. */
  route(key: number): number;
  /** The attachment of collector slot c (a slot reused by a new collector gets a new one). */
  generation(c: number): number;
  /**
   * Sends the batch to collector c only, blocking while its lane is full.
   * Returns the bytes delivered: less than `batch.byteLength` when c left
   * (or was replaced) meanwhile, and the rest must be routed again.
   */
  send(batch: MessageBatch, c: number, generation: number): number;
  readonly closed: boolean;
  close(): void;
}

export class RingOutlet implements Outlet {
  readonly lanes: number;

  constructor(
    private readonly ring: FreeRing,
    private readonly producer: Producer,
  ) {
    this.lanes = ring.layout.maxConsumers;
  }

  route(key: number): number {
    return this.producer.route(key);
  }

  generation(c: number): number {
    return this.producer.generation(c);
  }

  send(batch: MessageBatch, c: number, generation: number): number {
    this.producer.pushBatch(batch, Infinity, c, generation);
    return batch.sentBytes;
  }

  get closed(): boolean {
    return this.ring.closed;
  }

  close(): void {
    this.producer.detach();
  }
}

/** How long to sleep between looks for credit, ms. */
const CREDIT_POLL_MS = 0.05;

export class PortOutlet implements Outlet {
  readonly lanes: number;
  private readonly inFlightBytes: Float64Array;
  private readonly nap = new Int32Array(new SharedArrayBuffer(4));

  /** @param ports one per collector slot, in slot order */
  constructor(
    private readonly ports: readonly MessagePort[],
    private readonly laneBytes: number,
    private readonly per: 'batch' | 'record' = 'batch',
  ) {
    this.lanes = ports.length;
    this.inFlightBytes = new Float64Array(ports.length);
  }

  route(key: number): number {
    return (key >>> 0) % this.ports.length;
  }

  generation(): number {
    return 0;
  }

  send(batch: MessageBatch, c: number): number {
    const n = batch.byteLength;
    this.takeCredit(c);
    while (this.inFlightBytes[c]! > 0 && this.inFlightBytes[c]! + n > this.laneBytes) {
      Atomics.wait(this.nap, 0, 0, CREDIT_POLL_MS);
      this.takeCredit(c);
    }
    const port = this.ports[c]!;
    if (this.per === 'batch') {
      const copy = batch.bytes.slice(0, n);
      port.postMessage(copy.buffer, [copy.buffer]);
    } else {
      batch.forEach((bytes, offset, length) => {
        // The framed record: its length word, the payload, padding to 4 bytes.
        const record = bytes.slice(offset - 4, offset + ((length + 3) & ~3));
        port.postMessage(record.buffer, [record.buffer]);
      });
    }
    this.inFlightBytes[c]! += n;
    return n;
  }

  get closed(): boolean {
    return false;
  }

  /** Tells each collector this streamer is done (`null`). */
  close(): void {
    for (const port of this.ports) port.postMessage(null);
  }

  private takeCredit(c: number): void {
    for (let m = receiveMessageOnPort(this.ports[c]!); m !== undefined; m = receiveMessageOnPort(this.ports[c]!)) {
      this.inFlightBytes[c]! -= m.message as number;
    }
  }
}
