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
  checkTimeout(timeoutMs);
  return timeoutMs === Infinity ? Infinity : nowMs() + timeoutMs;
}

/** Blocks the calling thread while `i32[index] === expected`, for at most `ms`. */
export function waitSync(i32: Int32Array, index: number, expected: number, ms: number): void {
  Atomics.wait(i32, index, expected, ms);
}

/** Keeps an event loop alive; far longer than any wait, cleared when the wait settles. */
const KEEP_ALIVE_MS = 2 ** 30;

/**
 * Resolves when `i32[index]` changes from `expected` or after `ms`; never
 * blocks. A pending Atomics.waitAsync holds no event-loop reference in some
 * engines (Node 20), so a timer does while the wait is pending: otherwise a
 * process whose only work is this wait would exit with the promise unsettled.
 */
export function waitAsync(i32: Int32Array, index: number, expected: number, ms: number): Promise<unknown> | undefined {
  const result = Atomics.waitAsync(i32, index, expected, ms);
  if (!result.async) return undefined;
  const keepAlive = setTimeout(() => {}, KEEP_ALIVE_MS);
  return result.value.finally(() => clearTimeout(keepAlive));
}

/** @throws RangeError unless `timeoutMs` is a number >= 0 (Infinity: no limit) */
export function checkTimeout(timeoutMs: number): void {
  if (!(timeoutMs >= 0)) throw new RangeError(`timeoutMs must be a number >= 0, got ${timeoutMs}`);
}
