# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""scim_groups against the sandbox, with real ansible-playbook runs."""

from __future__ import annotations

import json
import math

import pytest

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
WRITES = ("POST", "PATCH", "PUT", "DELETE")
NAMES = [f"staff{number:03d}@example.com" for number in range(150)]


@pytest.fixture
def directory(sandbox, scim):
    """Set-up through the conftest scim fixture, without the module under test; the counters restart after it."""

    class Directory:
        def add_users(self, names) -> dict[str, str]:
            ids = {name: scim.create_user({"schemas": [USER_SCHEMA], "userName": name,
                                           "emails": [{"value": name, "type": "work", "primary": True}]})["id"]
                   for name in names}
            sandbox.reset_stats()
            return ids

        def add_group(self, name: str) -> None:
            scim.create_group(name)
            sandbox.reset_stats()

    return Directory()


@pytest.fixture
def reconcile(playbook, tmp_path):
    """Run one scim_groups task; return its registered result and the run."""
    result_file = tmp_path / "result.json"

    def run(groups, *args, **options):
        done = playbook("scim_groups/reconcile.yml", *args,
                        extra={"groups_wanted": groups, "result_file": str(result_file), **options})
        return json.loads(result_file.read_text()), done

    return run


def writes(sandbox) -> dict[str, int]:
    counts = sandbox.stats()["scim_requests"]
    return {method: counts[method] for method in WRITES if counts.get(method)}


def wanted_groups() -> list[dict]:
    return [
        {"display_name": "all-staff", "external_id": "00g-all", "members": NAMES},
        {"display_name": "odd-staff", "members": NAMES[1::2]},
        {"display_name": "empty-on-purpose", "members": []},
        {"display_name": "unmanaged-members"},
    ]


def test_create_rerun_and_request_budget(reconcile, sandbox, directory, scim):
    directory.add_users(NAMES)
    groups = wanted_groups()

    check, _run = reconcile(groups, "--check")
    assert sorted(check["created"]) == sorted(g["display_name"] for g in groups) and check["changed"]
    assert writes(sandbox) == {} and scim.groups() == {}

    sandbox.reset_stats()
    first, _run = reconcile(groups)
    assert sorted(first["created"]) == sorted(check["created"]) and first["failures"] == []
    # 4 creates; all-staff's 150 additions in 2 batches of at most 100, odd-staff's 75 in 1.
    assert writes(sandbox) == {"POST": 4, "PATCH": 3}
    assert scim.memberships()["all-staff"] == sorted(NAMES)
    assert scim.memberships()["odd-staff"] == sorted(NAMES[1::2])
    assert scim.groups()["all-staff"]["externalId"] == "00g-all"

    sandbox.reset_stats()
    rerun, _run = reconcile(groups)
    assert not rerun["changed"] and sorted(rerun["unchanged"]) == sorted(first["created"])
    assert writes(sandbox) == {}
    # One group listing, one read of each group whose members are managed, one user listing:
    # within ceil(users/100) + ceil(groups/100) + (groups with managed members) + 3.
    managed = sum(1 for g in groups if "members" in g)
    gets = sandbox.stats()["scim_requests"]["GET"]
    assert gets == 1 + managed + math.ceil(len(NAMES) / 100)
    assert gets + sandbox.stats()["token_requests"] <= math.ceil(len(NAMES) / 100) + 1 + managed + 3

    sandbox.reset_stats()
    exact = [{"display_name": "all-staff", "members": NAMES[:10], "purge_members": True},
             {"display_name": "odd-staff", "members": NAMES[:1]}]
    diffed, shown = reconcile(exact, "--diff")
    assert diffed["updated"] == ["all-staff", "odd-staff"]
    assert writes(sandbox) == {"PATCH": 3}  # 140 removals in 2 requests, 1 addition in 1
    assert scim.memberships()["all-staff"] == sorted(NAMES[:10])
    assert NAMES[0] in scim.memberships()["odd-staff"] and len(scim.memberships()["odd-staff"]) == 76
    assert diffed["diff"]["after"]["all-staff"]["members"] == sorted(NAMES[:10])
    assert f'-            "{NAMES[149]}"' in shown.stdout


def test_invalid_and_repeated_items_fail_before_any_request(reconcile, sandbox, directory, scim):
    directory.add_users(NAMES[:2])
    groups = [{"display_name": "jira-users", "members": NAMES[:2]},
              {"display_name": "Jira-Users"},
              {"display_name": "ok-group", "members": [""]},
              {"display_name": "purgers", "purge_members": True}]
    result, _run = reconcile(groups)
    assert result["failed"]
    assert "groups has 3 invalid item(s), so nothing was changed" in result["msg"]
    assert "item 2 (Jira-Users) names the same group as item 1" in result["msg"]
    assert "item 3 (ok-group): members holds an empty value" in result["msg"]
    assert "item 4 (purgers): purge_members needs members" in result["msg"]
    assert sum(sandbox.stats()["scim_requests"].values()) == 0
    assert scim.groups() == {}


def test_unknown_members_fail_a_real_run_and_are_additions_in_check_mode(reconcile, sandbox, directory, scim):
    directory.add_users(NAMES[:2])
    groups = [{"display_name": "first", "members": NAMES[:2]},
              {"display_name": "second", "members": [NAMES[0], "newhire@example.com"]}]
    result, _run = reconcile(groups)
    assert result["failed"] and not result.get("changed")
    assert "members: 1 member name of item 2 (second) matches no user of the directory: 'newhire@example.com'" \
        in result["msg"]
    assert writes(sandbox) == {} and scim.groups() == {}

    check, run = reconcile(groups, "--check", "--diff")
    assert not check.get("failed") and check["created"] == ["first", "second"]
    assert "newhire@example.com" in check["diff"]["after"]["second"]["members"]
    assert "[WARNING]" in run.output and "an earlier task of the play may create" in run.output
    assert "1 member name of item 2 (second) matches no user of the directory yet" in run.output
    assert writes(sandbox) == {}


def test_purge_is_guarded_and_names_the_groups(reconcile, sandbox, directory, scim):
    for number in range(25):
        directory.add_group(f"old-{number:02d}")
    directory.add_group("keep")
    refused, _run = reconcile([{"display_name": "KEEP"}], purge=True, max_purge=10)
    assert refused["failed"]
    assert "purge would delete 25 groups, more than max_purge (10)" in refused["msg"]
    assert "'old-00', 'old-01'" in refused["msg"] and "'old-19' and 5 more" in refused["msg"]
    assert "'old-20'" not in refused["msg"]
    assert writes(sandbox) == {} and len(scim.groups()) == 26

    done, _run = reconcile([{"display_name": "KEEP"}], purge=True, max_purge=25)
    assert len(done["deleted"]) == 25 and done["unchanged"] == ["KEEP"]
    assert list(scim.groups()) == ["keep"]


def test_a_group_created_whose_members_fail_reports_changed(reconcile, sandbox, directory, scim):
    directory.add_users(NAMES[:3])
    sandbox.inject(status=400, method="PATCH", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "detail": "Injected refusal."})
    result, run = reconcile([{"display_name": "half-done", "members": NAMES[:3]}])
    assert result["failed"] and result["changed"]
    assert result["created"] == ["half-done"]
    assert result["failures"][0]["item"] == 1 and result["failures"][0]["group"] == "half-done"
    assert "Injected refusal" in result["failures"][0]["error"]
    assert "half-done" in scim.groups()
