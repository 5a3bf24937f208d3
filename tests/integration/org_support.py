# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared fixtures of the organization admin API tests: people and groups in the sandbox, and one-task runs."""

from __future__ import annotations

import json

import pytest
import requests

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def org(sandbox):
    """Set-up through SCIM and the sandbox's control calls, never through the modules under test."""
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {sandbox.info['sandbox_api_key']}"
    base = sandbox.info["sandbox_base_url"]

    class Org:
        info = sandbox.info

        def person(self, email: str, *, active: bool = True) -> str:
            """A SCIM user, hence an org user; returns the account id."""
            response = session.post(f"{base}/Users", timeout=10, json={
                "schemas": [USER_SCHEMA], "userName": email, "active": active, "displayName": email.split("@")[0],
                "emails": [{"value": email, "type": "work", "primary": True}]})
            response.raise_for_status()
            return sandbox.org_control("account", email=email)["account_id"]

        def group(self, name: str) -> str:
            response = session.post(f"{base}/Groups", timeout=10, json={"schemas": [GROUP_SCHEMA], "displayName": name})
            response.raise_for_status()
            return response.json()["id"]

        def scim_id(self, email: str) -> str:
            return sandbox.org_control("account", email=email)["scim_user_id"]

        def role(self, **body) -> None:
            sandbox.org_control("role_assignment", **body)

        def add_member(self, group: str, email: str) -> None:
            groups = session.get(f"{base}/Groups", params={"filter": f'displayName eq "{group}"'}, timeout=10).json()
            users = session.get(f"{base}/Users", params={"filter": f'userName eq "{email}"'}, timeout=10).json()
            response = session.patch(f"{base}/Groups/{groups['Resources'][0]['id']}", timeout=10, json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": users["Resources"][0]["id"]}]}]})
            response.raise_for_status()

        def state(self) -> dict:
            return sandbox.org_control("state")

        def user(self, account_id: str) -> dict:
            return next(user for user in self.state()["users"] if user["account_id"] == account_id)

        def writes(self) -> int:
            return sandbox.stats()["org_writes"]

        def operations(self) -> dict:
            return sandbox.stats()["org_operations"]

    return Org()


@pytest.fixture
def run_org(playbook, sandbox, tmp_path):
    """Run one org module task (targets/org/<module>.yml); return its registered result and the playbook run.

    The sandbox's counters start afresh, so a test sees only the task's own requests.
    """
    result_file = tmp_path / "result.json"

    def run(module: str, task: dict, *args: str, **extra):
        sandbox.reset_stats()
        done = playbook(f"org/{module}.yml", *args, extra={"task": task, "result_file": str(result_file), **extra})
        return json.loads(result_file.read_text()), done

    return run
