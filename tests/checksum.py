"""Column checksums of parquet-testing's ``expected.json``, computed from Arrow data.

The definition is ``shared/parquet-testing/CHECKSUM.md``: per column ``nulls``, ``nans`` (float
columns only), ``min`` / ``max`` (rendered; ``None`` when there is no non-null, non-NaN value) and
``sha256`` over the netstring rendering of every row in file order.  The rendering depends on
the *Parquet* type of the column (physical + logical type, as recorded in ``expected.json``),
not on the Arrow type a reader chose, so the same function checks pyarrow's reads (to validate
this module) and Quiver's (the real test).  Arrow representation choices that do not change
values are accepted: string vs binary vs their large/view forms, dictionary encoding, extension
types, any timestamp unit that holds the value exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from decimal import Decimal
from typing import Any, Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["column_checksum", "table_checksums", "compare_file"]

_UNIT_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_LOGICAL_UNITS = {"MILLIS": "ms", "MICROS": "us", "NANOS": "ns",
                  "milliseconds": "ms", "microseconds": "us", "nanoseconds": "ns"}


def _plain(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous, non-dictionary, non-extension array."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if isinstance(arr.type, pa.ExtensionType):
        arr = arr.storage
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _logical_kind(logical: str) -> tuple[str, dict]:
    """Split expected.json's ``logical_type`` (e.g. ``DECIMAL{"precision":4,"scale":2}``)."""
    name, brace, rest = logical.partition("{")
    params = json.loads(brace + rest) if brace else {}
    return name, params


def _f64_hex(x: float) -> str:
    return struct.pack(">d", x).hex()


def _float_order_key(x: float) -> int:
    """IEEE 754 totalOrder key (for non-NaN values): -0.0 sorts before +0.0."""
    k = struct.unpack(">q", struct.pack(">d", x))[0]
    return k ^ 0x7FFF_FFFF_FFFF_FFFF if k < 0 else k


def _render_decimal(unscaled: int, scale: int) -> str:
    sign = "-" if unscaled < 0 else ""
    digits = str(abs(unscaled))
    if scale <= 0:
        return sign + digits + "0" * (-scale)
    digits = digits.rjust(scale + 1, "0")
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


def _decimal_unscaled(value: Any, scale: int) -> int:
    """Unscaled integer of a decimal value (exact; rejects values not on the scale)."""
    if isinstance(value, Decimal):
        sign, digits, exp = value.as_tuple()
        n = int("".join(map(str, digits)) or "0")
        shift = exp + scale
        if shift >= 0:
            n *= 10**shift
        else:
            q, r = divmod(n, 10**-shift)
            if r:
                raise ValueError(f"decimal {value} does not fit scale {scale}")
            n = q
        return -n if sign else n
    raise TypeError(f"not a decimal value: {value!r}")


def _int_values(arr: pa.Array) -> list:
    """Python ints (or None) of an integer-like array, including dates/times/timestamps."""
    t = arr.type
    if pa.types.is_timestamp(t) or pa.types.is_duration(t) or pa.types.is_time64(t):
        arr = arr.cast(pa.int64())
    elif pa.types.is_date32(t) or pa.types.is_time32(t):
        arr = arr.cast(pa.int32())
    elif pa.types.is_date64(t):  # milliseconds -> days
        return [None if v is None else v // 86_400_000 for v in arr.cast(pa.int64()).to_pylist()]
    return arr.to_pylist()


def _bytes_values(arr: pa.Array) -> list:
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        return [None if v is None else v.encode("utf-8") for v in arr.to_pylist()]
    return arr.to_pylist()  # binary / large_binary / binary_view / fixed_size_binary -> bytes


def _str_values(arr: pa.Array) -> list:
    if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type) or \
            pa.types.is_fixed_size_binary(arr.type) or pa.types.is_binary_view(arr.type):
        return [None if v is None else v.decode("utf-8") for v in arr.to_pylist()]
    return arr.to_pylist()


def _rescale_time(values: list, have_unit: str, want_unit: str, floor: bool = False) -> list:
    """Convert integer instants between units; exact unless ``floor`` (INT96 -> us)."""
    have, want = _UNIT_PER_SECOND[have_unit], _UNIT_PER_SECOND[want_unit]
    if have == want:
        return values
    out = []
    for v in values:
        if v is None:
            out.append(None)
        elif want > have:
            out.append(v * (want // have))
        else:
            q, r = divmod(v, have // want)
            if r and not floor:
                raise ValueError(f"timestamp {v} {have_unit} is not a whole number of {want_unit}")
            out.append(q)
    return out


def _renderer(physical: str, logical: str, arr: pa.Array) -> tuple[list, Callable[[Any], Any], Callable[[Any], str], bool]:
    """(values, order_key, render, is_float) for a column of the given Parquet type."""
    kind, params = _logical_kind(logical)
    t = arr.type
    if physical == "BOOLEAN":
        return arr.to_pylist(), lambda v: v, lambda v: "true" if v else "false", False
    if physical in ("FLOAT", "DOUBLE") or kind == "FLOAT16":
        vals = pc.cast(arr, pa.float64()).to_pylist()
        return vals, _float_order_key, lambda v: "NaN" if math.isnan(v) else _f64_hex(v), True
    if kind == "DECIMAL":
        scale = int(params["scale"])
        if pa.types.is_decimal(t):
            if t.scale != scale:
                raise ValueError(f"decimal scale {t.scale} != Parquet scale {scale}")
            vals = [None if v is None else _decimal_unscaled(v, scale) for v in arr.to_pylist()]
        else:  # a reader that returned the unscaled integers
            vals = _int_values(arr)
        return vals, lambda v: v, lambda v: _render_decimal(v, scale), False
    if physical == "INT96":
        if pa.types.is_timestamp(t):
            vals = _rescale_time(_int_values(arr), t.unit, "us", floor=True)
        else:
            raise TypeError(f"INT96 column read as {t}")
        return vals, lambda v: v, str, False
    if kind == "TIMESTAMP" or kind == "TIME":
        unit = _LOGICAL_UNITS[params.get("timeUnit", params.get("unit", "MICROS"))]
        vals = _int_values(arr)
        if pa.types.is_timestamp(t) or pa.types.is_time(t):
            vals = _rescale_time(vals, t.unit, unit)
        return vals, lambda v: v, str, False
    if kind == "DATE":
        return _int_values(arr), lambda v: v, str, False
    if physical in ("INT32", "INT64"):
        return _int_values(arr), lambda v: v, str, False
    if physical in ("BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"):
        if kind in ("STRING", "ENUM", "JSON"):
            vals = _str_values(arr)
            return vals, lambda v: v.encode("utf-8"), lambda v: v, False
        return _bytes_values(arr), lambda v: v, lambda v: v.hex(), False
    raise NotImplementedError(f"no rendering for {physical} / {logical}")


def column_checksum(arr: pa.ChunkedArray | pa.Array, physical: str, logical: str) -> dict:
    """``{nulls, [nans], min, max, sha256}`` of one column, as CHECKSUM.md defines them."""
    arr = _plain(arr)
    values, key, render, is_float = _renderer(physical, logical, arr)
    h = hashlib.sha256()
    nulls = nans = 0
    lo = hi = None
    lo_key = hi_key = None
    for v in values:
        if v is None:
            nulls += 1
            h.update(b"N,")
            continue
        r = render(v).encode("utf-8")
        h.update(b"%d:%s," % (len(r), r))
        if is_float and math.isnan(v):
            nans += 1
            continue
        k = key(v)
        if lo_key is None or k < lo_key:
            lo, lo_key = v, k
        if hi_key is None or k > hi_key:
            hi, hi_key = v, k
    out = {"nulls": nulls}
    if is_float:
        out["nans"] = nans
    out["min"] = None if lo_key is None else render(lo)
    out["max"] = None if hi_key is None else render(hi)
    out["sha256"] = h.hexdigest()
    return out


CHECKED_FIELDS = ("nulls", "nans", "min", "max", "sha256")


def compare_file(table: pa.Table, expected: dict) -> list[str]:
    """Differences between ``table`` and one ``expected.json`` file entry (empty = match)."""
    problems = []
    if table.num_rows != expected["num_rows"]:
        problems.append(f"num_rows: got {table.num_rows}, expected {expected['num_rows']}")
    want_names = [c["name"] for c in expected["columns"]]
    if table.column_names != want_names:
        problems.append(f"columns: got {table.column_names}, expected {want_names}")
        return problems
    for col, exp in zip(table.columns, expected["columns"]):
        try:
            got = column_checksum(col, exp["physical_type"], exp["logical_type"])
        except (ValueError, TypeError, NotImplementedError) as e:
            problems.append(f"{exp['name']}: cannot check ({col.type}): {e}")
            continue
        for field in CHECKED_FIELDS:
            if field in exp and got.get(field) != exp[field]:
                problems.append(f"{exp['name']} ({exp['physical_type']}/{exp['logical_type']}, "
                                f"read as {col.type}): {field} got {got.get(field)!r}, "
                                f"expected {exp[field]!r}")
    return problems


def table_checksums(table: pa.Table, types: Iterable[tuple[str, str]]) -> list[dict]:
    """Checksums of every column, given (physical, logical) per column in order."""
    return [column_checksum(c, p, l) for c, (p, l) in zip(table.columns, types)]
