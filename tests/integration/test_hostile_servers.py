# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real modules against servers that misbehave on purpose, and bad input refused before any request.

One ansible-playbook run at -vvvv (targets/bad_input_matrix/cases.yml) holds every case; a
HostileServer on 127.0.0.1 (security_support) plays the token endpoint or SCIM server:

- a token endpoint that echoes its whole request into ``error_description``: no secret and no
  client assertion may appear in the output or the registered results;
- redirects (token and SCIM) are not followed, and nothing reaches their target;
- a token answer lost after the server consumed the ``jti`` is retried with a new assertion;
- a SCIM answer that drips one byte at a time fails at ``timeout``; one past the size cap fails;
- ids that are not path segments, ``password`` in attributes, a whole registered result as
  ``access_token``, ``assertion_lifetime`` above an hour and a vault-encrypted key file are
  refused with a message naming the cause.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from security_support import CaseRunner, HostileServer, leaks, secrets_of

VAULT_FILE = "$ANSIBLE_VAULT;1.1;AES256\n" + "3661386436343536" * 8 + "\n"


def build_cases(info: dict, hostile: str, vault_key: str) -> list[dict]:
    key = Path(info["sandbox_private_key_path"]).read_text()
    fetch = {"client_id": info["sandbox_client_id"], "key_id": info["sandbox_key_id"]}
    with_secret = {"client_id": info["sandbox_secret_client_id"], "client_secret": info["sandbox_client_secret"]}
    scim = {"base_url": info["sandbox_base_url"]}
    api_key = {**scim, "access_token": info["sandbox_api_key"]}

    def case(name: str, module: str, args: dict, message: str | None, **extra) -> dict:
        return {"name": name, "module": module, "args": args, "message": message,
                "no_log": module == "oauth_token" and message is None, **extra}

    return [
        # -- a token endpoint that echoes the request -----------------------------------------
        case("echo: key content", "oauth_token", {**fetch, "private_key": key, "token_url": f"{hostile}/echo/token"},
             r"HTTP 401 invalid_client: could not authenticate request .*client_assertion"),
        case("echo: form-encoded", "oauth_token",
             {**fetch, "private_key_path": info["sandbox_encrypted_private_key_path"],
              "private_key_passphrase": info["sandbox_private_key_passphrase"], "token_request_format": "form",
              "token_url": f"{hostile}/echo/token"},
             r"HTTP 401 invalid_client: could not authenticate request .*client_assertion"),
        case("echo: client secret", "oauth_token", {**with_secret, "token_url": f"{hostile}/echo/token"},
             r"HTTP 401 invalid_client: could not authenticate request .*client_secret"),
        case("echo: a SCIM module fetching its token", "scim_user_info",
             {**scim, **fetch, "private_key": key, "token_url": f"{hostile}/echo/token"},
             r"HTTP 401 invalid_client: could not authenticate request .*client_assertion"),
        # -- redirects ------------------------------------------------------------------------
        case("redirect: token endpoint", "oauth_token", {**with_secret, "token_url": f"{hostile}/redirect/token"},
             rf"HTTP 307 redirecting to {re.escape(hostile)}/elsewhere/token\. Redirects are never followed"),
        case("redirect: SCIM", "scim_user_info", {"base_url": f"{hostile}/redirect/scim",
                                                  "access_token": info["sandbox_api_key"]},
             rf"GET {re.escape(hostile)}/redirect/scim/Users.* HTTP 307 redirecting to .*/elsewhere/scim/Users"),
        # -- a lost token answer ----------------------------------------------------------------
        case("lost answer: retried with a new assertion", "oauth_token",
             {**fetch, "private_key": key, "token_url": f"{hostile}/lose-once/token", "max_retries": 2}, None),
        # -- bounded reads ------------------------------------------------------------------------
        case("drip: timeout bounds the whole answer", "scim_user_info",
             {"base_url": f"{hostile}/drip/scim", "access_token": info["sandbox_api_key"], "timeout": 2,
              "max_retries": 0}, r"GET .*/drip/scim/Users got no answer within 2 s"),
        case("huge: an answer past the cap", "scim_user_info",
             {"base_url": f"{hostile}/huge/scim", "access_token": info["sandbox_api_key"]},
             r"answered with more than 16 MiB.*the rest was not read"),
        # -- ids are path segments ----------------------------------------------------------------
        case("id: scim_user_info id '.'", "scim_user_info", {**api_key, "id": "."}, r"id '\.' is not a SCIM id"),
        case("id: scim_user id '.' absent", "scim_user", {**api_key, "id": ".", "state": "absent"},
             r"id '\.' is not a SCIM id"),
        case("id: scim_group_info id '..'", "scim_group_info", {**api_key, "id": ".."}, r"id '\.\.' is not a SCIM id"),
        case("id: scim_group id with '/'", "scim_group", {**api_key, "id": "g/../Users", "state": "absent"},
             r"id 'g/\.\./Users' is not a SCIM id"),
        case("id: scim_group member with '/'", "scim_group",
             {**api_key, "display_name": "hostile-group", "members": ["../Users"]},
             r"members item '\.\./Users' is not a SCIM id"),
        case("id: scim_users item id '..'", "scim_users", {**api_key, "users": [{"id": "..", "state": "absent"}]},
             r"is not a SCIM id"),
        # -- write-only attributes, token shapes, lifetimes, vault ----------------------------------------
        case("password in attributes", "scim_user",
             {**api_key, "user_name": "hostile.pw@example.com", "attributes": {"password": "hunter2-hostile-pw-2026"}},
             r"attributes cannot set 'password': it is write-only"),
        case("write-only attribute named by the server's schema", "scim_users",
             {**api_key, "users": [{"user_name": "hostile.pin@example.com", "attributes": {"pin": "4321-hostile-pin"}}]},
             r"users has 1 item\(s\) that cannot be planned.*attributes cannot set 'pin': it is write-only",
             scenario={"inject": [{"target": "scim", "status": 200, "method": "GET", "path_contains": "/Schemas/", "json": {
                 "id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": [
                     {"name": "userName", "mutability": "readWrite", "returned": "default"},
                     {"name": "pin", "mutability": "writeOnly", "returned": "never"}]}}]}),
        case("access_token: a whole registered result", "scim_user_info",
             {**scim, "access_token": json.dumps({"changed": False, "access_token": "sbx-at-whole-result-2026",
                                                  "token_type": "Bearer"})},
             r"access_token holds a dictionary .*whole registered result.*\{\{ token\.access_token \}\}"),
        case("assertion_lifetime above an hour", "oauth_token",
             {**fetch, "private_key": key, "token_url": info["sandbox_token_url"], "assertion_lifetime": 7200},
             r"assertion_lifetime is 7200 s; at most 3600 s"),
        case("vault-encrypted key file", "oauth_token",
             {**fetch, "private_key_path": vault_key, "token_url": info["sandbox_token_url"]},
             r"Ansible Vault .*lookup\('ansible.builtin.file', 'path/to/key.pem'\)"),
    ]


@pytest.fixture(scope="module")
def run(sandbox_server, collections_path, tmp_path_factory):
    sandbox_server.reset()
    work_dir = tmp_path_factory.mktemp("hostile")
    vault_key = work_dir / "key.pem.vault"
    vault_key.write_text(VAULT_FILE)
    with HostileServer() as hostile:
        cases = build_cases(sandbox_server.info, hostile.url, str(vault_key))
        outcomes, output = CaseRunner(sandbox_server, collections_path, work_dir).run(cases, "-vvvv")
        found = secrets_of(sandbox_server)
        for number, assertion in enumerate(hostile.assertions()):
            found[f"assertion {number} sent to the hostile server"] = assertion
            found[f"signature of assertion {number}"] = assertion.rsplit(".", 1)[1]
        found["password"] = "hunter2-hostile-pw-2026"
        found["attribute the server's schema marks write-only"] = "4321-hostile-pin"
        found["token in a whole registered result"] = "sbx-at-whole-result-2026"
        yield SimpleNamespace(cases={case["name"]: case for case in cases}, outcomes=outcomes, output=output,
                              found=found, hostile=hostile)
    sandbox_server.reset()


def case_names() -> list[str]:
    placeholder = str(Path(__file__))
    info = {key: placeholder for key in ("sandbox_private_key_path", "sandbox_encrypted_private_key_path")}
    info.update({key: "x" for key in ("sandbox_private_key_passphrase", "sandbox_client_id", "sandbox_key_id",
                                      "sandbox_token_url", "sandbox_secret_client_id", "sandbox_client_secret",
                                      "sandbox_base_url", "sandbox_api_key")})
    return [case["name"] for case in build_cases(info, "http://127.0.0.1:1", placeholder)]


@pytest.mark.parametrize("name", case_names())
def test_each_case_ends_with_its_message(run, name):
    result, expected = run.outcomes[name], run.cases[name]["message"]
    if expected is None:
        assert not result.get("failed"), result.get("msg")
        return
    assert result.get("failed"), f"{name} should have failed: {result}"
    assert re.search(expected, result["msg"]), result["msg"]
    assert "Unexpected error" not in result["msg"] and "Traceback" not in str(result.get("exception", ""))


def test_the_echo_endpoint_received_secrets_and_none_of_them_shows_at_vvvv(run):
    assert re.search(r"ESTABLISH LOCAL CONNECTION|EXEC /bin/sh", run.output), "the run was not at -vvvv"
    echoed = [body for _method, path, body in run.hostile.received if path == "/echo/token"]
    assert len(echoed) == 4 and sum("client_assertion" in body for body in echoed) == 3
    assert any(run.found["client_secret"] in body for body in echoed)  # it was sent, and echoed back
    assert leaks(run.output, run.found) == []
    leaked = {name: leaks(json.dumps(result), run.found) for name, result in run.outcomes.items()
              if not (run.cases[name]["module"] == "oauth_token" and not result.get("failed"))}
    assert {name: names for name, names in leaked.items() if names} == {}


def test_no_redirect_was_followed(run):
    assert run.hostile.paths("/redirect/") == ["/redirect/token", "/redirect/scim/Users"]
    assert run.hostile.paths("/elsewhere/") == []


def test_a_lost_token_answer_is_retried_with_a_newly_signed_assertion(run):
    sent = [body for _method, path, body in run.hostile.received if path == "/lose-once/token"]
    assertions = [json.loads(body)["client_assertion"] for body in sent]
    assert len(assertions) == 2 and assertions[0] != assertions[1]
    assert run.outcomes["lost answer: retried with a new assertion"]["access_token"].startswith("hostile-at-")
