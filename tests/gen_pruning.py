#!/usr/bin/env python3
"""Deterministic generator of the Parquet files of ``test_pruning.py``: small files (6,000 rows)
with many small row groups and pages, crafted so that statistics, page-index, bloom-filter and
dictionary pruning all have something to do — and something to get wrong.

``python tests/gen_pruning.py DIR`` writes them into DIR; the tests call :func:`generate` on the
shared, gitignored ``tests/.data/`` (regenerated only when this script or the writer versions
change; the stamp is ``_pruning.json``, separate from gen_data.py's).

The table (:func:`pruning_table`) has ``NUM_ROWS`` rows; row ``i`` lies in "block" ``i // 1000``
and "page slot" ``(i % 1000) // 100``.  The pyarrow files with ``ROWS_PER_PAGE`` pages and
``ROW_GROUP_SIZE`` row groups put block boundaries on row-group boundaries and page slots on
pages, so the per-block and per-slot patterns below become whole row groups / whole pages:

* sorted columns (``id seg u32s u64s f64s dec_m d ts_ms ts_us ts_ns ts_ny ts_tzns s``), whose
  values at any row are given by :func:`sorted_value` (tests put literals at and just beyond
  page and row-group boundaries);
* NULL: ``nul`` is NULL in all of block 1 and in page slot 3 of every block, ``allnull`` always;
* floats ``fz``/``fz32``: per row group zeros of one sign only and NaNs of one bit pattern only
  (against bloom filters, which hash bits);
* floats ``f64``/``f32``: every page slot is a different special kind (NaN-only, NaN mixed,
  -0.0 only, +0.0 only, zeros of both signs, ±inf only, all NULL, …) and block 2 is all NaN;
  ``f64x`` has no NaN-only page (so pyarrow writes its column index) but NaN-mixed pages;
  NaNs come with several bit patterns (negative, payload);
* unsigned ints: pages holding only values above the signed maximum (a signed reading of the
  statistics turns them negative);
* decimals of small (INT32 / 3-byte FLBA), medium and large precision, with all-negative pages;
* strings longer than the statistics limits (pyarrow drops statistics above 4 KiB, DuckDB
  truncates them to 256 bytes, also in the middle of a UTF-8 sequence), common prefixes, empty
  strings, non-ASCII;
* dictionary columns with a different small set of values per block (``lc``, ``lci``): values
  between min and max but absent from the dictionary; ``hc`` is high-cardinality (dictionary
  fallback with a tiny ``dictionary_pagesize_limit``);
* booleans: all-true, all-false, all-NULL blocks, alternating pages.

Files (see :data:`PRUNING_FILES`): pyarrow with page index + bloom filters + partial statistics;
pyarrow without page index (data page v2); pyarrow without statistics; pyarrow with dictionary
fallback and irregular pages; pyarrow plain-encoded with different row-group/page sizes; DuckDB's
writer (2,048-row row groups, bloom filters on dictionary columns, truncated string statistics;
its float dictionaries keep -0.0 and 0.0 as one entry, so within a row group all zeros take the
sign of the first one, which is what the file holds and what every reader must return).
Plus ``io_big.parquet`` (> 1 MiB, sorted key, many pages) for the I/O tests.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import struct
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import stamp

SEED = 20250611
NUM_ROWS = 6_000
ROW_GROUP_SIZE = 1_000
ROWS_PER_PAGE = 100
DUCKDB_ROW_GROUP_SIZE = 2_048
ID_COLUMN = "id"

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
U32_SIGNED_MAX = 2**31 - 1
U64_SIGNED_MAX = 2**63 - 1


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _dec(unscaled: int, scale: int) -> Decimal:
    sign = 1 if unscaled < 0 else 0
    return Decimal((sign, tuple(int(c) for c in str(abs(unscaled))), -scale))


#: NaNs with unusual bit patterns (stored as they are: a reader must treat each as NaN).
NAN_NEG = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[0]
NAN_PAYLOAD = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000123))[0]

# ------------------------------------------------------------------------------------------
# sorted columns: value at row i
# ------------------------------------------------------------------------------------------

EPOCH_DATE = dt.date(1970, 1, 1)
TS_MS_BASE = 1_577_836_800_000  # 2020-01-01 00:00:00 UTC
TS_NY_BASE = 1_600_000_000_000_000  # µs
TS_TZNS_BASE = 1_650_000_000_000_000  # µs (stored as ns, whole µs)
S_EMPTY_ROWS = 50  # s = '' for the first rows
S_CYRILLIC_FROM = 5_000
F64S_INF_FROM, F64S_NAN_FROM = 5_750, 5_850


def sorted_value(column: str, i: int):
    """Python value of sorted column ``column`` at row ``i`` (None never occurs)."""
    if column == "id":
        return i
    if column == "seg":
        return (i // 7) * 3 - 2_500
    if column == "rev":
        return NUM_ROWS - 1 - i  # descending: the column index's boundary order is DESCENDING
    if column == "u32s":
        return 2**31 - 3_000_000 + i * 1_000  # crosses 2^31 exactly at row 3000
    if column == "u64s":
        return 2**64 - 1 if i == NUM_ROWS - 1 else 2**63 - 3_000 + i  # 2^63 at row 3000
    if column == "f64s":
        if i >= F64S_NAN_FROM:
            return math.nan
        if i >= F64S_INF_FROM:
            return math.inf
        if 2_875 <= i <= 2_876:
            return -0.0
        if 2_877 <= i <= 2_879:
            return 0.0
        return (i - 2_877) / 4  # quarter steps, exact in binary
    if column == "dec_m":
        return _dec((i - 3_000) * 1_000_003, 3)
    if column == "d":
        return EPOCH_DATE + dt.timedelta(days=i - 300)  # 1970-01-01 at row 300 (a page start)
    if column == "ts_ms":
        return TS_MS_BASE + i * 86_399_999
    if column == "ts_us":
        return (i - 3_000) * 3_600_000_123  # negative before row 3000
    if column == "ts_ns":
        return ((i - 3_000) * 3_600_000_123) * 1_000 + (i * 37) % 1_000
    if column == "ts_ny":
        return TS_NY_BASE + i * 3_600_000_000
    if column == "ts_tzns":
        return (TS_TZNS_BASE + i * 1_000_007) * 1_000
    if column == "s":
        if i < S_EMPTY_ROWS:
            return ""
        if i < S_CYRILLIC_FROM:
            return f"key-{i:05d}"
        return f"ключ-{i:05d}"
    raise KeyError(column)


SORTED_COLUMNS = ["id", "seg", "rev", "u32s", "u64s", "f64s", "dec_m", "d", "ts_ms", "ts_us", "ts_ns",
                  "ts_ny", "ts_tzns", "s"]

#: Per block (i // 1000): the values of the low-cardinality dictionary columns.
LC_SETS = [["alpha", "beta"], ["gamma"], ["alpha", "omega"], ["delta", "beta", ""], [],
           ["é", "épée", "zeta"]]
LCI_SETS = [[1, 5], [3], [1, 5, 9], [-7, 100], [3], [2**40, -(2**40)]]

LONG_L = "L" * 4_200  # pyarrow: > 4 KiB, no statistics at all; DuckDB: truncated at 256 bytes
LONG_P = "p" * 290  # common 290-byte prefix: truncated statistics cannot tell values apart
LONG_M = "m" * 255 + "é"  # the 256th byte is the first byte of a two-byte UTF-8 sequence
LONG_U = "\U0010ffff" * 70  # 4-byte sequences, largest code point (bytes F4 8F BF BF)

STRING_POOL = ["", "a", "ap", "app", "apple", "application", "apricot", "Apple", "banana",
               "band", "bandana", "b", "zebra", "zz", "a%b", "a_b", "100%", "it's",
               " leading", "trailing ", "ñandú", "naïve", "日本語", "日本", "😀 emoji",
               "Ωmega", "\u00e9t\u00e9", "e\u0301te\u0301"]


def _schema() -> pa.Schema:
    fields = [
        ("id", pa.int64()), ("seg", pa.int32()), ("rev", pa.int64()), ("nul", pa.int32()), ("allnull", pa.int32()),
        ("i8", pa.int8()), ("i16", pa.int16()), ("i32", pa.int32()), ("i64", pa.int64()),
        ("u8", pa.uint8()), ("u16", pa.uint16()), ("u32", pa.uint32()), ("u64", pa.uint64()),
        ("u32s", pa.uint32()), ("u64s", pa.uint64()),
        ("f64", pa.float64()), ("f32", pa.float32()), ("f64x", pa.float64()), ("f64s", pa.float64()),
        ("fz", pa.float64()), ("fz32", pa.float32()),
        ("dec_s", pa.decimal128(5, 2)), ("dec_m", pa.decimal128(18, 3)), ("dec_l", pa.decimal128(38, 10)),
        ("d", pa.date32()), ("ts_ms", pa.timestamp("ms")), ("ts_us", pa.timestamp("us")),
        ("ts_ns", pa.timestamp("ns")), ("ts_tz", pa.timestamp("us", tz="UTC")),
        ("ts_ny", pa.timestamp("us", tz="America/New_York")), ("ts_tzns", pa.timestamp("ns", tz="UTC")),
        ("s", pa.string()), ("s_long", pa.string()), ("s_rand", pa.string()),
        ("lc", pa.string()), ("lci", pa.int64()), ("hc", pa.string()), ("b", pa.bool_()),
        ("pay", pa.int64()),
    ]
    return pa.schema([pa.field(n, t, nullable=(n != ID_COLUMN)) for n, t in fields])


SCHEMA = _schema()
COLUMNS = SCHEMA.names


def _float_value(rng: random.Random, slot: int, block: int, single: bool):
    """f64 / f32: one special kind per page slot; block 2 is NaN (and NULL) only."""
    nan = rng.choice([math.nan, math.nan, NAN_NEG, NAN_PAYLOAD]) if not single else math.nan
    if block == 2:
        return None if rng.random() < 0.1 else nan
    if slot == 0:
        return rng.uniform(-1000.0, 1000.0)
    if slot == 1:
        return nan  # NaN only
    if slot == 2:
        return nan if rng.random() < 0.2 else rng.uniform(1.0, 2.0)
    if slot == 3:
        return -0.0
    if slot == 4:
        return 0.0
    if slot == 5:
        return rng.choice([None, -0.0, 0.0])
    if slot == 6:
        return rng.choice([math.inf, -math.inf])
    if slot == 7:
        return None
    if slot == 8:
        return rng.choice([nan, None]) if rng.random() < 0.1 else rng.uniform(10.0, 20.0)
    return rng.choice([math.inf, -math.inf, sys.float_info.max, -sys.float_info.max,
                       5e-324, 0.1, 1.5, -1.5, nan, None])


def _f64x_value(rng: random.Random, slot: int):
    """No NaN-only page (pyarrow then writes a column index), but NaN hidden among values."""
    if slot in (0, 9):
        return rng.uniform(-100.0, 100.0)
    if slot == 1:
        return math.nan if rng.random() < 0.05 else rng.uniform(1.0, 2.0)
    if slot == 2:
        return -0.0
    if slot == 3:
        return 0.0
    if slot == 4:
        return rng.choice([-0.0, 0.0, None])
    if slot == 5:
        return rng.choice([math.inf, -math.inf])
    if slot == 6:
        return None
    if slot == 7:
        return rng.choice([math.inf, 7.0])
    return rng.choice([math.nan, -5.0, 5.0, -0.0])


#: Per block: the values of ``fz`` / ``fz32``: zeros of one sign only, NaNs of one bit pattern
#: only, so that a bloom filter (which hashes bits) or a min/max holds only that one.
FZ_SETS = [[-0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [NAN_NEG, 1.0], [NAN_PAYLOAD, 3.0], [-0.0, math.nan],
           [1.0, 2.0]]


def _unsigned(rng: random.Random, slot: int, bits: int, specials: list):
    half = 2 ** (bits - 1)
    if rng.random() < 0.05:
        return None
    if slot in (8, 9) and rng.random() < 0.1:
        return rng.choice(specials)
    if slot % 2 == 0:
        return rng.randint(0, half - 1)
    if slot == 9:
        return rng.randint(0, 2**bits - 1)
    return rng.randint(half, 2**bits - 1)  # only values above the signed maximum


def _s_long(rng: random.Random, i: int, block: int):
    if block == 0:
        return f"a-{rng.randint(0, 999):03d}"
    if block == 1:
        return LONG_L + f"{rng.randint(0, 99):02d}"
    if block == 2:
        return LONG_P + f"{rng.randint(0, 96):03d}"
    if block == 3:
        return LONG_M + f"{rng.randint(0, 9)}"
    if block == 4:
        return None if rng.random() < 0.3 else LONG_U + rng.choice(["", "a", "ÿ"])
    return rng.choice(["", "ñandú", "日本語", LONG_P + "zz", LONG_L, None, "émigré"])


def pruning_rows(num_rows: int = NUM_ROWS, seed: int = SEED) -> dict[str, list]:
    rng = random.Random(seed)
    cols: dict[str, list] = {n: [] for n in COLUMNS}
    for i in range(num_rows):
        block, slot = i // 1000, (i % 1000) // 100
        for name in SORTED_COLUMNS:
            cols[name].append(sorted_value(name, i))
        cols["nul"].append(None if block == 1 or slot == 3 or rng.random() < 0.3 else i)
        cols["allnull"].append(None)
        cols["i8"].append(None if rng.random() < 0.05 else
                          rng.randint(-128, -100) if slot == 5 else
                          rng.choice([-128, 127, 0, rng.randint(-100, 100)]))
        cols["i16"].append(None if rng.random() < 0.05 else
                           rng.choice([-32768, 32767, rng.randint(-5000, 5000), rng.randint(-5000, 5000)]))
        cols["i32"].append(None if rng.random() < 0.05 else
                           rng.randint(1_000_000, 2_000_000) if slot == 6 else
                           rng.choice([-(2**31), 2**31 - 1, 0, rng.randint(-100_000, 100_000)]))
        cols["i64"].append(None if rng.random() < 0.05 else
                           rng.choice([I64_MIN, I64_MAX, 2**53 + 1, rng.randint(-10**12, 10**12),
                                       rng.randint(-10**12, 10**12)]))
        cols["u8"].append(_unsigned(rng, slot, 8, [0, 255, 127, 128]))
        cols["u16"].append(_unsigned(rng, slot, 16, [0, 65535, 32767, 32768]))
        cols["u32"].append(_unsigned(rng, slot, 32, [0, 2**32 - 1, 2**31 - 1, 2**31]))
        cols["u64"].append(_unsigned(rng, slot, 64, [0, 2**64 - 1, 2**63 - 1, 2**63]))
        cols["f64"].append(_float_value(rng, slot, block, single=False))
        v = _float_value(rng, slot, block, single=True)
        cols["f32"].append(None if v is None else _f32(v) if math.isfinite(v) and abs(v) < 3e38 else v)
        cols["f64x"].append(_f64x_value(rng, slot))
        v = None if rng.random() < 0.05 else rng.choice(FZ_SETS[block])
        cols["fz"].append(v)
        cols["fz32"].append(v)
        cols["dec_s"].append(None if rng.random() < 0.05 else _dec(
            rng.randint(-99_999, -1) if slot == 4 else rng.randint(1, 99_999) if slot == 6 else
            rng.choice([-99_999, 99_999, 0, rng.randint(-99_999, 99_999)]), 2))
        cols["dec_l"].append(None if rng.random() < 0.05 else _dec(
            rng.randint(-(10**38 - 1), -1) if slot == 2 else
            rng.choice([-(10**38 - 1), 10**38 - 1, 0, rng.randint(-10**30, 10**30)]), 10))
        cols["ts_tz"].append(None if rng.random() < 0.05 else
                             rng.choice([0, -1, 1_600_000_000_123_456, rng.randint(-10**15, 2 * 10**15)]))
        cols["s_long"].append(_s_long(rng, i, block))
        cols["s_rand"].append(None if rng.random() < 0.05 else
                              rng.choice(STRING_POOL) if rng.random() < 0.7 else f"item-{rng.randint(0, 9999):04d}")
        lc = LC_SETS[block]
        cols["lc"].append(None if not lc or (block == 1 and rng.random() < 0.2) else rng.choice(lc))
        cols["lci"].append(None if block == 4 and rng.random() < 0.3 else rng.choice(LCI_SETS[block]))
        cols["hc"].append(f"{rng.getrandbits(64):016x}")
        b = (True if block == 0 else False if block == 1 else slot % 2 == 0 if block == 2 else
             None if block == 3 else (None if rng.random() < 0.3 else True) if block == 4 else
             rng.choice([True, False, None]))
        cols["b"].append(b)
        cols["pay"].append((i * 7919) % 10007)
    return cols


def pruning_table() -> pa.Table:
    rows = pruning_rows()
    arrays = []
    for field in SCHEMA:
        values = rows[field.name]
        if pa.types.is_date(field.type):
            arrays.append(pa.array(values, field.type))
        elif pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values, pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


# ------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------

BLOOM_COLUMNS = ["seg", "rev", "fz", "fz32", "i32", "i64", "u32", "u64", "u32s", "u64s", "f64", "f32", "f64x", "dec_s",
                 "dec_m", "dec_l", "d", "ts_ms", "ts_us", "ts_ns", "ts_tz", "s", "s_long", "s_rand",
                 "lc", "lci", "hc"]
#: Columns without statistics in the page-index file (still with a page index where pyarrow
#: writes one, and bloom filters).
NO_STATS_COLUMNS = ["i64", "s_rand", "dec_l"]

_PAGES = {"max_rows_per_page": ROWS_PER_PAGE, "write_batch_size": ROWS_PER_PAGE}
PYARROW_FILES: dict[str, dict] = {
    # statistics (but not for NO_STATS_COLUMNS), page index, bloom filters, dictionary
    "prune_pa_index.parquet": dict(
        row_group_size=ROW_GROUP_SIZE, compression="SNAPPY", write_page_index=True,
        write_statistics=[c for c in COLUMNS if c not in NO_STATS_COLUMNS],
        bloom_filter_options={c: {"ndv": 1000, "fpp": 0.05} for c in BLOOM_COLUMNS}, **_PAGES),
    # row-group statistics only: no page index, data page v2
    "prune_pa_noindex.parquet": dict(
        row_group_size=ROW_GROUP_SIZE, compression="ZSTD", data_page_version="2.0", **_PAGES),
    # no statistics at all (the offset index is still written)
    "prune_pa_nostats.parquet": dict(
        row_group_size=ROW_GROUP_SIZE, compression="NONE", write_statistics=False,
        write_page_index=True, **_PAGES),
    # dictionaries that fall back to plain mid-chunk, irregular page sizes
    "prune_pa_fallback.parquet": dict(
        row_group_size=ROW_GROUP_SIZE, compression="SNAPPY", write_page_index=True,
        dictionary_pagesize_limit=512, data_page_size=700, write_batch_size=37,
        bloom_filter_options={c: {"ndv": 1000, "fpp": 0.05} for c in ("hc", "lc", "s", "i64")}),
    # plain encoding, decimals as integers, other row-group and page sizes, bloom filters
    "prune_pa_plain.parquet": dict(
        row_group_size=1_500, compression="LZ4", write_page_index=True, use_dictionary=False,
        store_decimal_as_integer=True, max_rows_per_page=64, write_batch_size=64,
        bloom_filter_options={c: {"ndv": 1500, "fpp": 0.01} for c in BLOOM_COLUMNS}),
}
DUCKDB_FILE = "prune_duckdb.parquet"
PRUNING_FILES = list(PYARROW_FILES) + [DUCKDB_FILE]

# I/O file: > 1 MiB so the tail read at open does not cover the data of the first row groups.
IO_FILE = "io_big.parquet"
IO_ROWS = 160_000
IO_ROW_GROUP_SIZE = 40_000
IO_NEEDLE = "needle"
#: rows holding ``w = IO_NEEDLE``: in row group 1, far apart (more than the 64 KiB coalescing gap
#: between their pages of ``v``)
IO_NEEDLE_ROWS = [41_000, 60_000, 79_000]


def io_table() -> pa.Table:
    rng = random.Random(SEED + 1)
    n = IO_ROWS
    k = list(range(0, 3 * n, 3))  # sorted, gaps: k = 3i
    v = [rng.getrandbits(63) for _ in range(n)]
    w = [IO_NEEDLE if i in IO_NEEDLE_ROWS else f"w-{rng.randint(0, 99999):05d}" for i in range(n)]
    cat = [rng.choice(["red", "green", "blue"]) for _ in range(n)]
    return pa.table({"k": pa.array(k, pa.int64()), "v": pa.array(v, pa.int64()),
                     "w": pa.array(w, pa.string()), "cat": pa.array(cat, pa.string())})


def _write_io(path: Path) -> None:
    pq.write_table(io_table(), path, row_group_size=IO_ROW_GROUP_SIZE, compression="NONE",
                   use_dictionary=["cat"], data_page_size=8192, write_page_index=True)


def file_names() -> list[str]:
    return PRUNING_FILES + [IO_FILE]


STAMP_NAME = "_pruning.json"


def is_up_to_date(out_dir: Path) -> bool:
    """True when ``out_dir`` holds every file, generated by this script and these versions."""
    return stamp.is_current(out_dir, STAMP_NAME, Path(__file__), file_names())


def generate(out_dir: Path | str, force: bool = False) -> list[Path]:
    """Write every file of test_pruning.py into ``out_dir`` (skipped when up to date)."""
    import duckdb

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not force and is_up_to_date(out_dir):
        return [out_dir / n for n in file_names()]
    stamp.clear(out_dir, STAMP_NAME)
    table = pruning_table()
    for name, kwargs in PYARROW_FILES.items():
        tmp = out_dir / (name + ".tmp")
        pq.write_table(table, tmp, **kwargs)
        os.replace(tmp, out_dir / name)
    con = duckdb.connect()
    con.execute("SET threads=1")
    con.execute("SET TimeZone='UTC'")
    tmp = out_dir / (DUCKDB_FILE + ".tmp")
    src = out_dir / "prune_pa_noindex.parquet"
    # through a table: copying straight from read_parquet keeps the source's row-group sizes
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_parquet('{src}')")
    con.execute(f"COPY t TO '{tmp}' "
                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {DUCKDB_ROW_GROUP_SIZE})")
    con.close()
    os.replace(tmp, out_dir / DUCKDB_FILE)
    tmp = out_dir / (IO_FILE + ".tmp")
    _write_io(tmp)
    os.replace(tmp, out_dir / IO_FILE)
    stamp.write(out_dir, STAMP_NAME, Path(__file__), file_names())
    return [out_dir / n for n in file_names()]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    for p in generate(args.out_dir, force=args.force):
        print(p, p.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
