# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Many groups in one pass: list the groups once, plan every group, then send only the writes.

The whole plan exists before the first write: every item is validated, every group found,
the members of the groups whose membership the task manages read (concurrently), and every
member name resolved with one listing of the users. Any invalid or repeated item, any name
that matches no user (in a real run), and a purge larger than ``max_purge`` therefore fail
the task with nothing written. The writes then run in a thread pool over one HTTP session
and one token, membership changes batched as _groups.patch_requests does for scim_group.
"""

from __future__ import annotations

import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._group_reconcile import find_by_name
from ansible_collections.scimkit.atlassian.plugins.module_utils._groups import (
    GroupSpec,
    MembershipPlan,
    create_payload,
    external_id_operations,
    group_spec,
    group_view,
    member_ids,
    patch_requests,
    pick_group,
    plan_membership,
    predict_group,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import GROUPS, USERS

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ScimClient

ACTIONS = ("created", "updated", "deleted", "unchanged")
# How many invalid items, or groups a refused purge would delete, a message names before counting the rest.
MAX_NAMED = 20

GROUP_ITEM_SPEC: dict[str, dict[str, t.Any]] = {
    "display_name": {"type": "str", "required": True},
    "external_id": {"type": "str"},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "members": {"type": "list", "elements": "str"},
    "purge_members": {"type": "bool", "default": False},
}


def _named(entries: t.Sequence[str], limit: int = MAX_NAMED) -> str:
    """The first ``limit`` entries, and how many more there are."""
    shown = ", ".join(entries[:limit])
    more = len(entries) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _item_label(number: int, item: t.Any) -> str:
    """How messages name an item: 1-based, with its display name when it has one."""
    name = item.get("display_name") if isinstance(item, dict) else None
    return f"item {number} ({name})" if name else f"item {number}"


@dataclass(frozen=True)
class GroupItem:
    """One valid item of ``groups``: its 1-based number and its spec."""

    number: int
    spec: GroupSpec

    @property
    def name(self) -> str:
        return self.spec.display_name or ""


def parse_group_items(items: t.Sequence[t.Any]) -> list[GroupItem]:
    """Every item as a GroupItem; any invalid or repeated item fails, naming each, before any request."""
    parsed: list[GroupItem] = []
    errors: list[str] = []
    claimed: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        label = _item_label(number, item)
        if not isinstance(item, dict):
            errors.append(f"{label} is a {type(item).__name__}, not a mapping of group options")
            continue
        if not item.get("display_name"):
            errors.append(f"{label} has no display_name; scim_groups finds and creates groups by name")
            continue
        try:
            spec = group_spec({key: value for key, value in item.items() if key != "id"})
        except ConfigError as exc:
            errors.append(f"{label}: {exc}")
            continue
        key = (spec.display_name or "").casefold()
        if key in claimed:
            errors.append(f"{label} names the same group as item {claimed[key]}; list each group once "
                          "(display names are compared case-insensitively)")
            continue
        claimed[key] = number
        parsed.append(GroupItem(number, spec))
    if errors:
        raise ConfigError(f"groups has {len(errors)} invalid item(s), so nothing was changed: {_named(errors)}.")
    return parsed


class UserIndex:
    """The user names and ids of one listing of the directory, read at most once per task."""

    def __init__(self, client: ScimClient, concurrency: int) -> None:
        self._client = client
        self._concurrency = concurrency
        self._names: dict[str, str] = {}  # id -> userName
        self._ids: dict[str, list[str]] = {}  # casefolded userName -> ids
        self._listed = False
        self._absent: set[str] = set()

    def _remember(self, user: dict[str, t.Any]) -> None:
        user_id, user_name = user.get("id"), user.get("userName")
        if user_id and user_name is not None and str(user_id) not in self._names:
            self._names[str(user_id)] = str(user_name)
            self._ids.setdefault(str(user_name).casefold(), []).append(str(user_id))

    def ensure_listed(self) -> None:
        if not self._listed:
            for user in self._client.list_all(USERS, concurrency=self._concurrency, attributes="userName"):
                self._remember(user)
            self._listed = True

    def find(self, value: str) -> str | None:
        """The id a member value names (a userName, case-insensitive, or an id), None when the listing has none."""
        ids = self._ids.get(value.casefold(), [])
        if len(ids) > 1:
            raise ScimKitError(f"{len(ids)} users have userName {value!r} (ids {', '.join(ids)}); "
                               "give the SCIM id of the one meant in members")
        if ids:
            return ids[0]
        return value if value in self._names else None

    def read_hidden(self, value: str) -> str | None:
        """A value the listing does not hold may be the id of a user lists hide (Atlassian: deactivated ones).

        A value with an ``@`` is a user name, not an id: it is not read, so a check-mode run that
        adds hundreds of people an earlier task would create costs no request per person.
        """
        if "@" in value or value in self._absent:
            return None
        try:
            user = self._client.get(USERS, value, attributes="userName")
        except ScimKitError:
            self._absent.add(value)
            return None  # a user name is not a well-formed id: the server may answer 400
        if user is None:
            self._absent.add(value)
            return None
        self._remember(user)
        return str(user.get("id") or value)

    def names(self) -> dict[str, str]:
        return dict(self._names)


@dataclass
class Plan:
    """What one group needs: its item, the group found, the writes, the prediction."""

    item: GroupItem | None  # None for a group only the purge touches
    name: str
    current: dict[str, t.Any] | None
    action: str
    desired: list[str] | None = None  # member ids the task wants (None: membership not managed)
    operations: list[dict[str, t.Any]] = field(default_factory=list)
    membership: MembershipPlan = field(default_factory=MembershipPlan)
    predicted: dict[str, t.Any] | None = None

    @property
    def number(self) -> int:
        return self.item.number if self.item else 0


@dataclass
class Failure:
    item: int
    group: str
    error: str

    def as_dict(self) -> dict[str, t.Any]:
        return {"item": self.item, "group": self.group, "error": self.error}


@dataclass
class GroupsResult:
    outcomes: dict[str, list[str]] = field(default_factory=lambda: {action: [] for action in ACTIONS})
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    before: dict[str, t.Any] = field(default_factory=dict)
    after: dict[str, t.Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.outcomes[action] for action in ACTIONS if action != "unchanged")

    def summary(self) -> str:
        done = ", ".join(f"{len(self.outcomes[action])} {action}" for action in ACTIONS)
        failed = "; ".join(f"item {f.item} ({f.group}): {f.error}" if f.item else f"{f.group}: {f.error}"
                           for f in self.failures)
        return f"{len(self.failures)} of the groups failed ({failed}). The rest was done: {done}."

    def module_result(self, *, diff: bool) -> dict[str, t.Any]:
        output: dict[str, t.Any] = {"changed": self.changed, **self.outcomes,
                                    "failures": [failure.as_dict() for failure in self.failures]}
        if diff:
            output["diff"] = {"before": dict(sorted(self.before.items())), "after": dict(sorted(self.after.items()))}
        return output


def _index_groups(groups: t.Iterable[dict[str, t.Any]]) -> dict[str, list[dict[str, t.Any]]]:
    index: dict[str, list[dict[str, t.Any]]] = {}
    for group in groups:
        if isinstance(group.get("displayName"), str) and group.get("id"):
            index.setdefault(group["displayName"].casefold(), []).append(group)
    return index


def _read_members(client: ScimClient, plans: list[Plan], concurrency: int) -> None:
    """Each planned group whose membership is managed, read by id (the listing left members out)."""
    wanted = [plan for plan in plans if plan.current is not None and plan.desired is not None]
    if not wanted:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(wanted)))) as pool:
        answers = list(pool.map(lambda plan: client.get(GROUPS, plan.current["id"]), wanted))
    for plan, group in zip(wanted, answers):
        if group is not None:
            plan.current = group


def _resolve(plans: list[Plan], users: UserIndex, *, check_mode: bool, warnings: list[str]) -> list[str]:
    """Member values turned into ids in every plan; returns the errors (real run) for names nobody has."""
    errors: list[str] = []
    managed = [plan for plan in plans if plan.item and plan.desired is not None]
    pending = [(plan, value) for plan in managed for value in plan.item.spec.members or ()
               if value not in set(member_ids(plan.current))]
    if pending:
        users.ensure_listed()
    unknown: dict[int, list[str]] = {}
    for plan in managed:
        spec = plan.item.spec
        current = set(member_ids(plan.current))
        desired: list[str] = []
        for value in spec.members:
            try:
                found = value if value in current else users.find(value) or users.read_hidden(value)
            except ScimKitError as exc:
                errors.append(f"item {plan.number} ({plan.name}): {exc}")
                continue
            if found is None:
                unknown.setdefault(plan.number, []).append(value)
                found = value  # check mode: shown as the addition a real run would make once the user exists
            desired.append(found)
        plan.desired = list(dict.fromkeys(desired))
    if unknown:
        values = list(dict.fromkeys(value for number in sorted(unknown) for value in unknown[number]))
        names = _named([repr(value) for value in values])
        items = _named([f"{number} ({next(p.name for p in managed if p.number == number)})" for number in sorted(unknown)])
        count = f"{len(values)} member name{'s' if len(values) > 1 else ''} of item{'s' if len(unknown) > 1 else ''}"
        verb = "match" if len(values) > 1 else "matches"
        if check_mode:
            warnings.append(
                f"members: {count} {items} {verb} no user of the directory yet: {names}. Check mode shows "
                "them as additions, since an earlier task of the play may create these users; a real run fails if "
                "they still match no user."
            )
        else:
            errors.append(f"members: {count} {items} {verb} no user of the directory: {names}. Give each "
                          "member as a userName or a SCIM user id; a deactivated user may be hidden from lookups by "
                          "name, so give its SCIM id")
    return errors


def _plan(plan: Plan) -> None:
    """Decide the action, the writes and the prediction of one planned group."""
    spec = plan.item.spec if plan.item else GroupSpec(state="absent", display_name=plan.name)
    if spec.state == "absent":
        plan.action = "deleted" if plan.current is not None else "unchanged"
        return
    if plan.current is None:
        payload = create_payload(spec)
        plan.membership = plan_membership([], plan.desired, purge=spec.purge_members)
        plan.predicted = predict_group(payload, [], plan.membership)
        plan.action = "created"
        return
    plan.operations = external_id_operations(spec, plan.current)
    plan.membership = plan_membership(member_ids(plan.current), plan.desired, purge=spec.purge_members)
    plan.predicted = predict_group(plan.current, plan.operations, plan.membership)
    plan.action = "updated" if plan.operations or plan.membership else "unchanged"


def _views(plan: Plan, names: dict[str, str] | None) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    shown = names if plan.desired is not None else None
    before = group_view(plan.current, names=shown)
    after = {} if plan.action == "deleted" else group_view(plan.predicted or plan.current, names=shown)
    return before, after


class _Applied(Exception):
    """A failure after at least one write of the group succeeded: the group did change."""

    def __init__(self, error: ScimKitError) -> None:
        super().__init__(str(error))


def _apply(client: ScimClient, plan: Plan) -> str:
    """Send one group's writes; returns the action done.

    Raises ScimKitError when no write succeeded, _Applied when one did and a later one failed.
    """
    if plan.action == "deleted":
        return "deleted" if client.delete(GROUPS, plan.current["id"]) else "unchanged"  # 404: gone meanwhile
    spec = plan.item.spec if plan.item else None
    group = plan.current
    wrote = False
    try:
        if group is None and spec is not None:
            group = client.create(
                GROUPS, create_payload(spec),
                find_existing=lambda: find_by_name(client, plan.name, with_members=True),
                describe=f"group {plan.name!r}",
                conflict_hint="Look the group up in Atlassian Administration.",
            )
            wrote = True
            # A create that found the group already there (409) may hold other members or externalId.
            plan.operations = external_id_operations(spec, group)
            plan.membership = plan_membership(member_ids(group), plan.desired, purge=spec.purge_members)
        for body in patch_requests(plan.operations, plan.membership):
            client.patch(GROUPS, group["id"], body)
            wrote = True
    except ScimKitError as exc:
        if wrote:
            raise _Applied(exc) from None
        raise
    return plan.action


def apply_plans(client: ScimClient, plans: list[Plan], result: GroupsResult, *, check_mode: bool, concurrency: int,
                diff: bool, names: dict[str, str] | None) -> None:
    """Send the planned writes in a thread pool (none in check mode) and record every outcome or failure."""
    def record(plan: Plan, action: str) -> None:
        result.outcomes[action].append(plan.name)
        if diff and action != "unchanged":
            result.before[plan.name], result.after[plan.name] = _views(plan, names)

    work = []
    for plan in plans:
        if check_mode or plan.action == "unchanged":
            record(plan, plan.action)
        else:
            work.append(plan)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [(plan, pool.submit(_apply, client, plan)) for plan in work]
        for plan, future in futures:
            try:
                action = future.result()
            except _Applied as exc:
                record(plan, plan.action)  # it did change, even though it did not finish
                result.failures.append(Failure(plan.number, plan.name, str(exc)))
            except ScimKitError as exc:
                result.failures.append(Failure(plan.number, plan.name, str(exc)))
            except Exception as exc:  # a bug of ours must not lose the report of the other groups
                result.failures.append(Failure(plan.number, plan.name,
                                               f"unexpected error ({type(exc).__name__}): {exc}. Please report this."))
            else:
                record(plan, action)
    result.failures.sort(key=lambda failure: failure.item)


def reconcile_groups(client: ScimClient, items: t.Sequence[t.Any], *, check_mode: bool, concurrency: int = 4,
                     purge: bool = False, max_purge: int = 10, diff: bool = False) -> GroupsResult:
    """Bring the directory's groups to ``items`` (and, with ``purge``, delete the groups they do not name)."""
    parsed = parse_group_items(items)
    result = GroupsResult()
    listing = client.list_all(GROUPS, concurrency=concurrency, excluded_attributes="members")
    index = _index_groups(listing)

    plans: list[Plan] = []
    errors: list[str] = []
    for item in parsed:
        try:
            current = pick_group(index.get(item.name.casefold(), []), item.name)
        except ScimKitError as exc:
            errors.append(f"item {item.number} ({item.name}): {exc}")
            continue
        managed = item.spec.state == "present" and item.spec.members is not None
        plans.append(Plan(item, item.name, current, "unchanged", desired=[] if managed else None))
    if errors:
        raise ScimKitError(f"Nothing was changed: {_named(errors)}.")

    if purge:
        named = {item.name.casefold() for item in parsed}
        doomed = sorted((group for key, groups in index.items() if key not in named for group in groups),
                        key=lambda group: str(group["displayName"]).casefold())
        if len(doomed) > max_purge:
            names = [repr(group["displayName"]) for group in doomed]
            raise ScimKitError(
                f"purge would delete {len(doomed)} groups, more than max_purge ({max_purge}); nothing was changed. "
                f"They are: {_named(names)}. Check that groups lists every group that should stay, or raise max_purge."
            )
        plans += [Plan(None, str(group["displayName"]), group, "deleted") for group in doomed]

    _read_members(client, plans, concurrency)
    users = UserIndex(client, concurrency)
    errors = _resolve(plans, users, check_mode=check_mode, warnings=result.warnings)
    if errors:
        raise ScimKitError(f"Nothing was changed: {_named(errors)}.")
    for plan in plans:
        _plan(plan)

    names = None
    if diff:
        if any(plan.action != "unchanged" and plan.desired is not None for plan in plans):
            users.ensure_listed()
        names = users.names()
    apply_plans(client, plans, result, check_mode=check_mode, concurrency=concurrency, diff=diff, names=names)
    return result


# The groups of a scim_users task: their members are the task's own users, already resolved.

USER_GROUP_SPEC: dict[str, dict[str, t.Any]] = {
    "display_name": {"type": "str", "required": True},
    "external_id": {"type": "str"},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "purge_members": {"type": "bool"},
}


@dataclass(frozen=True)
class Member:
    """A user that an item of scim_users puts in a group; ``user_id`` is None for a user still to be created."""

    number: int  # the users item, from 1
    name: str
    user_id: str | None


class UserGroups:
    """The groups one scim_users task manages: those its items name in ``groups``, and its ``groups`` option.

    A group's wanted members are the task's users that name it, so no member name is looked up:
    each is an item that the identity rules resolved to exactly one user (or that the task
    creates). Built from the items before any request (invalid input fails here), planned
    after the users are (``plan``), completed with the ids of the users created (``complete``),
    then written (``apply``).
    """

    def __init__(self, declared: t.Sequence[dict[str, t.Any]], named: dict[int, t.Sequence[str]], *,
                 labels: dict[int, str], purge_members: bool) -> None:
        errors: list[str] = []
        self._specs: dict[str, GroupItem] = {}  # casefolded display name -> the group, in the order given
        for number, item in enumerate(declared, start=1):
            name = str(item.get("display_name") or "").strip()
            if not name:
                errors.append(f"groups item {number} has no display_name")
                continue
            if name.casefold() in self._specs:
                errors.append(f"groups item {number} ({name}) names the same group as groups item "
                              f"{self._specs[name.casefold()].number}; list each group once")
                continue
            purge = item.get("purge_members")
            self._specs[name.casefold()] = GroupItem(number, GroupSpec(
                state=item.get("state") or "present", display_name=name, external_id=item.get("external_id"),
                purge_members=purge_members if purge is None else bool(purge)))
        self._members: dict[str, list[int]] = {}  # casefolded display name -> users items that name the group
        for number, names in named.items():
            for value in names:
                name = str(value or "").strip()
                declared_as = self._specs.get(name.casefold())
                if not name:
                    errors.append(f"users item {number} ({labels[number]}) has an empty group name in groups")
                elif declared_as is not None and declared_as.spec.state == "absent":
                    errors.append(f"users item {number} ({labels[number]}) puts the user in {name!r}, which groups "
                                  f"item {declared_as.number} marks absent")
                else:
                    self._specs.setdefault(name.casefold(), GroupItem(0, GroupSpec(
                        display_name=name, purge_members=purge_members)))
                    members = self._members.setdefault(name.casefold(), [])
                    if number not in members:
                        members.append(number)
        if errors:
            raise ConfigError(f"groups cannot be planned, so nothing was changed: {_named(errors)}.")
        self._plans: list[Plan] = []
        self._members_of: dict[str, list[Member]] = {}

    def plan(self, client: ScimClient, members: t.Iterable[Member], *, check_mode: bool, concurrency: int) -> None:
        """List the groups once, find each, read the members of those whose membership is managed; plan them.

        Raises ScimKitError, with nothing written, when a name matches several groups.
        """
        by_number = {member.number: member for member in members}
        index = _index_groups(client.list_all(GROUPS, concurrency=concurrency, excluded_attributes="members"))
        errors: list[str] = []
        for key, item in self._specs.items():
            try:
                current = pick_group(index.get(key, []), item.name)
            except ScimKitError as exc:
                errors.append(f"group {item.name!r}: {exc}")
                continue
            # A user item that could not be planned has already failed the task; all others are here.
            self._members_of[key] = [by_number[number] for number in self._members.get(key, []) if number in by_number]
            managed = item.spec.state == "present" and (bool(self._members_of[key]) or item.spec.purge_members)
            self._plans.append(Plan(item, item.name, current, "unchanged", desired=[] if managed else None))
        if errors:
            raise ScimKitError(f"Nothing was changed: {_named(errors)}.", changed=False)
        _read_members(client, self._plans, concurrency)
        # In check mode a user still to be created shows as a member by name: the addition a real run makes.
        self.complete({} if not check_mode else None)

    def complete(self, created: dict[int, str] | None) -> None:
        """Each plan's wanted members: the found users, and the users created (by item number).

        ``created`` None stands each user still to be created in by its name (check mode's prediction).
        """
        for plan in self._plans:
            if plan.desired is not None:
                wanted = [member.user_id or (member.name if created is None else created.get(member.number))
                          for member in self._members_of[plan.name.casefold()]]
                plan.desired = [user_id for user_id in dict.fromkeys(wanted) if user_id]
            _plan(plan)

    def apply(self, client: ScimClient, *, check_mode: bool, concurrency: int, diff: bool,
              names: dict[str, str]) -> GroupsResult:
        result = GroupsResult()
        apply_plans(client, self._plans, result, check_mode=check_mode, concurrency=concurrency, diff=diff,
                    names=names)
        return result


__all__ = ["ACTIONS", "GROUP_ITEM_SPEC", "USER_GROUP_SPEC", "GroupsResult", "Member", "UserGroups",
           "parse_group_items", "reconcile_groups"]
