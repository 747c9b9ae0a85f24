"""The test HTTP server itself (rangeserver.py): ranges, suffix ranges, 416, HEAD, validators,
keep-alive, path safety, concurrency and its server-side counters.  No quiver needed."""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path

import pytest

from rangeserver import RangeServer, Request, parse_range, waves


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("served")
    (d / "blob.bin").write_bytes(bytes(range(256)) * 40)  # 10240 bytes
    (d / "empty.bin").write_bytes(b"")
    (d / "sub dir").mkdir()
    (d / "sub dir" / "x y.bin").write_bytes(b"hello")
    return d


@pytest.fixture()
def server(files):
    with RangeServer(files) as srv:
        yield srv


def _request(srv: RangeServer, path: str, headers=None, method="GET"):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


BLOB = bytes(range(256)) * 40


@pytest.mark.parametrize("header,status,body,content_range", [
    ("bytes=0-3", 206, BLOB[0:4], "bytes 0-3/10240"),
    ("bytes=100-199", 206, BLOB[100:200], "bytes 100-199/10240"),
    ("bytes=10000-", 206, BLOB[10000:], "bytes 10000-10239/10240"),
    ("bytes=-8", 206, BLOB[-8:], "bytes 10232-10239/10240"),
    ("bytes=-99999", 206, BLOB, "bytes 0-10239/10240"),
    ("bytes=10200-99999", 206, BLOB[10200:], "bytes 10200-10239/10240"),
    ("bytes=10240-", 416, b"", "bytes */10240"),
    ("bytes=-0", 416, b"", "bytes */10240"),
    ("bytes=0-1,5-6", 200, BLOB, None),  # several ranges: ignored, whole file
    ("items=0-3", 200, BLOB, None),  # other unit: ignored
    ("bytes=5-1", 200, BLOB, None),  # invalid: ignored
    (None, 200, BLOB, None),
])
def test_ranges(server, header, status, body, content_range):
    st, headers, got = _request(server, "/blob.bin", {"Range": header} if header else {})
    assert st == status
    assert got == body
    assert headers.get("Content-Range") == content_range
    assert int(headers["Content-Length"]) == len(body)
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["ETag"].startswith('"') and headers["Last-Modified"].endswith("GMT")


def test_head(server):
    st, headers, body = _request(server, "/blob.bin", method="HEAD")
    assert (st, body, headers["Content-Length"]) == (200, b"", "10240")
    assert server.stats()["bytes_sent"] == 0


def test_empty_file(server):
    assert _request(server, "/empty.bin")[0::2] == (200, b"")
    assert _request(server, "/empty.bin", {"Range": "bytes=0-"})[0] == 416


@pytest.mark.parametrize("path", ["/nope.bin", "/", "/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/sub%20dir"])
def test_not_found(server, path):
    assert _request(server, path)[0] == 404


def test_url_quoting(server):
    url = server.url("sub dir/x y.bin")
    assert url.endswith("/sub%20dir/x%20y.bin")
    assert _request(server, url.split(str(server.port), 1)[1])[0::2] == (200, b"hello")


def test_keep_alive_and_counters(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    for rng in ("bytes=-8", "bytes=0-99"):
        conn.request("GET", "/blob.bin", headers={"Range": rng})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 206
    conn.close()
    stats = server.stats()
    assert stats["requests"] == 2 and stats["bytes_sent"] == 108
    assert stats["by_status"] == {206: 2}
    log = server.log()
    assert [(r.method, r.path, r.range, r.status, r.bytes) for r in log] == [
        ("GET", "/blob.bin", "bytes=-8", 206, 8), ("GET", "/blob.bin", "bytes=0-99", 206, 100)]
    server.reset()
    assert server.stats()["requests"] == 0 and server.log() == []


def test_latency_and_concurrency(server):
    """Latency applies per request, and 32 concurrent requests overlap (big listen backlog)."""
    server.latency_s = 0.3
    results = []

    def fetch():
        results.append(_request(server, "/blob.bin", {"Range": "bytes=0-0"})[0])

    threads = [threading.Thread(target=fetch) for _ in range(32)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert results == [206] * 32
    assert 0.3 <= elapsed < 2.0, elapsed  # serial would take 9.6 s
    assert server.stats()["max_in_flight"] > 1


def test_timestamps_and_waves(server):
    """Each logged request has start <= end; overlapping requests are one wave, a request that
    starts after another ended is a later one."""
    server.latency_s = 0.1
    threads = [threading.Thread(target=_request, args=(server, "/blob.bin", {"Range": "bytes=0-0"}))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _request(server, "/blob.bin", {"Range": "bytes=1-1"})  # after all four: a second wave
    assert server.wait_idle()
    log = server.log()
    assert len(log) == 5 and all(0 < r.start <= r.end for r in log)
    assert waves(log) == 2
    assert waves(log[:4]) == 1 and waves([]) == 0


def test_waves_unit():
    def req(start, end):
        return Request("GET", "/x", None, 206, 1, start, end)
    assert waves([req(0, 1), req(2, 3), req(4, 5)]) == 3  # serial
    assert waves([req(0, 5), req(1, 2), req(3, 4)]) == 2  # a chain of two inside a long one
    assert waves([req(0, 2), req(1, 3), req(2.5, 4)]) == 2


def test_hook_can_answer(server):
    def hook(handler):
        if handler.path.endswith("/fail.bin"):
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return True
        return False

    server.hook = hook
    assert _request(server, "/fail.bin")[0] == 503
    assert _request(server, "/blob.bin", {"Range": "bytes=0-0"})[0] == 206


def test_parse_range_unit():
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=-3", 0) == "unsatisfiable"
    assert parse_range("bytes = 2 - 4", 10) == (2, 4)
