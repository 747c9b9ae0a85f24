"""examples/: the engine on stock hosts, and an application component written in Python.

The artifacts come from ``make scan-app`` (which ``make test`` runs first); a missing one
fails these tests with the command that builds it, never skips them:

* ``quiver-engine-wasi.wasm``: the engine plugged with no-gpu, which must need nothing but
  WASI 0.2 and wasi:http from its host;
* ``scan-app.wasm``: examples/python-scan (componentize-py) plugged into it, run by
  examples/run_component.py, a stock wasmtime-py host, against tests/data/sample.parquet
  served over HTTP; its counts and sums are checked against DuckDB on the local file;
* ``scan-app-gpu.wasm``: the same app plugged into the engine itself (which imports the gpu
  interface), run by host-native's library (``quiver run``), which provides it on wgpu.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import wasmtime
from wasmtime.component import Record

import util
from rangeserver import RangeServer

EXAMPLES = util.REPO_ROOT / "examples"
RUNNER = EXAMPLES / "run_component.py"
RELEASE = util.REPO_ROOT / "target" / "release"
STOCK_ENGINE = RELEASE / "quiver-engine-wasi.wasm"
ENGINE = RELEASE / "quiver-engine.wasm"
SCAN_APP = RELEASE / "scan-app.wasm"
SCAN_APP_GPU = RELEASE / "scan-app-gpu.wasm"
#: The hosts that run the app: the stock wasmtime-py runner (app + stock engine), and the
#: `quiver run` of host-native's library (app + the engine with its gpu import).
HOSTS = ["stock", "quiver"]
#: The first run compiles a component (10–20 s on 2 cores); later runs hit wasmtime's cache.
TIMEOUT = 180

sys.path.insert(0, str(EXAMPLES))
import run_component  # noqa: E402  (examples/ is not a package)


def artifact(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"{path} not found: build it with `make scan-app` in the repository root",
                    pytrace=False)
    return path


@pytest.fixture(scope="module")
def sample_url():
    """tests/data/sample.parquet over HTTP, from the suite's Range-capable server."""
    with RangeServer(util.SAMPLE_PATH.parent) as server:
        yield server.url(util.SAMPLE_PATH.name)


def run_app(*args: str, host: str = "stock") -> subprocess.CompletedProcess:
    """``run_component.py scan-app.wasm ARGS…`` or ``quiver run scan-app-gpu.wasm ARGS…``, with
    text output."""
    if host == "stock":
        cmd = [sys.executable, str(RUNNER), str(artifact(SCAN_APP)), *args]
    else:
        cmd = [str(util.quiver_binary()), "run", str(artifact(SCAN_APP_GPU)), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    for marker in ("Traceback", "panicked", "wasm backtrace", *util.CRASH_MARKERS):
        assert marker.lower() not in (proc.stdout + proc.stderr).lower(), \
            f"{marker!r} in the output:\n{proc.stdout}\n{proc.stderr}"


CASES = [
    # decimal128(10, 2)
    ("trip_distance > 20 AND payment_type = 'card'", "fare_amount"),
    # int8 with nulls: nulls are skipped
    ("tip_amount > 5", "passenger_count"),
    # double; statistics prune 4 of the 5 row groups
    ("pickup_at >= TIMESTAMP '2024-01-15 23:00:00' AND pickup_at < DATE '2024-01-16'", "tip_amount"),
    # int64, every row, no filter
    (None, "id"),
    # no rows: the sum is NULL
    ("id < 0", "trip_distance"),
    # a count only (no column read)
    ("vendor = 'CMT' AND passenger_count IS NULL", None),
]


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("where,column", CASES)
def test_python_app_matches_duckdb(sample_url, duck, where, column, host):
    args = [sample_url]
    if where:
        args += ["--where", where]
    if column:
        args += ["--sum", column]
    proc = run_app(*args, host=host)
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()

    sql = f"SELECT count(*), {f'sum({util.sql_ident(column)})' if column else 'NULL'} " \
          f"FROM read_parquet({util.sql_string(str(util.SAMPLE_PATH))})"
    if where:
        sql += f" WHERE {where}"
    rows, total = duck.execute(sql).fetchone()

    assert re.search(rf"\brows={rows}\b", line), f"expected rows={rows}: {line}"
    assert re.search(r"\bbytes_fetched=\d+\b", line) and re.search(r"\brequests=\d+\b", line), line
    if column is None:
        return
    match = re.search(rf"\bsum\({column}\)=(\S+)", line)
    assert match, line
    got = match.group(1)
    if total is None:
        assert got == "NULL", line
    elif isinstance(total, float):
        assert math.isclose(float(got), total, rel_tol=1e-12), (line, total)
    elif isinstance(total, Decimal):
        assert Decimal(got) == total, (line, total)
    else:
        assert int(got) == total, (line, total)


@pytest.mark.parametrize("args,message", [
    (["{url}", "--where", "trip_distance >> 20"], "error: syntax-error: "),
    (["{url}", "--where", "vendor = 1"], "error: type-mismatch: "),
    (["{url}", "--sum", "no_such_column"], "error: column-not-found: "),
    (["{base}missing.parquet"], "error: http-status: HTTP 404 from "),
    ([], "error: the URL of a Parquet file is missing"),
    (["{url}", "--where"], "error: --where needs a value"),
], ids=["bad-where", "type-mismatch", "unknown-column", "404", "no-url", "no-where-value"])
@pytest.mark.parametrize("host", HOSTS)
def test_python_app_errors_are_clear(sample_url, args, message, host):
    base = sample_url.rsplit("/", 1)[0] + "/"
    proc = run_app(*(a.format(url=sample_url, base=base) for a in args), host=host)
    assert_no_traceback(proc)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.startswith(message), proc.stderr


@pytest.fixture(scope="module")
def stock_engine():
    """The compiled quiver-engine-wasi.wasm: ``(wasmtime.Engine, Component)``."""
    return run_component.load(str(artifact(STOCK_ENGINE)))


def test_stock_engine_needs_nothing_but_wasi(stock_engine):
    engine, component = stock_engine
    assert run_component.missing_imports(engine, component) == []
    names = run_component.imports(engine, component)
    assert "wasi:http/outgoing-handler@0.2.12" in names
    assert not any(name.startswith("quiver:engine/") for name in names)


def test_stock_engine_imports_only_wasi_names(stock_engine):
    engine, component = stock_engine
    assert [n for n in run_component.imports(engine, component) if not n.startswith("wasi:")] == []


def test_stock_engine_runs_on_a_stock_host(stock_engine, sample_url, duck):
    """Instantiated with only WASI and wasi:http, the engine opens the sample over HTTP and
    reads its footer (``quiver:engine/scan#open``, then ``parquet-file.metadata``)."""
    engine, component = stock_engine
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    store.set_wasi_http()
    instance = run_component.stock_linker(engine).instantiate(store, component)
    scan = instance.get_export_index(store, "quiver:engine/scan@0.1.0")

    def call(name, *args):
        func = instance.get_func(store, instance.get_export_index(store, name, scan))
        result = func(store, *args)
        func.post_return(store)
        return result

    fetch = Record()
    for field in ("tail-bytes", "coalesce-gap", "max-concurrency", "max-retries",
                  "retry-deadline-ms", "conditional-requests", "idle-timeout-ms", "memory-limit",
                  "cache"):
        setattr(fetch, field, None)
    options = Record()
    options.fetch = fetch
    file = call("open", sample_url, options)
    metadata = call("[method]parquet-file.metadata", file)
    rows = duck.execute(f"SELECT count(*) FROM read_parquet({util.sql_string(str(util.SAMPLE_PATH))})").fetchone()[0]
    assert getattr(metadata, "num-rows") == rows
    assert len(getattr(metadata, "row-groups")) == 5


def test_engine_without_no_gpu_is_refused_clearly():
    """The engine alone imports quiver:engine/gpu: a stock host refuses it, and says so."""
    proc = subprocess.run([sys.executable, str(RUNNER), str(artifact(ENGINE))],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2, proc.stderr
    assert "quiver:engine/gpu@0.1.0" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_quiver_run_refuses_a_component_that_is_not_a_command():
    proc = subprocess.run([str(util.quiver_binary()), "run", str(artifact(ENGINE))],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2, proc.stderr
    assert "is not a command component" in proc.stderr and "wasi:cli/run" in proc.stderr, proc.stderr
