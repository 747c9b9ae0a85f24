"""Quiver against apache/parquet-testing (the copy in shared/parquet-testing).

* ``test_expected`` — for every file in ``expected.json``: ``quiver scan FILE --format arrow``,
  then per column nulls / NaNs / min / max / sha256 exactly as CHECKSUM.md defines them
  (checksum.py), plus the row count, must equal the expected values.
* ``test_checker_on_pyarrow`` — guards the checker itself: the same computation on pyarrow's
  reads must reproduce expected.json (which pyarrow 26.0.1 produced), except int96_from_spark,
  where CHECKSUM.md says pyarrow wraps a value (strict xfail: it must keep failing).
* ``test_other_file`` — every other ``.parquet`` / ``.parquet.encrypted`` file under data/ and
  bad_data/ (nested, encrypted, corrupt): quiver may read it or refuse it, but only with exit 1
  and one line on stderr — never another exit code, a signal, a hang or a panic/trap message.
"""

from __future__ import annotations

import json
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


def test_parquet_testing_present(parquet_testing):
    """The data the other tests parametrize over exists (else they would silently be empty)."""
    assert len(expected_files()) >= 60
    assert len(other_files()) >= 30


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
