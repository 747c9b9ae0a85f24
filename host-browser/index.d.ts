// Types of the Quiver JS API (browsers: dist/quiver.js; Node: src/node.js).
// Written by hand: jco's generated .d.ts types the suspending exports as
// synchronous, and this API wraps them anyway.

import type { RecordBatch, Schema, Table } from 'apache-arrow';

export { DataType, RecordBatch, Table, tableToIPC } from 'apache-arrow';

/** Kernel tier preference (see the WIT `compute-preference`). */
export type ComputePreference = 'auto' | 'gpu' | 'simd' | 'scalar';

/** Options of `open`. */
export interface OpenOptions {
  /** Bytes read from the end of the file at open (default 256 KiB). */
  tailBytes?: number;
  /** Ranges this close are merged into one request (default 4 KiB). */
  coalesceGap?: number;
  /** Most requests in flight (browsers: default 6, their HTTP/1.1 connections per host; Node: 32). */
  maxConcurrency?: number;
  /** Retries of a request that failed transiently (default 3; 0: none). */
  maxRetries?: number;
  /** Longest time one wave of requests may spend on retries (default 30000 ms). */
  retryDeadlineMs?: number;
  /**
   * Whether reads after the open carry `If-Match` (default: true on Node, false in
   * browsers, where it would cost a CORS preflight per request). Responses'
   * validators are compared either way: a changed file is a `source-changed` error.
   */
  conditionalRequests?: boolean;
  /** Longest silence of a server before a request fails and is retried (default 30000 ms). */
  idleTimeoutMs?: number;
  /**
   * The memory limit the bytes held at open count against (browsers: default 1.5 GiB; Node:
   * 4 GiB). A server that ignores `Range` and sends the whole file is accepted only while the
   * body fits in it; a larger one is a `memory-limit` error.
   */
  memoryLimit?: number;
  /**
   * Whether reads look up, and keep, ranges in the range cache (default true; see
   * `StartOptions.cache`). Only files whose server gives a strong `ETag` are cached; the open's
   * own request always goes to the server, and a file whose `ETag` changed is read afresh.
   */
  cache?: boolean;
  signal?: AbortSignal;
}

/**
 * Progress of a scan, reported by the engine after each batch and at the end. `fraction`,
 * `bytesFetched` and `rowGroupsDone` never decrease; the last report (`done`) has `fraction` 1,
 * `bytesFetched === bytesPlanned` and `rowGroupsDone === rowGroupsTotal`.
 */
export interface ScanProgress {
  /** Bytes read so far, from the server or the range cache. */
  bytesFetched: number;
  /** `bytesFetched` plus what the plan may still fetch: an upper bound that shrinks as the scan goes. */
  bytesPlanned: number;
  /** `bytesFetched / bytesPlanned`. */
  fraction: number;
  /** Row groups read completely, of the `rowGroupsTotal` the plan reads (pruned ones not counted). */
  rowGroupsDone: number;
  rowGroupsTotal: number;
  requests: number;
  rowGroups: number;
  rowGroupsPruned: number;
  rowGroupsScanned: number;
  rowsReturned: number;
  done: boolean;
}

export interface ScanOptions {
  /** Columns to return, in this order (default: all). */
  columns?: string[];
  /** A SQL WHERE clause without `WHERE`, e.g. `price > 10 AND name LIKE 'a%'`. */
  where?: string;
  limit?: number;
  offset?: number;
  /** Most rows per batch (default 8192). */
  batchSize?: number;
  compute?: ComputePreference;
  /**
   * Most bytes the engine may hold during the scan (default 1.5 GiB in browsers, 4 GiB on Node):
   * fewer row groups at once and smaller batches keep it within; a row group that cannot fit is
   * a `memory-limit` error.
   */
  memoryLimit?: number;
  /** Aborts the scan, its requests in flight included (browsers). */
  signal?: AbortSignal;
  /** Called after each batch and once at the end with the engine's progress. */
  onProgress?: (progress: ScanProgress) => void;
}

export interface FetchStats {
  requests: number;
  bytesFetched: number;
  roundTrips: number;
  /** Requests sent again after a transient failure (in `requests` too). */
  retries: number;
  /** Ranges served from the range cache instead of the server. */
  cacheHits: number;
  /** Bytes served from the range cache (not in `bytesFetched`). */
  cacheBytes: number;
}

export interface KernelReport {
  predicate: string;
  columnType: string;
  tier: 'gpu' | 'simd' | 'scalar';
  reason: string;
  batches: number;
  rows: number;
  nanos: number;
}

/** What a scan did, as `quiver scan --stats` reports it. */
export interface ScanStats {
  rowGroups: number;
  rowGroupsPruned: number;
  rowGroupsScanned: number;
  pagesPruned: number;
  rowsScanned: number;
  rowsMatched: number;
  rowsReturned: number;
  fetch: FetchStats;
  index: FetchStats;
  gpuAdapter?: string;
  kernels: KernelReport[];
}

export interface ColumnInfo {
  name: string;
  physicalType: string;
  logicalType?: string;
  arrowType: string;
  nullable: boolean;
}

/** A node of the file's Parquet schema: a column (a leaf) or a group (struct, list, map). */
export interface SchemaNode {
  name: string;
  /** 0 for a top-level column, 1 for a node of a top-level group, and so on. */
  depth: number;
  repetition: 'required' | 'optional' | 'repeated';
  /** For leaves, the Parquet physical type, e.g. `INT64`, `BYTE_ARRAY`. */
  physicalType?: string;
  /** The Parquet logical type (`String`, `List`, `Map`, `Decimal(10,2)`…), else the legacy converted type (`LIST`, `MAP_KEY_VALUE`…). */
  logicalType?: string;
  /** For top-level nodes only, the Arrow type the column is read as. */
  arrowType?: string;
}

export interface FileMetadata {
  size: number;
  etag?: string;
  numRows: number;
  version: number;
  createdBy?: string;
  /** The top-level columns. */
  columns: ColumnInfo[];
  /** Every node of the Parquet schema but its root, in pre-order (a group, then its nodes). */
  schemaTree: SchemaNode[];
  rowGroups: { numRows: number; compressedSize: number; uncompressedSize: number }[];
  keyValue: [string, string | undefined][];
  /** What in the file's layout makes remote reads slow (`quiver info`'s layout section). */
  layoutAdvice: { rule: string; columns: string[]; reason: string; fix: string }[];
}

export interface OpenStats {
  path: 'suffix-range' | 'whole-file' | 'range-after-416' | 'range-after-probe' | 'local-file';
  fetch: FetchStats;
}

export interface ScanPlan {
  rowGroups: { numRows: number; verdict: string; rowsSelected: number; pagesPruned: number }[];
  lateMaterialization: boolean;
  firstPhase: { offset: number; length: number }[];
  secondPhase: { offset: number; length: number }[];
  index: FetchStats;
  fileSize: number;
  /**
   * The bytes the scan is expected to fetch after its open: the index reads, the first phase,
   * and of the second phase the pages expected to hold a matching row.
   */
  estimatedBytes: number;
}

/** An engine error. `code` is the WIT error case or `cors` / `aborted`. */
export class QuiverError extends Error {
  code:
    | 'invalid-argument' | 'not-found' | 'permission-denied' | 'http-status' | 'network' | 'io'
    | 'protocol' | 'range-out-of-bounds' | 'not-parquet' | 'corrupt-file' | 'unsupported'
    | 'syntax-error' | 'column-not-found' | 'type-mismatch' | 'gpu' | 'source-changed' | 'memory-limit'
    | 'internal'
    | 'cors' | 'aborted';
  /** For `http-status`. */
  status?: number;
  url?: string;
}

/** One scan: iterate it with `for await`. */
export interface Scan extends AsyncIterable<RecordBatch> {
  /** The Arrow schema of its batches, once the scan has started. */
  readonly schema: Promise<Schema>;
  /** Stats so far; final once iteration has ended. */
  readonly stats: ScanStats | null;
}

export class QuiverFile {
  readonly url: string;
  readonly metadata: FileMetadata;
  readonly schema: Schema;
  readonly openStats: OpenStats;
  scan(options?: ScanOptions): Scan;
  query(options?: ScanOptions & { onStats?: (stats: ScanStats) => void }): Promise<Table>;
  explain(options?: Omit<ScanOptions, 'onProgress'>): Promise<ScanPlan>;
  fetchStats(): Promise<FetchStats>;
  close(): Promise<void>;
}

export interface EngineInfo {
  build: 'simd' | 'scalar';
  simd: boolean;
  jspi: boolean;
  webgpu: { vendor: string; architecture: string; description: string; fallback: boolean } | null;
}

export class Quiver {
  readonly info: EngineInfo;
  open(url: string, options?: OpenOptions): Promise<QuiverFile>;
  /** Empties the range cache (browsers: the origin's Cache API store; Node: this engine's memory). */
  clearCache(): Promise<void>;
  terminate(): void;
}

export interface StartOptions {
  /** Default: `simd` where the JS engine validates SIMD128. */
  build?: 'simd' | 'scalar';
  /** Offer WebGPU to the engine (browsers; default true). */
  gpu?: boolean;
  /**
   * The range cache: ranges fetched from files with a strong `ETag`, read again by later opens
   * of the same version instead of fetched. Browsers keep it in the Cache API (it outlives the
   * page), Node in memory; least recently used ranges go first past `maxBytes` (default 256 MiB).
   * `false`: no cache.
   */
  cache?: false | { maxBytes?: number };
  workerUrl?: string | URL;
  engineBase?: string | URL;
}

/** Starts an engine (in a module Worker in browsers). */
export function start(options?: StartOptions): Promise<Quiver>;

/** Opens a file on a shared engine started on first use. */
export function open(url: string, options?: OpenOptions): Promise<QuiverFile>;
