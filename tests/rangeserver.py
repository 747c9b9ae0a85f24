#!/usr/bin/env python3
"""A small HTTP/1.1 static file server with byte-range support, for Quiver's tests and demos.

Unlike ``python3 -m http.server`` it honours ``Range`` (``bytes=a-b``, ``bytes=a-`` and the
suffix form ``bytes=-N``, answering ``206`` with ``Content-Range``, or ``416`` when the range
cannot be satisfied), sends ``Accept-Ranges``, ``ETag`` and ``Last-Modified``, answers ``HEAD``,
and keeps its own thread-safe count of the requests it served and the body bytes it sent, so a
test can check what a client really fetched (counted at the server, not by the client).

Library use::

    with RangeServer("tests/.data") as srv:
        url = srv.url("pa_zstd.parquet")
        ...                       # run the client
        srv.stats()               # {'requests': 3, 'bytes_sent': 12345, ...}
        srv.log()                 # [Request(method='GET', path='/pa_zstd.parquet', range='bytes=-8', ...), ...]
        waves(srv.log())          # round trips: see :func:`waves`
        srv.reset()

Script use (serves until interrupted)::

    python tests/rangeserver.py DIR --port 8000 [--latency-ms 50]

Browsers: with ``cors=True`` every answer allows any origin and exposes the headers a range
reader needs (``Content-Range``, ``ETag``…), and ``OPTIONS`` preflights are answered (a suffix
range ``bytes=-N`` is not a CORS-safelisted header, so browsers preflight it).  Files are sent
with the MIME type of their extension, so pages, module scripts and ``.wasm`` load from it.

Fault injection: ``latency_s`` (settable at any time) delays every request before it is
answered; ``hook`` may be set to a callable ``hook(handler) -> bool`` that runs before a
request is served and returns True when it has answered (or dropped) the request itself.

Each logged request carries ``start`` (when its request line and headers had been read) and
``end`` (when its response had been written), both ``time.monotonic()`` seconds; :func:`waves`
turns them into a count of round trips.
"""

from __future__ import annotations

import argparse
import email.utils
import mimetypes
import os
import posixpath
import re
import signal
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, NamedTuple, Optional

CHUNK = 256 * 1024
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers":
        "Content-Range, Content-Length, Accept-Ranges, ETag, Last-Modified",
}
PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, If-Match, If-None-Match, If-Range",
    "Access-Control-Max-Age": "600",
}
MIME_TYPES = {".parquet": "application/vnd.apache.parquet", ".wasm": "application/wasm",
              ".js": "text/javascript", ".mjs": "text/javascript"}
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Request(NamedTuple):
    """One served request, as logged by the server."""

    method: str
    path: str
    range: Optional[str]  # the raw Range header, or None
    status: int
    bytes: int  # body bytes actually written to the socket
    start: float = 0.0  # time.monotonic() when the request line and headers had been read
    end: float = 0.0  # time.monotonic() when the response had been written


def waves(requests) -> int:
    """Round trips of a logged request sequence, measured at the server: the length of the
    longest chain of requests in which each one started after the previous one had ended.

    A request that starts after another has ended belongs to a later wave (it may have waited
    on that answer); requests that overlap in time are in the same wave.  So N requests issued
    together are 1 wave, N requests one after another are N waves.  Overlap is only visible
    when a request takes longer than the spread of its wave's arrivals: give the server some
    ``latency_s`` (a few tens of ms) when counting waves on loopback.
    """
    reqs = sorted(requests, key=lambda r: (r.start, r.end))
    by_end = sorted(range(len(reqs)), key=lambda i: reqs[i].end)
    wave = [0] * len(reqs)
    best = j = 0  # best: the highest wave among requests ended by the current start
    for i, r in enumerate(reqs):
        while j < len(by_end) and reqs[by_end[j]].end <= r.start:
            best = max(best, wave[by_end[j]] or 1)
            j += 1
        wave[i] = best + 1
    return max(wave, default=0)


def parse_range(header: Optional[str], size: int) -> Optional[tuple[int, int]] | str:
    """Resolve a ``Range`` header against a file of ``size`` bytes.

    Returns ``None`` when the whole file should be sent (no header, a header this server
    ignores: another unit, several ranges, bad syntax), an inclusive ``(first, last)`` pair
    for a satisfiable single range, or the string ``"unsatisfiable"`` (answer 416).
    """
    if header is None:
        return None
    m = _RANGE_RE.match(header)
    if not m:
        return None  # RFC 9110 §14.2: a server MAY ignore a Range it does not understand
    first_s, last_s = m.groups()
    if first_s == "" and last_s == "":
        return None
    if first_s == "":  # suffix: the last N bytes
        n = int(last_s)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return (max(0, size - n), size - 1)
    first = int(first_s)
    last = size - 1 if last_s == "" else int(last_s)
    if last_s != "" and last < first:
        return None  # syntactically invalid: ignore
    if first >= size:
        return "unsatisfiable"
    return (first, min(last, size - 1))


def content_type(path: Path) -> str:
    """The MIME type a browser needs to use ``path`` (module scripts and wasm are checked)."""
    return (MIME_TYPES.get(path.suffix)
            or mimetypes.guess_type(path.name)[0] or "application/octet-stream")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    # -- plumbing -------------------------------------------------------------------------
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        self._serve(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._started = time.monotonic()
        if self.server.owner.latency_s > 0:
            time.sleep(self.server.owner.latency_s)
        if self.server.owner.cors:
            status = HTTPStatus.NO_CONTENT
            self._send_simple(status, PREFLIGHT_HEADERS)
        else:
            status = HTTPStatus.METHOD_NOT_ALLOWED
            self._send_simple(status, {"Allow": "GET, HEAD"})
        self._finish(int(status), 0)

    def end_headers(self) -> None:
        if self.server.owner.cors:
            for k, v in CORS_HEADERS.items():
                self.send_header(k, v)
        super().end_headers()

    def _resolve(self) -> Optional[Path]:
        """Map the request path to a regular file under the root, or None."""
        raw = urllib.parse.urlsplit(self.path).path
        rel = posixpath.normpath(urllib.parse.unquote(raw)).lstrip("/")
        if rel in ("", ".") or rel.startswith("..") or "\x00" in rel:
            return None
        root = self.server.owner.root
        candidate = (root / rel).resolve()
        if root != candidate and root not in candidate.parents:
            return None
        return candidate if candidate.is_file() else None

    def _finish(self, status: int, sent: int) -> None:
        self.server.owner._record(
            Request(self.command, urllib.parse.urlsplit(self.path).path,
                    self.headers.get("Range"), status, sent, self._started, time.monotonic())
        )

    def _send_simple(self, status: int, extra: Optional[dict] = None, body: bytes = b"") -> int:
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
            return len(body)
        return 0

    # -- the request --------------------------------------------------------------------
    def _serve(self, head: bool) -> None:
        self._started = time.monotonic()
        owner = self.server.owner
        owner._enter()
        status, sent = 0, 0
        try:
            if owner.latency_s > 0:
                time.sleep(owner.latency_s)
            hook = owner.hook
            if hook is not None and hook(self):
                return
            path = self._resolve()
            if path is None:
                status = HTTPStatus.NOT_FOUND
                sent = self._send_simple(status, {"Content-Type": "text/plain"}, b"not found\n")
                return
            st = path.stat()
            size = st.st_size
            etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}"'
            common = {
                "Accept-Ranges": "bytes" if owner.ranges else "none",
                "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
            }
            if owner.etag == "strong":
                common["ETag"] = etag
            elif owner.etag == "weak":
                common["ETag"] = "W/" + etag
            if owner.cache_control:
                common["Cache-Control"] = owner.cache_control
            rng = parse_range(self.headers.get("Range"), size) if owner.ranges else None
            if rng == "unsatisfiable":
                status = HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE
                sent = self._send_simple(status, {**common, "Content-Range": f"bytes */{size}"})
                return
            if rng is None:
                status, first, last = HTTPStatus.OK, 0, size - 1
            else:
                status, (first, last) = HTTPStatus.PARTIAL_CONTENT, rng
            length = last - first + 1 if size else 0
            self.send_response(status)
            for k, v in common.items():
                self.send_header(k, v)
            self.send_header("Content-Type", content_type(path))
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if head or length == 0:
                return
            with open(path, "rb") as f:
                f.seek(first)
                remaining = length
                while remaining > 0:
                    chunk = f.read(min(CHUNK, remaining))
                    if not chunk:
                        # The file shrank after its size was sent: the promised length cannot
                        # be kept, so end the connection rather than leave the client waiting.
                        self.close_connection = True
                        break
                    try:
                        self.wfile.write(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True
                        return
                    sent += len(chunk)
                    remaining -= len(chunk)
        finally:
            if status:
                self._finish(int(status), sent)
            owner._leave()


class _Server(ThreadingHTTPServer):
    # The stdlib default backlog is 5: concurrent bursts beyond it are dropped and retried
    # by the client's TCP stack after ~1 s, making parallel clients look serial.
    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, owner: "RangeServer"):
        self.owner = owner
        super().__init__(addr, _Handler)

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-response is normal (e.g. `quiver scan | head -1`).
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class RangeServer:
    """A Range-capable static file server over ``root`` on ``host:port`` (0 = any free port).

    Use as a context manager (or call :meth:`start` / :meth:`stop`).  Counters are kept at
    the server, thread-safe; :meth:`reset` clears them.
    """

    def __init__(self, root: str | os.PathLike, host: str = "127.0.0.1", port: int = 0,
                 latency_s: float = 0.0, verbose: bool = False, cors: bool = False,
                 ranges: bool = True):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(self.root)
        self.host = host
        self.latency_s = latency_s
        self.verbose = verbose
        #: Whether answers carry CORS headers (see the module docstring).
        self.cors = cors
        #: False makes it a server that ignores ``Range`` (200 and the whole body).
        self.ranges = ranges
        #: The ``ETag`` sent: ``"strong"`` (size and mtime), ``"weak"`` (the same with ``W/``)
        #: or ``None`` (no ETag, only ``Last-Modified``).
        self.etag: Optional[str] = "strong"
        #: A ``Cache-Control`` value sent with every file (``no-store`` keeps benchmarks cold).
        self.cache_control: Optional[str] = None
        #: Optional ``hook(handler) -> bool``; True means the hook answered the request.
        self.hook: Optional[Callable[[BaseHTTPRequestHandler], bool]] = None
        self._lock = threading.Lock()
        self._log: list[Request] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._httpd = _Server((host, port), self)
        self.port = self._httpd.server_address[1]
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "RangeServer":
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever,
                                            kwargs={"poll_interval": 0.1},
                                            name=f"rangeserver:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "RangeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- addressing -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str | os.PathLike) -> str:
        """URL of ``path`` (relative to the root, or an absolute path inside it)."""
        p = Path(path)
        if p.is_absolute():
            p = p.resolve().relative_to(self.root)
        return f"{self.base_url}/{urllib.parse.quote(p.as_posix())}"

    # -- accounting -------------------------------------------------------------------------
    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, req: Request) -> None:
        with self._lock:
            self._log.append(req)

    def stats(self) -> dict:
        """Counters since the last :meth:`reset`: requests, bytes_sent, by_status, max_in_flight."""
        with self._lock:
            by_status: dict[int, int] = {}
            for r in self._log:
                by_status[r.status] = by_status.get(r.status, 0) + 1
            return {
                "requests": len(self._log),
                "bytes_sent": sum(r.bytes for r in self._log),
                "by_status": by_status,
                "max_in_flight": self._max_in_flight,
            }

    def log(self) -> list[Request]:
        """A copy of the per-request log since the last :meth:`reset`."""
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self._max_in_flight = self._in_flight

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being served (a client may see its last byte before the
        server has logged the request); True when idle within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._in_flight == 0:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Range-capable static file server.")
    parser.add_argument("root", help="directory to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument("--cors", action="store_true", help="allow reads from any origin")
    args = parser.parse_args(argv)
    srv = RangeServer(args.root, host=args.host, port=args.port,
                      latency_s=args.latency_ms / 1000.0, verbose=not args.quiet, cors=args.cors)
    print(f"serving {srv.root} at {srv.base_url}/", flush=True)

    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        srv._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv._httpd.server_close()
        st = srv.stats()
        print(f"\n{st['requests']} requests, {st['bytes_sent']} bytes sent", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
