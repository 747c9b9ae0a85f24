// The browser benchmark's page (bundled into dist/bench/ by run.mjs): runs one
// query at a time through Quiver, DuckDB-WASM or hyparquet, as each one's
// users would, and summarises the answer (row count and sums of the two key
// columns) so the driver can check it against DuckDB on the local file.
// Bytes and requests are counted at the server, never here.

import * as duckdb from '@duckdb/duckdb-wasm';
import { asyncBufferFromUrl, cachedAsyncBuffer, parquetReadObjects } from 'hyparquet';
import { start } from '../quiver.js';

const DUCKDB_DIST = new URL('../../node_modules/@duckdb/duckdb-wasm/dist/', import.meta.url);

/** hyparquet takes filters as objects (its own query language), not SQL. */
const HYPARQUET_FILTERS = {
  'orderkey = (point)': { l_orderkey: 600000n },
  'partkey = (point)': { l_partkey: 12345n },
  'shipdate 1%': { l_shipdate: { $gte: new Date('1995-03-01T00:00:00Z'), $lte: new Date('1995-03-25T00:00:00Z') } },
  "shipmode = 'AIR' (14%)": { l_shipmode: 'AIR' },
};

function summarise(rows, get) {
  let sumOrderkey = 0n;
  let sumPartkey = 0n;
  for (let i = 0; i < rows; i++) {
    sumOrderkey += BigInt(get(i, 'l_orderkey') ?? 0);
    sumPartkey += BigInt(get(i, 'l_partkey') ?? 0);
  }
  return { rows, sumOrderkey: String(sumOrderkey), sumPartkey: String(sumPartkey) };
}

function summariseTable(table) {
  const columns = {};
  for (const name of ['l_orderkey', 'l_partkey']) columns[name] = table.getChild(name);
  return summarise(table.numRows, (i, name) => columns[name]?.get(i));
}

let quiver = null;

const engines = {
  async quiver(q) {
    // No range cache: every run is cold, as the peers' are.
    quiver ??= await start({ gpu: false, cache: false });
    const began = performance.now();
    const file = await quiver.open(q.url);
    const table = await file.query({ columns: q.columns, where: q.where ?? undefined, limit: q.limit ?? undefined });
    const wallMs = performance.now() - began;
    file.close();
    return { wallMs, ...summariseTable(table) };
  },

  async duckdb_wasm(q) {
    const bundle = await duckdb.selectBundle({
      mvp: { mainModule: new URL('duckdb-mvp.wasm', DUCKDB_DIST).href, mainWorker: new URL('duckdb-browser-mvp.worker.js', DUCKDB_DIST).href },
      eh: { mainModule: new URL('duckdb-eh.wasm', DUCKDB_DIST).href, mainWorker: new URL('duckdb-browser-eh.worker.js', DUCKDB_DIST).href },
    });
    const worker = new Worker(bundle.mainWorker);
    const db = new duckdb.AsyncDuckDB(new duckdb.VoidLogger(), worker);
    await db.instantiate(bundle.mainModule);
    const connection = await db.connect();
    try {
      const columns = q.columns.map((c) => `"${c}"`).join(', ');
      let sql = `SELECT ${columns} FROM read_parquet('${q.url}')`;
      if (q.where) sql += ` WHERE ${q.where}`;
      if (q.limit !== null && q.limit !== undefined) sql += ` LIMIT ${q.limit}`;
      const began = performance.now();
      const table = await connection.query(sql);
      const wallMs = performance.now() - began;
      return { wallMs, ...summariseTable(table) };
    } finally {
      await connection.close();
      await db.terminate();
    }
  },

  async hyparquet(q) {
    const filter = q.where ? HYPARQUET_FILTERS[q.name] : undefined;
    if (q.where && !filter) return { unsupported: true };
    const began = performance.now();
    const file = cachedAsyncBuffer(await asyncBufferFromUrl({ url: q.url }));
    // hyparquet's own pruning options, all off by default: on, as its best case
    const rows = await parquetReadObjects({
      file, columns: q.columns, filter, rowEnd: q.limit ?? undefined, usePageIndex: true, useOffsetIndex: true,
    });
    const wallMs = performance.now() - began;
    return { wallMs, ...summarise(rows.length, (i, name) => rows[i][name]) };
  },
};

window.runOne = async (q) => {
  try {
    return await engines[q.engine](q);
  } catch (error) {
    return { error: String(error?.message ?? error) };
  }
};
window.benchReady = true;
