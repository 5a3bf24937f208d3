# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._bulk import (
    BulkResult,
    DirectoryIndex,
    parse_items,
    purge_candidates,
    read_users_file,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._outcome import Outcome
from ansible_collections.scimkit.atlassian.plugins.module_utils._users import user_spec

DIRECTORY = [
    {"id": "u1", "userName": "Ada@Example.com", "externalId": "e-ada", "active": True},
    {"id": "u2", "userName": "grace@example.com", "active": False},
    {"id": "u3", "userName": "alan@example.com", "externalId": "e-alan"},
    {"id": "u4", "userName": "twin-a@example.com", "externalId": "e-twin"},
    {"id": "u5", "userName": "twin-b@example.com", "externalId": "e-twin"},
]


@pytest.fixture
def index():
    return DirectoryIndex(DIRECTORY)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"id": "u2"}, "u2"),
        ({"id": "u9"}, None),
        ({"user_name": "ada@example.COM"}, "u1"),
        ({"external_id": "e-alan", "user_name": "renamed@example.com"}, "u3"),
        ({"external_id": "E-ALAN"}, None),  # externalId is case-exact
        ({"user_name": "nobody@example.com"}, None),
    ],
)
def test_index_matches_like_scim_user(index, options, expected):
    found = index.match(user_spec(options))
    assert (found or {}).get("id") == expected


def test_ambiguous_external_id_is_an_error(index):
    with pytest.raises(ScimKitError, match="2 users have externalId 'e-twin'"):
        index.match(user_spec({"external_id": "e-twin"}))


def test_invalid_and_repeated_items_become_failures():
    result = BulkResult()
    specs = parse_items([
        {"user_name": "a@example.com"},
        {"display_name": "No Name"},
        {"user_name": "A@EXAMPLE.COM"},
        {"external_id": "e-1", "user_name": "b@example.com"},
        {"external_id": "e-1", "user_name": "c@example.com"},
    ], result)
    assert [index for index, _spec in specs] == [0, 3]
    assert [(f.item, f.error) for f in result.failures] == [
        (1, "Name the user: give user_name, external_id or id."),
        (2, "the same user as item 0; list each user once"),
        (4, "the same user as item 3; list each user once"),
    ]


def test_purge_leaves_named_and_already_inactive_users(index):
    kept = {"u1", "u3"}
    assert [u["id"] for u in purge_candidates(index, kept, "deactivate")] == ["u4", "u5"]
    assert [u["id"] for u in purge_candidates(index, kept, "delete")] == ["u2", "u4", "u5"]


def test_result_lists_and_summary():
    result = BulkResult()
    result.record("a@example.com", Outcome("created", {}, after={"userName": "a@example.com"}))
    result.record("b@example.com", Outcome("unchanged", {}))
    assert result.changed
    assert result.outcomes["created"] == ["a@example.com"] and result.outcomes["unchanged"] == ["b@example.com"]
    assert result.after == {"a@example.com": {"userName": "a@example.com"}} and "b@example.com" not in result.before
    assert result.summary() == "1 created, 0 updated, 0 deactivated, 0 deleted, 1 unchanged"
    unchanged_only = BulkResult()
    unchanged_only.record("b@example.com", Outcome("unchanged", {}))
    assert not unchanged_only.changed


def test_without_diff_no_views_are_kept():
    result = BulkResult(keep_diff=False)
    result.record("a@example.com", Outcome("created", {}, after={"userName": "a@example.com"}))
    assert result.outcomes["created"] == ["a@example.com"] and result.before == {} and result.after == {}


@pytest.mark.parametrize("name, text", [
    ("people.json", '[{"user_name": "a@example.com", "active": "yes"}]'),
    ("people.yml", "- user_name: a@example.com\n  active: yes\n"),
    ("people.yaml", "users:\n  - {user_name: a@example.com, active: true}\n"),
    ("people.txt", '{"users": [{"user_name": "a@example.com", "active": 1}]}'),
])
def test_users_file_json_or_yaml_validated_like_the_option(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    [item] = read_users_file(str(path))
    assert item["user_name"] == "a@example.com" and item["active"] is True
    assert item["state"] == "present" and item["email"] is None  # defaults filled as for the users option


def test_users_file_errors_name_the_items(tmp_path):
    path = tmp_path / "people.json"
    items = [{"user_name": "ok@example.com"}, {"user_name": "a@example.com", "emial": "x"}, 7]
    path.write_text(json.dumps(items + [{"id": f"x{number}", "state": "gone"} for number in range(12)]))
    with pytest.raises(ConfigError) as caught:
        read_users_file(str(path))
    message = str(caught.value)
    assert message.startswith(f"users_file {path} has 14 invalid item(s), so nothing was changed: item 1 (a@example.com): ")
    assert "emial" in message and "item 2 is a int, not a mapping of user options" in message
    assert "item 10 (x7)" in message and "item 11 (x8)" not in message and message.endswith("; and 4 more.")


@pytest.mark.parametrize("text, message", [
    ("{}", "must hold a list of users"),
    ("users: 3\n", "must hold a list of users"),
    ("- [unclosed\n", "is neither JSON nor valid YAML"),
])
def test_users_file_that_is_not_a_list(tmp_path, text, message):
    path = tmp_path / "people.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_users_file(str(path))


def test_users_file_unreadable(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read: No such file or directory"):
        read_users_file(str(tmp_path / "absent.json"))
    binary = tmp_path / "people.json"
    binary.write_bytes(b"\xff\xfe[]")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        read_users_file(str(binary))
