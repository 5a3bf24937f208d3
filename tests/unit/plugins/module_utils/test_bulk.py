# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._bulk import (
    BulkResult,
    Failure,
    PlanError,
    parse_items,
    plan_purge,
    purge_candidates,
    read_users_file,
    resolve_items,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._identity import DirectoryIndex
from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._outcome import Outcome

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


def test_invalid_and_repeated_items_are_numbered_from_one():
    specs, failures = parse_items([
        {"user_name": "a@example.com"},
        {"display_name": "No Name"},
        {"user_name": "A@EXAMPLE.COM"},
        {"external_id": "e-1", "user_name": "b@example.com"},
        {"external_id": "e-1", "user_name": "c@example.com"},
        {"user_name": "bob@example.com", "given_name": "Bob", "name": {"given_name": "Rob"}},
        {"state": "absent"},
    ])
    assert [number for number, _spec in specs] == [1, 4]
    assert [(f.item, f.user, f.error) for f in failures] == [
        (2, "item 2", "Name the user: give user_name, external_id or id."),
        (3, "A@EXAMPLE.COM", "the same user as item 1; list each user once"),
        (5, "c@example.com", "the same user as item 4; list each user once"),
        (6, "bob@example.com", "given_name and name.given_name disagree; set only one of them."),
        (7, "item 7", "Name the user: give user_name, external_id or id."),
    ]


def test_two_items_that_reach_one_user_by_different_keys_are_refused(index):
    specs, failures = parse_items([
        {"user_name": "ada@example.com", "title": "Engineer"},
        {"external_id": "e-ada", "title": "Manager", "active": False},
        {"user_name": "new@example.com"},
    ])
    assert failures == []
    planned, failures = resolve_items(specs, index)
    assert [(entry.number, (entry.current or {}).get("id")) for entry in planned] == [(1, "u1"), (3, None)]
    [failure] = failures
    assert failure.item == 2 and failure.user == "e-ada"
    assert failure.error.startswith("it resolves to the same user as item 1 (id 'u1'")


def test_a_plan_error_names_every_item():
    error = PlanError([Failure(3, "c", "bad"), Failure(1, "a", "worse")], source="users_file /x.yml")
    assert str(error) == ("users_file /x.yml has 2 item(s) that cannot be planned, so nothing was changed: "
                          "item 1 (a): worse; item 3 (c): bad")
    assert error.details["changed"] is False and [f["item"] for f in error.details["failures"]] == [1, 3]


def test_purge_leaves_named_and_already_inactive_users(index):
    kept = {"u1", "u3"}
    assert [u["id"] for u in purge_candidates(index, kept, "deactivate")] == ["u4", "u5"]
    assert [u["id"] for u in purge_candidates(index, kept, "delete")] == ["u2", "u4", "u5"]


def test_the_purge_guard_names_whom_it_would_touch():
    users = [{"id": f"u{n}", "userName": f"p{n:02d}@example.com"} for n in range(25)]
    with pytest.raises(ScimKitError) as caught:
        plan_purge(DirectoryIndex(users), {"u0"}, "deactivate", max_purge=10)
    message = str(caught.value)
    assert message.startswith("purge would deactivate 24 users, more than max_purge (10); nothing was changed. "
                              "They are: p01@example.com, p02@example.com, ")
    assert "p20@example.com and 4 more." in message and "p21@example.com" not in message
    planned = plan_purge(DirectoryIndex(users[:3]), {"u0"}, "delete", max_purge=2)
    assert [(entry.number, entry.name, entry.spec.state) for entry in planned] == [
        (0, "p01@example.com", "absent"), (0, "p02@example.com", "absent")]


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


def test_users_file_errors_name_every_item_from_one_with_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "people.json"
    items = [{"user_name": "ok@example.com"}, {"user_name": "a@example.com", "emial": "x"}, 7]
    path.write_text(json.dumps(items + [{"id": f"x{number}", "state": "gone"} for number in range(12)]))
    with pytest.raises(PlanError) as caught:
        read_users_file("people.json")
    message = str(caught.value)
    assert message.startswith(f"users_file {path} has 14 item(s) that cannot be planned, so nothing was changed: "
                              "item 2 (a@example.com): ")
    assert "emial" in message and "item 3 (item 3): a int, not a mapping of user options" in message
    assert "item 4 (x0)" in message and "item 15 (x11)" in message
    with pytest.raises(ConfigError, match=f"users_file {tmp_path}/absent.yml cannot be read"):
        read_users_file("absent.yml")


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
