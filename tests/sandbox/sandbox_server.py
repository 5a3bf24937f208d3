# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP side of the sandbox: request routing, statistics, and a keep-alive HTTP/1.1 server.

Imported lazily by sandbox.py (scim2-server takes about a second to import),
so the `start`/`stop`/`status` CLI commands stay fast.
"""

from __future__ import annotations

import collections
import io
import json
import logging
import random
import socket
import ssl
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable
from urllib.parse import unquote

from sandbox_config import CONTROL_PREFIX, HOST, SCIM_PREFIX, TOKEN_PATH, Settings, SettingsHolder, validate_changes
from sandbox_oauth import Credentials, OAuthError, TokenEndpoint, oauth_error_response
from sandbox_org import ADMIN_PREFIX, MANAGE_PREFIX, OrgApi, OrgControl, OrgIdentity, OrgState
from sandbox_scim import ScimFront, scim_error
from werkzeug.wrappers import Request, Response

SCIM_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
MAX_RECORDED_REQUESTS = 100_000  # bounds memory on long benchmark runs
MAX_BODY = 10 * 1024 * 1024

log = logging.getLogger("sandbox")

# ---------------------------------------------------------------------------
# Statistics


class Stats:
    """Counters the tests and benchmarks read to prove what was (not) sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._token_requests = 0
            self._token_failures = 0
            self._scim_requests = dict.fromkeys(SCIM_METHODS, 0)
            self._injected_429 = 0
            self._injected_answers = 0
            self._org_requests = dict.fromkeys(SCIM_METHODS, 0)
            self._org_operations: dict[str, int] = {}
            self._org_writes = 0
            self._org_injected_429 = 0
            self._requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_RECORDED_REQUESTS)

    def record_token(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._token_requests += 1
            if status != 200:
                self._token_failures += 1
            self._requests.append({"method": method, "path": path, "status": status})

    def record_injected_answer(self) -> None:
        with self._lock:
            self._injected_answers += 1

    def record_scim(self, method: str, path: str, query: str, status: int, injected: bool) -> None:
        with self._lock:
            self._scim_requests[method] = self._scim_requests.get(method, 0) + 1
            if injected:
                self._injected_429 += 1
            self._requests.append({"method": method, "path": path, "query": query, "status": status})

    def record_org(self, method: str, path: str, query: str, operation: str, status: int, write: bool, injected: bool) -> None:
        with self._lock:
            self._org_requests[method] = self._org_requests.get(method, 0) + 1
            self._org_operations[operation] = self._org_operations.get(operation, 0) + 1
            if write:  # attempted writes, whatever the answer: "0 writes" means none was even tried
                self._org_writes += 1
            if injected:
                self._org_injected_429 += 1
            self._requests.append({"method": method, "path": path, "query": query, "status": status, "operation": operation})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "token_requests": self._token_requests,
                "token_failures": self._token_failures,
                "scim_requests": dict(self._scim_requests),
                "injected_429": self._injected_429,
                "injected_answers": self._injected_answers,
                "org_requests": dict(self._org_requests),
                "org_operations": dict(self._org_operations),
                "org_writes": self._org_writes,
                "org_injected_429": self._org_injected_429,
                "requests": [dict(entry) for entry in self._requests],
            }


# ---------------------------------------------------------------------------
# The WSGI application: routes token, SCIM and control requests


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


@dataclass
class Injection:
    """A canned answer for the next ``times`` matching token or SCIM requests (see README, "Injected answers")."""

    target: str  # "scim", "token" or "org"
    status: int
    body: str
    content_type: str
    headers: dict[str, str]
    method: str | None
    path_contains: str | None
    times: int

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Injection:
        known = {"target", "status", "body", "json", "content_type", "headers", "method", "path_contains", "times"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown injection key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        target = spec.get("target", "scim")
        if target not in ("scim", "token", "org"):
            raise ValueError("target must be 'scim', 'token' or 'org'")
        status = spec.get("status")
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status code")
        if "body" in spec and "json" in spec:
            raise ValueError("give body or json, not both")
        if "json" in spec:
            body = json.dumps(spec["json"])
            default_type = "application/scim+json" if target == "scim" else "application/json"
        else:
            body = str(spec.get("body", ""))
            default_type = "text/plain"
        times = spec.get("times", 1)
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError("times must be a positive integer")
        headers = spec.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError("headers must be an object")
        method = spec.get("method")
        return cls(target, status, body, str(spec.get("content_type") or default_type),
                   {str(k): str(v) for k, v in headers.items()}, method.upper() if method else None,
                   spec.get("path_contains"), times)

    def matches(self, target: str, request: Request) -> bool:
        return (self.target == target and (self.method is None or request.method == self.method)
                and (self.path_contains is None or self.path_contains in request.full_path))

    def response(self) -> Response:
        return Response(self.body, status=self.status, content_type=self.content_type, headers=self.headers)


class SandboxApp:
    def __init__(self, origin: str, credentials: Credentials, settings: SettingsHolder, seed: int, org_identity: OrgIdentity):
        self.origin = origin
        self.directory_id = credentials.identity.directory_id
        self.settings = settings
        self.stats = Stats()
        self.rng = random.Random(seed)  # seeded: a 429 rate gives the same sequence every run
        self.token_endpoint = TokenEndpoint(credentials, origin, origin + TOKEN_PATH, settings)
        self.scim = ScimFront(
            base_url=f"{origin}{SCIM_PREFIX}{self.directory_id}",
            settings=settings,
            token_is_valid=self.token_endpoint.token_is_valid,
            api_key=credentials.identity.api_key,
        )
        # The organization admin API serves the SCIM store's users and groups (sandbox_org.py).
        self.org_state = OrgState(org_identity, self.directory_id, self.scim.storage, settings)
        self.org = OrgApi(self.org_state, origin, settings)
        self.org_control = OrgControl(self.org_state)
        self.info: dict[str, Any] = {}  # filled by Sandbox once the port is known
        self._injections: list[Injection] = []
        self._injections_lock = threading.Lock()

    def inject(self, **spec: Any) -> int:
        """Queue a canned answer (see Injection); return how many are pending."""
        injection = Injection.from_spec(spec)
        with self._injections_lock:
            self._injections.append(injection)
            return len(self._injections)

    def clear_injections(self) -> None:
        with self._injections_lock:
            self._injections.clear()

    def scenario(self, config: dict[str, Any] | None = None, inject: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Start a test case from a known state in one call: default settings and no pending
        injections, then ``config`` and ``inject`` applied. Everything is checked before anything changes."""
        changes = {**Settings().as_dict(), **(config or {})}
        validate_changes(changes)
        if not isinstance(inject or [], list):
            raise ValueError("inject must be a list of injections")
        injections = [Injection.from_spec(spec) for spec in inject or []]
        new = self.configure(**changes)
        with self._injections_lock:
            self._injections[:] = injections
        return {"settings": new, "pending": len(injections)}

    def take_injection(self, target: str, request: Request) -> Response | None:
        """The canned answer for this request, if one is queued for it (consumed in queue order)."""
        with self._injections_lock:
            for injection in self._injections:
                if injection.matches(target, request):
                    injection.times -= 1
                    if injection.times == 0:
                        self._injections.remove(injection)
                    break
            else:
                return None
        self.stats.record_injected_answer()
        return injection.response()

    def configure(self, **changes: Any) -> dict[str, Any]:
        new = self.settings.update(changes)
        if "page_size_cap" in changes:
            self.scim.set_page_size_cap(new["page_size_cap"])
        return new

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path
        try:
            if path == TOKEN_PATH:
                response = self.handle_token(request)
            elif path.startswith(SCIM_PREFIX):
                response = self.handle_scim(request, path)
            elif path.startswith((ADMIN_PREFIX, MANAGE_PREFIX)):
                response = self.handle_org(request)
            elif path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
                response = self.handle_control(request, path[len(CONTROL_PREFIX) :])
            else:
                response = json_response({"error": "not_found", "detail": f"nothing at {path}"}, 404)
        except Exception:  # a sandbox bug must still produce an HTTP answer
            log.exception("unhandled error on %s %s", request.method, path)
            response = json_response({"error": "server_error", "detail": "sandbox internal error"}, 500)
        return response(environ, start_response)

    def handle_token(self, request: Request) -> Response:
        try:
            response = self.take_injection("token", request) or self.token_endpoint(request)
        except OAuthError as error:
            response = oauth_error_response(error)
        self.stats.record_token(request.method, request.path, response.status_code)
        return response

    def handle_scim(self, request: Request, path: str) -> Response:
        directory_id, _slash, rest = path[len(SCIM_PREFIX) :].partition("/")
        injected = False
        canned = None
        if directory_id != self.directory_id:
            response = scim_error(404, f"Unknown directory {directory_id!r}")
        elif (canned := self.take_injection("scim", request)) is not None:
            response = canned  # answered before anything else runs: the request is not applied
        elif self.should_inject_429():
            # Answered before anything else runs, so the request is not applied.
            injected = True
            retry_after = str(self.settings.retry_after)
            response = scim_error(429, "Too many requests (injected by the sandbox)", headers={"Retry-After": retry_after})
        else:
            response = self.scim(request, "/" + rest)
        query = request.query_string.decode("latin-1")
        self.stats.record_scim(request.method, path, query, response.status_code, injected)
        return response

    def handle_org(self, request: Request) -> Response:
        route, params = self.org.route(request)
        canned = self.take_injection("org", request)
        response = canned if canned is not None else self.org(request, route, params)
        injected = canned is None and response.status_code == 429
        query = request.query_string.decode("latin-1")
        self.stats.record_org(request.method, request.path, query, route.operation, response.status_code, route.write, injected)
        return response

    def clear_data(self) -> None:
        """Delete every SCIM user and group, and what the org API kept about them."""
        self.scim.clear()
        self.org_state.clear_data()

    def should_inject_429(self) -> bool:
        with self.settings.lock:
            current = self.settings.current
            if current.fail_429_next > 0:
                current.fail_429_next -= 1
                return True
            return current.fail_429_rate > 0 and self.rng.random() < current.fail_429_rate

    def handle_control(self, request: Request, sub_path: str) -> Response:
        method = request.method
        routes = {
            ("GET", "/health"): lambda: {"status": "ok"},
            ("GET", "/info"): lambda: self.info,
            ("GET", "/stats"): self.stats.snapshot,
            ("POST", "/reset_stats"): lambda: (self.stats.reset(), {"ok": True})[1],
            ("GET", "/config"): self.settings.current.as_dict,
            ("POST", "/clear"): lambda: (self.clear_data(), {"ok": True})[1],
            ("POST", "/clear_injections"): lambda: (self.clear_injections(), {"ok": True})[1],
            ("POST", "/revoke_tokens"): lambda: {"revoked": self.token_endpoint.revoke_all()},
            ("GET", "/issued"): lambda: {"access_tokens": self.token_endpoint.issued_tokens(),
                                         "assertions": self.token_endpoint.received_assertions()},
        }
        if sub_path.startswith("/org/") and method in ("GET", "POST"):
            try:
                body = json.loads(request.get_data(as_text=True) or "{}") if method == "POST" else dict(request.args)
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                return json_response(self.org_control(sub_path[len("/org/"):], body))
            except KeyError as exc:
                return json_response({"error": "not_found", "detail": str(exc.args[0])}, 404)
            except (ValueError, TypeError) as exc:
                return json_response({"error": "invalid_org_control", "detail": str(exc)}, 400)
        if (method, sub_path) in (("POST", "/config"), ("POST", "/inject"), ("POST", "/scenario")):
            try:
                changes = json.loads(request.get_data(as_text=True) or "{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                if sub_path == "/inject":
                    return json_response({"ok": True, "pending": self.inject(**changes)})
                if sub_path == "/scenario":
                    unknown = sorted(set(changes) - {"config", "inject"})
                    if unknown:
                        raise ValueError(f"unknown scenario key(s): {', '.join(unknown)}; known: config, inject")
                    return json_response(self.scenario(**changes))
                return json_response(self.configure(**changes))
            except (ValueError, TypeError) as exc:
                error = {"/inject": "invalid_injection", "/scenario": "invalid_scenario"}.get(sub_path, "invalid_config")
                return json_response({"error": error, "detail": str(exc)}, 400)
        handler = routes.get((method, sub_path))
        if handler is None:
            known = sorted({route[1] for route in routes} | {"/config", "/inject", "/scenario"})
            return json_response({"error": "not_found", "detail": f"control endpoints: {', '.join(known)}"}, 404)
        return json_response(handler())


# ---------------------------------------------------------------------------
# HTTP/1.1 server with keep-alive
#
# Werkzeug's and wsgiref's development servers close the connection after
# every response; clients here reuse connections (and benchmarks measure
# that), so this small gateway keeps them open. It reads each request body
# completely (Content-Length or chunked) before calling the app, which keeps
# the connection in sync for the next request.


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AtlassianScimSandbox/1.0"
    disable_nagle_algorithm = True  # header and body go out in separate writes; avoid 40 ms delayed-ACK stalls
    timeout = 120  # idle keep-alive connections are dropped after this many seconds
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()  # sets the socket timeout, which then bounds the handshake too
        if isinstance(self.request, ssl.SSLSocket):
            # Handshake here, in the connection's own thread, not in the accept loop.
            self.request.do_handshake()

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            size = 0
            while True:
                line = self.rfile.readline(65537)
                length = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                size += length
                if size > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(length))
                self.rfile.readline(3)  # CRLF after the chunk
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _mark, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": HOST,
            "SERVER_PORT": str(self.server.server_port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if self.server.ssl_context else "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                continue
            key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400, "malformed request body")
            return
        if body is None:
            self.send_error(413, "request body too large")
            return
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda data: None  # the legacy write() callable; unused by this app

        result = self.server.app(self._environ(body), start_response)
        try:
            data = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = started
        code, _space, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        # Per-request lines at DEBUG (serve --verbose): benchmarks send many requests.
        log.debug("%s - %s", self.address_string(), format % args)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, app: SandboxApp, ssl_context: ssl.SSLContext | None = None):
        self.app = app
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), SandboxRequestHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.ssl_context is not None:
            # The handshake waits for the handler thread (SandboxRequestHandler.setup).
            connection = self.ssl_context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-request is normal (and stop() cuts connections):
        # no traceback for that; anything else is logged with one.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return  # includes clients refusing the test CA's certificate, which TLS tests do on purpose
        log.exception("error while serving %s", client_address)

    def close_connections(self) -> None:
        """Cut open keep-alive connections, so a stopped sandbox answers nothing."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
