"""The range cache (``quiver scan`` over HTTP): ranges fetched once are kept per URL and strong
ETag in ``QUIVER_CACHE_DIR`` (each test has its own, see conftest.py), so a second identical
query fetches only its open request, counted at the server; a file rewritten between queries is
read again, never served stale; weak or missing ETags are never cached; ``--no-cache`` neither
reads nor fills it; ``quiver cache info|clear`` show and empty it; it keeps to ``--cache-size``.
Every answer is compared with DuckDB's."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import util
from rangeserver import RangeServer

COLUMNS = ["id", "fare_amount"]
WHERE = "id BETWEEN 100000 AND 160000"


@pytest.fixture()
def served(tmp_path: Path):
    """sample.parquet copied into a directory of its own, served with Range support."""
    www = tmp_path / "www"
    www.mkdir()
    path = www / "sample.parquet"
    shutil.copyfile(util.SAMPLE_PATH, path)
    with RangeServer(www) as srv:
        yield srv, path


def scan(run_quiver, srv: RangeServer, out: Path, *extra: str, where: str = WHERE):
    """Runs the query with --stats; returns (table, stats, requests the server saw)."""
    srv.wait_idle()
    srv.reset()
    proc = run_quiver(*util.scan_args(srv.url("sample.parquet"), COLUMNS, where),
                      "--format", "arrow", "--output", out, "--stats", *extra)
    assert proc.returncode == 0, util.describe(proc)
    srv.wait_idle()
    return util.read_arrow_stream(out), util.parse_stats(proc.stderr), srv.log()


def expected(duck, path: Path, where: str = WHERE) -> pa.Table:
    return util.duckdb_select(duck, path, COLUMNS, where)


def test_a_second_identical_query_fetches_only_its_open_request(served, run_quiver, duck, tmp_path):
    srv, path = served
    want = expected(duck, path)
    first, first_stats, first_log = scan(run_quiver, srv, tmp_path / "1.arrows")
    assert first.equals(want)
    assert len(first_log) >= 2 and first_stats["cache_hits"] == 0, first_stats
    second, stats, log = scan(run_quiver, srv, tmp_path / "2.arrows")
    assert second.equals(want)
    assert [r.range for r in log] == [first_log[0].range], log
    assert stats["requests"] == 1 and stats["cache_hits"] >= 1, stats
    # Every byte the first scan fetched after its open came from the cache instead.
    assert stats["cache_bytes"] == first_stats["bytes_fetched"] - first_stats["bytes_footer"], stats


def test_a_file_rewritten_between_queries_is_read_again_never_served_stale(
        served, run_quiver, duck, tmp_path):
    srv, path = served
    scan(run_quiver, srv, tmp_path / "1.arrows")
    table = pq.read_table(path)
    changed = table.set_column(table.schema.get_field_index("fare_amount"), "fare_amount",
                               pc.add(table["fare_amount"], 1000.0))
    staging = path.with_suffix(".new")
    pq.write_table(changed, staging, row_group_size=table.num_rows // 8, write_page_index=True)
    os.replace(staging, path)
    want = expected(duck, path)
    got, stats, log = scan(run_quiver, srv, tmp_path / "2.arrows")
    assert got.equals(want), "the rewritten file's rows, not the cached ones"
    assert stats["cache_hits"] == 0 and len(log) >= 2, (stats, log)
    again, stats, log = scan(run_quiver, srv, tmp_path / "3.arrows")
    assert again.equals(want)
    assert len(log) == 1 and stats["cache_hits"] >= 1, "the new version is cached in turn"


@pytest.mark.parametrize("etag", ["weak", None])
def test_weak_or_missing_etags_are_never_cached(served, run_quiver, duck, tmp_path, etag):
    srv, path = served
    srv.etag = etag
    _, _, first = scan(run_quiver, srv, tmp_path / "1.arrows")
    got, stats, second = scan(run_quiver, srv, tmp_path / "2.arrows")
    assert got.equals(expected(duck, path))
    assert len(second) == len(first) >= 2 and stats["cache_hits"] == 0, (first, second, stats)


def cache_info(run_quiver, *extra: str) -> str:
    proc = run_quiver("cache", "info", *extra)
    assert proc.returncode == 0, util.describe(proc)
    return proc.stdout.decode()


def test_no_cache_neither_reads_nor_fills_the_cache(served, run_quiver, duck, tmp_path,
                                                    fresh_range_cache):
    srv, path = served
    scan(run_quiver, srv, tmp_path / "1.arrows")
    assert "1 file(s)" in cache_info(run_quiver)
    shutil.rmtree(fresh_range_cache)
    _, _, first = scan(run_quiver, srv, tmp_path / "2.arrows", "--no-cache")
    got, stats, second = scan(run_quiver, srv, tmp_path / "3.arrows", "--no-cache")
    assert got.equals(expected(duck, path))
    assert len(second) == len(first) >= 2 and stats["cache_hits"] == 0
    assert "0 file(s), 0 range(s), 0 bytes" in cache_info(run_quiver)


def test_cache_info_and_clear(served, run_quiver, tmp_path, fresh_range_cache):
    srv, _ = served
    _, first_stats, first = scan(run_quiver, srv, tmp_path / "1.arrows")
    info = cache_info(run_quiver)
    kept = first_stats["bytes_fetched"] - first_stats["bytes_footer"]
    assert info.startswith(str(fresh_range_cache)) and f"{kept} bytes" in info, info
    proc = run_quiver("cache", "clear")
    assert proc.returncode == 0, util.describe(proc)
    assert f"{kept} bytes" in proc.stdout.decode()
    assert "0 file(s)" in cache_info(run_quiver)
    _, stats, log = scan(run_quiver, srv, tmp_path / "2.arrows")
    assert len(log) == len(first) and stats["cache_hits"] == 0


def test_the_cache_keeps_to_its_size(served, run_quiver, duck, tmp_path, fresh_range_cache):
    srv, path = served
    limit = 256 * 1024
    for n, where in enumerate(["id < 200000", "id > 400000", WHERE]):
        got, _, _ = scan(run_quiver, srv, tmp_path / f"{n}.arrows", "--cache-size", "256K",
                         where=where)
        assert got.equals(expected(duck, path, where))
    kept = sum(p.stat().st_size for p in fresh_range_cache.rglob("*-*") if p.is_file())
    assert 0 < kept <= limit, kept


def test_instances_of_a_split_file_share_the_cache(served, run_quiver, duck, tmp_path):
    srv, path = served
    split = ("--threads", "3", "--min-split-bytes", "1")
    first, first_stats, _ = scan(run_quiver, srv, tmp_path / "1.arrows", *split, where="id > 0")
    got, stats, log = scan(run_quiver, srv, tmp_path / "2.arrows", *split, where="id > 0")
    assert got.equals(expected(duck, path, "id > 0")) and first.equals(got)
    assert stats["instances"] > 1, stats
    assert len(log) == stats["open_requests"] == stats["requests"], (log, stats)
    assert stats["cache_bytes"] == first_stats["bytes_fetched"] - first_stats["bytes_footer"]


def test_explain_analyze_shows_what_came_from_the_cache(served, run_quiver, tmp_path):
    srv, _ = served
    args = (*util.scan_args(srv.url("sample.parquet"), COLUMNS, WHERE), "--explain=analyze")
    cold = run_quiver(*args, "--format", "json")
    assert cold.returncode == 0, util.describe(cold)
    cold = json.loads(cold.stdout)["analyze"]
    assert cold["cache_bytes"] == 0 and cold["bytes_read"] == cold["bytes_fetched"], cold
    srv.wait_idle()
    srv.reset()
    warm = run_quiver(*args)
    assert warm.returncode == 0, util.describe(warm)
    text = warm.stdout.decode()
    assert "from the cache" in text and "round trips" in text and "ms scan" in text, text
    srv.wait_idle()
    # The plan's open and the analyzed scan's open: nothing else reached the server.
    assert len(srv.log()) == 2, srv.log()
