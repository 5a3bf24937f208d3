# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A local Atlassian-compatible OAuth token endpoint + SCIM 2.0 server, on 127.0.0.1 only.

Used by the demo, the integration tests and the benchmarks. See README.md
in this directory. Python API::

    from sandbox import Sandbox
    sb = Sandbox(state_dir="/tmp/x", port=0)
    sb.start()
    sb.info            # connection info (also written by the CLI to sandbox.json)
    sb.configure(fail_429_next=2)
    sb.stats()
    sb.stop()

CLI::

    python tests/sandbox/sandbox.py start --state-dir DIR   # background
    python tests/sandbox/sandbox.py stop --state-dir DIR
    python tests/sandbox/sandbox.py serve --state-dir DIR   # foreground
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The CLI runs this file as a script; make the sibling modules importable
# whichever way it was started.
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from sandbox_config import CONTROL_PREFIX, HOST, SCIM_PREFIX, SCOPE, SETTING_NAMES, TOKEN_PATH, Settings, SettingsHolder, validate_changes  # noqa: E402

if TYPE_CHECKING:
    from sandbox_server import SandboxApp, SandboxHTTPServer

INFO_FILE = "sandbox.json"
PID_FILE = "sandbox.pid"
LOG_FILE = "sandbox.log"


# ---------------------------------------------------------------------------
# Python API


class Sandbox:
    """The sandbox, served from background threads of this process.

    :param state_dir: where keys and the identity live (created 0700; reused
        on the next start, so ids and keys stay stable).
    :param port: TCP port on 127.0.0.1; 0 picks a free one.
    :param seed: seeds the 429-injection RNG.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        port: int = 0,
        page_size_cap: int = 100,
        token_lifetime: int = 3600,
        seed: int = 0,
        *,
        fail_429_rate: float = 0.0,
        retry_after: int = 1,
        hide_inactive: bool = False,
        strict_filters: bool = True,
        tls: bool = False,
        clients: dict[str, Any] | None = None,
    ):
        self.state_dir = Path(state_dir).resolve()
        # Callers' own clients, registered at start: client id -> JWKS (a dict, JSON text or a file path).
        self.clients = dict(clients or {})
        self.port = port
        self.seed = seed
        self.tls = tls  # serve HTTPS with a test CA generated in state_dir/tls (info: sandbox_ca_path)
        initial = validate_changes(
            {
                "page_size_cap": page_size_cap,
                "token_lifetime": token_lifetime,
                "fail_429_rate": fail_429_rate,
                "retry_after": retry_after,
                "hide_inactive": hide_inactive,
                "strict_filters": strict_filters,
            }
        )
        self._settings = SettingsHolder(Settings(**initial))
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._app: SandboxApp | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def app(self) -> SandboxApp:
        if self._app is None:
            raise RuntimeError("the sandbox is not started")
        return self._app

    def start(self) -> dict[str, Any]:
        """Bind, serve in a background thread, and return the connection info."""
        if self._server is not None:
            return self.info
        # Imported here: scim2-server takes about a second to import, and the
        # start/stop/status CLI commands do not need it.
        from sandbox_oauth import load_or_create_credentials
        from sandbox_server import SandboxApp, SandboxHTTPServer

        from sandbox_org import load_or_create_org_identity

        credentials = load_or_create_credentials(self.state_dir)
        org_identity = load_or_create_org_identity(self.state_dir)
        ssl_context = None
        if self.tls:
            from sandbox_tls import load_or_create_tls, server_context

            tls_files = load_or_create_tls(self.state_dir)
            ssl_context = server_context(tls_files)
        # Bind first: the origin (and so the accepted `aud`) needs the real port.
        server = SandboxHTTPServer(self.port, None, ssl_context)  # type: ignore[arg-type]
        port = server.server_port
        origin = f"{'https' if self.tls else 'http'}://{HOST}:{port}"
        app = SandboxApp(origin, credentials, self._settings, self.seed, org_identity)
        server.app = app
        identity = credentials.identity
        self.info = {
            "sandbox_base_url": f"{origin}{SCIM_PREFIX}{identity.directory_id}",
            "sandbox_directory_id": identity.directory_id,
            "sandbox_token_url": origin + TOKEN_PATH,
            "sandbox_audience": origin,
            "sandbox_scope": SCOPE,
            "sandbox_client_id": identity.client_id,
            "sandbox_key_id": identity.key_id,
            "sandbox_private_key_path": str(credentials.private_key_path),
            "sandbox_encrypted_private_key_path": str(credentials.encrypted_private_key_path),
            "sandbox_private_key_passphrase": identity.private_key_passphrase,
            "sandbox_public_key_path": str(credentials.public_key_path),
            "sandbox_api_key": identity.api_key,
            "sandbox_secret_client_id": identity.secret_client_id,
            "sandbox_client_secret": identity.client_secret,
            "sandbox_control_url": origin + CONTROL_PREFIX,
            # Organization admin API (README, "Organization admin API"): same host and port.
            "sandbox_admin_base_url": origin,
            "sandbox_org_id": org_identity.org_id,
            "sandbox_org_api_key": org_identity.org_api_key,
        }
        if self.tls:
            self.info["sandbox_ca_path"] = str(tls_files.ca_path)
        app.info = self.info
        for client_id, jwks in self.clients.items():
            app.token_endpoint.register_client(client_id, jwks)
        self._app = app
        self._server = server
        self.port = port
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="sandbox-http", daemon=True)
        self._thread.start()
        return self.info

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def stats(self) -> dict[str, Any]:
        return self.app.stats.snapshot()

    def reset_stats(self) -> None:
        self.app.stats.reset()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings at run time; see sandbox_config.Settings for the keys."""
        if self._app is None:
            new = self._settings.update(changes)
            return new
        return self._app.configure(**changes)

    def config(self) -> dict[str, Any]:
        return self._settings.current.as_dict()

    def clear_data(self) -> None:
        """Delete every user and group (and the org API's suspensions, role assignments and tokens)."""
        self.app.clear_data()

    def org_control(self, name: str, **body: Any) -> Any:
        """An org API set-up call, as POST /_sandbox/org/<name>; see README, "Organization admin API".

        e.g. org_control("api_tokens", email="a@example.com", labels=["ci"]), org_control("settle").
        """
        return self.app.org_control(name, body)

    def inject(self, **spec: Any) -> int:
        """Answer the next matching token or SCIM request(s) with a canned response; see README.

        Keys: target ("scim" or "token"), status, body or json, content_type, headers, method,
        path_contains, times (1). Returns how many injections are pending.
        """
        return self.app.inject(**spec)

    def clear_injections(self) -> None:
        self.app.clear_injections()

    def scenario(self, config: dict[str, Any] | None = None, inject: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Default settings and no pending injections, then ``config`` and ``inject`` applied (data is kept)."""
        return self.app.scenario(config, inject)

    def register_client(self, client_id: str, jwks: dict[str, Any] | str) -> list[str]:
        """Accept assertions signed with the caller's own keys (a JWKS) under ``client_id``; returns the kids."""
        return self.app.token_endpoint.register_client(client_id, jwks)

    def revoke_tokens(self) -> int:
        """Invalidate every access token issued so far (not the API key); return how many were live."""
        return self.app.token_endpoint.revoke_all()

    def issued_tokens(self) -> list[str]:
        """Every access token issued since start, so tests can prove none leaked."""
        return self.app.token_endpoint.issued_tokens()

    def received_assertions(self) -> list[str]:
        """Every client assertion (signed JWT) the token endpoint received since start."""
        return self.app.token_endpoint.received_assertions()

    def reset(self) -> None:
        """Default settings, no pending injections, no data, default org workspaces, fresh stats."""
        self.configure(**Settings().as_dict())
        self.clear_injections()
        self.clear_data()
        self.app.org_state.reset()  # default workspaces, no extra directories
        self.reset_stats()


# ---------------------------------------------------------------------------
# CLI


def _write_private_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)


def _read_pid(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _process_alive(pid: int) -> bool:
    """True for a live sandbox process (not a zombie, not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: the pid was reused
    proc = Path(f"/proc/{pid}")
    if proc.exists():  # Linux: also rule out zombies and unrelated processes
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            return False
        if state == "Z" or b"sandbox.py" not in cmdline:
            return False
    return True


def _http_get_json(url: str, timeout: float = 2.0, ca_path: str | None = None) -> Any:
    # Never through a proxy: the sandbox is on loopback. A TLS sandbox is checked against its own test CA.
    handlers: list[Any] = [urllib.request.ProxyHandler({})]
    if ca_path:
        handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca_path)))
    opener = urllib.request.build_opener(*handlers)
    with opener.open(url, timeout=timeout) as answer:
        return json.loads(answer.read())


def _running_info(state_dir: Path) -> dict[str, Any] | None:
    pid = _read_pid(state_dir)
    if pid is None or not _process_alive(pid):
        return None
    try:
        info = json.loads((state_dir / INFO_FILE).read_text())
        _http_get_json(info["sandbox_control_url"] + "/health", ca_path=info.get("sandbox_ca_path"))
    except (OSError, ValueError, KeyError, urllib.error.URLError):
        return None
    return info


def _summary(info: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"  base URL:   {info['sandbox_base_url']}",
            f"  token URL:  {info['sandbox_token_url']}",
            f"  client id:  {info['sandbox_client_id']}",
            f"  key id:     {info['sandbox_key_id']}",
            f"  key path:   {info['sandbox_private_key_path']}",
            f"  control:    {info['sandbox_control_url']}",
        ]
        + ([f"  org admin:  {info['sandbox_admin_base_url']} (org id {info['sandbox_org_id']})"] if "sandbox_org_id" in info else [])
        + ([f"  CA:         {info['sandbox_ca_path']}"] if "sandbox_ca_path" in info else [])
    )


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _client_option(value: str) -> tuple[str, str]:
    """``--client CLIENT_ID=JWKS``: JWKS is a file path or the JSON document itself."""
    client_id, sep, jwks = value.partition("=")
    if not sep or not client_id or not jwks:
        raise SystemExit(f"--client {value!r}: give CLIENT_ID=JWKS_FILE or CLIENT_ID='{{\"keys\": [...]}}'")
    if not jwks.lstrip().startswith("{"):
        jwks = str(Path(jwks).expanduser().resolve())  # `start` runs `serve` from another directory
    return client_id, jwks


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    state_dir = Path(args.state_dir).resolve()
    if _running_info(state_dir) is not None:
        print(f"a sandbox is already running for {state_dir}; stop it first", file=sys.stderr)
        return 1
    sandbox = Sandbox(
        state_dir,
        port=args.port,
        page_size_cap=args.page_size_cap,
        token_lifetime=args.token_lifetime,
        seed=args.seed,
        fail_429_rate=args.fail_429_rate,
        hide_inactive=args.hide_inactive,
        tls=args.tls,
        clients=dict(_client_option(value) for value in args.client or []),
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    info = sandbox.start()
    pid_path, info_path = state_dir / PID_FILE, state_dir / INFO_FILE
    pid_path.write_text(f"{os.getpid()}\n")
    _write_private_json(info_path, info)  # holds secrets: 0600
    print(json.dumps(info, indent=2), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        if _read_pid(state_dir) == os.getpid():
            _remove(info_path)
            _remove(pid_path)
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    running = _running_info(state_dir)
    if running is not None:
        print(f"sandbox already running (pid {_read_pid(state_dir)}):\n{_summary(running)}")
        return 0
    _remove(state_dir / INFO_FILE)
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "serve",
        "--state-dir",
        str(state_dir),
        "--port",
        str(args.port),
        "--page-size-cap",
        str(args.page_size_cap),
        "--token-lifetime",
        str(args.token_lifetime),
        "--fail-429-rate",
        str(args.fail_429_rate),
        "--seed",
        str(args.seed),
    ]
    if args.hide_inactive:
        command.append("--hide-inactive")
    if args.tls:
        command.append("--tls")
    for value in args.client or []:
        client_id, jwks = _client_option(value)
        command += ["--client", f"{client_id}={jwks}"]
    if args.verbose:
        command.append("--verbose")
    log_path = state_dir / LOG_FILE
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # the log holds the info JSON
    with os.fdopen(log_fd, "ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 (fixed argv)
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the caller's terminal/session
            close_fds=True,
        )
    (state_dir / PID_FILE).write_text(f"{process.pid}\n")

    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            print(f"sandbox failed to start (exit {process.returncode}); log {log_path}:\n{tail}", file=sys.stderr)
            return 1
        info = _running_info(state_dir)
        if info is not None:
            print(f"sandbox running (pid {process.pid}), connection info in {state_dir / INFO_FILE}:\n{_summary(info)}")
            return 0
        time.sleep(0.05)
    process.terminate()
    print(f"sandbox did not answer within {args.timeout} s; log {log_path}", file=sys.stderr)
    return 1


def cmd_stop(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    pid = _read_pid(state_dir)
    if pid is None or not _process_alive(pid):
        _remove(state_dir / PID_FILE)
        _remove(state_dir / INFO_FILE)
        print("sandbox not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while _process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _process_alive(pid):
        os.kill(pid, signal.SIGKILL)
    _remove(state_dir / PID_FILE)
    _remove(state_dir / INFO_FILE)
    print(f"sandbox stopped (pid {pid})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    info = _running_info(Path(args.state_dir).resolve())
    if info is None:
        print("sandbox not running")
        return 1
    print(f"sandbox running:\n{_summary(info)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sandbox.py", description="Atlassian-compatible OAuth + SCIM sandbox on 127.0.0.1.")
    commands = parser.add_subparsers(dest="command", required=True)

    def add_state_dir(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--state-dir", required=True, help="keys, identity, sandbox.json, pid and log live here")

    def add_server_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: pick a free one)")
        sub.add_argument("--page-size-cap", type=int, default=100, help="largest page a SCIM list returns")
        sub.add_argument("--token-lifetime", type=int, default=3600, help="expires_in of access tokens, seconds")
        sub.add_argument("--fail-429-rate", type=float, default=0.0, help="fraction of SCIM requests answered 429")
        sub.add_argument("--hide-inactive", action="store_true", help="leave users with active=false out of /Users lists")
        sub.add_argument("--seed", type=int, default=0, help="seed of the 429 injection RNG")
        sub.add_argument("--tls", action="store_true", help="serve HTTPS with a test CA generated in STATE_DIR/tls")
        sub.add_argument("--client", action="append", metavar="CLIENT_ID=JWKS",
                         help="also accept assertions signed with your own key: its JWKS (a file, or the JSON itself) "
                              "registered under a client id of your choice; repeatable")
        sub.add_argument("--verbose", action="store_true", help="log every request (to stderr; `start` sends it to STATE_DIR/sandbox.log)")

    serve = commands.add_parser("serve", help="serve in the foreground; writes STATE_DIR/sandbox.json")
    add_state_dir(serve)
    add_server_options(serve)
    serve.set_defaults(func=cmd_serve)

    start = commands.add_parser("start", help="start `serve` in the background and wait until it answers")
    add_state_dir(start)
    add_server_options(start)
    start.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the sandbox to answer")
    start.set_defaults(func=cmd_start)

    stop = commands.add_parser("stop", help="stop a sandbox started with `start` (idempotent)")
    add_state_dir(stop)
    stop.set_defaults(func=cmd_stop)

    status = commands.add_parser("status", help="exit 0 and print a summary when the sandbox answers")
    add_state_dir(status)
    status.set_defaults(func=cmd_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


__all__ = ["Sandbox", "SETTING_NAMES", "main"]

if __name__ == "__main__":
    sys.exit(main())
