# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""PEM keys to JSON Web Keys (RFC 7517/7518) and their thumbprints (RFC 7638).

Behind the filters ``scimkit.atlassian.jwks`` and ``scimkit.atlassian.jwk_thumbprint``. Plain
data in, plain data out, errors as :class:`JWKError` with a message that names the cause and
never contains key material or a passphrase; the filters turn them into ``AnsibleFilterError``.

cryptography is imported on first use, not at import time: ``ansible-test sanity --test import``
loads the filters without it, and a thumbprint of a JWK dict needs no cryptography at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import traceback
import typing as t
from collections.abc import Mapping

# Kept in sync with requirements.txt and the doc fragment of the modules (plugins/doc_fragments/auth.py).
MIN_CRYPTOGRAPHY_VERSION = "41.0.0"

# RFC 7518 section 3.3: RSA keys for RS*/PS* must have at least 2048 bits.
MIN_RSA_BITS = 2048

RSA_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")

# cryptography's curve name -> (JWK "crv", the one JWS "alg" for it (RFC 7518 section 3.4), coordinate bytes).
EC_CURVES = {
    "secp256r1": ("P-256", "ES256", 32),
    "secp384r1": ("P-384", "ES384", 48),
    "secp521r1": ("P-521", "ES512", 66),
}

KEY_USES = ("sig", "enc")

# RFC 7638 section 3.2: the required members of each key type, the only ones a thumbprint hashes.
THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),  # RFC 8037 section 2
    "oct": ("k", "kty"),
}

# The public members jwks() emits; anything else a key type has (d, p, q, dp, dq, qi, oth, k) is private.
PUBLIC_MEMBERS = {
    "RSA": ("kty", "n", "e"),
    "EC": ("kty", "crv", "x", "y"),
}


class JWKError(ValueError):
    """The input cannot become a JWK; the message says why and holds no secret."""


class MissingCryptographyError(JWKError):
    """cryptography is not installed on the controller."""

    def __init__(self, import_traceback: str) -> None:
        super().__init__(
            f"the Python library cryptography (>= {MIN_CRYPTOGRAPHY_VERSION}) is needed on the Ansible controller "
            "to read a PEM key; install it with: pip install -r requirements.txt (of this collection) or pip install cryptography"
        )
        self.import_traceback = import_traceback


def b64url_uint(value: int, length: int | None = None) -> str:
    """RFC 7518 section 2 Base64urlUInt: big-endian octets, unpadded base64url.

    Without ``length`` the shortest form (at least one octet, so 0 is ``AA``); EC coordinates
    pass the curve's full octet length (RFC 7518 section 6.2.1.2).
    """
    if value < 0:
        raise JWKError("a JWK integer must not be negative")
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(size, "big"))


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _crypto() -> t.Any:
    """Import what PEM parsing needs, or raise :class:`MissingCryptographyError`."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
    except ImportError:
        raise MissingCryptographyError(traceback.format_exc()) from None
    return x509, serialization, ec, rsa


def _plain(value: t.Any) -> t.Any:
    """A vault-encrypted string (ansible-core < 2.19 passes it to filters undecrypted) as its text."""
    if getattr(value, "__ENCRYPTED__", False):
        return str(value)
    return value


def _pem_bytes(pem: t.Any) -> bytes:
    pem = _plain(pem)
    if isinstance(pem, bytes):
        data = pem
    elif isinstance(pem, str):
        data = pem.encode("utf-8", "surrogateescape")
    else:
        raise JWKError(f"expected a PEM key as a string, got {_type_name(pem)}")
    if b"-----BEGIN " not in data:
        raise JWKError("the input is not a PEM key: no '-----BEGIN ...-----' line found")
    return data


def load_public_key(pem: t.Any, passphrase: t.Any = None) -> t.Any:
    """Return the public key (a cryptography object) of a PEM public key, private key or certificate.

    Accepted: ``PUBLIC KEY`` (SubjectPublicKeyInfo), ``RSA PUBLIC KEY`` (PKCS#1), any private key
    PEM cryptography reads (``PRIVATE KEY``, ``ENCRYPTED PRIVATE KEY``, ``RSA PRIVATE KEY``,
    ``EC PRIVATE KEY``, OpenSSH), and ``CERTIFICATE``. The private key itself never leaves here.
    """
    x509, serialization, _ec, _rsa = _crypto()
    data = _pem_bytes(pem)
    passphrase = _plain(passphrase)
    if passphrase is not None and not isinstance(passphrase, (str, bytes)):
        raise JWKError(f"passphrase must be a string, got {_type_name(passphrase)}")
    password = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    password = password or None

    if b"PRIVATE KEY-----" in data:
        loader = serialization.load_ssh_private_key if b"OPENSSH PRIVATE KEY-----" in data else serialization.load_pem_private_key
        try:
            return loader(data, password=password).public_key()
        except TypeError:
            # cryptography: "Password was not given but private key is encrypted", or the reverse.
            if password is None:
                raise JWKError("the private key is encrypted; pass its passphrase (passphrase=...)") from None
            raise JWKError("a passphrase was given, but the private key is not encrypted; leave passphrase out") from None
        except ValueError:
            if password is not None:
                raise JWKError("the private key could not be decrypted: the passphrase is wrong, or the PEM data is damaged") from None
            raise JWKError("the private key could not be read: the PEM data is damaged or of a kind cryptography does not know") from None
        except Exception as exc:  # UnsupportedAlgorithm and friends, for exotic keys
            raise JWKError(f"the private key could not be loaded ({type(exc).__name__})") from None

    if b"CERTIFICATE-----" in data:
        try:
            return x509.load_pem_x509_certificate(data).public_key()
        except Exception as exc:  # ValueError for damaged data; anything else for exotic keys
            raise JWKError(f"the certificate could not be read ({type(exc).__name__}): the PEM data is damaged") from None

    if b"PUBLIC KEY-----" in data:
        try:
            return serialization.load_pem_public_key(data)
        except Exception as exc:
            raise JWKError(f"the public key could not be read ({type(exc).__name__}): the PEM data is damaged") from None

    raise JWKError("the PEM data holds no key: expected a PUBLIC KEY, a PRIVATE KEY or a CERTIFICATE block")


def public_jwk(key: t.Any) -> dict[str, str]:
    """The public members of a cryptography public key as a JWK (RFC 7518 section 6)."""
    _x509, _serialization, ec, rsa = _crypto()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise JWKError(f"the RSA key has {key.key_size} bits; RFC 7518 section 3.3 requires at least {MIN_RSA_BITS}")
        numbers = key.public_numbers()
        return {"kty": "RSA", "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = EC_CURVES.get(key.curve.name)
        if curve is None:
            supported = ", ".join(c[0] for c in EC_CURVES.values())
            raise JWKError(f"the EC key is on curve {key.curve.name}; the filters support {supported}")
        crv, _alg, size = curve
        numbers = key.public_numbers()
        return {"kty": "EC", "crv": crv, "x": b64url_uint(numbers.x, size), "y": b64url_uint(numbers.y, size)}
    raise JWKError(
        f"unsupported key type {_key_kind(key)}: the key must be RSA (RS256 and friends) or EC on P-256, P-384 or P-521 (ES256, ES384, ES512)"
    )


def default_alg(jwk: Mapping[str, str]) -> str:
    if jwk["kty"] == "RSA":
        return "RS256"
    return next(alg for crv, alg, _size in EC_CURVES.values() if crv == jwk["crv"])


def check_alg(jwk: Mapping[str, str], alg: t.Any) -> str:
    """Return ``alg`` if the key can sign with it (RFC 7518 section 3.1), else raise."""
    if not isinstance(alg, str) or not alg:
        raise JWKError(f"alg must be a non-empty string, got {_type_name(alg)}")
    if jwk["kty"] == "RSA":
        if alg not in RSA_ALGORITHMS:
            raise JWKError(f"alg {alg} does not fit an RSA key; choose one of {', '.join(RSA_ALGORITHMS)}")
        return alg
    wanted = default_alg(jwk)
    if alg != wanted:
        raise JWKError(f"alg {alg} does not fit an EC key on {jwk['crv']}; RFC 7518 section 3.4 pairs that curve with {wanted}")
    return alg


def thumbprint(jwk: t.Any) -> str:
    """RFC 7638 JWK thumbprint: base64url(SHA-256(the required members as compact, sorted JSON))."""
    if not isinstance(jwk, Mapping):
        raise JWKError(f"expected a JWK dict, got {_type_name(jwk)}")
    if "keys" in jwk and "kty" not in jwk:
        keys = jwk["keys"]
        if not isinstance(keys, list) or len(keys) != 1:
            raise JWKError("a JWKS dict must hold exactly one key to have one thumbprint; pick the key from its 'keys' list")
        jwk = keys[0]
        if not isinstance(jwk, Mapping):
            raise JWKError(f"the JWKS 'keys' list holds {_type_name(jwk)}, not a JWK dict")
    kty = jwk.get("kty")
    if kty not in THUMBPRINT_MEMBERS:
        raise JWKError(f"unsupported JWK kty {kty!r}; expected one of {', '.join(THUMBPRINT_MEMBERS)}")
    members = {}
    for name in THUMBPRINT_MEMBERS[kty]:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise JWKError(f"the {kty} JWK lacks its required member {name!r} (a non-empty string)")
        members[name] = value
    # RFC 7638 section 3.3: lexicographic order, no whitespace, UTF-8.
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def jwk_from_pem(pem: t.Any, *, kid: t.Any = None, alg: t.Any = None, use: t.Any = "sig", passphrase: t.Any = None) -> dict[str, str]:
    """One public JWK with kid (given, else the RFC 7638 thumbprint), use and alg."""
    jwk = public_jwk(load_public_key(pem, passphrase))
    if kid is None:
        kid = thumbprint(jwk)
    elif not isinstance(kid, str) or not kid:
        raise JWKError(f"kid must be a non-empty string, got {_type_name(kid)}")
    if use not in KEY_USES:
        raise JWKError(f"use must be one of {', '.join(KEY_USES)}, got {use!r}")
    jwk["kid"] = kid
    jwk["use"] = use
    jwk["alg"] = default_alg(jwk) if alg is None else check_alg(jwk, alg)
    # Belt and braces: only public members, whatever the code above becomes.
    allowed = set(PUBLIC_MEMBERS[jwk["kty"]]) | {"kid", "use", "alg"}
    return {name: value for name, value in jwk.items() if name in allowed}


def jwks(pems: t.Any, *, kid: t.Any = None, alg: t.Any = None, use: t.Any = "sig", passphrase: t.Any = None) -> dict[str, list[dict[str, str]]]:
    """A JWKS ``{"keys": [...]}`` of one PEM key, or of a list of them (key rotation).

    With a list, ``kid`` and ``alg`` may be lists of the same length (or one value for all alg;
    kid must then be a list or left out, so that no two keys share a kid).
    """
    if not isinstance(pems, (list, tuple)):
        if isinstance(kid, (list, tuple)) or isinstance(alg, (list, tuple)):
            raise JWKError("kid and alg are lists only when the input is a list of PEM keys")
        return {"keys": [jwk_from_pem(pems, kid=kid, alg=alg, use=use, passphrase=passphrase)]}
    if not pems:
        raise JWKError("the list of PEM keys is empty")
    count = len(pems)
    kids = _per_key(kid, count, "kid", single_allowed=False)
    algs = _per_key(alg, count, "alg", single_allowed=True)
    passphrases = _per_key(passphrase, count, "passphrase", single_allowed=True)
    keys = []
    for index, pem in enumerate(pems):
        try:
            keys.append(jwk_from_pem(pem, kid=kids[index], alg=algs[index], use=use, passphrase=passphrases[index]))
        except MissingCryptographyError:
            raise
        except JWKError as exc:
            raise JWKError(f"key {index + 1} of {count}: {exc}") from None
    seen: set[str] = set()
    for key in keys:
        if key["kid"] in seen:
            raise JWKError(f"two keys share the kid {key['kid']!r}; a JWKS needs a distinct kid per key")
        seen.add(key["kid"])
    return {"keys": keys}


def jwk_thumbprint(value: t.Any, *, passphrase: t.Any = None) -> str:
    """Thumbprint of a JWK dict, a one-key JWKS dict, or a PEM key (its public part)."""
    if isinstance(value, Mapping):
        if passphrase is not None:
            raise JWKError("passphrase applies to a PEM private key only, not to a JWK dict")
        return thumbprint(value)
    return thumbprint(public_jwk(load_public_key(value, passphrase)))


def _per_key(value: t.Any, count: int, name: str, *, single_allowed: bool) -> list[t.Any]:
    if value is None:
        return [None] * count
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise JWKError(f"{name} has {len(value)} entries for {count} keys")
        return list(value)
    if single_allowed:
        return [value] * count
    raise JWKError(f"with a list of keys, {name} must be a list with one entry per key (or left out)")


def _type_name(value: t.Any) -> str:
    if value is None:
        return "nothing (None)"
    return type(value).__name__


def _key_kind(key: t.Any) -> str:
    name = type(key).__name__.lstrip("_")
    return name.replace("PublicKey", "") or name


__all__ = [
    "EC_CURVES",
    "JWKError",
    "MIN_CRYPTOGRAPHY_VERSION",
    "MissingCryptographyError",
    "RSA_ALGORITHMS",
    "b64url_uint",
    "jwk_from_pem",
    "jwk_thumbprint",
    "jwks",
    "load_public_key",
    "public_jwk",
    "thumbprint",
]
