# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Identity safety: each item reaches exactly one user, and a bulk plan is checked before its first write.

Each test is a case a review of 0.1.0 found to touch the wrong person, or to leave the right one
untouched (issue 11); the directory is always checked on the sandbox itself.
"""

from __future__ import annotations

import pytest
# Fixtures, used by name in the tests' arguments.
from security_support import run_for_result  # noqa: F401  # pylint: disable=unused-import

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def writes(sandbox) -> dict[str, int]:
    counts = sandbox.stats()["scim_requests"]
    return {method: counts[method] for method in WRITES if counts.get(method)}


def existing(scim, user_name: str, **attributes) -> dict:
    return scim.create_user({"schemas": [USER_SCHEMA], "userName": user_name,
                             "emails": [{"value": user_name, "type": "work", "primary": True}], **attributes})


def both(run_for_result, *, people=(), bulk=(), **options) -> tuple[list[dict], dict]:
    """scim_user once per person of ``people``, then scim_users over ``bulk``."""
    result = run_for_result("faults/conflict.yml", people=list(people), bulk_people=list(bulk), **options)
    return result["single"], result["bulk"]


@pytest.mark.parametrize("purge_action", ["deactivate", "delete"])
def test_a_typo_in_one_item_fails_the_task_and_offboards_nobody(run_for_result, sandbox, scim, purge_action):
    existing(scim, "alice@example.com")
    existing(scim, "bob@example.com")
    sandbox.reset_stats()
    bulk = [{"user_name": "alice@example.com"},
            {"user_name": "bob@example.com", "given_name": "Bob", "name": {"given_name": "Robert"}},
            {"user_name": "carol@example.com", "email": "carol@example.com"}]
    _single, result = both(run_for_result, bulk=bulk, purge=True, purge_action=purge_action)
    assert result["failed"] and not result["changed"]
    assert result["msg"] == ("users has 1 item(s) that cannot be planned, so nothing was changed: item 2 "
                             "(bob@example.com): given_name and name.given_name disagree; set only one of them.")
    assert result["failures"] == [{"item": 2, "user": "bob@example.com",
                                   "error": "given_name and name.given_name disagree; set only one of them."}]
    assert writes(sandbox) == {}
    assert sorted((user["userName"], user["active"]) for user in scim.users()) == [
        ("alice@example.com", True), ("bob@example.com", True)]


def test_an_hr_rekey_updates_the_person_and_the_purge_leaves_them(run_for_result, sandbox, scim):
    dave = existing(scim, "dave@example.com")
    existing(scim, "erin@example.com", externalId="HR-0001")
    _single, result = both(run_for_result, bulk=[{"user_name": "dave@example.com", "external_id": "HR-0042"},
                                                 {"user_name": "erin@example.com", "external_id": "HR-0001"}],
                           purge=True)
    assert not result.get("failed"), result["msg"]
    assert (result["updated"], result["unchanged"], result["created"], result["deactivated"]) == (
        ["dave@example.com"], ["erin@example.com"], [], [])
    assert {(user["id"], user.get("externalId"), user["active"]) for user in scim.users()} >= {
        (dave["id"], "HR-0042", True)}
    assert len(scim.users()) == 2


def test_a_user_name_held_under_another_external_id_is_refused(run_for_result, sandbox, scim):
    existing(scim, "frank@example.com", externalId="HR-0007")
    sandbox.reset_stats()
    item = {"user_name": "frank@example.com", "external_id": "HR-9999", "title": "Impostor"}
    [single], bulk = both(run_for_result, people=[item], bulk=[item], purge=True)
    for message in (single["msg"], bulk["failures"][0]["error"]):
        assert "userName 'frank@example.com' belongs to the user with id" in message
        assert "externalId 'HR-0007'" in message and "'HR-9999'" in message
    assert bulk["msg"].startswith("users has 1 item(s) that cannot be planned")
    assert writes(sandbox) == {} and scim.user("frank@example.com").get("title") is None


@pytest.mark.parametrize("offboarding", [{"active": False}, {"state": "absent"}])
def test_offboarding_by_user_name_and_an_unknown_external_id_reaches_the_person(
        run_for_result, sandbox, scim, offboarding):
    existing(scim, "gina@example.com")
    existing(scim, "hank@example.com")
    item = {"user_name": "gina@example.com", "external_id": "HR-0100", **offboarding}
    [single], _bulk = both(run_for_result, people=[item])
    _single, bulk = both(run_for_result, bulk=[{"user_name": "hank@example.com", "external_id": "HR-0101",
                                                **offboarding}])
    action = "deactivated" if "active" in offboarding else "deleted"
    assert single["changed"] and single["action"] == action
    assert bulk["changed"] and bulk[action] == ["hank@example.com"]
    users = {user["userName"]: user for user in scim.users()}
    if action == "deleted":
        assert users == {}
    else:
        assert (users["gina@example.com"]["active"], users["hank@example.com"]["active"]) == (False, False)


def test_two_items_reaching_one_person_by_different_keys_fail_before_any_write(run_for_result, sandbox, scim):
    existing(scim, "ivy@example.com", externalId="E1")
    sandbox.reset_stats()
    _single, bulk = both(run_for_result, bulk=[
        {"user_name": "ivy@example.com", "title": "Engineer"},
        {"external_id": "E1", "title": "Manager", "active": False},
        {"user_name": "jack@example.com", "email": "jack@example.com"},
    ])
    assert bulk["failed"] and not bulk["changed"]
    assert [(failure["item"], failure["user"]) for failure in bulk["failures"]] == [(2, "E1")]
    assert "it resolves to the same user as item 1" in bulk["failures"][0]["error"]
    assert writes(sandbox) == {} and [user["userName"] for user in scim.users()] == ["ivy@example.com"]


def test_two_keys_naming_two_people_fail_naming_both(run_for_result, sandbox, scim):
    kim = existing(scim, "kim@example.com", externalId="E-KIM")
    lee = existing(scim, "lee@example.com", externalId="E-LEE")
    sandbox.reset_stats()
    item = {"user_name": "kim@example.com", "external_id": "E-LEE", "state": "absent"}
    [single], bulk = both(run_for_result, people=[item], bulk=[item])
    for message in (single["msg"], bulk["failures"][0]["error"]):
        assert "the keys name two different users" in message
        assert kim["id"] in message and lee["id"] in message
    assert writes(sandbox) == {} and len(scim.users()) == 2


def test_offboarding_someone_atlassian_hides_is_unchanged_and_never_creates(run_for_result, sandbox, scim):
    sandbox.configure(hide_inactive=True)
    existing(scim, "mia@example.com", active=False)
    existing(scim, "ned@example.com", active=False)
    sandbox.reset_stats()
    leavers = [{"user_name": "mia@example.com", "active": False}, {"user_name": "nobody@example.com", "state": "absent"}]
    for _run in (1, 2):  # the second run of an offboarding, as in a nightly job
        single, bulk = both(run_for_result, people=leavers,
                            bulk=[{"user_name": "ned@example.com", "external_id": "HR-N", "active": False}])
        assert [(result["changed"], result["action"]) for result in single] == [(False, "unchanged")] * 2
        assert not bulk.get("failed") and not bulk["changed"] and bulk["unchanged"] == ["ned@example.com"]
    assert writes(sandbox) == {}
    sandbox.configure(hide_inactive=False)
    assert sorted((user["userName"], user["active"]) for user in scim.users()) == [
        ("mia@example.com", False), ("ned@example.com", False)]


def test_rehiring_someone_atlassian_hides_needs_the_id_and_says_where_to_find_it(run_for_result, sandbox, scim):
    sandbox.configure(hide_inactive=True)
    olga = existing(scim, "olga@example.com", active=False)
    rehire = {"user_name": "olga@example.com", "email": "olga@example.com", "active": True}
    [refused, with_id], _bulk = both(run_for_result, people=[rehire, dict(rehire, id=olga["id"])])
    assert refused["failed"] and "give the user's SCIM id with the id option" in refused["msg"]
    assert "identity provider keeps it" in refused["msg"]
    assert with_id["changed"] and with_id["action"] == "updated"
    sandbox.configure(hide_inactive=False)
    assert [(user["id"], user["active"]) for user in scim.users()] == [(olga["id"], True)]


def test_rehiring_someone_atlassian_hides_works_through_the_scim_links(run_for_result, sandbox, scim):
    sandbox.configure(hide_inactive=True)
    olga = existing(scim, "olga@example.com", active=False)
    pete = existing(scim, "pete@example.com", active=False, externalId="HR-P")
    rehire = [{"user_name": "olga@example.com", "email": "olga@example.com", "active": True}]
    bulk = [{"user_name": "pete@example.com", "email": "pete@example.com", "external_id": "HR-P", "active": True}]
    result = run_for_result("identity/rehire.yml", people=rehire, bulk_people=bulk)
    [single], bulk_result = result["single"], result["bulk"]
    assert not single.get("failed"), single["msg"]
    assert single["changed"] and single["action"] == "updated" and single["user"]["id"] == olga["id"]
    assert not bulk_result.get("failed"), bulk_result["msg"]
    assert bulk_result["updated"] == ["pete@example.com"] and bulk_result["created"] == []
    assert sandbox.stats()["scim_requests"].get("PATCH") == 2

    again = run_for_result("identity/rehire.yml", people=rehire, bulk_people=bulk)
    assert [again["single"][0]["action"], again["bulk"]["unchanged"]] == ["unchanged", ["pete@example.com"]]
    sandbox.configure(hide_inactive=False)
    assert sorted((user["id"], user["active"]) for user in scim.users()) == sorted(
        [(olga["id"], True), (pete["id"], True)])
