// The `quiver:engine/range-cache` import: storage for the byte ranges the
// engine fetched, so that a later open of the same file version reads them
// without a request. The engine holds the policy (it caches only files with a
// strong ETag, and forgets a URL's other versions at each open); this file
// only stores bytes, within a size bound, dropping the least recently used
// ranges first. A store may drop anything at any time: a lookup it cannot
// answer costs a fetch, never a wrong answer, so every storage failure here
// (quota, private mode, an entry another tab removed) is a miss.
//
// Where `caches` exists (windows and workers in secure contexts) ranges go to
// the Cache API, which outlives the page. Elsewhere (Node, and pages served
// over plain http from another host than localhost) they are kept in memory,
// bounded the same way: a Node process that queries the same files again
// (a server, a notebook) gains as much as a page does, and one that does not
// holds at most `maxBytes`, or nothing with `cache: false`.

/** Size a store keeps to unless told otherwise: 256 MiB. */
const DEFAULT_MAX_BYTES = 256 * 2 ** 20;

/**
 * Most bytes of kept ranges also held in memory once read: a scan looks up each of its pages
 * in the request that fetched them, so an entry is read from storage once, not once per page.
 */
const RECENT_BYTES = 64 * 2 ** 20;

/** The Cache API cache that holds the ranges; the suffix changes with the key format. */
const CACHE_NAME = 'quiver-ranges-v1';

/** Base of the synthetic request URLs the Cache API keeps ranges under (never fetched). */
const KEY_BASE = 'https://range-cache.quiver.invalid/range';

/** The Cache API key of one kept range. */
function keyOf(url, validator, offset, length) {
  const params = new URLSearchParams({ url, validator, offset: String(offset), length: String(length) });
  return `${KEY_BASE}?${params}`;
}

/** The entry a Cache API key names, or `null` for a key in another format. */
function entryOfKey(key) {
  const parsed = new URL(key);
  const [url, validator, offset, length] = ['url', 'validator', 'offset', 'length'].map((name) => parsed.searchParams.get(name));
  if (`${parsed.origin}${parsed.pathname}` !== KEY_BASE || url === null || validator === null) return null;
  const entry = { key, url, validator, offset: Number(offset), length: Number(length) };
  const valid = Number.isSafeInteger(entry.offset) && entry.offset >= 0 && Number.isSafeInteger(entry.length) && entry.length > 0;
  return valid && key === keyOf(url, validator, entry.offset, entry.length) ? entry : null;
}

/** Ranges kept in memory, by key. */
class MemoryBackend {
  #bytes = new Map();

  async keys() {
    return [];
  }

  async get(key) {
    return this.#bytes.get(key);
  }

  async put(key, bytes) {
    this.#bytes.set(key, bytes);
  }

  async delete(key) {
    this.#bytes.delete(key);
  }

  async clear() {
    this.#bytes.clear();
  }
}

/** Ranges kept with the Cache API, each as a Response under its key. */
class CacheApiBackend {
  #caches;
  #cache = null;

  constructor(caches) {
    this.#caches = caches;
  }

  #open() {
    this.#cache ??= this.#caches.open(CACHE_NAME);
    return this.#cache;
  }

  /** The keys of every range kept, oldest first (the Cache API keeps insertion order). */
  async keys() {
    const requests = await (await this.#open()).keys();
    return requests.map((request) => request.url);
  }

  async get(key) {
    const response = await (await this.#open()).match(key);
    return response ? new Uint8Array(await response.arrayBuffer()) : undefined;
  }

  async put(key, bytes) {
    await (await this.#open()).put(key, new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream' } }));
  }

  async delete(key) {
    await (await this.#open()).delete(key);
  }

  async clear() {
    this.#cache = null;
    await this.#caches.delete(CACHE_NAME);
  }
}

/**
 * A size-bounded LRU store of byte ranges over a backend (the Cache API or
 * memory). An index in memory says which ranges are kept, so a miss costs
 * no storage access and a lookup inside a kept range finds it. The Cache
 * API's index is rebuilt from its keys on first use, oldest first, so kept
 * ranges outlive the page; recency is this instance's own. All methods
 * resolve, never reject: a failure is a miss or a range not kept.
 *
 * `keep` does not wait for its write: the engine keeps a wave's ranges one
 * call at a time, and each Cache API write costs about 2 ms. Writes run
 * together instead (a cold full scan of 88 ranges on loopback, Chromium:
 * 220 ms waiting on each, about 170 ms together, 40 ms without the cache); a
 * range being written is served from its bytes, and `flush` waits for them
 * all (the session does at the end of each call).
 */
export class RangeStore {
  #backend;
  #maxBytes;
  #ready = null;
  #usable = true;
  /**
   * Every entry `{ key, url, validator, offset, length, written, pending }` by key, least
   * recently used first: `written` resolves (never rejects) once its write has ended, and
   * `pending` holds its bytes until then.
   */
  #lru = new Map();
  /** The entries of each URL. */
  #byUrl = new Map();
  #bytes = 0;
  /** The `written` promises of the writes in flight. */
  #writing = new Set();
  /** The bytes of entries read lately, by key, oldest first, at most RECENT_BYTES in all. */
  #recent = new Map();
  #recentBytes = 0;

  /**
   * @param {{ keys(): Promise<string[]>, get(key): Promise<Uint8Array | undefined>, put(key, bytes): Promise<void>, delete(key): Promise<void>, clear(): Promise<void> }} backend
   * @param {number} maxBytes the most bytes of ranges kept
   */
  constructor(backend, maxBytes) {
    this.#backend = backend;
    this.#maxBytes = maxBytes;
  }

  /** Loads the index from the backend, once; a backend that cannot list its keys is never used. */
  #load() {
    this.#ready ??= (async () => {
      try {
        for (const key of await this.#backend.keys()) {
          const entry = entryOfKey(key);
          if (entry) this.#add(entry);
          else await this.#backend.delete(key);
        }
        await this.#shrink(this.#maxBytes);
      } catch {
        this.#usable = false;
      }
    })();
    return this.#ready;
  }

  #add(entry) {
    entry.written ??= Promise.resolve();
    this.#lru.set(entry.key, entry);
    let entries = this.#byUrl.get(entry.url);
    if (!entries) this.#byUrl.set(entry.url, (entries = new Set()));
    entries.add(entry);
    this.#bytes += entry.length;
  }

  /** Drops an entry from the index and the backend (once its write has ended). */
  async #drop(entry) {
    if (!this.#lru.delete(entry.key)) return;
    const entries = this.#byUrl.get(entry.url);
    entries.delete(entry);
    if (entries.size === 0) this.#byUrl.delete(entry.url);
    this.#bytes -= entry.length;
    this.#forgetRecent(entry.key);
    await entry.written;
    await this.#backend.delete(entry.key).catch(() => {});
  }

  /** Evicts least recently used entries until at most `limit` bytes are kept. */
  async #shrink(limit) {
    for (const entry of this.#lru.values()) {
      if (this.#bytes <= limit) return;
      await this.#drop(entry);
    }
  }

  /** The kept entry of `url` and `validator` that holds `offset .. offset + length`. */
  #covering(url, validator, offset, length) {
    for (const entry of this.#byUrl.get(url) ?? []) {
      if (entry.validator === validator && entry.offset <= offset && offset + length <= entry.offset + entry.length) return entry;
    }
    return undefined;
  }

  /**
   * The bytes `offset .. offset + length` of the file version, if one kept range holds them all.
   * @returns {Promise<Uint8Array | undefined>}
   */
  async lookup(url, validator, offset, length) {
    await this.#load();
    if (!this.#usable || length <= 0) return undefined;
    const entry = this.#covering(url, validator, offset, length);
    if (!entry) return undefined;
    const bytes = entry.pending ?? this.#recent.get(entry.key) ?? (await this.#read(entry));
    if (!bytes || bytes.length !== entry.length) {
      await this.#drop(entry);
      return undefined;
    }
    this.#lru.delete(entry.key);
    this.#lru.set(entry.key, entry);
    const start = offset - entry.offset;
    return bytes.subarray(start, start + length);
  }

  /** An entry's bytes from the backend, held in memory for the lookups that follow. */
  async #read(entry) {
    const bytes = await this.#backend.get(entry.key).catch(() => undefined);
    if (!bytes || bytes.length > RECENT_BYTES) return bytes;
    this.#recent.set(entry.key, bytes);
    this.#recentBytes += bytes.length;
    for (const key of this.#recent.keys()) {
      if (this.#recentBytes <= RECENT_BYTES) break;
      this.#forgetRecent(key);
    }
    return bytes;
  }

  #forgetRecent(key) {
    const bytes = this.#recent.get(key);
    if (bytes === undefined) return;
    this.#recent.delete(key);
    this.#recentBytes -= bytes.length;
  }

  /**
   * Keeps `bytes`, which start at `offset` in the file version, evicting the least recently
   * used ranges to stay within the bound; ranges it contains are dropped, a range already
   * held is not kept twice, and one larger than the bound is not kept at all. Starts the
   * write and returns (see `flush`); a write that fails (quota) drops the range.
   */
  async keep(url, validator, offset, bytes) {
    await this.#load();
    const length = bytes.length;
    if (!this.#usable || length === 0 || length > this.#maxBytes || this.#covering(url, validator, offset, length)) return;
    const contained = [...(this.#byUrl.get(url) ?? [])].filter(
      (e) => e.validator === validator && offset <= e.offset && e.offset + e.length <= offset + length,
    );
    const entry = { key: keyOf(url, validator, offset, length), url, validator, offset, length, pending: bytes };
    entry.written = this.#backend.put(entry.key, bytes).then(() => true, () => false);
    this.#add(entry);
    this.#writing.add(entry.written);
    entry.written.then((stored) => {
      this.#writing.delete(entry.written);
      if (stored) entry.pending = undefined;
      else this.#drop(entry);
    });
    for (const e of contained) await this.#drop(e);
    await this.#shrink(this.#maxBytes);
  }

  /** Waits until every write `keep` started has ended. */
  async flush() {
    await Promise.all(this.#writing);
  }

  /** Drops every range of `url` but those of the version `current` (every range when it is absent). */
  async forgetOtherVersions(url, current) {
    await this.#load();
    const stale = [...(this.#byUrl.get(url) ?? [])].filter((entry) => entry.validator !== current);
    for (const entry of stale) await this.#drop(entry);
  }

  /** Drops every range kept. */
  async clear() {
    await this.#load();
    await this.flush();
    this.#lru.clear();
    this.#byUrl.clear();
    this.#bytes = 0;
    this.#recent.clear();
    this.#recentBytes = 0;
    await this.#backend.clear().catch(() => {});
  }
}

/**
 * The store for this JS environment: the Cache API where `caches` exists, else memory.
 * @param {false | { maxBytes?: number }} [options] `false`: no store (`null`); `maxBytes`
 *   (a non-negative integer, checked by the caller) bounds the ranges kept (default 256 MiB)
 * @returns {RangeStore | null}
 */
export function openRangeStore(options = {}) {
  if (options === false) return null;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const backend = globalThis.caches ? new CacheApiBackend(globalThis.caches) : new MemoryBackend();
  return new RangeStore(backend, maxBytes);
}

/**
 * The `quiver:engine/range-cache` import over `store` (see `openRangeStore`); with no store,
 * every lookup misses and nothing is kept. Its functions return Promises: they are listed in
 * ASYNC_IMPORTS, so the engine waits on them (JSPI).
 * @param {RangeStore | null} store
 */
export function rangeCacheImport(store) {
  return {
    /** `lookup(file-version, offset, length) -> option<list<u8>>` */
    async lookup({ url, validator }, offset, length) {
      return (await store?.lookup(url, validator, Number(offset), Number(length))) ?? undefined;
    },
    /** `keep(file-version, offset, bytes)` */
    async keep({ url, validator }, offset, bytes) {
      await store?.keep(url, validator, Number(offset), bytes);
    },
    /** `forget-other-versions(url, current: option<string>)` */
    async forgetOtherVersions(url, current) {
      await store?.forgetOtherVersions(url, current ?? undefined);
    },
  };
}
