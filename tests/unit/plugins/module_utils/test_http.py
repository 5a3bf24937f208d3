# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTTP layer against a real scripted HTTP server on 127.0.0.1 (no mocked transport)."""

from __future__ import annotations

import collections
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, TransportError
from ansible_collections.scimkit.atlassian.plugins.module_utils._http import (
    USER_AGENT,
    BackoffGate,
    HttpClient,
    HttpSettings,
    origin_of,
)


class ScriptedServer(ThreadingHTTPServer):
    """Answers each path from a queue of (status, headers, body, delay); 200 when the queue is empty."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.script = collections.defaultdict(collections.deque)
        self.seen = []
        self.peers = set()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.peers.add(self.client_address)
        self.server.seen.append((self.command, self.path, self.headers.get("User-Agent"), time.monotonic()))
        queue = self.server.script[self.path]
        status, headers, body, delay = queue.popleft() if queue else (200, {}, b"{}", 0)
        time.sleep(delay)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer


@pytest.fixture
def server():
    srv = ScriptedServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def client(**settings):
    return HttpClient(HttpSettings(**{"max_retries": 3, "backoff_factor": 0.01, "timeout": 5, **settings}))


def script(server, path, *answers):
    for answer in answers:
        status, headers = answer[0], answer[1] if len(answer) > 1 else {}
        delay = answer[2] if len(answer) > 2 else 0
        server.script[path].append((status, headers, b'{"detail": "scripted"}', delay))


def methods(server, path):
    return [method for method, seen_path, _agent, _at in server.seen if seen_path == path]


def test_get_is_retried_on_429_honouring_retry_after(server):
    script(server, "/Users", (429, {"Retry-After": "0"}), (429, {"Retry-After": "0"}))
    response = client().request("GET", server.url + "/Users")
    assert response.status_code == 200
    assert methods(server, "/Users") == ["GET"] * 3


def test_post_is_retried_on_429_because_it_was_not_applied(server):
    script(server, "/Users", (429, {"Retry-After": "0"}))
    assert client().request("POST", server.url + "/Users", json={}).status_code == 200
    assert methods(server, "/Users") == ["POST", "POST"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_post_is_not_resent_after_an_answer_that_may_follow_a_write(server, status):
    script(server, "/Users", (status,))
    assert client().request("POST", server.url + "/Users", json={}).status_code == status
    assert methods(server, "/Users") == ["POST"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_idempotent_methods_are_retried_on_gateway_errors(server, method):
    script(server, "/Users/1", (502,), (503,), (504,))
    assert client().request(method, server.url + "/Users/1").status_code == 200
    assert methods(server, "/Users/1") == [method] * 4


def test_retries_are_bounded_and_the_last_answer_is_returned(server):
    script(server, "/Users", *[(503,)] * 10)
    assert client(max_retries=2).request("GET", server.url + "/Users").status_code == 503
    assert methods(server, "/Users") == ["GET"] * 3


def test_500_is_not_retried(server):
    script(server, "/Users", (500,))
    assert client().request("GET", server.url + "/Users").status_code == 500
    assert len(methods(server, "/Users")) == 1


def test_user_agent_names_the_collection(server):
    client().request("GET", server.url + "/x")
    assert server.seen[0][2] == USER_AGENT


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_token_endpoint_posts_are_never_resent_by_the_transport(server, status):
    """A resent POST would replay a signed assertion whose jti the server may have consumed."""
    http = client()
    http.send_once_to(server.url + "/oauth/token")
    script(server, "/oauth/token", (status, {"Retry-After": "0"}))
    script(server, "/Users/1", (status, {"Retry-After": "0"}))
    assert http.request("POST", server.url + "/oauth/token", data={}).status_code == status
    assert http.request("GET", server.url + "/Users/1").status_code == 200
    assert methods(server, "/oauth/token") == ["POST"]
    assert methods(server, "/Users/1") == ["GET", "GET"]


def test_pause_before_retry_uses_the_retry_after_of_the_answer(server):
    script(server, "/oauth/token", (503, {"Retry-After": "1"}))
    http = client(backoff_factor=0)
    http.send_once_to(server.url + "/oauth/token")
    answer = http.request("POST", server.url + "/oauth/token", data={})
    before = time.monotonic()
    http.pause_before_retry(1, answer)
    # The gate was held until 1 s after the pause began (the Retry-After), not 0 s (the backoff factor).
    assert http.gate._resume_at - before >= 1


def test_retry_after_pauses_every_request_of_the_client(server):
    """A Retry-After seen by one request holds back the others (they share one gate)."""
    http = client()
    script(server, "/slow-down", (429, {"Retry-After": "1"}))
    first = threading.Thread(target=http.request, args=("GET", server.url + "/slow-down"))
    first.start()

    def gate_was_set() -> bool:  # holding now, or already over: the first request was sent again
        return http.gate.remaining() > 0 or sum(path == "/slow-down" for _m, path, _a, _at in server.seen) > 1

    give_up = time.monotonic() + 30
    while not gate_was_set() and time.monotonic() < give_up:
        time.sleep(0.01)
    assert gate_was_set(), "the 429 never set the shared gate"
    http.request("GET", server.url + "/other")
    first.join()
    limited_at = server.seen[0][3]
    other_at = next(at for _m, path, _a, at in server.seen if path == "/other")
    assert other_at - limited_at >= 0.9


def test_gate_holds_until_its_deadline():
    gate = BackoffGate()
    gate.hold(0.2)
    deadline = time.monotonic() + 0.19
    gate.wait()
    assert time.monotonic() >= deadline
    gate.hold(0)
    gate.wait()


def test_refused_connection_was_never_sent():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransportError, match=rf"Could not reach http://127.0.0.1:{port}") as caught:
        client(max_retries=0).request("POST", f"http://127.0.0.1:{port}/oauth/token")
    assert caught.value.maybe_applied is False


def test_a_lost_answer_may_have_been_applied(server):
    script(server, "/Users", (201, {}, 2))
    with pytest.raises(TransportError, match="got no answer within 0.5 s") as caught:
        client(timeout=0.5, max_retries=0).request("POST", server.url + "/Users", json={})
    assert caught.value.maybe_applied is True


def test_origin_of():
    assert origin_of("https://auth.atlassian.com/oauth/token") == "https://auth.atlassian.com"
    assert origin_of("http://127.0.0.1:8080/oauth/token?x=1") == "http://127.0.0.1:8080"


def test_netrc_logins_are_never_sent(tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine scim.example.com\nlogin someone\npassword netrc-password-never-sent\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    session = client().session
    prepared = session.prepare_request(requests.Request("GET", "https://scim.example.com/Users",
                                                        headers={"Authorization": "Bearer tok-unit-456"}))
    assert prepared.headers["Authorization"] == "Bearer tok-unit-456"
    assert "Authorization" not in session.prepare_request(requests.Request("POST", "https://scim.example.com/token")).headers


def test_ca_path_that_cannot_serve_is_refused_before_any_request(tmp_path):
    with pytest.raises(ConfigError, match="ca_path /nonexistent/ca.pem does not exist"):
        client(ca_path="/nonexistent/ca.pem")
    not_a_certificate = tmp_path / "notes.pem"
    not_a_certificate.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ConfigError, match="holds no usable CA certificate"):
        client(ca_path=str(not_a_certificate))
    assert client(ca_path=str(not_a_certificate), validate_certs=False)  # not read when not verifying


def test_proxies_from_the_environment_still_apply(server, monkeypatch):
    # The session does not read the environment per request; the client reads it once per origin.
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert client().request("GET", "http://scim.example.invalid/Users").status_code == 200
    assert [(method, path) for method, path, _agent, _at in server.seen] == [("GET", "http://scim.example.invalid/Users")]


def test_no_proxy_is_honoured(server, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        unused = closed.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{unused}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert client().request("GET", server.url + "/Users").status_code == 200


def test_ca_bundle_from_the_environment_only_when_the_task_names_none(tmp_path, monkeypatch):
    bundle = tmp_path / "bundle.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert client()._verify == str(bundle)
    assert client(validate_certs=False)._verify is False


def test_a_missing_ca_bundle_from_the_environment_is_named(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    with pytest.raises(ConfigError, match="invalid path: /nonexistent/bundle.pem. The bundle comes from REQUESTS_CA_BUNDLE"):
        client(max_retries=0).request("GET", "https://127.0.0.1:9/Users")


# -- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
def test_no_redirect_is_followed(server, status, method):
    """A 3xx to anywhere, here a plain-http "other host" path, is an error naming status and Location."""
    target = server.url + "/elsewhere/token"
    script(server, "/oauth/token", (status, {"Location": target}))
    with pytest.raises(TransportError) as caught:
        client().request(method, server.url + "/oauth/token", data={"client_secret": "s3cr3t-unit"})
    message = str(caught.value)
    assert f"HTTP {status} redirecting to {target}" in message
    assert "set the URL to the final address" in message
    assert methods(server, "/elsewhere/token") == []
    assert methods(server, "/oauth/token") == [method]


def test_a_redirect_is_not_followed_by_the_retry_layer_either(server):
    http = client()
    assert http.session.get_adapter(server.url).max_retries.redirect == 0


# -- bounded reads --------------------------------------------------------------------------


class DripServer(ThreadingHTTPServer):
    """Answers 200 with ``size`` bytes of body, written ``piece`` bytes every ``interval`` seconds."""

    daemon_threads = True

    def __init__(self, *, size, piece=1, interval=0.0, declare_length=True, break_off=0):
        super().__init__(("127.0.0.1", 0), DripHandler)
        self.size, self.piece, self.interval = size, piece, interval
        self.declare_length = declare_length
        self.break_off = break_off  # this many answers stop half-way and close the connection
        self.answered = 0
        self.stopped = threading.Event()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class DripHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        srv = self.server
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if srv.declare_length:
            self.send_header("Content-Length", str(srv.size))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        srv.answered += 1
        stop_at = srv.size // 2 if srv.answered <= srv.break_off else srv.size
        try:
            while sent < stop_at and not srv.stopped.is_set():
                chunk = min(srv.piece, srv.size - sent)
                self.wfile.write(b" " * chunk)
                self.wfile.flush()
                sent += chunk
                if srv.interval:
                    srv.stopped.wait(srv.interval)
        except OSError:
            pass  # the client gave up, as it should
        self.close_connection = True

    do_GET = do_POST = do_DELETE = _answer


@pytest.fixture
def drip():
    started = []

    def start(**kwargs):
        srv = DripServer(**kwargs)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stopped.set()
        srv.shutdown()
        srv.server_close()


def test_timeout_bounds_the_whole_answer_not_each_read(drip):
    """A byte every 0.25 s never trips a per-read timeout of 1 s; the whole answer would take 30 s."""
    srv = drip(size=120, piece=1, interval=0.25)
    with pytest.raises(TransportError, match="got no answer within 1 s") as caught:
        client(timeout=1, max_retries=0).request("GET", srv.url + "/Users")
    assert caught.value.maybe_applied is True


@pytest.mark.parametrize("declare_length", [True, False])
def test_an_answer_past_the_size_cap_fails_cleanly(drip, declare_length):
    srv = drip(size=300_000, piece=65536, declare_length=declare_length)
    with pytest.raises(TransportError, match=r"answered with more than 0 MiB.*the rest was not read"):
        client(max_response_bytes=200_000).request("GET", srv.url + "/Users")


def test_an_answer_within_the_size_cap_is_read_whole(drip):
    srv = drip(size=200_000, piece=65536)
    response = client(max_response_bytes=200_000).request("GET", srv.url + "/Users")
    assert len(response.content) == 200_000 and response.text == " " * 200_000


def test_the_size_cap_is_generous_for_a_full_page_of_users():
    from ansible_collections.scimkit.atlassian.plugins.module_utils._http import MAX_RESPONSE_BYTES

    assert HttpSettings().max_response_bytes == MAX_RESPONSE_BYTES >= 8 * 1024 * 1024


def test_connections_are_reused_after_a_whole_answer(server):
    http = client()
    for _attempt in range(3):
        assert http.request("GET", server.url + "/Users").json() == {}
    assert len(server.peers) == 1  # one keep-alive connection for the three requests


@pytest.mark.parametrize(("method", "sent"), [("GET", 3), ("DELETE", 3), ("POST", 1)])
def test_a_body_that_breaks_off_is_retried_for_idempotent_methods_only(drip, method, sent):
    srv = drip(size=1000, piece=100, break_off=2)
    http = client()
    if method == "POST":
        with pytest.raises(TransportError, match="broke during POST /Users"):
            http.request(method, srv.url + "/Users")
    else:
        assert len(http.request(method, srv.url + "/Users").content) == 1000
    assert srv.answered == sent
