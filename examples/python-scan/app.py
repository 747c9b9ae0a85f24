"""scan-app: count the rows of a Parquet file that match a WHERE clause, and sum one column.

A command-line application written in Python and built into a WebAssembly component with
componentize-py (the ``scan-client`` world of ``wit/plugs.wit``).  It imports the Quiver
engine's ``quiver:engine/scan`` interface and exports ``wasi:cli/run``; ``wac plug`` links it
with the engine, and any host with WASI 0.2 and wasi:http runs the result::

    scan-app URL [--where EXPR] [--sum COLUMN]

It prints one line, e.g. ``rows=175 sum(fare_amount)=10545.00 row_groups_scanned=5/5
requests=13 bytes_fetched=562784 round_trips=3``.
The sum ignores nulls as SQL does (NULL when every row is null); floats are summed with
:func:`math.fsum`.  An engine error is printed as ``error: <case>: <message>`` on stderr and
the command fails (exit status 1).
"""

from __future__ import annotations

import math
import sys
import traceback
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import List, Optional, Union

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import range_fetch, scan, types

import arrow_ipc


USAGE = "usage: scan-app URL [--where EXPR] [--sum COLUMN]"


class UsageError(Exception):
    """The command line is wrong; the message says how."""


@dataclass
class Args:
    """The command line: a URL, an optional WHERE clause and an optional column to sum."""

    url: str
    where: Optional[str] = None
    sum: Optional[str] = None


def parse_args(argv: List[str]) -> Args:
    """Parses ``URL [--where EXPR] [--sum COLUMN]`` (argparse needs modules that
    componentize-py leaves out)."""
    url = None
    options = {"--where": None, "--sum": None}
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name in options:
            if not eq:
                if not rest:
                    raise UsageError(f"{name} needs a value\n{USAGE}")
                value = rest.pop(0)
            options[name] = value
        elif arg.startswith("--") or url is not None:
            raise UsageError(f"unexpected argument {arg!r}\n{USAGE}")
        else:
            url = arg
    if url is None:
        raise UsageError(f"the URL of a Parquet file is missing\n{USAGE}")
    return Args(url, options["--where"], options["--sum"])


def describe_error(error: types.Error) -> str:
    """One line for an engine error: its case in WIT spelling and its message."""
    case = type(error).__name__.removeprefix("Error_")
    case = "".join("-" + c.lower() if c.isupper() else c for c in case).lstrip("-")
    value = error.value
    if isinstance(value, types.HttpStatusError):
        detail = f"HTTP {value.status} from {value.url}"
    elif isinstance(value, types.ByteRange):
        detail = f"{value.length} bytes at offset {value.offset} lie past the end of the file"
    else:
        detail = str(value)
    return f"{case}: {detail}"


#: Decimal arithmetic without rounding (the default context keeps 28 digits, decimal256 has 76).
_EXACT = Context(prec=1000)


class SqlSum:
    """SQL's SUM of a column: ints and decimals exactly, floats with :func:`math.fsum` (exactly
    rounded, whatever the order); NULL when no row has a value."""

    def __init__(self) -> None:
        self.exact: Union[int, Decimal, None] = None
        self.floats: List[float] = []

    def add(self, values: List[arrow_ipc.Value]) -> None:
        """Adds a batch's values; None (null) is skipped."""
        for value in values:
            if isinstance(value, float):
                self.floats.append(value)
            elif value is not None:
                self.exact = value if self.exact is None else _EXACT.add(self.exact, value)

    def __str__(self) -> str:
        if self.floats:
            return repr(math.fsum(self.floats))
        return "NULL" if self.exact is None else str(self.exact)


def scan_and_sum(url: str, where: Optional[str], column: Optional[str]) -> str:
    """Runs the scan and returns the summary line. Engine errors raise ``Err(types.Error)``."""
    no_fetch_options = range_fetch.FetchOptions(
        tail_bytes=None, coalesce_gap=None, max_concurrency=None, max_retries=None,
        retry_deadline_ms=None, conditional_requests=None, idle_timeout_ms=None,
        memory_limit=None, cache=None)
    file = scan.open(url, scan.OpenOptions(fetch=no_fetch_options))
    request = scan.ScanRequest(
        # Only the summed column is read; with none, batches carry only their row counts.
        columns=[column] if column else [],
        filter=scan.RowFilter_Sql(where) if where else None,
        offset=None, limit=None, batch_size=None, compute=None, memory_limit=None,
        row_groups=None)
    stream = file.scan(request)
    rows = 0
    total = SqlSum()
    while (ipc := stream.next()) is not None:
        _fields, batches = arrow_ipc.read_stream(ipc)
        for batch in batches:
            rows += batch.num_rows
            if column and column not in batch.columns:
                raise UsageError(f"column {column!r} is not an integer, float or decimal column")
            if column:
                total.add(batch.columns[column])
    stats = stream.stats()
    fetched = file.fetch_stats()
    parts = [f"rows={rows}"]
    if column:
        parts.append(f"sum({column})={total}")
    parts += [f"row_groups_scanned={stats.row_groups_scanned}/{stats.row_groups}",
              f"requests={fetched.requests}", f"bytes_fetched={fetched.bytes_fetched}",
              f"round_trips={fetched.round_trips}"]
    return " ".join(parts)


class Run(exports.Run):
    """The component's ``wasi:cli/run`` export."""

    def run(self) -> None:
        """Scans as the arguments say and prints the summary; fails with a one-line error."""
        try:
            args = parse_args(sys.argv[1:])
            print(scan_and_sum(args.url, args.where, args.sum))
        except Err as e:
            raise fail(describe_error(e.value))
        except (UsageError, arrow_ipc.IpcError) as e:
            raise fail(str(e))
        except Exception as e:  # a bug in this app: show where, but still exit cleanly
            traceback.print_exc()
            raise fail(f"unexpected {type(e).__name__}: {e}")
        finally:
            sys.stdout.flush()


def fail(message: str) -> Err:
    """Prints ``error: message`` on stderr; raising the returned ``Err(None)`` makes ``run``
    return an error (exit status 1)."""
    print(f"error: {message}", file=sys.stderr)
    sys.stderr.flush()
    return Err(None)
