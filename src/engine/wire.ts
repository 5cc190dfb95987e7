/**
 * The messages streamers send collectors through native-free-ring. Each
 * ring message is one record; a MessageBatch carries many.
 *
 * ```
 * Sample (28 bytes):  u32 kind=1 │ u32 gpuRef │ u32 metricRef │ f64 tsMs │ f64 value
 * Gpu:                u32 kind=2 │ u32 gpuRef │ UTF-8 JSON of the GpuIdentity
 * Metric:             u32 kind=3 │ u32 metricRef │ UTF-8 metric name
 * Clock (16 bytes):   u32 kind=4 │ u32 0 │ f64 readAtMs
 * ```
 *
 * A streamer starts each batch with a Clock: when the batch's first row was
 * read (wall-clock ms, sub-ms precision). The collector times ingest latency
 * (row read → queryable) from it, for the samples that follow.
 *
 * Refs are the streamer's dictionary indexes with its producer slot in the
 * top 8 bits, so refs from different streamers never collide. A streamer
 * defines a ref to a collector (Gpu, Metric) before its first Sample there;
 * the lane is FIFO, so the definition always arrives first.
 */
import type { MessageBatch } from 'native-free-ring';
import type { GpuIdentity } from '../ingest/dcgm-row.js';

export const Kind = { Sample: 1, Gpu: 2, Metric: 3, Clock: 4 } as const;
export const SAMPLE_BYTES = 28;
export const CLOCK_BYTES = 16;
const REF_BITS = 24;

export function globalRef(slot: number, local: number): number {
  if (local >= 1 << REF_BITS) throw new RangeError(`more than ${1 << REF_BITS} distinct GPUs or metrics in one stream`);
  return ((slot << REF_BITS) | local) >>> 0;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A DataView over a batch's bytes, cached per batch. */
const views = new WeakMap<MessageBatch, DataView>();
export function viewOf(batch: MessageBatch): DataView {
  let dv = views.get(batch);
  if (dv === undefined) {
    dv = new DataView(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength);
    views.set(batch, dv);
  }
  return dv;
}

/** Appends a Sample; false when the batch is full. */
export function writeSample(batch: MessageBatch, dv: DataView, gpuRef: number, metricRef: number, tsMs: number, value: number): boolean {
  const at = batch.reserve(SAMPLE_BYTES);
  if (at < 0) return false;
  dv.setUint32(at, Kind.Sample, true);
  dv.setUint32(at + 4, gpuRef, true);
  dv.setUint32(at + 8, metricRef, true);
  dv.setFloat64(at + 12, tsMs, true);
  dv.setFloat64(at + 20, value, true);
  return true;
}

/** Appends a Clock; false when the batch is full. */
export function writeClock(batch: MessageBatch, dv: DataView, readAtMs: number): boolean {
  const at = batch.reserve(CLOCK_BYTES);
  if (at < 0) return false;
  dv.setUint32(at, Kind.Clock, true);
  dv.setUint32(at + 4, 0, true);
  dv.setFloat64(at + 8, readAtMs, true);
  return true;
}

function writeText(batch: MessageBatch, dv: DataView, kind: number, ref: number, text: string): boolean {
  const bytes = encoder.encode(text);
  const at = batch.reserve(8 + bytes.length);
  if (at < 0) return false;
  dv.setUint32(at, kind, true);
  dv.setUint32(at + 4, ref, true);
  batch.bytes.set(bytes, at + 8);
  return true;
}

export function writeGpu(batch: MessageBatch, dv: DataView, ref: number, gpu: GpuIdentity): boolean {
  return writeText(batch, dv, Kind.Gpu, ref, JSON.stringify(gpu));
}

export function writeMetric(batch: MessageBatch, dv: DataView, ref: number, name: string): boolean {
  return writeText(batch, dv, Kind.Metric, ref, name);
}

export function readText(bytes: Uint8Array, offset: number, length: number): string {
  return decoder.decode(bytes.subarray(offset + 8, offset + length));
}

export function parseGpu(text: string): GpuIdentity | undefined {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const keys = ['uuid', 'gpuId', 'device', 'modelName', 'hostname', 'container', 'pod', 'namespace'] as const;
    if (v === null || typeof v !== 'object' || !keys.every((k) => typeof v[k] === 'string')) return undefined;
    return Object.freeze(Object.fromEntries(keys.map((k) => [k, v[k]]))) as unknown as GpuIdentity;
  } catch {
    return undefined;
  }
}
