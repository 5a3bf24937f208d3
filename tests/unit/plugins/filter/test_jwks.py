# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of the filters scimkit.atlassian.jwks and scimkit.atlassian.jwk_thumbprint."""

from __future__ import annotations

import builtins
import datetime
import json
import time

import jwt
import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.scimkit.atlassian.plugins.filter import jwk_thumbprint as thumbprint_plugin
from ansible_collections.scimkit.atlassian.plugins.filter import jwks as jwks_plugin
from ansible_collections.scimkit.atlassian.plugins.filter.jwk_thumbprint import jwk_thumbprint_filter
from ansible_collections.scimkit.atlassian.plugins.filter.jwks import jwks_filter
from ansible_collections.scimkit.atlassian.plugins.plugin_utils import _jwk

# RFC 7638 section 3.1: the example RSA key and its published SHA-256 thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
    "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbIS"
    "D08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_JWK = {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

# RFC 8037 appendix A.3: an Ed25519 public JWK and its thumbprint.
RFC8037_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

PASSPHRASE = "unit-passphrase-6d1f0c9a7e3b-correct-horse"
WRONG_PASSPHRASE = "unit-wrong-passphrase-0b9e44d2c1"

RSA_PUBLIC = {"kty", "n", "e", "kid", "use", "alg"}
EC_PUBLIC = {"kty", "crv", "x", "y", "kid", "use", "alg"}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def b64(value: int, length: int | None = None) -> str:
    return _jwk.b64url_uint(value, length)


def private_pem(key, passphrase: str | None = None, fmt=serialization.PrivateFormat.PKCS8) -> str:
    encryption = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()


def public_pem(key, fmt=serialization.PublicFormat.SubjectPublicKeyInfo) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, fmt).decode()


def certificate_pem(key) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scim-service-account")])
    now = time.time()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime.fromtimestamp(now - 60, datetime.timezone.utc))
        .not_valid_after(datetime.datetime.fromtimestamp(now + 86400, datetime.timezone.utc))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def private_values(key) -> list[str]:
    """The base64url forms of every private number of ``key``: none may appear in an output."""
    numbers = key.private_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        values = [numbers.d, numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp]
    else:
        values = [numbers.private_value]
    size = (key.key_size + 7) // 8
    return [b64(v) for v in values] + [b64(v, size) for v in values]


# --- jwk_thumbprint ------------------------------------------------------------------------------


def test_rfc7638_example_thumbprint():
    assert jwk_thumbprint_filter(RFC7638_JWK) == RFC7638_THUMBPRINT


def test_rfc7638_thumbprint_ignores_optional_and_private_members():
    jwk = dict(RFC7638_JWK, kid="other", use="sig", d="AAAA", p="BBBB")
    assert jwk_thumbprint_filter(jwk) == RFC7638_THUMBPRINT
    assert jwk_thumbprint_filter({"keys": [jwk]}) == RFC7638_THUMBPRINT


def test_rfc7638_example_key_as_pem():
    """The RFC's key, written as a PEM public key, gives the RFC's members and thumbprint."""
    n = int.from_bytes(_jwk.base64.urlsafe_b64decode(RFC7638_N + "=" * (-len(RFC7638_N) % 4)), "big")
    pem = rsa.RSAPublicNumbers(65537, n).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    assert jwk_thumbprint_filter(pem) == RFC7638_THUMBPRINT
    key = jwks_filter(pem)["keys"][0]
    assert key == {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "kid": RFC7638_THUMBPRINT, "use": "sig", "alg": "RS256"}


def test_rfc8037_okp_thumbprint():
    assert jwk_thumbprint_filter(RFC8037_JWK) == RFC8037_THUMBPRINT


def test_thumbprint_of_pem_matches_thumbprint_of_its_jwk(rsa_key, ec_key):
    for key in (rsa_key, ec_key):
        jwk = jwks_filter(private_pem(key))["keys"][0]
        assert jwk_thumbprint_filter(private_pem(key)) == jwk_thumbprint_filter(jwk) == jwk["kid"]
        assert jwk_thumbprint_filter(public_pem(key)) == jwk["kid"]
        assert len(jwk["kid"]) == 43


def test_thumbprint_of_encrypted_key(rsa_key):
    pem = private_pem(rsa_key, PASSPHRASE)
    assert jwk_thumbprint_filter(pem, passphrase=PASSPHRASE) == jwk_thumbprint_filter(public_pem(rsa_key))


@pytest.mark.parametrize(
    ("value", "cause"),
    [
        ({"kty": "RSA", "n": RFC7638_N}, "required member 'e'"),
        ({"kty": "EC", "crv": "P-256", "x": "abc"}, "required member 'y'"),
        ({"kty": "RSA", "n": RFC7638_N, "e": 65537}, "required member 'e'"),
        ({"kty": "XYZ"}, "unsupported JWK kty 'XYZ'"),
        ({"n": RFC7638_N, "e": "AQAB"}, "unsupported JWK kty None"),
        ({"keys": []}, "exactly one key"),
        ({"keys": [RFC7638_JWK, RFC8037_JWK]}, "exactly one key"),
        ({"keys": ["x"]}, "not a JWK dict"),
        (42, "expected a PEM key as a string, got int"),
        (None, "got nothing (None)"),
        ("not a key", "not a PEM key"),
    ],
)
def test_thumbprint_errors_name_the_cause(value, cause):
    with pytest.raises(AnsibleFilterError, match="^scimkit.atlassian.jwk_thumbprint: ") as info:
        jwk_thumbprint_filter(value)
    assert cause in str(info.value)


def test_thumbprint_passphrase_with_a_dict_is_an_error():
    with pytest.raises(AnsibleFilterError, match="PEM private key only"):
        jwk_thumbprint_filter(RFC7638_JWK, passphrase=PASSPHRASE)


# --- jwks: shape and public members only ---------------------------------------------------------


@pytest.mark.parametrize(
    "fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.OpenSSH]
)
def test_rsa_private_key_gives_only_public_members(rsa_key, fmt):
    result = jwks_filter(private_pem(rsa_key, fmt=fmt), kid="scim-provisioning-2026")
    assert list(result) == ["keys"] and len(result["keys"]) == 1
    key = result["keys"][0]
    assert set(key) == RSA_PUBLIC
    numbers = rsa_key.public_key().public_numbers()
    assert key == {
        "kty": "RSA",
        "n": b64(numbers.n),
        "e": "AQAB",
        "kid": "scim-provisioning-2026",
        "use": "sig",
        "alg": "RS256",
    }
    text = json.dumps(result)
    assert not PRIVATE_MEMBERS & set(key)
    for secret in private_values(rsa_key):
        assert secret not in text


@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL])
def test_ec_private_key_gives_only_public_members(ec_key, fmt):
    key = jwks_filter(private_pem(ec_key, fmt=fmt))["keys"][0]
    assert set(key) == EC_PUBLIC
    numbers = ec_key.public_key().public_numbers()
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256" and key["use"] == "sig"
    assert key["x"] == b64(numbers.x, 32) and key["y"] == b64(numbers.y, 32)
    assert len(key["x"]) == len(key["y"]) == 43
    assert key["kid"] == jwk_thumbprint_filter(key)
    text = json.dumps(key)
    for secret in private_values(ec_key):
        assert secret not in text


def test_ec_coordinates_keep_leading_zero_octets():
    """RFC 7518 section 6.2.1.2: x and y are the full curve length, even when they start with 0x00."""
    for _attempt in range(2000):
        key = ec.generate_private_key(ec.SECP256R1())
        if key.public_key().public_numbers().x < 1 << 248:
            break
    else:  # pragma: no cover - probability 0.9961 ** 2000
        pytest.skip("no key with a short x coordinate found")
    jwk = jwks_filter(public_pem(key))["keys"][0]
    assert len(jwk["x"]) == 43
    assert _jwk.base64.urlsafe_b64decode(jwk["x"] + "=")[0] == 0


@pytest.mark.parametrize(("curve", "crv", "alg", "length"), [(ec.SECP384R1(), "P-384", "ES384", 64), (ec.SECP521R1(), "P-521", "ES512", 88)])
def test_other_nist_curves(curve, crv, alg, length):
    key = jwks_filter(private_pem(ec.generate_private_key(curve)))["keys"][0]
    assert (key["crv"], key["alg"], len(key["x"]), len(key["y"])) == (crv, alg, length, length)


def test_public_key_forms(rsa_key, ec_key):
    expected = jwks_filter(private_pem(rsa_key))
    assert jwks_filter(public_pem(rsa_key)) == expected
    assert jwks_filter(public_pem(rsa_key, serialization.PublicFormat.PKCS1)) == expected
    assert jwks_filter(certificate_pem(rsa_key)) == expected
    assert jwks_filter(public_pem(ec_key)) == jwks_filter(certificate_pem(ec_key))


def test_bytes_and_trimmed_input(rsa_key):
    """lookup('file') strips the final newline; bytes come from b64decode and friends."""
    pem = private_pem(rsa_key)
    assert jwks_filter(pem.strip()) == jwks_filter(pem) == jwks_filter(pem.encode())
    assert jwks_filter(pem.replace("\n", "\r\n")) == jwks_filter(pem)


def test_vault_encrypted_input_is_decrypted(rsa_key):
    class FakeVaultString:  # what ansible-core < 2.19 passes for a !vault value
        __ENCRYPTED__ = True

        def __init__(self, text):
            self.text = text

        def __str__(self):
            return self.text

    pem = private_pem(rsa_key, PASSPHRASE)
    assert jwks_filter(FakeVaultString(pem), passphrase=FakeVaultString(PASSPHRASE)) == jwks_filter(public_pem(rsa_key))


def test_encrypted_private_key_with_passphrase(rsa_key):
    assert jwks_filter(private_pem(rsa_key, PASSPHRASE), passphrase=PASSPHRASE) == jwks_filter(public_pem(rsa_key))
    assert jwks_filter(private_pem(rsa_key, PASSPHRASE), passphrase=PASSPHRASE.encode()) == jwks_filter(public_pem(rsa_key))


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"])
def test_rsa_alg_override(rsa_key, alg):
    assert jwks_filter(public_pem(rsa_key), alg=alg)["keys"][0]["alg"] == alg


def test_use_enc(rsa_key):
    assert jwks_filter(public_pem(rsa_key), use="enc")["keys"][0]["use"] == "enc"


# --- jwks: errors ----------------------------------------------------------------------------------


def _jwks_error(*args, **kwargs) -> str:
    with pytest.raises(AnsibleFilterError, match="^scimkit.atlassian.jwks: ") as info:
        jwks_filter(*args, **kwargs)
    return str(info.value)


def test_garbage_is_refused_without_echoing_it():
    secret_garbage = "unit-garbage-that-must-not-be-echoed-4e8f2a"
    message = _jwks_error(secret_garbage)
    assert "not a PEM key" in message and secret_garbage not in message
    assert "expected a PEM key as a string, got dict" in _jwks_error({"kty": "RSA"})
    assert "got nothing (None)" in _jwks_error(None)


def test_damaged_pem(rsa_key):
    pem = private_pem(rsa_key)
    lines = pem.splitlines()
    damaged = "\n".join(lines[:3] + ["!!!not-base64!!!"] + lines[4:])
    assert "could not be read" in _jwks_error(damaged)
    pub = public_pem(rsa_key).replace("MII", "XXX", 1)
    assert "public key could not be read" in _jwks_error(pub)
    cert = certificate_pem(rsa_key).replace("MII", "XXX", 1)
    assert "certificate could not be read" in _jwks_error(cert)
    assert "holds no key" in _jwks_error("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")


def test_encrypted_key_without_passphrase(rsa_key):
    assert "the private key is encrypted; pass its passphrase" in _jwks_error(private_pem(rsa_key, PASSPHRASE))


def test_wrong_passphrase_is_not_echoed(rsa_key):
    message = _jwks_error(private_pem(rsa_key, PASSPHRASE), passphrase=WRONG_PASSPHRASE)
    assert "passphrase is wrong" in message
    assert WRONG_PASSPHRASE not in message and PASSPHRASE not in message


def test_passphrase_for_unencrypted_key(rsa_key):
    assert "not encrypted" in _jwks_error(private_pem(rsa_key), passphrase=PASSPHRASE)
    # An empty passphrase (an unset variable defaulted to '') means none.
    assert jwks_filter(private_pem(rsa_key), passphrase="") == jwks_filter(public_pem(rsa_key))
    assert "passphrase must be a string" in _jwks_error(private_pem(rsa_key), passphrase=1234)


@pytest.mark.parametrize(
    ("make_key", "cause"),
    [
        (ed25519.Ed25519PrivateKey.generate, "unsupported key type Ed25519"),
        (lambda: dsa.generate_private_key(2048), "unsupported key type DSA"),
        (lambda: ec.generate_private_key(ec.SECP256K1()), "curve secp256k1"),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024), "1024 bits"),
    ],
)
def test_unsupported_keys(make_key, cause):
    key = make_key()
    assert cause in _jwks_error(private_pem(key))
    assert cause in _jwks_error(public_pem(key))
    with pytest.raises(AnsibleFilterError, match=cause):
        jwk_thumbprint_filter(public_pem(key))


def test_alg_must_fit_the_key(rsa_key, ec_key):
    assert "does not fit an RSA key" in _jwks_error(public_pem(rsa_key), alg="ES256")
    assert "does not fit an RSA key" in _jwks_error(public_pem(rsa_key), alg="HS256")
    assert "pairs that curve with ES256" in _jwks_error(public_pem(ec_key), alg="ES384")
    assert "pairs that curve with ES256" in _jwks_error(public_pem(ec_key), alg="RS256")
    assert "alg must be a non-empty string" in _jwks_error(public_pem(ec_key), alg="")


def test_kid_and_use_are_checked(rsa_key):
    assert "kid must be a non-empty string, got int" in _jwks_error(public_pem(rsa_key), kid=7)
    assert "kid must be a non-empty string" in _jwks_error(public_pem(rsa_key), kid="")
    assert "use must be one of sig, enc" in _jwks_error(public_pem(rsa_key), use="signing")
    assert "lists only when the input is a list" in _jwks_error(public_pem(rsa_key), kid=["a"])


# --- jwks: several keys (rotation) -----------------------------------------------------------------


def test_list_of_keys(rsa_key, ec_key):
    result = jwks_filter([private_pem(rsa_key), public_pem(ec_key)], kid=["old", "new"])
    assert [(k["kid"], k["kty"], k["alg"]) for k in result["keys"]] == [("old", "RSA", "RS256"), ("new", "EC", "ES256")]
    default_kids = jwks_filter([public_pem(rsa_key), public_pem(ec_key)])
    assert [k["kid"] for k in default_kids["keys"]] == [jwk_thumbprint_filter(public_pem(rsa_key)), jwk_thumbprint_filter(public_pem(ec_key))]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert [k["alg"] for k in jwks_filter([public_pem(rsa_key), public_pem(other)], alg="PS256")["keys"]] == ["PS256", "PS256"]
    encrypted = jwks_filter([private_pem(rsa_key, PASSPHRASE), private_pem(other)], passphrase=[PASSPHRASE, None])
    assert encrypted == jwks_filter([public_pem(rsa_key), public_pem(other)])


def test_list_errors(rsa_key, ec_key):
    assert "the list of PEM keys is empty" in _jwks_error([])
    assert "kid has 1 entries for 2 keys" in _jwks_error([public_pem(rsa_key), public_pem(ec_key)], kid=["a"])
    assert "kid must be a list" in _jwks_error([public_pem(rsa_key), public_pem(ec_key)], kid="a")
    assert "share the kid" in _jwks_error([public_pem(rsa_key), private_pem(rsa_key)])
    assert "key 2 of 2: the input is not a PEM key" in _jwks_error([public_pem(rsa_key), "garbage"])


# --- round trip: the JWKS verifies what the private key signs ----------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_jwks_verifies_a_jwt_signed_by_the_private_key(rsa_key, ec_key, alg):
    key = ec_key if alg == "ES256" else rsa_key
    other = ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    document = jwks_filter([private_pem(other), private_pem(key)], kid=["other-kid", "scim-2026"], alg=alg)
    claims = {"iss": "unit-client", "sub": "unit-client", "aud": "https://auth.example.test", "exp": int(time.time()) + 300}
    token = jwt.encode(claims, key, algorithm=alg, headers={"kid": "scim-2026"})

    # As an authorization server does: pick the key by the kid of the JWT header, then verify.
    key_set = jwt.PyJWKSet.from_json(json.dumps(document))
    signing_key = next(k for k in key_set.keys if k.key_id == jwt.get_unverified_header(token)["kid"])
    assert jwt.decode(token, signing_key.key, algorithms=[alg], audience="https://auth.example.test") == claims

    # The other key of the set does not verify it.
    wrong = next(k for k in key_set.keys if k.key_id == "other-kid")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, wrong.key, algorithms=[alg], audience="https://auth.example.test")


# --- plugin wiring -------------------------------------------------------------------------------------


def test_filter_modules_export_their_filters():
    assert jwks_plugin.FilterModule().filters() == {"jwks": jwks_filter}
    assert thumbprint_plugin.FilterModule().filters() == {"jwk_thumbprint": jwk_thumbprint_filter}


def test_missing_cryptography_is_reported(monkeypatch, rsa_key):
    pem = public_pem(rsa_key)
    real_import = builtins.__import__

    def no_cryptography(name, *args, **kwargs):
        if name == "cryptography" or name.startswith("cryptography."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cryptography)
    message = _jwks_error(pem)
    assert "cryptography (>= 41.0.0) is needed on the Ansible controller" in message
    with pytest.raises(AnsibleFilterError, match="cryptography"):
        jwk_thumbprint_filter(pem)
    # A JWK dict needs no cryptography.
    assert jwk_thumbprint_filter(RFC7638_JWK) == RFC7638_THUMBPRINT
