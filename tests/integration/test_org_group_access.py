# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""org_group_access against the sandbox's organization admin API, with real ansible-playbook runs.

The sandbox's eventual consistency is driven by reads (org_role_visibility_reads) or held until
settled (org_role_visibility_hold), never by the clock, so no outcome depends on machine speed.
"""

from __future__ import annotations

import time


GROUP = "jira-users"
USER = "atlassian/user"


def workspace_ari(org, name: str) -> str:
    return next(w["id"] for w in org.state()["workspaces"] if w["name"] == name)


def visible(org, group_id: str) -> dict:
    return org.state()["visible_role_assignments"].get(group_id, {})


def test_grant_by_name_and_url_check_mode_diff_wait_and_rerun(org, run_org, sandbox):
    group_id = org.group(GROUP)
    jira, confluence = workspace_ari(org, "Sandbox Jira"), workspace_ari(org, "Sandbox Confluence")
    sandbox.configure(org_role_visibility_reads=2)
    task = {"group": "JIRA-users", "access": [
        {"resource": "Sandbox Jira", "role": USER},
        {"resource": "https://sandbox-confluence.atlassian.net/", "role": USER}]}
    wanted = sorted([{"resource": jira, "role": USER}, {"resource": confluence, "role": USER}], key=lambda g: g["resource"])

    checked, _run = run_org("org_group_access", task, "--check", "--diff")
    assert checked["changed"] and checked["granted"] == wanted and checked["pending"] == []
    assert checked["diff"] == {"before": {"access": []}, "after": {"access": wanted}}
    assert org.writes() == 0 and org.state()["role_assignments"] == {}

    done, _run = run_org("org_group_access", task, "--diff")
    assert (done["changed"], done["pending"], done["assignments"]) == (True, [], wanted)
    assert done["group"] == {"id": group_id, "name": GROUP, "directory_id": org.info["sandbox_directory_id"]}
    assert done["diff"] == checked["diff"]
    # It read until the changes showed: the first read after the writes still hid them.
    assert org.operations()["groups.role_assignments"] >= 3
    assert visible(org, group_id) == {jira: [USER], confluence: [USER]}

    again, _run = run_org("org_group_access", task)
    assert (again["changed"], again["granted"], org.writes()) == (False, [], 0)


def test_a_change_still_hidden_at_wait_timeout_is_reported_pending(org, run_org, sandbox):
    group_id = org.group(GROUP)
    jira = workspace_ari(org, "Sandbox Jira")
    sandbox.configure(org_role_visibility_hold=True)  # hidden until settled, however long the module waits
    task = {"group_id": group_id, "access": [{"resource": jira, "role": USER}], "wait_timeout": 1}
    done, run = run_org("org_group_access", task)
    assert done["changed"] and done["pending"] == [{"resource": jira, "role": USER, "change": "grant"}]
    assert done["assignments"] == [] and "not yet visible" in run.output
    assert org.state()["role_assignments"] == {group_id: {jira: [USER]}}

    sandbox.org_control("settle")
    again, _run = run_org("org_group_access", task)
    assert (again["changed"], again["pending"]) == (False, [])


def test_exclusive_and_absent_revoke(org, run_org):
    group_id = org.group(GROUP)
    jira, confluence = workspace_ari(org, "Sandbox Jira"), workspace_ari(org, "Sandbox Confluence")
    for resource in (jira, confluence):
        org.role(group=GROUP, resource=resource, role=USER)
    only_jira = [{"resource": jira, "role": USER}]
    exclusive, _run = run_org("org_group_access", {"group": GROUP, "access": only_jira, "exclusive": True, "wait_timeout": 5})
    assert exclusive["revoked"] == [{"resource": confluence, "role": USER}] and exclusive["pending"] == []
    assert visible(org, group_id) == {jira: [USER]}
    absent, _run = run_org("org_group_access", {"group": GROUP, "access": only_jira, "state": "absent", "wait_timeout": 5})
    assert absent["revoked"] == [{"resource": jira, "role": USER}] and visible(org, group_id) == {}


def test_no_seats_left_names_the_product(org, run_org, sandbox):
    org.group(GROUP)
    org.person("ann@example.com")
    sandbox.org_control("seats", resource="Sandbox Jira", seats=0)
    # A member makes the grant billable, so it needs a seat.
    org.add_member(GROUP, "ann@example.com")
    failed, _run = run_org("org_group_access", {"group": GROUP, "access": [{"resource": "Sandbox Jira", "role": USER}]})
    assert failed["failed"] and failed["status"] == 409
    assert "product jira-software (workspace Sandbox Jira" in failed["msg"] and "no seats" in failed["msg"]


def test_unknown_group_and_bad_key(org, run_org):
    task = {"group": "nobody-here", "access": [{"resource": "Sandbox Jira", "role": USER}]}
    unknown, _run = run_org("org_group_access", task)
    assert unknown["failed"] and unknown["msg"] == (
        f"No group with name 'nobody-here' in organization {org.info['sandbox_org_id']}.")
    org.group(GROUP)
    unknown_id, _run = run_org("org_group_access", {"group_id": "0000-no-such-group", "access": task["access"]})
    assert unknown_id["failed"] and "No group with id 0000-no-such-group" in unknown_id["msg"]
    wrong_key = "sbx-orgkey-wrong-0123456789abcdefghijklmnop"
    denied, run = run_org("org_group_access", {**task, "group": GROUP}, api_key=wrong_key)
    assert denied["failed"] and denied["status"] == 401 and wrong_key not in run.output
    assert org.writes() == 0


def test_429_on_assign_waits_for_the_reset_and_pages_are_read_to_the_end(org, run_org, sandbox):
    group_id = org.group(GROUP)
    sandbox.org_control("workspaces", workspaces=[{"name": f"Site {n}", "type_key": "jira-software"} for n in range(5)])
    sandbox.configure(org_page_size_cap=2, org_fail_429_next=1, org_429_match="groups.assign", org_retry_after=3)
    task = {"group": GROUP, "access": [{"resource": f"Site {n}", "role": USER} for n in range(5)]}
    started = time.monotonic()
    done, _run = run_org("org_group_access", task)
    # A lower bound only: a slow machine makes the run longer, never shorter, than the 3 s the reset asks.
    assert time.monotonic() - started >= 3
    assert done["changed"] and len(done["granted"]) == 5 and done["pending"] == []
    assert sandbox.stats()["org_injected_429"] == 1 and org.operations()["groups.assign"] == 6
    assert org.operations()["workspaces.search"] == 3  # 5 workspaces, 2 a page
    assert len(visible(org, group_id)) == 5
    again, _run = run_org("org_group_access", task)
    assert again["changed"] is False
    assert org.operations()["groups.role_assignments"] == 3  # 5 assignments, 2 a page
