"""Nested columns (struct, list, map) against DuckDB, locally and over HTTP.

Two generated files hold the same kinds of nesting, one written by pyarrow and one by DuckDB:
structs of structs, lists with NULL and empty lists and NULL elements, lists of structs holding
lists of structs, maps, lists of lists, and NULLs at every level. Each is read

* whole (every column, every value, in file order);
* by dotted paths (``--columns person.address.city``): the output keeps the parent structure,
  holding only the fields named, and each leaf's values are DuckDB's ``person.address.city``
  (NULL where any struct above it is NULL);
* with WHERE clauses on struct fields, ``len()`` and ``list_contains()``, whose rows must be
  DuckDB's for the same SQL.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import nested_data
import util
from nested_data import ROW_GROUP_ROWS, ROWS
from rangeserver import RangeServer

WRITERS = ["pyarrow", "duckdb"]


@pytest.fixture(scope="module")
def nested_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("nested")
    nested_data.write(folder)
    return folder


@pytest.fixture(scope="module")
def nested_server(nested_dir: Path):
    with RangeServer(nested_dir) as server:
        yield server


def _source(nested_dir: Path, server: RangeServer, writer: str, transport: str) -> str:
    name = f"{writer}.parquet"
    return server.url(name) if transport == "http" else str(nested_dir / name)


def _values(column: pa.ChunkedArray) -> list:
    """Python values; maps as lists of (key, value) pairs, as pyarrow gives them."""
    return column.to_pylist()


def _leaf(row_value, path: list[str]):
    """The field `path` below a struct value: NULL where a struct on the way is NULL."""
    for name in path:
        if row_value is None:
            return None
        row_value = row_value[name]
    return row_value


def _duck(con, path: Path, sql: str) -> pa.Table:
    return con.execute(sql.replace("FILE", f"read_parquet('{path}')")).to_arrow_table()


@pytest.mark.parametrize("transport", ["local", "http"])
@pytest.mark.parametrize("writer", WRITERS)
def test_whole_nested_columns_equal_duckdb(writer, transport, nested_dir, nested_server,
                                          scan_arrow, duck):
    got = scan_arrow(_source(nested_dir, nested_server, writer, transport))
    expected = _duck(duck, nested_dir / f"{writer}.parquet", "SELECT * FROM FILE")
    assert got.column_names == expected.column_names
    assert got.num_rows == ROWS
    for name in expected.column_names:
        assert _values(got.column(name)) == _values(expected.column(name)), name
    # the Arrow types keep the nesting: a list of structs holding a list of structs, a map
    orders = got.schema.field("orders").type
    assert pa.types.is_list(orders) and pa.types.is_struct(orders.value_type)
    assert pa.types.is_map(got.schema.field("attrs").type)


PATHS = [
    ["person.address.city", "id"],
    ["id", "person.age", "person.address.zip", "tags"],
    ["orders", "PERSON.Name"],
]


@pytest.mark.parametrize("transport", ["local", "http"])
@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("columns", PATHS, ids=lambda c: ",".join(c))
def test_dotted_paths_keep_the_parent_structure(columns, writer, transport, nested_dir,
                                               nested_server, scan_arrow, duck):
    got = scan_arrow(_source(nested_dir, nested_server, writer, transport), columns=columns)
    # one output column per top-level column, in the order first named
    roots = list(dict.fromkeys(c.split(".")[0].lower() for c in columns))
    assert got.column_names == roots
    person = got.schema.field("person").type if "person" in roots else None
    named = {tuple(c.lower().split(".")[1:]) for c in columns if c.lower().startswith("person.")}
    if person is not None:
        # only the fields named, in the file's order
        kept = [f.name for f in person]
        assert kept == [f for f in ["name", "age", "address"] if any(p[0] == f for p in named)]
    rows = got.to_pylist()
    for column in columns:
        parts = column.lower().split(".")
        expected = _duck(duck, nested_dir / f"{writer}.parquet",
                         f"SELECT {column} AS v FROM FILE").column("v").to_pylist()
        assert [_leaf(row[parts[0]], parts[1:]) for row in rows] == expected, column


WHERE = [
    "person.age > 30",
    "person.address.city = 'Paris'",
    "person.address.city IS NULL",
    "person.address.zip BETWEEN 10000 AND 20000 AND person.name <> 'ann'",
    "person.name LIKE 'a%'",
    "len(tags) > 2",
    "len(tags) = 0",
    "len(orders) >= 2 AND len(matrix) < 2",
    "list_contains(tags, 'x')",
    "NOT list_contains(tags, 'x')",
    "list_contains(tags, 'a') OR person.age < 10",
    "person.age > 1000",
    "person IS NULL OR tags IS NULL",
    "person.address IS NOT NULL AND attrs IS NOT NULL",
]


@pytest.mark.parametrize("transport", ["local", "http"])
@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("where", WHERE)
def test_where_on_nested_paths_equals_duckdb(where, writer, transport, nested_dir, nested_server,
                                            scan_arrow, duck):
    got = scan_arrow(_source(nested_dir, nested_server, writer, transport),
                     columns=["id", "person"], where=where)
    expected = _duck(duck, nested_dir / f"{writer}.parquet",
                     f"SELECT id, person FROM FILE WHERE {where}")
    assert got.column("id").to_pylist() == expected.column("id").to_pylist(), where
    assert _values(got.column("person")) == _values(expected.column("person")), where


def test_struct_leaf_statistics_prune_row_groups_and_pages(nested_dir, scan_with_stats, duck):
    """Row groups are written in id order, so `person.age` bounds prune nothing, but a
    condition no value meets is answered from the leaf's statistics without reading a page."""
    path = nested_dir / "pyarrow.parquet"
    table, stats = scan_with_stats(str(path), ["id"], "person.age > 1000")
    assert table.num_rows == 0
    assert stats["row_groups_pruned"] == ROWS // ROW_GROUP_ROWS, stats
    assert stats["bytes_data"] == 0, stats
    # a list's length is not bounded by its elements' statistics: nothing pruned
    table, stats = scan_with_stats(str(path), ["id"], "len(tags) > 1000")
    assert table.num_rows == 0 and stats["row_groups_pruned"] == 0, stats


@pytest.mark.parametrize("flag, value, words", [
    ("--where", "person > 1", "compare its fields"),
    ("--where", "person.height > 1", "person has: name, age, address"),
    ("--where", "person.age.x = 1", "not a struct"),
    ("--where", "len(id) > 1", "needs a list or a string"),
    ("--where", "list_contains(person, 1)", "needs a list"),
    ("--where", "list_contains(tags, 1)", "list_contains(tags"),
    ("--where", "upper(person.name) = 'A'", "unknown function upper()"),
    ("--columns", "person,person.age", "overlap"),
    ("--columns", "person.height", "person has: name, age, address"),
    ("--columns", "tags.element", "not a struct"),
])
def test_bad_nested_conditions_and_columns_are_clean_errors(flag, value, words, nested_dir,
                                                          run_quiver):
    proc = run_quiver("scan", nested_dir / "pyarrow.parquet", flag, value)
    line = util.assert_clean_error(proc, 1)
    assert words in line, line


def _every_logical_type() -> pa.Table:
    """A column of each logical type pyarrow writes, with a NULL in each, and extremes."""
    n = 4
    ints = {
        "i8": (pa.int8(), [-128, 0, 127, None]), "u8": (pa.uint8(), [0, 1, 255, None]),
        "i16": (pa.int16(), [-32768, 0, 32767, None]), "u16": (pa.uint16(), [0, 1, 65535, None]),
        "i32": (pa.int32(), [-2**31, 0, 2**31 - 1, None]),
        "u32": (pa.uint32(), [0, 1, 2**32 - 1, None]),
        "i64": (pa.int64(), [-2**63, 0, 2**63 - 1, None]),
        "u64": (pa.uint64(), [0, 1, 2**64 - 1, None]),
    }
    from decimal import Decimal
    columns = {name: pa.array(values, t) for name, (t, values) in ints.items()}
    columns.update({
        # stored as INT32, INT64 and FIXED_LEN_BYTE_ARRAY by their precision
        "dec_i32": pa.array([Decimal("-9999.99"), Decimal("0.01"), Decimal("1234.50"), None],
                            pa.decimal128(6, 2)),
        "dec_i64": pa.array([Decimal("-99999999999.999"), Decimal("0"), Decimal("1.5"), None],
                            pa.decimal128(14, 3)),
        "dec_flba": pa.array([Decimal("-1" + "0" * 30), Decimal("0.5"), Decimal("3.25"), None],
                             pa.decimal128(38, 2)),
        "f16": pa.array([-1.5, 0.0, 65504.0, None], pa.float16()),
        "f32": pa.array([-1.5, float("inf"), 3.25, None], pa.float32()),
        "date": pa.array([-719162, 0, 2932896, None], pa.date32()),
        "time_ms": pa.array([0, 1, 86_399_999, None], pa.time32("ms")),
        "time_us": pa.array([0, 1, 86_399_999_999, None], pa.time64("us")),
        "time_ns": pa.array([0, 1, 86_399_999_999_999, None], pa.time64("ns")),
        "ts_ms_utc": pa.array([-2**40, 0, 2**40, None], pa.timestamp("ms", "UTC")),
        "ts_us_local": pa.array([-2**50, 0, 2**50, None], pa.timestamp("us")),
        "ts_ns_utc": pa.array([-2**62, 0, 2**62, None], pa.timestamp("ns", "UTC")),
        "binary": pa.array([b"", b"\x00\xff", b"abc", None], pa.binary()),
        "fixed": pa.array([b"abcd", b"\x00\x00\x00\x00", b"wxyz", None], pa.binary(4)),
        "uuid": pa.array([bytes(range(16)), bytes(16), b"\xff" * 16, None], pa.uuid()),
        "json": pa.array(['{"a": 1}', "[]", "null", None], pa.json_()),
        "string": pa.array(["", "é", "z" * 100, None], pa.string()),
        "null": pa.nulls(n, pa.null()),
        "bool": pa.array([True, False, True, None], pa.bool_()),
    })
    return pa.table(columns)


def test_every_logical_type_reads_as_pyarrow_does(tmp_path, scan_arrow):
    path = tmp_path / "types.parquet"
    pq.write_table(_every_logical_type(), path, store_decimal_as_integer=True)
    physical = {pq.ParquetFile(path).schema.column(i).name: pq.ParquetFile(path).schema.column(i)
                for i in range(len(pq.ParquetFile(path).schema))}
    # the file holds what the test means to test
    assert physical["dec_i32"].physical_type == "INT32"
    assert physical["dec_i64"].physical_type == "INT64"
    assert physical["dec_flba"].physical_type == "FIXED_LEN_BYTE_ARRAY"
    assert str(physical["f16"].logical_type) == "Float16"
    assert str(physical["uuid"].logical_type) == "UUID"
    got = scan_arrow(str(path))
    expected = pq.read_table(path)
    util.assert_tables_equal(got, expected, "every logical type")
    types = {field.name: field.type for field in got.schema}
    assert types["u64"] == pa.uint64() and types["u8"] == pa.uint8()
    assert types["dec_flba"] == pa.decimal128(38, 2)
    assert types["time_ns"] == pa.time64("ns") and types["time_ms"] == pa.time32("ms")
    assert types["ts_us_local"] == pa.timestamp("us")
    assert types["ts_ns_utc"].tz is not None
    assert types["null"] == pa.null()


@pytest.mark.parametrize("codec", ["none", "snappy", "gzip", "brotli", "zstd", "lz4"])
@pytest.mark.parametrize("page_version", ["1.0", "2.0"])
def test_nested_columns_on_every_codec_and_page_version(codec, page_version, tmp_path,
                                                        scan_arrow):
    table = pa.Table.from_pylist(nested_data.rows()[:700], schema=nested_data.SCHEMA)
    path = tmp_path / f"{codec}-{page_version}.parquet"
    pq.write_table(table, path, compression=codec, data_page_version=page_version,
                   row_group_size=300, data_page_size=2048)
    got = scan_arrow(str(path))
    assert got.column_names == table.column_names
    for name in table.column_names:
        assert _values(got.column(name)) == _values(table.column(name)), name
