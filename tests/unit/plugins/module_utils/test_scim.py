# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import directory_url, filter_eq, parse_error


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane@example.com", 'userName eq "jane@example.com"'),
        ('a"b', r'userName eq "a\"b"'),
        ("a\\b", r'userName eq "a\\b"'),
        ('x" or userName pr or "', r'userName eq "x\" or userName pr or \""'),
        ("tab\there", r'userName eq "tab\there"'),
        ("Zoë", 'userName eq "Zoë"'),
    ],
)
def test_filter_values_are_json_escaped(value, expected):
    assert filter_eq("userName", value) == expected
    # The value parses back to exactly what was given: it cannot change the query.
    assert json.loads(expected.split(" eq ", 1)[1]) == value


def test_scim_error_with_type_and_detail():
    body = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "409",
                       "scimType": "uniqueness", "detail": "Resource [USER]: with email[j@x.test] already exists."})
    error = parse_error(409, body, "application/scim+json", "POST", "/Users")
    assert str(error) == "SCIM POST /Users failed: HTTP 409 uniqueness: Resource [USER]: with email[j@x.test] already exists."
    assert (error.status, error.scim_type, error.method, error.path) == (409, "uniqueness", "POST", "/Users")


def test_scim_error_without_scim_type_and_with_garbled_schema():
    body = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Eror"], "status": "400",
                       "detail": "Resource [USER] One email address need to be marked as primary."})
    error = parse_error(400, body, "application/json", "PATCH", "/Users/1")
    assert str(error) == ("SCIM PATCH /Users/1 failed: HTTP 400: Resource [USER] One email address need to be "
                          "marked as primary.")
    assert error.scim_type is None


def test_html_error_is_summarised():
    error = parse_error(500, "<html><head><title>Oops</title></head><body>Internal error</body></html>",
                        "text/html; charset=utf-8", "GET", "/Users")
    assert str(error) == "SCIM GET /Users failed: HTTP 500 with a non-JSON body (text/html): 'Oops Internal error'."


def test_401_explains_expiry():
    error = parse_error(401, "", None, "GET", "/Users")
    assert "has not expired" in str(error)


def test_directory_url():
    assert directory_url("abc-123") == "https://api.atlassian.com/scim/directory/abc-123"
    assert directory_url("a/b") == "https://api.atlassian.com/scim/directory/a%2Fb"


def test_404_on_a_resource_says_it_is_gone_not_that_base_url_is_wrong():
    gone = str(parse_error(404, '{"detail": "Resource 2819 not found"}', "application/scim+json", "PATCH", "/Users/2819"))
    assert "deleted meanwhile" in gone and "base_url" not in gone
    listing = str(parse_error(404, "", None, "GET", "/Users"))
    assert "Check base_url" in listing
