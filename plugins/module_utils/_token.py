# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Access tokens: a pre-issued bearer token, or the OAuth 2.0 client-credentials grant.

The grant authenticates the service account either with a signed JWT client assertion
(RFC 7523 ``private_key_jwt``, as Atlassian's SCIM OAuth set-up describes) or with a client
secret (Atlassian's self-service service-account credentials). PyJWT and cryptography are
imported only when an assertion is signed, so a task given ``access_token`` never loads them.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import typing as t
import uuid
from dataclasses import dataclass, field

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import (
    CredentialError,
    DependencyError,
    TokenError,
    TransportError,
    error_body,
    summarize_body,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._http import origin_of

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._http import HttpClient

ATLASSIAN_TOKEN_URL = "https://auth.atlassian.com/oauth/token"
DEFAULT_SCOPE = "manage:directory"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256")
EC_ALGORITHMS = {"ES256": "secp256r1"}
ALGORITHMS = RSA_ALGORITHMS + tuple(EC_ALGORITHMS)
REQUEST_FORMATS = ("json", "form")
# Renew a cached token this long before it expires, so that no request carries a token
# that dies in flight (capped at a tenth of the lifetime for very short-lived tokens).
RENEW_MARGIN = 60.0

# RFC 7523 section 3: the assertion's lifetime should be short; an hour is the most accepted here,
# as a longer-lived assertion is a longer-lived credential if it leaks.
MAX_ASSERTION_LIFETIME = 3600
# Token endpoint answers after which the request is sent again with a newly signed assertion:
# rate limited, or a server error that may have lost the answer after consuming the jti.
RETRY_TOKEN_STATUSES = frozenset({429, 500, 502, 503, 504})

# What each OAuth error (RFC 6749 section 5.2) usually means. The server's own error and
# error_description are quoted before this, so the hint only says what the code means in
# general and what to look at; it never claims to know which of several causes applies.
_ERROR_HINTS = {
    "invalid_client": (" invalid_client means the server did not authenticate the client. Usual causes: an "
                       "unknown client_id; a private key other than the one registered for key_id, or a wrong "
                       "client secret; or the machine's clock far off."),
    "unauthorized_client": " unauthorized_client means this client may not use the client-credentials grant.",
    "invalid_grant": " invalid_grant means the server refused the grant or the assertion it carried.",
    "invalid_scope": " invalid_scope: check the scope option (Atlassian's SCIM API needs manage:directory).",
    "invalid_request": (" invalid_request means the server could not read the request: check token_url, and "
                        "token_request_format (json for Atlassian, form for most other servers)."),
    "unsupported_grant_type": " unsupported_grant_type means this server does not offer the client-credentials grant.",
}
# Said instead of the usual causes when the server's description names a cause of its own
# ("jti replayed", "unknown kid ..."): guessing at keys and clocks then only misleads.
_DESCRIBED_HINT = " The server's own description above tells the cause."
# Descriptions that only restate the error, and so name no cause.
_GENERIC_DESCRIPTIONS = frozenset({"", "client authentication failed", "invalid client", "invalid_client",
                                   "unauthorized", "unauthorized client", "authentication failed"})


@dataclass(frozen=True)
class ClientCredentials:
    """How a service account proves who it is at the token endpoint. Secrets stay out of repr()."""

    client_id: str
    token_url: str = ATLASSIAN_TOKEN_URL
    audience: str | None = None
    scope: str | None = DEFAULT_SCOPE
    request_format: str = "json"
    key_id: str | None = None
    algorithm: str = "RS256"
    assertion_lifetime: int = 300
    private_key: str | None = field(default=None, repr=False)
    private_key_passphrase: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)

    @property
    def effective_audience(self) -> str:
        """The ``aud`` claim: given, else the token URL's origin (``https://auth.atlassian.com``)."""
        return self.audience or origin_of(self.token_url)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and what the authorization server said about it."""

    value: str = field(repr=False)
    token_type: str
    expires_in: int | None
    expires_at: int | None
    scope: str | None

    def needs_renewal(self, now: float) -> bool:
        if self.expires_at is None:
            return False
        margin = min(RENEW_MARGIN, (self.expires_in or 0) / 10)
        return now >= self.expires_at - margin


def _import_jwt() -> t.Any:
    try:
        import jwt
    except ImportError:
        raise DependencyError("PyJWT", traceback=traceback.format_exc()) from None
    return jwt


def load_signing_key(pem: str, passphrase: str | None, algorithm: str) -> t.Any:
    """Read a PEM private key and check it can sign with ``algorithm``; say plainly what is wrong."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:
        raise DependencyError("cryptography", traceback=traceback.format_exc()) from None

    if pem.lstrip().startswith("$ANSIBLE_VAULT"):
        raise CredentialError(
            "The private key is encrypted with Ansible Vault ($ANSIBLE_VAULT), which a module cannot decrypt: "
            "lookups decrypt vault files on the controller, modules do not. Pass the key as "
            "private_key: \"{{ lookup('ansible.builtin.file', 'path/to/key.pem') }}\" (not private_key_path)."
        )
    if "PUBLIC KEY-----" in pem and "PRIVATE KEY-----" not in pem:
        raise CredentialError(
            "The key given is a public key. Signing the client assertion needs the private key "
            "(the public key is what Atlassian registers)."
        )
    if "-----BEGIN" not in pem:
        raise CredentialError("The private key is not in PEM format (no '-----BEGIN ...-----' line found).")
    password = passphrase.encode() if passphrase else None
    try:
        key = load_pem_private_key(pem.encode(), password=password)
    except TypeError:
        if password is None:
            raise CredentialError(
                "The private key is encrypted; give its passphrase with private_key_passphrase."
            ) from None
        raise CredentialError("private_key_passphrase was given, but the private key is not encrypted.") from None
    except ValueError:
        if password is not None:
            raise CredentialError(
                "The private key could not be decrypted: the passphrase is wrong, or the PEM is damaged."
            ) from None
        raise CredentialError("The private key could not be read: the PEM data is damaged or not a private key.") from None
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm and friends for exotic keys
        raise CredentialError(f"The private key could not be loaded ({type(exc).__name__}).") from None

    if algorithm in RSA_ALGORITHMS and not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialError(f"algorithm {algorithm} needs an RSA private key, but the key given is {_kind(key)}.")
    if algorithm in EC_ALGORITHMS:
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != EC_ALGORITHMS[algorithm]:
            raise CredentialError(
                f"algorithm {algorithm} needs an EC private key on curve P-256, but the key given is {_kind(key)}."
            )
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
        raise CredentialError(f"The RSA key has {key.key_size} bits; RFC 7518 requires at least 2048.")
    return key


def _kind(key: t.Any) -> str:
    name = type(key).__name__.replace("_", "")
    curve = getattr(getattr(key, "curve", None), "name", None)
    return f"{name} ({curve})" if curve else name


def build_assertion(creds: ClientCredentials, *, now: float | None = None, jti: str | None = None) -> str:
    """Sign the JWT client assertion (RFC 7523 section 3): iss = sub = client_id, aud, iat, exp, fresh jti."""
    if not creds.private_key:
        raise CredentialError("No private key to sign the client assertion with.")
    if not creds.key_id:
        raise CredentialError("key_id is required to sign the client assertion: it is the kid Atlassian registered.")
    jwt = _import_jwt()
    key = load_signing_key(creds.private_key, creds.private_key_passphrase, creds.algorithm)
    issued_at = int(now if now is not None else time.time())
    claims = {
        "iss": creds.client_id,
        "sub": creds.client_id,
        "aud": creds.effective_audience,
        "iat": issued_at,
        "exp": issued_at + creds.assertion_lifetime,
        "jti": jti or uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=creds.algorithm, headers={"kid": creds.key_id, "typ": "JWT"})


def token_request_body(creds: ClientCredentials) -> dict[str, str]:
    """The client-credentials grant's parameters (RFC 6749 section 4.4.2)."""
    body = {"grant_type": "client_credentials", "client_id": creds.client_id}
    if creds.scope:
        body["scope"] = creds.scope
    if creds.client_secret:
        body["client_secret"] = creds.client_secret
    else:
        body["client_assertion_type"] = JWT_BEARER
        body["client_assertion"] = build_assertion(creds)
    return body


def exchange(http: HttpClient, creds: ClientCredentials, *,
             on_secret: t.Callable[[str], None] | None = None) -> AccessToken:
    """Ask the token endpoint for an access token; raise TokenError with the server's reason.

    The transport never resends this request (see HttpClient.send_once_to). A request whose
    answer was lost, or answered 429 or 5xx, is sent again here, up to ``max_retries`` times with
    the same backoff as every other request, and each time with a newly signed assertion (new
    ``jti``, ``iat`` and ``exp``): the server may have consumed the first one's ``jti``.
    ``on_secret`` gets every assertion before it is sent, to be masked in the task's output.
    """
    retries = http.settings.max_retries
    answer = None
    for attempt in range(retries + 1):
        if attempt:
            http.pause_before_retry(attempt, answer)
        body = token_request_body(creds)
        if on_secret and body.get("client_assertion"):
            on_secret(body["client_assertion"])
        send = {"json": body} if creds.request_format == "json" else {"data": body}
        requested_at = time.time()
        try:
            answer = http.request("POST", creds.token_url, headers={"Accept": "application/json"}, **send)
        except TransportError as exc:
            if not exc.retryable or attempt == retries:
                raise
            answer = None
            continue
        if answer.status_code in RETRY_TOKEN_STATUSES and attempt < retries:
            continue
        break
    return parse_token_response(
        answer.status_code, answer.text, answer.headers.get("Content-Type"), creds.token_url, requested_at
    )


def parse_token_response(status: int, text: str, content_type: str | None, token_url: str,
                         requested_at: float) -> AccessToken:
    """Turn the token endpoint's answer into an AccessToken, or a TokenError naming the cause."""
    where = f"The token endpoint {token_url}"
    if status >= 400:
        text = error_body(text)
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise TokenError(f"{where} answered HTTP {status} with {_describe_body(status, text, content_type)}.",
                         status=status)
    if status >= 400 or "error" in payload:
        error = str(payload.get("error") or "unknown_error")
        description = payload.get("error_description")
        message = f"{where} refused the token request: HTTP {status} {error}"
        if description:
            message += f": {description}"
        message = message.rstrip(".") + "."
        message += _error_hint(error, str(description) if description else None)
        raise TokenError(message, status=status, error=error,
                         error_description=str(description) if description else None)
    value = payload.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenError(f"{where} answered HTTP {status} without an access_token.", status=status)
    token_type = str(payload.get("token_type") or "Bearer")
    if token_type.lower() != "bearer":  # RFC 6749 section 7.1: compare case-insensitively
        raise TokenError(f"{where} issued a token of type {token_type!r}; only Bearer tokens are supported.")
    expires_in = _as_int(payload.get("expires_in"))
    return AccessToken(
        value=value,
        token_type="Bearer",
        expires_in=expires_in,
        expires_at=int(requested_at + expires_in) if expires_in is not None else None,
        scope=payload.get("scope"),
    )


def _error_hint(error: str, description: str | None) -> str:
    """What ``error`` usually means; the usual causes only when the server named none itself."""
    hint = _ERROR_HINTS.get(error, "")
    if error == "invalid_client" and (description or "").strip().rstrip(".").casefold() not in _GENERIC_DESCRIPTIONS:
        return " invalid_client means the server did not authenticate the client." + _DESCRIBED_HINT
    return hint


def _describe_body(status: int, text: str, content_type: str | None) -> str:
    """An unreadable answer, quoted only when it is an error page.

    A success status may carry a token in a form this module cannot read (form-encoded, a bare
    JSON string); quoting that body would print the token, which is not yet masked.
    """
    if status >= 400 or not text.strip():
        return summarize_body(text, content_type)
    kind = (content_type or "unknown content type").split(";")[0].strip()
    return f"a non-JSON body ({kind}, {len(text)} characters; not shown, as it may hold a token)"


def _as_int(value: t.Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class TokenProvider(t.Protocol):
    """Gives the bearer token for the next request; may renew it after a 401."""

    can_renew: bool

    def token(self) -> str: ...

    def invalidate(self, stale: str) -> None: ...


class StaticTokenProvider:
    """A token issued elsewhere (by oauth_token, or a directory API key): used as it is."""

    can_renew = False

    def __init__(self, access_token: str) -> None:
        self._value = access_token

    def token(self) -> str:
        return self._value

    def invalidate(self, stale: str) -> None:
        """Nothing to renew from."""


# One token per (token endpoint, client, audience, scope) for the life of the process, shared by threads.
_CACHE: dict[tuple[str, str, str, str], AccessToken] = {}
_CACHE_LOCK = threading.Lock()


class ClientCredentialsProvider:
    """Fetches a token with the client-credentials grant, caches it, and renews it before expiry."""

    can_renew = True

    def __init__(self, http: HttpClient, creds: ClientCredentials,
                 on_token: t.Callable[[str], None] | None = None,
                 on_secret: t.Callable[[str], None] | None = None) -> None:
        """``on_token`` gets each token fetched; ``on_secret`` each signed assertion (to mask them)."""
        self._http = http
        self._creds = creds
        self._key = (creds.token_url, creds.client_id, creds.effective_audience, creds.scope or "")
        self._on_token = on_token
        self._on_secret = on_secret
        http.send_once_to(creds.token_url)

    def access_token(self) -> AccessToken:
        """The cached token, fetched first if there is none or it is about to expire."""
        with _CACHE_LOCK:
            cached = _CACHE.get(self._key)
            if cached is None or cached.needs_renewal(time.time()):
                cached = exchange(self._http, self._creds, on_secret=self._on_secret)
                _CACHE[self._key] = cached
                if self._on_token:
                    self._on_token(cached.value)
            return cached

    def token(self) -> str:
        return self.access_token().value

    def invalidate(self, stale: str) -> None:
        """Forget ``stale`` so the next call fetches anew; other threads' 401s on it do not refetch again."""
        with _CACHE_LOCK:
            cached = _CACHE.get(self._key)
            if cached is not None and cached.value == stale:
                del _CACHE[self._key]


__all__ = [
    "ALGORITHMS",
    "ATLASSIAN_TOKEN_URL",
    "AccessToken",
    "ClientCredentials",
    "ClientCredentialsProvider",
    "DEFAULT_SCOPE",
    "JWT_BEARER",
    "MAX_ASSERTION_LIFETIME",
    "REQUEST_FORMATS",
    "StaticTokenProvider",
    "TokenProvider",
    "build_assertion",
    "exchange",
    "load_signing_key",
    "parse_token_response",
    "token_request_body",
]
