# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The onboarding role end to end: real ansible-playbook runs against the sandbox."""

from __future__ import annotations

import json
import re

import pytest
import requests
import yaml
from conftest import ROOT, TARGETS

WRITES = ("POST", "PATCH", "PUT", "DELETE")


def member(number: int, *groups: str, **extra) -> dict:
    name = f"member{number:03d}@example.com"
    return {"user_name": name, "email": name, "external_id": f"00u-{number:03d}", "given_name": f"M{number}",
            "family_name": "Ember", "groups": list(groups), **extra}


TEAM = [member(n, "jira-users", *(["confluence-users"] if n % 2 else [])) for n in range(12)]
GROUPS = ["jira-users", {"display_name": "confluence-users", "external_id": "00g-conf"}, "admins"]


def writes(sandbox) -> int:
    counts = sandbox.stats()["scim_requests"]
    return sum(counts.get(method, 0) for method in WRITES)


def groups_of(sandbox) -> dict[str, list[str]]:
    """Each group's member user names, read directly from the sandbox."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.info['sandbox_api_key']}"
    base = sandbox.info["sandbox_base_url"]
    users = {u["id"]: u["userName"] for u in session.get(f"{base}/Users", params={"count": 100}, timeout=10).json()["Resources"]}
    groups = session.get(f"{base}/Groups", params={"count": 100}, timeout=10).json()["Resources"]
    return {g["displayName"]: sorted(users[m["value"]] for m in g.get("members", [])) for g in groups}


def test_onboard_twice_then_offboard_one(playbook, sandbox, scim):
    check = playbook("onboarding/run.yml", "--check", extra={"onboarding_users": TEAM, "onboarding_groups": GROUPS})
    assert check.recap["changed"] > 0
    assert writes(sandbox) == 0 and scim.users() == []
    assert sandbox.stats()["token_requests"] == 1

    sandbox.reset_stats()
    first = playbook("onboarding/run.yml", extra={"onboarding_users": TEAM, "onboarding_groups": GROUPS})
    assert first.recap["changed"] == check.recap["changed"]
    assert sandbox.stats()["token_requests"] == 1
    assert len(scim.users()) == 12
    memberships = groups_of(sandbox)
    assert memberships["jira-users"] == sorted(m["user_name"] for m in TEAM)
    assert memberships["confluence-users"] == sorted(m["user_name"] for m in TEAM[1::2])
    assert memberships["admins"] == []
    assert "users created" in first.stdout

    sandbox.reset_stats()
    second = playbook("onboarding/run.yml", "--diff", extra={"onboarding_users": TEAM, "onboarding_groups": GROUPS})
    assert second.recap["changed"] == 0
    assert writes(sandbox) == 0
    assert sandbox.stats()["token_requests"] == 1

    leaving = {"member003@example.com", "member008@example.com"}
    offboarded = [dict(m, active=False) if m["user_name"] in leaving else m for m in TEAM]
    playbook("onboarding/run.yml", extra={"onboarding_users": offboarded, "onboarding_groups": GROUPS})
    inactive = {u["userName"] for u in scim.users() if not u["active"]}
    assert inactive == leaving
    assert len(scim.users()) == 12


def test_purge_and_exact_memberships(playbook, sandbox, scim):
    playbook("onboarding/run.yml", extra={"onboarding_users": TEAM, "onboarding_groups": GROUPS})
    remaining = [dict(m, groups=["jira-users"]) for m in TEAM[:10]]
    run = playbook("onboarding/run.yml", extra={"onboarding_users": remaining, "onboarding_groups": GROUPS,
                                                "onboarding_purge": True, "onboarding_purge_members": True})
    assert run.recap["failed"] == 0
    assert {u["userName"] for u in scim.users() if not u["active"]} == {"member010@example.com", "member011@example.com"}
    memberships = groups_of(sandbox)
    assert memberships["confluence-users"] == []
    assert memberships["jira-users"] == sorted(m["user_name"] for m in remaining)


def test_a_bad_variable_fails_at_argument_validation(playbook, sandbox):
    typo = [dict(TEAM[0], user_nmae="oops@example.com")]
    run = playbook("onboarding/run.yml", extra={"onboarding_users": typo}, expect_rc=2)
    assert "Validating arguments against arg spec" in run.stdout
    assert "user_nmae" in run.stdout
    assert sandbox.stats()["token_requests"] == 0

    wrong_type = playbook("onboarding/run.yml", extra={"onboarding_purge": "sometimes"}, expect_rc=2)
    assert "onboarding_purge" in wrong_type.stdout
    assert writes(sandbox) == 0


def test_the_number_of_tasks_does_not_grow_with_the_groups(playbook, sandbox):
    few = playbook("onboarding/run.yml", "--check", extra={"onboarding_users": TEAM[:2], "onboarding_groups": GROUPS})
    many_groups = [f"team-{number:02d}" for number in range(30)]
    people = [dict(m, groups=many_groups) for m in TEAM[:2]]
    many = playbook("onboarding/run.yml", "--check", extra={"onboarding_users": people, "onboarding_groups": GROUPS})
    assert many.recap == few.recap
    # The argument validation, the checks, the leavers (skipped here), scim_users and the summary, and 3 tasks for
    # the organization admin API (skipped here: no onboarding_access, no leavers).
    assert many.stdout.count("TASK [") == few.stdout.count("TASK [") <= 9
    assert "(item=" not in many.stdout  # no task loops over the groups (each loop item costs a module run)
    assert writes(sandbox) == 0


def test_one_module_task_talks_to_scim_and_fetches_the_one_token(playbook, sandbox):
    """Each module task costs about half a second of start-up, so the role runs scim_users alone for SCIM."""
    run = playbook("onboarding/run.yml", "-vvv", extra={"onboarding_users": TEAM[:2], "onboarding_groups": GROUPS})
    # -vvv names the file of every module that runs; action plugins (fail, set_fact, debug...) have none.
    modules = re.findall(r"Using module file \S*/plugins/modules/(\w+)\.py", run.stdout)
    assert modules == ["scim_users"]
    assert sandbox.stats()["token_requests"] == 1
    assert sorted(groups_of(sandbox)) == ["admins", "confluence-users", "jira-users"]


def test_groups_alone(playbook, sandbox, scim):
    """No people: scim_users gets an empty users list and still ensures the groups, in one task."""
    run = playbook("onboarding/run.yml", extra={"onboarding_groups": GROUPS})
    assert summary(run)["groups created"] == ["jira-users", "confluence-users", "admins"]
    assert groups_of(sandbox) == {"jira-users": [], "confluence-users": [], "admins": []} and scim.users() == []
    without_admins = [*GROUPS[:2], {"display_name": "admins", "state": "absent"}]
    removed = playbook("onboarding/run.yml", extra={"onboarding_groups": without_admins})
    assert summary(removed)["groups removed"] == ["admins"]
    assert sorted(groups_of(sandbox)) == ["confluence-users", "jira-users"]


@pytest.mark.parametrize("name, text", [
    ("people.yml", yaml.safe_dump({"users": TEAM})),
    ("people.json", json.dumps(TEAM)),  # a JSON list is passed on as it is
    ("people-in-a-mapping.json", json.dumps({"users": TEAM})),
])
def test_people_from_a_file(playbook, sandbox, scim, tmp_path, name, text):
    people_file = tmp_path / name
    people_file.write_text(text)
    variables = {"onboarding_users_file": str(people_file), "onboarding_groups": GROUPS}
    check = playbook("onboarding/run.yml", "--check", extra=variables)
    assert writes(sandbox) == 0
    first = playbook("onboarding/run.yml", extra=variables)
    assert first.recap["changed"] == check.recap["changed"] > 0
    assert len(scim.users()) == 12
    assert groups_of(sandbox)["confluence-users"] == sorted(m["user_name"] for m in TEAM[1::2])
    again = playbook("onboarding/run.yml", extra=variables)
    assert again.recap["changed"] == 0


def test_a_bad_people_file_fails_before_the_token_naming_the_variable(playbook, sandbox, tmp_path):
    people_file = tmp_path / "people.yml"
    people_file.write_text(yaml.safe_dump([TEAM[0], dict(TEAM[1], user_nmae="oops")]))
    bad = playbook("onboarding/run.yml", extra={"onboarding_users_file": str(people_file)}, expect_rc=2)
    assert "onboarding_users_file" in bad.stdout and "user_nmae" in bad.stdout

    missing = playbook("onboarding/run.yml", extra={"onboarding_users_file": "no-such-people.yml"}, expect_rc=2)
    playbook_dir = str(TARGETS / "onboarding")
    assert f"onboarding_users_file: {playbook_dir}/no-such-people.yml is not a file" in missing.stdout
    assert sandbox.stats()["token_requests"] == 0 and writes(sandbox) == 0


@pytest.mark.parametrize("variables, expected", [
    ({"onboarding_base_url": ""}, "Set exactly one of onboarding_base_url and onboarding_directory_id"),
    ({"onboarding_directory_id": "d-1"}, "Set exactly one of onboarding_base_url and onboarding_directory_id (the SCIM "
                                         "directory); both are set."),
    ({"onboarding_private_key_path": ""}, "onboarding_client_id is set, but no key or secret"),
    ({"onboarding_users": [], "onboarding_groups": []},
     "The role was given no people and no groups: set onboarding_users (or onboarding_users_file) and/or "
     "onboarding_groups."),
])
def test_inputs_are_checked_before_the_token_naming_the_role_variables(playbook, sandbox, variables, expected):
    run = playbook("onboarding/run.yml", extra={"onboarding_users": TEAM[:1], **variables}, expect_rc=2)
    assert expected in run.stdout
    assert "Check the role's variables before fetching a token" in run.stdout
    assert sandbox.stats()["token_requests"] == 0


def test_the_example_people_file_is_what_the_role_takes(playbook, sandbox, scim):
    """docs/getting-started.md section 8 gives playbooks/vars/people.yml to the role as onboarding_users_file."""
    guide = (ROOT / "docs" / "getting-started.md").read_text()
    assert "onboarding_users_file: people.yml" in guide and "playbooks/vars/people.yml" in guide
    people_file = ROOT / "playbooks" / "vars" / "people.yml"
    people = yaml.safe_load(people_file.read_text())["users"]
    run = playbook("onboarding/run.yml", extra={"onboarding_users_file": str(people_file)})
    assert run.recap["failed"] == 0 and "Check the people of onboarding_users_file" in run.stdout
    assert sorted(u["userName"] for u in scim.users()) == sorted(p["user_name"] for p in people) and people
    memberships = groups_of(sandbox)
    for person in people:
        for group in person["groups"]:
            assert person["user_name"] in memberships[group]


def summary(run) -> dict:
    """The role's summary, as the debug task printed it."""
    start = run.stdout.index("=> {", run.stdout.index("Summarise the onboarding")) + 3
    return json.loads(run.stdout[start:run.stdout.index("\n}\n", start) + 2])["msg"]


def test_joiners_get_product_access_and_leavers_are_suspended_with_their_tokens_revoked(playbook, sandbox, scim, org):
    info = sandbox.info
    team = TEAM[:4]
    leaver = team[1]
    options = {
        "onboarding_groups": GROUPS,
        "onboarding_org_id": info["sandbox_org_id"],
        "onboarding_api_key": info["sandbox_org_api_key"],
        "onboarding_admin_base_url": info["sandbox_admin_base_url"],
        "onboarding_access": {"jira-users": [{"resource": "Sandbox Jira", "role": "atlassian/user"}]},
        "onboarding_offboarding": {"action": "suspend", "revoke_api_tokens": True},
        # Exact memberships: a suspended leaver leaves the groups, like everyone the list leaves out.
        "onboarding_purge_members": True,
    }

    check = playbook("onboarding/run.yml", "--check", extra={**options, "onboarding_users": team})
    assert check.recap["failed"] == 0 and writes(sandbox) == 0 and org.writes() == 0 and scim.users() == []

    joined = playbook("onboarding/run.yml", extra={**options, "onboarding_users": team})
    assert summary(joined)["product access granted"] == 1 and summary(joined)["API tokens revoked"] == 0
    jira = next(w["id"] for w in org.state()["workspaces"] if w["name"] == "Sandbox Jira")
    assert list(org.state()["role_assignments"].values()) == [{jira: ["atlassian/user"]}]

    sandbox.org_control("api_tokens", email=leaver["email"], labels=["laptop", "ci-deploy"])
    never_provisioned = member(99, "jira-users", active=False)  # a leaver SCIM never had: never created
    leaving = [dict(person, active=False) if person is leaver else person for person in team] + [never_provisioned]
    sandbox.reset_stats()
    left = playbook("onboarding/run.yml", "--diff", extra={**options, "onboarding_users": leaving})
    assert summary(left)["people suspended"] == [leaver["email"]] and summary(left)["API tokens revoked"] == 2
    # Suspended, not deactivated: SCIM keeps the account active, and only the group memberships change.
    scim_writes = sandbox.stats()["scim_requests"]
    assert scim_writes.get("PATCH", 0) > 0 and sum(scim_writes.get(method, 0) for method in ("POST", "PUT", "DELETE")) == 0
    assert scim.user(leaver["user_name"])["active"] is True and scim.user(never_provisioned["user_name"]) is None
    assert leaver["user_name"] not in groups_of(sandbox)["jira-users"]
    [account] = [user for user in org.state()["users"] if user["email"] == leaver["email"]]
    assert account["membershipStatus"] == "suspended" and org.state()["api_tokens"].get(account["account_id"]) in (None, [])

    again = playbook("onboarding/run.yml", extra={**options, "onboarding_users": leaving})
    assert again.recap["changed"] == 0


@pytest.mark.parametrize(("options", "message"), [
    ({"onboarding_access": {"jira-users": [{"resource": "Sandbox Jira", "role": "atlassian/user"}]}},
     "onboarding_access and onboarding_offboarding (suspend, revoke_api_tokens) use the organization admin API"),
    ({"onboarding_offboarding": {"action": "suspend"}, "onboarding_purge": True, "onboarding_org_id": "o",
      "onboarding_api_key": "k"}, "onboarding_offboarding.action suspend cannot be combined with onboarding_purge"),
])
def test_org_settings_are_checked_before_the_token(playbook, sandbox, options, message):
    run = playbook("onboarding/run.yml", extra={"onboarding_users": TEAM[:1], **options}, expect_rc=2)
    assert message in run.output and sandbox.stats()["token_requests"] == 0


def test_a_rehire_of_someone_atlassian_hides_goes_through_the_scim_links(playbook, sandbox, scim):
    info = sandbox.info
    sandbox.configure(hide_inactive=True)  # as Atlassian: a deactivated user is left out of filters and lists
    returning = member(42, "jira-users", active=True)  # set back to true: the documented way to restore access
    earlier = scim.create_user({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "active": False,
                                "userName": returning["user_name"], "externalId": returning["external_id"],
                                "emails": [{"value": returning["email"], "type": "work", "primary": True}]})
    org = {"onboarding_org_id": info["sandbox_org_id"], "onboarding_api_key": info["sandbox_org_api_key"],
           "onboarding_admin_base_url": info["sandbox_admin_base_url"]}
    run = playbook("onboarding/run.yml", extra={**org, "onboarding_users": [returning]})
    assert run.recap["failed"] == 0 and summary(run)["users updated"] == [returning["user_name"]]
    sandbox.configure(hide_inactive=False)
    [rehired] = scim.users()
    assert rehired["id"] == earlier["id"] and rehired["active"] is True
    assert groups_of(sandbox)["jira-users"] == [returning["user_name"]]
