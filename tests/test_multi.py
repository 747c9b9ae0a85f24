"""Many files as one table, and scans on several engine instances at once.

The datasets are written by DuckDB (Hive-partitioned by ``year`` and ``region``, several row
groups per file); every answer is compared with DuckDB's ``read_parquet([...])`` /
``read_parquet('glob', hive_partitioning=true)``, in file order (DuckDB's ``filename`` and
``file_row_number``). Requests are counted at the test server.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pytest

import util
from rangeserver import RangeServer
from util import assert_clean_error

ROWS = 60_000


@pytest.fixture(scope="module")
def hive_dir(tmp_path_factory) -> Path:
    """``year=2020..2023/region=eu|us/data_0.parquet``: 8 files of 7,500 rows, 2,048-row row groups."""
    root = tmp_path_factory.mktemp("hive")
    con = util.duckdb_connect()
    con.execute(f"""
        COPY (SELECT i AS id, i * 0.25 AS fare, (i % 7)::INTEGER AS k,
                     'name' || (i % 13) AS name,
                     2020 + (i // 1000) % 4 AS year,
                     CASE WHEN (i // 500) % 2 = 0 THEN 'eu' ELSE 'us' END AS region
              FROM range({ROWS}) t(i))
        TO '{root}' (FORMAT PARQUET, PARTITION_BY (year, region), ROW_GROUP_SIZE 2048)""")
    con.close()
    return root


def _expected(duck, source_sql: str, columns: str, where: str | None = None,
              limit: int | None = None, offset: int | None = None) -> pa.Table:
    sql = (f"SELECT {columns} FROM read_parquet({source_sql}, hive_partitioning = true, "
           f"filename = true, file_row_number = true)")
    if where:
        sql += f" WHERE {where}"
    sql += " ORDER BY filename, file_row_number"
    if limit is not None:
        sql += f" LIMIT {limit}"
    if offset is not None:
        sql += f" OFFSET {offset}"
    return duck.execute(sql).to_arrow_table()


def _scan(run_quiver, tmp_path, sources, *extra) -> tuple[pa.Table, dict]:
    out = tmp_path / "out.arrows"
    proc = run_quiver("scan", *sources, *extra, "--format", "arrow", "--output", out, "--stats")
    util.assert_no_crash(proc)
    if proc.returncode != 0:
        raise util.QuiverFailed(proc)
    return util.read_arrow_stream(out), util.parse_stats(proc.stderr)


QUERIES = [
    # (columns or None, where, limit, offset)
    (None, None, None, None),
    (["id", "fare", "year"], "year = 2021 AND fare > 100", None, None),
    (["region", "id"], "region = 'us' AND k IN (1, 2)", None, None),
    (["id", "name"], "year >= 2022 OR id < 40", None, None),
    (["id", "year", "region"], "name LIKE 'name1%'", 25, 3000),
    (["id"], None, 10, 12_345),
    (["year"], "region = 'eu'", None, None),
]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("columns,where,limit,offset", QUERIES)
def test_a_hive_partitioned_directory_equals_duckdb(run_quiver, duck, hive_dir, tmp_path, threads,
                                                    columns, where, limit, offset):
    extra = ["--threads", str(threads), "--min-split-bytes", "1"]
    if columns:
        extra += ["--columns", ",".join(columns)]
    if where:
        extra += ["--where", where]
    if limit is not None:
        extra += ["--limit", str(limit)]
    if offset is not None:
        extra += ["--offset", str(offset)]
    table, stats = _scan(run_quiver, tmp_path, [hive_dir], *extra)
    select = ", ".join(columns) if columns else "* EXCLUDE (filename, file_row_number)"
    expected = _expected(duck, f"'{hive_dir}/**/*.parquet'", select, where, limit, offset)
    util.assert_tables_equal(table, expected, f"threads={threads} where={where}")
    assert stats["files"] == 8
    assert stats["instances"] <= threads


def test_partition_conditions_prune_files_before_any_request(hive_dir, run_quiver, duck, tmp_path):
    files = sorted(hive_dir.glob("*/*/*.parquet"))
    with RangeServer(hive_dir) as server:
        urls = [server.url(f.relative_to(hive_dir).as_posix()) for f in files]
        table, stats = _scan(run_quiver, tmp_path, urls, "--where",
                             "year = 2022 AND region = 'us' AND k = 3", "--threads", "2")
        server.wait_idle()
        paths = {unquote(r.path) for r in server.log()}
        assert paths == {"/year=2022/region=us/data_0.parquet"}, paths
        assert stats["requests"] == server.stats()["requests"]
        assert stats["bytes_fetched"] == server.stats()["bytes_sent"]
    listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    expected = _expected(duck, listed, "* EXCLUDE (filename, file_row_number)",
                         "year = 2022 AND region = 'us' AND k = 3")
    util.assert_tables_equal(table, expected)
    assert stats["files_pruned_by_partition"] == 7


def test_footer_statistics_prune_whole_files(hive_dir, run_quiver, duck, tmp_path):
    with RangeServer(hive_dir) as server:
        urls = [server.url(f.relative_to(hive_dir).as_posix())
                for f in sorted(hive_dir.glob("*/*/*.parquet"))]
        table, stats = _scan(run_quiver, tmp_path, urls, "--columns", "id,fare",
                             "--where", "id < 600", "--threads", "2")
        server.wait_idle()
        log = server.log()
    # Rows 0..599 lie in the year=2020/region=eu (0..499) and year=2020/region=us files.
    read_data = {unquote(r.path) for r in log if r.range and not r.range.startswith("bytes=-")}
    assert read_data <= {"/year=2020/region=eu/data_0.parquet", "/year=2020/region=us/data_0.parquet"}
    assert len([r for r in log if r.range and r.range.startswith("bytes=-")]) == 8, "one open each"
    assert stats["files_pruned_by_statistics"] == 6
    assert table.column("id").to_pylist() == list(range(600))
    del duck


def test_a_glob_pattern_names_the_matching_files(hive_dir, run_quiver, duck, tmp_path):
    pattern = f"{hive_dir}/year=202[13]/*/*.parquet"
    table, stats = _scan(run_quiver, tmp_path, [pattern], "--columns", "id,year,region",
                         "--where", "k = 0")
    expected = _expected(duck, f"'{pattern}'", "id, year, region", "k = 0")
    util.assert_tables_equal(table, expected)
    assert stats["files"] == 4


def test_many_local_files_without_partitions_read_in_the_order_named(run_quiver, duck, tmp_path):
    con = util.duckdb_connect()
    paths = []
    for part in range(3):
        path = tmp_path / f"part{part}.parquet"
        con.execute(f"COPY (SELECT {part} * 1000 + i AS id, i % 5 AS k FROM range(1000) t(i)) "
                    f"TO '{path}' (FORMAT PARQUET, ROW_GROUP_SIZE 300)")
        paths.append(path)
    con.close()
    named = [paths[2], paths[0], paths[1]]
    table, _ = _scan(run_quiver, tmp_path, named, "--where", "k = 4", "--threads", "2",
                     "--min-split-bytes", "1")
    assert table.column("id").to_pylist() == [
        p * 1000 + i for p in (2, 0, 1) for i in range(1000) if i % 5 == 4]
    listed = "[" + ", ".join(f"'{p}'" for p in named) + "]"
    expected = duck.execute(f"SELECT id, k FROM read_parquet({listed}) WHERE k = 4").to_arrow_table()
    assert sorted(table.column("id").to_pylist()) == sorted(expected.column("id").to_pylist())


def test_files_whose_schemas_differ_are_refused_before_any_row(hive_dir, run_quiver, tmp_path):
    other = tmp_path / "other.parquet"
    con = util.duckdb_connect()
    con.execute(f"COPY (SELECT 'x' AS id, 1 AS k) TO '{other}' (FORMAT PARQUET)")
    con.close()
    first = sorted(hive_dir.glob("*/*/*.parquet"))[0]
    plain = tmp_path / "plain.parquet"
    shutil.copy(first, plain)
    proc = run_quiver("scan", plain, other, "--columns", "id", "--format", "csv")
    message = assert_clean_error(proc)
    assert "schemas differ" in message and "other.parquet" in message and "id" in message, message
    assert proc.stdout == b"", "nothing is written before the schemas are checked"


def test_files_partitioned_differently_are_refused(hive_dir, run_quiver, tmp_path):
    loose = tmp_path / "loose.parquet"
    shutil.copy(sorted(hive_dir.glob("*/*/*.parquet"))[0], loose)
    proc = run_quiver("scan", hive_dir, loose, "--format", "csv")
    message = assert_clean_error(proc, code=2)
    assert "partitioned differently" in message, message


def test_one_file_split_among_instances_keeps_order_and_memory_bound(run_quiver, duck, data_dir,
                                                                      tmp_path):
    source = data_dir / "pa_zstd.parquet"
    expected = util.duckdb_select(duck, source, ["id", "i32", "str"], "i32 > 0")
    for threads in (1, 2, 4):
        table, stats = _scan(run_quiver, tmp_path, [source], "--columns", "id,i32,str",
                             "--where", "i32 > 0", "--threads", str(threads),
                             "--min-split-bytes", "1", "--memory-limit", "64M")
        util.assert_tables_equal(table, expected, f"threads={threads}")
        assert stats["instances"] <= threads
        # Each instance gets its share of the limit; their memories together stay near it.
        assert stats["peak_memory_bytes"] <= 64 * 2**20 * 1.1 + stats["instances"] * 4 * 2**20, stats


def test_explain_lists_each_file_and_those_partitions_rule_out(hive_dir, run_quiver):
    proc = run_quiver("scan", hive_dir, "--where", "year = 2021 AND id < 1100", "--explain",
                      "--format", "json")
    assert proc.returncode == 0, util.describe(proc)
    plans = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert len(plans) == 8
    pruned = [p["url"] for p in plans if p.get("pruned_by") == "partition"]
    assert len(pruned) == 6 and all("year=2021" not in unquote(url) for url in pruned), pruned
    kept = [p for p in plans if "pruned_by" not in p]
    # year=2021 holds ids 1000..1999: region=eu 1000..1499 keeps 1000..1099; region=us none.
    verdicts = {unquote(p["url"]).split("/")[-2]: {g["verdict"] for g in p["row_groups"]}
                for p in kept}
    assert verdicts["region=us"] == {"pruned by statistics"}, verdicts
    assert "read" in verdicts["region=eu"], verdicts


def test_a_file_column_named_like_a_partition_key_is_refused(run_quiver, tmp_path):
    folder = tmp_path / "year=2024"
    folder.mkdir()
    con = util.duckdb_connect()
    con.execute(f"COPY (SELECT 1 AS id, 2023 AS year) TO '{folder / 'a.parquet'}' (FORMAT PARQUET)")
    con.close()
    proc = run_quiver("scan", tmp_path, "--format", "csv")
    message = assert_clean_error(proc)
    assert "partition key" in message and '"year"' in message, message


def test_a_missing_file_among_many_is_a_typed_error_before_any_row(hive_dir, run_quiver):
    files = sorted(hive_dir.glob("*/*/*.parquet"))
    with RangeServer(hive_dir) as server:
        urls = [server.url(f.relative_to(hive_dir).as_posix()) for f in files[:3]]
        urls.insert(1, server.url("year=2020/region=eu/missing.parquet"))
        proc = run_quiver("scan", *urls, "--threads", "2", "--format", "csv")
    message = assert_clean_error(proc)
    assert "404" in message and "missing.parquet" in message, message
    assert proc.stdout == b""


@pytest.mark.parametrize("where", [
    "d = DATE '2024-01-15'",
    "d >= '2024-01-15' AND id > 5",
    "d = DATE '2024-01-16' OR id < 3",
    None,
])
def test_date_partition_values_are_dates_as_in_duckdb(run_quiver, duck, tmp_path, where):
    root = tmp_path / "dates"
    con = util.duckdb_connect()
    con.execute(f"COPY (SELECT i AS id, DATE '2024-01-14' + (i % 3)::INTEGER AS d, "
                f"'x' || (i % 2) AS s FROM range(30) t(i)) TO '{root}' "
                f"(FORMAT PARQUET, PARTITION_BY (d, s))")
    con.close()
    extra = ["--where", where] if where else []
    table, _ = _scan(run_quiver, tmp_path, [root], *extra)
    assert table.schema.field("d").type == pa.date32()
    expected = _expected(duck, f"'{root}/**/*.parquet'", "* EXCLUDE (filename, file_row_number)",
                         where)
    util.assert_tables_equal(table, expected, str(where))
