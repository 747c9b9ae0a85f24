// The public JS API: open a Parquet file by URL, scan it into apache-arrow
// RecordBatches, or query it into a Table. The engine runs behind a transport
// (a module Worker in browsers, the same thread on Node); see browser.js and
// node.js for the entry points.

import { DataType, RecordBatch, Table, tableFromIPC, tableToIPC } from 'apache-arrow';

/** An error from the engine: `code` is the WIT error case (`http-status`, `corrupt-file`, …) or `cors`, `aborted`. */
export class QuiverError extends Error {
  constructor({ tag, message, status, url }) {
    super(message);
    this.name = tag === 'aborted' ? 'AbortError' : 'QuiverError';
    this.code = tag;
    if (status !== undefined) this.status = status;
    if (url !== undefined) this.url = url;
  }
}

/** The Arrow schema of an IPC stream that holds only a schema message. */
function schemaOf(ipc) {
  return tableFromIPC(ipc).schema;
}

function batchesOf(ipc) {
  return tableFromIPC(ipc).batches;
}

/** A running engine. Make one with the entry point's `start()` (or use its `open`). */
export class Quiver {
  #transport;

  /** @param transport `{ call(method, args, { signal, url }), info, terminate() }` */
  constructor(transport) {
    this.#transport = transport;
  }

  /** The build the engine runs (`simd` or `scalar`), and what the host offers (`simd`, `jspi`, `webgpu`). */
  get info() {
    return this.#transport.info;
  }

  /**
   * Opens a Parquet file and reads its footer (usually one range request).
   * @param {string} url `http://…` or `https://…` (a relative URL resolves against the page)
   * @param {{ tailBytes?: number, coalesceGap?: number, maxConcurrency?: number, cache?: boolean, signal?: AbortSignal }} [options]
   *   `cache: false` neither reads from nor adds to the range cache (see `clearCache`)
   */
  async open(url, options = {}) {
    const { signal, ...fetchOptions } = options;
    const absolute = String(new URL(url, globalThis.location?.href));
    const opened = await this.#transport.call('open', [absolute, fetchOptions], { signal, url: absolute });
    return new QuiverFile(this.#transport, absolute, opened);
  }

  /**
   * Empties the range cache: the ranges earlier opens fetched, which later opens of the same
   * file version read instead of fetching (in browsers the Cache API store, shared by the
   * origin's pages; on Node this engine's memory). Waits for the calls already made.
   */
  clearCache() {
    return this.#transport.call('clearCache', [], {});
  }

  /** Stops the engine (terminates its Worker). */
  terminate() {
    this.#transport.terminate();
  }
}

/** An open Parquet file. */
export class QuiverFile {
  #transport;
  #id;

  constructor(transport, url, opened) {
    this.#transport = transport;
    this.#id = opened.id;
    /** The URL the file was opened with. */
    this.url = url;
    /** What the footer says: size, numRows, columns, schemaTree, rowGroups, createdBy, keyValue, etag, version. */
    this.metadata = opened.metadata;
    /** The file's schema as an apache-arrow Schema. */
    this.schema = schemaOf(opened.arrowSchema);
    /** What the open cost: `{ path, fetch: { requests, bytesFetched, roundTrips, retries, cacheHits, cacheBytes } }`. */
    this.openStats = opened.openStats;
  }

  /**
   * Scans the file: an async iterable of apache-arrow RecordBatches, in file order.
   * `scan.stats` holds the scan's stats (as in `quiver scan --stats`) once a batch has come.
   * @param {ScanOptions} [options]
   */
  scan(options = {}) {
    return new Scan(this.#transport, this.#id, this.url, options);
  }

  /**
   * Runs a scan to the end and returns its rows as one apache-arrow Table; `options.onStats`
   * receives the final stats.
   * @param {ScanOptions & { onStats?: (stats: object) => void }} [options]
   */
  async query(options = {}) {
    const scan = this.scan(options);
    const batches = [];
    for await (const batch of scan) batches.push(batch);
    options.onStats?.(scan.stats);
    return new Table(await scan.schema, batches);
  }

  /** The scan's plan: row groups and pages kept or pruned, and the byte ranges of each phase. */
  explain(options = {}) {
    const { signal, ...request } = options;
    return this.#transport.call('explain', [this.#id, request], { signal, url: this.url });
  }

  /** Requests, bytes, round trips and cache hits on this file so far (its open and every scan). */
  fetchStats() {
    return this.#transport.call('fetchStats', [this.#id], { url: this.url });
  }

  /** Releases the file in the engine. Scans already started go on. */
  close() {
    return this.#transport.call('close', [this.#id], {});
  }
}

/** One scan; iterate it with `for await`. */
class Scan {
  #transport;
  #fileId;
  #url;
  #options;
  #schema;
  #resolveSchema;
  #rejectSchema;

  constructor(transport, fileId, url, options) {
    this.#transport = transport;
    this.#fileId = fileId;
    this.#url = url;
    this.#options = options;
    this.#schema = new Promise((resolve, reject) => {
      this.#resolveSchema = resolve;
      this.#rejectSchema = reject;
    });
    this.#schema.catch(() => {});
    /** The scan's stats so far; final once iteration has ended. */
    this.stats = null;
  }

  /** The Arrow schema of the scan's batches (a Promise: known once the scan has started). */
  get schema() {
    return this.#schema;
  }

  async *[Symbol.asyncIterator]() {
    const { signal, onProgress, columns, where, limit, offset, batchSize, compute, memoryLimit } = this.#options;
    const request = { columns, where, limit, offset, batchSize, compute, memoryLimit };
    const context = { signal, url: this.#url };
    let started;
    try {
      started = await this.#transport.call('scan', [this.#fileId, request], context);
      this.#resolveSchema(schemaOf(started.schema));
    } catch (error) {
      this.#rejectSchema(error);
      throw error;
    }
    let finished = false;
    try {
      for (;;) {
        const { batch, end, stats, progress } = await this.#transport.call('next', [started.id], context);
        if (stats) this.stats = stats;
        onProgress?.(progressOf(stats, progress, end));
        if (end) {
          finished = true;
          return;
        }
        if (batch !== null) for (const recordBatch of batchesOf(batch)) yield recordBatch;
      }
    } finally {
      if (!finished) this.#transport.call('close', [started.id], {}).catch(() => {});
    }
  }
}

/** What `onProgress` receives: the engine's progress, with the stats' counters beside it. */
function progressOf(stats, progress, done) {
  const fetched = progress?.bytesFetched ?? 0;
  const planned = progress?.bytesPlanned ?? 0;
  return {
    bytesFetched: fetched,
    bytesPlanned: planned,
    fraction: planned > 0 ? fetched / planned : done ? 1 : 0,
    rowGroupsDone: progress?.rowGroupsDone ?? 0,
    rowGroupsTotal: progress?.rowGroupsTotal ?? 0,
    requests: stats?.fetch.requests ?? 0,
    rowGroups: stats?.rowGroups ?? 0,
    rowGroupsPruned: stats?.rowGroupsPruned ?? 0,
    rowGroupsScanned: stats?.rowGroupsScanned ?? 0,
    rowsReturned: stats?.rowsReturned ?? 0,
    done,
  };
}

export { DataType, RecordBatch, Table, tableToIPC };
