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
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterable
from urllib.parse import unquote

from sandbox_config import CONTROL_PREFIX, HOST, SCIM_PREFIX, TOKEN_PATH, SettingsHolder
from sandbox_oauth import Credentials, OAuthError, TokenEndpoint, oauth_error_response
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
            self._requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_RECORDED_REQUESTS)

    def record_token(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._token_requests += 1
            if status != 200:
                self._token_failures += 1
            self._requests.append({"method": method, "path": path, "status": status})

    def record_scim(self, method: str, path: str, query: str, status: int, injected: bool) -> None:
        with self._lock:
            self._scim_requests[method] = self._scim_requests.get(method, 0) + 1
            if injected:
                self._injected_429 += 1
            self._requests.append({"method": method, "path": path, "query": query, "status": status})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "token_requests": self._token_requests,
                "token_failures": self._token_failures,
                "scim_requests": dict(self._scim_requests),
                "injected_429": self._injected_429,
                "requests": [dict(entry) for entry in self._requests],
            }


# ---------------------------------------------------------------------------
# The WSGI application: routes token, SCIM and control requests


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class SandboxApp:
    def __init__(self, origin: str, credentials: Credentials, settings: SettingsHolder, seed: int):
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
        self.info: dict[str, Any] = {}  # filled by Sandbox once the port is known

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
            response = self.token_endpoint(request)
        except OAuthError as error:
            response = oauth_error_response(error)
        self.stats.record_token(request.method, request.path, response.status_code)
        return response

    def handle_scim(self, request: Request, path: str) -> Response:
        directory_id, _, rest = path[len(SCIM_PREFIX) :].partition("/")
        injected = False
        if directory_id != self.directory_id:
            response = scim_error(404, f"Unknown directory {directory_id!r}")
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
            ("POST", "/clear"): lambda: (self.scim.clear(), {"ok": True})[1],
        }
        if (method, sub_path) == ("POST", "/config"):
            try:
                changes = json.loads(request.get_data(as_text=True) or "{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                return json_response(self.configure(**changes))
            except ValueError as exc:
                return json_response({"error": "invalid_config", "detail": str(exc)}, 400)
        handler = routes.get((method, sub_path))
        if handler is None:
            known = sorted({p for _, p in routes} | {"/config"})
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
        path, _, query = self.path.partition("?")
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
            "wsgi.url_scheme": "http",
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
        code, _, reason = status.partition(" ")
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

    def __init__(self, port: int, app: SandboxApp):
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), SandboxRequestHandler)

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
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
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
