"""Shared helpers of Quiver's Python test-suite: locating things, running the CLI, reading its
Arrow output, querying the DuckDB oracle and comparing Arrow tables value by value.

Comparison policy (:func:`assert_tables_equal`): only *representation* differences are
normalised away — string vs large_string vs string_view (same for binary), dictionary vs plain
encoding, extension vs storage type, a timestamp with a UTC time zone vs a naive one (same
instants), and timestamp units when the conversion is lossless.  Values never are: floats
compare bit for bit (``-0.0 != 0.0``), except that every NaN equals every other NaN.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Optional, Sequence

import pyarrow as pa
import pyarrow.compute as pc

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
#: Generated conformance files (gitignored); see gen_data.py.
GENERATED_DIR = TESTS_DIR / ".data"
#: The committed demo file.
SAMPLE_PATH = TESTS_DIR / "data" / "sample.parquet"

#: Seconds one quiver process may run before the test fails (env QUIVER_TIMEOUT).
QUIVER_TIMEOUT = float(os.environ.get("QUIVER_TIMEOUT", "60"))

#: Keys that `--stats` must report (CLI contract).
STATS_KEYS = ("requests", "bytes_fetched", "row_groups", "row_groups_scanned",
              "rows_scanned", "rows_matched", "elapsed_ms", "retries", "peak_memory_bytes")

#: Words that must never appear in quiver's output: a crash is never an acceptable error.
CRASH_MARKERS = ("panic", "wasm trap", "RUST_BACKTRACE", "stack backtrace")


# --------------------------------------------------------------------------------------------
# Locations
# --------------------------------------------------------------------------------------------

def quiver_binary() -> Path:
    """The CLI under test: $QUIVER_BIN, else target/release/quiver in the repository."""
    env = os.environ.get("QUIVER_BIN")
    return Path(env).resolve() if env else REPO_ROOT / "target" / "release" / "quiver"


def parquet_testing_dir() -> Path:
    """apache/parquet-testing with expected.json: $QUIVER_PARQUET_TESTING, else shared/ beside
    the repository (as laid for developers and CI), else /work/shared."""
    env = os.environ.get("QUIVER_PARQUET_TESTING")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared" / "parquet-testing",
                   REPO_ROOT / "shared" / "parquet-testing",
                   Path("/work/shared/parquet-testing")]
    for c in candidates:
        if (c / "expected.json").is_file():
            return c.resolve()
    return candidates[0]


# --------------------------------------------------------------------------------------------
# Running quiver
# --------------------------------------------------------------------------------------------

class QuiverFailed(AssertionError):
    """quiver exited non-zero where success was expected; ``.proc`` holds the result."""

    def __init__(self, proc: subprocess.CompletedProcess):
        self.proc = proc
        super().__init__(
            f"quiver exited {proc.returncode}: {describe(proc)}"
        )


def describe(proc: subprocess.CompletedProcess) -> str:
    """One readable line: the command and the tail of its stderr."""
    cmd = " ".join(shlex.quote(str(a)) for a in proc.args)
    err = proc.stderr.strip()[-2000:] if isinstance(proc.stderr, str) else proc.stderr
    return f"$ {cmd}\n--- stderr ---\n{err}"


def run_quiver(binary: Path | str, *args, timeout: float = QUIVER_TIMEOUT,
               input: Optional[bytes] = None, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """Run ``quiver ARGS…`` and return a CompletedProcess with ``stdout`` as **bytes** (Arrow
    output is binary) and ``stderr`` as **text** (decoded leniently).  A run past ``timeout``
    raises AssertionError (a hang is a failure, never a skip)."""
    argv = [str(binary), *map(str, args)]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("RUST_BACKTRACE", None)  # a crash must not be made to look like "intended" output
    try:
        p = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=full_env, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"quiver did not finish within {timeout} s: {' '.join(argv)}") from e
    return subprocess.CompletedProcess(argv, p.returncode, p.stdout,
                                       p.stderr.decode("utf-8", errors="replace"))


def assert_no_crash(proc: subprocess.CompletedProcess) -> None:
    """No panic / trap / backtrace text on stderr or stdout, and not killed by a signal."""
    assert proc.returncode >= 0, f"killed by signal {-proc.returncode}: {describe(proc)}"
    out = proc.stdout.decode("utf-8", "replace") if isinstance(proc.stdout, bytes) else proc.stdout
    for marker in CRASH_MARKERS:
        assert marker.lower() not in proc.stderr.lower(), f"{marker!r} on stderr: {describe(proc)}"
        # on success stdout is data (which may contain anything); on failure it must be clean
        if proc.returncode != 0:
            assert marker.lower() not in (out or "").lower(), f"{marker!r} on stdout: {describe(proc)}"


def assert_clean_error(proc: subprocess.CompletedProcess, code: int = 1) -> str:
    """quiver failed with ``code`` and exactly one non-empty human line on stderr (returned)."""
    assert_no_crash(proc)
    assert proc.returncode == code, f"expected exit {code}, got {proc.returncode}: {describe(proc)}"
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}: {describe(proc)}"
    return lines[0]


def parse_stats(stderr: str) -> dict:
    """The ``--stats`` JSON object: the last non-empty line of stderr, with every required key."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert lines, "no stats line: stderr is empty"
    try:
        stats = json.loads(lines[-1])
    except ValueError as e:
        raise AssertionError(f"last stderr line is not JSON: {lines[-1]!r}") from e
    assert isinstance(stats, dict), f"stats line is not a JSON object: {lines[-1]!r}"
    missing = [k for k in STATS_KEYS if k not in stats]
    assert not missing, f"stats line lacks {missing}: {lines[-1]!r}"
    return stats


def read_arrow_stream(data: bytes | Path | str) -> pa.Table:
    """Read one Arrow IPC *stream* (bytes, or a file path) into a Table; AssertionError if the
    data is not one."""
    try:
        if isinstance(data, (bytes, bytearray)):
            return pa.ipc.open_stream(pa.BufferReader(data)).read_all()
        with pa.OSFile(str(data), "rb") as f:
            return pa.ipc.open_stream(f).read_all()
    except (pa.ArrowInvalid, OSError) as e:
        what = f"{len(data)} bytes of output" if isinstance(data, (bytes, bytearray)) else str(data)
        raise AssertionError(f"not an Arrow IPC stream ({what}): {e}") from e


def scan_args(source: str, columns: Optional[Sequence[str]] = None, where: Optional[str] = None,
              limit: Optional[int] = None, offset: Optional[int] = None) -> list[str]:
    """``scan`` arguments (without --format/--output/--stats)."""
    args = ["scan", str(source)]
    if columns is not None:
        args += ["--columns", ",".join(columns)]
    if where is not None:
        args += ["--where", where]
    if limit is not None:
        args += ["--limit", str(limit)]
    if offset is not None:
        args += ["--offset", str(offset)]
    return args


# --------------------------------------------------------------------------------------------
# DuckDB oracle
# --------------------------------------------------------------------------------------------

def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def duckdb_connect():
    """A DuckDB connection set up as the oracle: one thread (file order), UTC session time zone."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads=1")
    con.execute("SET TimeZone='UTC'")
    con.execute("SET preserve_insertion_order=true")
    return con


def duckdb_select(con, path: Path | str, columns: Optional[Sequence[str]] = None,
                  where: Optional[str] = None, limit: Optional[int] = None,
                  offset: Optional[int] = None, order_column: Optional[str] = None) -> pa.Table:
    """``SELECT cols FROM read_parquet(path) [WHERE] [LIMIT] [OFFSET]`` as an Arrow table.

    With ``order_column`` (a column holding the row index, increasing in file order) the query
    also selects it, asserts that it comes back strictly increasing — i.e. DuckDB kept file
    order — and drops it from the result.
    """
    cols = ", ".join(sql_ident(c) for c in columns) if columns is not None else "*"
    extra = f", {sql_ident(order_column)} AS __quiver_row_index" if order_column else ""
    sql = f"SELECT {cols}{extra} FROM read_parquet({sql_string(str(path))})"
    if where is not None:
        sql += f" WHERE {where}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if offset is not None:
        sql += f" OFFSET {int(offset)}"
    table = con.execute(sql).to_arrow_table()
    if order_column:
        idx = table.column("__quiver_row_index").to_pylist()
        assert all(a < b for a, b in zip(idx, idx[1:])), f"DuckDB did not keep file order for: {sql}"
        table = table.drop_columns(["__quiver_row_index"])
    return table


# --------------------------------------------------------------------------------------------
# Comparing Arrow data
# --------------------------------------------------------------------------------------------

_UTC_NAMES = {"UTC", "Etc/UTC", "+00:00", "Z", "utc", "GMT", "Etc/GMT"}
_UNIT_RANK = {"s": 0, "ms": 1, "us": 2, "ns": 3}


def _plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous array with dictionary / extension wrappers and string flavours removed."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if isinstance(arr.type, pa.ExtensionType):
        arr = arr.storage
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_string_view(t):
        arr = arr.cast(pa.large_string())
    elif pa.types.is_binary(t) or pa.types.is_binary_view(t):
        arr = arr.cast(pa.large_binary())
    elif pa.types.is_timestamp(t) and t.tz is not None and t.tz in _UTC_NAMES:
        arr = arr.cast(pa.int64()).cast(pa.timestamp(t.unit))  # same instants, naive UTC
    elif pa.types.is_float16(t):
        arr = arr.cast(pa.float64())  # exact
    return arr


def _align(a: pa.Array, b: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Bring two timestamp arrays to the finer unit (lossless; overflow raises)."""
    ta, tb = a.type, b.type
    if pa.types.is_timestamp(ta) and pa.types.is_timestamp(tb) and ta.unit != tb.unit and ta.tz == tb.tz:
        unit = max(ta.unit, tb.unit, key=_UNIT_RANK.__getitem__)
        a = a.cast(pa.timestamp(unit, ta.tz), safe=True)
        b = b.cast(pa.timestamp(unit, tb.tz), safe=True)
    return a, b


def _comparable(arr: pa.Array) -> pa.Array:
    """Floats as their bit patterns, with every NaN made the same quiet NaN."""
    t = arr.type
    if pa.types.is_floating(t):
        nan = pc.fill_null(pc.is_nan(arr), False)
        arr = pc.if_else(nan, pa.scalar(float("nan"), t), arr)
        return arr.view(pa.int32() if pa.types.is_float32(t) else pa.int64())
    return arr


def _display(arr: pa.Array, i: int):
    """A readable value (no pandas needed for nanosecond timestamps)."""
    v = arr[i]
    if not v.is_valid:
        return None
    if pa.types.is_timestamp(arr.type):
        return f"{v.cast(pa.int64()).as_py()} [{arr.type.unit}]"
    if pa.types.is_floating(arr.type):
        x = v.as_py()
        return f"{x!r} (0x{_comparable(arr.slice(i, 1))[0].as_py() & 0xFFFFFFFFFFFFFFFF:x})"
    return v.as_py()


def column_differences(actual, expected, max_rows: int = 5,
                       row_ids: Optional[Sequence] = None) -> list[str]:
    """Differences between two columns (empty list = equal after normalisation)."""
    a, b = _align(_plain(actual), _plain(expected))
    if a.type != b.type:
        return [f"type {a.type} != expected {b.type}"]
    if len(a) != len(b):
        return [f"length {len(a)} != expected {len(b)}"]
    ca, cb = _comparable(a), _comparable(b)
    if ca.equals(cb):
        return []
    neq = pc.fill_null(pc.not_equal(ca, cb), False)
    valid_diff = pc.not_equal(pc.is_valid(ca), pc.is_valid(cb))
    bad = pc.indices_nonzero(pc.or_(neq, valid_diff)).to_pylist()
    out = [f"{len(bad)} differing rows"]
    for i in bad[:max_rows]:
        rid = f" (row id {row_ids[i]})" if row_ids is not None else ""
        out.append(f"  [{i}]{rid}: got {_display(a, i)!r}, expected {_display(b, i)!r}")
    return out


def assert_tables_equal(actual: pa.Table, expected: pa.Table, context: str = "",
                        row_id_column: Optional[str] = None) -> None:
    """Same column names (in order), same row count, and equal values column by column."""
    where = f" [{context}]" if context else ""
    assert actual.column_names == expected.column_names, (
        f"column names differ{where}: got {actual.column_names}, expected {expected.column_names}")
    assert actual.num_rows == expected.num_rows, (
        f"row count differs{where}: got {actual.num_rows}, expected {expected.num_rows}")
    row_ids = None
    if row_id_column and row_id_column in expected.column_names:
        row_ids = expected.column(row_id_column).to_pylist()
    problems = []
    for name in expected.column_names:
        diffs = column_differences(actual.column(name), expected.column(name), row_ids=row_ids)
        if diffs:
            problems.append(f"column {name!r}: " + "\n".join(diffs))
    assert not problems, f"values differ{where}:\n" + "\n".join(problems)


def cells(table: pa.Table) -> list[list]:
    """Rows of Python values (timestamps as int64 in their unit), for small tables only."""
    cols = []
    for col in table.columns:
        arr = _plain(col)
        if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
            arr = arr.cast(pa.int64() if pa.types.is_timestamp(arr.type) else pa.int32())
        cols.append(arr.to_pylist())
    return [list(r) for r in zip(*cols)] if cols else []


def first_line(text: str) -> str:
    return next((ln for ln in text.splitlines() if ln.strip()), "")
