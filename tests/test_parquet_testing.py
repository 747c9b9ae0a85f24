"""Quiver against apache/parquet-testing (the copy in shared/parquet-testing).

* ``test_expected`` — for every file in ``expected.json``: ``quiver scan FILE --format arrow``,
  then per column nulls / NaNs / min / max / sha256 exactly as CHECKSUM.md defines them
  (checksum.py), plus the row count, must equal the expected values.
* ``test_checker_on_pyarrow`` — guards the checker itself: the same computation on pyarrow's
  reads must reproduce expected.json (which pyarrow 26.0.1 produced), except int96_from_spark,
  where CHECKSUM.md says pyarrow wraps a value (strict xfail: it must keep failing).
* ``test_nested_file`` — every file of data/ outside expected.json that is not encrypted (the
  nested ones, struct/list/map, and two maps pyarrow cannot read): read completely and equal,
  value for value and in file order, nulls at every level included, to pyarrow's read — or
  DuckDB's where pyarrow cannot read the file — and to the values the file's documentation in
  parquet-testing lists, where it lists them.  ``test_nested_checker_*`` guard that comparison.
* ``test_other_file`` — every other ``.parquet`` / ``.parquet.encrypted`` file under data/ and
  bad_data/ (nested, encrypted, corrupt): quiver may read it or refuse it, but only with exit 1
  and one line on stderr — never another exit code, a signal, a hang or a panic/trap message.
"""

from __future__ import annotations

import copy
import json
import math
import struct
from functools import lru_cache

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import util
from checksum import column_checksum, compare_file

PT_DIR = util.parquet_testing_dir()

#: Files whose pages carry a wrong CRC: pyarrow does not verify page checksums and reads them;
#: Quiver verifies them and refuses these files (exit 1, one line naming the CRC).
CRC_CORRUPT = {
    "data/datapage_v1-corrupt-checksum.parquet",
    "data/rle-dict-uncompressed-corrupt-checksum.parquet",
}
#: Where pyarrow's own read is known to differ from expected.json (see CHECKSUM.md).
PYARROW_WRONG = {"data/int96_from_spark.parquet": "pyarrow wraps the year-290000 INT96 value"}

#: data/ files outside expected.json that pyarrow cannot read: their reference is DuckDB's read.
DUCKDB_REFERENCE = {
    # the Presto/Trino map whose keys are OPTIONAL (data/README.md, "Incorrect Map Schema")
    "data/incorrect_map_schema.parquet": "pyarrow: ArrowInvalid: Map keys must be annotated as required",
}
#: data/ files that Quiver refuses for lack of memory instead of reading: large_string_map holds
#: two map entries whose keys are 1 GiB strings each ("a" * 2**30; data/README.md, "Large string
#: map"), and a 32-bit WebAssembly instance addresses at most 4 GiB, which cannot hold the
#: decompressed column chunk plus the Arrow output.  This is a clean refusal (one line naming the
#: memory limit), not a read; pyarrow cannot read the file either (chunked nested output).
MEMORY_REFUSED = {"data/large_string_map.brotli.parquet"}
#: Exit code of that refusal: 1, a typed `memory-limit` error from the engine, which refuses
#: a row group whose one row cannot fit (the README's exit codes).
MEMORY_REFUSED_EXIT = 1

#: Values that parquet-testing's own documentation lists for a file (data/README.md and the
#: FILE.md beside it), as the normalised Python values of ``_norm_values`` (maps: lists of
#: (key, value) tuples).  Both the reference and quiver must reproduce them.
DOCUMENTED = {
    "data/map_no_value.parquet": {  # map_no_value.md
        "my_map": [[(1, None), (2, None), (3, None)], [(4, None), (5, None), (6, None)],
                   [(7, None), (8, None), (9, None)]],
        "my_map_no_v": [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
        "my_list": [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
    },
    "data/old_list_structure.parquet": {"a": [[[1, 2], [3, 4]]]},  # old_list_structure.md
    "data/null_list.parquet": {"emptylist": [[]]},  # README.md: from {"emptylist":[]}
    # README.md, "Incorrect Map Schema": MAP(ARRAY['name', 'parent'], ARRAY['report', 'another']).
    # Presto's maps keep no order: the (gzip) pages store "parent" first, as DuckDB reads too.
    "data/incorrect_map_schema.parquet": {"my_map": [[("parent", "another"), ("name", "report")]]},
}


@lru_cache(maxsize=1)
def expected_files() -> dict:
    path = PT_DIR / "expected.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["files"]


def other_files() -> list[str]:
    """Every parquet file under data/ and bad_data/ that expected.json does not cover."""
    if not PT_DIR.is_dir():
        return []
    found = []
    for sub in ("data", "bad_data"):
        for p in sorted((PT_DIR / sub).rglob("*")):
            if p.is_file() and (p.name.endswith(".parquet") or p.name.endswith(".parquet.encrypted")):
                rel = p.relative_to(PT_DIR).as_posix()
                if rel not in expected_files():
                    found.append(rel)
    return found


def nested_files() -> list[str]:
    """The files of data/ outside expected.json that are not encrypted: every one must be read
    (nested columns, and maps pyarrow cannot read), except the MEMORY_REFUSED one."""
    return [rel for rel in other_files()
            if rel.startswith("data/") and not rel.endswith(".encrypted")]


def test_parquet_testing_present(parquet_testing):
    """The data the other tests parametrize over exists (else they would silently be empty)."""
    assert len(expected_files()) >= 60
    assert len(other_files()) >= 30
    assert len(nested_files()) >= 15
    assert set(DUCKDB_REFERENCE) | MEMORY_REFUSED | set(DOCUMENTED) <= set(nested_files())


def _pyarrow_params():
    for rel in expected_files():
        marks = []
        if rel in PYARROW_WRONG:
            marks.append(pytest.mark.xfail(strict=True, reason=PYARROW_WRONG[rel]))
        yield pytest.param(rel, marks=marks, id=rel)


@pytest.mark.parametrize("rel", list(_pyarrow_params()))
def test_checker_on_pyarrow(rel, parquet_testing):
    table = pq.read_table(parquet_testing / rel, coerce_int96_timestamp_unit="us")
    problems = compare_file(table, expected_files()[rel])
    assert not problems, "\n".join(problems)


def test_checker_on_int96_reference_values():
    """int96_from_spark's expected values are the microseconds listed in int96_from_spark.md."""
    exp = expected_files()["data/int96_from_spark.parquet"]["columns"][0]
    values = [1704141296123456, 1704070800000000, 253402225200000000, 1735599600000000, None,
              9089380393200000000]
    got = column_checksum(pa.array(values, pa.timestamp("us")), "INT96", "NONE")
    assert {k: exp[k] for k in got} == got


def test_checker_detects_changes(parquet_testing):
    """Changing one value, or one null, changes the checksum (the checker is not vacuous)."""
    rel = "data/alltypes_plain.parquet"
    table = pq.read_table(parquet_testing / rel)
    exp = expected_files()[rel]
    assert compare_file(table, exp) == []
    ids = table.column("id").to_pylist()
    changed = table.set_column(0, "id", pa.array([ids[0] + 1] + ids[1:], table.schema.field(0).type))
    assert any("id" in p and "sha256" in p for p in compare_file(changed, exp))
    nulled = table.set_column(0, "id", pa.array([None] + ids[1:], table.schema.field(0).type))
    assert any("nulls" in p for p in compare_file(nulled, exp))


@pytest.mark.parametrize("rel", list(expected_files()))
def test_expected(rel, run_quiver, parquet_testing):
    proc = run_quiver("scan", parquet_testing / rel, "--format", "arrow")
    util.assert_no_crash(proc)
    if rel in CRC_CORRUPT:
        line = util.assert_clean_error(proc, 1)
        assert "CRC checksum mismatch" in line, line
        return
    assert proc.returncode == 0, util.describe(proc)
    table = util.read_arrow_stream(proc.stdout)
    problems = compare_file(table, expected_files()[rel])
    assert not problems, f"{rel}:\n" + "\n".join(problems)


@pytest.mark.parametrize("rel", other_files())
def test_other_file(rel, run_quiver, parquet_testing):
    proc = run_quiver("scan", parquet_testing / rel, "--format", "arrow")
    util.assert_no_crash(proc)
    assert proc.returncode in (0, 1), util.describe(proc)
    if proc.returncode == 1:
        util.assert_clean_error(proc, 1)
    else:
        util.read_arrow_stream(proc.stdout)  # whatever it read must be a valid Arrow stream


@pytest.mark.parametrize("rel", other_files())
def test_other_file_info(rel, run_quiver, parquet_testing):
    """``info`` on the same files: exit 0 with a JSON object, or exit 1 with one line."""
    proc = run_quiver("info", parquet_testing / rel, "--json")
    util.assert_no_crash(proc)
    assert proc.returncode in (0, 1), util.describe(proc)
    if proc.returncode == 1:
        util.assert_clean_error(proc, 1)
    else:
        assert isinstance(json.loads(proc.stdout), dict)


# --------------------------------------------------------------------------------------------
# Nested files: complete reads compared value by value
# --------------------------------------------------------------------------------------------

_UTC = {"UTC", "Etc/UTC", "+00:00", "Z", "utc", "GMT", "Etc/GMT"}
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


class _Float:
    """A float compared bit for bit (``-0.0 != 0.0``, ``1.0 != 1``), every NaN equal to every
    other NaN; float16/32 values compare as the doubles they widen to exactly."""

    __slots__ = ("value", "bits")

    def __init__(self, value: float):
        self.value = value
        self.bits = b"NaN" if math.isnan(value) else struct.pack("<d", value)

    def __eq__(self, other):
        return isinstance(other, _Float) and other.bits == self.bits

    def __hash__(self):
        return hash(self.bits)

    def __repr__(self):
        return repr(self.value)


def _shape(t: pa.DataType):
    """The logical type of a column with representation choices removed: string / large_string /
    string_view (binary likewise), dictionary vs plain, list vs large_list vs list_view, the names
    and nullability of list items and map entries, the unit of timestamps (values are compared
    in nanoseconds) and UTC spellings.  Struct field names and order are kept."""
    if isinstance(t, pa.ExtensionType):
        return _shape(t.storage_type)
    if pa.types.is_dictionary(t):
        return _shape(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_map(t):
        return ("map", _shape(t.key_type), _shape(t.item_type))
    if (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t)
            or pa.types.is_large_list_view(t)):
        return ("list", _shape(t.value_type))
    if pa.types.is_fixed_size_list(t):
        return ("fixed_size_list", t.list_size, _shape(t.value_type))
    if pa.types.is_struct(t):
        return ("struct", tuple((t.field(i).name, _shape(t.field(i).type)) for i in range(t.num_fields)))
    if pa.types.is_timestamp(t):
        return ("timestamp", "UTC" if t.tz in _UTC else t.tz)
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_duration(t):
        return "duration"
    return str(t)


def _norm_values(arr) -> list:
    """The values of an Arrow array as Python values, recursively, nulls at every level kept:
    a struct is a dict, a list a list, a map a list of (key, value) tuples (so it never equals a
    list of structs or of lists), strings ``str`` and binaries ``bytes`` (never equal), floats
    :class:`_Float`, timestamps / times / durations ``(kind, nanoseconds)``."""
    if isinstance(arr, pa.ChunkedArray):
        return [v for chunk in arr.chunks for v in _norm_values(chunk)]
    t = arr.type
    if isinstance(t, pa.ExtensionType):
        return _norm_values(arr.storage)
    if pa.types.is_dictionary(t):
        return _norm_values(arr.dictionary_decode())
    if pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return _norm_values(arr.cast(pa.large_list(t.value_field)))
    valid = arr.is_valid().to_pylist()
    if pa.types.is_struct(t):
        fields = [(t.field(i).name, _norm_values(arr.field(i))) for i in range(t.num_fields)]
        return [{name: vals[i] for name, vals in fields} if ok else None for i, ok in enumerate(valid)]
    if pa.types.is_map(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
        offsets = arr.offsets.to_pylist()  # absolute positions in arr.values (slices included)
        if pa.types.is_map(t):
            entries = arr.values  # struct<key, value>, never null
            items = list(zip(_norm_values(entries.field(0)), _norm_values(entries.field(1))))
        else:
            items = _norm_values(arr.values)
        return [items[offsets[i]:offsets[i + 1]] if ok else None for i, ok in enumerate(valid)]
    if pa.types.is_fixed_size_list(t):
        n, start = t.list_size, arr.offset
        items = _norm_values(arr.values)
        return [items[(start + i) * n:(start + i + 1) * n] if ok else None for i, ok in enumerate(valid)]
    if pa.types.is_floating(t):
        return [None if v is None else _Float(v) for v in arr.to_pylist()]
    if pa.types.is_timestamp(t) or pa.types.is_time(t) or pa.types.is_duration(t):
        kind = _shape(t)
        scale = 1_000_000_000 // _PER_SECOND[t.unit]
        raw = arr.view(pa.int64() if t.bit_width == 64 else pa.int32()).to_pylist()
        return [None if v is None else (kind, v * scale) for v in raw]
    if pa.types.is_string_view(t):
        arr = arr.cast(pa.large_string())
    elif pa.types.is_binary_view(t):
        arr = arr.cast(pa.large_binary())
    return arr.to_pylist()


def _first_difference(got, ref, path: str = ""):
    """``(path, got, ref)`` of the first place two normalised values differ, else None."""
    if got == ref:
        return None
    if isinstance(got, (list, tuple)) and isinstance(ref, (list, tuple)) and type(got) is type(ref):
        for i, (g, r) in enumerate(zip(got, ref)):
            d = _first_difference(g, r, f"{path}[{i}]")
            if d:
                return d
        return (f"{path} (length)", len(got), len(ref))
    if isinstance(got, dict) and isinstance(ref, dict) and list(got) == list(ref):
        for k in got:
            d = _first_difference(got[k], ref[k], f"{path}.{k}")
            if d:
                return d
    return (path, got, ref)


def table_differences(got: pa.Table, ref: pa.Table) -> list[str]:
    """Why ``got`` (quiver's read) differs from ``ref``: column names, row count, each column's
    logical type (:func:`_shape`) and its values in order (the first differing row, and where
    inside it).  Empty when they are equal."""
    if got.column_names != ref.column_names:
        return [f"columns {got.column_names} != reference {ref.column_names}"]
    problems = []
    if got.num_rows != ref.num_rows:
        problems.append(f"{got.num_rows} rows != reference {ref.num_rows}")
    for name in ref.column_names:
        g, r = got.column(name), ref.column(name)
        if _shape(g.type) != _shape(r.type):
            problems.append(f"{name}: type {g.type} != reference {r.type}")
            continue
        gv, rv = _norm_values(g), _norm_values(r)
        for row, (a, b) in enumerate(zip(gv, rv)):
            d = _first_difference(a, b)
            if d:
                where, x, y = d
                problems.append(f"{name}: row {row}{where}: {x!r} != reference {y!r}")
                break
    return problems


def _reference(rel: str, path) -> pa.Table:
    if rel in DUCKDB_REFERENCE:
        con = util.duckdb_connect()
        try:
            return con.execute("SELECT * FROM read_parquet(?)", [str(path)]).to_arrow_table()
        finally:
            con.close()
    return pq.read_table(path)


def _nested_params():
    for rel in nested_files():
        ref = "refused" if rel in MEMORY_REFUSED else "duckdb" if rel in DUCKDB_REFERENCE else "pyarrow"
        yield pytest.param(rel, id=f"{rel}-{ref}")


@pytest.mark.parametrize("rel", list(_nested_params()))
def test_nested_file(rel, run_quiver, parquet_testing):
    path = parquet_testing / rel
    proc = run_quiver("scan", path, "--format", "arrow")
    util.assert_no_crash(proc)
    if rel in MEMORY_REFUSED:
        line = util.assert_clean_error(proc, MEMORY_REFUSED_EXIT)
        assert "memory" in line.lower(), line
        return
    assert proc.returncode == 0, util.describe(proc)
    got = util.read_arrow_stream(proc.stdout)
    ref = _reference(rel, path)
    problems = table_differences(got, ref)
    assert not problems, f"{rel} (reference: {'DuckDB' if rel in DUCKDB_REFERENCE else 'pyarrow'}):\n" + "\n".join(problems)
    for name, values in DOCUMENTED.get(rel, {}).items():
        for who, table in (("quiver", got), ("reference", ref)):
            assert _norm_values(table.column(name)) == values, f"{rel}: {who}'s {name} is not the documented value"


def test_nested_checker_detects_changes(parquet_testing):
    """The nested comparison is not vacuous: one changed value, one null, an empty list for a
    null one, -0.0 for 0.0, bytes for str or a list of structs for a map deep inside a column is
    reported; representation choices (large_string, large_list, dictionary) are not."""
    ref = pq.read_table(parquet_testing / "data/nullable.impala.parquet")
    assert table_differences(ref, ref) == []
    col = ref.schema.get_field_index("nested_struct")
    typ = ref.schema.field(col).type
    rows = ref.column(col).to_pylist()

    def with_rows(new_rows, t=typ):
        return ref.set_column(col, ref.schema.field(col).with_type(t), pa.array(new_rows, t))

    def changed(edit):
        new = copy.deepcopy(rows)
        edit(new)
        return table_differences(with_rows(new), ref)

    assert changed(lambda r: None) == []  # the copy itself is equal
    # a value three levels down (nested_struct.C.d[0][1].E: 10)
    probs = changed(lambda r: r[1]["C"]["d"][0].__setitem__(1, {"E": 11, "F": "aaa"}))
    assert probs and "row 1" in probs[0] and ".C.d[0][1].E" in probs[0], probs
    # a null inside a list inside a struct inside a map value (g1.H.i: [2.2, None])
    probs = changed(lambda r: r[1]["g"][0][1]["H"]["i"].__setitem__(1, 0.0))
    assert probs and "row 1" in probs[0], probs
    # an empty list where the list is null (row 2: b is None)
    probs = changed(lambda r: r[2].__setitem__("b", []))
    assert probs and "row 2" in probs[0], probs
    # a null struct field where there was a value
    probs = changed(lambda r: r[0].__setitem__("A", None))
    assert probs and "row 0" in probs[0], probs
    # -0.0 for 0.0 and a NaN for a NaN
    f = pa.table({"x": pa.array([[0.0, float("nan")]], pa.list_(pa.float64()))})
    assert table_differences(pa.table({"x": pa.array([[-0.0, float("nan")]], pa.list_(pa.float64()))}), f)
    assert table_differences(f, f) == []
    # bytes for str; a list of (key, value) structs for a map; a different row count / name
    s = pa.table({"x": pa.array([["a"]], pa.list_(pa.string()))})
    assert table_differences(pa.table({"x": pa.array([[b"a"]], pa.list_(pa.binary()))}), s)
    m = pa.table({"x": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int32()))})
    kv = pa.struct([pa.field("key", pa.string(), nullable=False), pa.field("value", pa.int32())])
    assert table_differences(pa.table({"x": pa.array([[{"key": "k", "value": 1}]], pa.list_(kv))}), m)
    assert table_differences(s.slice(1), s) and table_differences(s.rename_columns(["y"]), s)
    # representation choices are not differences
    big = pa.table({"x": pa.array([["a"]], pa.large_list(pa.large_string()))})
    dic = pa.table({"x": pa.array([["a"]], pa.list_(pa.dictionary(pa.int8(), pa.string())))})
    assert table_differences(big, s) == [] and table_differences(dic, s) == []



@pytest.mark.parametrize("rel", [rel for rel in other_files()
                                 if rel.endswith("plaintext_footer.parquet.encrypted")])
def test_encrypted_columns_under_a_plaintext_footer_are_named(rel, run_quiver, parquet_testing):
    """Their footer reads, but their pages are encrypted: refused as such, before any page."""
    line = util.assert_clean_error(run_quiver("scan", parquet_testing / rel), 1)
    assert "has encrypted columns" in line and "unsupported" in line, line
