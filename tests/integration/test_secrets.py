# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""No secret ever shows: every module at -vvvv, succeeding and failing, with every kind of credential.

Secrets are the private key (its base64 lines), the passphrase, the client secret, the API
key, every access token the sandbox issued, every client assertion it received, and a password
in ~/.netrc (which must not even be sent). They must
not appear in stdout, stderr, or the registered results (written to disk by the playbook) -
except ``access_token`` in oauth_token's own result, which is what that module is for; its
tasks run with ``no_log: true``, and the test proves that this hides the token.
"""

from __future__ import annotations

import json
import re
import secrets as random_secrets
from pathlib import Path
from types import SimpleNamespace

import pytest
from security_support import CaseRunner, leaks, secrets_of

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
HTML_500 = "<html><head><title>500 Internal Server Error</title></head><body>Internal Server Error</body></html>"
# A token endpoint that answers form-encoded (as some do without Accept: application/json):
# the body holds a token even though the module cannot read it.
FORM_TOKEN = "sbx-at-formencoded-" + random_secrets.token_urlsafe(24)
NETRC_PASSWORD = "netrc-password-" + random_secrets.token_urlsafe(24)


def build_cases(info: dict) -> list[dict]:
    key = Path(info["sandbox_private_key_path"]).read_text()
    encrypted = Path(info["sandbox_encrypted_private_key_path"]).read_text()
    passphrase = info["sandbox_private_key_passphrase"]
    fetch = {"client_id": info["sandbox_client_id"], "key_id": info["sandbox_key_id"], "token_url": info["sandbox_token_url"]}
    with_secret = {"client_id": info["sandbox_secret_client_id"], "client_secret": info["sandbox_client_secret"],
                   "token_url": info["sandbox_token_url"]}
    scim = {"base_url": info["sandbox_base_url"]}
    api_key = {**scim, "access_token": info["sandbox_api_key"]}

    def user(name: str, **extra) -> dict:
        return {"user_name": f"{name}@example.com", "email": f"{name}@example.com", **extra}

    def inject(**answer) -> dict:
        return {"inject": [answer]}

    def case(name: str, module: str, args: dict, *, fails: bool, **extra) -> dict:
        # oauth_token returns its token: its successful tasks run with no_log, as its docs say.
        return {"name": name, "module": module, "args": args, "fails": fails,
                "no_log": module == "oauth_token" and not fails, **extra}

    return [
        case("oauth_token: key file", "oauth_token", {**fetch, "private_key_path": info["sandbox_private_key_path"]},
             fails=False),
        case("oauth_token: key content", "oauth_token", {**fetch, "private_key": key}, fails=False),
        case("oauth_token: encrypted key and passphrase", "oauth_token",
             {**fetch, "private_key": encrypted, "private_key_passphrase": passphrase}, fails=False),
        case("oauth_token: client secret", "oauth_token", with_secret, fails=False),
        case("scim_user: token registered from oauth_token", "scim_user", {**scim, **user("secret.token")},
             fails=False, previous_token=True),
        case("oauth_token: real key and passphrase, wrong kid", "oauth_token",
             {**fetch, "private_key": encrypted, "private_key_passphrase": passphrase, "key_id": "no-such-kid-2026"},
             fails=True),
        case("oauth_token: real secret, unknown client", "oauth_token", {**with_secret, "client_id": "nobody-2026"},
             fails=True),
        case("oauth_token: real key, wrong passphrase", "oauth_token",
             {**fetch, "private_key": encrypted, "private_key_passphrase": "not-the-passphrase-2026"}, fails=True),
        case("oauth_token: token in a form-encoded answer", "oauth_token", {**fetch, "private_key": key}, fails=True,
             scenario=inject(target="token", status=200, content_type="application/x-www-form-urlencoded",
                             body=f"access_token={FORM_TOKEN}&token_type=bearer&expires_in=3600")),
        case("scim_user: API key", "scim_user", {**api_key, **user("secret.a", title="A")}, fails=False),
        case("scim_user: key content", "scim_user", {**scim, **fetch, "private_key": key, **user("secret.a", title="B")},
             fails=False),
        case("scim_user: encrypted key file", "scim_user",
             {**scim, **fetch, "private_key_path": info["sandbox_encrypted_private_key_path"],
              "private_key_passphrase": passphrase, **user("secret.b")}, fails=False),
        case("scim_user: client secret", "scim_user", {**scim, **with_secret, **user("secret.c")}, fails=False),
        case("scim_user: key from the environment", "scim_user", {**scim, **fetch, **user("secret.d")}, fails=False),
        case("scim_user: 403 with a fetched token", "scim_user",
             {**scim, **fetch, "private_key": encrypted, "private_key_passphrase": passphrase, **user("secret.e")},
             fails=True, scenario=inject(status=403, method="POST",
                                         json={"schemas": [ERROR], "status": "403", "detail": "Forbidden"})),
        case("scim_user: HTML 500 on a create and its one retry", "scim_user", {**api_key, **user("secret.f"), "max_retries": 1},
             fails=True,
             scenario=inject(status=500, method="POST", body=HTML_500, content_type="text/html", times=2)),
        case("scim_user: 409 for an e-mail of another account", "scim_user", {**scim, **with_secret, **user("secret.g")},
             fails=True, scenario=inject(status=409, method="POST", json={
                 "schemas": [ERROR], "status": "409", "scimType": "uniqueness",
                 "detail": "Resource [USER]: with email[secret.g@example.com] already exists."})),
        case("scim_user_info: token from the environment", "scim_user_info", scim, fails=False),
        case("scim_user_info: key content", "scim_user_info", {**scim, **fetch, "private_key": key}, fails=False),
        case("scim_user_info: HTML 500", "scim_user_info", {**scim, **with_secret}, fails=True,
             scenario=inject(status=500, method="GET", body=HTML_500, content_type="text/html")),
        case("scim_users: key file", "scim_users",
             {**scim, **fetch, "private_key_path": info["sandbox_private_key_path"],
              "users": [user("secret.h"), user("secret.i")]}, fails=False),
        case("scim_users: one bad item", "scim_users",
             {**scim, **fetch, "private_key": encrypted, "private_key_passphrase": passphrase,
              "users": [user("secret.j"), user("secret.k", attributes={"nickName": {"not": "a string"}})]}, fails=True),
        case("scim_group: members", "scim_group",
             {**scim, **fetch, "private_key": key, "display_name": "secret-group", "members": ["secret.a@example.com"]},
             fails=False),
        case("scim_group: 403", "scim_group", {**scim, **with_secret, "display_name": "secret-group-2"}, fails=True,
             scenario=inject(status=403, method="POST", json={"schemas": [ERROR], "status": "403", "detail": "Forbidden"})),
        case("scim_group_info: API key", "scim_group_info", {**api_key, "display_name": "secret-group"}, fails=False),
        case("scim_group_info: wrong token", "scim_group_info",
             {**scim, "access_token": "not-the-api-key-but-as-long-as-one-2026"}, fails=True),
    ]


@pytest.fixture(scope="module")
def run(sandbox_server, collections_path, tmp_path_factory):
    sandbox_server.reset()
    info = sandbox_server.info
    cases = build_cases(info)
    runner = CaseRunner(sandbox_server, collections_path, tmp_path_factory.mktemp("secrets"))
    # Credentials from the controller's environment are secrets too (the fixture's own vars file,
    # holding the sandbox info, is not output and is not checked).
    # A ~/.netrc with a login for the sandbox's host: requests would send it instead of the bearer
    # token (and to the token endpoint) unless the collection refuses ambient credentials.
    netrc = runner.work_dir / "netrc"
    netrc.write_text(f"machine 127.0.0.1\nlogin netrc-user\npassword {NETRC_PASSWORD}\n")
    netrc.chmod(0o600)
    env = {"ATLASSIAN_PRIVATE_KEY": Path(info["sandbox_private_key_path"]).read_text(),
           "ATLASSIAN_SCIM_ACCESS_TOKEN": info["sandbox_api_key"], "NETRC": str(netrc)}
    outcomes, output = runner.run(cases, "-vvvv", env=env)
    found = secrets_of(sandbox_server)
    found["form-encoded token"] = FORM_TOKEN
    found["netrc password"] = NETRC_PASSWORD
    yield SimpleNamespace(cases={case["name"]: case for case in cases}, outcomes=outcomes, output=output, found=found)
    sandbox_server.reset()


def case_names() -> list[str]:
    """The case names, without reading any key (collection happens before the sandbox starts)."""
    placeholder = Path(__file__)  # any readable file stands in for the key files
    info = {key: str(placeholder) for key in ("sandbox_private_key_path", "sandbox_encrypted_private_key_path")}
    info.update({key: "x" for key in ("sandbox_private_key_passphrase", "sandbox_client_id", "sandbox_key_id",
                                      "sandbox_token_url", "sandbox_secret_client_id", "sandbox_client_secret",
                                      "sandbox_base_url", "sandbox_api_key")})
    return [case["name"] for case in build_cases(info)]


@pytest.mark.parametrize("name", case_names())
def test_each_case_ends_as_designed(run, name):
    result = run.outcomes[name]
    if run.cases[name]["fails"]:
        assert result["failed"], f"{name} should have failed"
        assert result["msg"] and "Traceback" not in str(result.get("exception", "")), result
    else:
        assert not result.get("failed"), result.get("msg")


def test_verbose_output_holds_no_secret(run):
    assert re.search(r"ESTABLISH LOCAL CONNECTION|EXEC /bin/sh", run.output), "the run was not at -vvvv"
    assert leaks(run.output, run.found) == []


def test_registered_results_hold_no_secret_but_the_token_modules_own(run):
    issued = {value for name, value in run.found.items() if name.startswith("issued access token")}
    leaked = {}
    for name, result in run.outcomes.items():
        result = dict(result)
        if run.cases[name]["module"] == "oauth_token" and not result.get("failed"):
            assert result.pop("access_token") in issued  # its purpose, and proof the grep would see a token
        leaked[name] = leaks(json.dumps(result), run.found)
    assert {name: names for name, names in leaked.items() if names} == {}


def test_no_log_hides_the_token_modules_result(run):
    token_tasks = [name for name, case in run.cases.items() if case["module"] == "oauth_token" and not case["fails"]]
    hidden = "the output has been hidden due to the fact that 'no_log: true' was specified"
    assert run.output.count(hidden) >= len(token_tasks)
    assert [name for name, value in run.found.items() if name.startswith("issued access token") and value in run.output] == []


def test_credentials_in_netrc_are_never_sent(run):
    """The run had $NETRC naming a login for 127.0.0.1. Had requests used it, the bearer token would have
    been replaced (401) and the token endpoint would have seen two client authentications (refused)."""
    succeeded = {run.cases[name]["module"] for name, result in run.outcomes.items() if not result.get("failed")}
    assert {"oauth_token", "scim_user", "scim_user_info", "scim_users", "scim_group", "scim_group_info"} <= succeeded
    assert NETRC_PASSWORD not in run.output
