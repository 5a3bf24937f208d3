# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Many users in one pass: list the directory once, plan every user, then send only the writes.

The whole plan is made and checked before the first write (docs/identity.md):

1. every item is validated, with the same semantic checks scim_user makes;
2. every item is resolved to its one directory user by every key it gives (_identity);
3. each directory user may be claimed by one item only;
4. any invalid, conflicting or duplicate item fails the task here, naming every such item;
5. only then is a purge planned, and it never touches a user any item resolves to.

Check mode stops right after planning. Writes run in a thread pool over one HTTP session
and one token; a rate limit seen by any worker pauses them all (see _http.BackoffGate).
"""

from __future__ import annotations

import json
import os
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._group_bulk import ACTIONS as GROUP_ACTIONS
from ansible_collections.scimkit.atlassian.plugins.module_utils._group_bulk import GroupsResult, Member, UserGroups
from ansible_collections.scimkit.atlassian.plugins.module_utils._identity import DirectoryIndex, LinkedUsers, resolve_user
from ansible_collections.scimkit.atlassian.plugins.module_utils._outcome import Outcome
from ansible_collections.scimkit.atlassian.plugins.module_utils._reconcile import check_attributes, reconcile_user
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import USERS
from ansible_collections.scimkit.atlassian.plugins.module_utils._users import USER_ARGUMENT_SPEC, UserSpec, user_spec

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ScimClient

ACTIONS = ("created", "updated", "deactivated", "deleted", "unchanged")
PURGE_ACTIONS = ("deactivate", "delete")
# The purge guard names this many of the users it would touch, and counts the rest.
MAX_NAMED_PURGE = 20
# Failure.item of a user that the purge touched (items count from 1).
PURGED_ITEM = 0
# One item of scim_users: scim_user's options, and the groups the user belongs to.
USERS_ITEM_SPEC: dict[str, dict[str, t.Any]] = {**USER_ARGUMENT_SPEC, "groups": {"type": "list", "elements": "str"}}


@dataclass
class Failure:
    """One item that could not be planned or brought to its state; ``item`` counts from 1 (0: the purge)."""

    item: int
    user: str
    error: str

    def as_dict(self) -> dict[str, t.Any]:
        return {"item": self.item, "user": self.user, "error": self.error}

    def describe(self) -> str:
        where = "the purge" if self.item == PURGED_ITEM else f"item {self.item}"
        return f"{where} ({self.user}): {self.error}"


@dataclass
class BulkResult:
    outcomes: dict[str, list[str]] = field(default_factory=lambda: {action: [] for action in ACTIONS})
    failures: list[Failure] = field(default_factory=list)
    before: dict[str, t.Any] = field(default_factory=dict)
    after: dict[str, t.Any] = field(default_factory=dict)
    keep_diff: bool = True  # False keeps no per-user views: 10,000 of them cost tens of MB
    groups: GroupsResult | None = None  # the groups the task manages, when it manages any

    @property
    def changed(self) -> bool:
        return (any(self.outcomes[action] for action in ACTIONS if action != "unchanged")
                or bool(self.groups and self.groups.changed))

    def record(self, name: str, outcome: Outcome) -> None:
        self.outcomes[outcome.action].append(name)
        if outcome.changed and self.keep_diff:
            self.before[name] = outcome.before
            self.after[name] = outcome.after

    def summary(self) -> str:
        done = ", ".join(f"{len(self.outcomes[action])} {action}" for action in ACTIONS)
        groups = self.groups
        if groups is not None:
            done += "; groups: " + ", ".join(f"{len(names)} {action}" for action, names in groups.outcomes.items())
        failed = [failure.describe() for failure in self.failures]
        group_failures = [f"group {failure.group!r}: {failure.error}" for failure in (groups.failures if groups else [])]
        if not failed + group_failures:
            return done
        what = "users and groups" if group_failures else "users"
        return (f"{len(failed + group_failures)} of the {what} failed ({'; '.join(failed + group_failures)}). "
                f"The others were done: {done}.")

    def failure_list(self) -> list[dict[str, t.Any]]:
        """The failures for the module's result: users as {item, user, error}, groups as {group, error}."""
        return ([failure.as_dict() for failure in self.failures]
                + [{"group": failure.group, "error": failure.error} for failure in (self.groups.failures if self.groups else [])])

    def module_result(self, *, diff: bool) -> dict[str, t.Any]:
        """scim_users' result: the users by action, the groups by action, the failures, and the diff in diff mode."""
        groups = self.groups.outcomes if self.groups else {action: [] for action in GROUP_ACTIONS}
        output: dict[str, t.Any] = {"changed": self.changed, **self.outcomes, "groups": groups,
                                    "failures": self.failure_list()}
        if diff:
            output["diff"] = diff_view(self)
            if self.groups is not None:  # two diffs, each with its header, as Ansible's callbacks show a list
                output["diff"] = [dict(output["diff"], before_header="users", after_header="users"),
                                  dict(self.groups.module_result(diff=True)["diff"], before_header="groups",
                                       after_header="groups")]
        return output


class PlanError(ScimKitError):
    """Items that cannot be planned: the task fails before its first write, naming each of them."""

    def __init__(self, failures: list[Failure], *, source: str = "users", secrets: t.Iterable[str] = ()) -> None:
        failures = sorted(failures, key=lambda failure: failure.item)
        named = "; ".join(failure.describe() for failure in failures)
        super().__init__(
            f"{source} has {len(failures)} item(s) that cannot be planned, so nothing was changed: {named}",
            changed=False, failures=[failure.as_dict() for failure in failures], secrets=secrets,
        )


@dataclass
class _Planned:
    number: int  # the item's position, from 1; PURGED_ITEM for a user the purge touches
    name: str
    spec: UserSpec
    current: dict[str, t.Any] | None


def _label(item: dict[str, t.Any], number: int) -> str:
    return str(item.get("user_name") or item.get("external_id") or item.get("id") or f"item {number}")


def _name(spec: UserSpec, current: dict[str, t.Any] | None) -> str:
    return spec.user_name or (current or {}).get("userName") or spec.label


def parse_items(items: list[dict[str, t.Any]]) -> tuple[list[tuple[int, UserSpec]], list[Failure]]:
    """Specs of the items, numbered from 1, and a Failure for every invalid or repeated item."""
    specs: list[tuple[int, UserSpec]] = []
    failures: list[Failure] = []
    claimed: dict[tuple[str, str], int] = {}
    for number, item in enumerate(items, start=1):
        try:
            spec = user_spec({key: value for key, value in item.items() if key != "groups"})
        except ConfigError as exc:
            failures.append(Failure(number, _label(item, number), str(exc)))
            continue
        keys = [(kind, value) for kind, value in (("id", spec.id), ("externalId", spec.external_id),
                                                  ("userName", (spec.user_name or "").casefold())) if value]
        repeated = next((claimed[key] for key in keys if key in claimed), None)
        for key in keys:
            claimed.setdefault(key, number)
        if repeated is not None:
            failures.append(Failure(number, spec.label, f"the same user as item {repeated}; list each user once"))
            continue
        specs.append((number, spec))
    return specs, failures


def resolve_items(specs: list[tuple[int, UserSpec]],
                  index: DirectoryIndex) -> tuple[list[_Planned], list[Failure]]:
    """Each item with its one directory user (or None: to be created); a Failure per conflict or double claim."""
    planned: list[_Planned] = []
    failures: list[Failure] = []
    claims: dict[str, int] = {}
    for number, spec in specs:
        try:
            current = resolve_user(spec, index)
        except ScimKitError as exc:
            failures.append(Failure(number, spec.label, str(exc)))
            continue
        if current is not None:
            if current["id"] in claims:
                failures.append(Failure(
                    number, spec.label,
                    f"it resolves to the same user as item {claims[current['id']]} (id {current['id']!r}, "
                    f"userName {current.get('userName')!r}); list each user once"))
                continue
            claims[current["id"]] = number
        planned.append(_Planned(number, _name(spec, current), spec, current))
    return planned, failures


def read_users_file(path: str) -> list[dict[str, t.Any]]:
    """The users of a JSON or YAML file, each checked against scim_users' item options.

    The file holds a list of items, or a mapping whose ``users`` key holds one. Items are
    validated as Ansible validates the ``users`` option, and with scim_user's own checks, so
    both ways accept the same input; any bad item fails the task before a request is sent,
    and the message names every bad item. A relative path is taken from the working
    directory of the module (where ansible-playbook was started, on the controller); messages
    show the absolute path tried.
    """
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    path = os.path.abspath(path)
    try:
        with open(path, "rb") as stream:
            text = stream.read().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"users_file {path} cannot be read: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"users_file {path} is not UTF-8 text.") from None
    data = _parse_users_text(path, text)
    if isinstance(data, dict) and set(data) == {"users"}:
        data = data["users"]
    if not isinstance(data, list):
        raise ConfigError(f"users_file {path} must hold a list of users (or a mapping with one key, users, holding it).")

    validator = ArgumentSpecValidator(USERS_ITEM_SPEC)
    items: list[dict[str, t.Any]] = []
    failures: list[Failure] = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            failures.append(Failure(number, f"item {number}",
                                    f"a {type(item).__name__}, not a mapping of user options"))
            continue
        checked = validator.validate(item)
        if checked.error_messages:
            failures.append(Failure(number, _label(item, number), "; ".join(checked.error_messages)))
            continue
        items.append(checked.validated_parameters)
    if failures:
        raise PlanError(failures, source=f"users_file {path}")
    return items


def _parse_users_text(path: str, text: str) -> t.Any:
    if path.endswith(".json") or text.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            if path.endswith(".json"):
                raise ConfigError(f"users_file {path} is not valid JSON: {exc}.") from None
    import yaml  # a dependency of ansible-core, which runs the module on the controller

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ConfigError(f"users_file {path} is neither JSON nor valid YAML: {exc}.") from None


def purge_candidates(index: DirectoryIndex, kept: set[str], action: str) -> list[dict[str, t.Any]]:
    """Users the list does not name that a purge would touch (already inactive ones are left for deactivate)."""
    unnamed = [user for user in index.users() if user["id"] not in kept]
    if action == "deactivate":
        unnamed = [user for user in unnamed if user.get("active", True) is not False]
    return sorted(unnamed, key=lambda user: str(user.get("userName", "")).casefold())


def plan_purge(index: DirectoryIndex, kept: set[str], action: str, max_purge: int) -> list[_Planned]:
    """The purge's users, or an error naming them when they are more than ``max_purge``."""
    candidates = purge_candidates(index, kept, action)
    if len(candidates) > max_purge:
        names = [str(user.get("userName") or user["id"]) for user in candidates]
        more = len(names) - MAX_NAMED_PURGE
        named = ", ".join(names[:MAX_NAMED_PURGE]) + (f" and {more} more" if more > 0 else "")
        raise ScimKitError(
            f"purge would {action} {len(candidates)} users, more than max_purge ({max_purge}); nothing "
            f"was changed. They are: {named}. Check that users lists everyone who should stay, or raise max_purge.",
            changed=False,
        )
    purged = []
    for user in candidates:
        options = {"id": user["id"], "state": "absent"} if action == "delete" else {"id": user["id"], "active": False}
        purged.append(_Planned(PURGED_ITEM, str(user.get("userName") or user["id"]), user_spec(options), user))
    return purged


def _unexpected(exc: Exception) -> str:
    return f"unexpected error ({type(exc).__name__}): {exc}. Please report this."


def reconcile_users(client: ScimClient, items: list[dict[str, t.Any]], *, check_mode: bool, concurrency: int = 4,
                    purge: bool = False, purge_action: str = "deactivate", max_purge: int = 10,
                    diff: bool = True, links: LinkedUsers | None = None,
                    groups: t.Sequence[dict[str, t.Any]] = (), purge_members: bool = False) -> BulkResult:
    """Bring the directory's users to ``items`` (and, with ``purge``, offboard the users they do not name).

    Raises PlanError, before any request, for items that fail validation; and, before any
    write, for items that conflict or that resolve to a user another item claims. ``diff``
    keeps each changed user's before/after views for the result; ``links`` finds, after a 409,
    users Atlassian hides (see reconcile_user). The groups the items name, and ``groups``,
    are planned with the users (before any write) and written after them (_group_bulk.UserGroups).
    """
    result = BulkResult(keep_diff=diff)
    specs, problems = parse_items(items)
    if problems:
        raise PlanError(problems)
    user_groups = _user_groups(items, groups, purge_members)
    index = DirectoryIndex(client.list_all(USERS, concurrency=concurrency), client)
    planned, problems = resolve_items(specs, index)

    work: list[_Planned] = []
    secrets: list[str] = []
    for entry in planned:
        try:
            check_attributes(client, entry.spec)
            outcome = reconcile_user(client, entry.spec, check_mode=True, current=entry.current, looked_up=True)
        except ScimKitError as exc:
            problems.append(Failure(entry.number, entry.name, str(exc)))
            secrets += exc.secrets
            continue
        if check_mode or not outcome.changed:
            result.record(entry.name, outcome)
        else:
            work.append(entry)
    if problems:
        raise PlanError(problems, secrets=secrets)

    kept = {entry.current["id"] for entry in planned if entry.current is not None}
    purged = plan_purge(index, kept, purge_action, max_purge) if purge else []
    names = {user_id: str(user.get("userName") or user_id) for user_id, user in index.by_id_map.items()}
    if user_groups is not None:
        # An offboarding item that finds nobody creates nobody (docs/identity.md), so it adds no member either.
        members = [Member(entry.number, entry.name, (entry.current or {}).get("id")) for entry in planned
                   if entry.current is not None or not entry.spec.offboards]
        user_groups.plan(client, members, check_mode=check_mode, concurrency=concurrency)
    if check_mode:
        for entry in purged:
            result.record(entry.name, reconcile_user(client, entry.spec, check_mode=True, current=entry.current,
                                                     looked_up=True))
        if user_groups is not None:
            result.groups = user_groups.apply(client, check_mode=True, concurrency=concurrency, diff=diff, names=names)
        return result

    written = _apply(client, work, result, concurrency=concurrency, diff=diff, links=links)
    if user_groups is not None:
        # Memberships before the purge: a purge that deletes users must not leave removals of ids that are gone.
        user_groups.complete({entry.number: written[entry.number] for entry in work if entry.number in written})
        names.update({written[entry.number]: entry.name for entry in work if entry.number in written})
        result.groups = user_groups.apply(client, check_mode=False, concurrency=concurrency, diff=diff, names=names)
    # A create answered 409 adopts the user who holds the name; the purge must not then take them.
    adopted = set(written.values())
    _apply(client, [entry for entry in purged if entry.current["id"] not in adopted], result,
           concurrency=concurrency, diff=diff)
    result.failures.sort(key=lambda failure: failure.item)
    return result


def _user_groups(items: list[dict[str, t.Any]], groups: t.Sequence[dict[str, t.Any]],
                 purge_members: bool) -> UserGroups | None:
    """The groups the task manages, or None when neither its items nor ``groups`` name any."""
    # A user being deleted is a member of nothing: the groups of an item marked absent are not read.
    named = {number: item["groups"] for number, item in enumerate(items, start=1)
             if item.get("groups") and (item.get("state") or "present") == "present"}
    if not (named or groups):
        return None
    labels = {number: _label(items[number - 1], number) for number in named}
    return UserGroups(groups, named, labels=labels, purge_members=purge_members)


def _apply(client: ScimClient, entries: list[_Planned], result: BulkResult, *, concurrency: int,
           diff: bool, links: LinkedUsers | None = None) -> dict[int, str]:
    """Write the planned entries in parallel, recording each outcome or failure; returns each item's user id."""
    def apply(entry: _Planned) -> tuple[Outcome, str | None]:
        outcome = reconcile_user(client, entry.spec, check_mode=False, current=entry.current, looked_up=True,
                                 links=links)
        written = (outcome.resource or {}).get("id") or (entry.current or {}).get("id")
        # Keep only what the result returns: at 10,000 users the written resources are tens of MB.
        kept = Outcome(outcome.action, None, outcome.before, outcome.after) if diff else Outcome(outcome.action, None)
        return kept, written

    written_ids: dict[int, str] = {}
    if not entries:
        return written_ids
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [(entry, pool.submit(apply, entry)) for entry in entries]
        for entry, future in futures:
            try:
                outcome, written = future.result()
            except ScimKitError as exc:
                result.failures.append(Failure(entry.number, entry.name, str(exc)))
                continue
            except Exception as exc:  # a bug of ours must not lose the report of the other users
                result.failures.append(Failure(entry.number, entry.name, _unexpected(exc)))
                continue
            result.record(entry.name, outcome)
            if written:
                written_ids[entry.number] = written
    return written_ids


def diff_view(result: BulkResult) -> dict[str, dict[str, t.Any]]:
    """Per-user before/after of the users that change, keyed by user name."""
    return {"before": dict(sorted(result.before.items())), "after": dict(sorted(result.after.items()))}


__all__ = ["ACTIONS", "USERS_ITEM_SPEC", "BulkResult", "Failure", "PURGE_ACTIONS", "PlanError", "diff_view", "parse_items", "plan_purge",
           "purge_candidates", "read_users_file", "reconcile_users", "resolve_items"]
