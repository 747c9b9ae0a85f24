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

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import util
from rangeserver import RangeServer

ROWS = 3000
ROW_GROUP_ROWS = 500
CITIES = ["Paris", "Lyon", "Oslo", "Quito", None]


def _person(rng: random.Random) -> dict | None:
    if rng.random() < 0.1:
        return None
    address = None if rng.random() < 0.15 else {
        "city": rng.choice(CITIES),
        "zip": None if rng.random() < 0.1 else rng.randrange(1000, 99999),
    }
    return {
        "name": rng.choice(["ann", "bob", "ada", "cy", None]),
        "age": None if rng.random() < 0.1 else rng.randrange(1, 99),
        "address": address,
    }


def _tags(rng: random.Random) -> list | None:
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.2:
        return []
    return [None if rng.random() < 0.05 else rng.choice("abcdefx") for _ in range(rng.randrange(1, 5))]


def _orders(rng: random.Random) -> list | None:
    if rng.random() < 0.1:
        return None
    return [
        None if rng.random() < 0.05 else {
            "sku": f"s{rng.randrange(100)}",
            "qty": rng.randrange(1, 10),
            "items": None if rng.random() < 0.1 else [
                {"x": rng.randrange(-50, 50), "y": rng.choice(["p", "q", None])}
                for _ in range(rng.randrange(0, 3))
            ],
        }
        for _ in range(rng.randrange(0, 4))
    ]


def _rows() -> list[dict]:
    rng = random.Random(8)
    rows = []
    for i in range(ROWS):
        attrs = None if rng.random() < 0.1 else [
            (f"k{k}", None if rng.random() < 0.1 else rng.randrange(1000))
            for k in rng.sample(range(6), rng.randrange(0, 4))
        ]
        matrix = None if rng.random() < 0.1 else [
            None if rng.random() < 0.1 else [rng.randrange(10) for _ in range(rng.randrange(0, 3))]
            for _ in range(rng.randrange(0, 3))
        ]
        rows.append({"id": i, "person": _person(rng), "tags": _tags(rng), "orders": _orders(rng),
                     "attrs": attrs, "matrix": matrix})
    return rows


SCHEMA = pa.schema([
    ("id", pa.int64()),
    ("person", pa.struct([
        ("name", pa.string()), ("age", pa.int32()),
        ("address", pa.struct([("city", pa.string()), ("zip", pa.int32())])),
    ])),
    ("tags", pa.list_(pa.string())),
    ("orders", pa.list_(pa.struct([
        ("sku", pa.string()), ("qty", pa.int32()),
        ("items", pa.list_(pa.struct([("x", pa.int64()), ("y", pa.string())]))),
    ]))),
    ("attrs", pa.map_(pa.string(), pa.int64())),
    ("matrix", pa.list_(pa.list_(pa.int32()))),
])

WRITERS = ["pyarrow", "duckdb"]


@pytest.fixture(scope="module")
def nested_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("nested")
    table = pa.Table.from_pylist(_rows(), schema=SCHEMA)
    pq.write_table(table, folder / "pyarrow.parquet", row_group_size=ROW_GROUP_ROWS,
                   write_page_index=True, data_page_size=4096)
    con = util.duckdb_connect()
    con.register("source", table)
    con.execute(f"COPY (SELECT * FROM source) TO '{folder / 'duckdb.parquet'}' "
                f"(FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
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


@pytest.mark.parametrize("where, words", [
    ("person > 1", "compare its fields"),
    ("person.height > 1", "person has: name, age, address"),
    ("person.age.x = 1", "not a struct"),
    ("len(id) > 1", "needs a list or a string"),
    ("list_contains(person, 1)", "needs a list"),
    ("list_contains(tags, 1)", "list_contains(tags"),
    ("upper(person.name) = 'A'", "unknown function upper()"),
])
def test_bad_nested_conditions_are_clean_errors(where, words, nested_dir, run_quiver):
    proc = run_quiver("scan", nested_dir / "pyarrow.parquet", "--where", where)
    line = util.assert_clean_error(proc, 1)
    assert words in line, line


@pytest.mark.parametrize("columns, words", [
    ("person,person.age", "overlap"),
    ("person.height", "person has: name, age, address"),
    ("tags.element", "not a struct"),
])
def test_bad_nested_columns_are_clean_errors(columns, words, nested_dir, run_quiver):
    proc = run_quiver("scan", nested_dir / "pyarrow.parquet", "--columns", columns)
    line = util.assert_clean_error(proc, 1)
    assert words in line, line
