# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Proves the sandbox's organization admin API (sandbox_org.py) with real HTTP.

Run: .venv/bin/python -m pytest tests/sandbox/test_sandbox_org.py -q
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sandbox import Sandbox  # noqa: E402

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Any:
    sb = Sandbox(state_dir=tmp_path_factory.mktemp("sandbox-org-state"), port=0)
    sb.start()
    yield sb
    sb.stop()


class Org:
    """A plain client of the sandbox: SCIM to set data up, the org API to check it."""

    def __init__(self, sandbox: Any):
        self.sandbox = sandbox
        info = sandbox.info
        self.http = requests.Session()
        self.http.trust_env = False  # never through a proxy: the sandbox is on loopback
        self.key = info["sandbox_org_api_key"]
        self.base = info["sandbox_admin_base_url"]
        self.org_id = info["sandbox_org_id"]
        self.directory = info["sandbox_directory_id"]
        self.scim_base = info["sandbox_base_url"]
        self.scim_auth = {"Authorization": f"Bearer {info['sandbox_api_key']}"}
        self.control = info["sandbox_control_url"]

    # -- SCIM set-up
    def create_user(self, address: str, active: bool = True) -> dict[str, Any]:
        body = {"schemas": [USER_SCHEMA], "userName": address, "emails": [{"value": address, "primary": True}],
                "name": {"givenName": address.split("@")[0].title(), "familyName": "Tester"}, "active": active}
        answer = self.http.post(self.scim_base + "/Users", json=body, headers=self.scim_auth)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def create_group(self, name: str, members: list[dict[str, Any]] = ()) -> dict[str, Any]:
        body = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": m["id"]} for m in members]}
        answer = self.http.post(self.scim_base + "/Groups", json=body, headers=self.scim_auth)
        assert answer.status_code == 201, answer.text
        return answer.json()

    # -- the org API
    def request(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return self.http.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def v2(self, path: str = "") -> str:
        return f"/admin/v2/orgs/{self.org_id}{path}"

    def dir(self, path: str = "", directory: str | None = None) -> str:
        return self.v2(f"/directories/{directory or self.directory}{path}")

    def search_users(self, **body: Any) -> requests.Response:
        return self.request("POST", self.dir("/users/search", "-"), json=body)

    def account_id(self, address: str) -> str:
        found = self.search_users(emails=[address]).json()["data"]
        assert len(found) == 1, found
        return found[0]["accountId"]

    def user(self, account_id: str) -> requests.Response:
        return self.request("GET", self.dir(f"/users/{account_id}"))

    def assignments(self, group_id: str) -> list[dict[str, Any]]:
        answer = self.request("GET", self.dir(f"/groups/{group_id}/role-assignments"))
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def role(self, action: str, group_id: str, resource_id: str, role: str = "atlassian/user") -> requests.Response:
        return self.request("POST", self.dir(f"/groups/{group_id}/role-assignments/{action}"),
                            json={"resourceId": resource_id, "roleId": role})

    def workspaces(self, **body: Any) -> requests.Response:
        return self.request("POST", self.v2("/workspaces"), json=body)

    def ari(self, name: str) -> str:
        return next(w["id"] for w in self.workspaces().json()["data"] if w["attributes"]["name"] == name)

    def read_all(self, method: str, path: str, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a cursor-paged list or search, following links.next to the end."""
        items: list[dict[str, Any]] = []
        cursors: set[str] = set()
        cursor = None
        while True:
            if method == "GET":
                answer = self.request("GET", path, params={"cursor": cursor} if cursor else {})
            else:
                answer = self.request("POST", path, json={**(body or {}), **({"cursor": cursor} if cursor else {})})
            assert answer.status_code == 200, answer.text
            page = answer.json()
            items += page["data"]
            cursor = page["links"].get("next")
            if not cursor:
                return items
            assert cursor not in cursors, "a repeated cursor"
            cursors.add(cursor)


@pytest.fixture
def org(sandbox: Any) -> Org:
    sandbox.reset()
    return Org(sandbox)


def v2_error(answer: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    errors = answer.json()["errors"]
    assert len(errors) == 1 and errors[0]["status"] == str(status) and errors[0]["title"] and errors[0]["detail"]
    if code is not None:
        assert errors[0]["code"] == code, errors
    return errors[0]


# ---------------------------------------------------------------------------
# Identity, auth, routing


def test_connection_info_and_identity_are_stable(sandbox: Any, org: Org) -> None:
    info = sandbox.info
    assert info["sandbox_admin_base_url"] == info["sandbox_audience"]  # the sandbox root, like https://api.atlassian.com
    assert info["sandbox_org_api_key"].startswith("sbx-orgkey-")
    identity_file = Path(info["sandbox_private_key_path"]).parent / "org_identity.json"
    assert stat.S_IMODE(os.stat(identity_file).st_mode) == 0o600
    jira = org.ari("Sandbox Jira")
    again = Sandbox(state_dir=identity_file.parent, port=0)
    again.start()
    try:
        assert again.info["sandbox_org_id"] == info["sandbox_org_id"]
        assert again.info["sandbox_org_api_key"] == info["sandbox_org_api_key"]
        assert Org(again).ari("Sandbox Jira") == jira  # workspace ARIs are stable per state dir too
    finally:
        again.stop()


def test_org_api_key_is_required(org: Org) -> None:
    path = org.v2("/directories")
    answer = org.http.get(org.base + path)
    v2_error(answer, 401)
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    v2_error(org.request("GET", path, key="sbx-orgkey-wrong"), 401)
    # the SCIM directory key is another credential (reference §7)
    v2_error(org.request("GET", path, key=org.sandbox.info["sandbox_api_key"]), 401)
    assert org.request("GET", path).status_code == 200


def test_unknown_org_directory_and_endpoint_are_404(org: Org) -> None:
    v2_error(org.request("GET", "/admin/v2/orgs/not-my-org/directories"), 404, "ADMIN-404-2")
    v2_error(org.request("POST", org.dir("/users/search", "no-such-directory"), json={}), 404)
    v2_error(org.request("GET", org.v2("/no-such-thing")), 404)
    v2_error(org.request("PUT", org.v2("/directories")), 405)
    assert org.request("GET", "/admin/v1/orgs/" + org.org_id).json()["data"]["id"] == org.org_id


# ---------------------------------------------------------------------------
# Directories and workspaces


def test_directories_are_paged_to_the_end(org: Org) -> None:
    assert org.request("GET", org.v2("/directories")).json()["data"] == [
        {"directoryId": org.directory, "name": "Sandbox directory", "icon": None}]
    org.sandbox.org_control("directories", directories=["Contractors", {"name": "Legacy", "directoryId": "dir-legacy"}])
    org.sandbox.configure(org_page_size_cap=1)
    first = org.request("GET", org.v2("/directories")).json()
    assert len(first["data"]) == 1 and first["links"]["next"]
    every = org.read_all("GET", org.v2("/directories"))
    assert [d["name"] for d in every] == ["Sandbox directory", "Contractors", "Legacy"]
    assert every[2]["directoryId"] == "dir-legacy"
    # with a cursor the other parameters are ignored (reference §8)
    second = org.request("GET", org.v2("/directories"), params={"cursor": first["links"]["next"], "searchTerm": "zzz"})
    assert [d["name"] for d in second.json()["data"]] == ["Contractors"]
    v2_error(org.request("GET", org.v2("/directories"), params={"cursor": "garbage"}), 400, "ADMIN-400-1")
    forged = base64.urlsafe_b64encode(json.dumps({"kind": "directories", "offset": 1}).encode()).decode()
    v2_error(org.request("GET", org.v2("/directories"), params={"cursor": forged}), 400, "ADMIN-400-1")
    v2_error(org.workspaces(cursor=forged), 400, "ADMIN-400-1")


def test_workspaces_default_and_fields(org: Org) -> None:
    page = org.workspaces().json()
    assert page["meta"] == {"pageSize": 20, "startIndex": 0, "endIndex": 2, "total": 2}
    assert "next" not in page["links"]
    jira, confluence = page["data"]
    assert jira["id"].startswith("ari:cloud:jira-software::site/")
    assert jira["attributes"]["typeKey"] == "jira-software" and jira["attributes"]["status"] == "online"
    assert jira["attributes"]["hostUrl"] == "https://sandbox-jira.atlassian.net"
    assert confluence["attributes"]["name"] == "Sandbox Confluence" and confluence["id"].startswith("ari:cloud:confluence::site/")


def test_workspaces_query_and_sort(org: Org) -> None:
    by_product = org.workspaces(query={"field": {"name": "typeKey", "values": ["confluence"]}}).json()["data"]
    assert [w["attributes"]["name"] for w in by_product] == ["Sandbox Confluence"]
    by_text = org.workspaces(query={"searchWorkspaces": "JIRA.atlassian"}).json()["data"]
    assert [w["attributes"]["name"] for w in by_text] == ["Sandbox Jira"]
    neither = org.workspaces(query={"nor": [{"searchWorkspaces": "jira"}, {"searchWorkspaces": "confluence"}]}).json()
    assert neither["data"] == [] and neither["meta"]["total"] == 0
    descending = org.workspaces(sort=[{"field": "name", "order": "desc"}]).json()["data"]
    assert [w["attributes"]["name"] for w in descending] == ["Sandbox Jira", "Sandbox Confluence"]
    v2_error(org.workspaces(query={"field": {"name": "colour", "values": []}}), 400, "ADMIN-400-24")


@pytest.mark.parametrize("next_form", ["url", "cursor"])
def test_workspaces_are_paged_to_the_end(org: Org, next_form: str) -> None:
    org.sandbox.org_control("workspaces", workspaces=[{"name": f"Site {n}", "type_key": "jira-software"} for n in range(5)])
    org.sandbox.configure(org_workspace_next=next_form)
    names, body = [], {"limit": 2, "query": {"searchWorkspaces": "site"}}
    while True:
        page = org.workspaces(**body).json()
        names += [w["attributes"]["name"] for w in page["data"]]
        following = page["links"].get("next")
        if not following:
            break
        if next_form == "url":
            assert following.startswith(org.base + org.v2("/workspaces?cursor="))
            following = following.partition("?cursor=")[2]
        else:
            assert "/" not in following
        body = {"cursor": following}  # a cursor alone: the query travels in it
    assert names == [f"Site {n}" for n in range(5)]
    assert page["meta"] == {"pageSize": 2, "startIndex": 4, "endIndex": 5, "total": 5}
    v2_error(org.workspaces(cursor=body["cursor"], limit=2), 400, "ADMIN-400-24")


def test_workspace_control_validates(org: Org) -> None:
    answer = org.http.post(org.control + "/org/workspaces", json={"workspaces": [{"name": "x"}]})
    assert answer.status_code == 400 and "type_key" in answer.json()["detail"]
    assert org.http.post(org.control + "/org/no-such-call", json={}).status_code == 404
    assert len(org.workspaces().json()["data"]) == 2  # nothing applied


# ---------------------------------------------------------------------------
# Users


def test_every_scim_user_is_an_org_user_with_a_stable_account_id(org: Org) -> None:
    created = org.create_user("Ada@Example.com")
    account_id = org.account_id("ada@example.com")  # e-mails match whole addresses, ignoring case
    assert account_id.startswith("712020:")
    assert org.account_id("ada@example.com") == account_id
    patch = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "Ada L."}]}
    org.http.patch(f"{org.scim_base}/Users/{created['id']}", json=patch, headers=org.scim_auth).raise_for_status()
    user = org.user(account_id).json()["data"]
    assert user["accountId"] == account_id and user["name"] == "Ada L." and user["email"] == "Ada@Example.com"
    assert {k: user[k] for k in ("status", "accountStatus", "membershipStatus", "claimStatus", "managementSource")} == {
        "status": "active", "accountStatus": "active", "membershipStatus": "active",
        "claimStatus": "managed", "managementSource": "synced"}
    assert org.sandbox.org_control("account", email="ada@example.com") == {
        "account_id": account_id, "scim_user_id": created["id"], "email": "Ada@Example.com"}
    assert org.search_users(emails=["ada@example.co"]).json()["data"] == []


def test_user_search_filters(org: Org) -> None:
    for name in ("ann", "bob", "cid"):
        org.create_user(f"{name}@example.com")
    org.create_user("dee@other.org", active=False)
    bob = org.account_id("bob@example.com")
    assert org.request("POST", org.dir("/users/{}/suspend".format(bob))).status_code == 204

    def emails(**body: Any) -> list[str]:
        answer = org.search_users(**body)
        assert answer.status_code == 200, answer.text
        return sorted(u["email"] for u in answer.json()["data"])

    assert emails() == ["ann@example.com", "bob@example.com", "cid@example.com", "dee@other.org"]
    assert emails(accountIds=[bob]) == ["bob@example.com"]
    assert emails(status=["suspended"]) == ["bob@example.com"]
    assert emails(status=["deactivated"], accountStatus=["inactive"]) == ["dee@other.org"]
    assert emails(membershipStatus=["active"], emailDomains=["example.com"]) == ["ann@example.com", "cid@example.com"]
    assert emails(searchTerm="CI") == ["cid@example.com"]
    assert emails(claimStatus="unmanaged") == []
    v2_error(org.search_users(emails=["a@example.com"], searchTerm="a"), 400, "ADMIN-400-24")
    v2_error(org.search_users(status=["sleeping"]), 400, "ADMIN-400-24")
    v2_error(org.search_users(emails="ann@example.com"), 400, "ADMIN-400-24")


def test_user_search_is_paged_and_cursors_keep_their_filters(org: Org) -> None:
    for n in range(7):
        org.create_user(f"user{n}@example.com")
    org.create_user("outsider@other.org")
    org.sandbox.configure(org_page_size_cap=3)
    found = org.read_all("POST", org.dir("/users/search", "-"), {"emailDomains": ["example.com"], "limit": 50})
    assert sorted(u["email"] for u in found) == [f"user{n}@example.com" for n in range(7)]
    first = org.search_users(emailDomains=["example.com"]).json()
    assert len(first["data"]) == 3
    # the reference: send the same filters with the cursor; the sandbox refuses others
    v2_error(org.search_users(cursor=first["links"]["next"], emailDomains=["other.org"]), 400, "ADMIN-400-1")
    v2_error(org.search_users(cursor="not-a-cursor"), 400, "ADMIN-400-1")
    org.sandbox.configure(org_page_size_cap=100)
    assert len(org.search_users(limit=2).json()["data"]) == 2
    assert "next" not in org.search_users().json()["links"]  # absent on the last page


def test_suspend_restore_and_remove(org: Org) -> None:
    org.create_user("leaver@example.com")
    account_id = org.account_id("leaver@example.com")
    path = org.dir(f"/users/{account_id}")

    def statuses() -> tuple[str, str, str]:
        data = org.user(account_id).json()["data"]
        return data["status"], data["accountStatus"], data["membershipStatus"]

    assert org.request("POST", path + "/suspend").status_code == 204
    assert statuses() == ("suspended", "active", "suspended")
    assert org.request("POST", path + "/suspend").status_code == 204  # a repeat is a no-op by default
    assert org.request("POST", path + "/restore").status_code == 204
    assert statuses() == ("active", "active", "active")
    assert org.request("POST", path + "/restore").status_code == 204
    org.sandbox.configure(org_strict_repeats=True)
    v2_error(org.request("POST", path + "/restore"), 409, "ADMIN-409-28")
    assert org.request("DELETE", path).status_code == 204
    v2_error(org.user(account_id), 404, "ADMIN-404-8")
    v2_error(org.request("POST", path + "/suspend"), 404, "ADMIN-404-8")
    v2_error(org.request("DELETE", path), 404, "ADMIN-404-8")
    assert org.search_users(emails=["leaver@example.com"]).json()["data"] == []
    state = org.sandbox.org_control("state")
    assert [u["removed"] for u in state["users"]] == [True]
    org.sandbox.org_control("reinvite", email="leaver@example.com")
    assert statuses() == ("active", "active", "active")


def test_writes_need_a_real_directory_id(org: Org) -> None:
    org.create_user("dash@example.com")
    account_id = org.account_id("dash@example.com")
    v2_error(org.request("POST", org.dir(f"/users/{account_id}/suspend", "-")), 400, "ADMIN-400-24")
    assert org.request("GET", org.dir(f"/users/{account_id}", "-")).status_code == 200  # reads accept "-"
    org.sandbox.configure(org_allow_dash_writes=True)
    assert org.request("POST", org.dir(f"/users/{account_id}/suspend", "-")).status_code == 204
    v2_error(org.user("712020:00000000-0000-0000-0000-000000000000"), 404, "ADMIN-404-8")


def test_scim_deactivation_shows_as_deactivated(org: Org) -> None:
    created = org.create_user("gone@example.com")
    patch = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    org.http.patch(f"{org.scim_base}/Users/{created['id']}", json=patch, headers=org.scim_auth).raise_for_status()
    data = org.user(org.account_id("gone@example.com")).json()["data"]
    assert (data["status"], data["accountStatus"], data["membershipStatus"]) == ("deactivated", "inactive", "active")
    assert data["deactivatedOn"]


# ---------------------------------------------------------------------------
# Groups and role assignments


def test_group_search_by_name_is_exact_and_case_insensitive(org: Org) -> None:
    ann = org.create_user("ann@example.com")
    jira_users = org.create_group("Jira Users", [ann])
    org.create_group("Jira Users Extra")
    found = org.request("POST", org.dir("/groups/search", "-"), json={"groupNames": ["jira USERS"], "expand": ["counts.users"]}).json()
    assert [(g["id"], g["name"], g["counts"]) for g in found["data"]] == [(jira_users["id"], "Jira Users", {"users": 1})]
    assert found["data"][0]["directoryId"] == org.directory
    by_member = org.request("POST", org.dir("/groups/search"), json={"accountIds": [org.account_id("ann@example.com")]}).json()
    assert [g["name"] for g in by_member["data"]] == ["Jira Users"]
    v2_error(org.request("POST", org.dir("/groups/search"), json={"groupNames": ["x"], "searchTerm": "x"}), 400, "ADMIN-400-24")
    org.sandbox.configure(org_page_size_cap=1)
    assert len(org.read_all("POST", org.dir("/groups/search"), {"searchTerm": "jira"})) == 2


def test_role_assignments_assign_is_an_upsert_and_revoke_of_absent_is_404(org: Org) -> None:
    group = org.create_group("Engineers")
    jira, confluence = org.ari("Sandbox Jira"), org.ari("Sandbox Confluence")
    assert org.assignments(group["id"]) == []
    assert org.role("assign", group["id"], jira).status_code == 204
    assert org.role("assign", group["id"], jira).status_code == 204  # again: no error
    assert org.role("assign", group["id"], jira, "atlassian/admin").status_code == 204
    assert org.role("assign", group["id"], confluence).status_code == 204
    assert org.assignments(group["id"]) == sorted([
        {"resourceId": jira, "resourceOwner": "jira-software", "defaultRole": None, "roles": ["atlassian/admin", "atlassian/user"]},
        {"resourceId": confluence, "resourceOwner": "confluence", "defaultRole": None, "roles": ["atlassian/user"]},
    ], key=lambda a: a["resourceId"])
    assert org.role("revoke", group["id"], confluence).status_code == 204
    v2_error(org.role("revoke", group["id"], confluence), 404)
    assert [a["resourceId"] for a in org.assignments(group["id"])] == [jira]
    by_resource = org.request("POST", org.dir("/groups/search"), json={"resourceIds": [jira]}).json()["data"]
    assert [g["name"] for g in by_resource] == ["Engineers"]


def test_role_assignment_errors(org: Org) -> None:
    group = org.create_group("Engineers")
    jira = org.ari("Sandbox Jira")
    error = v2_error(org.role("assign", group["id"], jira, "atlassian/org-admin"), 400, "ADMIN-400-24")
    assert "atlassian/org-admin" in error["detail"]
    v2_error(org.role("assign", group["id"], "ari:cloud:jira-software::site/nope"), 400, "ADMIN-400-4")
    v2_error(org.role("assign", "no-such-group", jira), 404, "ADMIN-404-10")
    v2_error(org.request("GET", org.dir("/groups/no-such-group/role-assignments")), 404, "ADMIN-404-10")
    v2_error(org.request("POST", org.dir(f"/groups/{group['id']}/role-assignments/assign"), data="{"), 400, "ADMIN-400-24")
    dash = org.dir(f"/groups/{group['id']}/role-assignments/assign", "-")
    v2_error(org.request("POST", dash, json={"resourceId": jira, "roleId": "atlassian/user"}), 400, "ADMIN-400-24")
    assert org.assignments(group["id"]) == []
    assert org.sandbox.stats()["org_writes"] == 5  # attempted writes count, refused or not


def test_no_seats_left_is_409_naming_the_product(org: Org) -> None:
    ann, bob = org.create_user("ann@example.com"), org.create_user("bob@example.com")
    first, second = org.create_group("First", [ann]), org.create_group("Second", [ann, bob])
    org.sandbox.org_control("seats", resource="Sandbox Jira", seats=1)
    jira = org.ari("Sandbox Jira")
    assert org.role("assign", first["id"], jira).status_code == 204  # ann: 1 of 1 seat
    error = v2_error(org.role("assign", second["id"], jira), 409, "ADMIN-409-3")
    assert "jira-software" in error["detail"] and "Sandbox Jira" in error["detail"]
    assert org.assignments(second["id"]) == []
    # suspended users are not billed, so they need no seat
    bob_id = org.account_id("bob@example.com")
    assert org.request("POST", org.dir(f"/users/{bob_id}/suspend")).status_code == 204
    assert org.role("assign", second["id"], jira).status_code == 204


def test_role_changes_show_after_n_reads(org: Org) -> None:
    group = org.create_group("Delayed")
    jira = org.ari("Sandbox Jira")
    org.sandbox.configure(org_role_visibility_reads=2)
    assert org.role("assign", group["id"], jira).status_code == 204
    assert org.assignments(group["id"]) == []
    assert org.assignments(group["id"]) == []
    assert [a["roles"] for a in org.assignments(group["id"])] == [["atlassian/user"]]
    # the real state already holds it: an upsert, and revoke works at once
    assert org.role("revoke", group["id"], jira).status_code == 204
    assert len(org.assignments(group["id"])) == 1
    assert len(org.assignments(group["id"])) == 1
    assert org.assignments(group["id"]) == []


def test_role_changes_held_until_settled(org: Org) -> None:
    group = org.create_group("Held")
    jira = org.ari("Sandbox Jira")
    org.sandbox.configure(org_role_visibility_hold=True)
    org.role("assign", group["id"], jira)
    org.role("assign", group["id"], jira, "atlassian/admin")
    for _read in range(5):
        assert org.assignments(group["id"]) == []
    state = org.sandbox.org_control("state")
    assert state["role_assignments"] == {group["id"]: {jira: ["atlassian/admin", "atlassian/user"]}}
    assert state["visible_role_assignments"] == {} and len(state["pending_role_changes"]) == 2
    assert org.http.post(org.control + "/org/settle").json() == {"settled": 2}
    assert [a["roles"] for a in org.assignments(group["id"])] == [["atlassian/admin", "atlassian/user"]]


def test_role_changes_after_wall_clock_seconds(org: Org) -> None:
    group = org.create_group("Slow")
    org.sandbox.configure(org_role_visibility_seconds=3600)
    org.role("assign", group["id"], org.ari("Sandbox Jira"))
    assert org.assignments(group["id"]) == []  # an hour away: never within a test
    org.sandbox.org_control("settle")
    assert len(org.assignments(group["id"])) == 1


def test_seeded_role_assignment_is_visible_at_once(org: Org) -> None:
    group = org.create_group("Seeded")
    org.sandbox.configure(org_role_visibility_hold=True)
    seeded = org.sandbox.org_control("role_assignment", group="seeded", resource="https://sandbox-confluence.atlassian.net", role="atlassian/viewer")
    assert seeded["resource_id"] == org.ari("Sandbox Confluence")
    assert [a["roles"] for a in org.assignments(group["id"])] == [["atlassian/viewer"]]


# ---------------------------------------------------------------------------
# API tokens and SCIM links


def test_api_tokens_list_and_revoke(org: Org) -> None:
    org.create_user("dev@example.com")
    account_id = org.account_id("dev@example.com")
    seeded = org.sandbox.org_control("api_tokens", email="dev@example.com", labels=["ci", "laptop"])
    assert seeded["account_id"] == account_id
    listed = org.request("GET", f"/users/{account_id}/manage/api-tokens")
    assert listed.status_code == 200
    tokens = listed.json()
    assert [t["label"] for t in tokens] == ["ci", "laptop"] and all(t["id"] and t["createdAt"] for t in tokens)
    assert org.request("DELETE", f"/users/{account_id}/manage/api-tokens/{tokens[0]['id']}").status_code == 204
    assert [t["label"] for t in org.request("GET", f"/users/{account_id}/manage/api-tokens").json()] == ["laptop"]
    again = org.request("DELETE", f"/users/{account_id}/manage/api-tokens/{tokens[0]['id']}")
    assert again.status_code == 404 and again.json()["key"] == "not-found"
    assert org.request("GET", "/users/712020:nobody/manage/api-tokens").status_code == 404
    privileges = org.request("GET", f"/users/{account_id}/manage", params=[("privileges", "apiToken.read"), ("privileges", "apiToken.delete")])
    assert privileges.json() == {"apiToken.read": {"allowed": True}, "apiToken.delete": {"allowed": True}}
    assert org.request("GET", f"/users/{account_id}/manage/api-tokens", key="wrong").status_code == 401
    stats = org.sandbox.stats()
    assert stats["org_operations"]["tokens.revoke"] == 2 and stats["org_writes"] == 2


def test_default_api_tokens_for_every_user(org: Org) -> None:
    org.sandbox.configure(org_default_token_labels="laptop, ci")
    org.create_user("joiner@example.com")
    account_id = org.account_id("joiner@example.com")
    tokens = org.request("GET", f"/users/{account_id}/manage/api-tokens").json()
    assert [t["label"] for t in tokens] == ["laptop", "ci"]
    assert org.request("DELETE", f"/users/{account_id}/manage/api-tokens/{tokens[1]['id']}").status_code == 204
    assert [t["label"] for t in org.sandbox.org_control("state")["api_tokens"][account_id]] == ["laptop"]
    org.sandbox.configure(org_default_token_labels="")
    assert [t["label"] for t in org.request("GET", f"/users/{account_id}/manage/api-tokens").json()] == ["laptop"]


def test_scim_links_find_users_hidden_from_scim_filters(org: Org) -> None:
    hidden = org.create_user("rehire@example.com", active=False)
    org.sandbox.configure(hide_inactive=True)
    listed = org.http.get(org.scim_base + "/Users", params={"filter": 'userName eq "rehire@example.com"'}, headers=org.scim_auth).json()
    assert listed["totalResults"] == 0  # SCIM filters cannot see it ...
    links_path = f"/admin/user-provisioning/v1/org/{org.org_id}"
    by_email = org.request("POST", links_path + "/get-scim-links-for-email", json={"email": "REHIRE@example.com"}).json()
    account_id = org.sandbox.org_control("account", email="rehire@example.com")["account_id"]
    expected = {"scimLinks": [{"scimUserId": hidden["id"], "atlassianAccountId": account_id, "orgId": org.org_id, "directoryId": org.directory}]}
    assert by_email == expected  # ... the links can
    assert org.request("GET", f"{links_path}/user/{account_id}/get-scim-links").json() == expected
    assert org.request("POST", links_path + "/get-scim-links-for-email", json={"email": "nobody@example.com"}).json() == {"scimLinks": []}
    missing = org.request("POST", links_path + "/get-scim-links-for-email", json={})
    assert missing.status_code == 400 and missing.json()["status"] == "400"  # a SCIM-shaped error body
    assert org.request("POST", links_path + "/get-scim-links-for-email", key="wrong", json={"email": "x"}).status_code == 401


# ---------------------------------------------------------------------------
# Rate limits, 429s, error shapes, injected answers


def test_rate_limit_headers_on_every_answer(org: Org) -> None:
    for answer in (org.request("GET", org.v2("/directories")), org.request("GET", org.v2("/directories"), key="bad")):
        assert int(answer.headers["X-RateLimit-Limit"]) > 0
        assert 0 <= int(answer.headers["X-RateLimit-Remaining"]) < int(answer.headers["X-RateLimit-Limit"])
        reset = datetime.datetime.fromisoformat(answer.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
        assert reset.tzinfo is not None


def test_injected_429_with_reset_instant_is_not_applied(org: Org) -> None:
    org.create_user("busy@example.com")
    account_id = org.account_id("busy@example.com")
    org.sandbox.configure(org_fail_429_next=1, org_retry_after=7, org_429_match="users.suspend")
    assert org.search_users().status_code == 200  # does not match: not counted down
    before = time.time()
    answer = org.request("POST", org.dir(f"/users/{account_id}/suspend"))
    error = v2_error(answer, 429, "ADMIN-429-1")
    assert "Retry-After" not in answer.headers and answer.headers["X-RateLimit-Remaining"] == "0"
    reset = datetime.datetime.fromisoformat(answer.headers["X-RateLimit-Reset"].replace("Z", "+00:00")).timestamp()
    assert before + 6 <= reset <= time.time() + 7.01
    assert error["detail"]
    assert org.user(account_id).json()["data"]["status"] == "active"  # not applied
    assert org.request("POST", org.dir(f"/users/{account_id}/suspend")).status_code == 204  # counted down
    stats = org.sandbox.stats()
    assert stats["org_injected_429"] == 1 and stats["org_writes"] == 2


@pytest.mark.parametrize("style", ["retry_after", "retry_after_date", "bare"])
def test_injected_429_styles(org: Org, style: str) -> None:
    org.sandbox.configure(org_fail_429_next=1, org_retry_after=3, org_429_style=style, org_error_style="v1")
    before = time.time()
    answer = org.request("GET", org.v2("/directories"))
    after = time.time()
    assert answer.status_code == 429 and answer.json() == {"code": 429, "message": "Rate limit exceeded (injected by the sandbox)"}
    if style == "retry_after":
        assert answer.headers["Retry-After"] == "3" and "X-RateLimit-Reset" in answer.headers
    elif style == "retry_after_date":
        when = email.utils.parsedate_to_datetime(answer.headers["Retry-After"]).timestamp()
        assert int(before) + 4 <= when <= int(after) + 4  # whole seconds, never sooner than 3 s away
    else:
        assert "Retry-After" not in answer.headers and "X-RateLimit-Reset" not in answer.headers
    assert org.request("GET", org.v2("/directories")).status_code == 200


def test_error_styles(org: Org) -> None:
    path = org.v2("/directories")
    org.sandbox.configure(org_error_style="v1")
    assert org.request("GET", path, key="bad").json() == {"code": 401, "message": "The API key is invalid, expired or revoked"}
    org.sandbox.configure(org_error_style="text")
    answer = org.request("GET", path, key="bad")
    assert answer.status_code == 401 and answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text == "Unauthorized: The API key is invalid, expired or revoked"
    org.sandbox.configure(org_error_style="v2")
    missing = org.request("GET", "/users/712020:nobody/manage/api-tokens")
    v2_error(missing, 404)  # forced on user management too
    with pytest.raises(ValueError):
        org.sandbox.configure(org_error_style="xml")


def test_injected_org_answer(org: Org) -> None:
    org.sandbox.inject(target="org", status=503, body="upstream connect error", method="POST", path_contains="/workspaces")
    assert org.request("GET", org.v2("/directories")).status_code == 200
    answer = org.workspaces()
    assert answer.status_code == 503 and answer.text == "upstream connect error"
    assert org.workspaces().status_code == 200


def test_searches_are_not_writes(org: Org) -> None:
    org.create_user("reader@example.com")
    group = org.create_group("Readers")
    org.sandbox.reset_stats()
    org.search_users()
    org.workspaces()
    org.request("POST", org.dir("/groups/search"), json={"groupNames": ["readers"]})
    org.assignments(group["id"])
    stats = org.sandbox.stats()
    assert stats["org_writes"] == 0 and stats["org_requests"]["POST"] == 3 and stats["org_requests"]["GET"] == 1
    assert [r["operation"] for r in stats["requests"]] == ["users.search", "workspaces.search", "groups.search", "groups.role_assignments"]
    org.role("assign", group["id"], org.ari("Sandbox Jira"))
    assert org.sandbox.stats()["org_writes"] == 1


def test_reset_forgets_org_state_and_settings(sandbox: Any, org: Org) -> None:
    org.create_user("kept@example.com")
    group = org.create_group("Kept")
    account_id = org.account_id("kept@example.com")
    org.request("POST", org.dir(f"/users/{account_id}/suspend"))
    org.role("assign", group["id"], org.ari("Sandbox Jira"))
    sandbox.org_control("api_tokens", account_id=account_id, labels=["x"])
    sandbox.org_control("workspaces", workspaces=[{"name": "Only", "type_key": "confluence"}])
    sandbox.org_control("directories", directories=["Extra"])
    sandbox.configure(org_role_visibility_hold=True, org_page_size_cap=1, org_fail_429_next=5)
    sandbox.reset()
    state = sandbox.org_control("state")
    assert state["users"] == [] and state["role_assignments"] == {} and state["api_tokens"] == {}
    assert [w["name"] for w in state["workspaces"]] == ["Sandbox Jira", "Sandbox Confluence"]
    assert len(state["directories"]) == 1
    config = sandbox.config()
    assert config["org_role_visibility_hold"] is False and config["org_page_size_cap"] == 100 and config["org_fail_429_next"] == 0
    # POST /_sandbox/clear forgets org data with the SCIM data
    org.create_user("again@example.com")
    sandbox.org_control("api_tokens", email="again@example.com", labels=["y"])
    assert org.http.post(org.control + "/clear").json() == {"ok": True}
    assert sandbox.org_control("state")["api_tokens"] == {}


def test_control_over_http(org: Org) -> None:
    org.create_user("http@example.com")
    answer = org.http.get(org.control + "/org/account", params={"email": "http@example.com"})
    assert answer.status_code == 200 and answer.json()["account_id"] == org.account_id("http@example.com")
    seeded = org.http.post(org.control + "/org/api_tokens", json={"email": "http@example.com", "tokens": [{"label": "old", "expiry": "2027-01-01T00:00:00Z"}]})
    assert seeded.status_code == 200 and seeded.json()["tokens"][0]["expiry"] == "2027-01-01T00:00:00Z"
    assert org.http.post(org.control + "/org/api_tokens", json={"email": "nobody@example.com", "labels": []}).status_code == 400
    assert org.http.get(org.control + "/org/state").json()["org_id"] == org.org_id
