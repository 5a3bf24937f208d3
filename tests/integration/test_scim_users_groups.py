# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""scim_users managing its users' group memberships (users[].groups, groups, purge_members) against the sandbox."""

from __future__ import annotations

import json
import math

import pytest
from conftest import requests_sent, scim_writes
import yaml

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def person(number: int, *groups: str, **extra) -> dict:
    name = f"joiner{number:03d}@example.com"
    return {"user_name": name, "email": name, "external_id": f"00u-{number:03d}", "groups": list(groups), **extra}


# 130 people (two pages of users), each in all-staff, half in odd-staff, every tenth in tenth-staff.
PEOPLE = [person(n, "all-staff", *(["odd-staff"] if n % 2 else []), *(["tenth-staff"] if n % 10 == 0 else []))
          for n in range(130)]


def add_user(scim, name: str) -> str:
    return scim.create_user({"schemas": [USER_SCHEMA], "userName": name,
                             "emails": [{"value": name, "type": "work", "primary": True}]})["id"]


def names_in(people, group: str) -> list[str]:
    return sorted(p["user_name"] for p in people if group in p.get("groups", []))


def test_people_join_their_groups_in_one_task_and_a_rerun_reads_only_what_it_must(scim_users_task, sandbox, scim):
    check = scim_users_task(PEOPLE, "--check", "--diff")
    assert check["changed"] and len(check["created"]) == 130
    assert sorted(check["groups"]["created"]) == ["all-staff", "odd-staff", "tenth-staff"]
    assert scim_writes(sandbox) == {} and scim.groups() == {}
    users_diff, groups_diff = check["diff"]
    assert users_diff["before_header"] == "users" and groups_diff["before_header"] == "groups"
    # People the run would create are shown as the members they will be, by name, with no warning.
    assert groups_diff["after"]["tenth-staff"]["members"] == names_in(PEOPLE, "tenth-staff")
    assert not check.get("warnings")

    sandbox.reset_stats()
    first = scim_users_task(PEOPLE)
    assert first["changed"] and len(first["created"]) == 130 and first["failures"] == []
    assert sorted(first["groups"]["created"]) == ["all-staff", "odd-staff", "tenth-staff"]
    memberships = scim.memberships()
    for group in ("all-staff", "odd-staff", "tenth-staff"):
        assert memberships[group] == names_in(PEOPLE, group)
    assert sandbox.stats()["token_requests"] == 1

    sandbox.reset_stats()
    again = scim_users_task(PEOPLE)
    assert not again["changed"] and sorted(again["groups"]["unchanged"]) == ["all-staff", "odd-staff", "tenth-staff"]
    assert scim_writes(sandbox) == {}
    # The issue's budget: user pages + group pages + one read per group with managed members + 3.
    users_pages, group_pages, managed = math.ceil(130 / 100), 1, 3
    assert requests_sent(sandbox) <= users_pages + group_pages + managed + 3
    # No member is looked up by name: the users were resolved by the one user listing.
    assert sandbox.stats()["scim_requests"].get("GET", 0) == users_pages + group_pages + managed


def test_memberships_are_added_unless_purge_members_makes_them_exact(scim_users_task, sandbox, scim):
    outsider = add_user(scim, "outsider@example.com")
    scim.create_group("all-staff", outsider)
    scim.create_group("keep-as-is", outsider)
    people = PEOPLE[:4]

    added = scim_users_task(people)
    assert added["groups"]["updated"] == ["all-staff"] and sorted(added["groups"]["created"]) == ["odd-staff",
                                                                                                  "tenth-staff"]
    assert scim.memberships()["all-staff"] == sorted(["outsider@example.com"] + names_in(people, "all-staff"))

    # purge_members for the task, but not for keep-as-is (declared with purge_members false, named by nobody).
    declared = [{"display_name": "keep-as-is", "purge_members": False}]
    exact = scim_users_task(people, "--diff", purge_members=True, groups_declared=declared)
    assert exact["groups"]["updated"] == ["all-staff"] and "keep-as-is" in exact["groups"]["unchanged"]
    groups_diff = exact["diff"][1]
    assert "outsider@example.com" in groups_diff["before"]["all-staff"]["members"]
    assert "outsider@example.com" not in groups_diff["after"]["all-staff"]["members"]
    memberships = scim.memberships()
    assert memberships["all-staff"] == names_in(people, "all-staff")
    assert memberships["keep-as-is"] == ["outsider@example.com"]

    # A declared group that no item names is emptied by purge_members.
    emptied = scim_users_task(people, purge_members=True, groups_declared=[{"display_name": "keep-as-is"}])
    assert emptied["groups"]["updated"] == ["keep-as-is"] and scim.memberships()["keep-as-is"] == []


def test_declared_groups_get_their_external_id_and_absent_ones_are_deleted(scim_users_task, sandbox, scim):
    scim.create_group("contractors-2025")
    people = PEOPLE[:3]
    declared = [{"display_name": "all-staff", "external_id": "00g-all"},
                {"display_name": "contractors-2025", "state": "absent"},
                {"display_name": "admins"}]
    result = scim_users_task(people, groups_declared=declared)
    assert sorted(result["groups"]["created"]) == ["admins", "all-staff", "odd-staff", "tenth-staff"]
    assert result["groups"]["deleted"] == ["contractors-2025"]
    groups = scim.groups()
    assert groups["all-staff"]["externalId"] == "00g-all" and "contractors-2025" not in groups
    assert scim.memberships()["admins"] == []

    again = scim_users_task(people, groups_declared=declared)
    assert not again["changed"] and again["groups"]["deleted"] == []


@pytest.mark.parametrize("people, declared, expected", [
    ([person(1, "all-staff"), person(2, "Contractors")], [{"display_name": "contractors", "state": "absent"}],
     "users item 2 (joiner002@example.com) puts the user in 'Contractors', which groups item 1 marks absent"),
    ([person(1, "all-staff", "  ")], [], "users item 1 (joiner001@example.com) has an empty group name in groups"),
    ([person(1, "all-staff")], [{"display_name": "admins"}, {"display_name": "Admins"}],
     "groups item 2 (Admins) names the same group as groups item 1"),
])
def test_groups_that_cannot_be_planned_fail_before_any_request(scim_users_task, sandbox, people, declared, expected):
    result = scim_users_task(people, groups_declared=declared)
    assert result["failed"] and not result["changed"]
    assert expected in result["msg"]
    assert sandbox.stats()["token_requests"] == 0 and requests_sent(sandbox) == 0


def test_an_offboarded_or_deleted_person_is_nobodys_new_member(scim_users_task, sandbox, scim):
    staff = PEOPLE[:2]
    scim_users_task(staff)
    leaving = [dict(staff[0], state="absent"), staff[1], person(7, "all-staff", active=False)]
    result = scim_users_task(leaving, "--check", "--diff")
    assert result["deleted"] == [staff[0]["user_name"]] and result["created"] == []
    after = result["diff"][1]["after"] if result["groups"]["updated"] else {}
    assert "joiner007@example.com" not in json.dumps(after)  # nobody found to deactivate: not created, not added


def test_people_file_with_groups(scim_users_task, sandbox, scim, tmp_path):
    people_file = tmp_path / "people.yml"
    people_file.write_text(yaml.safe_dump({"users": PEOPLE[:5]}))
    result = scim_users_task([], users_file=str(people_file))
    assert len(result["created"]) == 5 and sorted(result["groups"]["created"]) == ["all-staff", "odd-staff",
                                                                                   "tenth-staff"]
    assert scim.memberships()["odd-staff"] == names_in(PEOPLE[:5], "odd-staff")

    people_file.write_text(yaml.safe_dump([PEOPLE[1], dict(PEOPLE[0], groups={"all-staff": True})]))
    sandbox.reset_stats()
    bad = scim_users_task([], users_file=str(people_file))
    assert bad["failed"] and "item 2 (joiner000@example.com)" in bad["msg"] and "groups" in bad["msg"]
    assert requests_sent(sandbox) == 0


def test_a_group_is_found_whatever_the_case_of_its_name(scim_users_task, sandbox, scim):
    scim.create_group("Staff")
    result = scim_users_task([person(1, "staff")])
    assert result["groups"]["updated"] == ["staff"] and result["groups"]["created"] == []
    assert list(scim.memberships()) == ["Staff"]  # found case-insensitively, not created again
    assert scim.memberships()["Staff"] == ["joiner001@example.com"]


def test_a_user_or_group_that_fails_is_reported_and_the_rest_is_done(scim_users_task, sandbox, scim):
    people = PEOPLE[:3]  # joiner000 (all-staff, tenth-staff), joiner001 (all-staff, odd-staff), joiner002 (all-staff)
    refusal = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400"}
    sandbox.inject(target="scim", status=400, method="POST", path_contains="/Users", json=dict(refusal, detail="No user"))
    sandbox.inject(target="scim", status=400, method="PATCH", path_contains="/Groups/",
                   json=dict(refusal, detail="No members"))
    result = scim_users_task(people, concurrency=1)
    assert result["failed"] and result["changed"]
    user_failure, group_failure = result["failures"]
    assert user_failure["item"] == 1 and user_failure["user"] == "joiner000@example.com"
    assert "No user" in user_failure["error"]
    assert group_failure == {"group": "all-staff", "error": group_failure["error"]} and "No members" in group_failure["error"]
    assert "2 of the users and groups failed" in result["msg"]
    memberships = scim.memberships()
    # all-staff was created, and then its members refused; the user who was not created is in no group.
    assert memberships["all-staff"] == [] and memberships["odd-staff"] == ["joiner001@example.com"]
    assert memberships["tenth-staff"] == []

    healed = scim_users_task(people)
    assert healed["failures"] == [] and healed["created"] == ["joiner000@example.com"]
    assert scim.memberships()["all-staff"] == names_in(people, "all-staff")


def test_a_group_that_fails_alone_fails_the_task(scim_users_task, sandbox, scim):
    people = PEOPLE[:2]
    scim_users_task(people)
    sandbox.inject(target="scim", status=400, method="PATCH", path_contains="/Groups/",
                   json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "detail": "No"})
    result = scim_users_task(people + [person(9, "all-staff")])
    assert result["failed"] and result["changed"]  # the user was created; joining all-staff was refused
    assert result["created"] == ["joiner009@example.com"]
    assert result["failures"] == [{"group": "all-staff", "error": result["failures"][0]["error"]}]
    assert "1 of the users and groups failed (group 'all-staff'" in result["msg"]
