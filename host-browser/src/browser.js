// Browser entry point: the engine runs in a module Worker (quiver-worker.js,
// beside this module), so a page never blocks on it.

import { Quiver, QuiverError } from './quiver.js';

/**
 * Requests in flight per file by default: browsers open at most 6 HTTP/1.1
 * connections per host, so more would only queue. Knowing this, the engine's
 * planner merges ranges across wider gaps instead of waiting for a free slot.
 * Over HTTP/2 a larger `maxConcurrency` (an `open` option) may pay.
 */
const BROWSER_CONNECTIONS_PER_HOST = 6;

/** Talks to the engine's Worker. */
class WorkerTransport {
  #worker;
  #calls = new Map();
  #nextCall = 1;

  constructor(worker, info) {
    this.#worker = worker;
    this.info = info;
    worker.onmessage = ({ data }) => {
      const pending = this.#calls.get(data.call);
      if (!pending) return;
      this.#calls.delete(data.call);
      if (data.error) pending.reject(new QuiverError(data.error));
      else pending.resolve(data.value);
    };
  }

  static async start(worker, options) {
    const ready = new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => (data.ready ? resolve(data.info) : reject(new QuiverError(data.error)));
      worker.onerror = (event) => reject(new Error(`the Quiver worker failed to load: ${event.message ?? 'unknown error'}`));
    });
    worker.postMessage({ start: options });
    return new WorkerTransport(worker, await ready);
  }

  call(method, args, { signal, url } = {}) {
    if (signal?.aborted) return Promise.reject(new QuiverError({ tag: 'aborted', message: 'the operation was aborted' }));
    const call = this.#nextCall++;
    return new Promise((resolve, reject) => {
      this.#calls.set(call, { resolve, reject });
      signal?.addEventListener('abort', () => this.#worker.postMessage({ abort: call }), { once: true });
      this.#worker.postMessage({ call, method, args, url });
    });
  }

  terminate() {
    this.#worker.terminate();
    for (const { reject } of this.#calls.values()) reject(new QuiverError({ tag: 'aborted', message: 'the engine was stopped' }));
    this.#calls.clear();
  }
}

/** The default memory limit of a scan in a browser: 1.5 GiB. */
const BROWSER_MEMORY_LIMIT = 1.5 * 2 ** 30;

/**
 * Starts an engine in a module Worker.
 * @param {{ build?: 'simd' | 'scalar', gpu?: boolean, cache?: false | { maxBytes?: number }, workerUrl?: string | URL, engineBase?: string | URL }} [options]
 *   `build` defaults to `simd` where the browser has SIMD128; `gpu: false` hides WebGPU from the engine;
 *   `cache` configures the range cache in the Cache API (default 256 MiB; `false`: none).
 */
export async function start(options = {}) {
  const workerUrl = new URL(options.workerUrl ?? './quiver-worker.js', import.meta.url);
  const engineBase = String(new URL(options.engineBase ?? './engine/', import.meta.url));
  const worker = new Worker(workerUrl, { type: 'module', name: 'quiver' });
  const transport = await WorkerTransport.start(worker, {
    engineBase,
    build: options.build,
    gpu: options.gpu ?? true,
    cache: options.cache,
    // If-Match would make every cross-origin range request need a CORS
    // preflight (a round trip each): compare responses' validators instead.
    // A tab's memory is scarcer than a process's: it bounds scans, and the
    // body of a server that ignores Range.
    openDefaults: {
      maxConcurrency: BROWSER_CONNECTIONS_PER_HOST,
      conditionalRequests: false,
      memoryLimit: BROWSER_MEMORY_LIMIT,
    },
    scanDefaults: { memoryLimit: BROWSER_MEMORY_LIMIT },
  });
  return new Quiver(transport);
}

let shared = null;

/** Opens a file on a shared engine, started on first use. */
export async function open(url, options) {
  shared ??= start();
  return (await shared).open(url, options);
}

export { Quiver, QuiverError };
export { DataType, QuiverFile, RecordBatch, Table, tableToIPC } from './quiver.js';
