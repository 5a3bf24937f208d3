# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Credentials and the OAuth 2.0 token endpoint of the sandbox.

The endpoint imitates Atlassian's service-account exchange: a client signs a
JWT with its private key (RFC 7523 ``private_key_jwt``) and trades it for a
short-lived bearer token. The assertion is really verified with PyJWT against
the registered public key, so a client bug (wrong kid, key, aud, clock...)
fails here as it would against Atlassian.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sandbox_config import SCOPE
from werkzeug.wrappers import Request, Response

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# RSA algorithms only: the registered key is RSA, and `none`/HS* must never pass.
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
CLOCK_LEEWAY = 30
MAX_ASSERTION_LIFETIME = 3600

IDENTITY_FILE = "identity.json"
PRIVATE_KEY_FILE = "client_private_key.pem"
ENCRYPTED_PRIVATE_KEY_FILE = "client_private_key_encrypted.pem"
PUBLIC_KEY_FILE = "client_public_key.pem"


@dataclass(frozen=True)
class Identity:
    """The ids and secrets registered for one sandbox state dir.

    Prefixes make every value easy to grep for in logs (tests prove that
    secrets never leak into module output).
    """

    directory_id: str
    client_id: str
    key_id: str
    api_key: str
    secret_client_id: str
    client_secret: str
    private_key_passphrase: str

    @classmethod
    def generate(cls) -> Identity:
        return cls(
            directory_id=str(uuid.uuid4()),
            client_id="sbx-client-" + secrets.token_hex(16),
            key_id="sbx-kid-" + secrets.token_hex(10),
            api_key="sbx-apikey-" + secrets.token_urlsafe(32),
            secret_client_id="sbx-secret-client-" + secrets.token_hex(16),
            client_secret="sbx-clientsecret-" + secrets.token_urlsafe(32),
            private_key_passphrase="sbx-passphrase-" + secrets.token_urlsafe(24),
        )


@dataclass(frozen=True)
class Credentials:
    """Identity plus key material, as stored in the state dir."""

    identity: Identity
    private_key_path: Path
    encrypted_private_key_path: Path
    public_key_path: Path
    public_key_pem: bytes


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (created 0600, never widened)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_or_create_credentials(state_dir: Path) -> Credentials:
    """Reuse the state dir's identity and keys, or generate them once.

    Reuse keeps the client id, kid and key stable across restarts, so a
    playbook or inventory written against one run keeps working.
    """
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    identity_path = state_dir / IDENTITY_FILE
    private_path = state_dir / PRIVATE_KEY_FILE
    encrypted_path = state_dir / ENCRYPTED_PRIVATE_KEY_FILE
    public_path = state_dir / PUBLIC_KEY_FILE

    identity: Identity | None = None
    if identity_path.exists():
        try:
            identity = Identity(**json.loads(identity_path.read_text()))
        except (ValueError, TypeError):
            identity = None  # unreadable or from another version: start over
    complete = identity is not None and all(p.exists() for p in (private_path, encrypted_path, public_path))

    if identity is not None and complete:
        public_pem = public_path.read_bytes()
        return Credentials(identity, private_path, encrypted_path, public_path, public_pem)

    identity = Identity.generate()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    encrypted_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(identity.private_key_passphrase.encode()),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    _write_private(private_path, private_pem)
    _write_private(encrypted_path, encrypted_pem)
    public_path.write_bytes(public_pem)
    # The identity goes last: its presence marks a complete state dir.
    _write_private(identity_path, json.dumps(asdict(identity), indent=2).encode())
    return Credentials(identity, private_path, encrypted_path, public_path, public_pem)


def jwks_public_keys(jwks: dict[str, Any] | str) -> dict[str, Any]:
    """The RSA public keys of a JWKS document (or of one JWK), by kid: what a caller registers.

    ``jwks`` is the parsed document, its JSON text, or the path of a file holding it. A key
    without ``kid`` is registered under its RFC 7638 thumbprint, as Atlassian would derive it.
    """
    if isinstance(jwks, str):
        text = jwks if jwks.lstrip().startswith("{") else Path(jwks).expanduser().read_text()
        jwks = json.loads(text)
    keys = jwks.get("keys") if isinstance(jwks, dict) and "keys" in jwks else [jwks]
    found: dict[str, Any] = {}
    for jwk in keys or []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("n") or not jwk.get("e"):
            raise ValueError("the sandbox registers RSA public keys only (JWK kty RSA, with n and e)")
        if "d" in jwk:
            raise ValueError("the JWKS holds a private key; register the public part only")
        kid = jwk.get("kid") or _rfc7638_thumbprint(jwk)
        found[kid] = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    if not found:
        raise ValueError("the JWKS holds no key")
    return found


def _rfc7638_thumbprint(jwk: dict[str, Any]) -> str:
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer."""

    def __init__(self, error: str, description: str, status: int = 400, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}


def invalid_client(description: str, basic: bool = False) -> OAuthError:
    # RFC 6749 §5.2: invalid_client may be 401; with HTTP Basic it must carry a challenge.
    challenge = 'Basic realm="sandbox"' if basic else 'Bearer realm="sandbox"'
    return OAuthError("invalid_client", description, 401, {"WWW-Authenticate": challenge})


class TokenEndpoint:
    """POST /oauth/token: client_credentials grant with a JWT assertion or a client secret.

    ``settings`` is read on every request (token lifetime, HTML failure
    mode), so configure() changes take effect at once.
    """

    def __init__(self, credentials: Credentials, origin: str, token_url: str, settings: Any):
        self.credentials = credentials
        self.identity = credentials.identity
        self.public_key = serialization.load_pem_public_key(credentials.public_key_pem)
        self.audiences = [origin, token_url]
        self.settings = settings
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # access token -> expiry (epoch seconds, sandbox clock)
        self._seen_jti: dict[str, float] = {}  # jti -> when it may be forgotten
        # Every access token issued and every assertion received, so tests can grep output for them.
        self._issued: list[str] = []
        self._assertions: list[str] = []
        # Callers' own clients (register_client): kid -> (client id, public key).
        self._registered: dict[str, tuple[str, Any]] = {}

    def register_client(self, client_id: str, jwks: dict[str, Any] | str) -> list[str]:
        """Register a caller's public keys (a JWKS) under a client id of their choice; returns the kids."""
        if not client_id:
            raise ValueError("a client id is needed to register a key")
        keys = jwks_public_keys(jwks)
        with self._lock:
            self._registered.update({kid: (client_id, key) for kid, key in keys.items()})
        return sorted(keys)

    def _now(self) -> float:
        """The sandbox's clock: real time plus clock_offset, to imitate a server whose clock differs."""
        return time.time() + int(getattr(self.settings, "clock_offset", 0))

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    def received_assertions(self) -> list[str]:
        with self._lock:
            return list(self._assertions)

    def revoke_all(self) -> int:
        """Invalidate every issued access token (the static API key stays valid); return how many."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    # -- access tokens (used by the SCIM side) ---------------------------

    def token_is_valid(self, token: str) -> bool:
        now = self._now()
        with self._lock:
            expiry = self._tokens.get(token)
            if expiry is None:
                return False
            if expiry <= now:
                del self._tokens[token]
                return False
            return True

    def _issue_token(self) -> dict[str, Any]:
        lifetime = int(self.settings.token_lifetime)
        token = "sbx-at-" + secrets.token_urlsafe(48)
        now = self._now()
        with self._lock:
            # Drop expired tokens so long benchmark runs do not grow memory.
            for old in [t for t, exp in self._tokens.items() if exp <= now]:
                del self._tokens[old]
            self._tokens[token] = now + lifetime
            self._issued.append(token)
        return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": SCOPE}

    # -- request handling -------------------------------------------------

    def __call__(self, request: Request) -> Response:
        if self.settings.token_html_error:
            # Simulates a broken gateway page, to exercise client error handling.
            body = "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>"
            return Response(body, status=500, content_type="text/html; charset=utf-8")
        if request.method != "POST":
            raise OAuthError("invalid_request", "the token endpoint only accepts POST", 405)
        params = self._read_params(request)
        grant_type = params.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported; use client_credentials")

        basic = self._basic_credentials(request)
        if params.get("client_assertion") is not None or params.get("client_assertion_type") is not None:
            if basic or params.get("client_secret") is not None:
                raise OAuthError("invalid_request", "use exactly one client authentication method")
            self._authenticate_assertion(params)
        else:
            self._authenticate_secret(params, basic)

        scope = params.get("scope")
        if scope is not None and scope.split() != [SCOPE]:
            raise OAuthError("invalid_scope", f"requested scope {scope!r} is not granted; the only scope is {SCOPE}")
        return Response(
            json.dumps(self._issue_token()),
            status=200,
            content_type="application/json;charset=UTF-8",
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    @staticmethod
    def _read_params(request: Request) -> dict[str, str]:
        """Read a JSON (Atlassian) or form (RFC 6749) body into a flat dict of strings."""
        mimetype = request.mimetype
        if mimetype == "application/json":
            try:
                body = json.loads(request.get_data(as_text=True) or "null")
            except ValueError:
                raise OAuthError("invalid_request", "the request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise OAuthError("invalid_request", "the JSON body must be an object")
            params = {}
            for key, value in body.items():
                if not isinstance(value, str):
                    raise OAuthError("invalid_request", f"parameter {key!r} must be a string")
                params[key] = value
            return params
        if mimetype == "application/x-www-form-urlencoded":
            form = request.form
            for key in form:
                if len(form.getlist(key)) > 1:
                    # RFC 6749 §3.2: parameters must not be repeated.
                    raise OAuthError("invalid_request", f"parameter {key!r} is repeated")
            return {key: form[key] for key in form}
        raise OAuthError(
            "invalid_request",
            f"unsupported content type {request.mimetype or '(none)'!r}; send application/json or application/x-www-form-urlencoded",
        )

    @staticmethod
    def _basic_credentials(request: Request) -> tuple[str, str] | None:
        header = request.headers.get("Authorization", "")
        scheme, _space, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except ValueError:
            raise invalid_client("malformed HTTP Basic credentials", basic=True) from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise invalid_client("malformed HTTP Basic credentials", basic=True)
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
        return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))

    def _authenticate_secret(self, params: dict[str, str], basic: tuple[str, str] | None) -> None:
        if basic is not None:
            if params.get("client_secret") is not None:
                raise OAuthError("invalid_request", "use exactly one client authentication method")
            client_id, secret = basic
            if params.get("client_id") not in (None, client_id):
                raise invalid_client("client_id in the body does not match HTTP Basic", basic=True)
        else:
            client_id = params.get("client_id") or ""
            secret = params.get("client_secret")
            if secret is None:
                raise invalid_client("no client authentication: send client_assertion or client_secret")
        known = hmac.compare_digest(client_id.encode(), self.identity.secret_client_id.encode())
        good = hmac.compare_digest(secret.encode(), self.identity.client_secret.encode())
        if not known:
            raise invalid_client("unknown client", basic=basic is not None)
        if not good:
            raise invalid_client("client authentication failed", basic=basic is not None)

    def _authenticate_assertion(self, params: dict[str, str]) -> None:
        assertion_type = params.get("client_assertion_type")
        if assertion_type != ASSERTION_TYPE:
            raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
        assertion = params.get("client_assertion") or ""
        if not assertion:
            raise OAuthError("invalid_request", "client_assertion is required")
        with self._lock:
            self._assertions.append(assertion)

        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise invalid_client("client assertion is not a well-formed JWS") from None
        kid = header.get("kid")
        client_id, public_key = self.identity.client_id, self.public_key
        if kid != self.identity.key_id:
            with self._lock:
                registered = self._registered.get(kid) if isinstance(kid, str) else None
            if registered is None:
                raise invalid_client(f"unknown kid {kid!r}: no key registered under it")
            client_id, public_key = registered
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise invalid_client(f"alg {alg!r} is not allowed for the registered RSA key")

        try:
            claims = jwt.decode(
                assertion,
                public_key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=self.audiences,
                # Time claims are checked below against the sandbox clock (clock_offset), not PyJWT's.
                options={"require": ["exp", "iat", "iss", "sub", "aud", "jti"],
                         "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidSignatureError:
            raise invalid_client("signature verification failed") from None
        except jwt.InvalidAudienceError:
            raise invalid_client(f"aud must be {self.audiences[0]} or {self.audiences[1]}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise invalid_client(f"client assertion lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise invalid_client(f"invalid client assertion: {exc}") from None
        self._check_times(claims)

        if claims.get("iss") != client_id:
            raise invalid_client("iss is not a registered client id")
        if claims.get("sub") != client_id:
            raise invalid_client("sub must equal iss (the client id)")
        if params.get("client_id") not in (None, client_id):
            raise invalid_client("client_id does not match the assertion's iss")

        now = self._now()
        exp = claims["exp"]
        if exp - now > MAX_ASSERTION_LIFETIME + CLOCK_LEEWAY:
            raise invalid_client(f"client assertion lifetime exceeds {MAX_ASSERTION_LIFETIME} s")

        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise invalid_client("jti must be a non-empty string")
        with self._lock:
            # Forget jtis whose assertions can no longer be valid anyway.
            for old in [j for j, until in self._seen_jti.items() if until <= now]:
                del self._seen_jti[old]
            if jti in self._seen_jti:
                raise invalid_client("jti replayed: this client assertion was already used")
            self._seen_jti[jti] = exp + CLOCK_LEEWAY

    def _check_times(self, claims: dict[str, Any]) -> None:
        """exp, iat and nbf against the sandbox clock, with CLOCK_LEEWAY either way (RFC 7523 section 3)."""
        now = self._now()
        for name in ("exp", "iat", "nbf"):
            if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], (int, float))):
                raise invalid_client(f"invalid client assertion: {name} must be a number")
        if claims["exp"] < now - CLOCK_LEEWAY:
            raise invalid_client("client assertion expired (exp)")
        if claims["iat"] > now + CLOCK_LEEWAY:
            raise invalid_client("client assertion is not valid yet (iat in the future)")
        if claims.get("nbf", now) > now + CLOCK_LEEWAY:
            raise invalid_client("client assertion is not valid yet (nbf in the future)")


def oauth_error_response(error: OAuthError) -> Response:
    body = {"error": error.error, "error_description": error.description}
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **error.headers}
    return Response(json.dumps(body), status=error.status, content_type="application/json;charset=UTF-8", headers=headers)
