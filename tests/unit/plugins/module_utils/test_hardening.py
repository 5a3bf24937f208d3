# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bad ids, write-only attributes, access_token shapes, assertion lifetime and 401 hints: refused before any request."""

from __future__ import annotations

import json

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError
from ansible_collections.scimkit.atlassian.plugins.module_utils._groups import group_spec
from ansible_collections.scimkit.atlassian.plugins.module_utils._module import resolve_connection, scim_argument_spec
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import (
    FETCHED_TOKEN,
    GIVEN_TOKEN,
    ScimClient,
    check_id,
    parse_error,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._token import StaticTokenProvider
from ansible_collections.scimkit.atlassian.plugins.module_utils._users import user_spec

PEM = "-----BEGIN PRIVATE KEY-----\nunit\n-----END PRIVATE KEY-----\n"
BAD_IDS = ["", " ", ".", "..", "a/b", "/", "../Groups", "u-1/"]


def params(**given):
    values = {name: spec.get("default") for name, spec in scim_argument_spec().items()}
    values.update(given)
    return values


class NoNetwork:
    """An HttpClient that fails the test if anything is sent."""

    def request(self, *args, **kwargs):
        raise AssertionError(f"a request was sent: {args}")


# -- ids are path segments ------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_bad_id_is_refused(bad):
    with pytest.raises(ConfigError, match=r"is not a SCIM id: an id must be one path segment"):
        check_id(bad, "id")


@pytest.mark.parametrize("good", ["2819c223-7f76-453a-919d-413861904646", "u.1", "...", "a b", "jane@example.com",
                                  'carol "cc" o\\connor@example.com'])
def test_a_good_id_passes(good):
    check_id(good, "id")


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("call", [
    lambda client, bad: client.get("Users", bad),
    lambda client, bad: client.delete("Users", bad),
    lambda client, bad: client.patch("Groups", bad, []),
    lambda client, bad: client.replace("Users", bad, {}),
])
def test_the_client_sends_nothing_for_a_bad_id(bad, call):
    client = ScimClient(NoNetwork(), "https://scim.example.test", StaticTokenProvider("t"))
    with pytest.raises(ConfigError, match="is not a SCIM id"):
        call(client, bad)


@pytest.mark.parametrize("bad", [".", "..", "a/b"])
def test_user_and_group_options_refuse_a_bad_id(bad):
    with pytest.raises(ConfigError, match=f"id {bad!r} is not a SCIM id"):
        user_spec({"id": bad, "state": "absent"})
    with pytest.raises(ConfigError, match=f"id {bad!r} is not a SCIM id"):
        group_spec({"id": bad, "state": "absent"})
    with pytest.raises(ConfigError, match=f"members item {bad!r} is not a SCIM id"):
        group_spec({"display_name": "team", "members": ["jane@example.com", bad]})


# -- write-only attributes --------------------------------------------------------------------


@pytest.mark.parametrize("key", ["password", "Password", "PASSWORD"])
def test_password_is_refused_in_attributes(key):
    with pytest.raises(ConfigError, match=f"attributes cannot set '{key}': it is write-only") as caught:
        user_spec({"user_name": "jane@example.com", "attributes": {key: "hunter2-unit-secret"}})
    assert "hunter2-unit-secret" not in str(caught.value)


# -- access_token, assertion_lifetime --------------------------------------------------------------


@pytest.mark.parametrize("token", [
    json.dumps({"changed": False, "access_token": "tok-unit-9", "token_type": "Bearer"}),
    str({"changed": False, "access_token": "tok-unit-9", "token_type": "Bearer"}),
    '  {"access_token": "tok-unit-9"}',
])
def test_a_whole_registered_result_as_access_token_is_refused(token):
    with pytest.raises(ConfigError, match=r"whole registered result.*\{\{ token\.access_token \}\}") as caught:
        resolve_connection(params(base_url="https://scim.example/v2", access_token=token), {})
    assert "tok-unit-9" not in str(caught.value)


def test_the_same_check_applies_to_a_token_from_the_environment():
    with pytest.raises(ConfigError, match="whole registered result"):
        resolve_connection(params(base_url="https://scim.example/v2"),
                           {"ATLASSIAN_SCIM_ACCESS_TOKEN": '{"access_token": "x"}'})


@pytest.mark.parametrize(("lifetime", "ok"), [(1, True), (3600, True), (3601, False), (86400, False)])
def test_assertion_lifetime_is_capped_at_an_hour(lifetime, ok):
    given = params(directory_id="d", client_id="cid", private_key=PEM, key_id="kid", assertion_lifetime=lifetime)
    if ok:
        assert resolve_connection(given, {}).credentials.assertion_lifetime == lifetime
    else:
        with pytest.raises(ConfigError, match=f"assertion_lifetime is {lifetime} s; at most 3600 s"):
            resolve_connection(given, {})


# -- the 401 hint depends on where the token came from ------------------------------------------


def test_a_401_on_a_fetched_token_speaks_of_the_oauth_grant():
    message = str(parse_error(401, '{"detail": "Unauthorized"}', "application/json", "GET", "/Users",
                              token_source=FETCHED_TOKEN))
    assert "fetched with client_id" in message and "expire after an hour" in message
    assert "API key" not in message


def test_a_401_on_a_given_token_speaks_of_api_keys_and_expiry():
    message = str(parse_error(401, '{"detail": "Unauthorized"}', "application/json", "GET", "/Users",
                              token_source=GIVEN_TOKEN))
    assert "access_token given has not expired" in message
    assert "SCIM API key" in message and "revoked" in message


def test_the_client_names_where_its_token_came_from():
    class Refusing:
        def request(self, *args, **kwargs):
            class Answer:
                status_code, text, content = 401, '{"detail": "no"}', b'{"detail": "no"}'
                headers = {"Content-Type": "application/json"}
            return Answer()

    client = ScimClient(Refusing(), "https://scim.example.test", StaticTokenProvider("t"))
    with pytest.raises(Exception, match="access_token given has not expired"):
        client.request("GET", "/Users")


def test_a_huge_scim_error_body_is_cut_before_it_is_parsed():
    text = json.dumps({"detail": "x" * 200_000})
    error = parse_error(400, text, "application/json", "GET", "/Users")
    assert "non-JSON body" in str(error) and len(str(error)) < 1000
