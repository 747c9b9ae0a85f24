// Node entry point: Node >= 25, or Node 24 with --experimental-wasm-jspi (JSPI
// is needed to wait on I/O from inside the engine). The engine runs on the calling
// thread, with Node's HTTP client behind wasi:http.

import { Quiver, QuiverError } from './quiver.js';
import { Session, describeError } from './session.js';

/** Calls the session directly, turning its errors into QuiverErrors. */
class LocalTransport {
  #session;

  constructor(session) {
    this.#session = session;
    this.info = session.info;
  }

  async call(method, args, { signal } = {}) {
    try {
      return await this.#session[method](...args, signal);
    } catch (error) {
      throw new QuiverError(describeError(error, signal));
    }
  }

  terminate() {}
}

/**
 * Starts an engine.
 * @param {{ build?: 'simd' | 'scalar', cache?: false | { maxBytes?: number }, engineBase?: string | URL }} [options]
 *   `cache` configures the range cache, kept in memory on Node (default 256 MiB; `false`: none).
 */
export async function start(options = {}) {
  const engineBase = String(new URL(options.engineBase ?? '../dist/engine/', import.meta.url));
  const session = await Session.start({ engineBase, build: options.build, gpu: false, cache: options.cache });
  return new Quiver(new LocalTransport(session));
}

let shared = null;

/** Opens a file on a shared engine, started on first use. */
export async function open(url, options) {
  shared ??= start();
  return (await shared).open(url, options);
}

export { Quiver, QuiverError };
export { DataType, QuiverFile, RecordBatch, Table, tableToIPC } from './quiver.js';
