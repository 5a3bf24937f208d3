# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A fault-injecting HTTP proxy for the tests: loopback only, threaded, keep-alive, seeded.

It sits between the modules and the sandbox and breaks requests on purpose, the way rate
limiters, gateways and flaky networks do (see README.md in this directory):

==================  ==============  =========================================================
fault               reaches server  what the client sees
==================  ==============  =========================================================
``429``             no              429 with ``Retry-After``
``500`` ``502``     no              that status with an HTML gateway page
``503`` ``504``
``500_applied``     yes             the server applied it, then a gateway answers 500 (also
                                    ``502_applied``, ``504_applied``)
``reset``           no              the connection is reset before the request is forwarded
``drop``            yes             the server applied it; the connection closes unanswered
``slow``            yes             the answer is held ``slow_seconds`` (past the client's
                                    timeout), then sent to whoever still listens
==================  ==============  =========================================================

Randomness is seeded per request, not per arrival order: whether a request is faulted
depends on the seed, its method, target and body, and how many identical requests came
before it. Worker threads may interleave differently from run to run; every request still
meets the same fate.

Python API::

    proxy = FaultProxy("http://127.0.0.1:8080", seed=7, rates={"429": 0.02, "drop": 0.01})
    proxy.start()                          # proxy.url is http://127.0.0.1:<port>
    proxy.inject("drop", method="POST", body_contains=b"alice")   # the next matching request
    proxy.stats()                          # counts per fault, forwarded requests
    proxy.stop()
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import http.client
import ipaddress
import json
import random
import signal
import socket
import struct
import sys
import threading
import time
import typing as t
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOST = "127.0.0.1"  # loopback only, by design
# Order matters: a request's random draw is compared with the cumulative rates in this order.
FAULTS = ("429", "500", "502", "503", "504", "500_applied", "502_applied", "504_applied", "reset", "drop", "slow")
REFUSED = {"429": 429, "500": 500, "502": 502, "503": 503, "504": 504}  # answered without forwarding
APPLIED = {"500_applied": 500, "502_applied": 502, "504_applied": 504}  # forwarded, answer replaced
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailers", "transfer-encoding", "upgrade"})
REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}
# An upstream keep-alive connection idle this long is replaced rather than reused, so the proxy
# never sends a request on a connection the server may be closing (that could double a write).
UPSTREAM_IDLE_LIMIT = 30.0
MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class ProxyRequest:
    """One request as the proxy received it."""

    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class Rule:
    """A scripted fault: applies to the next ``times`` requests that match."""

    fault: str
    method: str | None = None
    path_contains: str | None = None
    body_contains: bytes | None = None
    times: int = 1

    def matches(self, request: ProxyRequest) -> bool:
        return ((self.method is None or request.method == self.method)
                and (self.path_contains is None or self.path_contains in request.target)
                and (self.body_contains is None or self.body_contains in request.body))


@dataclass
class Record:
    """What happened to one request (kept for the tests to read)."""

    method: str
    target: str
    body: bytes
    fault: str | None
    forwarded: bool
    status: int | None = None  # what the client was sent; None when it got no answer
    at: float = field(default_factory=time.monotonic)  # when it arrived
    extra: dict[str, t.Any] = field(default_factory=dict)


class FaultProxy:
    """A threaded keep-alive proxy to one loopback upstream that injects faults.

    :param upstream: ``http://127.0.0.1:PORT`` of the server behind it (loopback only).
    :param seed: seeds every fault decision.
    :param rates: probability of each fault (keys of FAULTS), per request on ``fault_prefix``.
    :param fault_prefix: only requests whose path starts with this are faulted; others pass.
    :param latency: seconds added before forwarding any request (makes runs last longer).
    :param slow_seconds: how long a ``slow`` answer is held.
    :param retry_after: ``Retry-After`` seconds of an injected 429.
    """

    def __init__(self, upstream: str, *, seed: int = 0, rates: dict[str, float] | None = None,
                 fault_prefix: str = "/scim/", latency: float = 0.0, slow_seconds: float = 3.0,
                 retry_after: int = 1, port: int = 0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not _is_loopback(parts.hostname):
            raise ValueError(f"upstream must be http:// on a loopback address, not {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.seed = seed
        self.rates: dict[str, float] = {}
        self.set_rates(rates or {})
        self.fault_prefix = fault_prefix
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.port = port
        # Called with every request before its fate is decided; may return a fault name.
        self.on_request: t.Callable[[ProxyRequest], str | None] | None = None
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._seen: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self._records: list[Record] = []
        self._stopping = threading.Event()
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> str:
        """Listen on 127.0.0.1 and serve from a background thread; return the proxy URL."""
        if self._server is None:
            self._stopping.clear()
            self._server = _ProxyServer((HOST, self.port), _ProxyHandler, self)
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name="faultproxy", daemon=True)
            self._thread.start()
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes held `slow` answers
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self.stop()

    # -- configuration ----------------------------------------------------

    def set_rates(self, rates: dict[str, float]) -> None:
        unknown = sorted(set(rates) - set(FAULTS))
        if unknown:
            raise ValueError(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
        if any(not 0 <= rate <= 1 for rate in rates.values()) or sum(rates.values()) > 1:
            raise ValueError("each rate must be within 0..1 and their sum at most 1")
        self.rates = dict(rates)

    def inject(self, fault: str, *, method: str | None = None, path_contains: str | None = None,
               body_contains: bytes | str | None = None, times: int = 1) -> None:
        """Give the next ``times`` matching requests ``fault`` (on any path, before the random rates)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        if isinstance(body_contains, str):
            body_contains = body_contains.encode()
        with self._lock:
            self._rules.append(Rule(fault, method, path_contains, body_contains, times))

    def reset(self) -> None:
        """Forget scripted faults, records and the per-request counters."""
        with self._lock:
            self._rules.clear()
            self._seen.clear()
            self._records.clear()

    # -- what happened ----------------------------------------------------

    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def stats(self) -> dict[str, t.Any]:
        records = self.records()
        faults = collections.Counter(record.fault for record in records if record.fault)
        return {
            "requests": len(records),
            "forwarded": sum(record.forwarded for record in records),
            "faults": dict(sorted(faults.items())),
            "upstream_errors": sum(bool(record.extra.get("upstream_error")) for record in records),
        }

    def forwarded(self, method: str | None = None, body_contains: bytes | str | None = None) -> int:
        """How many requests (of ``method``, with ``body_contains``) reached the upstream server."""
        if isinstance(body_contains, str):
            body_contains = body_contains.encode()
        return sum(1 for record in self.records() if record.forwarded
                   and (method is None or record.method == method)
                   and (body_contains is None or body_contains in record.body))

    # -- decisions --------------------------------------------------------

    def decide(self, request: ProxyRequest) -> str | None:
        """The fault this request gets, or None to pass it through."""
        if self.on_request is not None:
            chosen = self.on_request(request)
            if chosen is not None:
                if chosen not in FAULTS:
                    raise ValueError(f"on_request returned {chosen!r}; known faults: {', '.join(FAULTS)}")
                return chosen
        with self._lock:
            for rule in self._rules:
                if rule.matches(request):
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                    return rule.fault
            if not self.rates or not request.path.startswith(self.fault_prefix):
                return None
            digest = hashlib.sha256(request.body).hexdigest()
            key = (request.method, request.target, digest)
            occurrence = self._seen[key]
            self._seen[key] += 1
        # One RNG per request, so the decision does not depend on which thread came first.
        draw = random.Random(f"{self.seed}|{request.method}|{request.target}|{digest}|{occurrence}").random()
        cumulative = 0.0
        for fault in FAULTS:
            cumulative += self.rates.get(fault, 0.0)
            if draw < cumulative:
                return fault
        return None

    def _record(self, record: Record) -> None:
        with self._lock:
            self._records.append(record)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], proxy: FaultProxy) -> None:
        self.proxy = proxy
        self._connections: set[socket.socket] = set()
        self._to_reset: set[int] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: t.Any, client_address: t.Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def mark_reset(self, request: socket.socket) -> None:
        """Close this connection with a TCP RST instead of a FIN."""
        request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._connections_lock:
            self._to_reset.add(id(request))

    def shutdown_request(self, request: t.Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
            reset = id(request) in self._to_reset
            self._to_reset.discard(id(request))
        if reset:
            self.close_request(request)  # no SHUT_WR first: with SO_LINGER 0 the close sends RST
            return
        super().shutdown_request(request)

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        # Clients that give up (timeouts) and hang up are the point of this proxy: no tracebacks.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive towards the client
    server_version = "faultproxy/1.0"
    disable_nagle_algorithm = True
    timeout = 60  # idle client connections are dropped after this
    server: _ProxyServer

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None  # keep-alive towards the server
        self._upstream_used = 0.0

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._upstream is not None:
                self._upstream.close()

    def log_message(self, format: str, *args: t.Any) -> None:  # noqa: A002 (stdlib signature)
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # -- one request ------------------------------------------------------

    def _handle(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or length > MAX_BODY:
            self.send_error(411 if length <= MAX_BODY else 413)  # the collection always sends Content-Length
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        request = ProxyRequest(self.command, self.path, dict(self.headers.items()), body)
        fault = proxy.decide(request)
        record = Record(request.method, request.target, body, fault, forwarded=False)
        # Recorded now and updated as the request goes on, so that a test sees a forwarded request at
        # once, even one whose answer the proxy still holds (`slow`).
        proxy._record(record)
        self._serve(request, fault, record)

    def _serve(self, request: ProxyRequest, fault: str | None, record: Record) -> None:
        proxy = self.server.proxy
        if fault == "reset":
            self.server.mark_reset(self.connection)
            self.close_connection = True
            return
        if fault in REFUSED:
            record.status = self._send_fault(REFUSED[fault])
            return
        if proxy.latency:
            time.sleep(proxy.latency)
        try:
            status, reason, headers, data = self._forward(request)
        except (OSError, http.client.HTTPException) as exc:
            # Not a planned fault: say so in the record, answer like a gateway would.
            record.extra["upstream_error"] = repr(exc)
            record.status = self._send_fault(502)
            return
        record.forwarded = True
        if fault == "drop":
            self.close_connection = True  # the write happened; its answer never leaves
            return
        if fault in APPLIED:
            record.status = self._send_fault(APPLIED[fault])
            return
        if fault == "slow":
            self.close_connection = True
            if proxy._stopping.wait(proxy.slow_seconds):
                return
        try:
            self._send(status, reason, headers, data)
            record.status = status
        except OSError:
            pass  # the client gave up waiting (a `slow` answer): nobody hears it

    def _forward(self, request: ProxyRequest) -> tuple[int, str, list[tuple[str, str]], bytes]:
        proxy = self.server.proxy
        now = time.monotonic()
        if self._upstream is not None and now - self._upstream_used > UPSTREAM_IDLE_LIMIT:
            self._upstream.close()
            self._upstream = None
        if self._upstream is None:
            self._upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
        headers = {name: value for name, value in request.headers.items()
                   if name.lower() not in HOP_BY_HOP and name.lower() != "host"}
        headers["Host"] = f"{proxy.upstream_host}:{proxy.upstream_port}"
        try:
            self._upstream.request(request.method, request.target, body=request.body or None, headers=headers)
            response = self._upstream.getresponse()
            data = response.read()
        except BaseException:
            self._upstream.close()
            self._upstream = None
            raise
        self._upstream_used = time.monotonic()
        if response.will_close:
            self._upstream.close()
            self._upstream = None
        return response.status, response.reason, response.getheaders(), data

    def _send(self, status: int, reason: str, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP and name.lower() not in ("content-length", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_fault(self, status: int) -> int:
        proxy = self.server.proxy
        reason = REASONS[status]
        if status == 429:
            body = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "429",
                               "detail": "Too many requests (faultproxy)"}).encode()
            headers = [("Content-Type", "application/json"), ("Retry-After", str(proxy.retry_after))]
        else:
            # What a load balancer in front of an API sends: an HTML page, not the API's JSON.
            body = (f"<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1>"
                    "</center><hr><center>faultproxy</center></body></html>").encode()
            headers = [("Content-Type", "text/html")]
        self._send(status, reason, headers, body)
        return status


# ---------------------------------------------------------------------------
# CLI


def _parse_rate(text: str) -> tuple[str, float]:
    fault, sep, rate = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected FAULT=RATE, got {text!r}")
    try:
        return fault, float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{rate!r} is not a number") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faultproxy.py", description="Fault-injecting HTTP proxy on 127.0.0.1.")
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of the server behind the proxy")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=_parse_rate, action="append", default=[], metavar="FAULT=RATE",
                        help=f"a fault and its probability; faults: {', '.join(FAULTS)}")
    parser.add_argument("--fault-prefix", default="/scim/", help="only paths starting with this are faulted")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every forwarded request")
    parser.add_argument("--slow-seconds", type=float, default=3.0)
    parser.add_argument("--retry-after", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        proxy = FaultProxy(args.upstream, seed=args.seed, rates=dict(args.rate), fault_prefix=args.fault_prefix,
                           latency=args.latency, slow_seconds=args.slow_seconds, retry_after=args.retry_after,
                           port=args.port)
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(f"faultproxy on {proxy.start()} -> {args.upstream}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        print(json.dumps(proxy.stats()), flush=True)
        proxy.stop()
    return 0


__all__ = ["FAULTS", "FaultProxy", "ProxyRequest", "Record", "main"]

if __name__ == "__main__":
    sys.exit(main())
