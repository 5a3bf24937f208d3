# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""scim_groups' planning: pure parts and a fake client that records every request."""

from __future__ import annotations

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ApiError, ConfigError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._group_bulk import (
    Member,
    UserGroups,
    parse_group_items,
    reconcile_groups,
)


class FakeClient:
    """Groups and users in memory; every call is recorded; PATCH can be made to fail."""

    page_size = 100

    def __init__(self, groups=(), users=(), fail_patch=False):
        self.groups = {group["id"]: dict(group) for group in groups}
        self.users = list(users)
        self.calls: list[tuple] = []
        self.fail_patch = fail_patch

    def list_all(self, resource_type, **kwargs):
        self.calls.append(("list", resource_type))
        if resource_type == "Groups":
            return [{key: value for key, value in group.items() if key != "members"} for group in self.groups.values()]
        return list(self.users)

    def get(self, resource_type, resource_id, **kwargs):
        self.calls.append(("get", resource_type, resource_id))
        return self.groups.get(resource_id) if resource_type == "Groups" else None

    def create(self, resource_type, payload, **kwargs):
        self.calls.append(("create", payload["displayName"]))
        group = dict(payload, id=f"g-{len(self.groups)}")
        self.groups[group["id"]] = group
        return group

    def patch(self, resource_type, resource_id, operations):
        self.calls.append(("patch", resource_id, len(operations)))
        if self.fail_patch:
            raise ApiError("SCIM PATCH failed: HTTP 500.", status=500, method="PATCH", path="/Groups")
        return None

    def delete(self, resource_type, resource_id):
        self.calls.append(("delete", resource_id))
        return self.groups.pop(resource_id, None) is not None

    def writes(self):
        return [call for call in self.calls if call[0] in ("create", "patch", "delete")]


USERS = [{"id": f"u{n}", "userName": f"user{n}@example.com"} for n in range(5)]


def test_items_are_numbered_from_1_and_named():
    with pytest.raises(ConfigError) as caught:
        parse_group_items([{"display_name": "a"}, "b", {"display_name": "A"}, {"external_id": "x"}])
    message = str(caught.value)
    assert "groups has 3 invalid item(s)" in message
    assert "item 2 is a str" in message
    assert "item 3 (A) names the same group as item 1" in message
    assert "item 4 has no display_name" in message


def test_nothing_is_written_when_a_member_is_unknown_in_a_real_run():
    client = FakeClient(users=USERS)
    with pytest.raises(ScimKitError, match=r"item 2 \(b\) matches no user of the directory: 'ghost@example.com'"):
        reconcile_groups(client, [{"display_name": "a", "members": ["user1@example.com"]},
                                  {"display_name": "b", "members": ["ghost@example.com"]}], check_mode=False)
    assert client.writes() == []


def test_check_mode_shows_unknown_members_as_additions_with_a_warning():
    client = FakeClient(users=USERS)
    result = reconcile_groups(client, [{"display_name": "b", "members": ["ghost@example.com"]}],
                              check_mode=True, diff=True)
    assert result.outcomes["created"] == ["b"] and client.writes() == []
    assert result.after["b"]["members"] == ["ghost@example.com"]
    assert len(result.warnings) == 1 and "ghost@example.com" in result.warnings[0]


def test_the_purge_guard_names_up_to_20_groups_and_writes_nothing():
    groups = [{"id": f"g{n}", "displayName": f"old-{n:02d}"} for n in range(23)]
    client = FakeClient(groups=groups)
    with pytest.raises(ScimKitError) as caught:
        reconcile_groups(client, [], check_mode=False, purge=True, max_purge=3)
    message = str(caught.value)
    assert "purge would delete 23 groups, more than max_purge (3)" in message
    assert "'old-19' and 3 more" in message and "'old-20'" not in message
    assert client.writes() == []


def test_members_are_read_only_for_managed_groups_and_users_listed_once():
    groups = [{"id": "g1", "displayName": "a", "members": [{"value": "u1"}]},
              {"id": "g2", "displayName": "b", "members": [{"value": "u2"}]},
              {"id": "g3", "displayName": "c"}]
    client = FakeClient(groups=groups, users=USERS)
    result = reconcile_groups(client, [{"display_name": "a", "members": ["user1@example.com", "user3@example.com"]},
                                       {"display_name": "b", "members": ["user2@example.com"]},
                                       {"display_name": "c"}], check_mode=False, concurrency=2)
    assert result.outcomes["updated"] == ["a"] and sorted(result.outcomes["unchanged"]) == ["b", "c"]
    assert sorted(call for call in client.calls if call[0] == "get") == [("get", "Groups", "g1"), ("get", "Groups", "g2")]
    assert client.calls.count(("list", "Users")) == 1 and client.calls.count(("list", "Groups")) == 1
    assert client.writes() == [("patch", "g1", 1)]


def test_a_group_created_whose_members_then_fail_counts_as_changed():
    client = FakeClient(users=USERS, fail_patch=True)
    result = reconcile_groups(client, [{"display_name": "new", "members": ["user1@example.com"]}], check_mode=False)
    assert result.changed and result.outcomes["created"] == ["new"]
    assert [(f.item, f.group) for f in result.failures] == [(1, "new")]


# -- the groups of a scim_users task (UserGroups) ------------------------------------------------

def test_user_groups_refuse_what_cannot_be_planned_naming_every_cause():
    declared = [{"display_name": "Old-Team", "state": "absent"}, {"display_name": "admins"},
                {"display_name": "ADMINS"}, {"display_name": ""}]
    named = {1: ["old-team"], 2: ["ok", " "]}
    with pytest.raises(ConfigError) as caught:
        UserGroups(declared, named, labels={1: "ann@example.com", 2: "bo@example.com"}, purge_members=False)
    message = str(caught.value)
    assert "groups item 3 (ADMINS) names the same group as groups item 2" in message
    assert "groups item 4 has no display_name" in message
    assert "users item 1 (ann@example.com) puts the user in 'old-team', which groups item 1 marks absent" in message
    assert "users item 2 (bo@example.com) has an empty group name" in message


def test_user_groups_members_are_the_items_and_created_users_join_after_their_create():
    client = FakeClient(groups=[{"id": "g-team", "displayName": "Team", "members": [{"value": "u-old"}]}])
    groups = UserGroups([{"display_name": "Empty-me", "purge_members": True}], {1: ["team"], 2: ["Team", "new"]},
                        labels={1: "ann", 2: "bo"}, purge_members=False)
    groups.plan(client, [Member(1, "ann", "u-ann"), Member(2, "bo", None)], check_mode=False, concurrency=2)
    # Listed once; only the group whose members are managed and which exists is read; no user is looked up.
    assert client.calls == [("list", "Groups"), ("get", "Groups", "g-team")]
    groups.complete({2: "u-bo"})
    result = groups.apply(client, check_mode=True, concurrency=2, diff=True, names={"u-ann": "ann", "u-bo": "bo"})
    assert result.outcomes == {"created": ["Empty-me", "new"], "updated": ["team"], "deleted": [], "unchanged": []}
    # Without purge_members the member nobody lists stays; bo, created by the task, joins.
    assert result.after["team"]["members"] == ["ann", "bo", "u-old"]
    assert result.after["new"]["members"] == ["bo"] and result.after["Empty-me"]["members"] == []
