# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Desired state of a group's product access: role assignments on workspaces.

Resolve the group and every resource first (a name or URL becomes a workspace ARI), plan
from the current assignments (pure), then write, then wait until a read shows the writes,
because Atlassian documents up to 30 s before a change is visible (reference section 10).
"""

from __future__ import annotations

import time
import typing as t
from dataclasses import dataclass

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, OrgApiError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._org import ALL_DIRECTORIES, write_verified
from ansible_collections.scimkit.atlassian.plugins.module_utils._org_views import workspace_matches, workspace_view

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._org import OrgClient

ARI_PREFIX = "ari:"
# Polling while waiting for a change to show: 0.5 s, doubling, at most 3 s between reads (as the Terraform provider does).
FIRST_POLL = 0.5
MAX_POLL = 3.0


@dataclass(frozen=True, order=True)
class Grant:
    """One role on one resource (a workspace ARI)."""

    resource: str
    role: str

    def as_dict(self) -> dict[str, str]:
        return {"resource": self.resource, "role": self.role}


@dataclass(frozen=True)
class AccessPlan:
    grant: tuple[Grant, ...]
    revoke: tuple[Grant, ...]

    def __bool__(self) -> bool:
        return bool(self.grant or self.revoke)


def validate_access(items: list[dict[str, t.Any]], *, state: str, exclusive: bool, wait_timeout: float = 0) -> None:
    """Rules that need no request, checked before the first one."""
    if wait_timeout < 0:
        raise ConfigError("wait_timeout cannot be negative; 0 reads once without waiting.")
    if exclusive and state == "absent":
        raise ConfigError("exclusive=true applies to state=present only: it revokes what the access list does not name.")
    for item in items:
        role = str(item.get("role") or "")
        if "/" not in role:
            raise ConfigError(f"access role {role!r} is not a role id: write it as Atlassian does, for example "
                              "atlassian/user or atlassian/admin.")
        if not str(item.get("resource") or "").strip():
            raise ConfigError("Every access item needs a resource: a workspace ARI, name or URL.")


def resolve_group(client: OrgClient, *, name: str | None, group_id: str | None) -> dict[str, t.Any]:
    """The group (``id``, ``name``, ``directoryId``) by id or by exact, case-insensitive name; an error when not exactly one."""
    if group_id:
        found = client.search_groups(group_ids=[group_id])
        what = f"id {group_id}"
    else:
        found = client.search_groups(names=[name or ""])
        what = f"name {name!r}"
    if not found:
        raise ScimKitError(f"No group with {what} in organization {client.org_id}.", status=404)
    if len(found) > 1:
        places = ", ".join(f"{group.get('id')} in directory {group.get('directoryId')}" for group in found)
        raise ScimKitError(f"{len(found)} groups have {what} ({places}); give group_id to say which.")
    return found[0]


def resolve_resources(items: list[dict[str, t.Any]], workspaces: t.Callable[[], list[dict[str, t.Any]]]) -> list[Grant]:
    """Each item's resource as an ARI: given as one, or found among the workspaces by name or URL (and product)."""
    grants = []
    for item in items:
        resource = str(item["resource"]).strip()
        if not resource.startswith(ARI_PREFIX):
            resource = _workspace_ari(resource, item.get("product"), workspaces())
        grants.append(Grant(resource, str(item["role"]).strip()))
    return grants


def _workspace_ari(wanted: str, product: str | None, workspaces: list[dict[str, t.Any]]) -> str:
    views = [workspace_view(workspace) for workspace in workspaces]
    matches = [view for view in views if workspace_matches(view, name=wanted, products=[product] if product else None)]
    for_product = f" for product {product}" if product else ""
    if not matches:
        known = ", ".join(sorted(f"{view['name']} ({view['product_key']})" for view in views)) or "none"
        raise ConfigError(f"No workspace is named or at {wanted!r}{for_product}. The organization's workspaces: {known}.")
    if len(matches) > 1:
        listed = ", ".join(f"{view['product_key']} ({view['ari']})" for view in matches)
        raise ConfigError(f"{wanted!r} names {len(matches)} workspaces: {listed}. Add product to the access item, "
                          "or give the ARI as resource.")
    return str(matches[0]["ari"])


def current_grants(assignments: list[dict[str, t.Any]]) -> set[Grant]:
    """The (resource, role) pairs a role-assignments listing holds."""
    grants = set()
    for assignment in assignments:
        resource = assignment.get("resourceId")
        roles = assignment.get("roles")
        for role in roles if isinstance(roles, list) else []:
            if resource and role:
                grants.add(Grant(str(resource), str(role)))
    return grants


def plan_access(current: set[Grant], desired: list[Grant], *, state: str, exclusive: bool) -> AccessPlan:
    """What to grant and revoke so that the group holds ``desired`` (present) or none of it (absent)."""
    wanted = set(desired)
    if state == "absent":
        return AccessPlan(grant=(), revoke=tuple(sorted(wanted & current)))
    return AccessPlan(grant=tuple(sorted(wanted - current)),
                      revoke=tuple(sorted(current - wanted)) if exclusive else ())


def pending_after(plan: AccessPlan, current: set[Grant]) -> list[dict[str, str]]:
    """The planned changes a read does not show yet."""
    pending = [{**grant.as_dict(), "change": "grant"} for grant in plan.grant if grant not in current]
    pending += [{**grant.as_dict(), "change": "revoke"} for grant in plan.revoke if grant in current]
    return pending


def as_list(grants: t.Iterable[Grant]) -> list[dict[str, str]]:
    return [grant.as_dict() for grant in sorted(grants)]


class GroupAccess:
    """Brings one group's role assignments to a desired state."""

    def __init__(self, client: OrgClient, *, clock: t.Callable[[], float] = time.monotonic,
                 sleep: t.Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self._clock = clock
        self._sleep = sleep
        self._workspaces: list[dict[str, t.Any]] | None = None

    def workspaces(self) -> list[dict[str, t.Any]]:
        if self._workspaces is None:
            self._workspaces = self.client.workspaces()
        return self._workspaces

    def reconcile(self, params: dict[str, t.Any], *, check_mode: bool, diff: bool) -> dict[str, t.Any]:
        items = params.get("access") or []
        state, exclusive = params.get("state") or "present", bool(params.get("exclusive"))
        validate_access(items, state=state, exclusive=exclusive, wait_timeout=float(params.get("wait_timeout") or 0))
        group = resolve_group(self.client, name=params.get("group"), group_id=params.get("group_id"))
        directory_id, group_id = str(group.get("directoryId") or ALL_DIRECTORIES), str(group.get("id"))
        desired = resolve_resources(items, self.workspaces)
        current = current_grants(self.client.role_assignments(directory_id, group_id))
        plan = plan_access(current, desired, state=state, exclusive=exclusive)
        predicted = (current | set(plan.grant)) - set(plan.revoke)
        result: dict[str, t.Any] = {
            "changed": bool(plan),
            "group": {"id": group_id, "name": group.get("name"), "directory_id": group.get("directoryId")},
            "granted": as_list(plan.grant),
            "revoked": as_list(plan.revoke),
            "assignments": as_list(predicted),
            "pending": [],
        }
        if diff:
            result["diff"] = {"before": {"access": as_list(current)}, "after": {"access": as_list(predicted)}}
        if check_mode or not plan:
            return result
        self._apply(plan, directory_id, group_id)
        seen = self._wait(plan, directory_id, group_id, float(params.get("wait_timeout") or 0))
        result["pending"] = pending_after(plan, seen)
        if result["pending"]:
            result["assignments"] = as_list(seen)
            result["warnings"] = [
                f"{len(result['pending'])} change(s) were accepted but not yet visible after wait_timeout="
                f"{params.get('wait_timeout')} s (Atlassian documents up to 30 s); see pending. A later run shows "
                "whether they took effect."
            ]
        return result

    def _apply(self, plan: AccessPlan, directory_id: str, group_id: str) -> None:
        done = 0
        try:
            for grant in plan.grant:
                self._grant(grant, directory_id, group_id)
                done += 1
            for grant in plan.revoke:
                self._revoke(grant, directory_id, group_id)
                done += 1
        except ScimKitError as exc:
            exc.details.setdefault("changed", done > 0)
            raise

    def _shows(self, grant: Grant, directory_id: str, group_id: str) -> bool:
        return grant in current_grants(self.client.role_assignments(directory_id, group_id))

    def _grant(self, grant: Grant, directory_id: str, group_id: str) -> None:
        try:
            write_verified(lambda: self.client.assign_role(directory_id, group_id, grant.resource, grant.role),
                           applied=lambda: self._shows(grant, directory_id, group_id))
        except OrgApiError as exc:
            if exc.status == 409:
                # ADMIN-409-3 (and ADMIN-UAM-409-3) is the licence limit; another 409 is named as the API says.
                seats = not exc.code or exc.code.endswith("409-3")
                reason = ("the product has no seats (licences) left. Free or buy seats for it, then run the task again"
                          if seats else "a conflict")
                raise OrgApiError(
                    f"Granting {grant.role} on {self._describe(grant.resource)} was refused with HTTP 409: {reason}. ({exc})",
                    status=409, method=exc.method, path=exc.path, code=exc.code, title=exc.title, detail=exc.detail,
                ) from None
            raise

    def _revoke(self, grant: Grant, directory_id: str, group_id: str) -> None:
        try:
            write_verified(lambda: self.client.revoke_role(directory_id, group_id, grant.resource, grant.role),
                           applied=lambda: not self._shows(grant, directory_id, group_id))
        except OrgApiError as exc:
            if exc.status != 404:  # revoking an assignment that is gone already (reference section 1)
                raise

    def _describe(self, ari: str) -> str:
        """A workspace as a person knows it: ``product jira-software (workspace Acme, ari:...)``."""
        try:
            views = [workspace_view(workspace) for workspace in self.workspaces()]
        except ScimKitError:
            views = []
        for view in views:
            if view["ari"] == ari:
                return f"product {view['product_key']} (workspace {view['name']}, {ari})"
        product = ari.split(":")[2] if ari.count(":") >= 3 else "unknown"  # ari:cloud:<product>::site/<id>
        return f"product {product} ({ari})"

    def _wait(self, plan: AccessPlan, directory_id: str, group_id: str, timeout: float) -> set[Grant]:
        """Read until every planned change shows, or ``timeout`` seconds pass; return the last read."""
        deadline = self._clock() + max(timeout, 0.0)
        interval = FIRST_POLL
        while True:
            seen = current_grants(self.client.role_assignments(directory_id, group_id))
            remaining = deadline - self._clock()
            if not pending_after(plan, seen) or remaining <= 0:
                return seen
            self._sleep(min(interval, remaining))
            interval = min(interval * 2, MAX_POLL)


__all__ = [
    "AccessPlan",
    "Grant",
    "GroupAccess",
    "current_grants",
    "pending_after",
    "plan_access",
    "resolve_group",
    "resolve_resources",
    "validate_access",
]
