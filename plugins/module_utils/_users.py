# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Desired state of a SCIM user, as pure functions on plain data.

A task's options become a map of *managed attributes* to wanted values. Each is keyed by
``(attribute, sub-attribute or None)``: ``("userName", None)``, ``("name", "givenName")``,
``(enterprise schema URN, "department")``. Only those are compared with the server's resource,
and only the differing ones become PATCH operations: what the task does not set is never touched.
"""

from __future__ import annotations

import copy
import json
import typing as t
from dataclasses import dataclass, field

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ENTERPRISE_USER_SCHEMA, USER_SCHEMA, check_id

# Option name -> SCIM attribute (RFC 7643 section 4.1).
SCALAR_OPTIONS = {
    "user_name": "userName",
    "external_id": "externalId",
    "display_name": "displayName",
    "nick_name": "nickName",
    "title": "title",
    "preferred_language": "preferredLanguage",
    "locale": "locale",
    "timezone": "timezone",
    "active": "active",
}
NAME_PARTS = {
    "given_name": "givenName",
    "family_name": "familyName",
    "formatted": "formatted",
    "middle_name": "middleName",
    "honorific_prefix": "honorificPrefix",
    "honorific_suffix": "honorificSuffix",
}
# Atlassian implements only these two of the Enterprise User extension (RFC 7643 section 4.3).
ENTERPRISE_OPTIONS = {"department": "department", "organization": "organization"}
MULTI_VALUED = {"emails": "emails", "phone_numbers": "phoneNumbers"}
# Attributes the server owns; never compared, never sent back in a PUT.
READ_ONLY = ("id", "meta", "groups")
# Write-only attributes (RFC 7643 section 4.1.1: password is "returned: never"), casefolded: never
# compared or shown, as the server never returns them.
WRITE_ONLY = frozenset({"password"})
# Case-insensitive string attributes (caseExact=false in RFC 7643); externalId is case-exact.
CASE_INSENSITIVE = {"userName"}


# (attribute, sub-attribute or None): ("userName", None), ("name", "givenName"), (extension URN, "department").
Key = t.Tuple[str, t.Optional[str]]


@dataclass(frozen=True)
class UserSpec:
    """One user as a task wants it: how to find it, and the managed paths with their values."""

    state: str = "present"
    id: str | None = None
    user_name: str | None = None
    external_id: str | None = None
    managed: dict[Key, t.Any] = field(default_factory=dict)
    raw_attributes: tuple[str, ...] = ()  # the keys given in ``attributes``, checked against the server's schema

    @property
    def label(self) -> str:
        """How messages name this user."""
        return self.user_name or self.external_id or self.id or "user"

    @property
    def offboards(self) -> bool:
        """Whether the spec only takes someone out (deactivates): nothing to do for someone who is not there."""
        return self.state == "absent" or self.managed.get(("active", None)) is False


def user_spec(options: dict[str, t.Any]) -> UserSpec:
    """Turn module options (or one item of scim_users) into a UserSpec. Unset options are unmanaged."""
    managed: dict[Key, t.Any] = {}
    for option, attribute in SCALAR_OPTIONS.items():
        if options.get(option) is not None:
            managed[(attribute, None)] = options[option]

    name = {key: value for key, value in (options.get("name") or {}).items() if value is not None}
    for option in ("given_name", "family_name"):
        if options.get(option) is not None:
            if name.get(option) not in (None, options[option]):
                raise ConfigError(f"{option} and name.{option} disagree; set only one of them.")
            name[option] = options[option]
    for part, value in name.items():
        if part not in NAME_PARTS:
            raise ConfigError(f"name has no part {part!r}; choose from {', '.join(NAME_PARTS)}.")
        managed[("name", NAME_PARTS[part])] = value

    for option, attribute in ENTERPRISE_OPTIONS.items():
        if options.get(option) is not None:
            managed[(ENTERPRISE_USER_SCHEMA, attribute)] = options[option]

    if options.get("email") is not None and options.get("emails") is not None:
        raise ConfigError("email and emails are mutually exclusive: email is a shortcut for one primary work address.")
    if options.get("email") is not None:
        managed[("emails", None)] = normalize_multi("emails", [{"value": options["email"], "type": "work", "primary": True}])
    elif options.get("emails") is not None:
        managed[("emails", None)] = normalize_multi("emails", options["emails"])
    if options.get("phone_numbers") is not None:
        managed[("phoneNumbers", None)] = normalize_multi("phoneNumbers", options["phone_numbers"])

    for key, value in (options.get("attributes") or {}).items():
        refuse_write_only(key, WRITE_ONLY, value)
        if key in READ_ONLY or key == "schemas":
            raise ConfigError(f"attributes cannot set {key!r}: the server owns it.")
        if any(attribute.casefold() == key.casefold() for attribute, _sub in managed):
            raise ConfigError(f"attributes.{key} overlaps an attribute set by its own option; set it in one place.")
        managed[(key, None)] = value

    if options.get("id") is not None:
        check_id(options["id"], "id")
    spec = UserSpec(
        state=options.get("state") or "present",
        id=options.get("id"),
        user_name=options.get("user_name"),
        external_id=options.get("external_id"),
        managed=managed,
        raw_attributes=tuple(options.get("attributes") or ()),
    )
    if not (spec.id or spec.user_name or spec.external_id):
        raise ConfigError("Name the user: give user_name, external_id or id.")
    return spec


def refuse_write_only(key: str, write_only: t.Collection[str], value: t.Any = None) -> None:
    """Refuse an ``attributes`` key that is write-only (``write_only``: casefolded names); its value is masked."""
    if key.casefold() in write_only:
        raise ConfigError(
            f"attributes cannot set {key!r}: it is write-only in SCIM (the server never returns it), so it would "
            "print in --diff output and report a change on every run. This collection does not manage SCIM "
            "passwords or other write-only attributes; people sign in through Atlassian or the identity provider.",
            secrets=_strings_in(value),
        )


def _strings_in(value: t.Any) -> list[str]:
    """Every string or number inside ``value`` (a write-only attribute may be complex)."""
    if isinstance(value, dict):
        return [found for inner in value.values() for found in _strings_in(inner)]
    if isinstance(value, list):
        return [found for inner in value for found in _strings_in(inner)]
    return [str(value)] if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value) else []


def normalize_multi(attribute: str, items: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Emails or phone numbers in one canonical form: type defaults to work, exactly one primary.

    Atlassian refuses a user whose e-mails have no primary, so the first one is made primary
    when none is marked; two primaries are an error (RFC 7643 section 2.4).
    """
    result = []
    for item in items:
        value = item.get("value")
        if not value:
            raise ConfigError(f"Every item of {attribute} needs a value.")
        result.append({"value": value, "type": item.get("type") or "work", "primary": bool(item.get("primary"))})
    primaries = sum(item["primary"] for item in result)
    if primaries > 1:
        raise ConfigError(f"Only one item of {attribute} may be primary.")
    if result and primaries == 0:
        result[0]["primary"] = True
    return result


# -- reading and writing attributes -------------------------------------------------------


def patch_path(key: Key) -> str:
    """The PATCH path of a key (RFC 7644 section 3.10): ``name.givenName``, ``urn:...:User:department``."""
    attribute, sub_attribute = key
    if sub_attribute is None:
        return attribute
    separator = ":" if attribute.lower().startswith("urn:") else "."
    return f"{attribute}{separator}{sub_attribute}"


def _key(container: dict[str, t.Any], name: str) -> str:
    """The key under which ``container`` holds ``name``; SCIM attribute names are case-insensitive."""
    if name in container:
        return name
    folded = name.casefold()
    return next((key for key in container if key.casefold() == folded), name)


def read_value(resource: dict[str, t.Any], key: Key) -> t.Any:
    attribute, sub_attribute = key
    value = resource.get(_key(resource, attribute))
    if sub_attribute is None:
        return value
    return value.get(_key(value, sub_attribute)) if isinstance(value, dict) else None


def write_value(resource: dict[str, t.Any], key: Key, value: t.Any) -> None:
    """Set ``key`` in ``resource``; a dict merges into a complex attribute, as a PATCH replace does."""
    attribute, sub_attribute = key
    attribute = _key(resource, attribute)
    if sub_attribute is None:
        if isinstance(value, dict) and isinstance(resource.get(attribute), dict):
            merged = dict(resource[attribute])
            merged.update(copy.deepcopy(value))
            resource[attribute] = merged
        else:
            resource[attribute] = copy.deepcopy(value)
        return
    parent = resource.get(attribute)
    if not isinstance(parent, dict):
        parent = resource[attribute] = {}
    parent[_key(parent, sub_attribute)] = copy.deepcopy(value)


def remove_value(resource: dict[str, t.Any], key: Key) -> None:
    attribute, sub_attribute = key
    attribute = _key(resource, attribute)
    if sub_attribute is None:
        resource.pop(attribute, None)
    elif isinstance(resource.get(attribute), dict):
        resource[attribute].pop(_key(resource[attribute], sub_attribute), None)


# -- comparison ---------------------------------------------------------------------------


def is_empty(value: t.Any) -> bool:
    """Unassigned, null, "" and [] are one state (RFC 7643 section 2.5)."""
    return value is None or value == "" or value == [] or value == {}


def _multi_key(attribute: str, item: t.Any) -> tuple[str, str, bool]:
    if not isinstance(item, dict):
        return (str(item), "", False)
    value = str(item.get("value") or "")
    if attribute == "emails":  # e-mail addresses are case-insensitive in practice and in Atlassian
        value = value.casefold()
    return (value, str(item.get("type") or "").casefold(), bool(item.get("primary")))


def same_value(key: Key, wanted: t.Any, current: t.Any) -> bool:
    """Whether the server's value already satisfies the wanted one for this managed attribute."""
    attribute, sub_attribute = key
    if is_empty(wanted):
        return is_empty(current)
    if sub_attribute is None and attribute in MULTI_VALUED.values():
        current_items = current if isinstance(current, list) else []
        return (sorted(_multi_key(attribute, item) for item in wanted)
                == sorted(_multi_key(attribute, item) for item in current_items))
    if sub_attribute is None and attribute in CASE_INSENSITIVE and isinstance(wanted, str) and isinstance(current, str):
        return wanted.casefold() == current.casefold()
    return contains(current, wanted)


def contains(current: t.Any, wanted: t.Any) -> bool:
    """Deep 'wanted is already there': dicts compare only the keys wanted names; lists as wholes."""
    if isinstance(wanted, dict):
        if not isinstance(current, dict):
            return False
        return all(contains(current.get(_key(current, key)), value) for key, value in wanted.items())
    if isinstance(wanted, list):
        if not isinstance(current, list) or len(current) != len(wanted):
            return False
        return sorted(map(_canonical, current)) == sorted(map(_canonical, wanted))
    if isinstance(wanted, bool) or isinstance(current, bool):
        return isinstance(current, bool) and isinstance(wanted, bool) and current == wanted
    return current == wanted


def _canonical(value: t.Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# -- plans --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One managed attribute that differs: set it to ``value``, or remove it when ``value`` is empty."""

    key: Key
    value: t.Any

    @property
    def removes(self) -> bool:
        return is_empty(self.value)


def plan_update(spec: UserSpec, current: dict[str, t.Any]) -> list[Change]:
    """The managed attributes whose server value differs from the spec, in the spec's order."""
    return [
        Change(key, copy.deepcopy(wanted))
        for key, wanted in spec.managed.items()
        if not same_value(key, wanted, read_value(current, key))
    ]


def patch_operations(changes: list[Change]) -> list[dict[str, t.Any]]:
    """The minimal PATCH operations (RFC 7644 section 3.5.2) for the changes.

    Unchanged attributes are never sent, e-mails included: Atlassian answers 400 to a replace
    of e-mails with the value it already holds.
    """
    return [
        {"op": "remove", "path": patch_path(change.key)} if change.removes
        else {"op": "replace", "path": patch_path(change.key), "value": change.value}
        for change in changes
    ]


def apply_changes(resource: dict[str, t.Any], changes: list[Change]) -> dict[str, t.Any]:
    """What the resource looks like after the changes: the prediction check mode returns."""
    result = copy.deepcopy(resource)
    for change in changes:
        if change.removes:
            remove_value(result, change.key)
        else:
            write_value(result, change.key, change.value)
    return result


def deactivates(changes: list[Change]) -> bool:
    return any(change.key == ("active", None) and change.value is False for change in changes)


def create_payload(spec: UserSpec) -> dict[str, t.Any]:
    """The body of POST /Users for a user that does not exist yet."""
    if not spec.user_name:
        raise ConfigError(f"user_name is required to create {spec.label}: SCIM requires a userName on create.")
    resource: dict[str, t.Any] = {}
    for key, value in spec.managed.items():
        if not is_empty(value):
            write_value(resource, key, value)
    resource["schemas"] = schemas_for(resource)
    return resource


def schemas_for(resource: dict[str, t.Any]) -> list[str]:
    """The core schema plus every extension schema the resource carries."""
    extensions = sorted(key for key in resource if key.lower().startswith("urn:") and key != USER_SCHEMA)
    return [USER_SCHEMA, *extensions]


def replacement_payload(predicted: dict[str, t.Any]) -> dict[str, t.Any]:
    """The body of a PUT: the whole predicted resource without the server-owned attributes."""
    payload = {key: copy.deepcopy(value) for key, value in predicted.items() if key not in READ_ONLY}
    payload["schemas"] = schemas_for(payload)
    return payload


def managed_view(spec: UserSpec, resource: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """The managed part of a resource, for diff output: nested like SCIM, lists sorted, empties dropped."""
    if not resource:
        return {}
    view: dict[str, t.Any] = {}
    keys = list(spec.managed)
    if ("userName", None) not in keys:
        keys.insert(0, ("userName", None))  # always say whose diff it is
    for key in keys:
        value = read_value(resource, key)
        if is_empty(value):
            continue
        if isinstance(value, list):
            value = sorted(value, key=_canonical)
        write_value(view, key, value)
    return view


def _string(**extra: t.Any) -> dict[str, t.Any]:
    return {"type": "str", **extra}


_MULTI_VALUE_OPTIONS = {
    "value": _string(required=True),
    "type": _string(default="work"),
    "primary": {"type": "bool"},
}

# The options of one user: scim_user's own, and each item of scim_users' users list.
USER_ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "state": _string(default="present", choices=["present", "absent"]),
    "id": _string(),
    "user_name": _string(),
    "external_id": _string(),
    "active": {"type": "bool"},
    "email": _string(),
    "emails": {"type": "list", "elements": "dict", "options": _MULTI_VALUE_OPTIONS},
    "name": {"type": "dict", "options": {option: _string() for option in NAME_PARTS}},
    "given_name": _string(),
    "family_name": _string(),
    "display_name": _string(),
    "nick_name": _string(),
    "title": _string(),
    "preferred_language": _string(),
    "locale": _string(),
    "timezone": _string(),
    "phone_numbers": {"type": "list", "elements": "dict", "options": _MULTI_VALUE_OPTIONS},
    "department": _string(),
    "organization": _string(),
    "attributes": {"type": "dict"},
}


__all__ = [
    "Change",
    "Key",
    "USER_ARGUMENT_SPEC",
    "UserSpec",
    "apply_changes",
    "contains",
    "create_payload",
    "deactivates",
    "managed_view",
    "normalize_multi",
    "patch_operations",
    "patch_path",
    "plan_update",
    "read_value",
    "refuse_write_only",
    "replacement_payload",
    "same_value",
    "user_spec",
]
