# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""The one HTTP layer: a keep-alive requests.Session with TLS settings, timeouts and retries.

Retries are urllib3's ``Retry`` (bounded, exponential backoff, honours ``Retry-After``), with
two additions: a 429 is retried for every method, because the server did not act on the
request; and every pause is published through a shared :class:`BackoffGate`, so that when
one worker of a bulk run is told to slow down, all of them do.

What a server can make this client do is bounded: no redirect is ever followed (a 3xx is an
error naming its ``Location``), no answer is read past :data:`MAX_RESPONSE_BYTES`, and
``timeout`` bounds the whole request, the complete answer included, not each socket read.
"""

from __future__ import annotations

import os
import random
import ssl
import threading
import time
import traceback
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import (
    ConfigError,
    DependencyError,
    ScimKitError,
    TransportError,
    summarize_body,
)

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import RequestHistory, Retry
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: str | None = traceback.format_exc()
    # Placeholders so that the subclasses below can be defined; they are never used.
    HTTPAdapter = Retry = object  # type: ignore[misc,assignment]
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

COLLECTION_VERSION = "0.1.0"
USER_AGENT = f"scimkit.atlassian/{COLLECTION_VERSION}"

# Statuses worth another try (design.md): rate limited, or a gateway that could not reach the service.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# PATCH is retried too: the operations this collection sends (replace, add of a member that may
# already be there, remove by value) leave the same state when applied twice. POST is not.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
# Methods that change something on the server (when the answer says so).
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A Retry-After longer than this is not waited for in full; the next answer says again.
MAX_RETRY_AFTER = 120.0
# The largest answer read, after decompression. A page of 100 users with every attribute is
# well under 1 MiB; anything near this cap is a broken or hostile server, not a directory.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# An answer is read in pieces this size at most, so the request's deadline is checked often.
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HttpSettings:
    """Connection options shared by every request of one task."""

    validate_certs: bool = True
    ca_path: str | None = None
    timeout: float = 30.0
    max_retries: int = 5
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    pool_size: int = 10
    max_response_bytes: int = MAX_RESPONSE_BYTES


class BackoffGate:
    """A pause shared by all threads of one task.

    A rate limit is a property of the server, not of one connection: when any request is
    told to wait, every request that starts later waits for the same moment.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resume_at = 0.0

    def hold(self, seconds: float) -> None:
        """Keep every request from starting for ``seconds`` from now."""
        if seconds <= 0:
            return
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left of the pause in force (0 when none is)."""
        with self._lock:
            return max(0.0, self._resume_at - time.monotonic())

    def wait(self) -> None:
        """Block until no pause is in force."""
        while True:
            with self._lock:
                delay = self._resume_at - time.monotonic()
            if delay <= 0:
                return
            time.sleep(delay)


class _GatedRetry(Retry):  # type: ignore[misc,valid-type]
    """urllib3 Retry that shares its pauses through a BackoffGate and retries 429 for any method."""

    gate: BackoffGate | None = None

    def new(self, **kwargs: t.Any) -> _GatedRetry:
        retry = super().new(**kwargs)
        retry.gate = self.gate
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429 and self.total:
            # RFC 6585: the request was refused before it was processed, so even a POST is safe to resend.
            return True
        return super().is_retry(method, status_code, has_retry_after)

    def get_retry_after(self, response: t.Any) -> float | None:
        try:
            seconds = super().get_retry_after(response)  # Retry-After: delta-seconds or an HTTP date
        except Exception:  # an unparsable Retry-After falls back to the exponential backoff
            seconds = None
        if seconds is None and getattr(response, "status", None) == 429:
            # Atlassian's admin APIs say when the window resets instead (X-RateLimit-Reset, an RFC 3339
            # instant); with neither header a jittered backoff keeps a 429 from being retried at once.
            seconds = seconds_until(response.headers.get("X-RateLimit-Reset"))
            if seconds is None:
                seconds = min(self.backoff_factor * 2 ** max(len(self.history) - 1, 0), self.backoff_max)
                seconds += random.uniform(0, self.backoff_jitter)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)

    def sleep(self, response: t.Any = None) -> None:
        delay = self.get_retry_after(response) if self.respect_retry_after_header and response is not None else None
        if delay is None:
            delay = self.get_backoff_time()
        if self.gate is None:
            time.sleep(delay)
            return
        self.gate.hold(delay)
        self.gate.wait()


def seconds_until(instant: str | None) -> float | None:
    """Seconds from now until an RFC 3339 instant (``2026-11-30T10:00:05Z``); None when it is not one.

    Digits alone are read as other APIs send them: epoch seconds, or a number of seconds to wait.
    """
    text = (instant or "").strip()
    if text.isdigit():
        return max(int(text) - time.time(), 0.0) if int(text) > 1_000_000_000 else float(text)
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max((moment - datetime.now(timezone.utc)).total_seconds(), 0.0)


def _check_ca_path(path: str) -> None:
    """Fail before any request when ca_path cannot serve as a CA bundle, naming what is wrong."""
    try:
        if os.path.isdir(path):
            ssl.create_default_context(capath=path)
        else:
            ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        raise ConfigError(f"ca_path {path} does not exist.") from None
    except PermissionError:
        raise ConfigError(f"ca_path {path} cannot be read: permission denied.") from None
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"ca_path {path} holds no usable CA certificate ({_reason(exc)}); give a PEM file of CA certificates."
        ) from None


class _GatedAdapter(HTTPAdapter):  # type: ignore[misc,valid-type]
    """HTTPAdapter that does not start a request while the shared gate holds."""

    def __init__(self, gate: BackoffGate, **kwargs: t.Any) -> None:
        self._gate = gate
        super().__init__(**kwargs)

    def send(self, request: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self._gate.wait()
        return super().send(request, *args, **kwargs)


def path_segment(value: t.Any, option: str, *, kind: str = "an id") -> str:
    """``value`` as one URL path segment (percent-encoded), or ConfigError before any request.

    ``.`` and ``..`` are normalised away by clients, servers and proxies (to the list, or the
    parent); ``/`` would reach another endpoint; an empty value names the list itself.
    Percent-encoding does not help: many servers decode ``%2F`` and ``%2E`` before routing.
    """
    text = str(value) if value is not None else ""
    if not text.strip() or text in (".", "..") or "/" in text:
        raise ConfigError(
            f"{option} {text!r} is not {kind}: an id must be one path segment, not empty, '.' or '..', and without '/'."
        )
    return quote(text, safe=":-")


def origin_of(url: str) -> str:
    """Scheme, host and port of a URL: ``https://auth.atlassian.com``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class HttpClient:
    """One requests.Session for a whole task: keep-alive, pooled, shared by worker threads."""

    def __init__(self, settings: HttpSettings) -> None:
        if not HAS_REQUESTS:
            raise DependencyError("requests", traceback=REQUESTS_IMPORT_ERROR)
        self.settings = settings
        self.gate = BackoffGate()
        self.session = requests.Session()
        # The environment is read here, once, not by requests on every request: with trust_env
        # requests re-reads every proxy variable per request (~0.5 ms each, a bulk run sends
        # thousands) and swaps the bearer token for any ~/.netrc login it finds for the host.
        self.session.trust_env = False
        self.session.headers["User-Agent"] = USER_AGENT
        self._proxies: dict[str, dict[str, str]] = {}
        self._verify: bool | str = True
        self._verify_from_environment = False
        if not settings.validate_certs:
            self._verify = False
        elif settings.ca_path:
            _check_ca_path(settings.ca_path)
            self._verify = settings.ca_path
        else:
            # As requests does with trust_env, but never over the task's own ca_path or validate_certs.
            self._verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            self._verify_from_environment = self._verify is not True
        self.session.verify = self._verify
        adapter = self._adapter(IDEMPOTENT_METHODS)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def _adapter(self, allowed_methods: t.Collection[str], retries: int | None = None) -> _GatedAdapter:
        retry = self._retry(allowed_methods, self.settings.max_retries if retries is None else retries)
        return _GatedAdapter(self.gate, max_retries=retry, pool_connections=4, pool_maxsize=self.settings.pool_size)

    def _retry(self, allowed_methods: t.Collection[str], retries: int) -> _GatedRetry:
        retry = _GatedRetry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            other=0,
            redirect=0,
            allowed_methods=frozenset(allowed_methods),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.settings.backoff_factor,
            backoff_max=self.settings.backoff_max,
            backoff_jitter=self.settings.backoff_factor,
            respect_retry_after_header=True,
            raise_on_status=False,
            raise_on_redirect=False,
        )
        retry.gate = self.gate
        return retry

    def retry_posts_to(self, url: str) -> None:
        """Let POSTs to ``url`` be retried like reads: for POSTs that only read (an admin API's searches)."""
        self.session.mount(url, self._adapter(IDEMPOTENT_METHODS | {"POST"}))

    def send_once_to(self, url: str) -> None:
        """Never let the transport resend a request to ``url``; the caller retries it itself.

        Meant for a token endpoint: a resent client assertion carries a ``jti`` the server
        may already have consumed, so each new attempt must be a newly signed request.
        """
        self.session.mount(url, self._adapter(IDEMPOTENT_METHODS, retries=0))

    def pause_before_retry(self, attempt: int, response: t.Any = None) -> None:
        """Wait before resending a request that the caller retries itself (``attempt`` 1 is the first resend).

        The pause is the one urllib3's Retry takes before the same resend: exponential backoff
        or the answer's ``Retry-After``, shared with every other request through the gate.
        """
        history = tuple(RequestHistory(None, None, None, None, None) for _attempt in range(attempt))
        self._retry(IDEMPOTENT_METHODS, self.settings.max_retries).new(history=history).sleep(response)

    def retry_writes_only_on_429(self, url: str) -> None:
        """Retry only reads to ``url`` after a 5xx or a lost answer; writes only after a 429.

        For APIs whose writes are not safe to send twice (Atlassian's admin APIs): the caller
        resends a write only after a read proves it was not applied.
        """
        self.session.mount(url, self._adapter(frozenset({"GET", "HEAD", "OPTIONS"})))

    def request(self, method: str, url: str, **kwargs: t.Any) -> t.Any:
        """Send one request and read its whole answer; raise TransportError when no usable answer came back.

        The answer is read here, within the deadline and the size cap, so the response returned
        holds its body already (``.content``, ``.text`` and ``.json()`` work as usual). A 3xx
        answer raises: a redirect is never followed, whatever its status or target.

        urllib3 retries what fails before the body (connecting, the status line, the headers);
        the body is read here, so an idempotent request whose body broke off or ran past the
        deadline is sent again here, within the same ``max_retries`` and with the same backoff.
        """
        attempt = 0
        while True:
            try:
                return self._request_once(method, url, **kwargs)
            except _BodyReadError:
                if method.upper() not in IDEMPOTENT_METHODS or attempt >= self.settings.max_retries:
                    raise
                attempt += 1
                self.pause_before_retry(attempt)

    def _request_once(self, method: str, url: str, **kwargs: t.Any) -> t.Any:
        deadline = time.monotonic() + self.settings.timeout
        kwargs.setdefault("verify", self._verify)
        where = origin_of(url)
        kwargs.setdefault("proxies", self._proxies_for(where))
        try:
            response = self.session.request(method, url, timeout=self.settings.timeout, allow_redirects=False,
                                            stream=True, **kwargs)
            try:
                if 300 <= response.status_code < 400:
                    raise _redirect_error(method, url, response)
                response._content = self._read_body(response, deadline, method, url)
                # Read to the end: close() hands the connection back to the pool instead of dropping it.
                response._content_consumed = True
            finally:
                response.close()
            return response
        except requests.exceptions.SSLError as exc:
            raise TransportError(
                f"TLS verification failed for {where}: {_reason(exc)}. "
                "Set ca_path to the CA bundle that signed the server's certificate "
                "(validate_certs=false turns verification off, for tests only).",
                maybe_applied=False,
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise TransportError(
                f"Timed out connecting to {where} after {self.settings.timeout:g} s.", maybe_applied=False
            ) from None
        except requests.exceptions.ReadTimeout:
            raise TransportError(
                f"{method} {url} got no answer within {self.settings.timeout:g} s (timeout).", maybe_applied=True
            ) from None
        except requests.exceptions.ConnectionError as exc:
            refused = _never_sent(exc)
            raise TransportError(
                f"Could not reach {where}: {_reason(exc)}." if refused
                else f"The connection to {where} broke during {method} {urlsplit(url).path}: {_reason(exc)}.",
                maybe_applied=not refused,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"{method} to {where} failed: {_reason(exc)}.", maybe_applied=True) from None
        except OSError as exc:  # requests' own check of the CA bundle path, before connecting
            if not self._verify_from_environment:
                raise  # ca_path was checked up front: anything else is unexpected
            raise ConfigError(
                f"TLS verification for {where} cannot start: {exc}. The bundle comes from REQUESTS_CA_BUNDLE or "
                "CURL_CA_BUNDLE in the environment; fix or unset it, or give ca_path."
            ) from None

    def _read_body(self, response: t.Any, deadline: float, method: str, url: str) -> bytes:
        """The decoded body, read in pieces, each socket read bounded by the time left; capped in size."""
        limit = self.settings.max_response_bytes
        declared = _as_int(response.headers.get("Content-Length"))
        if declared is not None and declared > limit and not response.headers.get("Content-Encoding"):
            raise _too_large(method, url, limit)
        raw = response.raw
        read = getattr(raw, "read1", None) or raw.read
        body = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out(method, url)
            _set_socket_timeout(raw, remaining)
            try:
                piece = read(_READ_CHUNK, decode_content=True)
            except Exception as exc:  # urllib3 wraps socket errors in its own ReadTimeoutError/ProtocolError
                if "timed out" in str(exc).lower():
                    raise self._timed_out(method, url) from None
                raise _BodyReadError(
                    f"The connection to {origin_of(url)} broke during {method} {urlsplit(url).path}: {_reason(exc)}.",
                    maybe_applied=True,
                ) from None
            if not piece:
                if raw.closed:
                    return bytes(body)
                continue  # a compressed piece that decoded to nothing yet
            body += piece
            if len(body) > limit:
                raise _too_large(method, url, limit)

    def _timed_out(self, method: str, url: str) -> TransportError:
        return _BodyReadError(f"{method} {url} got no answer within {self.settings.timeout:g} s (timeout).",
                              maybe_applied=True)

    def _proxies_for(self, origin: str) -> dict[str, str]:
        """The proxies the environment names for ``origin`` (HTTPS_PROXY, NO_PROXY, ...), read once per origin."""
        if origin not in self._proxies:
            self._proxies[origin] = requests.utils.get_environ_proxies(origin)
        return self._proxies[origin]

    def close(self) -> None:
        self.session.close()


class _BodyReadError(TransportError):
    """The status and headers came, the body did not (in time, or whole)."""


def _redirect_error(method: str, url: str, response: t.Any) -> TransportError:
    """A 3xx is never followed: the request, its token or assertion, would go where nobody checked."""
    location = response.headers.get("Location") or "(no Location header)"
    return TransportError(
        f"{method} {url} was answered HTTP {response.status_code} redirecting to {location}. Redirects are "
        "never followed, so that credentials and personal data go only to the address the task names: "
        "set the URL to the final address.",
        maybe_applied=response.status_code not in (301, 302, 303, 307, 308),
        retryable=False,
    )


def _too_large(method: str, url: str, limit: int) -> TransportError:
    return TransportError(
        f"{method} {url} answered with more than {limit // (1024 * 1024)} MiB, more than any SCIM or token "
        "answer needs; the rest was not read. Check that the URL names a SCIM or token endpoint.",
        maybe_applied=True,
        retryable=False,
    )


def _set_socket_timeout(raw: t.Any, seconds: float) -> None:
    """Bound the next socket read by the time the request has left (urllib3 sets the full timeout per read)."""
    connection = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _as_int(value: t.Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _never_sent(exc: Exception) -> bool:
    """True when the failure happened while connecting, before any byte of the request left."""
    text = repr(exc)
    return any(marker in text for marker in ("NewConnectionError", "NameResolutionError", "ConnectTimeoutError"))


def _reason(exc: Exception) -> str:
    """The innermost, most telling part of a requests/urllib3 error message."""
    reason: t.Any = exc
    for _depth in range(5):
        inner = getattr(reason, "reason", None) or (reason.args[0] if getattr(reason, "args", None) else None)
        if inner is None or inner is reason or isinstance(inner, str):
            break
        reason = inner
    text = str(reason)
    # urllib3 prefixes "<...HTTPConnection object at 0x...>: " or "HTTPConnection(host=..., port=...): ",
    # which repeats the address the message already names.
    for prefix_end in (">: ", "): "):
        if prefix_end in text:
            text = text.split(prefix_end, 1)[1]
            break
    return text.rstrip(".")


def json_body(response: t.Any, request: str) -> t.Any:
    """The JSON of a successful answer (None for 204 or no body); one that is not JSON fails naming ``request``."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ScimKitError(
            f"{request} answered HTTP {response.status_code} with "
            f"{summarize_body(response.text, response.headers.get('Content-Type'))}."
        ) from None


__all__ = [
    "BackoffGate",
    "HAS_REQUESTS",
    "HttpClient",
    "HttpSettings",
    "MAX_RESPONSE_BYTES",
    "REQUESTS_IMPORT_ERROR",
    "USER_AGENT",
    "WRITE_METHODS",
    "json_body",
    "origin_of",
    "path_segment",
    "seconds_until",
]
