# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Many users in one pass: list the directory once, plan every user, then send only the writes.

The plan is made before any write, so a purge that would touch more users than allowed fails
with nothing done, and check mode stops right after planning. Writes run in a thread pool
over one HTTP session and one token; a rate limit seen by any worker pauses them all
(see _http.BackoffGate).
"""

from __future__ import annotations

import json
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._outcome import Outcome
from ansible_collections.scimkit.atlassian.plugins.module_utils._reconcile import reconcile_user
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import USERS
from ansible_collections.scimkit.atlassian.plugins.module_utils._users import USER_ARGUMENT_SPEC, UserSpec, user_spec

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ScimClient

ACTIONS = ("created", "updated", "deactivated", "deleted", "unchanged")
PURGE_ACTIONS = ("deactivate", "delete")
# A users_file with many bad items names this many of them, and counts the rest.
MAX_NAMED_FILE_ERRORS = 10


class DirectoryIndex:
    """Every user of one listing, findable the way scim_user finds one: id, externalId, userName."""

    def __init__(self, users: t.Iterable[dict[str, t.Any]]) -> None:
        self.by_id: dict[str, dict[str, t.Any]] = {}
        self.by_external_id: dict[str, list[dict[str, t.Any]]] = {}
        self.by_user_name: dict[str, list[dict[str, t.Any]]] = {}
        for user in users:
            self.by_id[user["id"]] = user
            if user.get("externalId"):
                self.by_external_id.setdefault(user["externalId"], []).append(user)
            if user.get("userName"):
                self.by_user_name.setdefault(str(user["userName"]).casefold(), []).append(user)

    def match(self, spec: UserSpec) -> dict[str, t.Any] | None:
        if spec.id:
            return self.by_id.get(spec.id)
        if spec.external_id:
            found = self.by_external_id.get(spec.external_id, [])
            what = f"externalId {spec.external_id!r}"
        elif spec.user_name:
            found = self.by_user_name.get(spec.user_name.casefold(), [])
            what = f"userName {spec.user_name!r}"
        else:
            return None
        if len(found) > 1:
            raise ScimKitError(f"{len(found)} users have {what}; give the id of the one meant.")
        return found[0] if found else None


@dataclass
class Failure:
    """One item that could not be brought to its state."""

    item: int
    user: str
    error: str

    def as_dict(self) -> dict[str, t.Any]:
        return {"item": self.item, "user": self.user, "error": self.error}


@dataclass
class BulkResult:
    outcomes: dict[str, list[str]] = field(default_factory=lambda: {action: [] for action in ACTIONS})
    failures: list[Failure] = field(default_factory=list)
    before: dict[str, t.Any] = field(default_factory=dict)
    after: dict[str, t.Any] = field(default_factory=dict)
    keep_diff: bool = True  # False keeps no per-user views: 10,000 of them cost tens of MB

    @property
    def changed(self) -> bool:
        return any(self.outcomes[action] for action in ACTIONS if action != "unchanged")

    def record(self, name: str, outcome: Outcome) -> None:
        self.outcomes[outcome.action].append(name)
        if outcome.changed and self.keep_diff:
            self.before[name] = outcome.before
            self.after[name] = outcome.after

    def summary(self) -> str:
        done = ", ".join(f"{len(self.outcomes[action])} {action}" for action in ACTIONS)
        if not self.failures:
            return done
        failed = "; ".join(f"{failure.user}: {failure.error}" for failure in self.failures)
        return f"{len(self.failures)} of the users failed ({failed}). The others were done: {done}."


@dataclass
class _Planned:
    index: int
    name: str
    spec: UserSpec
    current: dict[str, t.Any] | None


def _name(spec: UserSpec, current: dict[str, t.Any] | None) -> str:
    return spec.user_name or (current or {}).get("userName") or spec.label


def parse_items(items: list[dict[str, t.Any]], result: BulkResult) -> list[tuple[int, UserSpec]]:
    """Specs for the valid items; an invalid or repeated item becomes a failure, the rest go on."""
    specs: list[tuple[int, UserSpec]] = []
    claimed: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        label = item.get("user_name") or item.get("external_id") or item.get("id") or f"item {index}"
        try:
            spec = user_spec(item)
        except ConfigError as exc:
            result.failures.append(Failure(index, str(label), str(exc)))
            continue
        keys = [(kind, value) for kind, value in (("id", spec.id), ("externalId", spec.external_id),
                                                  ("userName", (spec.user_name or "").casefold())) if value]
        repeated = next((claimed[key] for key in keys if key in claimed), None)
        if repeated is not None:
            result.failures.append(Failure(index, str(label), f"the same user as item {repeated}; list each user once"))
            continue
        claimed.update({key: index for key in keys})
        specs.append((index, spec))
    return specs


def read_users_file(path: str) -> list[dict[str, t.Any]]:
    """The users of a JSON or YAML file, each checked against scim_users' item options.

    The file holds a list of items, or a mapping whose ``users`` key holds one. Items are
    validated as Ansible validates the ``users`` option, so both ways accept the same input;
    any bad item fails the task before a request is sent, naming the item.
    """
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

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

    validator = ArgumentSpecValidator(USER_ARGUMENT_SPEC)
    items: list[dict[str, t.Any]] = []
    errors: list[str] = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            errors.append(f"item {index} is a {type(item).__name__}, not a mapping of user options")
            continue
        checked = validator.validate(item)
        if checked.error_messages:
            label = item.get("user_name") or item.get("external_id") or item.get("id")
            errors.append(f"item {index}{f' ({label})' if label else ''}: {'; '.join(checked.error_messages)}")
            continue
        items.append(checked.validated_parameters)
    if errors:
        more = len(errors) - MAX_NAMED_FILE_ERRORS
        named = "; ".join(errors[:MAX_NAMED_FILE_ERRORS]) + (f"; and {more} more" if more > 0 else "")
        raise ConfigError(f"users_file {path} has {len(errors)} invalid item(s), so nothing was changed: {named}.")
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
    unnamed = [user for user_id, user in index.by_id.items() if user_id not in kept]
    if action == "deactivate":
        unnamed = [user for user in unnamed if user.get("active", True) is not False]
    return sorted(unnamed, key=lambda user: str(user.get("userName", "")).casefold())


def reconcile_users(client: ScimClient, items: list[dict[str, t.Any]], *, check_mode: bool, concurrency: int = 4,
                    purge: bool = False, purge_action: str = "deactivate", max_purge: int = 10,
                    diff: bool = True) -> BulkResult:
    """Bring the directory's users to ``items`` (and, with ``purge``, offboard the users they do not name).

    ``diff`` keeps each changed user's before/after views for the result.
    """
    result = BulkResult(keep_diff=diff)
    specs = parse_items(items, result)
    index = DirectoryIndex(client.list_all(USERS, concurrency=concurrency))

    planned: list[_Planned] = []
    kept: set[str] = set()
    for item_index, spec in specs:
        try:
            current = index.match(spec)
            if current is None and spec.id:
                current = client.get(USERS, spec.id)  # Atlassian may leave inactive users out of lists
        except ScimKitError as exc:
            result.failures.append(Failure(item_index, spec.label, str(exc)))
            continue
        if current is not None:
            kept.add(current["id"])
        planned.append(_Planned(item_index, _name(spec, current), spec, current))

    purged: list[_Planned] = []
    if purge:
        candidates = purge_candidates(index, kept, purge_action)
        if len(candidates) > max_purge:
            raise ScimKitError(
                f"purge would {purge_action} {len(candidates)} users, more than max_purge ({max_purge}); nothing "
                f"was changed. Check that users lists everyone who should stay, or raise max_purge."
            )
        for user in candidates:
            options = {"id": user["id"], "state": "absent"} if purge_action == "delete" else {"id": user["id"], "active": False}
            purged.append(_Planned(-1, str(user.get("userName") or user["id"]), user_spec(options), user))

    work = []
    for entry in planned + purged:
        try:
            outcome = reconcile_user(client, entry.spec, check_mode=True, current=entry.current, looked_up=True)
        except ScimKitError as exc:
            result.failures.append(Failure(entry.index, entry.name, str(exc)))
            continue
        if check_mode or not outcome.changed:
            result.record(entry.name, outcome)
        else:
            work.append(entry)

    def apply(entry: _Planned) -> Outcome:
        outcome = reconcile_user(client, entry.spec, check_mode=False, current=entry.current, looked_up=True)
        # Keep only what the result returns: at 10,000 users the written resources are tens of MB.
        return Outcome(outcome.action, None, outcome.before, outcome.after) if diff else Outcome(outcome.action, None)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [(entry, pool.submit(apply, entry)) for entry in work]
        for entry, future in futures:
            try:
                result.record(entry.name, future.result())
            except ScimKitError as exc:
                result.failures.append(Failure(entry.index, entry.name, str(exc)))
    result.failures.sort(key=lambda failure: failure.item)
    return result


def diff_view(result: BulkResult) -> dict[str, dict[str, t.Any]]:
    """Per-user before/after of the users that change, keyed by user name."""
    return {"before": dict(sorted(result.before.items())), "after": dict(sorted(result.after.items()))}


__all__ = ["ACTIONS", "BulkResult", "DirectoryIndex", "PURGE_ACTIONS", "diff_view", "parse_items", "purge_candidates",
           "read_users_file", "reconcile_users"]
