// One engine instance and the files and scans open in it, driven by plain
// messages: the module Worker (worker.js) and Node (node.js) both run one.
// Calls into the component are serialized (a component instance cannot be
// re-entered while a call is suspended). Everything that crosses out of here
// is structured-cloneable: numbers instead of u64 bigints, Arrow IPC bytes.

import { openRangeStore, rangeCacheImport } from './cache.js';
import { detectCapabilities, instantiateEngine } from './engine.js';
import { webGpuImport } from './gpu.js';

/**
 * An engine error as plain data: `tag` is the WIT error case, or `aborted`
 * when `signal` (the call's AbortSignal) was aborted, whatever failed then.
 */
export function describeError(error, signal) {
  if (signal?.aborted || error?.name === 'AbortError') {
    return { tag: 'aborted', message: 'the operation was aborted' };
  }
  const payload = error?.payload;
  if (payload && typeof payload.tag === 'string') {
    const val = payload.val;
    if (payload.tag === 'http-status') {
      return { tag: 'http-status', message: `HTTP ${val.status} from ${val.url}`, status: val.status, url: val.url };
    }
    if (payload.tag === 'range-out-of-bounds') {
      return { tag: payload.tag, message: `byte range ${val.offset}+${val.length} reaches past the end of the file` };
    }
    return { tag: payload.tag, message: String(val) };
  }
  return { tag: 'internal', message: String(error?.message ?? error) };
}

/** Converts the bigints of a WIT record (u64 fields) to numbers, recursively. */
export function plain(value) {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** The WIT `compute-preference` cases. */
const COMPUTE_PREFERENCES = ['auto', 'gpu', 'simd', 'scalar'];

/** A bad argument from JS, reported as the WIT `invalid-argument` error. */
function invalidArgument(message) {
  const error = new Error(message);
  error.payload = { tag: 'invalid-argument', val: message };
  return error;
}

/** A WIT `option<u64>` from a non-negative integer (number or bigint), absent when not given. */
function u64(value, name) {
  if (value === undefined || value === null) return undefined;
  const valid = typeof value === 'bigint' ? value >= 0n : Number.isSafeInteger(value) && value >= 0;
  if (!valid) throw invalidArgument(`${name} must be a non-negative integer, not ${String(value)}`);
  return BigInt(value);
}

/** A WIT `option<u32>` from an integer of at least `least` (1 unless said), absent when not given. */
function u32(value, name, least = 1) {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || value < least || value > 0xffffffff) {
    throw invalidArgument(`${name} must be an integer from ${least} to 4294967295, not ${String(value)}`);
  }
  return value;
}

function columnList(columns) {
  if (columns === undefined || columns === null) return undefined;
  if (!Array.isArray(columns) || columns.some((c) => typeof c !== 'string')) {
    throw invalidArgument('columns must be an array of column names');
  }
  return columns;
}

/** The WIT `scan-request` for a JS scan request `{ columns, where, limit, offset, batchSize, compute, memoryLimit }`. */
export function scanRequest(request = {}) {
  const compute = request.compute ?? undefined;
  if (compute !== undefined && !COMPUTE_PREFERENCES.includes(compute)) {
    throw invalidArgument(`compute must be one of ${COMPUTE_PREFERENCES.join(', ')}, not ${String(compute)}`);
  }
  return {
    columns: columnList(request.columns),
    filter: request.where ? { tag: 'sql', val: String(request.where) } : undefined,
    offset: u64(request.offset, 'offset'),
    limit: u64(request.limit, 'limit'),
    batchSize: u32(request.batchSize, 'batchSize'),
    compute,
    memoryLimit: u64(request.memoryLimit, 'memoryLimit'),
  };
}

/** Options of `open`: `{ tailBytes, coalesceGap, maxConcurrency, maxRetries, retryDeadlineMs, conditionalRequests, idleTimeoutMs, memoryLimit, cache }`. */
function openOptions(options = {}) {
  return {
    fetch: {
      tailBytes: u64(options.tailBytes, 'tailBytes'),
      coalesceGap: u64(options.coalesceGap, 'coalesceGap'),
      maxConcurrency: u32(options.maxConcurrency, 'maxConcurrency'),
      maxRetries: u32(options.maxRetries, 'maxRetries', 0),
      retryDeadlineMs: u32(options.retryDeadlineMs, 'retryDeadlineMs'),
      idleTimeoutMs: u32(options.idleTimeoutMs, 'idleTimeoutMs'),
      memoryLimit: u64(options.memoryLimit, 'memoryLimit'),
      conditionalRequests: options.conditionalRequests === undefined ? undefined : Boolean(options.conditionalRequests),
      cache: options.cache === undefined ? undefined : Boolean(options.cache),
    },
  };
}

/** The engine's `cache` option, checked: `false`, or `{ maxBytes? }`. */
function cacheOptions(cache) {
  if (cache === false) return false;
  if (cache === undefined || cache === null || cache === true) return {};
  if (typeof cache !== 'object') throw invalidArgument(`cache must be false or { maxBytes }, not ${String(cache)}`);
  return { maxBytes: cache.maxBytes === undefined ? undefined : Number(u64(cache.maxBytes, 'cache.maxBytes')) };
}

/** `options` with `defaults` where it leaves a key unset (absent or `undefined`). */
function withDefaults(defaults, options = {}) {
  const given = Object.entries(options).filter(([, value]) => value !== undefined);
  return { ...defaults, ...Object.fromEntries(given) };
}

export class Session {
  #engine;
  #store = null;
  #capabilities;
  #build;
  #files = new Map();
  #streams = new Map();
  #nextId = 1;
  #queue = Promise.resolve();
  #abort = null;

  #openDefaults = {};
  #scanDefaults = {};

  /**
   * @param {{ engineBase: URL | string, build?: 'simd' | 'scalar', gpu?: boolean, cache?: false | { maxBytes?: number }, openDefaults?: object, scanDefaults?: object }} options
   *   `cache`: the range cache (see cache.js): `false` keeps no ranges, `maxBytes` bounds it;
   *   `openDefaults`: options of every `open` unless it sets them (see `openOptions`);
   *   `scanDefaults`: the same for every scan and explain (see `scanRequest`).
   */
  static async start({ engineBase, build, gpu = true, cache, openDefaults = {}, scanDefaults = {} }) {
    const session = new Session();
    const cacheConfig = cacheOptions(cache);
    // Without a store, opens need not ask it anything.
    session.#openDefaults = cacheConfig === false ? { ...openDefaults, cache: false } : openDefaults;
    session.#scanDefaults = scanDefaults;
    session.#store = openRangeStore(cacheConfig);
    const gpuImport = webGpuImport({ enabled: gpu });
    session.#capabilities = await detectCapabilities(gpuImport);
    session.#build = build ?? (session.#capabilities.simd ? 'simd' : 'scalar');
    session.#engine = await instantiateEngine({
      engineBase,
      build: session.#build,
      gpu: gpuImport,
      rangeCache: rangeCacheImport(session.#store),
    });
    return session;
  }

  /** What the engine runs on: the build, SIMD, JSPI and WebGPU presence. */
  get info() {
    return { build: this.#build, ...this.#capabilities };
  }

  /**
   * Runs `fn` once every earlier call has ended, and ends once the ranges it
   * kept in the range cache are stored; `signal` (an AbortSignal) aborts the
   * fetches it starts (see `abortSignal`).
   */
  #serialize(fn, signal) {
    const run = this.#queue.then(async () => {
      signal?.throwIfAborted();
      this.#abort = signal ?? null;
      try {
        return await fn();
      } finally {
        // the ranges the call kept are stored by the time it returns (see RangeStore.flush)
        await this.#store?.flush();
        this.#abort = null;
      }
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** The signal of the call running now, for the fetch() wrapper of a browser host. */
  get abortSignal() {
    return this.#abort;
  }

  #file(id) {
    const file = this.#files.get(id);
    if (!file) throw new Error(`no open file ${id}`);
    return file;
  }

  /** Opens a Parquet file; returns its id, metadata and open stats. */
  open(url, options, signal) {
    return this.#serialize(async () => {
      const file = await this.#engine.scan.open(String(url), openOptions(withDefaults(this.#openDefaults, options)));
      const id = this.#nextId++;
      this.#files.set(id, file);
      const { arrowSchema, ...metadata } = file.metadata();
      return { id, metadata: plain(metadata), arrowSchema, openStats: plain(file.openStats()) };
    }, signal);
  }

  /** Starts a scan; returns its id and the Arrow IPC schema of its batches. */
  scan(fileId, request, signal) {
    return this.#serialize(async () => {
      const stream = await this.#file(fileId).scan(scanRequest(withDefaults(this.#scanDefaults, request)));
      const id = this.#nextId++;
      this.#streams.set(id, stream);
      return { id, schema: stream.schema() };
    }, signal);
  }

  /**
   * What a scan yields next, with its stats and progress so far: a batch as Arrow IPC bytes,
   * or (`batch: null`) progress after a wave of requests, or the end (`end: true`).
   */
  next(streamId, signal) {
    return this.#serialize(async () => {
      const stream = this.#streams.get(streamId);
      if (!stream) return { batch: null, end: true, stats: null, progress: null };
      const event = (await stream.nextEvent()) ?? null;
      const batch = event?.tag === 'batch' ? event.val : null;
      const stats = plain(stream.stats());
      const progress = plain(stream.progress());
      if (event === null) this.close(streamId);
      return { batch, end: event === null, stats, progress };
    }, signal);
  }

  /** The plan of a scan, without reading data pages. */
  explain(fileId, request, signal) {
    return this.#serialize(async () => plain(await this.#file(fileId).explain(scanRequest(request))), signal);
  }

  /** Traffic on a file so far. */
  fetchStats(fileId) {
    return this.#serialize(async () => plain(this.#file(fileId).fetchStats()));
  }

  /** Empties the range cache (its Cache API store too), once every earlier call has ended. */
  clearCache(signal) {
    return this.#serialize(async () => {
      await this.#store?.clear();
    }, signal);
  }

  /** Drops a file or a scan. */
  close(id) {
    const resource = this.#files.get(id) ?? this.#streams.get(id);
    this.#files.delete(id);
    this.#streams.delete(id);
    resource?.[Symbol.dispose]?.();
  }
}
