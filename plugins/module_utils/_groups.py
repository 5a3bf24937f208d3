# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Desired state of a SCIM group, as pure functions on plain data.

Atlassian cannot rename a synced group, so ``displayName`` is the group's identity, not an
attribute to update: a task manages only ``externalId`` and the membership. Membership is a set
of SCIM user ids (the member ``value``, RFC 7643 section 4.2, not Atlassian account ids); the
task's ``members`` are user names or ids, which _group_reconcile resolves to ids before anything
here compares them. Membership changes are PATCH operations (RFC 7644 section 3.5.2) in bounded
batches, never a PUT of the member list and never a ``remove`` of ``members`` without a filter,
which RFC 7644 section 3.5.2.2 defines as "remove every member".
"""

from __future__ import annotations

import copy
import math
import typing as t
from dataclasses import dataclass

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import GROUP_SCHEMA, check_id, filter_eq

# Most member changes (removals, and values of an add) sent in one PATCH request. Atlassian
# documents no limit (fact sheet section 4.2); 100 matches its page size, so no request carries
# more members than a list page does, and 300 changes cost 3 requests rather than 300.
MAX_CHANGES_PER_REQUEST = 100
# Up to this many member names that need a lookup are looked up one by one straight away:
# asking how large the directory is first could save at most a few requests and costs one.
DIRECT_LOOKUPS = 5
# How each name is resolved: one userName filter (or GET by id) per name, or one paged listing.
EACH = "each"
LISTING = "list"


@dataclass(frozen=True)
class GroupSpec:
    """One group as a task wants it. ``members`` None means the membership is not managed."""

    state: str = "present"
    id: str | None = None
    display_name: str | None = None
    external_id: str | None = None
    members: tuple[str, ...] | None = None
    purge_members: bool = False

    @property
    def label(self) -> str:
        """How messages name this group."""
        return repr(self.display_name) if self.display_name else f"with id {self.id!r}" if self.id else "group"


def group_spec(options: dict[str, t.Any]) -> GroupSpec:
    """Turn module options into a GroupSpec, refusing combinations that cannot mean anything."""
    members = options.get("members")
    if members is not None:
        members = tuple(str(value) for value in members)
        if any(not value.strip() for value in members):
            raise ConfigError("members holds an empty value; give user names or SCIM user ids.")
        for value in members:  # each is also tried as an id, so it must be one path segment
            check_id(value, "members item")
    if options.get("purge_members") and members is None:
        raise ConfigError("purge_members needs members: give the exact list, or members: [] to remove every member.")
    if options.get("id") is not None:
        check_id(options["id"], "id")
    spec = GroupSpec(
        state=options.get("state") or "present",
        id=options.get("id") or None,
        display_name=options.get("display_name") or None,
        external_id=options.get("external_id"),
        members=members,
        purge_members=bool(options.get("purge_members")),
    )
    if not (spec.id or spec.display_name):
        raise ConfigError("Name the group: give display_name or id.")
    return spec


def pick_group(candidates: t.Iterable[dict[str, t.Any]], display_name: str) -> dict[str, t.Any] | None:
    """The group a ``displayName eq`` filter meant, among what the server returned.

    RFC 7643 makes displayName case-insensitive (caseExact false), and Atlassian, like the
    sandbox, answers 409 to a name that differs only in case, so a group found in another case
    is the same group (it cannot be renamed to our spelling). An exact spelling wins when a
    lenient server holds both; several groups that still match are an error, never a guess.
    """
    found = [group for group in candidates if isinstance(group.get("displayName"), str)]
    exact = [group for group in found if group["displayName"] == display_name]
    matches = exact or [group for group in found if group["displayName"].casefold() == display_name.casefold()]
    if len(matches) > 1:
        ids = ", ".join(str(group.get("id")) for group in matches)
        raise ScimKitError(f"{len(matches)} groups are named {display_name!r} (ids {ids}); "
                           "give the id option to say which one is meant.")
    return matches[0] if matches else None


def member_ids(group: dict[str, t.Any] | None) -> list[str]:
    """The member values (SCIM ids) of a group, in the server's order, each once."""
    members = (group or {}).get("members") or []
    return list(dict.fromkeys(str(member["value"]) for member in members
                              if isinstance(member, dict) and member.get("value")))


def split_known(values: t.Sequence[str], current_ids: t.Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Values that are ids of current members (resolved, no lookup needed) and the rest, in order."""
    current = set(current_ids)
    known = {value: value for value in values if value in current}
    unknown = list(dict.fromkeys(value for value in values if value not in known))
    return known, unknown


def lookup_plan(unknown: int, total: int | None, *, page_size: int) -> str:
    """EACH (one request per item) or LISTING (one paged read of every user), whichever costs less.

    A listing costs ceil(total / page_size) requests whatever the number of items, so it wins
    once items outnumber pages: 300 names in a directory of 2,000 users cost 20 requests, not
    300. Without a total (a server that does not say) the listing is the choice whose cost does
    not grow with the member list.
    """
    if unknown <= 0:
        return EACH
    if total is None:
        return LISTING
    pages = max(1, math.ceil(total / max(1, page_size)))
    return LISTING if pages <= unknown else EACH


@dataclass(frozen=True)
class MembershipPlan:
    """Member ids to add and to remove, in a stable order."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.add or self.remove)


def plan_membership(current_ids: t.Sequence[str], desired_ids: t.Sequence[str] | None, *,
                    purge: bool) -> MembershipPlan:
    """Add the desired ids that are missing; with ``purge``, also remove those not desired."""
    if desired_ids is None:
        return MembershipPlan()
    current = set(current_ids)
    desired = set(desired_ids)
    add = tuple(dict.fromkeys(member for member in desired_ids if member not in current))
    remove = tuple(member for member in current_ids if member not in desired) if purge else ()
    return MembershipPlan(add=add, remove=remove)


def external_id_operations(spec: GroupSpec, current: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The PATCH operation for externalId when it differs; an empty external_id removes it."""
    if spec.external_id is None:
        return []
    held = current.get("externalId")
    if spec.external_id == "":
        return [{"op": "remove", "path": "externalId"}] if held not in (None, "") else []
    if held == spec.external_id:  # externalId is case-exact (RFC 7643 section 3.1)
        return []
    return [{"op": "replace", "path": "externalId", "value": spec.external_id}]


def remove_member_operation(member_id: str) -> dict[str, t.Any]:
    """Remove one member by a value filter (RFC 7644 section 3.5.2.2), the form Atlassian documents.

    The id is quoted as a filter value, so no id can widen the filter.
    """
    return {"op": "remove", "path": f"members[{filter_eq('value', member_id)}]"}


def patch_requests(operations: t.Sequence[dict[str, t.Any]], plan: MembershipPlan, *,
                   limit: int = MAX_CHANGES_PER_REQUEST) -> list[list[dict[str, t.Any]]]:
    """The PATCH bodies' operations, each request carrying at most ``limit`` changes.

    Every attribute operation, every removal and every added member counts as one change.
    Removals go before additions, so a run that fails half-way has not granted access to
    anyone it was also meant to take access from; within a request the additions form one
    ``add`` operation with a value list, as Atlassian's worked example does.
    """
    if limit < 1:
        raise ConfigError("The batch size of membership changes must be at least 1.")
    changes: list[tuple[str, t.Any]] = [("op", op) for op in operations]
    changes += [("remove", member) for member in plan.remove]
    changes += [("add", member) for member in plan.add]
    requests = []
    for start in range(0, len(changes), limit):
        chunk = changes[start:start + limit]
        body = [copy.deepcopy(op) for kind, op in chunk if kind == "op"]
        body += [remove_member_operation(member) for kind, member in chunk if kind == "remove"]
        added = [{"value": member} for kind, member in chunk if kind == "add"]
        if added:
            body.append({"op": "add", "path": "members", "value": added})
        requests.append(body)
    return requests


def predict_group(current: dict[str, t.Any], operations: t.Sequence[dict[str, t.Any]],
                  plan: MembershipPlan) -> dict[str, t.Any]:
    """The group as the server will hold it after the operations: what check mode returns."""
    group = copy.deepcopy(current)
    for op in operations:
        if op.get("path") == "externalId":
            if op["op"] == "remove":
                group.pop("externalId", None)
            else:
                group["externalId"] = op["value"]
    if plan:
        removed = set(plan.remove)
        members = [member for member in group.get("members") or []
                   if not (isinstance(member, dict) and member.get("value") in removed)]
        members += [{"value": member} for member in plan.add]
        if members:
            group["members"] = members
        else:
            group.pop("members", None)
    return group


def create_payload(spec: GroupSpec) -> dict[str, t.Any]:
    """The body of POST /Groups: Atlassian's documented create fields only.

    Members are added afterwards with PATCH, in batches: Atlassian documents no members in a
    create, a large member list would otherwise travel in one unbatched body, and a create that
    finds the group already there (409) needs the PATCH path anyway.
    """
    if not spec.display_name:
        raise ConfigError(f"display_name is required to create the group {spec.label}: SCIM cannot create "
                          "a group with a chosen id.")
    payload: dict[str, t.Any] = {"schemas": [GROUP_SCHEMA], "displayName": spec.display_name}
    if spec.external_id:
        payload["externalId"] = spec.external_id
    return payload


def group_view(group: dict[str, t.Any] | None, *, names: dict[str, str] | None) -> dict[str, t.Any]:
    """The managed part of a group for diff output; ``members`` (sorted user names) when names are given.

    A member whose user name could not be read shows as its id.
    """
    if not group:
        return {}
    view: dict[str, t.Any] = {"displayName": group.get("displayName")}
    if group.get("externalId") not in (None, ""):
        view["externalId"] = group["externalId"]
    if names is not None:
        view["members"] = sorted(names.get(member, member) for member in member_ids(group))
    return view


GROUP_ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "display_name": {"type": "str"},
    "id": {"type": "str"},
    "external_id": {"type": "str"},
    "members": {"type": "list", "elements": "str"},
    "purge_members": {"type": "bool", "default": False},
}


__all__ = [
    "DIRECT_LOOKUPS",
    "EACH",
    "GROUP_ARGUMENT_SPEC",
    "GroupSpec",
    "LISTING",
    "MAX_CHANGES_PER_REQUEST",
    "MembershipPlan",
    "create_payload",
    "external_id_operations",
    "group_spec",
    "group_view",
    "lookup_plan",
    "member_ids",
    "patch_requests",
    "pick_group",
    "plan_membership",
    "predict_group",
    "remove_member_operation",
    "split_known",
]
