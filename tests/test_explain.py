"""Explain's byte estimate against what scans really fetch, on the I/O benchmark's set.

For every file × query of ``tests/bench/bench_io.py`` (TPC-H lineitem at scale factor 0.2, written
four ways; eight queries from point lookups to a LIMIT and a one-column scan), ``quiver scan
--explain --format json`` must estimate the bytes within 10% of what the same scan fetches over
HTTP, counted at the server (``tests/rangeserver.py``), never from quiver's own counters. The
estimate is what one engine instance reads, so the scan runs with ``--threads 1`` (several
instances split a file and each opens it again). ``--explain=analyze`` must report as
``analyze.bytes_read`` exactly what the server sent for its scan.

The data is bench_io's own (same generator and directory, ``tests/.bench/``, made once in about
10 s and reused while its stamp is current); generating it needs ``duckdb-extension-tpch``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import util
from rangeserver import RangeServer

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
import bench_io  # noqa: E402

#: Largest relative error of the estimate (the requirement: within 10%).
TOLERANCE = 0.10

CASES = [(f, q) for f in bench_io.FILES for q in bench_io.QUERIES]


@pytest.fixture(scope="module")
def bench_server():
    """A Range-capable server over the benchmark files, generated if missing or stale."""
    try:
        import duckdb_extension_tpch  # noqa: F401
    except ImportError:
        pytest.fail("duckdb-extension-tpch is not installed: "
                    ".venv/bin/pip install -r tests/requirements.txt", pytrace=False)
    bench_io.generate(bench_io.BENCH_DIR)
    with RangeServer(bench_io.BENCH_DIR) as server:
        yield server


def scan_args(url: str, q: bench_io.Query) -> list[str]:
    args = ["scan", url, "--columns", ",".join(q.columns), "--no-cache", "--threads", "1"]
    if q.where:
        args += ["--where", q.where]
    if q.limit is not None:
        args += ["--limit", str(q.limit)]
    return args


def served(server: RangeServer) -> int:
    """Body bytes the server sent since the last reset; resets."""
    assert server.wait_idle(10), "the server still has requests in flight"
    sent = sum(r.bytes for r in server.log())
    server.reset()
    return sent


def run_json(quiver_bin: Path, args: list[str]) -> dict:
    proc = util.run_quiver(quiver_bin, *args, "--format", "json")
    util.assert_no_crash(proc)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def case_id(case) -> str:
    f, q = case
    return f"{Path(f.name).stem}-{q.name}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_estimate_within_ten_percent_of_served_bytes(quiver_bin, bench_server, case):
    f, q = case
    args = scan_args(bench_server.url(f.name), q)
    bench_server.reset()
    estimate = run_json(quiver_bin, args + ["--explain"])["estimated_bytes"]
    served(bench_server)
    proc = util.run_quiver(quiver_bin, *args, "--format", "arrow", "--output", "/dev/null")
    util.assert_no_crash(proc)
    assert proc.returncode == 0, proc.stderr
    measured = served(bench_server)
    assert abs(estimate - measured) <= TOLERANCE * measured, (
        f"estimated {estimate:,} bytes, the server sent {measured:,} "
        f"(ratio {estimate / measured:.3f})")


@pytest.mark.parametrize("case", [(f, q) for f in bench_io.FILES[:1] + bench_io.FILES[-1:]
                                  for q in bench_io.QUERIES[:2] + bench_io.QUERIES[-2:]],
                         ids=case_id)
def test_analyze_reports_the_bytes_served(quiver_bin, bench_server, case):
    f, q = case
    bench_server.reset()
    report = run_json(quiver_bin, scan_args(bench_server.url(f.name), q) + ["--explain=analyze"])
    # The plan's own open and index reads, then the measured open and scan.
    measured = served(bench_server) - report["bytes_footer"] - report["bytes_index"]
    assert report["analyze"]["bytes_read"] == measured
    assert report["analyze"]["cache_bytes"] == 0
