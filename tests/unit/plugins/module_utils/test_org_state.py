# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Desired state of org users and of group product access, over an in-memory organization."""

from __future__ import annotations

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, OrgApiError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._org_access import (
    Grant,
    GroupAccess,
    current_grants,
    plan_access,
    resolve_resources,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._org_users import (
    org_user_spec,
    plan_membership,
    reconcile_org_user,
)

JIRA = "ari:cloud:jira::site/1"
CONFLUENCE = "ari:cloud:confluence::site/1"
WORKSPACES = [
    {"id": JIRA, "attributes": {"name": "acme", "typeKey": "jira-software", "hostUrl": "https://acme.atlassian.net"}},
    {"id": CONFLUENCE, "attributes": {"name": "acme", "typeKey": "confluence", "hostUrl": "https://acme.atlassian.net"}},
    {"id": "ari:cloud:jira::site/2", "attributes": {"name": "Labs", "typeKey": "jira-software", "hostUrl": "https://labs.atlassian.net"}},
]


class FakeOrg:
    """An organization in memory that records every write; ``lag`` reads pass before a role change shows."""

    org_id = "org-1"

    def __init__(self, *, users=(), tokens=None, groups=(), directories=("d1",), lag=0):
        self.users = {user["accountId"]: dict(user) for user in users}
        self.tokens = tokens or {}
        self.groups = list(groups)
        self.dirs = list(directories)
        self.visible: set[tuple[str, str]] = set()
        self.queued: list[tuple[int, str, tuple[str, str]]] = []
        self.lag = lag
        self.writes: list[tuple] = []
        self.reads = 0
        self.fail_next: dict[str, Exception] = {}

    def directories(self):
        return [{"directoryId": d} for d in self.dirs]

    def workspaces(self):
        return WORKSPACES

    def search_users(self, *, directory_id="-", emails=None, account_ids=None, statuses=None):
        found = [u for u in self.users.values()
                 if (not emails or u["email"].casefold() in {e.casefold() for e in emails})
                 and (not account_ids or u["accountId"] in account_ids)
                 and (directory_id == "-" or u.get("directory", "d1") == directory_id)]
        return [dict(u) for u in found]

    def _write(self, *write):
        self.writes.append(write)
        error = self.fail_next.pop(write[0], None)
        if error:
            raise error

    def suspend_user(self, directory_id, account_id):
        self._write("suspend", directory_id, account_id)
        self.users[account_id].update(status="suspended", membershipStatus="suspended")

    def restore_user(self, directory_id, account_id):
        self._write("restore", directory_id, account_id)
        self.users[account_id].update(status="active", membershipStatus="active")

    def remove_user(self, directory_id, account_id):
        self._write("remove", directory_id, account_id)
        del self.users[account_id]

    def api_tokens(self, account_id):
        return [dict(token) for token in self.tokens.get(account_id, [])]

    def revoke_api_token(self, account_id, token_id):
        self._write("revoke_token", account_id, token_id)
        self.tokens[account_id] = [t for t in self.tokens[account_id] if t["id"] != token_id]

    def search_groups(self, *, names=None, group_ids=None):
        return [g for g in self.groups
                if (not names or g["name"].casefold() in {n.casefold() for n in names})
                and (not group_ids or g["id"] in group_ids)]

    def role_assignments(self, directory_id, group_id):
        self.reads += 1
        for change in [c for c in self.queued if c[0] <= self.reads]:
            self.queued.remove(change)
            (self.visible.add if change[1] == "grant" else self.visible.discard)(change[2])
        by_resource: dict[str, list[str]] = {}
        for resource, role in sorted(self.visible):
            by_resource.setdefault(resource, []).append(role)
        return [{"resourceId": r, "roles": roles} for r, roles in by_resource.items()]

    def _queue(self, change, resource, role):
        self.queued.append((self.reads + 1 + self.lag, change, (resource, role)))

    def assign_role(self, directory_id, group_id, resource, role):
        self._write("assign", group_id, resource, role)
        self._queue("grant", resource, role)

    def revoke_role(self, directory_id, group_id, resource, role):
        self._write("revoke", group_id, resource, role)
        self._queue("revoke", resource, role)


def person(account_id="a1", email="sam@x.test", membership="active", **extra):
    return {"accountId": account_id, "email": email, "name": "Sam", "status": membership, "accountStatus": "active",
            "membershipStatus": membership, "claimStatus": "managed", "managementSource": "synced", **extra}


def spec(**params):
    return org_user_spec({"revoke_api_tokens": False, "confirm_removal": False, **params})


# -- org users ------------------------------------------------------------------

@pytest.mark.parametrize(("membership", "state", "action"), [
    ("active", "suspended", "suspended"),
    ("suspended", "suspended", None),
    ("suspended", "active", "restored"),
    ("active", "active", None),
    ("active", "removed", "removed"),
    ("active", None, None),
])
def test_plan_membership(membership, state, action):
    assert plan_membership(membership, state) == action


def test_removal_needs_confirmation_before_any_request():
    with pytest.raises(ConfigError, match="cannot be undone.*confirm_removal=true"):
        spec(email="sam@x.test", state="removed")


@pytest.mark.parametrize("check_mode", [True, False])
def test_suspend_and_revoke_tokens_reports_labels_never_values(check_mode):
    org = FakeOrg(users=[person()], tokens={"a1": [{"id": "t1", "label": "laptop"}, {"id": "t2", "label": "ci"}]})
    result = reconcile_org_user(org, spec(email="SAM@x.test", state="suspended", revoke_api_tokens=True),
                                check_mode=check_mode, diff=True)
    assert (result["changed"], result["action"]) == (True, "suspended")
    assert result["revoked_api_tokens"] == {"count": 2, "labels": ["ci", "laptop"]}
    assert result["user"]["status"] == "suspended"
    assert result["diff"] == {"before": {"status": "active", "membership_status": "active", "api_tokens": ["ci", "laptop"]},
                              "after": {"status": "suspended", "membership_status": "suspended", "api_tokens": []}}
    assert org.writes == ([] if check_mode else [("revoke_token", "a1", "t1"), ("revoke_token", "a1", "t2"),
                                                 ("suspend", "d1", "a1")])


def test_suspending_a_suspended_user_is_unchanged():
    org = FakeOrg(users=[person(membership="suspended")], tokens={"a1": []})
    result = reconcile_org_user(org, spec(account_id="a1", state="suspended", revoke_api_tokens=True), check_mode=False, diff=False)
    assert (result["changed"], result["action"], result["revoked_api_tokens"]["count"]) == (False, "unchanged", 0)
    assert org.writes == [] and "diff" not in result


def test_restore_and_remove():
    org = FakeOrg(users=[person(membership="suspended")])
    assert reconcile_org_user(org, spec(email="sam@x.test", state="active"), check_mode=False, diff=False)["action"] == "restored"
    removed = reconcile_org_user(org, spec(email="sam@x.test", state="removed", confirm_removal=True), check_mode=False, diff=True)
    assert (removed["action"], removed["user"], removed["diff"]["after"]) == ("removed", None, {})
    again = reconcile_org_user(org, spec(email="sam@x.test", state="removed", confirm_removal=True), check_mode=False, diff=False)
    assert (again["changed"], again["action"]) == (False, "unchanged")


def test_an_unknown_user_fails_naming_them():
    with pytest.raises(ScimKitError, match="No user with e-mail ghost@x.test in organization org-1"):
        reconcile_org_user(FakeOrg(), spec(email="ghost@x.test", state="suspended"), check_mode=True, diff=False)


def test_a_write_lands_in_each_directory_that_holds_the_user():
    org = FakeOrg(users=[person(directory="d2")], directories=("d1", "d2", "d3"))
    reconcile_org_user(org, spec(email="sam@x.test", state="suspended"), check_mode=False, diff=False)
    assert org.writes == [("suspend", "d2", "a1")]


def test_a_failure_after_revoking_reports_changed_and_what_was_revoked():
    org = FakeOrg(users=[person()], tokens={"a1": [{"id": "t1", "label": "laptop"}]})
    org.fail_next["suspend"] = OrgApiError("denied", status=403, method="POST", path="/p")
    with pytest.raises(OrgApiError) as caught:
        reconcile_org_user(org, spec(email="sam@x.test", state="suspended", revoke_api_tokens=True), check_mode=False, diff=False)
    assert caught.value.details["changed"] is True
    assert caught.value.details["revoked_api_tokens"] == {"count": 1, "labels": ["laptop"]}


def test_a_lost_suspend_answer_is_settled_by_reading():
    org = FakeOrg(users=[person()])
    org.fail_next["suspend"] = OrgApiError("gateway", status=504, method="POST", path="/p")
    reconcile_org_user(org, spec(email="sam@x.test", state="suspended"), check_mode=False, diff=False)
    # The first suspend did not apply (the fake raised before changing anything), so it was sent once more.
    assert org.writes == [("suspend", "d1", "a1"), ("suspend", "d1", "a1")]
    assert org.users["a1"]["membershipStatus"] == "suspended"


# -- group access -----------------------------------------------------------------

GROUP = {"id": "g1", "name": "Jira-Users", "directoryId": "d1"}


def access(*items, state="present", exclusive=False, wait_timeout=35, group="jira-users"):
    return {"group": group, "group_id": None, "access": list(items), "state": state, "exclusive": exclusive,
            "wait_timeout": wait_timeout}


class Clock:
    """A fake clock that moves only when the module sleeps: waiting never depends on machine speed."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def group_access(org):
    clock = Clock()
    return GroupAccess(org, clock=lambda: clock.now, sleep=clock.sleep), clock


def test_resources_resolve_by_ari_name_url_and_product():
    items = [{"resource": JIRA, "role": "atlassian/admin"},
             {"resource": "labs", "role": "atlassian/user"},
             {"resource": "acme.atlassian.net/", "product": "confluence", "role": "atlassian/user"}]
    assert resolve_resources(items, lambda: WORKSPACES) == [
        Grant(JIRA, "atlassian/admin"), Grant("ari:cloud:jira::site/2", "atlassian/user"), Grant(CONFLUENCE, "atlassian/user")]


def test_an_ambiguous_or_unknown_workspace_fails_listing_the_choices():
    with pytest.raises(ConfigError, match="names 2 workspaces: jira-software .*confluence.*Add product"):
        resolve_resources([{"resource": "https://acme.atlassian.net", "role": "atlassian/user"}], lambda: WORKSPACES)
    with pytest.raises(ConfigError, match="No workspace is named or at 'nope'.*Labs \\(jira-software\\)"):
        resolve_resources([{"resource": "nope", "role": "atlassian/user"}], lambda: WORKSPACES)


def test_plan_access():
    current = {Grant(JIRA, "atlassian/user"), Grant(CONFLUENCE, "atlassian/user")}
    desired = [Grant(JIRA, "atlassian/user"), Grant(JIRA, "atlassian/admin")]
    plan = plan_access(current, desired, state="present", exclusive=False)
    assert (plan.grant, plan.revoke) == ((Grant(JIRA, "atlassian/admin"),), ())
    plan = plan_access(current, desired, state="present", exclusive=True)
    assert plan.revoke == (Grant(CONFLUENCE, "atlassian/user"),)
    plan = plan_access(current, desired, state="absent", exclusive=False)
    assert (plan.grant, plan.revoke) == ((), (Grant(JIRA, "atlassian/user"),))


def test_current_grants_reads_every_role():
    assert current_grants([{"resourceId": JIRA, "roles": ["atlassian/user", "atlassian/admin"], "defaultRole": None},
                           {"resourceId": CONFLUENCE, "roles": None}]) == {Grant(JIRA, "atlassian/user"), Grant(JIRA, "atlassian/admin")}


@pytest.mark.parametrize(("items", "extra", "message"), [
    ([{"resource": JIRA, "role": "user"}], {}, "write it as Atlassian does"),
    ([{"resource": JIRA, "role": "atlassian/user"}], {"state": "absent", "exclusive": True}, "state=present only"),
])
def test_bad_access_fails_before_any_request(items, extra, message):
    org = FakeOrg(groups=[GROUP])
    with pytest.raises(ConfigError, match=message):
        group_access(org)[0].reconcile({**access(*items), **extra}, check_mode=False, diff=False)
    assert org.reads == 0


def test_check_mode_predicts_and_writes_nothing():
    org = FakeOrg(groups=[GROUP])
    result = group_access(org)[0].reconcile(access({"resource": JIRA, "role": "atlassian/user"}), check_mode=True, diff=True)
    assert result["changed"] and org.writes == []
    assert result["granted"] == [{"resource": JIRA, "role": "atlassian/user"}]
    assert result["diff"] == {"before": {"access": []}, "after": {"access": [{"resource": JIRA, "role": "atlassian/user"}]}}


def test_grant_waits_until_visible_then_a_second_run_is_unchanged():
    org = FakeOrg(groups=[GROUP], lag=3)
    module, clock = group_access(org)
    result = module.reconcile(access({"resource": "labs", "role": "atlassian/user"}), check_mode=False, diff=False)
    assert (result["changed"], result["pending"]) == (True, [])
    assert result["assignments"] == [{"resource": "ari:cloud:jira::site/2", "role": "atlassian/user"}]
    assert clock.sleeps == [0.5, 1.0, 2.0]  # polled with a doubling interval
    again = module.reconcile(access({"resource": "labs", "role": "atlassian/user"}), check_mode=False, diff=False)
    assert (again["changed"], org.writes[1:]) == (False, [])


def test_a_change_not_visible_within_wait_timeout_is_reported_pending():
    org = FakeOrg(groups=[GROUP], lag=1000)
    module, clock = group_access(org)
    result = module.reconcile(access({"resource": JIRA, "role": "atlassian/user"}, wait_timeout=4), check_mode=False, diff=False)
    assert result["changed"] is True
    assert result["pending"] == [{"resource": JIRA, "role": "atlassian/user", "change": "grant"}]
    assert result["assignments"] == [] and "not yet visible" in result["warnings"][0]
    assert sum(clock.sleeps) == 4


def test_exclusive_revokes_the_rest_and_a_404_revoke_counts_as_done():
    org = FakeOrg(groups=[GROUP])
    org.visible = {(CONFLUENCE, "atlassian/user"), (JIRA, "atlassian/user")}
    org.fail_next["revoke"] = OrgApiError("gone", status=404, method="POST", path="/p")
    result = group_access(org)[0].reconcile(access({"resource": JIRA, "role": "atlassian/user"}, exclusive=True,
                                                   wait_timeout=0), check_mode=False, diff=False)
    assert result["revoked"] == [{"resource": CONFLUENCE, "role": "atlassian/user"}]
    assert org.writes == [("revoke", "g1", CONFLUENCE, "atlassian/user")]


def test_no_seats_left_names_the_product():
    org = FakeOrg(groups=[GROUP])
    org.fail_next["assign"] = OrgApiError("x", status=409, method="POST", path="/p", code="ADMIN-409-3")
    with pytest.raises(OrgApiError, match="product jira-software \\(workspace Labs.*no seats") as caught:
        group_access(org)[0].reconcile(access({"resource": "Labs", "role": "atlassian/user"}), check_mode=False, diff=False)
    assert caught.value.details["changed"] is False


def test_another_conflict_is_not_called_a_seat_shortage():
    org = FakeOrg(groups=[GROUP])
    org.fail_next["assign"] = OrgApiError("x", status=409, method="POST", path="/p", code="ADMIN-409-28")
    with pytest.raises(OrgApiError, match="product jira-software .* refused with HTTP 409: a conflict") as caught:
        group_access(org)[0].reconcile(access({"resource": JIRA, "role": "atlassian/user"}), check_mode=False, diff=False)
    assert "seats" not in str(caught.value)


def test_unknown_group_fails():
    with pytest.raises(ScimKitError, match="No group with name 'nope' in organization org-1"):
        group_access(FakeOrg(groups=[GROUP]))[0].reconcile(access({"resource": JIRA, "role": "atlassian/user"}, group="nope"),
                                                           check_mode=True, diff=False)


def test_suspending_a_deactivated_account_keeps_its_composite_status():
    org = FakeOrg(users=[person(status="deactivated", accountStatus="inactive")])
    result = reconcile_org_user(org, spec(email="sam@x.test", state="suspended"), check_mode=True, diff=True)
    assert result["diff"]["after"] == {"status": "deactivated", "membership_status": "suspended"}
    assert result["user"]["status"] == "deactivated"
