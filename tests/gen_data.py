#!/usr/bin/env python3
"""Deterministic generator of the Parquet files used by Quiver's conformance tests.

Two products:

* ``python tests/gen_data.py DIR`` writes the *conformance* files into DIR (the tests use
  ``tests/.data/``, which is gitignored; ``conftest.py`` calls :func:`generate` itself and
  regenerates only when this script or the pyarrow/duckdb versions change).  Every file holds
  the same table (see :func:`all_types_table`), written with different writers, codecs and
  page layouts, so every file must give the same answers to the same query.
* ``python tests/gen_data.py --sample OUT`` writes the small, realistic demo file (taxi-like
  trips) committed as ``tests/data/sample.parquet``.

Everything is seeded: the same versions of pyarrow/duckdb produce byte-identical files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import struct
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import stamp

SEED = 20240611
NUM_ROWS = 10_000
ROW_GROUP_SIZE = 2_000
NULL_FRACTION = 0.10

#: pyarrow codecs: file stem -> pyarrow ``compression`` argument.  pyarrow's "LZ4" writes
#: the LZ4_RAW codec (Thrift codec 7).
PYARROW_CODECS = {
    "none": "NONE",
    "snappy": "SNAPPY",
    "gzip": "GZIP",
    "brotli": "BROTLI",
    "lz4raw": "LZ4",
    "zstd": "ZSTD",
}

#: DuckDB writer codecs: file stem -> DuckDB COMPRESSION option.
DUCKDB_CODECS = {
    "duckdb_uncompressed": "uncompressed",
    "duckdb_snappy": "snappy",
    "duckdb_zstd": "zstd",
}

#: Names of the columns of the all-types table, in schema order.  ``id`` is the row index
#: (0..NUM_ROWS-1, never null, increasing in file order); tests use it to check row order.
ID_COLUMN = "id"
QUOTED_COLUMN = "Weird Name"  # needs double quotes in a WHERE clause (space, capitals)

I8_MIN, I8_MAX = -(2**7), 2**7 - 1
I16_MIN, I16_MAX = -(2**15), 2**15 - 1
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
F32_MAX = struct.unpack("<f", struct.pack("<I", 0x7F7FFFFF))[0]
F32_MIN_SUBNORMAL = struct.unpack("<f", struct.pack("<I", 0x00000001))[0]
F32_MIN_NORMAL = struct.unpack("<f", struct.pack("<I", 0x00800000))[0]
F64_MIN_SUBNORMAL = 5e-324


def f32(x: float) -> float:
    """Round a Python float to the nearest float32 (what pyarrow stores)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


#: String pool: empty string, unicode, shared prefixes (for LIKE), LIKE metacharacters.
STRING_POOL = [
    "",
    "a",
    "ap",
    "app",
    "apple",
    "apples",
    "applesauce",
    "application",
    "apricot",
    "Apple",
    "APPLE",
    "banana",
    "band",
    "bandana",
    "bandwidth",
    "b",
    "c",
    "cherry",
    "zebra",
    "zz",
    "a%b",
    "a_b",
    "a\\b",
    "100%",
    "it's",
    " leading space",
    "trailing space ",
    "ñandú",
    "naïve",
    "émigré",
    "日本語",
    "日本",
    "😀 emoji",
    "Ωmega",
    "\u00e9t\u00e9",  # precomposed
    "e\u0301te\u0301",  # decomposed (must not equal the precomposed one)
    "tab\tsep",
    "line\nbreak",
]


def dec(unscaled: int, scale: int) -> Decimal:
    """Exact Decimal ``unscaled * 10**-scale`` (``Decimal.scaleb`` would round to 28 digits)."""
    sign = 1 if unscaled < 0 else 0
    return Decimal((sign, tuple(int(c) for c in str(abs(unscaled))), -scale))


def _maybe_null(rng: random.Random, value):
    return None if rng.random() < NULL_FRACTION else value


def _pick(rng: random.Random, specials: list, p_special: float, gen):
    """Return one of ``specials`` with probability ``p_special``, else ``gen()``."""
    if rng.random() < p_special:
        return rng.choice(specials)
    return gen()


def all_types_rows(num_rows: int = NUM_ROWS, seed: int = SEED) -> dict[str, list]:
    """Column name -> list of Python values for the all-types table (deterministic)."""
    rng = random.Random(seed)
    cols: dict[str, list] = {name: [] for name, _ in ALL_TYPES_SCHEMA}
    epoch_day_2020 = (dt.date(2020, 1, 1) - dt.date(1970, 1, 1)).days
    base_us = 1_577_836_800_000_000  # 2020-01-01T00:00:00Z in microseconds
    span_us = 4 * 365 * 86_400 * 1_000_000  # timestamps mostly increase over ~4 years

    for i in range(num_rows):
        cols["id"].append(i)
        m = _maybe_null
        cols["i8"].append(m(rng, _pick(rng, [I8_MIN, I8_MAX, 0, -1, 1], 0.05, lambda: rng.randint(-100, 100))))
        cols["i16"].append(m(rng, _pick(rng, [I16_MIN, I16_MAX, 0, -1], 0.05, lambda: rng.randint(-5000, 5000))))
        cols["i32"].append(m(rng, _pick(rng, [I32_MIN, I32_MAX, 0, 2, 3, 1000, 1001], 0.05,
                                        lambda: rng.randint(-100_000, 100_000))))
        cols["i64"].append(m(rng, _pick(rng, [I64_MIN, I64_MAX, 0, 2**53, 2**53 + 1, -(2**53) - 1], 0.05,
                                        lambda: rng.randint(-10**12, 10**12))))
        cols["u8"].append(m(rng, _pick(rng, [0, 255, 128, 127], 0.05, lambda: rng.randint(0, 200))))
        cols["u16"].append(m(rng, _pick(rng, [0, 65535, 32768], 0.05, lambda: rng.randint(0, 60000))))
        cols["u32"].append(m(rng, _pick(rng, [0, 2**32 - 1, 2**31, 2**31 - 1], 0.05,
                                        lambda: rng.randint(0, 3_000_000_000))))
        cols["u64"].append(m(rng, _pick(rng, [0, 2**64 - 1, 2**63, 2**63 - 1, 2**63 + 1], 0.08,
                                        lambda: rng.choice([rng.randint(0, 10**6), rng.randint(2**63, 2**64 - 1)]))))
        cols["f32"].append(m(rng, _pick(
            rng,
            [math.nan, -0.0, 0.0, math.inf, -math.inf, F32_MAX, -F32_MAX, F32_MIN_SUBNORMAL,
             F32_MIN_NORMAL, f32(0.1), f32(0.5), 1.0, f32(1e-7)],
            0.15,
            lambda: f32(rng.uniform(-1000.0, 1000.0)))))
        cols["f64"].append(m(rng, _pick(
            rng,
            [math.nan, -0.0, 0.0, math.inf, -math.inf, sys.float_info.max, -sys.float_info.max,
             F64_MIN_SUBNORMAL, sys.float_info.min, 0.1, 2.5, 1000.0, 1e3 + 1e-9, f32(0.1)],
            0.15,
            lambda: rng.uniform(-1000.0, 1000.0))))
        cols["dec9_2"].append(m(rng, _pick(
            rng, [Decimal("9999999.99"), Decimal("-9999999.99"), Decimal("0.00"), Decimal("2.50"),
                  Decimal("5.00"), Decimal("-0.05")], 0.05,
            lambda: dec(rng.randint(-100_000, 100_000), 2))))
        cols["dec18_4"].append(m(rng, _pick(
            rng, [Decimal("99999999999999.9999"), Decimal("-99999999999999.9999"), Decimal("0.0000"),
                  Decimal("1.0000"), Decimal("0.0001")], 0.05,
            lambda: dec(rng.randint(-10**10, 10**10), 4))))
        cols["dec38_10"].append(m(rng, _pick(
            rng, [dec(10**38 - 1, 10), dec(-(10**38 - 1), 10), dec(0, 10),
                  Decimal("12345678901234567890.0123456789")], 0.05,
            lambda: dec(rng.randint(-10**25, 10**25), 10))))
        cols["str"].append(m(rng, _pick(rng, STRING_POOL, 0.6, lambda: f"item-{rng.randint(0, 99999):05d}")))
        cols["b"].append(m(rng, rng.random() < 0.4))
        day = epoch_day_2020 + (i * 1461) // num_rows + rng.randint(-3, 3)
        cols["d"].append(m(rng, _pick(
            rng, [dt.date(1969, 12, 31), dt.date(1970, 1, 1), dt.date(1900, 1, 1), dt.date(2199, 12, 31),
                  dt.date(2020, 2, 29)], 0.02,
            lambda: dt.date(1970, 1, 1) + dt.timedelta(days=day))))
        # Timestamps: mostly increasing with the row index (row-group pruning has something to
        # do), plus pre-1970 values (negative, floor semantics) and exact midnights.
        t_us = base_us + (i * span_us) // num_rows + rng.randint(-3_600_000_000, 3_600_000_000)
        special = rng.random() < 0.03
        if special:
            t_us = rng.choice([0, -1, -86_400_000_000, base_us, -2_208_988_800_000_000 + 123_456])
        cols["ts_ms"].append(m(rng, t_us // 1000))
        cols["ts_us"].append(m(rng, t_us))
        # nanoseconds: add a sub-microsecond part so a TIMESTAMP literal (us) must compare exactly
        cols["ts_ns"].append(m(rng, t_us * 1000 + (0 if special else rng.randint(0, 999))))
        cols["ts_tz"].append(m(rng, t_us))
        cols[QUOTED_COLUMN].append(m(rng, rng.randint(-10, 10)))
        cols["all_null"].append(None)
    return cols


#: (name, arrow type) of every column of the all-types table.
ALL_TYPES_SCHEMA: list[tuple[str, pa.DataType]] = [
    ("id", pa.int64()),
    ("i8", pa.int8()),
    ("i16", pa.int16()),
    ("i32", pa.int32()),
    ("i64", pa.int64()),
    ("u8", pa.uint8()),
    ("u16", pa.uint16()),
    ("u32", pa.uint32()),
    ("u64", pa.uint64()),
    ("f32", pa.float32()),
    ("f64", pa.float64()),
    ("dec9_2", pa.decimal128(9, 2)),
    ("dec18_4", pa.decimal128(18, 4)),
    ("dec38_10", pa.decimal128(38, 10)),
    ("str", pa.string()),
    ("b", pa.bool_()),
    ("d", pa.date32()),
    ("ts_ms", pa.timestamp("ms")),
    ("ts_us", pa.timestamp("us")),
    ("ts_ns", pa.timestamp("ns")),
    ("ts_tz", pa.timestamp("us", tz="UTC")),
    (QUOTED_COLUMN, pa.int32()),
    ("all_null", pa.int32()),
]


def all_types_table(num_rows: int = NUM_ROWS, seed: int = SEED) -> pa.Table:
    """The all-types table (see :data:`ALL_TYPES_SCHEMA`); ``id`` is never null."""
    rows = all_types_rows(num_rows, seed)
    schema = pa.schema([pa.field(n, t, nullable=(n != ID_COLUMN)) for n, t in ALL_TYPES_SCHEMA])
    return pa.table([pa.array(rows[n], type=t) for n, t in ALL_TYPES_SCHEMA], schema=schema)


def _pyarrow_variants() -> dict[str, dict]:
    """File stem -> keyword arguments for ``pyarrow.parquet.write_table``."""
    variants = {f"pa_{stem}": {"compression": codec} for stem, codec in PYARROW_CODECS.items()}
    variants["pa_zstd_pagev2"] = {"compression": "ZSTD", "data_page_version": "2.0"}
    # Plain encoding only, and decimals stored as INT32/INT64 (precision <= 18) instead of FLBA.
    variants["pa_snappy_nodict"] = {"compression": "SNAPPY", "use_dictionary": False,
                                    "store_decimal_as_integer": True}
    # Small pages with a page index: many pages per column chunk, column/offset indexes present.
    variants["pa_zstd_pageindex"] = {"compression": "ZSTD", "data_page_size": 4096,
                                     "write_page_index": True}
    # No statistics at all: an engine must not need them to answer correctly.
    variants["pa_none_nostats"] = {"compression": "NONE", "write_statistics": False}
    return variants


def file_names() -> list[str]:
    """Names (``*.parquet``) of every conformance file :func:`generate` writes."""
    return [f"{s}.parquet" for s in _pyarrow_variants()] + [f"{s}.parquet" for s in DUCKDB_CODECS]


STAMP_NAME = "_generated.json"


def is_up_to_date(out_dir: Path) -> bool:
    """True when ``out_dir`` holds every file, generated by this script and these versions."""
    return stamp.is_current(out_dir, STAMP_NAME, Path(__file__), file_names())


def generate(out_dir: Path | str, force: bool = False) -> list[Path]:
    """Write every conformance file into ``out_dir`` (skipped when already up to date)."""
    import duckdb

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not force and is_up_to_date(out_dir):
        return [out_dir / n for n in file_names()]
    stamp.clear(out_dir, STAMP_NAME)

    table = all_types_table()
    written = []
    for stem, kwargs in _pyarrow_variants().items():
        path = out_dir / f"{stem}.parquet"
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE, **kwargs)
        os.replace(tmp, path)
        written.append(path)

    source = out_dir / "pa_none.parquet"
    con = duckdb.connect()
    con.execute("SET threads=1")
    con.execute("SET TimeZone='UTC'")
    for stem, codec in DUCKDB_CODECS.items():
        path = out_dir / f"{stem}.parquet"
        tmp = path.with_suffix(".tmp")
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{source}')) TO '{tmp}' "
            f"(FORMAT parquet, COMPRESSION {codec}, ROW_GROUP_SIZE {ROW_GROUP_SIZE})"
        )
        os.replace(tmp, path)
        written.append(path)
    con.close()

    stamp.write(out_dir, STAMP_NAME, Path(__file__), [p.name for p in written])
    return written


# --------------------------------------------------------------------------------------------
# Demo sample
# --------------------------------------------------------------------------------------------

SAMPLE_ROWS = 200_000
SAMPLE_ROW_GROUP_SIZE = 40_000  # -> 5 row groups
VENDORS = ["CMT", "VTS", "DDS", "Yellow Cab Co", "Green Taxi"]
PAYMENTS = ["card", "cash", "no charge", "dispute", "unknown"]


def sample_table(num_rows: int = SAMPLE_ROWS, seed: int = SEED) -> pa.Table:
    """A taxi-like trips table: realistic enough for a demo, small once zstd-compressed."""
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1)
    seconds_in_range = 31 * 86_400  # one month of trips, in pickup order
    ids, pickup, vendor, passengers, distance, fare, payment, tip, flag = ([] for _ in range(9))
    for i in range(num_rows):
        ids.append(i + 1)
        pickup.append(start + dt.timedelta(seconds=(i * seconds_in_range) // num_rows + rng.randint(0, 59)))
        vendor.append(rng.choices(VENDORS, weights=[40, 45, 5, 7, 3])[0])
        passengers.append(None if rng.random() < 0.02 else rng.choices([0, 1, 2, 3, 4, 5, 6],
                                                                        weights=[2, 60, 18, 7, 4, 5, 4])[0])
        dist = round(min(rng.expovariate(1 / 3.0), 60.0), 1)
        distance.append(dist)
        fare_cents = 300 + int(dist * 250) + rng.choice([0, 0, 0, 50, 100, 250])
        fare.append(dec(fare_cents, 2))
        pay = rng.choices(PAYMENTS, weights=[70, 25, 2, 1, 2])[0]
        payment.append(pay)
        pct = rng.choice([0.0, 0.1, 0.15, 0.2, 0.25]) if pay == "card" else 0.0
        tip.append(round(fare_cents * pct / 100, 2))
        flag.append(rng.random() < 0.01)
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "pickup_at": pa.array(pickup, pa.timestamp("us")),
        "vendor": pa.array(vendor, pa.string()),
        "passenger_count": pa.array(passengers, pa.int8()),
        "trip_distance": pa.array(distance, pa.float64()),
        "fare_amount": pa.array(fare, pa.decimal128(10, 2)),
        "payment_type": pa.array(payment, pa.string()),
        "tip_amount": pa.array(tip, pa.float64()),
        "store_and_fwd": pa.array(flag, pa.bool_()),
    })


def write_sample(out: Path | str) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    pq.write_table(sample_table(), tmp, compression="ZSTD", row_group_size=SAMPLE_ROW_GROUP_SIZE)
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", help="directory for the conformance files")
    parser.add_argument("--sample", metavar="OUT", help="write the demo sample file to OUT")
    parser.add_argument("--force", action="store_true", help="regenerate even when up to date")
    args = parser.parse_args(argv)
    if not args.out_dir and not args.sample:
        parser.error("give OUT_DIR and/or --sample OUT")
    if args.out_dir:
        t0 = time.monotonic()
        paths = generate(args.out_dir, force=args.force)
        print(f"{len(paths)} files in {args.out_dir} ({time.monotonic() - t0:.1f} s)")
    if args.sample:
        t0 = time.monotonic()
        path = write_sample(args.sample)
        meta = pq.ParquetFile(path).metadata
        print(f"{path}: {meta.num_rows} rows, {meta.num_row_groups} row groups, "
              f"{path.stat().st_size / 1e6:.2f} MB ({time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
