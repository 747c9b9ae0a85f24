#!/usr/bin/env python3
"""I/O benchmark (`make bench-io`): bytes, requests and round trips that Quiver and DuckDB's own
HTTP reader need for a suite of queries over remote Parquet, next to the physical minimum.

This is a script, not a pytest test: it measures, it asserts only that the answers are right.

    .venv/bin/python tests/bench/bench_io.py [--quiver BIN] [--latency-ms 20] [--files a,b] [--queries x,y]

Data (generated once into tests/.bench/, git-ignored, regenerated when this generator or the
writer versions change): TPC-H ``lineitem`` at scale factor 0.2 (1,199,969 rows) from DuckDB's
``tpch`` extension (``CALL dbgen``), written four ways (see FILES): pyarrow with and without the
page index and DuckDB's writer, sorted by ``l_orderkey``; and pyarrow with the page index over a
random row order.

For each file and query (QUERIES: point lookups to ~55% selectivity, a string equality, a LIMIT
without filter and a one-narrow-column scan), the table reports:

- **min bytes**: the physical minimum, from ``shared/tools/pqlayout.py`` (``minimum_bytes``),
  computed from the file's own footer and page index, not from Quiver's code: the footer, the
  column and offset index of every used column, and per used column chunk the dictionary page
  plus each data page holding a matching row (the whole chunk when there is no offset index).
  Used columns = projected ∪ predicate columns. Matching rows are DuckDB's
  (``read_parquet(local, file_row_number=true)``); for LIMIT, the first N rows in file order.
- **bytes / requests**: counted at the HTTP server (``tests/rangeserver.py``'s own log: body
  bytes written to the socket, every request including HEAD), never from a client's self-report.
  ``(×min)`` is bytes / min bytes.
- **round trips (RT)**, measured at the server (``rangeserver.waves``): the length of the longest
  chain of requests in which each started after the previous one had ended. Requests that
  overlap in time are one wave; a request that starts after another ended is in a later wave
  (it may have waited on that answer). The server adds ``--latency-ms`` (default 20 ms) before
  answering each request so that requests a client issues together overlap on loopback.
- **Quiver stats**: ``round_trips / row_groups_pruned / pages_pruned`` from Quiver's own
  ``--stats`` line, ``-`` where the key is absent (for reference only; the server's counts rule).
- **DuckDB**: DuckDB 1.5.5 with the ``httpfs`` extension loaded by file path from the
  ``duckdb-extension-httpfs`` package, a fresh in-memory database per query (no caches), default
  settings; ``SELECT count(*), sum(hash(...)) FROM (SELECT cols FROM read_parquet(url) WHERE ...)``.

Every answer is checked: Quiver's Arrow output and DuckDB-over-HTTP's result must have the same
row count and the same order-independent checksum (sum of per-row hashes of the projected values
as text) as DuckDB on the local file. A mismatch or failure is marked MISMATCH/FAIL in the table
and the script exits 1. The table goes to stdout and to tests/.bench/bench-io.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import duckdb
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from rangeserver import RangeServer, waves  # noqa: E402

PQLAYOUT_DIR = Path(os.environ.get("QUIVER_PQLAYOUT_DIR", REPO.parent / "shared" / "tools"))
BENCH_DIR = REPO / "tests" / ".bench"
SCALE_FACTOR = 0.2
ROW_GROUP_ROWS = 128 * 1024
#: Bump when the generated data changes.
DATA_VERSION = 1


@dataclass(frozen=True)
class BenchFile:
    name: str
    writer: str
    order: str


FILES = [
    BenchFile("pa_sorted_pageindex.parquet", "pyarrow, write_page_index=True", "sorted by l_orderkey"),
    BenchFile("pa_sorted.parquet", "pyarrow, defaults (no page index)", "sorted by l_orderkey"),
    BenchFile("duckdb_sorted.parquet", "DuckDB COPY (FORMAT parquet), defaults", "sorted by l_orderkey"),
    BenchFile("pa_random_pageindex.parquet", "pyarrow, write_page_index=True", "random"),
]

PROJECTED = ("l_orderkey", "l_partkey", "l_extendedprice", "l_comment")


@dataclass(frozen=True)
class Query:
    name: str
    columns: tuple[str, ...]
    where: Optional[str] = None
    limit: Optional[int] = None
    predicate_columns: tuple[str, ...] = ()


QUERIES = [
    Query("orderkey = (point)", PROJECTED, "l_orderkey = 600000", None, ("l_orderkey",)),
    Query("partkey = (point)", PROJECTED, "l_partkey = 12345", None, ("l_partkey",)),
    Query("shipdate 1%", PROJECTED,
          "l_shipdate BETWEEN DATE '1995-03-01' AND DATE '1995-03-25'", None, ("l_shipdate",)),
    Query("shipmode = 'AIR' (14%)", PROJECTED, "l_shipmode = 'AIR'", None, ("l_shipmode",)),
    Query("quantity < 10 (18%)", PROJECTED, "l_quantity < 10", None, ("l_quantity",)),
    Query("discount >= 0.05 (55%)", PROJECTED, "l_discount >= 0.05", None, ("l_discount",)),
    Query("LIMIT 10, no filter", PROJECTED, None, 10),
    Query("one narrow column, all rows", ("l_returnflag",)),
]


# -- data ------------------------------------------------------------------------------------

def extension_path(name: str) -> str:
    """The extension binary inside the ``duckdb-extension-<name>`` PyPI package."""
    import importlib
    try:
        pkg = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError:
        sys.exit(f"duckdb-extension-{name} is not installed: "
                 f"pip install -r tests/bench/requirements.txt (make bench-io does)")
    found = glob.glob(os.path.join(list(pkg.__path__)[0], "extensions", "*",
                                   f"{name}.duckdb_extension"))
    if not found:
        sys.exit(f"no {name}.duckdb_extension inside {list(pkg.__path__)[0]}")
    return found[0]


def duck(extensions: tuple[str, ...] = ()):
    """A fresh in-memory DuckDB (no caches shared with another query) that never downloads."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False})
    for ext in extensions:
        con.execute(f"LOAD '{extension_path(ext)}'")
    return con


def generate(out: Path) -> None:
    """Write FILES into ``out`` unless its stamp says they are current."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "STAMP.json"
    want = json.dumps({"version": DATA_VERSION, "sf": SCALE_FACTOR, "rg": ROW_GROUP_ROWS,
                       "duckdb": duckdb.__version__, "pyarrow": pa.__version__})
    if (stamp.exists() and stamp.read_text() == want
            and all((out / f.name).exists() for f in FILES)):
        return
    t0 = time.monotonic()
    print(f"generating TPC-H lineitem sf={SCALE_FACTOR} into {out} ...", file=sys.stderr)
    stamp.unlink(missing_ok=True)
    con = duck(("tpch",))
    con.execute(f"CALL dbgen(sf={SCALE_FACTOR})")
    tmp = lambda name: out / (name + ".tmp")  # noqa: E731
    sorted_sql = "SELECT * FROM lineitem ORDER BY l_orderkey, l_linenumber"
    table = con.execute(sorted_sql).to_arrow_table()
    pq.write_table(table, tmp(FILES[0].name), row_group_size=ROW_GROUP_ROWS, write_page_index=True)
    pq.write_table(table, tmp(FILES[1].name), row_group_size=ROW_GROUP_ROWS)
    del table
    con.execute(f"COPY ({sorted_sql}) TO '{tmp(FILES[2].name)}' (FORMAT parquet)")
    shuffled = con.execute("SELECT * FROM lineitem ORDER BY hash(l_orderkey, l_linenumber)").to_arrow_table()
    pq.write_table(shuffled, tmp(FILES[3].name), row_group_size=ROW_GROUP_ROWS, write_page_index=True)
    del shuffled
    con.close()
    for f in FILES:
        tmp(f.name).replace(out / f.name)
    stamp.write_text(want)
    print(f"generated in {time.monotonic() - t0:.1f} s", file=sys.stderr)


# -- answers and the minimum ----------------------------------------------------------------

def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def checksum_sql(source: str, q: Optional[Query], columns: tuple[str, ...],
                 ordered_by_row_number: bool = False) -> str:
    """count(*) and an order-independent checksum of ``columns`` over ``source`` (filtered and
    limited by ``q`` unless q is None, i.e. the source is already the answer)."""
    cols = ", ".join(quote_ident(c) for c in columns)
    inner = f"SELECT {cols} FROM {source}"
    if q is not None:
        if q.where:
            inner += f" WHERE {q.where}"
        if q.limit is not None:
            if ordered_by_row_number:
                inner += " ORDER BY file_row_number"
            inner += f" LIMIT {q.limit}"
    hashed = ", ".join(f"{quote_ident(c)}::VARCHAR" for c in columns)
    return f"SELECT count(*), coalesce(sum(hash({hashed})), 0)::VARCHAR FROM ({inner})"


def reference(path: Path, q: Query) -> tuple[tuple[int, str], list[int]]:
    """DuckDB on the local file: (count, checksum) and the matching row numbers."""
    con = duck()
    src = f"read_parquet('{path}', file_row_number=true)"
    answer = con.execute(checksum_sql(src, q, q.columns, ordered_by_row_number=True)).fetchone()
    sql = f"SELECT file_row_number FROM {src}"
    if q.where:
        sql += f" WHERE {q.where}"
    if q.limit is not None:
        sql += f" ORDER BY file_row_number LIMIT {q.limit}"
    rows = con.execute(sql).to_arrow_table().column(0).to_pylist()
    con.close()
    return (int(answer[0]), answer[1]), rows


def minimum_bytes(path: Path, q: Query, rows: list[int]) -> int:
    sys.path.insert(0, str(PQLAYOUT_DIR))
    try:
        import pqlayout
    except ImportError:
        sys.exit(f"pqlayout.py not found in {PQLAYOUT_DIR} (set QUIVER_PQLAYOUT_DIR)")
    return pqlayout.minimum_bytes(str(path), set(q.columns) | set(q.predicate_columns), rows)


def file_facts(path: Path) -> dict:
    md = pq.ParquetFile(path).metadata
    sys.path.insert(0, str(PQLAYOUT_DIR))
    import pqlayout
    lay = pqlayout.layout(str(path))
    chunks = [c for rg in lay["row_groups"] for c in rg["columns"]]
    with_index = sum(1 for c in chunks if c["oi"][0] is not None)
    pages = [len(c["pages"]) for c in chunks if c["pages"]]
    return {"rows": md.num_rows, "row_groups": md.num_row_groups, "size": lay["size"],
            "footer": lay["footer_bytes"],
            "page_index": "yes" if with_index == len(chunks) else ("no" if with_index == 0 else "partial"),
            "pages_per_chunk": (f"{min(pages)}–{max(pages)}" if pages else "?")}


# -- the two clients --------------------------------------------------------------------------

@dataclass
class Measured:
    ok: bool
    note: str
    bytes: int = 0
    requests: int = 0
    round_trips: int = 0
    heads: int = 0
    stats: Optional[dict] = None
    seconds: float = 0.0


def served(server: RangeServer, t0: float, ok: bool, note: str, stats=None) -> Measured:
    if not server.wait_idle(10):
        note = (note + "; " if note else "") + "server not idle"
    log = server.log()
    server.reset()
    return Measured(ok, note, sum(r.bytes for r in log), len(log), waves(log),
                    sum(1 for r in log if r.method == "HEAD"), stats, time.monotonic() - t0)


def run_quiver(binary: Path, server: RangeServer, url: str, q: Query, expected, out: Path) -> Measured:
    args = [str(binary), "scan", url, "--columns", ",".join(q.columns)]
    if q.where:
        args += ["--where", q.where]
    if q.limit is not None:
        args += ["--limit", str(q.limit)]
    # --no-cache: every query cold, as DuckDB's fresh connections are.
    args += ["--format", "arrow", "--output", str(out), "--stats", "--no-cache"]
    server.reset()
    t0 = time.monotonic()
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return served(server, t0, False, "FAIL: timed out")
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        return served(server, t0, False, f"FAIL: exit {proc.returncode}: {tail[0][:200]}")
    stats = None
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    if lines:
        try:
            stats = json.loads(lines[-1])
        except json.JSONDecodeError:
            pass
    m = served(server, t0, True, "", stats)
    with pa.ipc.open_stream(out) as reader:
        table = reader.read_all()
    out.unlink(missing_ok=True)
    con = duck()
    con.register("quiver_answer", table)
    got = con.execute(checksum_sql("quiver_answer", None, q.columns)).fetchone()
    con.close()
    got = (int(got[0]), got[1])
    if got != expected:
        m.ok, m.note = False, f"MISMATCH: quiver {got} != duckdb {expected}"
    return m


def run_duckdb(server: RangeServer, url: str, q: Query, expected) -> Measured:
    con = duck(("httpfs",))
    server.reset()
    t0 = time.monotonic()
    try:
        got = con.execute(checksum_sql(f"read_parquet('{url}')", q, q.columns)).fetchone()
    except duckdb.Error as e:
        con.close()
        return served(server, t0, False, f"FAIL: duckdb: {str(e).splitlines()[0][:200]}")
    m = served(server, t0, True, "")
    con.close()
    got = (int(got[0]), got[1])
    if got != expected:
        m.ok, m.note = False, f"MISMATCH: duckdb over http {got} != local {expected}"
    return m


# -- report -------------------------------------------------------------------------------------

def human(n: int) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}" if n / scale < 100 else f"{n / scale:.0f} {unit}"
    return f"{n} B"


def ratio(n: int, minimum: int) -> str:
    return f"{human(n)} (×{n / minimum:.2f})" if minimum else human(n)


def quiver_stats(stats: Optional[dict]) -> str:
    if not stats:
        return "-"
    return " / ".join(str(stats[k]) if k in stats else "-"
                      for k in ("round_trips", "row_groups_pruned", "pages_pruned"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quiver", type=Path,
                    default=Path(os.environ.get("QUIVER_BIN", REPO / "target" / "release" / "quiver")))
    ap.add_argument("--data-dir", type=Path, default=BENCH_DIR)
    ap.add_argument("--latency-ms", type=float, default=20.0,
                    help="server delay before each answer, so concurrent requests overlap (default 20)")
    ap.add_argument("--files", help="comma-separated subset of file names (default: all)")
    ap.add_argument("--queries", help="comma-separated subset of query numbers, 1-based (default: all)")
    args = ap.parse_args(argv)

    binary = args.quiver.resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        sys.exit(f"quiver binary not found at {binary}: run make build (or set QUIVER_BIN)")
    binary_mtime = binary.stat().st_mtime_ns
    generate(args.data_dir)
    files = [f for f in FILES if not args.files or f.name in args.files.split(",")]
    queries = [q for i, q in enumerate(QUERIES, 1)
               if not args.queries or str(i) in args.queries.split(",")]
    extension_path("httpfs")  # fail early when it is missing

    t_start = time.monotonic()
    rows_out, failures, facts = [], [], {}
    out = args.data_dir / "quiver-answer.arrow"
    with RangeServer(args.data_dir, latency_s=args.latency_ms / 1000.0) as server:
        for f in files:
            path = args.data_dir / f.name
            facts[f.name] = file_facts(path)
            url = server.url(f.name)
            for q in queries:
                expected, rows = reference(path, q)
                minimum = minimum_bytes(path, q, rows)
                qv = run_quiver(binary, server, url, q, expected, out)
                dk = run_duckdb(server, url, q, expected)
                for who, m in (("quiver", qv), ("duckdb", dk)):
                    if not m.ok:
                        failures.append(f"{f.name} / {q.name} / {who}: {m.note}")
                mark = lambda m, s: s if m.ok else f"**{m.note.split(':')[0]}** {s}"  # noqa: E731
                rows_out.append([
                    f.name, q.name, f"{expected[0]:,}", human(minimum),
                    mark(qv, ratio(qv.bytes, minimum)), str(qv.requests), str(qv.round_trips),
                    quiver_stats(qv.stats),
                    mark(dk, ratio(dk.bytes, minimum)), str(dk.requests), str(dk.round_trips),
                ])
                print(f"  {f.name:30} {q.name:30} quiver {qv.seconds:5.2f} s  duckdb {dk.seconds:5.2f} s"
                      + ("" if qv.ok and dk.ok else "  <-- " + "; ".join(m.note for m in (qv, dk) if not m.ok)),
                      file=sys.stderr)
    elapsed = time.monotonic() - t_start

    header = ["file", "query", "rows matched", "min bytes", "Quiver bytes (×min)", "Quiver req",
              "Quiver RT", "Quiver stats rt/rg/pg pruned", "DuckDB bytes (×min)", "DuckDB req", "DuckDB RT"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows_out]
    lines += ["", "Files (TPC-H lineitem, DuckDB dbgen sf=%g):" % SCALE_FACTOR, "",
              "| file | writer | row order | rows | row groups | pages per column chunk | page index | size | footer |",
              "|---|---|---|---|---|---|---|---|---|"]
    for f in files:
        ff = facts[f.name]
        lines.append(f"| {f.name} | {f.writer} | {f.order} | {ff['rows']:,} | {ff['row_groups']} | "
                     f"{ff['pages_per_chunk'] if ff['page_index'] != 'no' else '(no offset index)'} | "
                     f"{ff['page_index']} | {human(ff['size'])} | {human(ff['footer'])} |")
    lines += [
        "",
        "Legend: projected columns " + ", ".join(PROJECTED) + " (the last query: l_returnflag only). "
        "*min bytes*: footer + column/offset index of the used columns + dictionary page and data pages "
        "holding matching rows (whole chunk without an offset index), by shared/tools/pqlayout.py. "
        "*bytes*, *req* (every request, HEAD included) and *RT* (round trips: longest chain of requests "
        "each starting after the previous ended) are counted at the server, which adds "
        f"{args.latency_ms:g} ms before each answer. *Quiver stats*: round_trips / row_groups_pruned / "
        "pages_pruned from quiver --stats (`-`: not reported). DuckDB {dv}: httpfs, fresh database per "
        "query. Every answer checked against DuckDB on the local file (count + checksum).".format(
            dv=duckdb.__version__),
        f"quiver: {binary} (mtime {time.strftime('%Y-%m-%d %H:%M', time.localtime(binary_mtime / 1e9))}); "
        f"{len(rows_out)} cases in {elapsed:.0f} s.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    (args.data_dir / "bench-io.md").write_text(report)
    status = 0
    if binary.stat().st_mtime_ns != binary_mtime:
        print(f"WARNING: {binary} changed during the run: rerun", file=sys.stderr)
        status = 1
    if failures:
        print(f"\n{len(failures)} FAILED OR MISMATCHED:", file=sys.stderr)
        for line in failures:
            print("  " + line, file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
