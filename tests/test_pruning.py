"""Pruning must be exact: statistics, page-index, bloom-filter and dictionary pruning may skip
data, but never a row that matches.

The files (gen_pruning.py) are small (6,000 rows) with many small row groups and pages, and
hold what pruning gets wrong: NULL-only pages and row groups, NaN-only pages and NaNs of several
bit patterns, -0.0 next to 0.0, ±inf, unsigned values above the signed maximum, negative
decimals stored as big-endian bytes, strings beyond the statistics limits (dropped by pyarrow,
truncated by DuckDB, cut inside a UTF-8 sequence), values between a chunk's min and max that are
not in its dictionary, and dictionaries that fall back to plain encoding mid-chunk.

* ``test_where`` — every clause of :data:`CLAUSES` (every operator and column type, literals at
  and just beyond page and row-group boundaries, equal to min/max, NaN, ±0.0, values absent
  from dictionaries) on the page-index file, and the :data:`CORE` subset on it over HTTP and on
  every other file.  A clause projects ``id``, the columns it names, and ``pay`` (which no
  clause names: late materialization must keep it aligned).  Expected answers always come from DuckDB, queried with filter
  pushdown and statistics propagation switched off, so that DuckDB does no pruning of its own:
  DuckDB 1.5.5's own pruning is not exact on these files (see ``test_oracle_on_zeros_and_nans``).
  Rows keep file order.
* Guards check that the files really hold what the clauses rely on (pages, indexes, bloom
  filters, truncated statistics, dictionary fallback).
* I/O tests count at the test server which byte ranges a scan fetched, on ``io_big.parquet``
  (> 1 MiB, page index, sorted key), using ``../shared/tools/pqlayout.py`` for page locations.

NaN literals: the WHERE grammar has no ``'NaN'::DOUBLE``, but a string constant compared with a
float column is cast to it (``f64 = 'NaN'``, ``'inf'``, ``'-inf'``), as in DuckDB.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pyarrow as pa
import pytest

import gen_pruning as gp
import util
from rangeserver import RangeServer, parse_range

ID = gp.ID_COLUMN
PAYLOAD = "pay"  # never in a predicate: checks the rows of non-predicate columns
INDEX_FILE = "prune_pa_index.parquet"
#: (file, transport) pairs that run every clause; the others run CORE (a run is one quiver
#: process, about 30 ms of CPU: the whole matrix is sized to stay under a minute on 2 cores).
FULL_RUNS = [(INDEX_FILE, "local")]
CORE_RUNS = [(INDEX_FILE, "http")] + [(f, "local") for f in gp.PRUNING_FILES if f != INDEX_FILE]

OPEN_TAIL_MAX = 256 * 1024  # the most the engine may read at open without knowing the layout


# --------------------------------------------------------------------------------------------
# SQL literals for the values of the generated table
# --------------------------------------------------------------------------------------------

def _ts_text(micros: int) -> str:
    t = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=micros)
    return f"TIMESTAMP '{t:%Y-%m-%d %H:%M:%S.%f}'"


def lit(column: str, value) -> str:
    """A SQL literal for ``value`` of ``column`` (exact for every type of the table)."""
    t = gp.SCHEMA.field(column).type
    if value is None:
        return "NULL"
    if pa.types.is_floating(t):
        if math.isnan(value):
            return "'NaN'"
        if math.isinf(value):
            return "'inf'" if value > 0 else "'-inf'"
        return "-0.0" if value == 0 and math.copysign(1, value) < 0 else repr(float(value))
    if pa.types.is_timestamp(t):
        micros = {"ms": value * 1000, "us": value, "ns": value // 1000}[t.unit]  # ns: floor
        return _ts_text(micros)
    if pa.types.is_date(t):
        return f"DATE '{value:%Y-%m-%d}'"
    if pa.types.is_string(t):
        return util.sql_string(value)
    if pa.types.is_boolean(t):
        return "TRUE" if value else "FALSE"
    return str(value)  # integers, Decimal


def sv(column: str, row: int) -> str:
    return lit(column, gp.sorted_value(column, row))


# --------------------------------------------------------------------------------------------
# Clauses
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Clause:
    id: str
    where: str


_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


def referenced_columns(where: str) -> list[str]:
    bare = _STRING_LITERAL.sub("''", where)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", bare))
    return [c for c in gp.COLUMNS if c in words]


def projection(where: str) -> list[str]:
    cols = [ID] + [c for c in referenced_columns(where) if c != ID] + [PAYLOAD]
    return list(dict.fromkeys(cols))


def _boundary_clauses() -> list[Clause]:
    """Literals at and next to page (every 100 rows in most pyarrow files), row-group (1000 in
    pyarrow, 2048 in DuckDB's file) and file boundaries, for every sorted column; the operator
    rotates so that each column meets each operator."""
    rows = [0, 99, 100, 999, 1000, 1500, 1564, 2047, 2048, 3000, 5999]
    ops = ["=", "<", ">=", "<=", ">", "between", "!=", "="]
    out, seen = [], set()

    def add(cid, where):
        if where not in seen:
            seen.add(where)
            out.append(Clause(cid, where))

    for ci, col in enumerate(gp.SORTED_COLUMNS):
        for ri, r in enumerate(rows):
            op = ops[(ci + ri) % len(ops)]
            if op == "between":
                add(f"bound-{col}-{r}-between", f"{col} BETWEEN {sv(col, max(r - 1, 0))} AND {sv(col, r)}")
            else:
                add(f"bound-{col}-{r}-{op}", f"{col} {op} {sv(col, r)}")
        if col in ("s", "f64s", "u64s", "id"):
            for r in (99, 100, 999, 1000, 3000):
                add(f"bound-{col}-{r}-eq", f"{col} = {sv(col, r)}")
    return out


def _float_clauses(c: str, full: bool) -> list[str]:
    base = [
        f"{c} = 'NaN'", f"{c} != 'NaN'", f"{c} >= 'NaN'", f"{c} > 1e308", f"{c} > 100",
        f"{c} >= 'inf'", f"{c} = '-inf'", f"{c} = 0", f"{c} = -0.0", f"{c} > 0", f"{c} < 0",
        f"{c} BETWEEN -0.0 AND 0.0", f"{c} IS NULL", f"{c} > 20",
    ]
    more = [
        f"{c} > 'NaN'", f"{c} < 'NaN'", f"{c} >= 0", f"{c} <= -0.0", f"{c} > -0.0",
        f"{c} IN (0, 'NaN')", f"NOT ({c} > 1.5)",
        f"{c} <= 'NaN'", f"{c} = 'inf'", f"{c} < '-inf'", f"{c} <= '-inf'", f"{c} > '-inf'",
        f"{c} = 0.0", f"{c} = '-0'", f"{c} <= 0", f"{c} BETWEEN 1 AND 2",
        f"{c} BETWEEN 1.5 AND 'NaN'", f"{c} IN (1.5, -1.5)", f"{c} NOT IN (0.0, 'inf')",
        f"NOT ({c} = 0)", f"{c} >= 10 AND {c} <= 20", f"{c} = 0.1",
        f"{c} = 5e-324", f"{c} > 1.7976931348623157e308", f"{c} != 0", f"{c} = 7",
        f"{c} >= 7 AND {c} < 'inf'",
    ]
    return base + (more if full else [])


def _hc(row: int) -> str:
    return _TABLE_COLUMNS["hc"][row]


_TABLE_COLUMNS = gp.pruning_rows()


def _clauses() -> list[Clause]:
    L, P, M, U = gp.LONG_L, gp.LONG_P, gp.LONG_M, gp.LONG_U
    q = util.sql_string
    groups: dict[str, list[str]] = {
        "int": [
            "id = 2.5", "id < 999.5", "id > 999.5", "id >= 1e3", "id = 999.0",
            "id BETWEEN 950 AND 1050", "id NOT BETWEEN 100 AND 5899",
            "id IN (0, 99, 100, 999, 1000, 5999, 6000, -1)", "id NOT IN (0, 5999)", "id < 0",
            "id > 5999", "id IS NULL", "id IS NOT NULL", "NOT (id < 3000)",
            "id < 100 OR id > 5900", "id = -9223372036854775808", "id < 9223372036854775808",
            "id > -9223372036854775809", "id BETWEEN 3000 AND 2999",
            "seg = -2499", "seg = -2497", "seg IN (-2499, -2498, 71)", "seg BETWEEN -2499 AND -2498",
            "seg != -2500", "seg > 70", "seg >= 70.5", "seg < -2499.5", "seg = -2.5e3",
            "rev BETWEEN 999 AND 1000", "rev IN (0, 5999, 3000)", "rev > 5998", "rev != 0",
        ],
        "null": [
            "nul IS NULL", "nul IS NOT NULL", "nul = 1500", "nul BETWEEN 1000 AND 1999",
            "nul >= 1999 AND nul <= 2000", "nul IN (1500, 2500, NULL)", "nul NOT IN (1, NULL)",
            "NOT (nul > 10)", "nul IS NULL AND id BETWEEN 1000 AND 1999", "nul IS NOT NULL OR id = 1500",
            "nul != 350", "nul = 350", "nul < 1000", "nul > 1999 AND nul < 2301",
            "allnull IS NULL", "allnull IS NOT NULL", "allnull = 1", "allnull != 1",
            "NOT (allnull = 1)", "allnull IS NULL AND nul IS NULL", "allnull > 0 OR nul = 42",
            "allnull IN (1, 2)", "allnull NOT IN (1, 2)", "nul = NULL",
        ],
        "signed": [
            "i8 = -128", "i8 < -99", "i8 = -100", "i8 > 127", "i8 = 127", "i8 < -128",
            "i8 <= -128", "i8 >= -100 AND i8 < 0", "i8 < 1000", "i8 = 1000",
            "i16 IN (-32768, 32767)", "i16 NOT IN (-32768, 32767)", "i16 > 32766",
            "i32 >= 1000000", "i32 BETWEEN 1000000 AND 1000500", "i32 = 2147483647",
            "i32 > 2147483646", "i32 < -2147483647", "i32 = 0", "i32 > 999999.5",
            "i64 = -9223372036854775808", "i64 = 9223372036854775807", "i64 = 9007199254740993",
            "i64 = 9007199254740992e0", "i64 > 9.2e18", "i64 < -1e12", "i64 BETWEEN -1000000 AND 1000000",
            "i64 != 9223372036854775807", "i64 IS NULL",
            "i32 = 2147483648", "i32 = -2147483649", "i32 != 2147483648", "i32 <= -2147483649",
        ],
        "unsigned": [
            "u8 > 127", "u8 >= 128", "u8 = 255", "u8 < 128", "u8 = 128", "u8 BETWEEN 127 AND 128",
            "u8 > 255", "u8 = -1", "u8 > -1", "u8 NOT IN (0, 255)",
            "u16 > 32767", "u16 = 65535", "u16 < 32768", "u16 IN (32767, 32768)", "u16 >= 65535",
            "u32 > 2147483647", "u32 >= 2147483648", "u32 = 4294967295", "u32 < 2147483648",
            "u32 BETWEEN 2147483647 AND 2147483648", "u32 > 4000000000", "u32 != 0",
            "u32 NOT IN (0, 4294967295)", "u32 > 4294967295", "u32 < -5", "u32 > 3e9",
            "u32 = 4294967296", "u32s = 4294967296", "u32s = -2147483648",
            "u64 > 9223372036854775807", "u64 = 18446744073709551615", "u64 >= 9223372036854775808",
            "u64 < 9223372036854775808", "u64 > 18000000000000000000",
            "u64 BETWEEN 9223372036854775807 AND 9223372036854775808", "u64 > 1.8e19",
            "u64 IN (0, 9223372036854775808)", "u64 > 18446744073709551615", "u64 <= 9223372036854775807",
            "u32s >= 2147483648", "u32s > 2147483647", "u32s < 2147483648", "u32s = 2147483648",
            "u32s = 2147482648", "u32s = 2147483000", "u32s BETWEEN 2147482000 AND 2147485000",
            "u32s > 2152480000", "u32s > 2.1e9",
            "u64s = 9223372036854775808", "u64s >= 9223372036854775808", "u64s < 9223372036854775808",
            "u64s = 18446744073709551615", "u64s > 9223372036854778000",
            "u64s BETWEEN 9223372036854775806 AND 9223372036854775809", "u64s > 9223372036854775807.5",
            "u64s >= 1.8446744073709552e19",
        ],
        "float": _float_clauses("f64", True) + _float_clauses("f32", False) + _float_clauses("f64x", True) + [
            "f64s = 'NaN'", "f64s > 1e300", "f64s = -0.0", "f64s <= -0.0", "f64s > 0",
            "f64s BETWEEN -0.25 AND 0.25", "f64s = 0.125", "f64s < 'NaN'", "f64s IN ('inf', -0.0)",
            "f32 = 0.10000000149011612", "f32 = 1.5", "f32 > 3.4e38",
            "fz = 0", "fz = -0.0", "fz = 0.0", "fz != 0", "fz = 'NaN'", "fz != 'NaN'",
            "fz IN (0, 'NaN')", "fz IN (-0.0)", "fz NOT IN (0, 1)", "fz > 2", "fz >= 'NaN'", "fz < 1",
            "fz BETWEEN -0.0 AND 0.0", "fz = 3", "fz > 'inf'", "fz <= 0",
            "fz32 = 0", "fz32 = -0.0", "fz32 = 'NaN'", "fz32 != 'NaN'", "fz32 IN (0.0, 3)",
            "fz32 > 2", "fz32 >= 0", "fz32 < 0.5",
        ],
        "decimal": [
            "dec_s < 0", "dec_s <= -999.99", "dec_s = 999.99", "dec_s >= 999.99", "dec_s > 999.99",
            "dec_s = 0", "dec_s BETWEEN -1 AND 1", "dec_s = 2.505", "dec_s > 2.505", "dec_s < -500.005",
            "dec_s IN (-999.99, 0, 999.99)", "dec_s != 0", "dec_s > 1e2", "dec_s = 1000", "dec_s < -1000",
            "dec_s > -0.01 AND dec_s < 0.01",
            "dec_m = 0", "dec_m < 0", "dec_m BETWEEN -1000.003 AND 1000.003", "dec_m = 1000.0035",
            "dec_m >= 1000003", "dec_m < -2999999.999", "dec_m > 2.9e6",
            "dec_l < 0", "dec_l > 0", "dec_l = 0", "dec_l = 9999999999999999999999999999.9999999999",
            "dec_l <= -9999999999999999999999999999.9999999999", "dec_l > 1e27",
            "dec_l < -100000000000000000000", "dec_l BETWEEN -1 AND 1", "dec_l IS NULL",
            "dec_l > 9999999999999999999999999999",
        ],
        "temporal": [
            "d < DATE '1970-01-01'", "d >= DATE '1970-01-01'", "d = DATE '1969-12-31'",
            "d BETWEEN DATE '1969-12-31' AND DATE '1970-01-02'", "d > DATE '1985-05-01'",
            "d = TIMESTAMP '1970-01-01 00:00:00'", "d < TIMESTAMP '1970-01-01 00:00:01'",
            "ts_us < TIMESTAMP '1970-01-01 00:00:00'", "ts_us >= TIMESTAMP '1970-01-01'",
            "ts_us = TIMESTAMP '1970-01-01 00:00:00'", "ts_ns < DATE '1970-01-01'",
            "ts_ns >= TIMESTAMP '1970-01-01 00:00:00'", "ts_ns = TIMESTAMP '1969-12-31 23:00:00'",
            "ts_ms >= TIMESTAMP '2020-01-02 23:59:59.9995'", "ts_ms = TIMESTAMP '2020-01-02 23:59:59.999'",
            "ts_ms > TIMESTAMP '2020-01-02 23:59:59.999'", "ts_ms < DATE '2020-01-05'",
            "ts_tz = TIMESTAMP '2020-09-13 12:26:40.123456'", "ts_tz < TIMESTAMP '1970-01-01'",
            "ts_tz = TIMESTAMP '1969-12-31 23:59:59.999999'", "ts_tz >= TIMESTAMP '2030-01-01'",
            "ts_ny = TIMESTAMP '2020-09-13 12:26:40'", "ts_ny > TIMESTAMP '2021-01-01'",
            "ts_ny BETWEEN TIMESTAMP '2020-09-14 00:00:00' AND TIMESTAMP '2020-09-14 23:59:59.999999'",
            "ts_tzns = TIMESTAMP '2022-04-15 05:20:00'", "ts_tzns > TIMESTAMP '2022-04-15 06:00:00'",
            "ts_tzns < TIMESTAMP '2022-04-15 05:20:00.000001'",
        ],
        "string": [
            "s = ''", "s != ''", "s < 'key'", "s > ''", "s LIKE 'key-01%'", "s LIKE 'key-0099%'",
            "s LIKE 'ключ-05%'", "s LIKE 'клю%'", "s LIKE 'k%'", "s NOT LIKE 'key%'", "s >= 'ключ'",
            "s < 'ключ'", "s = 'key-00999 '", "s > 'key-00999' AND s < 'key-01000'",
            "s BETWEEN 'key-00990' AND 'key-01010'", "s IN ('', 'key-03000', 'ключ-05999', 'nope')",
            "s NOT IN ('', 'key-00050')", "s LIKE ''", "s LIKE '%'", "s = 'key-0099'", "s > 'key-0099'",
            "s LIKE 'key-00%' AND s LIKE 'key-000%'",
            f"s_long = {q(L + '42')}", f"s_long LIKE {q('LLLL%')}", f"s_long > {q(L)}",
            f"s_long >= {q(L + '99')}", f"s_long < {q(L)}", f"s_long = {q(L)}",
            f"s_long = {q(P + '000')}", f"s_long = {q(P)}", f"s_long > {q(P)}",
            f"s_long >= {q(P[:256])}", f"s_long < {q('p' * 255 + 'q')}", f"s_long LIKE {q('ppp%')}",
            f"s_long = {q(P + 'zz')}", f"s_long > {q(P + '096')}",
            f"s_long = {q(M + '5')}", f"s_long > {q(M)}", f"s_long LIKE {q('m' * 255 + 'é%')}",
            f"s_long >= {q('m' * 255 + 'ê')}", f"s_long < {q('m' * 256)}",
            f"s_long = {q(U)}", f"s_long = {q(U + 'ÿ')}", f"s_long > {q(U)}",
            f"s_long LIKE {q(U[:10] + '%')}", f"s_long >= {q(U[:64])}",
            "s_long = ''", "s_long IS NULL", "s_long = 'ñandú'", "s_long > 'émigré'",
            "s_long LIKE 'a-0%'", "s_long < 'a-500'",
            "s_rand = ''", "s_rand = 'ñandú'", "s_rand LIKE 'app%'", "s_rand LIKE '日%'",
            "s_rand = 'e\u0301te\u0301'", "s_rand = '\u00e9t\u00e9'", "s_rand IN ('a%b', 'a_b')",
            "s_rand = 'it''s'", "s_rand >= 'item-9'", "s_rand NOT IN ('', 'app')", "s_rand != 'zebra'",
            "s_rand = 'trailing'", "s_rand < ' leading'", "s_rand LIKE 'item-00%'",
        ],
        "dict": [
            "lc = 'alpha'", "lc = 'gamma'", "lc != 'gamma'", "lc = 'b'", "lc = 'alphabet'",
            "lc = 'delta '", "lc = ''", "lc != ''", "lc IN ('gamma', 'omega')",
            "lc IN ('b', 'c', 'epsilon')", "lc NOT IN ('alpha', 'beta')", "lc NOT IN ('gamma')",
            "lc IS NULL", "lc IS NOT NULL", "lc LIKE 'a%'", "lc LIKE 'é%'", "lc > 'delta'",
            "lc <= 'beta'", "lc = 'é'", "lc = 'e'", "NOT (lc = 'gamma')", "lc != 'gamma' OR lc IS NULL",
            "lc BETWEEN 'b' AND 'c'", "lc = 'zeta' OR lc = 'omega'", "lc != 'alpha' AND lc != 'beta'",
            "lci = 4", "lci = 3", "lci != 3", "lci IN (4, 6, 8)", "lci IN (3, 9)", "lci NOT IN (1, 5)",
            "lci NOT IN (3)", "lci = 1099511627776", "lci = -1099511627776", "lci = 1099511627775",
            "lc IN ('gamma', NULL)", "lci NOT IN (3, NULL)", "lc = 'b' OR lc IS NULL",
            "lci > 100", "lci = 3.0", "lci = 3.5", "lci = 3e0", "lci BETWEEN 2 AND 4", "lci != 3 AND lci != 1",
            f"hc = {q(_hc(0))}", f"hc = {q(_hc(999))}", f"hc = {q(_hc(1500))}", f"hc = {q(_hc(5999))}",
            f"hc IN ({q(_hc(999))}, {q(_hc(3999))}, 'zzzz')", "hc = 'zzzz'", f"hc != {q(_hc(999))}",
            "hc > 'f'", "hc LIKE 'ab%'", f"hc = {q(_hc(999).upper())}",
        ],
        "bool": [
            "b", "NOT b", "b = TRUE", "b = FALSE", "b != TRUE", "b != FALSE", "b IS NULL",
            "b IS NOT NULL", "b IS NOT NULL AND NOT b", "b OR id = 3500", "NOT (b OR id < 2000)",
            "b = TRUE AND id BETWEEN 2000 AND 2999", "NOT b AND id < 1000", "b AND id >= 1000 AND id < 2000",
        ],
        "mixed": [
            "id < 100 OR f64 = 'NaN'", "(lc = 'gamma' OR u32s > 2147483647) AND NOT (f64 < 0)",
            "s LIKE 'key-02%' AND b", "NOT (id BETWEEN 1000 AND 4999) AND nul IS NULL",
            "id = 5 OR id = 5999 OR id = 3000",
            "seg = -2500 OR s = 'ключ-05999' OR u64s = 18446744073709551615",
            "lci = 3 AND b = FALSE", "f64s > 1e300 OR dec_m < -2999", "d < DATE '1970-01-01' AND ts_us < TIMESTAMP '1970-01-01'",
            "NOT (lc IN ('alpha', 'beta') OR nul IS NULL)", "(i8 < -99 OR u8 > 127) AND id < 2000",
            "lc = 'gamma' AND id < 1000", "lc = 'gamma' AND nul IS NOT NULL",
            "(f64x > 5 AND f64x < 'NaN') OR s_long IS NULL",
            "u32 > 2147483647 AND u64 > 9223372036854775807 AND dec_s < 0", "NOT (NOT (s >= 'ключ'))",
            f"hc = {q(_hc(4321))} OR lc = 'omega'", "f64 = 'NaN' AND f32 = 'NaN'",
            "(id < 1000 OR id >= 5000) AND (lc = 'alpha' OR lc = 'zeta')",
            "NOT (f64 = 0 OR f64 IS NULL OR f64 = 'NaN')", "b IS NULL OR lc IS NULL OR nul IS NULL",
            "id BETWEEN 950 AND 1050 AND NOT (nul IS NULL)", "dec_l < 0 AND i32 >= 1000000",
            "s_rand LIKE 'a%' AND s LIKE 'ключ%' AND f64 >= 'NaN'",
        ],
    }
    out = _boundary_clauses()
    seen = {c.where for c in out}
    for group, wheres in groups.items():
        for i, where in enumerate(wheres):
            if where not in seen:
                seen.add(where)
                out.append(Clause(f"{group}-{i:02d}-{_slug(where)}", where))
    return out


def _slug(where: str) -> str:
    s = re.sub(r"[^A-Za-z0-9]+", "_", where)[:40].strip("_")
    return s or "x"


CLAUSES: list[Clause] = _clauses()


def _core(c: Clause) -> bool:
    m = re.match(r"([a-z]+)-(\d+)-", c.id)
    if m:
        group, index = m.group(1), int(m.group(2))
        return group == "mixed" or index < 6 or "hc" in referenced_columns(c.where) or (
            "s_long" in referenced_columns(c.where) and index % 3 == 0)
    return bool(re.match(r"bound-.*-(1000|2048)-", c.id))


#: The clauses run on the other files and over HTTP: each group's first few, every mixed
#: clause, the dictionary-fallback and long-string ones, boundaries at row-group edges.
CORE: list[Clause] = [c for c in CLAUSES if _core(c)]


# --------------------------------------------------------------------------------------------
# Running quiver (many at once) and DuckDB
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pruning_dir(data_dir) -> Path:
    gp.generate(data_dir)
    return data_dir


def oracle_connect():
    """DuckDB without filter pushdown or statistics propagation: it reads every row and
    filters afterwards, so its answer does not depend on its own pruning."""
    con = util.duckdb_connect()
    con.execute("SET disabled_optimizers = 'filter_pushdown,statistics_propagation'")
    return con


@pytest.fixture(scope="module")
def oracle_con():
    con = oracle_connect()
    yield con
    con.close()


def _naive(table: pa.Table) -> pa.Table:
    """Time-zoned timestamps as naive UTC (DuckDB returns every zone as UTC)."""
    cols = []
    for col in table.columns:
        t = col.type
        if pa.types.is_timestamp(t) and t.tz is not None:
            col = col.cast(pa.int64()).cast(pa.timestamp(t.unit))
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


@dataclass
class Outcome:
    table: Optional[pa.Table] = None
    stats: Optional[dict] = None
    error: Optional[str] = None


_WORKERS = max(2, min(4, (os.cpu_count() or 2)))


class Runs:
    """Quiver's outcome for every clause of one (file, transport), computed together on a
    thread pool the first time one of them is asked for."""

    def __init__(self, source_of):
        self.source_of = source_of
        self.cache: dict[tuple, Outcome] = {}

    def run_one(self, source: str, where: str) -> Outcome:
        args = util.scan_args(source, projection(where), where) + ["--format", "arrow", "--stats"]
        proc = util.run_quiver(util.quiver_binary(), *args)
        try:
            util.assert_no_crash(proc)
        except AssertionError as e:
            return Outcome(error=str(e))
        if proc.returncode != 0:
            return Outcome(error=util.describe(proc))
        try:
            return Outcome(util.read_arrow_stream(proc.stdout), util.parse_stats(proc.stderr))
        except AssertionError as e:
            return Outcome(error=f"{e}\n{util.describe(proc)}")

    def get(self, name: str, transport: str, clause: Clause, batch: list[Clause]) -> Outcome:
        key = (name, transport, clause.where)
        if key not in self.cache:
            source = self.source_of(name, transport)
            todo = [c for c in batch if (name, transport, c.where) not in self.cache]
            with concurrent.futures.ThreadPoolExecutor(_WORKERS) as pool:
                for c, out in zip(todo, pool.map(lambda c: self.run_one(source, c.where), todo)):
                    self.cache[(name, transport, c.where)] = out
        return self.cache[key]


@pytest.fixture(scope="module")
def runs(pruning_dir, source_of, quiver_bin) -> Runs:
    return Runs(source_of)


_ORACLE: dict[tuple, pa.Table] = {}


def expected(con, path: Path, where: str) -> pa.Table:
    key = (str(path), where)
    if key not in _ORACLE:
        _ORACLE[key] = util.duckdb_select(con, path, projection(where), where, order_column=ID)
    return _ORACLE[key]


def check(outcome: Outcome, want: pa.Table, ctx: str, num_row_groups: Optional[int] = None):
    assert outcome.error is None, f"[{ctx}] quiver failed: {outcome.error}"
    util.assert_tables_equal(_naive(outcome.table), _naive(want), ctx, row_id_column=ID)
    stats = outcome.stats
    assert stats["rows_matched"] == want.num_rows, (ctx, stats)
    assert stats["rows_returned"] == want.num_rows, (ctx, stats)
    if num_row_groups is not None:
        assert stats["row_groups"] == num_row_groups, (ctx, stats)
        assert 0 <= stats["row_groups_scanned"] <= num_row_groups, (ctx, stats)


#: Known engine bugs: clause id -> reason (marked xfail, strict=False).
KNOWN_BUGS: dict[str, str] = {}


def _params(pairs, clauses):
    out = []
    for name, transport in pairs:
        for c in clauses:
            marks = [pytest.mark.xfail(strict=False, reason=KNOWN_BUGS[c.id])] if c.id in KNOWN_BUGS else []
            out.append(pytest.param(name, transport, c, id=f"{name.removesuffix('.parquet')}-{transport}-{c.id}",
                                    marks=marks))
    return out


_NUM_ROW_GROUPS = {name: None for name in gp.PRUNING_FILES}


def _num_row_groups(path: Path) -> int:
    import pyarrow.parquet as pq

    if _NUM_ROW_GROUPS.get(path.name) is None:
        _NUM_ROW_GROUPS[path.name] = pq.ParquetFile(path).metadata.num_row_groups
    return _NUM_ROW_GROUPS[path.name]


@pytest.mark.parametrize("name,transport,clause", _params(FULL_RUNS, CLAUSES) + _params(CORE_RUNS, CORE))
def test_where(name, transport, clause, runs, oracle_con, pruning_dir):
    batch = CLAUSES if (name, transport) in FULL_RUNS else CORE
    path = pruning_dir / name
    want = expected(oracle_con, path, clause.where)
    got = runs.get(name, transport, clause, batch)
    check(got, want, f"{name} via {transport}: {clause.where[:300]}", _num_row_groups(path))


WINDOWS = [
    pytest.param(None, "f64 = 'NaN'", 5, 100, id="nan-window"),
    pytest.param(None, "u32s > 2147483647", 3, None, id="unsigned-limit"),
    pytest.param(None, "lc = 'gamma' OR lc = 'zeta'", 10, 995, id="dict-window-across-row-groups"),
    pytest.param(None, "s LIKE 'ключ%'", 1, 999, id="like-last-match"),
    pytest.param(None, "fz = 0 OR fz = 'NaN'", None, None, id="all-columns-zeros-nans"),
    pytest.param(None, "nul IS NULL AND id >= 950", 60, 10, id="all-columns-nulls"),
    pytest.param(["s_long", "hc", "id"], "s_long > 'p' AND id > 2500", None, None, id="long-strings"),
    pytest.param(["pay"], "rev < 1500 AND b IS NULL", None, 20, id="payload-only"),
]


@pytest.mark.parametrize("transport", ["local", "http"])
@pytest.mark.parametrize("columns,where,limit,offset", WINDOWS)
def test_window_and_projection(columns, where, limit, offset, transport, scan_with_stats, oracle_con,
                               pruning_dir, source_of):
    """Pruning combined with LIMIT/OFFSET, every column, or only non-predicate columns."""
    got, _ = scan_with_stats(source_of(INDEX_FILE, transport), columns, where, limit, offset)
    want = util.duckdb_select(oracle_con, pruning_dir / INDEX_FILE, columns, where, limit, offset,
                              order_column=ID)
    assert want.num_rows > 0
    util.assert_tables_equal(_naive(got), _naive(want), f"{where} limit={limit} offset={offset}")


# --------------------------------------------------------------------------------------------
# Guards: the oracle, the clauses and the files are what the tests assume
# --------------------------------------------------------------------------------------------

def test_clauses_are_distinct_and_mostly_selective(pruning_dir, oracle_con):
    ids = [c.id for c in CLAUSES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    wheres = [c.where for c in CLAUSES]
    assert len(wheres) == len(set(wheres)), sorted({w for w in wheres if wheres.count(w) > 1})
    counts = [expected(oracle_con, pruning_dir / INDEX_FILE, c.where).num_rows for c in CLAUSES]
    some = sum(1 for n in counts if 0 < n < gp.NUM_ROWS)
    assert some >= 0.7 * len(CLAUSES), f"only {some} of {len(CLAUSES)} clauses select some rows"
    assert 0 < sum(1 for n in counts if n == 0) < 0.25 * len(CLAUSES)
    assert len(CLAUSES) >= 400 and len(CORE) >= 80, (len(CLAUSES), len(CORE))


def test_oracle_filters_after_reading(pruning_dir, oracle_con):
    """The oracle pushes no filter into its Parquet scan (so it cannot prune)."""
    for c in CLAUSES[::25]:
        sql = (f"EXPLAIN SELECT {ID} FROM read_parquet({util.sql_string(str(pruning_dir / INDEX_FILE))}) "
               f"WHERE {c.where}")
        plan = "\n".join(str(row[1]) for row in oracle_con.execute(sql).fetchall())
        assert "Filters:" not in plan and "FILTER" in plan, (c.where, plan)


def test_oracle_on_zeros_and_nans(pruning_dir, oracle_con):
    """The oracle's answers for the sign-of-zero and NaN-bit-pattern traps, computed here in
    Python.  (DuckDB 1.5.5 with its own pruning gets several of them wrong on these files:
    ``fz = 'NaN'`` finds no row and ``fz = 0`` misses the row groups whose zeros are all -0.0.)"""
    fz = _TABLE_COLUMNS["fz"]
    rows = {
        "fz = 0": [i for i, v in enumerate(fz) if v is not None and v == 0],
        "fz = 'NaN'": [i for i, v in enumerate(fz) if v is not None and math.isnan(v)],
        "fz != 'NaN'": [i for i, v in enumerate(fz) if v is not None and not math.isnan(v)],
        "fz > 2": [i for i, v in enumerate(fz) if v is not None and (math.isnan(v) or v > 2)],
        "fz <= 0": [i for i, v in enumerate(fz) if v is not None and not math.isnan(v) and v <= 0],
    }
    for name in gp.PRUNING_FILES:
        for where, want in rows.items():
            got = expected(oracle_con, pruning_dir / name, where).column(ID).to_pylist()
            assert got == want, (name, where, len(got), len(want))
    assert rows["fz = 0"] and rows["fz = 'NaN'"]


@pytest.mark.parametrize("name", gp.PRUNING_FILES)
def test_files_hold_the_table(name, pruning_dir, oracle_con):
    """Each file reads back (pyarrow, and DuckDB) as the generated table; NaN bit patterns kept."""
    import pyarrow.parquet as pq

    path = pruning_dir / name
    raw = table = pq.read_table(path)
    ref = gp.pruning_table()
    assert table.num_rows == gp.NUM_ROWS
    if name == gp.DUCKDB_FILE:
        # DuckDB's writer dictionary-encodes floats with -0.0 and 0.0 as one entry, so a row
        # group's zeros all take the sign of its first zero: compare zeros without their sign.
        table, ref = _unsigned_zeros(table), _unsigned_zeros(ref)
    util.assert_tables_equal(_naive(table.select(ref.column_names)), _naive(ref), f"pyarrow read of {name}")
    duck_all = util.duckdb_select(oracle_con, path, order_column=ID)
    util.assert_tables_equal(_naive(duck_all), _naive(raw.select(duck_all.column_names)),
                             f"duckdb read of {name}")


def _unsigned_zeros(table: pa.Table) -> pa.Table:
    import pyarrow.compute as pc

    cols = []
    for col in table.columns:
        if pa.types.is_floating(col.type):
            col = pc.if_else(pc.equal(col, pa.scalar(0.0, col.type)), pa.scalar(0.0, col.type), col)
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def _footer(path: Path):
    """(file bytes, FileMetaData as {field id: value}, leaf names) via pqlayout's Thrift reader."""
    import struct

    pql = pqlayout()
    data = path.read_bytes()
    flen = struct.unpack_from("<I", data, len(data) - 8)[0]
    meta = pql.Compact(data, len(data) - 8 - flen).struct()
    leaves = [e.get(4, b"").decode() for e in meta[2] if 5 not in e]
    return data, meta, leaves


def _chunks(path: Path):
    """{column name: [ColumnChunk dict per row group]}."""
    _, meta, leaves = _footer(path)
    out = {n: [] for n in leaves}
    for rg in meta[4]:
        for i, cc in enumerate(rg[1]):
            out[leaves[i]].append(cc)
    return out


def test_page_index_file_layout(pruning_dir):
    """prune_pa_index: 6 row groups x 10 pages of 100 rows, bloom filters where asked, no
    statistics where asked, a column index except on floats with NaN-only pages."""
    lay = pqlayout().layout(pruning_dir / INDEX_FILE)
    assert [rg["num_rows"] for rg in lay["row_groups"]] == [1000] * 6
    for rg in lay["row_groups"]:
        for col in rg["columns"]:
            assert [p[2] for p in col["pages"]] == list(range(0, 1000, 100)), col["name"]
    chunks = _chunks(pruning_dir / INDEX_FILE)
    for name, ccs in chunks.items():
        for cc in ccs:
            assert (cc[3].get(14) is not None) == (name in gp.BLOOM_COLUMNS), name
            has_stats = any(k in cc[3].get(12, {}) for k in (1, 2, 5, 6))
            if name in gp.NO_STATS_COLUMNS or name == "allnull":
                assert not has_stats, name
    assert all(cc.get(6) is None for cc in chunks["f64"]), "f64: expected no column index (NaN pages)"
    assert all(cc.get(6) is not None for cc in chunks["f64x"]), "f64x: expected a column index"
    assert not any(k in chunks["s_long"][1][3].get(12, {}) for k in (5, 6)), "s_long rg1: no stats"


def test_special_values_are_in_the_data():
    import struct

    rows = _TABLE_COLUMNS
    bits = {struct.pack("<d", v) for v in rows["f64"] if v is not None and math.isnan(v)}
    assert len(bits) >= 3, "several NaN bit patterns"
    f64 = rows["f64"]
    for slot, kind in [(1, "nan"), (3, "-0"), (4, "+0"), (7, "null")]:
        page = f64[slot * 100:(slot + 1) * 100]
        if kind == "nan":
            assert all(v is not None and math.isnan(v) for v in page)
        elif kind == "null":
            assert all(v is None for v in page)
        else:
            assert all(v == 0 and (math.copysign(1, v) < 0) == (kind == "-0") for v in page)
    assert all(v is None for v in rows["nul"][1000:2000])
    assert all(u >= 2**31 for u in rows["u32"][100:200] if u is not None)
    assert len(gp.LONG_M.encode()) == 257 and gp.LONG_M.encode()[255] == 0xC3


def test_duckdb_file_has_bloom_filters_and_truncated_statistics(pruning_dir):
    chunks = _chunks(pruning_dir / gp.DUCKDB_FILE)
    assert [len(v) for v in chunks.values()][0] == 3  # 2048-row row groups
    assert all(cc[3].get(14) is not None for cc in chunks["lc"]), "bloom filters on dictionary columns"
    inexact = [cc[3][12] for cc in chunks["s_long"] if cc[3].get(12, {}).get(7) is False]
    assert inexact and all(len(st[5]) == 256 for st in inexact), "s_long: truncated max (256 bytes)"


def test_fallback_file_mixes_dictionary_and_plain_pages(pruning_dir):
    chunks = _chunks(pruning_dir / "prune_pa_fallback.parquet")
    for name in ("hc", "s", "s_rand"):
        for cc in chunks[name]:
            stats = {(e[1], e[2]) for e in cc[3].get(13, [])}  # (page type, encoding)
            assert (0, 8) in stats and (0, 0) in stats, (name, stats)  # RLE_DICTIONARY and PLAIN
    assert all(cc[3].get(14) is not None for cc in chunks["hc"])


# --------------------------------------------------------------------------------------------
# I/O counted at the server
# --------------------------------------------------------------------------------------------

def pqlayout():
    """/work/shared/tools/pqlayout.py (page locations from the footer and offset index)."""
    for d in (util.REPO_ROOT.parent / "shared" / "tools", util.REPO_ROOT / "shared" / "tools",
              Path("/work/shared/tools")):
        if (d / "pqlayout.py").is_file():
            if str(d) not in sys.path:
                sys.path.insert(0, str(d))
            import pqlayout as mod

            return mod
    pytest.fail("pqlayout.py not found (looked in shared/tools beside the repository)", pytrace=False)


class Layout:
    """Byte ranges of io_big.parquet: per (row group, column) the chunk, the dictionary page and
    the data pages (offset, size, first row); the index/footer region at the end."""

    def __init__(self, path: Path):
        self.lay = pqlayout().layout(path)
        self.size = self.lay["size"]
        starts = []
        for rg in self.lay["row_groups"]:
            for col in rg["columns"]:
                for off, length in (col["oi"], col["ci"]):
                    if off is not None:
                        starts.append(off)
        self.index_start = min(starts)
        self.rg_first_row = []
        base = 0
        for rg in self.lay["row_groups"]:
            self.rg_first_row.append(base)
            base += rg["num_rows"]

    def col(self, rg: int, name: str) -> dict:
        return next(c for c in self.lay["row_groups"][rg]["columns"] if c["name"] == name)

    def chunk(self, rg: int, name: str) -> tuple[int, int]:
        c = self.col(rg, name)
        start = c["dict_page_offset"] if c["dict_page_offset"] is not None else c["data_page_offset"]
        return start, start + c["total_compressed_size"]

    def dictionary(self, rg: int, name: str) -> Optional[tuple[int, int]]:
        c = self.col(rg, name)
        if c["dict_page_offset"] is None:
            return None
        return c["dict_page_offset"], c["pages"][0][0]

    def page_of_row(self, name: str, row: int) -> tuple[int, tuple[int, int]]:
        """(row group, byte range of the data page) holding global row ``row``."""
        for rg in range(len(self.rg_first_row) - 1, -1, -1):
            if row >= self.rg_first_row[rg]:
                local = row - self.rg_first_row[rg]
                pages = self.col(rg, name)["pages"]
                i = max(j for j, p in enumerate(pages) if p[2] <= local)
                return rg, (pages[i][0], pages[i][0] + pages[i][1])
        raise ValueError(row)

    def data_pages(self) -> list[tuple[int, int, int, str]]:
        """Every data page: (start, end, row group, column)."""
        out = []
        for rg, g in enumerate(self.lay["row_groups"]):
            for c in g["columns"]:
                for off, size, _ in c["pages"]:
                    out.append((off, off + size, rg, c["name"]))
        return out


def served_ranges(server: RangeServer, size: int) -> list[tuple[int, int, str]]:
    """[(start, end exclusive, raw Range header)] of every body the server sent."""
    # quiver may have its last byte before the server has logged the request
    assert server.wait_idle(), "the server is still answering requests"
    out = []
    for r in server.log():
        assert r.status in (200, 206), r
        rng = parse_range(r.range, size)
        first, last = (0, size - 1) if rng is None else rng
        out.append((first, last + 1, r.range or ""))
    return out


def outside(ranges, allowed) -> list[tuple[int, int]]:
    """Parts of ``ranges`` not covered by the union of ``allowed`` (all half-open)."""
    allowed = sorted(allowed)
    bad = []
    for start, end, *_ in ranges:
        pos = start
        for a, b in allowed:
            if b <= pos or a >= end:
                continue
            if a > pos:
                bad.append((pos, a))
            pos = max(pos, b)
            if pos >= end:
                break
        if pos < end:
            bad.append((pos, end))
    return bad


def _pages_hit(lay: Layout, bad) -> list[str]:
    out = []
    for s, e in bad:
        for ps, pe, rg, name in lay.data_pages():
            if ps < e and s < pe:
                out.append(f"rg{rg}/{name}@{ps}")
    return out


@pytest.fixture()
def io_server(pruning_dir):
    with RangeServer(pruning_dir) as srv:
        yield srv


@pytest.fixture(scope="module")
def io_layout(pruning_dir) -> Layout:
    lay = Layout(pruning_dir / gp.IO_FILE)
    assert lay.size > 1024 * 1024
    return lay


def _tail(lay: Layout) -> tuple[int, int]:
    return max(0, lay.size - OPEN_TAIL_MAX), lay.size


def _io_scan(scan_with_stats, server, columns, where=None, limit=None):
    return scan_with_stats(server.url(gp.IO_FILE), columns, where, limit)


def _io_expected(oracle_con, pruning_dir, columns, where=None, limit=None):
    return util.duckdb_select(oracle_con, pruning_dir / gp.IO_FILE, columns, where, limit)


def test_io_file_layout(io_layout):
    """Several row groups, many pages per column, and the first row groups' pages all lie
    before the tail an engine may read at open."""
    assert len(io_layout.lay["row_groups"]) == gp.IO_ROWS // gp.IO_ROW_GROUP_SIZE
    for rg in range(2):
        for name in ("k", "v", "w"):
            assert len(io_layout.col(rg, name)["pages"]) >= 10
            assert io_layout.chunk(rg, name)[1] <= _tail(io_layout)[0]
    assert io_layout.dictionary(0, "cat") is not None and io_layout.dictionary(0, "k") is None
    # the page index lies after every column chunk (so "the index region" holds no data)
    assert all(io_layout.chunk(rg, c["name"])[1] <= io_layout.index_start
               for rg, g in enumerate(io_layout.lay["row_groups"]) for c in g["columns"])
    # the needle rows' pages of v are further apart than the 64 KiB coalescing gap
    pages = [io_layout.page_of_row("v", r)[1] for r in gp.IO_NEEDLE_ROWS]
    assert all(b[0] - a[1] > 64 * 1024 for a, b in zip(pages, pages[1:])), pages


_LOOKUP_ROW = 52_345  # row group 1, in the middle of a page
_LOOKUP_K = 3 * _LOOKUP_ROW


def test_point_lookup_fetches_one_page_per_column(io_server, io_layout, scan_with_stats, oracle_con, pruning_dir):
    """``k = X`` on the sorted key (page index present): besides the footer/index region and the
    open's tail, the server sends only the one page of ``k`` and of ``v`` that holds the row
    (plus the dictionary page of ``cat``)."""
    cols, where = ["k", "v", "cat"], f"k = {_LOOKUP_K}"
    table, stats = _io_scan(scan_with_stats, io_server, cols, where)
    util.assert_tables_equal(table, _io_expected(oracle_con, pruning_dir, cols, where))
    assert table.num_rows == 1
    allowed = [_tail(io_layout), (io_layout.index_start, io_layout.size)]
    for name in ("k", "v", "cat"):
        rg, page = io_layout.page_of_row(name, _LOOKUP_ROW)
        allowed.append(page)
        if io_layout.dictionary(rg, name):
            allowed.append(io_layout.dictionary(rg, name))
    bad = outside(served_ranges(io_server, io_layout.size), allowed)
    assert not bad, f"fetched bytes of other pages: {_pages_hit(io_layout, bad)[:12]} ({bad[:5]})"


def test_no_match_by_row_group_statistics_fetches_no_data_pages(io_server, io_layout, scan_with_stats):
    """Below the minimum, above the maximum, and in the gap between two row groups' ranges
    (row group 0 ends at k = 119997, row group 1 starts at 120000): every row group is pruned by
    its statistics; nothing but the footer/index region and the open's tail is fetched."""
    gap = 3 * gp.IO_ROW_GROUP_SIZE
    for where in ("k < 0", f"k > {3 * gp.IO_ROWS}", f"k BETWEEN {gap - 2} AND {gap - 1}",
                  f"k = {gap - 1} OR k < -5"):
        io_server.reset()
        table, stats = _io_scan(scan_with_stats, io_server, ["k", "v"], where)
        assert table.num_rows == 0 and stats["rows_matched"] == 0
        assert stats["row_groups_scanned"] == 0, (where, stats)
        bad = outside(served_ranges(io_server, io_layout.size),
                      [_tail(io_layout), (io_layout.index_start, io_layout.size)])
        assert not bad, f"{where}: fetched data pages {_pages_hit(io_layout, bad)[:12]}"


def test_limit_without_filter_fetches_only_the_first_row_group(io_server, io_layout, scan_with_stats,
                                                               oracle_con, pruning_dir):
    """``--limit 5``: only the first row group's column chunks (of the projected columns)."""
    cols = ["k", "v"]
    table, stats = _io_scan(scan_with_stats, io_server, cols, limit=5)
    util.assert_tables_equal(table, _io_expected(oracle_con, pruning_dir, cols, limit=5))
    allowed = [_tail(io_layout), (io_layout.index_start, io_layout.size)]
    allowed += [io_layout.chunk(0, name) for name in cols]
    bad = outside(served_ranges(io_server, io_layout.size), allowed)
    assert not bad, f"fetched beyond the first row group: {_pages_hit(io_layout, bad)[:12]}"


def test_limit_without_filter_fetches_only_the_first_pages(io_server, io_layout, scan_with_stats):
    """With an offset index, ``--limit 5`` needs only the first data page of each column."""
    cols = ["k", "v"]
    table, _ = _io_scan(scan_with_stats, io_server, cols, limit=5)
    assert table.column("k").to_pylist() == [0, 3, 6, 9, 12]
    allowed = [_tail(io_layout), (io_layout.index_start, io_layout.size)]
    allowed += [io_layout.page_of_row(name, 0)[1] for name in cols]
    bad = outside(served_ranges(io_server, io_layout.size), allowed)
    assert not bad, f"fetched more than the first pages: {_pages_hit(io_layout, bad)[:12]}"


def test_late_materialization_fetches_projected_pages_only_where_rows_matched(
        io_server, io_layout, scan_with_stats, oracle_con, pruning_dir):
    """``--columns v --where "w = 'needle'"``: ``w`` is read where statistics cannot rule it
    out, but of ``v`` only the pages that hold a matching row."""
    where = f"w = '{gp.IO_NEEDLE}'"
    table, stats = _io_scan(scan_with_stats, io_server, ["v"], where)
    util.assert_tables_equal(table, _io_expected(oracle_con, pruning_dir, ["v"], where))
    assert table.num_rows == len(gp.IO_NEEDLE_ROWS)
    allowed = [_tail(io_layout), (io_layout.index_start, io_layout.size)]
    allowed += [io_layout.chunk(rg, "w") for rg in range(len(io_layout.lay["row_groups"]))]
    allowed += [io_layout.page_of_row("v", r)[1] for r in gp.IO_NEEDLE_ROWS]
    bad = outside(served_ranges(io_server, io_layout.size), allowed)
    assert not bad, f"fetched pages of v without matches: {_pages_hit(io_layout, bad)[:12]}"


def test_pruning_stats_keys(io_server, io_layout, scan_with_stats):
    """The new ``--stats`` keys: a point lookup prunes all other row groups and most pages; the
    byte counts add up to what the server sent."""
    _, stats = _io_scan(scan_with_stats, io_server, ["k", "v"], f"k = {_LOOKUP_K}")
    for key in ("round_trips", "row_groups_pruned", "pages_pruned", "open_requests",
                "bytes_footer", "bytes_index", "bytes_data"):
        assert key in stats, (key, stats)
    n_rg = len(io_layout.lay["row_groups"])
    assert stats["row_groups_pruned"] == n_rg - 1, stats
    assert stats["pages_pruned"] > 0, stats
    assert stats["bytes_footer"] + stats["bytes_index"] + stats["bytes_data"] <= stats["bytes_fetched"], stats
    assert stats["bytes_fetched"] == io_server.stats()["bytes_sent"], stats
