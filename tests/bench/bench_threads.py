#!/usr/bin/env python3
"""Scaling benchmark (`make bench-threads`): wall time of one scan on 1, 2, … N engine
instances (`quiver scan --threads`), on a local file and over HTTP with latency, next to DuckDB's
own scaling (`SET threads`) on the same query. A benchmark, not a test: it asserts only that
every answer is right.

    .venv/bin/python tests/bench/bench_threads.py [--quiver BIN] [--latency-ms 20] [--repeat 3]

Data: the TPC-H ``lineitem`` files that ``bench_io.py`` generates in tests/.bench/: one file
(pyarrow, page index, sorted by ``l_orderkey``, 128 Ki-row row groups, 41 MB), split among the
instances by row groups, and all four (the same rows written four ways, 167 MB) read as one
table, one file per instance. The queries decode and return one or three columns of the rows a
filter keeps (Arrow IPC, read back to count the rows).

Each time is the median of ``--repeat`` runs of the whole command (process start, component
load from the compilation cache, opens, scan, output). The ratio is the time on 1 thread over the
time on N: the speed-up. HTTP runs go through ``tests/rangeserver.py`` with ``--latency-ms``
added before each answer; bytes and requests are counted at that server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_io  # noqa: E402
from bench_io import BENCH_DIR, REPO, RangeServer  # noqa: E402

FILE = "pa_sorted_pageindex.parquet"
#: All four of bench_io's files: the same rows written four ways, read as one table.
ALL_FILES = [f.name for f in bench_io.FILES]
QUERIES = [
    ("3 columns, discount >= 0.05 (55%)", [FILE], ["l_orderkey", "l_extendedprice", "l_comment"],
     "l_discount >= 0.05"),
    ("3 columns, all rows", [FILE], ["l_orderkey", "l_shipdate", "l_comment"], None),
    ("1 column, shipmode = 'AIR' (14%)", [FILE], ["l_orderkey"], "l_shipmode = 'AIR'"),
    ("4 files, 3 columns, discount >= 0.05", ALL_FILES,
     ["l_orderkey", "l_extendedprice", "l_comment"], "l_discount >= 0.05"),
]


def quiver_time(binary: Path, sources: list[str], columns, where, threads: int, repeat: int,
                server: RangeServer | None) -> tuple[float, int, int, int]:
    """Median seconds, rows, and (for HTTP) requests and bytes counted at the server."""
    # --no-cache: every repeat cold, as DuckDB's are.
    args = [str(binary), "scan", *sources, "--threads", str(threads), "--format", "arrow",
            "--no-cache"]
    args += ["--columns", ",".join(columns)]
    if where:
        args += ["--where", where]
    times, rows, requests, sent = [], 0, 0, 0
    for _ in range(repeat):
        if server:
            server.reset()
        started = time.monotonic()
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        times.append(time.monotonic() - started)
        if proc.returncode != 0:
            sys.exit(f"quiver failed: {' '.join(args)}\n{proc.stderr.decode()}")
        table = pa.ipc.open_stream(pa.BufferReader(proc.stdout)).read_all()
        rows = table.num_rows
        if server:
            server.wait_idle()
            requests, sent = server.stats()["requests"], server.stats()["bytes_sent"]
    return statistics.median(times), rows, requests, sent


def duckdb_time(paths: list[Path], columns, where, threads: int, repeat: int) -> tuple[float, int]:
    listed = ", ".join(f"'{path}'" for path in paths)
    sql = f"SELECT {', '.join(columns)} FROM read_parquet([{listed}])"
    sql += f" WHERE {where}" if where else ""
    times, rows = [], 0
    for _ in range(repeat):
        con = bench_io.duck()
        con.execute(f"SET threads={threads}")
        started = time.monotonic()
        table = con.execute(sql).to_arrow_table()
        times.append(time.monotonic() - started)
        rows = table.num_rows
        con.close()
    return statistics.median(times), rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiver", type=Path, default=REPO / "target" / "release" / "quiver")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    bench_io.generate(BENCH_DIR)
    cores = os.cpu_count() or 1
    counts = sorted({1, 2, cores} if cores >= 2 else {1})
    lines = [f"Scaling of one scan with `--threads` on {cores} cores "
             f"(TPC-H lineitem sf={bench_io.SCALE_FACTOR}; median of {args.repeat}):", "",
             "| query | where | threads | Quiver s | Quiver ×1 | DuckDB s | DuckDB ×1 "
             "| requests | MB at server |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    failed = False
    with RangeServer(BENCH_DIR, latency_s=args.latency_ms / 1000) as server:
        for name, files, columns, where in QUERIES:
            paths = [BENCH_DIR / file for file in files]
            expected = duckdb_time(paths, columns, where, 1, 1)[1]
            for place in ("local", f"HTTP +{args.latency_ms:g} ms"):
                base = duck_base = None
                for threads in counts:
                    http = place != "local"
                    sources = [server.url(file) if http else str(BENCH_DIR / file) for file in files]
                    seconds, rows, requests, sent = quiver_time(
                        args.quiver, sources, columns, where, threads, args.repeat,
                        server if http else None)
                    if rows != expected:
                        failed = True
                        print(f"MISMATCH {name} {place} threads={threads}: {rows} rows, "
                              f"DuckDB {expected}", file=sys.stderr)
                    base = base or seconds
                    duck_cell = duck_ratio = "–"
                    if not http:
                        duck_seconds, _ = duckdb_time(paths, columns, where, threads, args.repeat)
                        duck_base = duck_base or duck_seconds
                        duck_cell = f"{duck_seconds:.2f}"
                        duck_ratio = f"{duck_base / duck_seconds:.2f}"
                    at_server = f"{requests} | {sent / 1e6:.1f}" if http else "– | –"
                    lines.append(
                        f"| {name} | {place} | {threads} | {seconds:.2f} | {base / seconds:.2f} "
                        f"| {duck_cell} | {duck_ratio} | {at_server} |")
    lines += ["", "×1 is the time on 1 thread over the time on this many (the speed-up). Quiver's "
              "times are whole commands; DuckDB's are in-process queries (no process start)."]
    text = "\n".join(lines)
    print(text)
    (BENCH_DIR / "bench-threads.md").write_text(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
