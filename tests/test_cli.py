"""The ``quiver`` command line: output formats, ``--output``, ``info``, ``--stats``, errors and
exit codes, broken pipes, ``file://`` URLs and ``serve``.

Exit codes (contract): 0 success; 1 typed engine error (bad WHERE, unknown column, not a
Parquet file, HTTP 404, unsupported file) with exactly one human line on stderr; 2 usage errors
and host failures.  No output may ever contain "panic" or "wasm trap".
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import util
from util import assert_clean_error, assert_tables_equal, describe, duckdb_select

MAIN = "pa_zstd.parquet"
#: A small query whose result holds nulls, tricky strings (quote, tab, newline, unicode, empty)
#: and one value of each common type; no NaN/inf (JSON cannot carry them).
FMT_COLUMNS = ["id", "i32", "u64", "str", "b", "dec9_2", "f64", "d", "ts_us", "ts_tz"]
FMT_WHERE = ("str IN ('it''s', 'tab\tsep', 'line\nbreak', ' leading space', 'ñandú', '', 'a%b') "
             "AND (f64 IS NULL OR f64 BETWEEN -1000 AND 1000)")
FMT_LIMIT = 40


# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------

def _scan_stdout(run_quiver, source, fmt, columns=FMT_COLUMNS, where=FMT_WHERE, limit=FMT_LIMIT):
    proc = run_quiver(*util.scan_args(source, columns, where, limit), "--format", fmt)
    util.assert_no_crash(proc)
    assert proc.returncode == 0, describe(proc)
    return proc.stdout


_TS_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]00:?00)?$")


def _ts_text_to_ns(text: str) -> int:
    m = _TS_RE.match(text.strip())
    assert m, f"not an ISO timestamp: {text!r}"
    y, mo, d, h, mi, s, frac, _ = m.groups()
    secs = int((dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s)) -
                dt.datetime(1970, 1, 1)).total_seconds())
    return secs * 10**9 + int((frac or "").ljust(9, "0"))


def _matches(text_value, arrow_value, arrow_type: pa.DataType, *, csv_field: bool) -> bool:
    """Does a CSV field / JSON value represent the Arrow value (``None`` = null)?"""
    if arrow_value is None:
        return text_value is None or (csv_field and text_value == "")
    if text_value is None:
        return False
    if pa.types.is_boolean(arrow_type):
        return str(text_value).lower() == ("true" if arrow_value else "false")
    if pa.types.is_integer(arrow_type):
        return not isinstance(text_value, bool) and int(str(text_value)) == arrow_value
    if pa.types.is_floating(arrow_type):
        return float(str(text_value)) == arrow_value
    if pa.types.is_decimal(arrow_type):
        return Decimal(str(text_value)) == arrow_value
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return text_value == arrow_value
    if pa.types.is_date(arrow_type):  # arrow_value: days since epoch (see util.cells)
        if isinstance(text_value, int):
            return text_value == arrow_value
        return (dt.date.fromisoformat(str(text_value)) - dt.date(1970, 1, 1)).days == arrow_value
    if pa.types.is_timestamp(arrow_type):  # arrow_value: integer in the type's unit
        per_ns = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[arrow_type.unit]
        if isinstance(text_value, int):
            return text_value == arrow_value
        return _ts_text_to_ns(str(text_value)) == arrow_value * per_ns
    raise NotImplementedError(arrow_type)


def _assert_rows_match(parsed_rows: list[dict], reference: pa.Table, fmt: str) -> None:
    expected = util.cells(reference)
    assert len(parsed_rows) == len(expected), f"{fmt}: {len(parsed_rows)} rows, expected {len(expected)}"
    for i, (row, want) in enumerate(zip(parsed_rows, expected)):
        for name, value, field in zip(reference.column_names, want, reference.schema):
            got = row.get(name)
            assert _matches(got, value, field.type, csv_field=(fmt == "csv")), (
                f"{fmt} row {i} column {name}: {got!r} does not represent {value!r} ({field.type})")


@pytest.fixture(scope="module")
def fmt_reference(run_quiver, source_of, duck, data_dir) -> pa.Table:
    """quiver's Arrow answer for the format query (itself checked against DuckDB)."""
    table = util.read_arrow_stream(_scan_stdout(run_quiver, source_of(MAIN, "local"), "arrow"))
    expected = duckdb_select(duck, data_dir / MAIN, FMT_COLUMNS, FMT_WHERE, FMT_LIMIT, order_column="id")
    assert_tables_equal(table, expected, "arrow format on stdout")
    assert 10 <= table.num_rows <= FMT_LIMIT
    assert table.column("str").null_count == 0 and "" in table.column("str").to_pylist()
    return table


def test_format_json(fmt_reference, run_quiver, source_of):
    out = _scan_stdout(run_quiver, source_of(MAIN, "local"), "json").decode("utf-8")
    lines = [ln for ln in out.splitlines() if ln.strip()]
    rows = [json.loads(ln, parse_float=Decimal) for ln in lines]
    assert all(isinstance(r, dict) for r in rows)
    for r in rows:  # absent keys are nulls; no unknown keys
        assert set(r) <= set(FMT_COLUMNS), set(r) - set(FMT_COLUMNS)
    _assert_rows_match(rows, fmt_reference, "json")


def test_format_csv(fmt_reference, run_quiver, source_of):
    out = _scan_stdout(run_quiver, source_of(MAIN, "local"), "csv").decode("utf-8")
    reader = csv.reader(io.StringIO(out, newline=""))
    records = list(reader)
    assert records[0] == FMT_COLUMNS, f"csv header: {records[0]}"
    rows = [dict(zip(FMT_COLUMNS, rec)) for rec in records[1:]]
    assert all(len(rec) == len(FMT_COLUMNS) for rec in records[1:])
    _assert_rows_match(rows, fmt_reference, "csv")


def test_format_table(fmt_reference, run_quiver, source_of):
    """The human table shows every column name and every row (by its id), in order."""
    out = _scan_stdout(run_quiver, source_of(MAIN, "local"), "table").decode("utf-8")
    for name in FMT_COLUMNS:
        assert name in out
    pos = 0
    for rid in fmt_reference.column("id").to_pylist():
        m = re.compile(rf"(?<![\d.-]){rid}(?![\d.])").search(out, pos)
        assert m, f"row id {rid} not found (in order) in table output"
        pos = m.end()


@pytest.mark.parametrize("fmt", ["arrow", "csv", "json", "table"])
def test_output_file(fmt, run_quiver, source_of, tmp_path):
    """``--output FILE`` writes exactly what stdout would have held, and nothing to stdout."""
    src = source_of(MAIN, "local")
    to_stdout = _scan_stdout(run_quiver, src, fmt)
    out = tmp_path / f"result.{fmt}"
    proc = run_quiver(*util.scan_args(src, FMT_COLUMNS, FMT_WHERE, FMT_LIMIT), "--format", fmt,
                      "--output", out)
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout == b""
    if fmt == "arrow":  # byte layout may differ (e.g. batching); the data may not
        assert util.read_arrow_stream(out).equals(util.read_arrow_stream(to_stdout))
    else:
        assert out.read_bytes() == to_stdout


def test_arrow_output_is_a_stream_with_schema_when_empty(run_quiver, source_of):
    """No matching rows still yields a valid Arrow stream carrying the schema."""
    out = _scan_stdout(run_quiver, source_of(MAIN, "local"), "arrow", columns=["id", "str"],
                       where="i32 = NULL", limit=None)
    table = util.read_arrow_stream(out)
    assert table.num_rows == 0
    assert table.column_names == ["id", "str"]


def test_csv_refuses_nested_columns(nested_file, run_quiver, tmp_path):
    """CSV cannot hold structs, lists or maps: one line naming each nested column, exit 1, and
    nothing written (not even the ``--output`` file)."""
    out = tmp_path / "nested.csv"
    for args in ([], ["--output", out]):
        proc = run_quiver("scan", nested_file, "--format", "csv", *args)
        line = assert_clean_error(proc, 1)
        assert proc.stdout == b"" and not out.exists()
        assert "unsupported" in line and "CSV" in line, line
        for name in ('"s"', '"m"', '"im"'):
            assert name in line, line
        assert '"id"' not in line and "s.a" in line and "--format json" in line, line
    proc = run_quiver("scan", nested_file, "--format", "csv", "--columns", "id")
    assert proc.returncode == 0, describe(proc)
    assert proc.stdout.decode().split() == ["id", "1", "2", "3"]


def test_format_json_nested(nested_file, run_quiver):
    """JSON lines: a struct is an object, a list an array, a map an object with its keys as
    strings (integer keys included); nulls are written, so a map entry with a null value stays."""
    proc = run_quiver("scan", nested_file, "--format", "json")
    assert proc.returncode == 0, describe(proc)
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
    assert rows == [
        {"id": 1, "s": {"a": 1, "name": "p", "items": [{"x": 1, "y": "q"}, {"x": 2, "y": None}]},
         "m": {"k": 1, "l": None}, "im": {"7": "seven"}},
        {"id": 2, "s": None, "m": {}, "im": None},
        {"id": 3, "s": {"a": 3, "name": None, "items": []}, "m": None,
         "im": {"1": "one", "2": "two"}},
    ]


def test_format_table_and_arrow_nested(nested_file, run_quiver):
    """The table shows nested values compactly on one line; Arrow carries them unchanged."""
    proc = run_quiver("scan", nested_file, "--format", "table")
    assert proc.returncode == 0, describe(proc)
    text = proc.stdout.decode("utf-8")
    assert "{a: 1, name: p, items: [{x: 1, y: q}, {x: 2, y: NULL}]}" in text, text
    assert "{7: seven}" in text and "3 rows" in text, text
    proc = run_quiver("scan", nested_file, "--format", "arrow")
    assert proc.returncode == 0, describe(proc)
    assert util.read_arrow_stream(proc.stdout).equals(pq.read_table(nested_file))


# --------------------------------------------------------------------------------------------
# info
# --------------------------------------------------------------------------------------------

INFO_FILES = [MAIN, "duckdb_zstd.parquet", "sample"]


def _info_path(name: str, data_dir: Path) -> Path:
    return util.SAMPLE_PATH if name == "sample" else data_dir / name


@pytest.mark.parametrize("name", INFO_FILES)
def test_info_json(name, run_quiver, data_dir):
    path = _info_path(name, data_dir)
    proc = run_quiver("info", path, "--json")
    assert proc.returncode == 0, describe(proc)
    info = json.loads(proc.stdout)
    meta = pq.ParquetFile(path).metadata
    assert info["num_rows"] == meta.num_rows
    assert isinstance(info["row_groups"], list)
    assert len(info["row_groups"]) == meta.num_row_groups
    for i, rg in enumerate(info["row_groups"]):
        assert isinstance(rg, dict) and rg["num_rows"] == meta.row_group(i).num_rows, rg
    assert [c["name"] for c in info["columns"]] == pq.read_schema(path).names


@pytest.mark.parametrize("name", INFO_FILES)
def test_info_text(name, run_quiver, data_dir):
    path = _info_path(name, data_dir)
    proc = run_quiver("info", path)
    assert proc.returncode == 0, describe(proc)
    text = proc.stdout.decode("utf-8")
    meta = pq.ParquetFile(path).metadata
    assert re.search(rf"(?<!\d){meta.num_rows}(?!\d)|{meta.num_rows:,}", text), text[:500]
    for name_ in pq.read_schema(path).names:
        assert name_ in text


def test_info_over_http(run_quiver, range_server, data_dir):
    local = json.loads(run_quiver("info", data_dir / MAIN, "--json").stdout)
    remote = run_quiver("info", range_server.url(MAIN), "--json")
    assert remote.returncode == 0, describe(remote)
    remote = json.loads(remote.stdout)
    for key in ("num_rows", "row_groups", "columns"):
        assert remote[key] == local[key], key


@pytest.fixture(scope="module")
def nested_file(tmp_path_factory) -> Path:
    """A struct holding a list of structs, a map with string keys and one with integer keys."""
    path = tmp_path_factory.mktemp("nested") / "nested.parquet"
    item = pa.struct([("x", pa.int32()), ("y", pa.string())])
    table = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "s": pa.array([{"a": 1, "name": "p", "items": [{"x": 1, "y": "q"}, {"x": 2, "y": None}]},
                       None,
                       {"a": 3, "name": None, "items": []}],
                      pa.struct([("a", pa.int64()), ("name", pa.string()), ("items", pa.list_(item))])),
        "m": pa.array([[("k", 1), ("l", None)], [], None], pa.map_(pa.string(), pa.int64())),
        "im": pa.array([[(7, "seven")], None, [(1, "one"), (2, "two")]], pa.map_(pa.int32(), pa.string())),
    })
    pq.write_table(table, path)
    return path


#: The Parquet schema of ``nested_file`` in pre-order: name, depth, repetition, physical type,
#: logical type (None: none), and the tree drawing ``quiver info`` puts before the name.
NESTED_TREE = [
    ("id", 0, "optional", "INT64", None, ""),
    ("s", 0, "optional", None, None, ""),
    ("a", 1, "optional", "INT64", None, "├─ "),
    ("name", 1, "optional", "BYTE_ARRAY", "String", "├─ "),
    ("items", 1, "optional", None, "List", "└─ "),
    ("list", 2, "repeated", None, None, "   └─ "),
    ("element", 3, "optional", None, None, "      └─ "),
    ("x", 4, "optional", "INT32", None, "         ├─ "),
    ("y", 4, "optional", "BYTE_ARRAY", "String", "         └─ "),
    ("m", 0, "optional", None, "Map", ""),
    ("key_value", 1, "repeated", None, None, "└─ "),
    ("key", 2, "required", "BYTE_ARRAY", "String", "   ├─ "),
    ("value", 2, "optional", "INT64", None, "   └─ "),
    ("im", 0, "optional", None, "Map", ""),
    ("key_value", 1, "repeated", None, None, "└─ "),
    ("key", 2, "required", "INT32", None, "   ├─ "),
    ("value", 2, "optional", "BYTE_ARRAY", "String", "   └─ "),
]


def test_info_nested_tree_json(nested_file, run_quiver):
    """``info --json``: ``schema`` lists every Parquet node in pre-order with its depth, types and
    repetition, and the Arrow type of top-level nodes only; ``columns`` stays top-level."""
    proc = run_quiver("info", nested_file, "--json")
    assert proc.returncode == 0, describe(proc)
    info = json.loads(proc.stdout)
    nodes = info["schema"]
    got = [(n["name"], n["depth"], n["repetition"], n["physical_type"], n["logical_type"])
           for n in nodes]
    assert got == [row[:5] for row in NESTED_TREE]
    arrow = pq.read_schema(nested_file)
    top = [n for n in nodes if n["depth"] == 0]
    assert [n["name"] for n in top] == arrow.names == [c["name"] for c in info["columns"]]
    assert all(n["arrow_type"] for n in top)
    assert all(n["arrow_type"] is None for n in nodes if n["depth"] > 0)
    assert top[0]["arrow_type"] == "Int64"
    assert top[1]["arrow_type"].startswith("Struct") and "List" in top[1]["arrow_type"]
    assert top[2]["arrow_type"].startswith("Map") and top[3]["arrow_type"].startswith("Map")


def test_info_nested_tree_text(nested_file, run_quiver):
    """``info`` draws the schema as a tree: one row per node, its name after tree characters
    that show its depth, then its physical type, logical type, repetition and Arrow type."""
    proc = run_quiver("info", nested_file)
    assert proc.returncode == 0, describe(proc)
    text = proc.stdout.decode("utf-8")
    lines = text[text.index("schema:"):text.index("row groups:")].splitlines()
    # Cells are padded with one space on each side; the tree's own spaces stay.
    rows = [[cell[1:].rstrip() for cell in line.strip("│").split("┆")]
            for line in lines if line.startswith("│")]
    assert rows[0] == ["column", "physical type", "logical type", "repetition", "arrow type"]
    body = rows[1:]
    assert len(body) == len(NESTED_TREE), text
    for cells, (name, depth, repetition, physical, logical, prefix) in zip(body, NESTED_TREE):
        assert cells[0] == prefix + name, (cells, name)
        assert cells[1:4] == [physical or "", logical or "", repetition], (cells, name)
        assert bool(cells[4]) == (depth == 0), (cells, name)
    assert body[0][4] == "Int64" and body[1][4].startswith("Struct")

# --------------------------------------------------------------------------------------------
# --stats
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("transport", ["local", "http"])
def test_stats(transport, run_quiver, source_of, data_dir):
    src = source_of(MAIN, transport)
    proc = run_quiver("scan", src, "--where", "i32 > 99000", "--format", "csv", "--stats")
    assert proc.returncode == 0, describe(proc)
    stats = util.parse_stats(proc.stderr)
    for key in util.STATS_KEYS:
        assert isinstance(stats[key], (int, float)) and not isinstance(stats[key], bool), (key, stats)
        assert stats[key] >= 0, (key, stats)
    for key in ("requests", "bytes_fetched", "row_groups", "row_groups_scanned", "rows_scanned", "rows_matched"):
        assert isinstance(stats[key], int), (key, stats)
    assert stats["row_groups"] == pq.ParquetFile(data_dir / MAIN).metadata.num_row_groups
    csv_rows = len(list(csv.reader(io.StringIO(proc.stdout.decode("utf-8"), newline="")))) - 1
    assert stats["rows_matched"] == csv_rows
    if transport == "http":
        assert stats["requests"] >= 1 and stats["bytes_fetched"] > 0
    # stats go to stderr only: stdout is pure CSV
    assert "rows_matched" not in proc.stdout.decode("utf-8")


def test_no_stats_without_flag(run_quiver, source_of):
    proc = run_quiver("scan", source_of(MAIN, "local"), "--limit", "1", "--format", "csv")
    assert proc.returncode == 0, describe(proc)
    assert "rows_matched" not in proc.stderr


# --------------------------------------------------------------------------------------------
# Errors and exit codes
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, data_dir) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    files = {
        "text": d / "notes.parquet",
        "empty": d / "empty.parquet",
        "truncated": d / "truncated.parquet",
        "no-footer": d / "no_footer.parquet",
    }
    files["text"].write_text("this is not a parquet file\n" * 10)
    files["empty"].write_bytes(b"")
    blob = (data_dir / MAIN).read_bytes()
    files["truncated"].write_bytes(blob[: len(blob) // 2])
    files["no-footer"].write_bytes(blob[:-8])
    return files


@pytest.mark.parametrize("kind", ["text", "empty", "truncated", "no-footer"])
def test_not_a_parquet_file(kind, bad_files, run_quiver):
    for cmd in (["scan", bad_files[kind], "--format", "csv"], ["info", bad_files[kind]]):
        assert_clean_error(run_quiver(*cmd), 1)


@pytest.mark.parametrize("kind", ["text", "truncated"])
def test_not_a_parquet_file_over_http(kind, bad_files, run_quiver):
    from rangeserver import RangeServer

    with RangeServer(bad_files[kind].parent) as srv:
        assert_clean_error(run_quiver("scan", srv.url(bad_files[kind].name), "--format", "csv"), 1)


def test_missing_file(run_quiver, tmp_path):
    assert_clean_error(run_quiver("scan", tmp_path / "does-not-exist.parquet"), 1)
    assert_clean_error(run_quiver("info", tmp_path / "does-not-exist.parquet"), 1)


def test_http_404(run_quiver, range_server):
    line = assert_clean_error(run_quiver("scan", range_server.url("no-such-file.parquet")), 1)
    assert "404" in line or "not found" in line.lower(), line
    assert_clean_error(run_quiver("info", range_server.url("no-such-file.parquet")), 1)


def test_connection_refused(run_quiver):
    """Nothing listens on the port: a clean failure (engine or host error), never a crash."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_quiver("scan", f"http://127.0.0.1:{port}/x.parquet", timeout=60)
    util.assert_no_crash(proc)
    assert proc.returncode in (1, 2), describe(proc)
    assert proc.stderr.strip(), describe(proc)


@pytest.mark.parametrize("args", [
    pytest.param(["--where", "i32 >"], id="bad-where-syntax"),
    pytest.param(["--where", "i32 = = 1"], id="bad-where-double-op"),
    pytest.param(["--where", "nosuch > 1"], id="unknown-column-in-where"),
    pytest.param(["--columns", "id,nosuch"], id="unknown-column-in-columns"),
])
def test_engine_errors(args, run_quiver, source_of):
    for transport in ("local", "http"):
        assert_clean_error(run_quiver("scan", source_of(MAIN, transport), *args), 1)


@pytest.mark.parametrize("args", [
    pytest.param(["scan", "{src}", "--limit", "-1"], id="negative-limit"),
    pytest.param(["scan", "{src}", "--offset", "-1"], id="negative-offset"),
    pytest.param(["scan", "{src}", "--limit", "ten"], id="non-numeric-limit"),
    pytest.param(["scan", "{src}", "--format", "xml"], id="unknown-format"),
    pytest.param(["scan", "{src}", "--no-such-flag"], id="unknown-flag"),
    pytest.param(["scan"], id="missing-source"),
    pytest.param(["frobnicate", "{src}"], id="unknown-command"),
    pytest.param([], id="no-arguments"),
])
def test_usage_errors(args, run_quiver, source_of):
    src = source_of(MAIN, "local")
    proc = run_quiver(*[a.replace("{src}", src) for a in args])
    util.assert_no_crash(proc)
    assert proc.returncode == 2, describe(proc)
    assert proc.stderr.strip(), "usage errors must say what is wrong"
    assert proc.stdout.strip() == b"" or args == [], "no data on stdout for a usage error"


def test_nested_columns_are_refused(run_quiver, tmp_path):
    """struct / list / map columns are not supported yet: exit 1 and a clear one-line message."""
    table = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "s": pa.array([{"a": 1, "b": "x"}, None, {"a": 3, "b": None}],
                      pa.struct([("a", pa.int32()), ("b", pa.string())])),
        "l": pa.array([[1, 2], [], None], pa.list_(pa.int32())),
        "m": pa.array([[("k", 1)], None, []], pa.map_(pa.string(), pa.int32())),
    })
    for col in ("s", "l", "m"):
        path = tmp_path / f"nested_{col}.parquet"
        pq.write_table(table.select(["id", col]), path)
        line = assert_clean_error(run_quiver("scan", path, "--format", "csv"), 1)
        assert re.search(r"nested|struct|list|map|support", line, re.I), line


# --------------------------------------------------------------------------------------------
# Pipes, URLs, serve
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "table", "json", "arrow"])
def test_broken_pipe_is_success(fmt, quiver_bin):
    """``quiver scan BIG | head -1``: the reader going away early is a normal, successful end."""
    cmd = f"set -o pipefail; {quiver_bin} scan {util.SAMPLE_PATH} --format {fmt} | head -c 100 >/dev/null"
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=util.QUIVER_TIMEOUT)
    stderr = p.stderr.decode("utf-8", "replace")
    for marker in util.CRASH_MARKERS:
        assert marker.lower() not in stderr.lower(), stderr
    assert p.returncode == 0, f"pipeline exit {p.returncode}: {stderr}"


def test_head_one_line(quiver_bin):
    cmd = f"set -o pipefail; {quiver_bin} scan {util.SAMPLE_PATH} --format csv | head -1"
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=util.QUIVER_TIMEOUT)
    assert p.returncode == 0, p.stderr.decode("utf-8", "replace")
    assert p.stdout.decode().strip().split(",")[0] == "id"


def test_file_url(scan_arrow, data_dir, tmp_path):
    """file:// URLs read the same data as the plain path, percent-encoding included."""
    expected = scan_arrow(str(data_dir / MAIN), columns=["id", "str", "ts_ns"], where="i32 > 99000")
    assert expected.num_rows > 0
    assert scan_arrow((data_dir / MAIN).as_uri(), columns=["id", "str", "ts_ns"], where="i32 > 99000").equals(expected)
    spaced = tmp_path / "dir with space" / "my file%.parquet"
    spaced.parent.mkdir()
    shutil.copy(data_dir / MAIN, spaced)
    assert "%20" in spaced.as_uri() and "%25" in spaced.as_uri()
    assert scan_arrow(spaced.as_uri(), columns=["id", "str", "ts_ns"], where="i32 > 99000").equals(expected)
    assert scan_arrow(str(spaced), columns=["id", "str", "ts_ns"], where="i32 > 99000").equals(expected)


def test_http_url_with_escapes(scan_arrow, data_dir, tmp_path):
    from rangeserver import RangeServer

    spaced = tmp_path / "sub dir" / "a b.parquet"
    spaced.parent.mkdir()
    shutil.copy(data_dir / MAIN, spaced)
    expected = scan_arrow(str(data_dir / MAIN), columns=["id", "f64"], limit=50)
    with RangeServer(tmp_path) as srv:
        url = srv.url("sub dir/a b.parquet")
        assert "%20" in url
        assert scan_arrow(url, columns=["id", "f64"], limit=50).equals(expected)


def test_sample_file(scan_with_stats, duck):
    """The committed demo file: a realistic query equals DuckDB's answer."""
    where = "payment_type = 'card' AND trip_distance > 20 AND fare_amount >= 60"
    got, stats = scan_with_stats(str(util.SAMPLE_PATH), None, where)
    expected = duckdb_select(duck, util.SAMPLE_PATH, None, where, order_column="id")
    assert_tables_equal(got, expected, "sample.parquet")
    assert 0 < expected.num_rows < 10_000
    meta = pq.ParquetFile(util.SAMPLE_PATH).metadata
    assert stats["row_groups"] == meta.num_row_groups and 4 <= meta.num_row_groups <= 8
    assert util.SAMPLE_PATH.stat().st_size <= 3_200_000


@contextlib.contextmanager
def _quiver_serve(quiver_bin, directory: Path, tmp_path: Path):
    """``quiver serve DIRECTORY`` on a free port; yields the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen([str(quiver_bin), "serve", str(directory), "--port", str(port)],
                                stdout=logf, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, f"serve exited {proc.returncode}: {log.read_text()!r}"
                assert time.monotonic() < deadline, "serve did not start listening within 15 s"
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve(quiver_bin, data_dir, tmp_path):
    """``quiver serve DIR --port N`` answers ranged GETs (206, Content-Range) and suffix ranges."""
    with _quiver_serve(quiver_bin, data_dir, tmp_path) as port:
        blob = (data_dir / MAIN).read_bytes()
        url = f"http://127.0.0.1:{port}/{MAIN}"
        for rng, want in (("bytes=0-3", blob[:4]), ("bytes=-8", blob[-8:]), ("bytes=100-199", blob[100:200])):
            req = urllib.request.Request(url, headers={"Range": rng})
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 206, rng
                assert resp.read() == want, rng
                assert resp.headers["Content-Range"].endswith(f"/{len(blob)}")
        with urllib.request.urlopen(url, timeout=10) as resp:
            assert resp.status == 200 and resp.read() == blob


def test_serve_sends_a_strong_etag_that_follows_the_file(quiver_bin, run_quiver, duck, tmp_path):
    """``quiver serve`` answers with a strong ETag, changed when the file is replaced: a second
    query through it is served from the range cache, and a replaced file is read again."""
    www = tmp_path / "www"
    www.mkdir()
    path = www / "sample.parquet"
    shutil.copyfile(util.SAMPLE_PATH, path)
    where = "id BETWEEN 100000 AND 160000"
    with _quiver_serve(quiver_bin, www, tmp_path) as port:
        url = f"http://127.0.0.1:{port}/sample.parquet"

        def etag() -> str:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=0-3"}),
                                        timeout=10) as resp:
                return resp.headers["ETag"]

        def query() -> dict:
            proc = run_quiver("scan", url, "--columns", "id", "--where", where, "--format", "csv",
                              "--stats")
            assert proc.returncode == 0, util.describe(proc)
            rows = len(proc.stdout.decode().splitlines()) - 1
            want = duck.execute(f"SELECT count(*) FROM read_parquet('{path}') WHERE {where}").fetchone()[0]
            assert rows == want
            return util.parse_stats(proc.stderr)

        first = etag()
        assert first.startswith('"') and first.endswith('"'), first
        assert query()["cache_hits"] == 0
        warm = query()
        assert warm["requests"] == 1 and warm["cache_hits"] > 0, warm
        staging = www / "sample.new"
        shutil.copyfile(util.SAMPLE_PATH, staging)
        os.replace(staging, path)
        assert etag() != first
        assert query()["cache_hits"] == 0, "a replaced file is read again"


def test_memory_limit_keeps_the_answer_within_the_limit(run_quiver):
    """`--stats` reports the instance's peak linear memory; under `--memory-limit` the engine
    reads fewer row groups at once and the peak stays within the limit + 10%, rows unchanged."""
    args = ["scan", str(util.SAMPLE_PATH), "--where", "fare_amount > 50", "--format", "csv"]
    full = run_quiver(*args, "--stats")
    assert full.returncode == 0, util.describe(full)
    peak = util.parse_stats(full.stderr)["peak_memory_bytes"]
    assert 1 << 20 < peak < 256 << 20, peak
    for limit in (6 << 20, 8 << 20):
        limited = run_quiver(*args, "--memory-limit", str(limit), "--stats")
        assert limited.returncode == 0 and limited.stdout == full.stdout, util.describe(limited)
        assert util.parse_stats(limited.stderr)["peak_memory_bytes"] <= limit * 1.1
    assert run_quiver(*args, "--memory-limit", "12Q").returncode == 2  # unknown unit


# --------------------------------------------------------------------------------------------
# Progress bar
# --------------------------------------------------------------------------------------------

def _on_a_terminal(quiver_bin, args: list[str], tmp_path: Path) -> str:
    """What a terminal shows for ``quiver ARGS`` (stdout and stderr), through ``script``'s pty."""
    command = " ".join(shlex.quote(str(a)) for a in [quiver_bin, *args])
    proc = subprocess.run(["script", "-qfec", command, str(tmp_path / "typescript")],
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc
    return proc.stdout.decode(errors="replace")


def test_a_slow_scan_shows_a_progress_bar_on_a_terminal_only(quiver_bin, data_dir, tmp_path,
                                                            run_quiver):
    """Over HTTP with 0.3 s per request the scan takes seconds: on a terminal the bar appears
    (bytes, percent, row groups) and is cleared; with --quiet, or when stderr is a pipe, never."""
    from rangeserver import RangeServer

    with RangeServer(data_dir, latency_s=0.3) as server:
        args = ["scan", server.url("pa_zstd.parquet"), "--where", "i32 > 1000", "--threads", "1",
                "--output", str(tmp_path / "rows.csv")]
        shown = _on_a_terminal(quiver_bin, args, tmp_path)
        quiet = _on_a_terminal(quiver_bin, [*args, "--quiet"], tmp_path)
        piped = run_quiver(*args, "--stats")
    # the engine reports after each wave of requests, not only with batches: a real count shows
    assert re.search(r"\d+% .*row groups \d+/[1-9]", shown), shown
    assert "row groups" not in quiet, quiet
    assert piped.returncode == 0 and "row groups" not in piped.stderr, piped.stderr
    json.loads(piped.stderr.strip().splitlines()[-1])  # --stats is still the last line
