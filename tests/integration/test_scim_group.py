# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""scim_group and scim_group_info against the sandbox, with real ansible-playbook runs."""

from __future__ import annotations

import json
import math

import pytest
import requests

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
WRITES = ("POST", "PATCH", "PUT", "DELETE")
PEOPLE = {
    "alice": "alice@example.com",
    "bob": "bob@example.com",
    "carol": 'carol "cc" o\\connor@example.com',  # a name that must be escaped in a filter
    "dave": "dave@example.com",
}


@pytest.fixture
def directory(sandbox):
    """Direct SCIM access to create users and read groups without the modules under test."""
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {sandbox.info['sandbox_api_key']}"
    base = sandbox.info["sandbox_base_url"]

    class Directory:
        def add_users(self, names) -> dict[str, str]:
            ids = {}
            for name in names:
                response = session.post(f"{base}/Users", timeout=10, json={
                    "schemas": [USER_SCHEMA], "userName": name,
                    "emails": [{"value": "x@example.com", "type": "work", "primary": True}]})
                response.raise_for_status()
                ids[name] = response.json()["id"]
            sandbox.reset_stats()
            return ids

        def groups(self) -> list[dict]:
            response = session.get(f"{base}/Groups", params={"count": 100}, timeout=10)
            response.raise_for_status()
            return response.json().get("Resources", [])

    return Directory()


@pytest.fixture
def ensure(playbook, tmp_path):
    """Run one scim_group task; return its registered result and the playbook run."""
    result_file = tmp_path / "result.json"

    def run(group: dict, *args: str):
        done = playbook("scim_group/ensure.yml", *args, extra={"group": group, "result_file": str(result_file)})
        return json.loads(result_file.read_text()), done

    return run


def writes(sandbox) -> dict[str, int]:
    counts = sandbox.stats()["scim_requests"]
    return {method: counts[method] for method in WRITES if counts.get(method)}


def test_lifecycle(playbook, sandbox, directory):
    """Create, rerun, add, purge, externalId, info, delete: each step also in check mode, with no write."""
    directory.add_users(PEOPLE.values())
    playbook("scim_group/lifecycle.yml", extra={"people": PEOPLE, "group_name": 'R&D "core" \\ team'})
    assert directory.groups() == []
    assert writes(sandbox) == {"POST": 1, "PATCH": 4, "DELETE": 1}


def test_unknown_member_names_fail_naming_each_and_write_nothing(ensure, sandbox, directory):
    directory.add_users([PEOPLE["alice"]])
    group = {"display_name": "jira-users", "members": [PEOPLE["alice"], "nobody@example.com", "ghost@example.com"]}
    result, _run = ensure(group)
    assert result["failed"]
    assert "'nobody@example.com', 'ghost@example.com' match no user" in result["msg"]
    assert "alice" not in result["msg"]
    assert writes(sandbox) == {}
    assert directory.groups() == []

    # Check mode: not an error but would-be additions, with a warning that says why.
    check, run = ensure(group, "--check")
    assert not check.get("failed") and check["action"] == "created"
    values = {m["value"] for m in check["group"]["members"]}
    assert len(values) == 3 and {"ghost@example.com", "nobody@example.com"} < values
    assert "'nobody@example.com', 'ghost@example.com' match no user of the directory yet" in run.output
    assert "an earlier task of the play may create" in run.output
    assert writes(sandbox) == {}


def test_check_mode_across_tasks_a_new_hire_joins_a_group(playbook, sandbox, directory):
    """The guide's --check --diff first: a play that creates a user, then adds them to a group."""
    directory.add_users([PEOPLE["alice"]])
    check = playbook("scim_group/new_hire.yml", "--check", "--diff")
    assert check.recap["failed"] == 0 and check.recap["changed"] == 2
    assert "newhire@example.com" in check.stdout and "[WARNING]" in check.output
    assert writes(sandbox) == {} and directory.groups() == []

    real = playbook("scim_group/new_hire.yml")
    assert real.recap["changed"] == 2
    assert len(directory.groups()[0]["members"]) == 2


def test_diff_output_shows_member_names(ensure, directory):
    directory.add_users(PEOPLE.values())
    ensure({"display_name": "jira-users", "members": [PEOPLE["alice"], PEOPLE["bob"]]})
    _result, shown = ensure({"display_name": "jira-users", "members": [PEOPLE["dave"]]}, "--check", "--diff")
    assert "--- before" in shown.stdout and "+++ after" in shown.stdout
    assert '+        "dave@example.com"' in shown.stdout  # the member the task adds, by user name
    assert '-        "alice@example.com"' not in shown.stdout  # without purge_members, the others stay


def test_several_hundred_members_are_batched(ensure, sandbox, directory):
    names = [f"member{number:04d}@example.com" for number in range(300)]
    ids = directory.add_users(names)
    group = {"display_name": "all-staff", "external_id": "00g-all", "members": names}
    requests_per_listing = math.ceil(300 / 100)

    check, _run = ensure(group, "--check")
    assert check["changed"] and check["action"] == "created" and len(check["group"]["members"]) == 300
    assert writes(sandbox) == {}

    sandbox.reset_stats()
    created, _run = ensure(group)
    assert created["action"] == "created" and len(created["group"]["members"]) == 300
    assert writes(sandbox) == {"POST": 1, "PATCH": 3}  # 300 additions, 100 a request
    # The group lookup, the directory-size question, and one listing instead of 300 name filters.
    assert sandbox.stats()["scim_requests"]["GET"] == 1 + 1 + requests_per_listing
    stored = directory.groups()[0]
    assert sorted(member["value"] for member in stored["members"]) == sorted(ids.values())

    sandbox.reset_stats()
    rerun, _run = ensure(group)
    assert not rerun["changed"] and writes(sandbox) == {}

    # 101 removals: just over one request's worth (the sandbox is slow at removals; check mode of
    # a purge is covered by test_lifecycle).
    keep = names[:199]
    sandbox.reset_stats()
    purged, _run = ensure({**group, "members": keep, "purge_members": True})
    assert purged["changed"] and len(purged["group"]["members"]) == 199
    assert writes(sandbox) == {"PATCH": 2}  # 101 removals, 100 a request
    assert sorted(m["value"] for m in directory.groups()[0]["members"]) == sorted(ids[name] for name in keep)

    sandbox.reset_stats()
    by_ids, _run = ensure({"display_name": "all-staff", "members": [ids[name] for name in keep], "purge_members": True})
    assert not by_ids["changed"]
    assert sandbox.stats()["scim_requests"] == {"GET": 1, "POST": 0, "PATCH": 0, "PUT": 0, "DELETE": 0}
