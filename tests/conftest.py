"""pytest fixtures for Quiver's conformance suite.

Session fixtures: the ``quiver`` binary (a missing binary *fails* every test that needs it, with
the command to build it — nothing is skipped), the generated data directory (regenerated only
when gen_data.py or the writer versions change), a running :class:`RangeServer` over it, and a
DuckDB oracle connection.  ``run_quiver`` / ``scan_arrow`` / ``scan_with_stats`` are callables
bound to the binary.

Every test gets a range cache of its own (``QUIVER_CACHE_DIR``, emptied per test), so that one
test's fetches never turn into another's cache hits and request counts at the server stay exact;
the cache's own tests share one directory between the runs they compare.

Environment: ``QUIVER_BIN`` (binary), ``QUIVER_PARQUET_TESTING`` (parquet-testing checkout with
expected.json), ``QUIVER_TIMEOUT`` (seconds per quiver process).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

import pyarrow as pa
import pytest

import gen_data
import util
from rangeserver import RangeServer


# Processes started by session fixtures get a cache outside the user's home too.
os.environ["QUIVER_CACHE_DIR"] = tempfile.mkdtemp(prefix="quiver-test-cache-")


@pytest.fixture(autouse=True)
def fresh_range_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty range cache directory for each test (``QUIVER_CACHE_DIR``)."""
    directory = tmp_path / "range-cache"
    monkeypatch.setenv("QUIVER_CACHE_DIR", str(directory))
    return directory


@pytest.fixture(scope="session")
def quiver_bin() -> Path:
    """Path of the quiver CLI; fails (never skips) when it has not been built."""
    path = util.quiver_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"quiver binary not found at {path}. Build it first (make build in the "
            f"repository root) or point QUIVER_BIN at it.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """tests/.data with every conformance file (see gen_data.py); generated once, reused."""
    gen_data.generate(util.GENERATED_DIR)
    return util.GENERATED_DIR


@pytest.fixture(scope="session")
def range_server(data_dir: Path):
    """A Range-capable HTTP server over the data directory, on a random loopback port."""
    with RangeServer(data_dir) as srv:
        yield srv


@pytest.fixture(scope="session")
def duck():
    """The DuckDB oracle connection (threads=1 so results keep file order; TimeZone=UTC)."""
    con = util.duckdb_connect()
    yield con
    con.close()


@pytest.fixture(scope="session")
def parquet_testing() -> Path:
    path = util.parquet_testing_dir()
    if not (path / "expected.json").is_file():
        pytest.fail(f"parquet-testing with expected.json not found (looked at {path}); "
                    f"set QUIVER_PARQUET_TESTING", pytrace=False)
    return path


@pytest.fixture(scope="session")
def run_quiver(quiver_bin: Path) -> Callable:
    """``run_quiver(*args, timeout=…, input=…) -> CompletedProcess`` (stdout bytes, stderr text)."""

    def run(*args, **kwargs):
        return util.run_quiver(quiver_bin, *args, **kwargs)

    return run


@pytest.fixture(scope="session")
def scan_with_stats(run_quiver: Callable, tmp_path_factory) -> Callable:
    """``scan_with_stats(source, columns, where, limit, offset) -> (Table, stats dict)``.

    Runs ``quiver scan … --format arrow --output FILE --stats``; raises
    :class:`util.QuiverFailed` (an AssertionError carrying ``.proc``) on a non-zero exit.
    """
    out_dir = tmp_path_factory.mktemp("scan")
    counter = itertools.count()

    def scan(source, columns: Optional[Sequence[str]] = None, where: Optional[str] = None,
             limit: Optional[int] = None, offset: Optional[int] = None, stats: bool = True):
        out = out_dir / f"out{next(counter)}.arrows"
        args = util.scan_args(source, columns, where, limit, offset)
        args += ["--format", "arrow", "--output", str(out)]
        if stats:
            args.append("--stats")
        proc = run_quiver(*args)
        util.assert_no_crash(proc)
        if proc.returncode != 0:
            raise util.QuiverFailed(proc)
        try:
            table = util.read_arrow_stream(out)
        finally:
            out.unlink(missing_ok=True)
        return table, (util.parse_stats(proc.stderr) if stats else None)

    return scan


@pytest.fixture(scope="session")
def scan_arrow(scan_with_stats: Callable) -> Callable:
    """``scan_arrow(source, columns=None, where=None, limit=None, offset=None) -> pyarrow.Table``."""

    def scan(source, columns=None, where=None, limit=None, offset=None) -> pa.Table:
        return scan_with_stats(source, columns, where, limit, offset, stats=False)[0]

    return scan


@pytest.fixture(scope="session")
def source_of(data_dir: Path, range_server: RangeServer) -> Callable[[str, str], str]:
    """``source_of(file_name, transport)``: transport is "local", "http" or "file-url"."""

    def source(name: str, transport: str) -> str:
        path = data_dir / name
        if transport == "local":
            return str(path)
        if transport == "http":
            return range_server.url(name)
        if transport == "file-url":
            return path.as_uri()
        raise ValueError(transport)

    return source


# re-exported for tests that prefer a plain function
parse_stats = util.parse_stats
