# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError
from ansible_collections.scimkit.atlassian.plugins.module_utils._module import (
    _without_unset_suboptions,
    org_argument_spec,
    resolve_connection,
    resolve_org_connection,
    scim_argument_spec,
)

PEM = "-----BEGIN PRIVATE KEY-----\nunit\n-----END PRIVATE KEY-----\n"


def params(**given):
    """Module params as AnsibleModule would pass them: every option present, defaults applied."""
    values = {name: spec.get("default") for name, spec in scim_argument_spec().items()}
    values.update(given)
    return values


def test_access_token_and_base_url():
    connection = resolve_connection(params(base_url="https://scim.example/v2", access_token="tok-unit-1"), {})
    assert (connection.base_url, connection.access_token, connection.credentials) == (
        "https://scim.example/v2", "tok-unit-1", None)


def test_directory_id_builds_the_atlassian_url():
    connection = resolve_connection(params(directory_id="dir-1", access_token="tok-unit-1"), {})
    assert connection.base_url == "https://api.atlassian.com/scim/directory/dir-1"


def test_client_credentials_with_defaults():
    connection = resolve_connection(params(directory_id="d", client_id="cid", private_key=PEM, key_id="kid"), {})
    creds = connection.credentials
    assert (creds.token_url, creds.effective_audience, creds.scope, creds.request_format, creds.algorithm) == (
        "https://auth.atlassian.com/oauth/token", "https://auth.atlassian.com", "manage:directory", "json", "RS256")


def test_environment_fills_what_the_task_leaves_out(tmp_path):
    key = tmp_path / "key.pem"
    key.write_text(PEM)
    environ = {
        "ATLASSIAN_SCIM_BASE_URL": "https://env.example/scim",
        "ATLASSIAN_CLIENT_ID": "env-client",
        "ATLASSIAN_PRIVATE_KEY_PATH": str(key),
        "ATLASSIAN_KEY_ID": "env-kid",
        "ATLASSIAN_TOKEN_URL": "http://127.0.0.1:9/oauth/token",
    }
    connection = resolve_connection(params(), environ)
    assert connection.base_url == "https://env.example/scim"
    assert (connection.credentials.client_id, connection.credentials.key_id) == ("env-client", "env-kid")
    assert connection.credentials.private_key == PEM
    assert connection.credentials.effective_audience == "http://127.0.0.1:9"


def test_the_task_wins_over_the_environment_for_a_whole_group():
    environ = {"ATLASSIAN_CLIENT_ID": "env-client", "ATLASSIAN_SCIM_DIRECTORY_ID": "env-dir"}
    connection = resolve_connection(params(base_url="https://task.example", access_token="tok-unit-1"), environ)
    assert (connection.base_url, connection.access_token, connection.credentials) == (
        "https://task.example", "tok-unit-1", None)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"access_token": "t"}, "Say which SCIM directory.*ATLASSIAN_SCIM_BASE_URL"),
        ({"base_url": "https://x", "directory_id": "d", "access_token": "t"}, "base_url and directory_id are mutually"),
        ({"base_url": "https://x"}, "Say how to authenticate: give access_token or client_id"),
        ({"base_url": "https://x", "access_token": "t", "client_id": "c"}, "access_token and client_id are mutually"),
        ({"base_url": "https://x", "client_id": "c"}, "client_id needs a credential"),
        ({"base_url": "https://x", "client_id": "c", "private_key": PEM, "client_secret": "s"}, "mutually exclusive"),
        ({"base_url": "https://x", "client_id": "c", "private_key": PEM}, "key id Atlassian registered"),
        ({"base_url": "https://x", "client_id": "c", "private_key_path": "/nonexistent/key.pem", "key_id": "k"},
         "private_key_path /nonexistent/key.pem does not exist"),
        ({"base_url": "ftp://x", "access_token": "t"}, "must be an http"),
        ({"base_url": "http://scim.example.com/v2", "access_token": "t"}, "plain http:// to another machine"),
        ({"base_url": "https://x", "client_id": "c", "client_secret": "s", "token_url": "http://10.0.0.5/token"},
         "token_url http://10.0.0.5/token uses plain http://"),
        ({"base_url": "https://x", "access_token": "t", "timeout": 0}, "timeout must be positive|positive number"),
    ],
)
def test_bad_combinations_name_the_options(given, message):
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_connection(params(**given), {})
    assert PEM not in str(caught.value)


def test_client_secret_needs_no_key_id():
    connection = resolve_connection(params(base_url="https://x", client_id="c", client_secret="s3cr3t"), {})
    assert connection.credentials.client_secret == "s3cr3t"
    assert "s3cr3t" not in repr(connection)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/scim", "http://localhost/scim", "http://[::1]:9000/scim",
                                 "http://127.3.4.5/scim"])
def test_plain_http_to_loopback_is_allowed(url):
    assert resolve_connection(params(base_url=url, access_token="t"), {}).base_url == url


def test_plain_http_elsewhere_can_be_allowed_explicitly():
    connection = resolve_connection(params(base_url="http://scim.internal/v2", access_token="t",
                                           allow_plain_http=True), {})
    assert connection.base_url == "http://scim.internal/v2"


def test_echoed_arguments_leave_out_unset_suboptions_only():
    params = {"users": [{"user_name": "a", "email": None, "name": {"given_name": "A", "family_name": None}}],
              "purge": False, "ca_path": None}
    assert _without_unset_suboptions(params) == {"users": [{"user_name": "a", "name": {"given_name": "A"}}],
                                                 "purge": False, "ca_path": None}


# -- the organization admin API's connection -------------------------------------------

def org_params(**given):
    values = {name: spec.get("default") for name, spec in org_argument_spec().items()}
    values.update(given)
    return values


def test_org_connection_from_options_with_the_atlassian_default_url():
    connection = resolve_org_connection(org_params(org_id="org-1", api_key="org-key-unit-1"), {})
    assert (connection.org_id, connection.api_key, connection.admin_base_url) == (
        "org-1", "org-key-unit-1", "https://api.atlassian.com")
    assert "org-key-unit-1" not in repr(connection)


def test_org_connection_from_the_environment_and_the_task_wins():
    environ = {"ATLASSIAN_ORG_ID": "env-org", "ATLASSIAN_ADMIN_API_KEY": "env-key-unit",
               "ATLASSIAN_ADMIN_BASE_URL": "http://127.0.0.1:9"}
    connection = resolve_org_connection(org_params(org_id="task-org"), environ)
    assert (connection.org_id, connection.api_key, connection.admin_base_url) == ("task-org", "env-key-unit", "http://127.0.0.1:9")


@pytest.mark.parametrize(("given", "message"), [
    ({"api_key": "k"}, "Say which organization: give org_id \\(or the environment variable ATLASSIAN_ORG_ID\\)"),
    ({"org_id": "o"}, "give api_key \\(or the environment variable ATLASSIAN_ADMIN_API_KEY\\)"),
    ({"org_id": "o", "api_key": "k", "admin_base_url": "http://admin.example"}, "admin_base_url .* plain http://"),
    ({"org_id": "o", "api_key": "k", "timeout": 0}, "timeout must be a positive"),
])
def test_org_connection_errors_name_the_option(given, message):
    with pytest.raises(ConfigError, match=message):
        resolve_org_connection(org_params(**given), {})


def test_org_options_are_the_transport_options_plus_three():
    assert set(org_argument_spec()) == {"org_id", "api_key", "admin_base_url", "validate_certs", "allow_plain_http",
                                        "ca_path", "timeout", "max_retries"}
    assert org_argument_spec()["api_key"]["no_log"] is True
