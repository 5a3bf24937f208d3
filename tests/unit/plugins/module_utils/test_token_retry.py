# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Token requests through the real HttpClient against a scripted token endpoint on 127.0.0.1.

The endpoint consumes every assertion's jti, as a strict authorization server does; so a
resent assertion (the transport retrying the same body) earns ``invalid_client: jti replayed``.
"""

from __future__ import annotations

import collections
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import TokenError, TransportError
from ansible_collections.scimkit.atlassian.plugins.module_utils._http import HttpClient, HttpSettings
from ansible_collections.scimkit.atlassian.plugins.module_utils._token import (
    ClientCredentials,
    ClientCredentialsProvider,
    exchange,
)


class TokenServer(ThreadingHTTPServer):
    """``script``: what to do with each request in turn ("lose", a status, or "redirect"); then 200."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), TokenHandler)
        self.script = collections.deque()
        self.bodies = []
        self.seen_jti = set()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/oauth/token"


class TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        srv = self.server
        srv.bodies.append(body)
        assertion = body.get("client_assertion")
        replayed = False
        if assertion:
            jti = jwt.decode(assertion, options={"verify_signature": False})["jti"]
            replayed = jti in srv.seen_jti
            srv.seen_jti.add(jti)
        action = srv.script.popleft() if srv.script else 200
        if action == "lose":  # consumed, then the answer is lost
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if replayed:
            self._send(401, {"error": "invalid_client", "error_description": "jti replayed"})
        elif action == "redirect":
            self._send(307, {}, {"Location": "http://192.0.2.1/oauth/token"})
        elif action == 200:
            self._send(200, {"access_token": f"tok-{uuid.uuid4().hex}", "token_type": "Bearer", "expires_in": 3600})
        else:
            self._send(action, {"error": "temporarily_unavailable"}, {"Retry-After": "0"})

    def _send(self, status, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def token_server():
    srv = TokenServer()
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def private_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def http_client(max_retries=3):
    return HttpClient(HttpSettings(max_retries=max_retries, backoff_factor=0, timeout=5))


def provider(token_server, private_pem, http, **kwargs):
    creds = ClientCredentials(client_id=f"unit-{uuid.uuid4().hex}", token_url=token_server.url, key_id="kid-1",
                              private_key=private_pem, **kwargs)
    secrets = []
    return ClientCredentialsProvider(http, creds, on_secret=secrets.append), secrets


def jtis(token_server):
    return [jwt.decode(body["client_assertion"], options={"verify_signature": False})["jti"]
            for body in token_server.bodies]


@pytest.mark.parametrize("failure", ["lose", 429, 500, 502, 503, 504])
def test_an_ambiguous_failure_is_retried_with_a_newly_signed_assertion(token_server, private_pem, failure):
    token_server.script.extend([failure, failure])
    tokens, secrets = provider(token_server, private_pem, http_client())
    assert tokens.token().startswith("tok-")
    sent = jtis(token_server)
    assert len(sent) == 3 and len(set(sent)) == 3  # three requests, three different assertions
    assert secrets == [body["client_assertion"] for body in token_server.bodies]  # each one masked


def test_retries_are_bounded_by_max_retries(token_server, private_pem):
    token_server.script.extend([503] * 10)
    tokens, _secrets = provider(token_server, private_pem, http_client(max_retries=2))
    with pytest.raises(TokenError, match="HTTP 503 temporarily_unavailable"):
        tokens.token()
    assert len(token_server.bodies) == 3


def test_a_lost_answer_on_the_last_try_is_reported(token_server, private_pem):
    token_server.script.extend(["lose"] * 2)
    tokens, _secrets = provider(token_server, private_pem, http_client(max_retries=1))
    with pytest.raises(TransportError, match="broke during POST /oauth/token"):
        tokens.token()
    assert len(set(jtis(token_server))) == 2


@pytest.mark.parametrize("answer", [400, 401, "redirect"])
def test_a_definite_answer_is_not_retried(token_server, private_pem, answer):
    token_server.script.append(answer)
    tokens, _secrets = provider(token_server, private_pem, http_client())
    with pytest.raises((TokenError, TransportError)):
        tokens.token()
    assert len(token_server.bodies) == 1


def test_a_client_secret_request_is_retried_too(token_server):
    token_server.script.extend(["lose", 503])
    http = http_client()
    creds = ClientCredentials(client_id=f"unit-{uuid.uuid4().hex}", token_url=token_server.url,
                              client_secret="s3cret-unit")
    http.send_once_to(creds.token_url)
    assert exchange(http, creds).value.startswith("tok-")
    assert [body["client_secret"] for body in token_server.bodies] == ["s3cret-unit"] * 3
