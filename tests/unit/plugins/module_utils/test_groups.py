# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import json
import re

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._group_reconcile import (
    UserDirectory,
    read_groups,
    reconcile_group,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._groups import (
    EACH,
    LISTING,
    MembershipPlan,
    create_payload,
    external_id_operations,
    group_spec,
    group_view,
    lookup_plan,
    member_ids,
    patch_requests,
    pick_group,
    plan_membership,
    predict_group,
    remove_member_operation,
    split_known,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import GROUP_SCHEMA

# A group as Atlassian returns it (shape from the provisioning API's worked example).
SERVER_GROUP = {
    "schemas": [GROUP_SCHEMA],
    "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "displayName": "jira-users",
    "externalId": "00g1jira",
    "members": [
        {"value": "u-1", "display": "Jane Doe", "type": "User", "$ref": "https://example.test/Users/u-1"},
        {"value": "u-2", "display": "Sam Roe", "type": "User", "$ref": "https://example.test/Users/u-2"},
    ],
    "meta": {"resourceType": "Group"},
}


def spec(**options):
    return group_spec({"display_name": "jira-users", **options})


# -- options ------------------------------------------------------------------------------


def test_spec_defaults_leave_membership_unmanaged():
    wanted = spec()
    assert (wanted.state, wanted.members, wanted.purge_members, wanted.external_id) == ("present", None, False, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"display_name": None}, "give display_name or id"),
        ({"purge_members": True}, "purge_members needs members"),
        ({"members": ["jane", " "]}, "empty value"),
    ],
)
def test_spec_refuses_meaningless_options(options, message):
    with pytest.raises(ConfigError, match=message):
        spec(**options)


def test_purge_to_an_empty_list_is_allowed():
    assert spec(members=[], purge_members=True).members == ()


# -- finding the group --------------------------------------------------------------------


def test_pick_group_prefers_the_exact_spelling():
    exact, other = {"id": "1", "displayName": "jira-users"}, {"id": "2", "displayName": "JIRA-users"}
    assert pick_group([other, exact], "jira-users") is exact


def test_pick_group_accepts_another_case_as_the_same_group():
    only = {"id": "2", "displayName": "JIRA-Users"}
    assert pick_group([only], "jira-users") is only


def test_pick_group_ignores_what_the_filter_returned_by_mistake_and_refuses_to_guess():
    assert pick_group([{"id": "3", "displayName": "jira-users-old"}], "jira-users") is None
    with pytest.raises(ScimKitError, match=r"2 groups are named 'jira-users' \(ids 1, 2\)"):
        pick_group([{"id": "1", "displayName": "Jira-users"}, {"id": "2", "displayName": "JIRA-users"}], "jira-users")


def test_member_ids_keep_order_and_drop_repeats():
    group = {"members": [{"value": "b"}, {"value": "a"}, {"value": "b"}, {"display": "no value"}]}
    assert member_ids(group) == ["b", "a"]
    assert member_ids({}) == member_ids(None) == []


# -- name resolution planning -------------------------------------------------------------


def test_ids_of_current_members_need_no_lookup():
    known, unknown = split_known(["u-1", "jane@example.com", "u-9", "jane@example.com"], ["u-1", "u-2"])
    assert known == {"u-1": "u-1"}
    assert unknown == ["jane@example.com", "u-9"]


@pytest.mark.parametrize(
    ("unknown", "total", "plan"),
    [
        (300, 300, LISTING),  # 3 pages beat 300 filters
        (300, 2_000, LISTING),  # 20 pages beat 300 filters
        (10, 2_000, EACH),  # 10 filters beat 20 pages
        (20, 2_000, LISTING),  # a tie: the listing also resolves ids for free
        (6, 0, LISTING),  # an empty directory is one (empty) page
        (50, None, LISTING),  # no total: the cost that does not grow with the list
        (0, 10, EACH),
    ],
)
def test_lookup_plan_takes_the_cheaper_way(unknown, total, plan):
    assert lookup_plan(unknown, total, page_size=100) == plan


# -- membership plans and batches ---------------------------------------------------------


def test_additive_plan_only_adds():
    plan = plan_membership(["u-1", "u-2"], ["u-2", "u-3", "u-3"], purge=False)
    assert plan == MembershipPlan(add=("u-3",), remove=())


def test_purge_makes_the_membership_exact():
    plan = plan_membership(["u-1", "u-2"], ["u-2", "u-3"], purge=True)
    assert plan == MembershipPlan(add=("u-3",), remove=("u-1",))
    assert plan_membership(["u-1"], [], purge=True) == MembershipPlan(remove=("u-1",))


def test_unmanaged_or_satisfied_membership_plans_nothing():
    assert not plan_membership(["u-1"], None, purge=True)
    assert not plan_membership(["u-1", "u-2"], ["u-2", "u-1"], purge=True)
    assert not plan_membership(["u-1", "u-2"], ["u-2"], purge=False)


@pytest.mark.parametrize(
    ("wanted", "held", "operations"),
    [
        (None, "00g1", []),
        ("00g1", "00g1", []),
        ("00G1", "00g1", [{"op": "replace", "path": "externalId", "value": "00G1"}]),  # case-exact
        ("00g2", None, [{"op": "replace", "path": "externalId", "value": "00g2"}]),
        ("", "00g1", [{"op": "remove", "path": "externalId"}]),
        ("", None, []),
    ],
)
def test_external_id_operations(wanted, held, operations):
    current = {"displayName": "jira-users", **({"externalId": held} if held is not None else {})}
    assert external_id_operations(spec(external_id=wanted), current) == operations


def test_member_removal_is_a_quoted_value_filter():
    assert remove_member_operation("u-1") == {"op": "remove", "path": 'members[value eq "u-1"]'}
    hostile = 'x"] or [value pr'
    path = remove_member_operation(hostile)["path"]
    assert json.loads(re.fullmatch(r'members\[value eq (".*")\]', path).group(1)) == hostile


def test_many_additions_are_batched_in_one_add_operation_per_request():
    added = [f"u-{number}" for number in range(250)]
    requests = patch_requests([], MembershipPlan(add=tuple(added)))
    assert [len(body) for body in requests] == [1, 1, 1]
    assert [len(body[0]["value"]) for body in requests] == [100, 100, 50]
    assert all(body[0]["op"] == "add" and body[0]["path"] == "members" for body in requests)
    assert [item["value"] for body in requests for item in body[0]["value"]] == added


def test_mixed_changes_fill_requests_removals_first_and_never_remove_without_a_filter():
    plan = MembershipPlan(add=tuple(f"a-{n}" for n in range(80)), remove=tuple(f"r-{n}" for n in range(30)))
    extid = [{"op": "replace", "path": "externalId", "value": "00g2"}]
    requests = patch_requests(extid, plan, limit=100)
    assert len(requests) == 2
    first, second = requests
    assert first[0] == extid[0]
    assert [op["op"] for op in first[1:31]] == ["remove"] * 30
    assert first[31]["op"] == "add" and len(first[31]["value"]) == 69
    assert len(first) == 32 and second == [{"op": "add", "path": "members", "value": [{"value": f"a-{n}"} for n in range(69, 80)]}]
    removals = [op for body in requests for op in body if op["op"] == "remove" and op["path"] != "externalId"]
    assert all(op["path"].startswith("members[value eq ") and "value" not in op for op in removals)


def test_nothing_to_do_sends_nothing():
    assert patch_requests([], MembershipPlan()) == []
    with pytest.raises(ConfigError):
        patch_requests([], MembershipPlan(add=("u-1",)), limit=0)


# -- prediction, create, diff -------------------------------------------------------------


def test_prediction_applies_external_id_and_membership():
    operations = [{"op": "replace", "path": "externalId", "value": "00g2"}]
    predicted = predict_group(SERVER_GROUP, operations, MembershipPlan(add=("u-3",), remove=("u-1",)))
    assert predicted["externalId"] == "00g2"
    assert member_ids(predicted) == ["u-2", "u-3"]
    assert predicted["id"] == SERVER_GROUP["id"]
    assert SERVER_GROUP["members"][0]["value"] == "u-1"  # the input is not changed
    emptied = predict_group(SERVER_GROUP, [{"op": "remove", "path": "externalId"}],
                            MembershipPlan(remove=("u-1", "u-2")))
    assert "members" not in emptied and "externalId" not in emptied


def test_create_payload_holds_only_documented_fields():
    assert create_payload(spec(external_id="00g1", members=["jane"])) == {
        "schemas": [GROUP_SCHEMA], "displayName": "jira-users", "externalId": "00g1"}
    assert create_payload(spec(external_id="")) == {"schemas": [GROUP_SCHEMA], "displayName": "jira-users"}
    with pytest.raises(ConfigError, match="display_name is required"):
        create_payload(group_spec({"id": "g-1"}))


def test_diff_view_sorts_user_names_and_falls_back_to_ids():
    view = group_view(SERVER_GROUP, names={"u-1": "zed@example.com"})
    assert view == {"displayName": "jira-users", "externalId": "00g1jira", "members": ["u-2", "zed@example.com"]}
    assert "members" not in group_view(SERVER_GROUP, names=None)
    assert group_view(None, names={}) == {}


# -- orchestration against an in-memory directory -----------------------------------------


class FakeClient:
    """The ScimClient methods the group code uses, over in-memory data, recording each request."""

    page_size = 100

    def __init__(self, users: int = 0) -> None:
        self.users = {f"u-{n}": {"id": f"u-{n}", "userName": f"user{n}@example.com"} for n in range(users)}
        self.groups: dict[str, dict] = {}
        self.sent: list[tuple[str, str]] = []

    def writes(self) -> list[str]:
        return [method for method, _what in self.sent if method in ("POST", "PATCH", "PUT", "DELETE")]

    def total_results(self, resource_type, *, filter=None):
        self.sent.append(("GET", f"/{resource_type}?count=0"))
        return len(self.users)

    def iter_resources(self, resource_type, *, filter=None, attributes=None, excluded_attributes=None):
        if resource_type == "Groups":
            self.sent.append(("GET", f"/Groups?filter={filter}"))
            name = json.loads(filter.split(" eq ", 1)[1])
            yield from (copy.deepcopy(g) for g in self.groups.values() if g["displayName"].casefold() == name.casefold())
            return
        everyone = list(self.users.values())
        for start in range(0, max(1, len(everyone)), self.page_size):
            self.sent.append(("GET", f"/Users?startIndex={start + 1}"))
            yield from (dict(u) for u in everyone[start:start + self.page_size])

    def list(self, resource_type, **kwargs):
        return list(self.iter_resources(resource_type, **kwargs))

    def find_one(self, resource_type, attribute, value, *, case_insensitive=False, **shape):
        self.sent.append(("GET", f"/Users?filter={attribute} eq {value}"))
        found = [u for u in self.users.values() if u["userName"].casefold() == value.casefold()]
        return dict(found[0]) if found else None

    def get(self, resource_type, resource_id, **shape):
        self.sent.append(("GET", f"/{resource_type}/{resource_id}"))
        store = self.users if resource_type == "Users" else self.groups
        return copy.deepcopy(store.get(resource_id))

    def create(self, resource_type, payload, *, find_existing, describe, conflict_hint=""):
        self.sent.append(("POST", f"/{resource_type}"))
        group = {**copy.deepcopy(payload), "id": f"g-{len(self.groups) + 1}"}
        self.groups[group["id"]] = group
        return copy.deepcopy(group)

    def patch(self, resource_type, resource_id, operations):
        self.sent.append(("PATCH", f"/{resource_type}/{resource_id}"))
        assert len(operations) <= 100
        group = self.groups[resource_id]
        members = [m["value"] for m in group.get("members", [])]
        for op in operations:
            if op["path"] == "members" and op["op"] == "add":
                assert len(op["value"]) <= 100
                members += [v["value"] for v in op["value"] if v["value"] not in members]
            elif op["path"].startswith("members["):
                gone = json.loads(op["path"][len("members[value eq "):-1])
                members = [m for m in members if m != gone]
            elif op["path"] == "externalId":
                if op["op"] == "remove":
                    group.pop("externalId", None)
                else:
                    group["externalId"] = op["value"]
            else:
                raise AssertionError(f"unexpected operation {op}")
        group["members"] = [{"value": m, "type": "User"} for m in members]
        if not group["members"]:
            del group["members"]
        return copy.deepcopy(group)

    def delete(self, resource_type, resource_id):
        self.sent.append(("DELETE", f"/{resource_type}/{resource_id}"))
        return self.groups.pop(resource_id, None) is not None


def test_a_few_names_cost_one_filter_each():
    client = FakeClient(users=10)
    resolved = UserDirectory(client).resolve(["user1@example.com", "USER2@example.com", "u-1"], current_ids=["u-1"])
    assert resolved == {"user1@example.com": "u-1", "USER2@example.com": "u-2", "u-1": "u-1"}
    assert len(client.sent) == 2 and all("filter=userName" in what for _m, what in client.sent)


def test_many_names_in_a_small_directory_cost_one_listing():
    client = FakeClient(users=250)
    names = [f"user{n}@example.com" for n in range(40)]
    resolved = UserDirectory(client).resolve(names, current_ids=[])
    assert resolved == {name: f"u-{n}" for n, name in enumerate(names)}
    assert [what for _m, what in client.sent] == [
        "/Users?count=0", "/Users?startIndex=1", "/Users?startIndex=101", "/Users?startIndex=201"]


def test_some_names_in_a_large_directory_cost_one_filter_each():
    client = FakeClient(users=3_000)  # 30 pages
    names = [f"user{n}@example.com" for n in range(12)]
    UserDirectory(client).resolve(names, current_ids=[])
    assert len(client.sent) == 1 + 12


def test_an_id_of_a_user_not_yet_a_member_is_found_after_the_name_filter_misses():
    client = FakeClient(users=5)
    assert UserDirectory(client).resolve(["u-3"], current_ids=[]) == {"u-3": "u-3"}
    assert [what for _m, what in client.sent] == ["/Users?filter=userName eq u-3", "/Users/u-3"]


def test_every_unknown_name_is_named_in_one_error():
    client = FakeClient(users=300)
    names = [f"user{n}@example.com" for n in range(20)] + ["nobody@example.com", "ghost@example.com"]
    with pytest.raises(ScimKitError, match=r"members: 'nobody@example.com', 'ghost@example.com' match no user"):
        UserDirectory(client).resolve(names, current_ids=[])


def test_names_for_the_diff_reuse_what_resolution_learned():
    client = FakeClient(users=10)
    directory = UserDirectory(client)
    directory.resolve(["user1@example.com"], current_ids=[])
    sent = len(client.sent)
    assert directory.names(["u-1", "u-4", "missing"]) == {"u-1": "user1@example.com", "u-4": "user4@example.com"}
    assert [what for _m, what in client.sent[sent:]] == ["/Users/u-4", "/Users/missing"]


@pytest.mark.parametrize("diff", [False, True])
def test_check_mode_writes_nothing_and_agrees_with_the_real_run(diff):
    members = [f"user{n}@example.com" for n in range(250)]
    wanted = spec(external_id="00g1", members=members)
    check_client, real_client = FakeClient(users=300), FakeClient(users=300)
    check = reconcile_group(check_client, wanted, check_mode=True, diff=diff)
    real = reconcile_group(real_client, wanted, check_mode=False, diff=diff)
    assert check_client.writes() == []
    assert real_client.writes() == ["POST", "PATCH", "PATCH", "PATCH"]
    assert (check.action, check.changed, check.before, check.after) == (real.action, real.changed, real.before, real.after)
    assert sorted(member_ids(check.resource)) == sorted(member_ids(real.resource))
    assert "id" not in check.resource and real.resource["id"] == "g-1"
    if diff:
        assert real.before == {} and real.after["members"] == sorted(members)
    else:
        assert real.before == real.after == {}


def test_rerun_additive_update_and_purge():
    client = FakeClient(users=20)
    first = reconcile_group(client, spec(members=["user1@example.com", "user2@example.com"]), check_mode=False, diff=False)
    assert first.action == "created"
    client.sent.clear()
    again = reconcile_group(client, spec(members=["user1@example.com", "user2@example.com"]), check_mode=False, diff=True)
    assert again.action == "unchanged" and client.writes() == []
    assert again.before == again.after == {"displayName": "jira-users", "members": ["user1@example.com", "user2@example.com"]}

    added = reconcile_group(client, spec(members=["user3@example.com"]), check_mode=False, diff=True)
    assert added.action == "updated"
    assert added.after["members"] == ["user1@example.com", "user2@example.com", "user3@example.com"]

    purged = reconcile_group(client, spec(members=["u-3", "user4@example.com"], purge_members=True), check_mode=False, diff=True)
    assert purged.before["members"] == ["user1@example.com", "user2@example.com", "user3@example.com"]
    assert purged.after["members"] == ["user3@example.com", "user4@example.com"]
    assert sorted(member_ids(client.groups["g-1"])) == ["u-3", "u-4"]


def test_unknown_name_fails_before_any_write():
    client = FakeClient(users=3)
    with pytest.raises(ScimKitError, match="'nobody@example.com' matches no user"):
        reconcile_group(client, spec(members=["user1@example.com", "nobody@example.com"]), check_mode=False, diff=False)
    assert client.writes() == [] and client.groups == {}


def test_a_group_found_by_id_under_another_name_is_not_renamed():
    client = FakeClient()
    client.groups["g-1"] = {"id": "g-1", "displayName": "jira-users"}
    with pytest.raises(ConfigError, match="cannot rename"):
        reconcile_group(client, group_spec({"id": "g-1", "display_name": "jira-admins"}), check_mode=False, diff=False)
    with pytest.raises(ConfigError, match="No group has id"):
        reconcile_group(client, group_spec({"id": "g-9"}), check_mode=False, diff=False)


def test_delete_then_delete_again():
    client = FakeClient(users=3)
    client.groups["g-1"] = {"id": "g-1", "displayName": "jira-users", "members": [{"value": "u-1"}]}
    check = reconcile_group(client, spec(state="absent"), check_mode=True, diff=True)
    assert check.action == "deleted" and client.writes() == []
    gone = reconcile_group(client, spec(state="absent"), check_mode=False, diff=True)
    assert (gone.action, gone.before, gone.after) == (
        "deleted", {"displayName": "jira-users", "members": ["user1@example.com"]}, {})
    assert gone.before == check.before and client.groups == {}
    assert reconcile_group(client, spec(state="absent"), check_mode=False, diff=False).action == "unchanged"


def test_read_groups_by_name_keeps_only_real_matches():
    client = FakeClient()
    client.groups = {"g-1": {"id": "g-1", "displayName": "Jira-Users"}, "g-2": {"id": "g-2", "displayName": "jira"}}
    assert [g["id"] for g in read_groups(client, display_name="jira-users")] == ["g-1"]
    assert read_groups(client, group_id="g-2") == [{"id": "g-2", "displayName": "jira"}]
    assert read_groups(client, group_id="g-3") == []
