"""Compute tiers against DuckDB: random predicates on columns full of edge values (NULLs, NaN,
±0.0, ±inf, subnormals, integer extremes) select exactly DuckDB's rows on every tier: the scalar
build (``--compute scalar``), the SIMD build (``--compute simd``) and the GPU (``--compute gpu``:
lavapipe, Mesa's software Vulkan, where the machine has no GPU; ``make setup`` installs it).
``--stats`` names the tier of each kernel and why, and ``auto`` never picks a software adapter.

The Rust property test ``host-native/tests/tiers.rs`` checks bit-identity between the tiers on
many more cases; this file checks the answers themselves against the reference.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import util

ROWS = 20_011  # not a multiple of 32: every tier's tail is exercised
CASES = 40
TIERS = ["scalar", "simd", "gpu"]

F_SPECIAL = [math.nan, -math.nan, 0.0, -0.0, math.inf, -math.inf, 1.7976931348623157e308,
             -1.7976931348623157e308, 2.2250738585072014e-308, 5e-324, -5e-324, 1e-310]
I64_SPECIAL = [-(2**63), 2**63 - 1, 0, -1, 1]
I32_SPECIAL = [-(2**31), 2**31 - 1, 0, -1, 1]


def _values(rng: random.Random, kind: str) -> list:
    out = []
    for _ in range(ROWS):
        if rng.random() < 0.1:
            out.append(None)
        elif kind in ("f32", "f64"):
            out.append(rng.choice(F_SPECIAL) if rng.random() < 0.25 else rng.randrange(-1000, 1000) / 8)
        elif kind == "i64" or kind == "ts":
            out.append(rng.choice(I64_SPECIAL) if rng.random() < 0.2 else rng.randrange(-10**6, 10**6))
        elif kind == "u64":
            out.append(rng.choice([0, 1, 2**63, 2**64 - 1]) if rng.random() < 0.2 else rng.randrange(10**6))
        elif kind == "u32":
            out.append(rng.choice([0, 1, 2**31, 2**32 - 1]) if rng.random() < 0.2 else rng.randrange(10**6))
        elif kind == "date":
            out.append(rng.randrange(-700_000, 2_900_000) if rng.random() < 0.2 else rng.randrange(18000, 20000))
        else:
            out.append(rng.choice(I32_SPECIAL) if rng.random() < 0.2 else rng.randrange(-1000, 1000))
    return out


TYPES = {"i32": pa.int32(), "u32": pa.uint32(), "date": pa.date32(), "i64": pa.int64(),
         "u64": pa.uint64(), "ts": pa.timestamp("us"), "f32": pa.float32(), "f64": pa.float64()}


def write_edge_file(folder: Path) -> Path:
    """Writes ``edges.parquet`` (ROWS rows of edge values in every kernel type) into ``folder``."""
    rng = random.Random(20261126)
    columns = {"id": pa.array(range(ROWS), pa.int64())}
    for kind, arrow_type in TYPES.items():
        values = _values(rng, kind)
        if kind == "ts":
            # within Python's datetime range, so literals can be written back
            values = [None if v is None else max(min(v, 253402300799999999), -62135596800000000)
                      for v in values]
        if kind == "date":
            columns[kind] = pa.array(values, pa.int32()).cast(pa.date32())
        elif kind == "ts":
            columns[kind] = pa.array(values, pa.int64()).cast(pa.timestamp("us"))
        else:
            columns[kind] = pa.array(values, arrow_type)
    path = folder / "edges.parquet"
    pq.write_table(pa.table(columns), path, row_group_size=6000)
    return path


@pytest.fixture(scope="module")
def edge_file(tmp_path_factory) -> Path:
    return write_edge_file(tmp_path_factory.mktemp("tiers"))


BIG_ROWS = 70_000  # above the 65,536 rows under which `auto` keeps a batch on the CPU


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """One row group of BIG_ROWS rows, scanned in one batch with ``--batch-size``."""
    rng = random.Random(5)
    table = pa.table({"id": pa.array(range(BIG_ROWS), pa.int64()),
                      "i64": pa.array([rng.randrange(-1000, 1000) for _ in range(BIG_ROWS)], pa.int64()),
                      "f64": pa.array([rng.randrange(-1000, 1000) / 8 for _ in range(BIG_ROWS)])})
    path = tmp_path_factory.mktemp("tiers") / "big.parquet"
    pq.write_table(table, path, row_group_size=BIG_ROWS)
    return path


def _literal(rng: random.Random, kind: str, table: pa.Table) -> str:
    column = table.column(kind)
    value = column[rng.randrange(ROWS)].as_py() if rng.random() < 0.6 else None
    if kind in ("f32", "f64"):
        if value is None:
            value = rng.choice(F_SPECIAL[2:] + [0.1, -2.5, 1e300, 3.4028234663852886e38])
        if math.isnan(value) or math.isinf(value):
            value = 1e308
        text = repr(float(value))
        # half exact literals (cast to the column's type), half DOUBLEs (with an exponent)
        return text if "e" in text or rng.random() < 0.5 else text + "e0"
    if kind == "date":
        value = value or table.column("date")[rng.randrange(ROWS)].as_py()
        return f"DATE '{value}'" if value else "DATE '2024-01-15'"
    if kind == "ts":
        value = value or table.column("ts")[rng.randrange(ROWS)].as_py()
        return f"TIMESTAMP '{value}'" if value else "TIMESTAMP '2024-01-15 10:00:00'"
    if value is None:
        value = rng.choice([0, 1, -1, 7, 2**31 - 1, -(2**31)] if kind != "u64" else [0, 1, 2**63])
        if kind.startswith("u"):
            value = abs(value)
    return str(value)


def _predicates(table: pa.Table) -> list[str]:
    rng = random.Random(7)
    out = []
    for _ in range(CASES):
        kind = rng.choice(list(TYPES))
        lit = [_literal(rng, kind, table) for _ in range(3)]
        op = rng.choice(["=", "<>", "<", "<=", ">", ">="])
        out.append(rng.choice([
            f"{kind} BETWEEN {lit[0]} AND {lit[1]}",
            f"{kind} NOT BETWEEN {lit[0]} AND {lit[1]}",
            f"{kind} IN ({lit[0]}, {lit[1]}, {lit[2]})",
            f"{kind} NOT IN ({lit[0]}, {lit[1]})",
            f"{kind} < {lit[0]} OR {kind} >= {lit[1]}",
            f"{kind} {op} {lit[0]}",
        ]))
    return out


def _ids(run_quiver, path: Path, where: str, tier: str, *extra: str) -> tuple[list[int], dict]:
    proc = run_quiver("scan", str(path), "--columns", "id", "--where", where, "--compute", tier,
                      "--format", "arrow", "--stats", *extra)
    util.assert_no_crash(proc)
    assert proc.returncode == 0, util.describe(proc)
    return util.read_arrow_stream(proc.stdout).column("id").to_pylist(), util.parse_stats(proc.stderr)


def test_every_tier_selects_duckdbs_rows(edge_file, run_quiver, duck):
    table = pq.read_table(edge_file)
    strict_subsets = 0
    for where in _predicates(table):
        expected = [row[0] for row in duck.execute(
            f"SELECT id FROM read_parquet('{edge_file}') WHERE {where} ORDER BY id").fetchall()]
        strict_subsets += 0 < len(expected) < ROWS
        for tier in TIERS:
            got, stats = _ids(run_quiver, edge_file, where, tier)
            assert got == expected, f"--compute {tier}: {where}"
            tiers = {kernel["tier"] for kernel in stats["kernels"]}
            assert tiers == {tier}, (where, stats["kernels"])
    assert strict_subsets > CASES // 2, "the predicates must discriminate"


def test_stats_name_each_kernels_tier_and_reason(edge_file, run_quiver):
    _, stats = _ids(run_quiver, edge_file, "f64 > 1.5 AND i32 BETWEEN -5 AND 500", "auto")
    kernels = {kernel["predicate"]: kernel for kernel in stats["kernels"]}
    assert set(kernels) == {"\"f64\" > 1.5", "\"i32\" BETWEEN -5 AND 500"}, stats["kernels"]
    assert kernels["\"f64\" > 1.5"]["column_type"] == "Float64"
    assert kernels["\"f64\" > 1.5"]["rows"] == ROWS
    for kernel in kernels.values():
        # batches of at most 6,000 rows: auto keeps them on the CPU without asking for a GPU
        assert (kernel["tier"], kernel["reason"]) == (
            "simd", "auto: batches under 65536 rows stay on the CPU"), kernel
    assert stats["gpu_adapter"] is None


def test_auto_never_takes_a_software_adapter(big_file, run_quiver, duck):
    got, stats = _ids(run_quiver, big_file, "i64 BETWEEN -10 AND 10", "auto", "--batch-size", "100000")
    expected = [row[0] for row in duck.execute(
        f"SELECT id FROM read_parquet('{big_file}') WHERE i64 BETWEEN -10 AND 10 ORDER BY id").fetchall()]
    assert got == expected
    (kernel,) = stats["kernels"]
    assert (kernel["tier"], kernel["batches"], kernel["rows"]) == ("simd", 1, BIG_ROWS), kernel
    # CI's adapter is lavapipe, a software rasteriser
    assert kernel["reason"].startswith("auto: ") and "software adapter, never chosen" in kernel["reason"], kernel
    assert stats["gpu_adapter"] is not None  # this time the kernel asked the host


def test_auto_without_an_adapter_runs_simd_and_gpu_is_a_clean_error(big_file, run_quiver):
    proc = run_quiver("scan", str(big_file), "--where", "i64 > 0", "--format", "csv", "--stats",
                      "--batch-size", "100000", env={"QUIVER_GPU": "off"})
    assert proc.returncode == 0, util.describe(proc)
    (kernel,) = util.parse_stats(proc.stderr)["kernels"]
    assert (kernel["tier"], kernel["reason"]) == ("simd", "auto: the host offers no GPU adapter")
    proc = run_quiver("scan", str(big_file), "--where", "i64 > 0", "--compute", "gpu",
                      env={"QUIVER_GPU": "off"})
    message = util.assert_clean_error(proc, 1)
    # the typed `gpu` error, not a decode error wrapping it
    assert message.startswith("quiver: error: GPU error:") and "no GPU adapter" in message, message


def test_predicates_kernels_cannot_run_stay_on_arrow(edge_file, run_quiver):
    # A column-to-column comparison has no kernel: no report, same answer as DuckDB.
    _, stats = _ids(run_quiver, edge_file, "i32 < i64", "gpu")
    assert stats["kernels"] == []
