"""``quiver info``'s layout advice: each rule fires on a file built to break it, with its reason
and fix, and a well-laid file gets none."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROWS = 40_000
GROUP_ROWS = 10_000


def _table(shuffled: bool = False, strings: bool = False) -> pa.Table:
    rng = random.Random(8)
    ids = list(range(ROWS))
    if shuffled:
        rng.shuffle(ids)
    columns = {
        "id": pa.array(ids, pa.int64()),
        "city": pa.array([rng.choice(["Paris", "Lyon", "Oslo", "Quito"]) for _ in ids]),
        "amount": pa.array([rng.gauss(0, 1) for _ in ids]),
    }
    if strings:
        columns["key"] = pa.array([f"k{i:09d}-{i * 7919 % 1000003:07d}" for i in ids])
    return pa.table(columns)


def _advice(run_quiver, path: Path) -> list[dict]:
    proc = run_quiver("info", path, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["layout"]


def _rules(advice: list[dict]) -> set[str]:
    return {item["rule"] for item in advice}


def test_a_well_laid_file_gets_no_advice(tmp_path, run_quiver):
    path = tmp_path / "good.parquet"
    pq.write_table(_table(), path, row_group_size=GROUP_ROWS, write_page_index=True)
    assert _advice(run_quiver, path) == []
    text = run_quiver("info", path).stdout.decode()
    assert "layout:\n  well laid out for remote reads: nothing to change" in text, text


CASES = {
    # rule: (how the file is written, the rules expected exactly, the columns named)
    "no-page-index": (dict(write_page_index=False), {"no-page-index"}, []),
    "row-groups-too-small": (dict(row_group_size=1000), {"row-groups-too-small"}, []),
    "missing-statistics": (dict(write_statistics=["id"]), {"missing-statistics"},
                           ["city", "amount"]),
    "unsorted": (dict(shuffled=True), {"unsorted"}, []),
    "no-bloom-filter": (dict(shuffled=True, strings=True, use_dictionary=["city"]),
                        {"unsorted", "no-bloom-filter"}, ["id", "key"]),
    "dictionary-fallback": (dict(strings=True, dictionary_pagesize_limit=4096),
                            {"dictionary-fallback"}, ["id", "amount", "key"]),
}


@pytest.mark.parametrize("rule", CASES)
def test_each_rule_fires_on_a_file_built_to_break_it(rule, tmp_path, run_quiver):
    options, expected, columns = CASES[rule]
    options = dict(options)
    table = _table(options.pop("shuffled", False), options.pop("strings", False))
    options = {"row_group_size": GROUP_ROWS, "write_page_index": True, **options}
    path = tmp_path / f"{rule}.parquet"
    pq.write_table(table, path, **options)
    advice = _advice(run_quiver, path)
    assert _rules(advice) == expected, advice
    (item,) = [item for item in advice if item["rule"] == rule]
    assert item["columns"] == columns, item
    assert item["reason"] and item["fix"], item
    text = run_quiver("info", path).stdout.decode()
    assert f"  - {rule}" in text and "    fix: " in text, text


def test_a_footer_bigger_than_the_open_read_is_flagged(tmp_path, run_quiver):
    """1,500 columns in 4 row groups: the footer and page index outgrow the 256 KiB tail."""
    columns = {f"c{i}": pa.array(range(i, i + 400), pa.int64()) for i in range(1500)}
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=100, write_page_index=True)
    advice = _advice(run_quiver, path)
    assert _rules(advice) == {"large-footer"}, advice
    assert "second request" in advice[0]["reason"]


def test_a_huge_row_group_is_flagged(tmp_path, run_quiver):
    """One 272 MiB row group (random bytes, uncompressed): more than the 256 MiB allowed."""
    blobs = pa.array([os.urandom(1 << 20) for _ in range(272)], pa.binary())
    path = tmp_path / "huge.parquet"
    pq.write_table(pa.table({"blob": blobs}), path, compression="none", use_dictionary=False,
                   write_page_index=True)
    advice = _advice(run_quiver, path)
    assert "row-groups-too-large" in _rules(advice), advice
    path.unlink()
