# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""TLS and the plain-http rule, against a sandbox serving HTTPS with a test CA nobody trusts.

All cases run in one playbook (targets/bad_input_matrix/cases.yml). The run's environment sets
REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE, as many CI images and corporate machines do: they must
not override what the task says (ca_path, validate_certs).
"""

from __future__ import annotations

import re
import socket
from types import SimpleNamespace

import certifi
import pytest
from security_support import CaseRunner
from sandbox import Sandbox


@pytest.fixture(scope="module")
def tls_sandbox(sandbox_server):
    # Same state dir, so the same client id, key and API key work against both sandboxes.
    with Sandbox(state_dir=sandbox_server.state_dir, port=0, tls=True) as secure:
        yield secure


@pytest.fixture(scope="module")
def listener():
    """A port that listens but never answers: any connection attempt to it shows in its backlog."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def connections_to(listener) -> int:
    count = 0
    while True:
        try:
            connection, _address = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def build_cases(tls: dict, plain: dict, listener_port: int) -> dict[str, tuple[str, dict]]:
    scim_tls = {"base_url": tls["sandbox_base_url"], "access_token": tls["sandbox_api_key"]}
    token_tls = {"client_id": tls["sandbox_client_id"], "private_key_path": tls["sandbox_private_key_path"],
                 "key_id": tls["sandbox_key_id"], "token_url": tls["sandbox_token_url"]}
    ca = {"ca_path": tls["sandbox_ca_path"]}
    plain_path = plain["sandbox_base_url"].split("/scim/", 1)[1]
    plain_port = plain["sandbox_base_url"].split(":")[2].split("/")[0]
    # 0.0.0.0 is not a loopback address, so the plain-http rule applies; yet Linux delivers a
    # connection to it locally, so nothing can leave the machine even if the rule failed.
    elsewhere = f"http://0.0.0.0:{listener_port}"
    return {
        "scim_user: unknown CA": ("scim_user", {**scim_tls, "user_name": "tls.never@example.com"}),
        "oauth_token: unknown CA": ("oauth_token", token_tls),
        "scim_user_info: ca_path": ("scim_user_info", {**scim_tls, **ca}),
        "oauth_token: ca_path": ("oauth_token", {**token_tls, **ca}),
        "scim_user: self-fetched token, ca_path": (
            "scim_user", {**token_tls, **ca, "base_url": tls["sandbox_base_url"], "user_name": "tls.user@example.com"}),
        "scim_user_info: validate_certs false": ("scim_user_info", {**scim_tls, "validate_certs": False}),
        "oauth_token: validate_certs false": ("oauth_token", {**token_tls, "validate_certs": False}),
        "scim_user_info: missing ca_path file": ("scim_user_info", {**scim_tls, "ca_path": "/nonexistent/ca-bundle.pem"}),
        "scim_user_info: ca_path not a certificate": (
            "scim_user_info", {**scim_tls, "ca_path": tls["sandbox_public_key_path"]}),
        "plain http base_url to another host": (
            "scim_user_info", {"base_url": f"{elsewhere}/scim/directory/x", "access_token": tls["sandbox_api_key"]}),
        "plain http token_url to another host": (
            "scim_user_info", {**token_tls, **ca, "base_url": tls["sandbox_base_url"], "token_url": f"{elsewhere}/oauth/token"}),
        "plain http to a TEST-NET address": (
            "scim_user_info", {"base_url": "http://192.0.2.1/scim/directory/x", "access_token": tls["sandbox_api_key"]}),
        "plain http to a .invalid name": ("oauth_token", {**token_tls, "token_url": "http://auth.scimkit.invalid/oauth/token"}),
        "plain http allowed": (
            "scim_user_info", {"base_url": f"http://0.0.0.0:{plain_port}/scim/{plain_path}",
                               "access_token": plain["sandbox_api_key"], "allow_plain_http": True}),
    }


UNKNOWN_CA = r"TLS verification failed for https://127\.0\.0\.1:\d+: .*certificate verify failed.*Set ca_path"
REFUSED_HTTP = r"uses plain http:// to another machine.*Use https://, or set allow_plain_http=true"
EXPECTED = {
    "scim_user: unknown CA": UNKNOWN_CA,
    "oauth_token: unknown CA": UNKNOWN_CA,
    "scim_user_info: ca_path": None,
    "oauth_token: ca_path": None,
    "scim_user: self-fetched token, ca_path": None,
    "scim_user_info: validate_certs false": None,
    "oauth_token: validate_certs false": None,
    "scim_user_info: missing ca_path file": r"ca_path /nonexistent/ca-bundle\.pem .*(does not exist|cannot be read)",
    "scim_user_info: ca_path not a certificate": r"ca_path .*public_key.* holds no usable CA certificate",
    "plain http base_url to another host": r"base_url http://0\.0\.0\.0:\d+/scim/directory/x " + REFUSED_HTTP,
    "plain http token_url to another host": r"token_url http://0\.0\.0\.0:\d+/oauth/token " + REFUSED_HTTP,
    "plain http to a TEST-NET address": r"base_url http://192\.0\.2\.1/scim/directory/x " + REFUSED_HTTP,
    "plain http to a .invalid name": r"token_url http://auth\.scimkit\.invalid/oauth/token " + REFUSED_HTTP,
    "plain http allowed": None,
}


@pytest.fixture(scope="module")
def outcomes(tls_sandbox, sandbox_server, listener, collections_path, tmp_path_factory):
    cases = build_cases(tls_sandbox.info, sandbox_server.info, listener.getsockname()[1])
    assert set(cases) == set(EXPECTED)
    runner = CaseRunner(sandbox_server, collections_path, tmp_path_factory.mktemp("tls"))
    # Whatever the environment says about CA bundles, the task's own options decide.
    bundle = certifi.where()
    found, output = runner.run([{"name": name, "module": module, "args": args, "no_log": module == "oauth_token" and EXPECTED[name] is None}
                                for name, (module, args) in cases.items()],
                               env={"REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle})
    sandbox_server.clear_data()
    return SimpleNamespace(found=found, output=output, connections=connections_to(listener))


@pytest.mark.parametrize("case", list(EXPECTED))
def test_tls_and_plain_http(outcomes, case):
    result = outcomes.found[case]
    expected = EXPECTED[case]
    if expected is None:
        assert not result["failed"], result.get("msg")
        return
    assert result["failed"], f"{case} should have failed"
    assert re.search(expected, result["msg"]), result["msg"]
    assert "Traceback" not in str(result.get("exception", "")) and "Unexpected error" not in result["msg"]


def test_plain_http_is_refused_before_any_connection(outcomes):
    assert outcomes.connections == 0
    assert "Traceback" not in outcomes.output
