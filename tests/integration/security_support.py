# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared by the reliability and security tests (test_faults, test_tls, test_secrets, test_bad_input_matrix).

- ``sandbox``: conftest's fixture, put back to its defaults afterwards, because these tests
  change settings that conftest does not reset (clock offset, token lifetime, injections).
- ``proxy``: the fault proxy (tests/faultproxy) in front of the sandbox, seeded.
- ``run_for_result``: run a playbook that writes its registered result(s) to ``result_file``.
- ``CaseRunner``: one playbook run for many cases (targets/bad_input_matrix), for module-scoped
  fixtures, which cannot use conftest's function-scoped ``playbook``.
- ``secrets_of``: every secret string a run must never print.
- ``HostileServer``: a server on 127.0.0.1 that misbehaves on purpose (echoes requests into
  ``error_description``, redirects, loses answers, drips, sends too much), for test_hostile_servers.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGETS = Path(__file__).resolve().parent / "targets"
sys.path.insert(0, str(ROOT / "tests" / "faultproxy"))

from faultproxy import FaultProxy  # noqa: E402  (path set just above)

PROXY_SEED = 20260601
# Failure messages that name a cause a person can act on (HTTP status, transport, TLS).
TRANSPORT_OR_HTTP = (r"HTTP \d{3}|Could not reach|The connection to .* broke|got no answer within|Timed out connecting"
                     r"|TLS verification failed")


@pytest.fixture
def sandbox(sandbox):
    """conftest's sandbox; afterwards back to default settings, no injections, no data."""
    yield sandbox
    sandbox.reset()


@pytest.fixture
def proxy(sandbox):
    """A fault proxy in front of the sandbox: no faults until a test sets rates or injects one."""
    with FaultProxy(sandbox.info["sandbox_audience"], seed=PROXY_SEED, slow_seconds=3.0) as running:
        yield running


def proxied(proxy: FaultProxy, sandbox) -> str:
    """The sandbox's SCIM base URL, reached through the proxy."""
    return proxy.url + urlsplit(sandbox.info["sandbox_base_url"]).path


@pytest.fixture
def run_for_result(playbook, tmp_path):
    """Run a playbook that writes its registered result(s) to ``result_file``; return them, parsed."""
    numbers = itertools.count()

    def run(path: str, *args: str, expect_rc: int | None = 0, **extra):
        result_file = tmp_path / f"result-{next(numbers)}.json"
        playbook(path, *args, extra={**extra, "result_file": str(result_file)}, expect_rc=expect_rc)
        return json.loads(result_file.read_text())

    return run


def ansible_env(collections_path: str, **extra: str) -> dict[str, str]:
    """The environment conftest's playbook fixture gives ansible-playbook, plus ``extra``."""
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": collections_path,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        **extra,
    }
    env.pop("ATLASSIAN_CLIENT_ID", None)
    return env


class CaseRunner:
    """Runs targets/bad_input_matrix/cases.yml once for a list of cases; keeps each case's outcome.

    A case is ``{"name", "module", "args", "scenario": {"config", "inject"}, "no_log": bool,
    "previous_token": bool}`` (see case.yml); its
    outcome is the registered result of the module task (failed, from rescue, or not).
    """

    def __init__(self, sandbox, collections_path: str, work_dir: Path) -> None:
        self.sandbox = sandbox
        self.collections_path = collections_path
        self.work_dir = work_dir

    def run(self, cases: list[dict], *args: str, env: dict[str, str] | None = None) -> tuple[dict, str]:
        names = [case["name"] for case in cases]
        assert len(names) == len(set(names)), "case names must be unique"
        # A scenario lasts until the next one: cases that need the sandbox's defaults go first.
        cases = sorted(cases, key=lambda case: "scenario" in case)
        vars_file = self.work_dir / "vars.json"
        result_file = self.work_dir / "outcomes.json"
        vars_file.write_text(json.dumps({**self.sandbox.info, "cases": cases, "result_file": str(result_file)}))
        command = ["ansible-playbook", str(TARGETS / "bad_input_matrix" / "cases.yml"), "-e", f"@{vars_file}", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False,
                              env=ansible_env(self.collections_path, **(env or {})))
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"ansible-playbook exited {done.returncode}:\n{output[-6000:]}"
        return json.loads(result_file.read_text()), output


def pem_secret_lines(path: str | Path) -> list[str]:
    """Whole base64 lines from inside a PEM private key: any of them in output means key material leaked."""
    body = [line for line in Path(path).read_text().splitlines() if line and not line.startswith("-----")]
    return [line for line in body[1:-1] if len(line) >= 40]


def secrets_of(sandbox, *extra_pems: str | Path) -> dict[str, str]:
    """Every secret of the sandbox a run may have touched, by a name that says what leaked.

    Issued access tokens and the client assertions the token endpoint received are included:
    read them after the run.
    """
    info = sandbox.info
    found = {
        "private_key_passphrase": info["sandbox_private_key_passphrase"],
        "api_key": info["sandbox_api_key"],
        "client_secret": info["sandbox_client_secret"],
    }
    for pem in (info["sandbox_private_key_path"], info["sandbox_encrypted_private_key_path"], *extra_pems):
        for number, line in enumerate(pem_secret_lines(pem)):
            found[f"key material of {Path(pem).name} (line {number})"] = line
    for number, token in enumerate(sandbox.issued_tokens()):
        found[f"issued access token {number}"] = token
    for number, assertion in enumerate(sandbox.received_assertions()):
        found[f"client assertion {number}"] = assertion
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """The names of the secrets found in ``text``."""
    return [name for name, value in secrets.items() if value and value in text]


class HostileServer(ThreadingHTTPServer):
    """A token endpoint and SCIM server on 127.0.0.1 that misbehaves in the ways a review found.

    Paths (POST for tokens, GET for SCIM):

    - ``/echo/token``: 401 ``invalid_client`` whose ``error_description`` is the whole request body.
    - ``/redirect/token``, ``/redirect/scim/Users``: 307 to ``/elsewhere/...`` on this server,
      which records anything that reaches it.
    - ``/lose-once/token``: consumes the assertion's ``jti`` and drops the first answer; a request
      with a consumed ``jti`` gets 401 ``invalid_client: jti replayed``, any other a token.
    - ``/drip/scim/Users``: a 200 whose body comes one byte every 0.2 s (200 bytes in all).
    - ``/huge/scim/Users``: a 200 with a body of ``huge_bytes``.

    ``received`` keeps every request as (method, path, body text); nothing is sent anywhere else.
    """

    daemon_threads = True

    def __init__(self, huge_bytes: int = 20 * 1024 * 1024) -> None:
        super().__init__(("127.0.0.1", 0), _HostileHandler)
        self.huge_bytes = huge_bytes
        self.received: list[tuple[str, str, str]] = []
        self.consumed_jti: set[str] = set()
        self.lost: set[str] = set()
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()

    def paths(self, prefix: str) -> list[str]:
        return [path for _method, path, _body in self.received if path.startswith(prefix)]

    def assertions(self) -> list[str]:
        """Every client assertion received, in order."""
        found = []
        for _method, _path, body in self.received:
            fields = _fields(body)
            if fields.get("client_assertion"):
                found.append(fields["client_assertion"])
        return found


def _fields(body: str) -> dict:
    try:
        value = json.loads(body)
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {key: values[0] for key, values in parse_qs(body).items()}


def _jti(assertion: str) -> str:
    import base64

    claims = assertion.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["jti"]


class _HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        srv: HostileServer = self.server  # type: ignore[assignment]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        path = urlsplit(self.path).path
        srv.received.append((self.command, path, body))
        if path == "/echo/token":
            self._json(401, {"error": "invalid_client", "error_description": f"could not authenticate request {body}"})
        elif path.startswith("/redirect/"):
            self._json(307, {}, Location=srv.url + "/elsewhere/" + path.split("/redirect/", 1)[1])
        elif path == "/lose-once/token":
            assertion = _fields(body).get("client_assertion", "")
            jti = _jti(assertion) if assertion else ""
            if jti and jti in srv.consumed_jti:
                self._json(401, {"error": "invalid_client", "error_description": "jti replayed"})
                return
            srv.consumed_jti.add(jti)
            if not srv.lost:
                srv.lost.add(jti)
                self.close_connection = True
                self.connection.shutdown(2)  # the server acted; its answer is lost
                return
            self._json(200, {"access_token": "hostile-at-" + jti, "token_type": "Bearer", "expires_in": 3600})
        elif path == "/drip/scim/Users":
            self._drip(200)
        elif path == "/huge/scim/Users":
            self._huge()
        else:
            self._json(404, {"detail": "not here"})

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

    def _json(self, status: int, payload: dict, **headers: str) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drip(self, size: int) -> None:
        srv: HostileServer = self.server  # type: ignore[assignment]
        self.send_response(200)
        self.send_header("Content-Type", "application/scim+json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        try:
            for _byte in range(size):
                if srv.stopping.wait(0.2):
                    return
                self.wfile.write(b" ")
                self.wfile.flush()
        except OSError:
            pass  # the client gave up, as it should
        self.close_connection = True

    def _huge(self) -> None:
        srv: HostileServer = self.server  # type: ignore[assignment]
        self.send_response(200)
        self.send_header("Content-Type", "application/scim+json")
        self.send_header("Connection", "close")
        self.end_headers()
        piece = b" " * 65536
        try:
            for _piece in range(srv.huge_bytes // len(piece) + 1):
                self.wfile.write(piece)
        except OSError:
            pass
        self.close_connection = True


__all__ = ["CaseRunner", "HostileServer", "FaultProxy", "PROXY_SEED", "TRANSPORT_OR_HTTP", "ansible_env", "leaks", "pem_secret_lines",
           "proxied", "proxy", "run_for_result", "sandbox", "secrets_of"]
