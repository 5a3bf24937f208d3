# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Bring one SCIM group to its desired state: find it, resolve member names, plan, then write.

Every member name is resolved before the first write, so a name that matches no user fails
the task with nothing changed. Check mode and a real run share every step up to the write,
so they cannot disagree about ``changed`` or the diff.
"""

from __future__ import annotations

import typing as t

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import (
    ApiError,
    ConfigError,
    ScimKitError,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._groups import (
    DIRECT_LOOKUPS,
    EACH,
    LISTING,
    GroupSpec,
    MembershipPlan,
    create_payload,
    external_id_operations,
    group_view,
    lookup_plan,
    member_ids,
    patch_requests,
    pick_group,
    plan_membership,
    predict_group,
    split_known,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._outcome import Outcome
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import GROUPS, USERS, filter_eq

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ScimClient


class UserDirectory:
    """User names and SCIM ids of the directory, looked up as cheaply as the numbers allow.

    Every answer is remembered, so the names the diff shows cost nothing for users already
    resolved. A handful of unknowns is looked up one request each; for more, the directory's
    size decides between one request per item and one paged listing (see lookup_plan).
    """

    def __init__(self, client: ScimClient) -> None:
        self._client = client
        self._names: dict[str, str] = {}  # id -> userName
        self._ids: dict[str, list[str]] = {}  # casefolded userName -> ids
        self._listed = False
        self._absent: set[str] = set()  # ids a GET answered 404 (or 400) for

    def _remember(self, user: dict[str, t.Any]) -> None:
        user_id, user_name = user.get("id"), user.get("userName")
        if not user_id:
            return
        user_id = str(user_id)
        if user_name is not None and user_id not in self._names:
            self._names[user_id] = str(user_name)
            self._ids.setdefault(str(user_name).casefold(), []).append(user_id)

    def _strategy(self, unknown: int) -> str:
        if unknown <= DIRECT_LOOKUPS:
            return EACH
        total = self._client.total_results(USERS)
        return lookup_plan(unknown, total, page_size=self._client.page_size)

    def _list_everyone(self) -> None:
        for user in self._client.iter_resources(USERS, attributes="userName"):
            self._remember(user)
        self._listed = True

    def _get(self, user_id: str) -> None:
        """Read one user by id; a 400 counts as absent too, since a user name is not a well-formed id."""
        if user_id in self._names or user_id in self._absent:
            return
        try:
            user = self._client.get(USERS, user_id, attributes="userName")
        except ApiError as exc:
            if exc.status != 400:
                raise
            user = None
        if user is None:
            self._absent.add(user_id)
        else:
            self._remember(user)

    def _by_name(self, value: str) -> str | None:
        ids = self._ids.get(value.casefold(), [])
        if len(ids) > 1:
            raise ScimKitError(f"{len(ids)} users have userName {value!r} (ids {', '.join(ids)}); "
                               "give the SCIM id of the one meant in members.")
        return ids[0] if ids else None

    def _id_for(self, value: str) -> str | None:
        found = self._by_name(value)
        if found is None and value in self._names:
            found = value
        return found

    def resolve(self, values: t.Sequence[str], current_ids: t.Sequence[str], *,
                warn: t.Callable[[str], None] | None = None) -> dict[str, str]:
        """Each value (a userName, compared case-insensitively, or a SCIM user id) mapped to its user id.

        A value that is the id of a current member needs no request. Fails naming every value
        that matches no user, unless ``warn`` is given (check mode): each such value then maps to
        itself, a would-be addition, and ``warn`` is told why.
        """
        resolved, unknown = split_known(values, current_ids)
        pending = [value for value in unknown if self._id_for(value) is None]
        if pending and not self._listed:
            if self._strategy(len(pending)) == LISTING:
                self._list_everyone()
            else:
                for value in pending:
                    found = self._client.find_one(USERS, "userName", value, case_insensitive=True,
                                                  attributes="userName")
                    if found is not None:
                        self._remember(found)
        # Not a user name: it may be an id, including one of a user the lists hide (Atlassian
        # leaves deactivated users out of lists and filters, but GET /Users/{id} finds them).
        for value in unknown:
            if self._id_for(value) is None:
                self._get(value)
        missing = []
        for value in unknown:
            found = self._id_for(value)
            if found is None:
                missing.append(value)
            else:
                resolved[value] = found
        if missing and warn is not None:
            listed = ", ".join(repr(value) for value in missing)
            warn(f"members: {listed} {'matches' if len(missing) == 1 else 'match'} no user of the directory yet. "
                 "Check mode shows them as additions, since an earlier task of the play may create these users; "
                 "a real run fails if they still match no user.")
            resolved.update({value: value for value in missing})
        elif missing:
            listed = ", ".join(repr(value) for value in missing)
            raise ScimKitError(
                f"members: {listed} {'matches' if len(missing) == 1 else 'match'} no user of the directory. "
                "Give each member as a userName or a SCIM user id; a deactivated user may be hidden from "
                "lookups by name, so give its SCIM id."
            )
        return resolved

    def names(self, ids: t.Iterable[str]) -> dict[str, str]:
        """The userName of each id that has one; ids of users that cannot be read are left out."""
        wanted = list(dict.fromkeys(ids))
        pending = [user_id for user_id in wanted if user_id not in self._names and user_id not in self._absent]
        if pending and not self._listed and self._strategy(len(pending)) == LISTING:
            self._list_everyone()
        for user_id in pending:
            self._get(user_id)
        return {user_id: self._names[user_id] for user_id in wanted if user_id in self._names}


def _with_members(client: ScimClient, group: dict[str, t.Any] | None) -> dict[str, t.Any] | None:
    """The group with its members: a list answer without ``members`` may have left them out.

    RFC 7643 returns members by default, but Atlassian does not document its list answers, and
    an absent ``members`` also means "no members"; one GET by id tells which, and is sent only then.
    """
    if group is None or "members" in group or not group.get("id"):
        return group
    return client.get(GROUPS, group["id"]) or group


def find_by_name(client: ScimClient, display_name: str, *, with_members: bool) -> dict[str, t.Any] | None:
    found = pick_group(client.iter_resources(GROUPS, filter=filter_eq("displayName", display_name)), display_name)
    return _with_members(client, found) if with_members else found


def find_group(client: ScimClient, spec: GroupSpec, *, with_members: bool) -> dict[str, t.Any] | None:
    """The group a spec names: by id when given (its display_name must then agree), else by display_name."""
    if not spec.id:
        return find_by_name(client, spec.display_name or "", with_members=with_members)
    group = client.get(GROUPS, spec.id)
    held = (group or {}).get("displayName")
    if group is not None and spec.display_name and isinstance(held, str) and held.casefold() != spec.display_name.casefold():
        raise ConfigError(
            f"The group with id {spec.id!r} is named {held!r}, not {spec.display_name!r}. Atlassian cannot rename "
            "a group: create the new group, move the members, then delete the old one."
        )
    return group


class _Views:
    """Diff views, computed only in diff mode; member names only when the task manages or removes members."""

    def __init__(self, directory: UserDirectory, *, enabled: bool, with_members: bool) -> None:
        self._directory = directory
        self._enabled = enabled
        self._with_members = with_members

    def __call__(self, *groups: dict[str, t.Any] | None) -> list[dict[str, t.Any]]:
        if not self._enabled:
            return [{} for _group in groups]
        names = None
        if self._with_members:
            names = self._directory.names(member for group in groups for member in member_ids(group))
        return [group_view(group, names=names) for group in groups]


def _write(client: ScimClient, group: dict[str, t.Any], operations: list[dict[str, t.Any]],
           plan: MembershipPlan, predicted: dict[str, t.Any]) -> dict[str, t.Any]:
    """Send the PATCH requests; the last answer is the group as it now stands."""
    answer = None
    requests = patch_requests(operations, plan)
    for body in requests:
        answer = client.patch(GROUPS, group["id"], body)
    if not requests:
        return group
    # RFC 7644 allows 204 without a body; read the group back only then.
    return answer or client.get(GROUPS, group["id"]) or predicted


def _create(client: ScimClient, spec: GroupSpec, payload: dict[str, t.Any]) -> dict[str, t.Any]:
    """POST the group; a 409 or lost answer adopts the group found under the name (with its members)."""
    name = spec.display_name or ""
    return client.create(
        GROUPS, payload, find_existing=lambda: find_by_name(client, name, with_members=True), describe=f"group {name!r}",
        conflict_hint="Look the group up in Atlassian Administration; if it exists, give its id with the id option.",
    )


def reconcile_group(client: ScimClient, spec: GroupSpec, *, check_mode: bool, diff: bool,
                    warn: t.Callable[[str], None] | None = None) -> Outcome:
    """Make one group match ``spec``; in check mode, predict the outcome without a write.

    In check mode a member name that matches no user is a would-be addition that ``warn`` reports:
    an earlier task of the play, itself in check mode, may be the one that creates the user.
    """
    directory = UserDirectory(client)
    manages_members = spec.members is not None
    # Members are read when compared, or shown (in diff mode, those a delete takes access from).
    current = find_group(client, spec, with_members=manages_members or (diff and spec.state == "absent"))

    if spec.state == "absent":
        if current is None:
            return Outcome("unchanged", None)
        [before] = _Views(directory, enabled=diff, with_members=True)(current)
        if not check_mode:
            # A 404 here (perhaps to the retry of our own DELETE whose answer was lost) is the state wanted.
            client.delete(GROUPS, current["id"])
        return Outcome("deleted", None, before=before, after={})

    if current is None and spec.id:
        raise ConfigError(f"No group has id {spec.id!r}; SCIM cannot create a group with a chosen id.")
    views = _Views(directory, enabled=diff, with_members=manages_members)
    desired = None
    if spec.members is not None:
        resolved = directory.resolve(spec.members, member_ids(current), warn=warn if check_mode else None)
        desired = list(dict.fromkeys(resolved[value] for value in spec.members))

    if current is None:
        payload = create_payload(spec)
        plan = plan_membership([], desired, purge=spec.purge_members)
        predicted = predict_group(payload, [], plan)
        _before, after = views({}, predicted)
        if check_mode:
            return Outcome("created", predicted, after=after)
        created = _create(client, spec, payload)
        # A create resolved to an existing group may hold other members or another externalId.
        operations = external_id_operations(spec, created)
        plan = plan_membership(member_ids(created), desired, purge=spec.purge_members)
        group = _write(client, created, operations, plan, predict_group(created, operations, plan))
        return Outcome("created", group, after=after)

    operations = external_id_operations(spec, current)
    plan = plan_membership(member_ids(current), desired, purge=spec.purge_members)
    if not operations and not plan:
        [before] = views(current)
        return Outcome("unchanged", current, before=before, after=before)
    predicted = predict_group(current, operations, plan)
    before, after = views(current, predicted)
    if check_mode:
        return Outcome("updated", predicted, before=before, after=after)
    group = _write(client, current, operations, plan, predicted)
    return Outcome("updated", group, before=before, after=after)


def read_groups(client: ScimClient, *, group_id: str | None = None, display_name: str | None = None,
                filter: str | None = None, attributes: str | None = None,
                excluded_attributes: str | None = None) -> list[dict[str, t.Any]]:
    """Groups for scim_group_info: one by id, those named display_name, those a raw filter finds, or all."""
    shape = {"attributes": attributes, "excluded_attributes": excluded_attributes}
    if group_id:
        group = client.get(GROUPS, group_id, **shape)
        return [group] if group else []
    if display_name:
        if attributes:
            shape["attributes"] = f"{attributes},displayName"  # needed to check the match
        candidates = client.list(GROUPS, filter=filter_eq("displayName", display_name), **shape)
        return [group for group in candidates
                if str(group.get("displayName", "")).casefold() == display_name.casefold()]
    return client.list(GROUPS, filter=filter, **shape)


__all__ = ["UserDirectory", "find_by_name", "find_group", "read_groups", "reconcile_group"]
