// The one list of the engine's imports and exports that may suspend under
// JSPI. The Makefile passes it to `jco transpile` (--async-imports and
// --async-exports), and engine.js refuses, at run time, a Promise from any
// import not named here: jco lowers such a Promise as an empty value, which
// would give wrong answers with no error.

/** Imports whose JS implementation may return a Promise. */
export const ASYNC_IMPORTS = [
  'wasi:io/poll#poll',
  'wasi:io/poll#[method]pollable.block',
  'wasi:io/streams#[method]input-stream.blocking-read',
  'wasi:io/streams#[method]input-stream.blocking-skip',
  'quiver:engine/gpu#adapter',
  'quiver:engine/gpu#run',
  'quiver:engine/range-cache#lookup',
  'quiver:engine/range-cache#keep',
  'quiver:engine/range-cache#forget-other-versions',
];

/** Exports that may suspend (they do I/O or run GPU kernels); they return Promises. */
export const ASYNC_EXPORTS = [
  'quiver:engine/scan#open',
  'quiver:engine/scan#[method]parquet-file.scan',
  'quiver:engine/scan#[method]parquet-file.explain',
  'quiver:engine/scan#[method]batch-stream.next',
  'quiver:engine/scan#[method]batch-stream.next-event',
  'quiver:engine/range-fetch#open',
  'quiver:engine/range-fetch#[method]remote-file.read',
  'quiver:engine/filter#evaluate',
];
