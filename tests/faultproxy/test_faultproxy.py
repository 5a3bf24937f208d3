# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Each fault of the proxy does what README.md says, against a tiny counting upstream server.

Run: .venv/bin/python -m pytest tests/faultproxy -q
"""

from __future__ import annotations

import random
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from faultproxy import FAULTS, FaultProxy, ProxyRequest  # noqa: E402


class Upstream(ThreadingHTTPServer):
    """Answers 200 {"n": <request number>} and counts requests and TCP connections."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), UpstreamHandler)
        self.requests: list[tuple[str, str, bytes]] = []
        self.connections = 0
        self.lock = threading.Lock()

    def process_request(self, request, client_address):
        with self.lock:
            self.connections += 1
        super().process_request(request, client_address)


class UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.requests.append((self.command, self.path, body))
            number = len(self.server.requests)
        data = b'{"n": %d}' % number
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer


@pytest.fixture
def upstream():
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream):
    with FaultProxy(f"http://127.0.0.1:{upstream.server_address[1]}", seed=3, slow_seconds=1.0) as running:
        yield running


@pytest.fixture
def http():
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


def test_passes_requests_through_on_kept_alive_connections(proxy, upstream, http):
    for number in range(5):
        answer = http.post(f"{proxy.url}/scim/Users", data=b"body-%d" % number, timeout=5)
        assert answer.status_code == 200 and answer.json() == {"n": number + 1}
    assert [request[2] for request in upstream.requests] == [b"body-%d" % n for n in range(5)]
    assert upstream.connections == 1  # keep-alive towards the server too
    assert proxy.stats() == {"requests": 5, "forwarded": 5, "faults": {}, "upstream_errors": 0}


@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "504"])
def test_refused_answers_never_reach_the_server(proxy, upstream, http, fault):
    proxy.inject(fault)
    answer = http.post(f"{proxy.url}/scim/Users", data=b"x", timeout=5)
    assert answer.status_code == int(fault)
    assert upstream.requests == []
    if fault == "429":
        assert answer.headers["Retry-After"] == "1"
    else:
        assert answer.headers["Content-Type"] == "text/html" and f"{fault} " in answer.text
    assert http.post(f"{proxy.url}/scim/Users", data=b"x", timeout=5).status_code == 200  # only once


@pytest.mark.parametrize("fault", ["500_applied", "502_applied", "504_applied"])
def test_applied_then_answered_with_an_error(proxy, upstream, http, fault):
    proxy.inject(fault, method="POST")
    answer = http.post(f"{proxy.url}/scim/Users", data=b"x", timeout=5)
    assert answer.status_code == int(fault[:3])
    assert len(upstream.requests) == 1


def test_reset_before_forwarding(proxy, upstream, http):
    proxy.inject("reset")
    with pytest.raises(requests.ConnectionError):
        http.post(f"{proxy.url}/scim/Users", data=b"x", timeout=5)
    assert upstream.requests == []
    assert proxy.forwarded() == 0


def test_drop_applies_then_hangs_up(proxy, upstream, http):
    proxy.inject("drop", body_contains=b"alice")
    assert http.post(f"{proxy.url}/scim/Users", data=b"bob", timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        http.post(f"{proxy.url}/scim/Users", data=b"alice", timeout=5)
    assert [request[2] for request in upstream.requests] == [b"bob", b"alice"]
    assert proxy.forwarded(method="POST", body_contains="alice") == 1


def test_slow_answer_outlasts_the_client_timeout(proxy, upstream, http):
    proxy.inject("slow")
    with pytest.raises(requests.ReadTimeout):
        http.get(f"{proxy.url}/scim/Users", timeout=0.3)
    assert len(upstream.requests) == 1
    assert http.get(f"{proxy.url}/scim/Users", timeout=5).status_code == 200


def test_only_the_fault_prefix_is_faulted(proxy, upstream, http):
    proxy.set_rates({"503": 1.0})
    assert http.post(f"{proxy.url}/oauth/token", data=b"x", timeout=5).status_code == 200
    assert http.get(f"{proxy.url}/scim/Users", timeout=5).status_code == 503


def test_decisions_depend_on_the_seed_and_the_request_not_on_arrival_order(upstream):
    upstream_url = f"http://127.0.0.1:{upstream.server_address[1]}"
    rates = {fault: 0.02 for fault in FAULTS}
    targets = [f"/scim/Users/{number}" for number in range(400)]

    def fates(seed, order):
        proxy = FaultProxy(upstream_url, seed=seed, rates=rates)
        return {target: proxy.decide(ProxyRequest("GET", target, {}, b"")) for target in order}

    shuffled = targets[:]
    random.Random(1).shuffle(shuffled)
    first = fates(11, targets)
    assert fates(11, shuffled) == first
    assert fates(12, targets) != first
    faulted = sum(fate is not None for fate in first.values())
    assert 0.1 * 400 <= faulted <= 0.35 * 400  # 22 % expected


def test_upstream_must_be_loopback():
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("http://192.0.2.1:80")
    with pytest.raises(ValueError, match="unknown fault"):
        FaultProxy("http://127.0.0.1:80", rates={"teapot": 0.1})
