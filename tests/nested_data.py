"""Generated nested data: the same rows written by pyarrow and by DuckDB, for the nested-column
tests of every host (structs of structs, lists with NULL and empty lists and NULL elements, lists
of structs holding lists of structs, maps, lists of lists, and NULLs at every level)."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import util

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


def rows() -> list[dict]:
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


def write(folder: Path) -> None:
    """``pyarrow.parquet`` and ``duckdb.parquet`` in `folder`: the same rows, in row groups of
    ROW_GROUP_ROWS (pyarrow's with a page index and small pages)."""
    table = pa.Table.from_pylist(rows(), schema=SCHEMA)
    pq.write_table(table, folder / "pyarrow.parquet", row_group_size=ROW_GROUP_ROWS,
                   write_page_index=True, data_page_size=4096)
    con = util.duckdb_connect()
    con.register("source", table)
    con.execute(f"COPY (SELECT * FROM source) TO '{folder / 'duckdb.parquet'}' "
                f"(FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
