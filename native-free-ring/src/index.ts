/**
 * native-free-ring: a lock-free many-producer, many-consumer queue of
 * variable-length binary messages between worker threads, over one
 * SharedArrayBuffer and Atomics. No dependencies, no native code, no
 * Node-only API: it runs wherever SharedArrayBuffer and Atomics do.
 */
export { MessageBatch } from './batch.js';
export { RingClosedError } from './errors.js';
export {
  CLOSED,
  Consumer,
  DONE,
  FreeRing,
  Producer,
  type ConsumerOptions,
  type FreeRingOptions,
  type FullPolicy,
  type ProducerOptions,
  type RingStats,
  type WaitPolicy,
} from './ring.js';
