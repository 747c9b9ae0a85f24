"""HTTP behaviour seen from the server side: how many requests a scan makes, and what happens
when the server misbehaves. Every count is taken at the server (tests/rangeserver.py), never
from quiver's own statistics; every answer is compared with DuckDB."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import util
from rangeserver import RangeServer, waves
from util import assert_clean_error

FILE = "pa_zstd.parquet"
WHERE = "i32 > 0 AND str LIKE 'a%'"
COLUMNS = ["id", "i32", "str"]


@pytest.fixture()
def server(data_dir):
    with RangeServer(data_dir) as srv:
        yield srv


def _expected(duck, data_dir):
    return util.duckdb_select(duck, data_dir / FILE, COLUMNS, WHERE)


def test_open_is_one_suffix_request_and_stats_match_the_server(server, scan_with_stats, duck, data_dir):
    table, stats = scan_with_stats(server.url(FILE), COLUMNS, WHERE)
    util.assert_tables_equal(table, _expected(duck, data_dir))
    log = server.log()
    assert log[0].range is not None and log[0].range.startswith("bytes=-"), log[0]
    assert all(r.method == "GET" for r in log), "no HEAD request is needed"
    assert stats["requests"] == server.stats()["requests"]
    assert stats["bytes_fetched"] == server.stats()["bytes_sent"]


def test_a_server_that_ignores_range_still_gives_the_right_answer(server, scan_with_stats, duck, data_dir):
    answered = []
    server.hook = _whole_file_hook((data_dir / FILE).read_bytes(), True, answered)
    table, stats = scan_with_stats(server.url(FILE), COLUMNS, WHERE)
    util.assert_tables_equal(table, _expected(duck, data_dir))
    assert len(answered) == 1, f"the whole body from the open serves every read: {answered}"
    assert stats["requests"] == 1


def _whole_file_hook(blob: bytes, content_length: bool, answered: list):
    """A server that ignores Range: every request gets 200 and all of ``blob``, announced by
    ``Content-Length`` or ended by closing the connection."""
    def hook(handler) -> bool:
        answered.append(handler.headers.get("Range"))
        handler.send_response(200)
        if content_length:
            handler.send_header("Content-Length", str(len(blob)))
        else:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        try:
            handler.wfile.write(blob)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: the point of the test
        return True
    return hook


@pytest.mark.parametrize("content_length", [True, False], ids=["Content-Length", "no length"])
def test_a_server_that_ignores_range_is_accepted_only_within_the_memory_limit(
        content_length, server, run_quiver, duck, tmp_path):
    """An 11.4 MiB file sent whole: refused under an 8 MiB ``--memory-limit`` (typed, before the
    body is all read where its length is announced), scanned under a 64 MiB one, with
    ``open_path: whole-file`` in the stats and the answer DuckDB gives from the file itself."""
    path = tmp_path / "big.parquet"
    rows = 1_500_000
    pq.write_table(pa.table({"x": pc.random(rows, initializer=5)}), path, compression="none",
                   use_dictionary=False)
    blob = path.read_bytes()
    assert len(blob) > 11 << 20
    answered = []
    server.hook = _whole_file_hook(blob, content_length, answered)
    url = server.url("big.parquet")
    line = assert_clean_error(run_quiver("scan", url, "--format", "csv", "--memory-limit", "8M"), 1)
    assert line.startswith("quiver: error: memory limit: ") and "ignores Range requests" in line, line
    assert len(answered) == 1, answered
    proc = run_quiver("scan", url, "--format", "arrow", "--stats", "--memory-limit", "64M",
                      "--where", "x > 0.5")
    assert proc.returncode == 0, util.describe(proc)
    stats = util.parse_stats(proc.stderr)
    assert stats["open_path"] == "whole-file" and stats["requests"] == 1, stats
    expected = duck.execute(f"SELECT x FROM read_parquet('{path}') WHERE x > 0.5").fetch_arrow_table()
    util.assert_tables_equal(util.read_arrow_stream(proc.stdout), expected)


def _refuse_suffix_ranges(size: int, content_range: bool, seen: list):
    """A hook answering every suffix range with 416 (with `Content-Range: bytes */SIZE` or
    without it); other requests are served normally.  Hooked requests go to `seen`."""
    def hook(handler) -> bool:
        if not handler.headers.get("Range", "").startswith("bytes=-"):
            return False
        seen.append(handler.headers["Range"])
        handler.send_response(416)
        if content_range:
            handler.send_header("Content-Range", f"bytes */{size}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return True
    return hook


def _suffix_without_content_range(whole: bytes, seen: list):
    """A hook answering a suffix range with 206 and the right bytes but no Content-Range."""
    def hook(handler) -> bool:
        header = handler.headers.get("Range", "")
        if not header.startswith("bytes=-"):
            return False
        seen.append(header)
        _send_206(handler, whole[-int(header[len("bytes=-"):]):])
        return True
    return hook


def _send_206(handler, body: bytes, content_range: str | None = None) -> None:
    """Answers with 206, ``body`` and its length, and ``content_range`` if given."""
    handler.send_response(206)
    if content_range is not None:
        handler.send_header("Content-Range", content_range)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.mark.parametrize("misbehaviour, path, open_requests", [
    ("416 with size", "range-after-416", 2),
    ("416 without size", "range-after-probe", 3),
    ("206 without Content-Range", "range-after-probe", 3),
])
def test_the_open_falls_back_when_suffix_ranges_fail(server, scan_with_stats, duck, data_dir,
                                                     misbehaviour, path, open_requests):
    whole = (data_dir / FILE).read_bytes()
    hooked: list = []
    server.hook = {
        "416 with size": _refuse_suffix_ranges(len(whole), True, hooked),
        "416 without size": _refuse_suffix_ranges(len(whole), False, hooked),
        "206 without Content-Range": _suffix_without_content_range(whole, hooked),
    }[misbehaviour]
    table, stats = scan_with_stats(server.url(FILE), COLUMNS, WHERE)
    util.assert_tables_equal(table, _expected(duck, data_dir))
    assert stats["open_path"] == path, stats
    assert stats["open_requests"] == open_requests, stats
    assert len(hooked) == 1 and hooked[0].startswith("bytes=-"), hooked
    served = [r.range for r in server.log()[:open_requests - 1]]
    if path == "range-after-probe":
        assert served[0] == "bytes=0-0", served
    assert served[-1].endswith(f"-{len(whole) - 1}"), f"the tail is read as a plain range: {served}"


@pytest.mark.parametrize("status", [403, 404, 500, 503])
def test_error_statuses_are_typed_errors_naming_the_status(server, run_quiver, status):
    def refuse(handler) -> bool:
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return True

    server.hook = refuse
    proc = run_quiver("scan", server.url(FILE), "--limit", "1")
    message = util.assert_clean_error(proc, 1)
    assert str(status) in message and FILE in message


def test_a_wrong_content_range_is_a_protocol_error_not_wrong_rows(server, run_quiver):
    def shifted(handler) -> bool:
        header = handler.headers.get("Range", "")
        if header.startswith("bytes=-"):
            return False  # let the open succeed
        _send_206(handler, b"\0" * 16, "bytes 0-15/99999999")
        return True

    server.hook = shifted
    proc = run_quiver("scan", server.url(FILE), "--limit", "1")
    message = util.assert_clean_error(proc, 1)
    assert "protocol" in message.lower()


def test_the_column_chunks_of_every_row_group_are_fetched_in_one_wave(run_quiver):
    """Two far-apart columns of each of 5 row groups: after the open, one wave of concurrent
    requests, counted at the server."""
    with RangeServer(util.SAMPLE_PATH.parent, latency_s=0.2) as srv:
        proc = run_quiver("scan", srv.url("sample.parquet"), "--columns", "id,store_and_fwd",
                          "--format", "csv", "--stats")
        assert proc.returncode == 0, util.describe(proc)
        stats = util.parse_stats(proc.stderr)
        srv.wait_idle()
        served = srv.stats()
        log = srv.log()
    assert stats["rows_returned"] == 200_000
    assert waves(log) == 2, log
    assert stats["round_trips"] == 2, stats
    assert served["max_in_flight"] >= 2, log


def test_explain_reads_no_data_pages_and_agrees_with_the_scan(run_quiver, scan_with_stats):
    """`--explain` plans over HTTP without fetching data pages (counted at the server), and the
    plan it prints is the one the scan then follows."""
    where = "id BETWEEN 100000 AND 100100"
    columns = ["id", "fare_amount"]
    with RangeServer(util.SAMPLE_PATH.parent) as srv:
        url = srv.url("sample.parquet")
        proc = run_quiver("scan", url, "--columns", ",".join(columns), "--where", where,
                          "--explain", "--format", "json")
        assert proc.returncode == 0, util.describe(proc)
        plan = json.loads(proc.stdout)
        srv.wait_idle()
        explained = srv.log()
        _, stats = scan_with_stats(url, columns, where)
    size = util.SAMPLE_PATH.stat().st_size
    assert [r.range for r in explained] == ["bytes=-262144"], explained
    verdicts = [g["verdict"] for g in plan["row_groups"]]
    assert verdicts.count("read") == stats["row_groups_scanned"] == 1, (verdicts, stats)
    assert len(verdicts) - verdicts.count("read") == stats["row_groups_pruned"], (verdicts, stats)
    assert plan["file_size"] == size
    # The scan reads at most what the plan says.
    assert stats["bytes_fetched"] <= plan["at_most_bytes"], (plan, stats)
    assert stats["round_trips"] <= 1 + bool(plan["first_phase"]) + bool(plan["second_phase"]), stats


def _range_hook(whole: bytes, reshape):
    """A hook answering every non-suffix range with 206, its true Content-Range, and the body
    ``reshape(body)`` (Content-Length set to match what is sent)."""

    def hook(handler) -> bool:
        header = handler.headers.get("Range", "")
        if not header.startswith("bytes=") or header.startswith("bytes=-"):
            return False  # let the open succeed
        first, last = (int(x) for x in header[len("bytes="):].split("-"))
        _send_206(handler, reshape(whole[first:last + 1]), f"bytes {first}-{last}/{len(whole)}")
        return True

    return hook


@pytest.mark.parametrize("shape, reshape", [
    ("short", lambda body: body[: len(body) // 2]),
    ("long", lambda body: body + b"\0" * 64),
])
def test_bodies_shorter_or_longer_than_asked_are_errors_not_wrong_rows(server, run_quiver, data_dir,
                                                                       shape, reshape):
    """Bodies that disagree with their own Content-Range: a typed error (after bounded retries for
    a short one, which looks like a cut), never rows decoded from the wrong bytes."""
    server.hook = _range_hook((data_dir / FILE).read_bytes(), reshape)
    proc = run_quiver("scan", server.url(FILE), "--columns", "id", "--max-retries", "1")
    message = util.assert_clean_error(proc, 1)
    assert "protocol" in message.lower() or "network" in message.lower(), message
    assert len([r for r in server.log() if not (r.range or "").startswith("bytes=-")]) <= 2 * 32
