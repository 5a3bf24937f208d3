# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import CredentialError, TokenError
from ansible_collections.scimkit.atlassian.plugins.module_utils._token import (
    JWT_BEARER,
    AccessToken,
    ClientCredentials,
    build_assertion,
    load_signing_key,
    parse_token_response,
    token_request_body,
)

CLIENT_ID = "unit-client-7f3a9c2e1b"
KEY_ID = "unit-kid-2026"
PASSPHRASE = "correct-horse-battery-staple-unit"


def pem(key, passphrase=None):
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def creds(rsa_key):
    return ClientCredentials(client_id=CLIENT_ID, key_id=KEY_ID, private_key=pem(rsa_key),
                             token_url="https://auth.example.test:8443/oauth/token")


def test_assertion_header_and_claims(creds, rsa_key):
    token = build_assertion(creds, now=1_800_000_000, jti="fixed-jti")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": KEY_ID, "typ": "JWT"}
    claims = jwt.decode(token, rsa_key.public_key(), algorithms=["RS256"], audience="https://auth.example.test:8443",
                        options={"verify_exp": False, "verify_iat": False})
    assert claims == {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": "https://auth.example.test:8443",
                      "iat": 1_800_000_000, "exp": 1_800_000_300, "jti": "fixed-jti"}


def test_every_assertion_has_a_fresh_jti(creds):
    first, second = (jwt.decode(build_assertion(creds), options={"verify_signature": False}) for attempt in (1, 2))
    assert first["jti"] != second["jti"]
    assert first["exp"] - first["iat"] == 300


def test_default_audience_is_the_atlassian_origin():
    assert ClientCredentials(client_id="c").effective_audience == "https://auth.atlassian.com"
    assert ClientCredentials(client_id="c", audience="https://oasis.example").effective_audience == "https://oasis.example"


@pytest.mark.parametrize("algorithm", ["RS384", "RS512", "PS256"])
def test_other_rsa_algorithms_sign(rsa_key, algorithm):
    creds = ClientCredentials(client_id=CLIENT_ID, key_id=KEY_ID, private_key=pem(rsa_key), algorithm=algorithm)
    token = build_assertion(creds)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    jwt.decode(token, rsa_key.public_key(), algorithms=[algorithm], audience=creds.effective_audience)


def test_es256_signs_with_a_p256_key():
    key = ec.generate_private_key(ec.SECP256R1())
    creds = ClientCredentials(client_id=CLIENT_ID, key_id=KEY_ID, private_key=pem(key), algorithm="ES256")
    jwt.decode(build_assertion(creds), key.public_key(), algorithms=["ES256"], audience=creds.effective_audience)


def test_encrypted_key_with_passphrase(rsa_key):
    key = load_signing_key(pem(rsa_key, PASSPHRASE), PASSPHRASE, "RS256")
    assert key.key_size == 2048


@pytest.mark.parametrize(
    ("make_pem", "passphrase", "algorithm", "message"),
    [
        (lambda k: pem(k, PASSPHRASE), None, "RS256", "is encrypted"),
        (lambda k: pem(k, PASSPHRASE), "wrong-passphrase-unit", "RS256", "passphrase is wrong"),
        (pem, PASSPHRASE, "RS256", "not encrypted"),
        (lambda k: "this is not a key", None, "RS256", "not in PEM format"),
        (lambda k: "$ANSIBLE_VAULT;1.1;AES256\n6162636465\n", None, "RS256",
         r"Ansible Vault .*lookup\('ansible.builtin.file', 'path/to/key.pem'\)"),
        (lambda k: "-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n", None, "RS256", "damaged"),
        (lambda k: k.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
         None, "RS256", "public key"),
        (lambda k: pem(ec.generate_private_key(ec.SECP256R1())), None, "RS256", "needs an RSA private key"),
        (pem, None, "ES256", "needs an EC private key"),
        (lambda k: pem(ec.generate_private_key(ec.SECP384R1())), None, "ES256", "curve P-256"),
    ],
)
def test_unusable_keys_are_explained(rsa_key, make_pem, passphrase, algorithm, message):
    text = make_pem(rsa_key)
    with pytest.raises(CredentialError, match=message) as caught:
        load_signing_key(text, passphrase, algorithm)
    assert "PRIVATE KEY-----" not in str(caught.value)
    assert PASSPHRASE not in str(caught.value)


def test_short_rsa_keys_are_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(CredentialError, match="at least 2048"):
        load_signing_key(pem(small), None, "RS256")


def test_assertion_request_body(creds):
    body = token_request_body(creds)
    assert body["grant_type"] == "client_credentials"
    assert body["client_id"] == CLIENT_ID
    assert body["scope"] == "manage:directory"
    assert body["client_assertion_type"] == JWT_BEARER
    assert body["client_assertion"].count(".") == 2
    assert "client_secret" not in body


def test_secret_request_body():
    body = token_request_body(ClientCredentials(client_id=CLIENT_ID, client_secret="s3cr3t-unit-value"))
    assert body == {"grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": "manage:directory",
                    "client_secret": "s3cr3t-unit-value"}


def test_repr_hides_secrets(creds):
    assert "PRIVATE KEY" not in repr(creds)
    assert "opaque-token-value" not in repr(AccessToken("opaque-token-value", "Bearer", 60, 1, None))


def test_successful_token_response():
    text = json.dumps({"access_token": "tok-unit-123", "token_type": "bearer", "expires_in": 3600,
                       "scope": "manage:directory"})
    token = parse_token_response(200, text, "application/json", "https://a/oauth/token", requested_at=1000.0)
    assert (token.value, token.token_type, token.expires_in, token.expires_at, token.scope) == (
        "tok-unit-123", "Bearer", 3600, 4600, "manage:directory")


@pytest.mark.parametrize(
    ("status", "text", "content_type", "message"),
    [
        (401, '{"error": "invalid_client", "error_description": "unknown kid abc"}', "application/json",
         r"HTTP 401 invalid_client: unknown kid abc\. invalid_client means the server did not authenticate the client\. "
         r"The server's own description above tells the cause\.$"),
        (401, '{"error": "invalid_client"}', "application/json",
         r"HTTP 401 invalid_client\. invalid_client means .* Usual causes: an unknown client_id; .*key_id.*clock"),
        (400, '{"error": "invalid_client", "error_description": "Client authentication failed"}', "application/json",
         r"HTTP 400 invalid_client: Client authentication failed\. .* Usual causes: an unknown client_id; .*key_id.*clock"),
        (400, '{"error": "invalid_scope"}', "application/json", "invalid_scope.*manage:directory"),
        (500, "<html><body><h1>Internal Server Error</h1></body></html>", "text/html",
         r"HTTP 500 with a non-JSON body \(text/html\): 'Internal Server Error'"),
        (502, "", "text/plain", "HTTP 502 with an empty body"),
        (200, "not json at all", "text/plain", "HTTP 200 with a non-JSON body"),
        (200, '{"token_type": "Bearer"}', "application/json", "without an access_token"),
        (200, '{"access_token": "x", "token_type": "mac"}', "application/json", "only Bearer"),
    ],
)
def test_token_errors_name_the_cause(status, text, content_type, message):
    with pytest.raises(TokenError, match=message) as caught:
        parse_token_response(status, text, content_type, "https://a/oauth/token", requested_at=0)
    assert caught.value.status == status or caught.value.status is None


def test_token_renewal_margin():
    token = AccessToken("v", "Bearer", 3600, expires_at=10_000, scope=None)
    assert not token.needs_renewal(10_000 - 61)
    assert token.needs_renewal(10_000 - 59)
    short = AccessToken("v", "Bearer", 100, expires_at=10_000, scope=None)
    assert not short.needs_renewal(10_000 - 11)
    assert short.needs_renewal(10_000 - 9)
    assert not AccessToken("v", "Bearer", None, None, None).needs_renewal(time.time())


def test_an_unreadable_success_answer_is_not_quoted_as_it_may_hold_a_token():
    body = "access_token=tok-secret-form-encoded-123&token_type=bearer"
    with pytest.raises(TokenError) as caught:
        parse_token_response(200, body, "application/x-www-form-urlencoded", "https://a/oauth/token", requested_at=0)
    assert "tok-secret-form-encoded-123" not in str(caught.value)
    assert "HTTP 200 with a non-JSON body (application/x-www-form-urlencoded" in str(caught.value)


@pytest.mark.parametrize("description", ["jti replayed", "assertion jti already used", "client is disabled"])
def test_a_described_oauth_error_is_quoted_and_not_second_guessed(description):
    """The server named its cause: the hint must not send the admin to check keys and clocks that are fine."""
    text = json.dumps({"error": "invalid_client", "error_description": description})
    with pytest.raises(TokenError) as caught:
        parse_token_response(401, text, "application/json", "https://a/oauth/token", requested_at=0)
    message = str(caught.value)
    assert f"HTTP 401 invalid_client: {description}." in message
    assert "key_id" not in message and "clock" not in message and "private key" not in message
    assert caught.value.error == "invalid_client" and caught.value.error_description == description


@pytest.mark.parametrize(("error", "hint"), [
    ("invalid_grant", "refused the grant"),
    ("unauthorized_client", "may not use the client-credentials grant"),
    ("invalid_request", "token_request_format"),
    ("unsupported_grant_type", "does not offer the client-credentials grant"),
])
def test_each_oauth_error_says_what_it_usually_means(error, hint):
    with pytest.raises(TokenError, match=f"HTTP 400 {error}\\. .*{hint}"):
        parse_token_response(400, json.dumps({"error": error}), "application/json", "https://a/oauth/token", 0)


def test_a_huge_token_error_body_is_cut_before_it_is_parsed():
    text = json.dumps({"error": "invalid_request", "error_description": "x" * 200_000})
    with pytest.raises(TokenError, match=r"HTTP 400 with a non-JSON body .*\.\.\.'"):
        parse_token_response(400, text, "application/json", "https://a/oauth/token", requested_at=0)
