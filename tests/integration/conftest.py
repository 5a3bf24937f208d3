# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Integration tests: real ansible-playbook runs against the sandbox on 127.0.0.1.

The sandbox runs in this pytest process; each playbook runs as a subprocess with the
collection taken from this checkout (or from SCIMKIT_COLLECTIONS_PATH, set by the Makefile).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
TARGETS = Path(__file__).resolve().parent / "targets"
sys.path.insert(0, str(ROOT / "tests" / "sandbox"))

from sandbox import Sandbox  # noqa: E402  (path set just above)

RECAP = re.compile(r"^\S+\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass
class PlaybookRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def recap(self) -> dict[str, int]:
        found = RECAP.findall(self.stdout)
        assert found, f"no PLAY RECAP in output:\n{self.output}"
        ok, changed, unreachable, failed = (int(value) for value in found[-1])
        return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory) -> str:
    given = os.environ.get("SCIMKIT_COLLECTIONS_PATH")
    if given:
        return given
    root = tmp_path_factory.mktemp("collections")
    namespace = root / "ansible_collections" / "scimkit"
    namespace.mkdir(parents=True)
    (namespace / "atlassian").symlink_to(ROOT)
    return str(root)


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory):
    server = Sandbox(state_dir=str(tmp_path_factory.mktemp("sandbox")), port=0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """A sandbox with an empty directory, fresh counters, default settings and no pending faults."""
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
def scim(sandbox):
    """A plain requests session on the sandbox's SCIM API, to check state independently of the modules."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.info['sandbox_api_key']}"
    base = sandbox.info["sandbox_base_url"]

    class Scim:
        def users(self) -> list[dict]:
            found, start = [], 1
            while True:
                page = session.get(f"{base}/Users", params={"startIndex": start, "count": 100}, timeout=10).json()
                found += page.get("Resources", [])
                start += len(page.get("Resources", []))
                if not page.get("Resources") or start > page["totalResults"]:
                    return found

        def user(self, user_name: str) -> dict | None:
            matches = [u for u in self.users() if u["userName"].casefold() == user_name.casefold()]
            assert len(matches) <= 1, matches
            return matches[0] if matches else None

        def create_user(self, payload: dict) -> dict:
            response = session.post(f"{base}/Users", json=payload, timeout=10)
            response.raise_for_status()
            return response.json()

        def create_group(self, name: str, *member_ids: str) -> str:
            response = session.post(f"{base}/Groups", timeout=10, json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})
            response.raise_for_status()
            group_id = response.json()["id"]
            if member_ids:
                session.patch(f"{base}/Groups/{group_id}", timeout=10, json={
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": i} for i in member_ids]}],
                }).raise_for_status()
            return group_id

        def groups(self) -> dict[str, dict]:
            response = session.get(f"{base}/Groups", params={"count": 100}, timeout=10)
            response.raise_for_status()
            return {group["displayName"]: group for group in response.json().get("Resources", [])}

        def memberships(self) -> dict[str, list[str]]:
            """Each group's members, as sorted user names."""
            names = {user["id"]: user["userName"] for user in self.users()}
            return {name: sorted(names.get(m["value"], m["value"]) for m in group.get("members", []))
                    for name, group in self.groups().items()}

    return Scim()


@pytest.fixture
def playbook(sandbox, collections_path, tmp_path):
    """Run a playbook of targets/ with the sandbox's connection info as extra vars."""
    vars_file = tmp_path / "sandbox-vars.json"
    vars_file.write_text(json.dumps(sandbox.info))

    def run(path: str, *args: str, extra: dict | None = None, expect_rc: int | None = 0) -> PlaybookRun:
        command = ["ansible-playbook", str(TARGETS / path), "-e", f"@{vars_file}", *args]
        if extra:
            command += ["-e", json.dumps(extra)]
        env = {
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": collections_path,
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
        }
        env.pop("ATLASSIAN_CLIENT_ID", None)
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
        result = PlaybookRun(done.returncode, done.stdout, done.stderr)
        if expect_rc is not None:
            assert result.returncode == expect_rc, f"ansible-playbook exited {result.returncode}:\n{result.output}"
        return result

    return run


# -- scim_users (tests/integration/test_scim_users*.py) -----------------------------------------

SCIM_WRITES = ("POST", "PATCH", "PUT", "DELETE")


@pytest.fixture
def scim_users_task(playbook, tmp_path):
    """Run one scim_users task (targets/scim_users/reconcile.yml); return its registered result."""
    result_file = tmp_path / "result.json"

    def run(people, *args, **options) -> dict:
        playbook("scim_users/reconcile.yml", *args, extra={"people": people, "result_file": str(result_file), **options})
        return json.loads(result_file.read_text())

    return run


def scim_writes(sandbox) -> dict[str, int]:
    """The SCIM writes the sandbox counted, by method (those with none left out)."""
    counts = sandbox.stats()["scim_requests"]
    return {method: counts[method] for method in SCIM_WRITES if counts.get(method)}


def requests_sent(sandbox) -> int:
    """Every request the sandbox counted: SCIM and token."""
    stats = sandbox.stats()
    return sum(stats["scim_requests"].values()) + stats["token_requests"]


# -- the organization admin API (tests/integration/test_org_*.py) ------------------------------

ORG_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ORG_GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


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
                "schemas": [ORG_USER_SCHEMA], "userName": email, "active": active, "displayName": email.split("@")[0],
                "emails": [{"value": email, "type": "work", "primary": True}]})
            response.raise_for_status()
            return sandbox.org_control("account", email=email)["account_id"]

        def group(self, name: str) -> str:
            response = session.post(f"{base}/Groups", timeout=10, json={"schemas": [ORG_GROUP_SCHEMA], "displayName": name})
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
