/** Internals for tests and benchmarks: the layout constants and helpers. Not a stable API. */
export * from './index.js';
export * from './layout.js';
export { copyBytes } from './batch.js';
