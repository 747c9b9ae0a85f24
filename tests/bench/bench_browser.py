#!/usr/bin/env python3
"""Browser benchmark (`make bench-browser`): the same queries through Quiver, DuckDB-WASM and
hyparquet in one headless Chromium, against one loopback Range server with injected latency.

This is a script, not a pytest test: it measures, and asserts only that the answers are right.

    .venv/bin/python tests/bench/bench_browser.py [--latencies 0,20,80] [--files a,b] [--repeat 1]

- **Data**: bench_io.py's TPC-H ``lineitem`` files (generated into tests/.bench/ on first use).
- **Queries**: bench_io.QUERIES but the 18% and 55% scans (each engine's whole-column speed, not
  what this compares), four columns projected, every answer materialised in the page as its
  users would (Quiver: an apache-arrow Table; DuckDB-WASM: ``conn.query`` → Arrow Table;
  hyparquet: ``parquetReadObjects`` with its own filter objects, ``cachedAsyncBuffer`` and its
  page-index pruning switched on: ``usePageIndex`` and ``useOffsetIndex``, off by default).
- **Peers**: ``@duckdb/duckdb-wasm`` 1.28.0 (a fresh database per query, instantiation not timed;
  later releases fetch their Parquet extension from the internet) and ``hyparquet`` 1.31.5.
- **Measured**: wall time in the page (``performance.now()`` around open + query); requests and
  body bytes counted by the server (``tests/rangeserver.py``), CORS preflights included (the
  page and the data are on different origins, as for most users); the server sleeps
  ``latency`` ms before answering each request.
- **Checked**: row count and the sums of ``l_orderkey`` and ``l_partkey`` of every answer equal
  DuckDB's on the local file; a mismatch is marked MISMATCH and the script exits 1.

The table goes to stdout and tests/.bench/bench-browser.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_io  # noqa: E402
from rangeserver import RangeServer  # noqa: E402

HOST_BROWSER = REPO / "host-browser"
ENGINES = ["quiver", "duckdb_wasm", "hyparquet"]
ENGINE_NAMES = {"quiver": "Quiver", "duckdb_wasm": "DuckDB-WASM", "hyparquet": "hyparquet"}
SKIPPED_QUERIES = {"quantity < 10 (18%)", "discount >= 0.05 (55%)", "one narrow column, all rows"}
SELECTIVE = {"orderkey = (point)", "partkey = (point)", "shipdate 1%"}


def expected_answer(path: Path, q: bench_io.Query) -> dict:
    """Row count and key sums from DuckDB on the local file."""
    con = bench_io.duck()
    inner = f"SELECT l_orderkey, l_partkey FROM read_parquet('{path}', file_row_number=true)"
    if q.where:
        inner += f" WHERE {q.where}"
    if q.limit is not None:
        inner += f" ORDER BY file_row_number LIMIT {q.limit}"
    rows, orderkeys, partkeys = con.execute(
        f"SELECT count(*), coalesce(sum(l_orderkey), 0)::VARCHAR, "
        f"coalesce(sum(l_partkey), 0)::VARCHAR FROM ({inner})").fetchone()
    con.close()
    return {"rows": rows, "sumOrderkey": orderkeys, "sumPartkey": partkeys}


class Page:
    """The benchmark page in Chromium (host-browser/bench/run.mjs), one query per call."""

    def __init__(self, app: RangeServer):
        self.proc = subprocess.Popen(
            ["node", "bench/run.mjs", f"{app.base_url}/bench/bench.html"], cwd=HOST_BROWSER,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline()
        if '"ready"' not in ready:
            raise RuntimeError(f"the benchmark page did not start: {ready!r}")

    def run(self, spec: dict) -> dict:
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def settle(server: RangeServer) -> None:
    """Lets requests a finished query left behind (prefetches, aborted reads) arrive and end."""
    time.sleep(0.3)
    server.wait_idle(timeout=30)


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latencies", default="0,20,80", help="ms per request, comma-separated")
    parser.add_argument("--files", default="pa_sorted_pageindex.parquet,duckdb_sorted.parquet")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell (median wall time)")
    args = parser.parse_args(argv)
    latencies = [float(x) for x in args.latencies.split(",")]
    files = args.files.split(",")
    queries = [q for q in bench_io.QUERIES if q.name not in SKIPPED_QUERIES]
    bench_io.generate(bench_io.BENCH_DIR)

    rows_out, failures = [], 0
    with RangeServer(HOST_BROWSER) as app, RangeServer(bench_io.BENCH_DIR, cors=True) as data:
        # every engine starts cold: no answer from the browser's HTTP cache
        data.cache_control = "no-store"
        page = Page(app)
        try:
            for name in files:
                path = bench_io.BENCH_DIR / name
                for q in queries:
                    expected = expected_answer(path, q)
                    for latency in latencies:
                        data.latency_s = latency / 1000
                        cells = {}
                        for engine in ENGINES:
                            walls, result, counted = [], None, None
                            for _ in range(args.repeat):
                                settle(data)
                                data.reset()
                                result = page.run({"engine": engine, "name": q.name, "url": data.url(name),
                                                   "columns": list(q.columns), "where": q.where,
                                                   "limit": q.limit})
                                settle(data)
                                counted = data.stats()
                                if "wallMs" in result:
                                    walls.append(result["wallMs"])
                            if result.get("unsupported"):
                                cells[engine] = {"note": "no such filter"}
                                continue
                            if "error" in result:
                                failures += 1
                                cells[engine] = {"note": f"FAIL: {result['error'][:60]}"}
                                continue
                            answer = {k: result[k] for k in ("rows", "sumOrderkey", "sumPartkey")}
                            ok = answer == expected
                            failures += not ok
                            cells[engine] = {"wall": statistics.median(walls), "requests": counted["requests"],
                                             "bytes": counted["bytes_sent"], "ok": ok}
                        rows_out.append((name, q.name, latency, expected["rows"], cells))
                        print(format_row(rows_out[-1]), flush=True)
        finally:
            page.close()
    report = render(rows_out, latencies) + "\n" + summary(rows_out, max(latencies))
    bench_io.BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (bench_io.BENCH_DIR / "bench-browser.md").write_text(report)
    print("\n" + report)
    return 1 if failures else 0


def cell(c: dict) -> str:
    if "note" in c:
        return c["note"]
    text = f"{c['wall']:.0f} ms, {c['requests']} req, {human(c['bytes'])}"
    return text if c["ok"] else text + " MISMATCH"


def format_row(row) -> str:
    name, query, latency, n, cells = row
    return f"{name} | {query} | {latency:.0f} ms | " + " | ".join(
        f"{e}: {cell(cells[e])}" for e in ENGINES)


def speedup(cells: dict, peer: str) -> str:
    a, b = cells.get("quiver", {}), cells.get(peer, {})
    if "wall" not in a or "wall" not in b:
        return "-"
    return f"{b['wall'] / a['wall']:.1f}×"


def summary(rows, latency: float) -> str:
    """The issue's targets, as measured: time vs DuckDB-WASM on selective queries at the highest
    latency, and bytes vs both peers everywhere."""
    ratios = [c["duckdb_wasm"]["wall"] / c["quiver"]["wall"] for _, q, lat, _, c in rows
              if q in SELECTIVE and lat == latency and "wall" in c["quiver"]
              and "wall" in c["duckdb_wasm"]]
    lines = []
    if ratios:
        lines.append(f"- At {latency:.0f} ms, selective queries ({', '.join(sorted(SELECTIVE))}): "
                     f"DuckDB-WASM took {min(ratios):.1f}–{max(ratios):.1f}× Quiver's wall time.")
    for peer in ("duckdb_wasm", "hyparquet"):
        pairs = [(c["quiver"]["bytes"], c[peer]["bytes"]) for *_, c in rows
                 if "bytes" in c["quiver"] and "bytes" in c.get(peer, {})]
        fewer = sum(ours < theirs for ours, theirs in pairs)
        lines.append(f"- Quiver fetched fewer bytes than {ENGINE_NAMES[peer]} in {fewer} of "
                     f"{len(pairs)} cells.")
    return "\n".join(lines) + "\n"


def render(rows, latencies) -> str:
    head = ("| file | query | rows | latency | Quiver | DuckDB-WASM | hyparquet | "
            "DuckDB-WASM ÷ Quiver (time) | hyparquet ÷ Quiver (time) |\n"
            "|---|---|---:|---:|---|---|---|---:|---:|\n")
    body = "".join(
        f"| {name} | {query} | {n} | {latency:.0f} ms | {cell(c['quiver'])} | "
        f"{cell(c['duckdb_wasm'])} | {cell(c['hyparquet'])} | {speedup(c, 'duckdb_wasm')} | "
        f"{speedup(c, 'hyparquet')} |\n"
        for name, query, latency, n, c in rows)
    return head + body


if __name__ == "__main__":
    sys.exit(main())
