/**
 * Thin, engine-neutral wrappers over the Atomics wait primitives, so that the
 * ring's blocking code reads the same on worker threads (Atomics.wait) and on
 * the main thread (Atomics.waitAsync, never blocking the event loop).
 */

/** Milliseconds on a monotonic clock (performance.now exists in every modern engine). */
export function nowMs(): number {
  return performance.now();
}

/** Deadline for a timeout in ms; Infinity for none. */
export function deadlineFor(timeoutMs: number): number {
  if (!(timeoutMs >= 0)) throw new RangeError(`timeoutMs must be a number >= 0, got ${timeoutMs}`);
  return timeoutMs === Infinity ? Infinity : nowMs() + timeoutMs;
}

/** Blocks the calling thread while `i32[index] === expected`, for at most `ms`. */
export function waitSync(i32: Int32Array, index: number, expected: number, ms: number): void {
  Atomics.wait(i32, index, expected, ms);
}

/** Resolves when `i32[index]` changes from `expected` or after `ms`; never blocks. */
export function waitAsync(i32: Int32Array, index: number, expected: number, ms: number): Promise<unknown> | undefined {
  const result = Atomics.waitAsync(i32, index, expected, ms);
  return result.async ? result.value : undefined;
}
