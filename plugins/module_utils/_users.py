# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Desired state of a SCIM user, as pure functions on plain data.

A task's options become a map of *managed paths* (``userName``, ``name.givenName``,
``urn:...:enterprise:2.0:User:department``, ``emails``...) to wanted values. Only those paths
are compared with the server's resource, and only the differing ones become PATCH operations:
what the task does not set is never touched.
"""

from __future__ import annotations

import copy
import json
import typing as t
from dataclasses import dataclass, field

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ENTERPRISE_USER_SCHEMA, USER_SCHEMA

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
# Case-insensitive string attributes (caseExact=false in RFC 7643); externalId is case-exact.
CASE_INSENSITIVE = {"userName"}


@dataclass(frozen=True)
class UserSpec:
    """One user as a task wants it: how to find it, and the managed paths with their values."""

    state: str = "present"
    id: str | None = None
    user_name: str | None = None
    external_id: str | None = None
    managed: dict[str, t.Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How messages name this user."""
        return self.user_name or self.external_id or self.id or "user"


def user_spec(options: dict[str, t.Any]) -> UserSpec:
    """Turn module options (or one item of scim_users) into a UserSpec. Unset options are unmanaged."""
    managed: dict[str, t.Any] = {}
    for option, attribute in SCALAR_OPTIONS.items():
        if options.get(option) is not None:
            managed[attribute] = options[option]

    name = {key: value for key, value in (options.get("name") or {}).items() if value is not None}
    for option in ("given_name", "family_name"):
        if options.get(option) is not None:
            if name.get(option) not in (None, options[option]):
                raise ConfigError(f"{option} and name.{option} disagree; set only one of them.")
            name[option] = options[option]
    for part, value in name.items():
        if part not in NAME_PARTS:
            raise ConfigError(f"name has no part {part!r}; choose from {', '.join(NAME_PARTS)}.")
        managed[f"name.{NAME_PARTS[part]}"] = value

    for option, attribute in ENTERPRISE_OPTIONS.items():
        if options.get(option) is not None:
            managed[f"{ENTERPRISE_USER_SCHEMA}:{attribute}"] = options[option]

    if options.get("email") is not None and options.get("emails") is not None:
        raise ConfigError("email and emails are mutually exclusive: email is a shortcut for one primary work address.")
    if options.get("email") is not None:
        managed["emails"] = normalize_multi("emails", [{"value": options["email"], "type": "work", "primary": True}])
    elif options.get("emails") is not None:
        managed["emails"] = normalize_multi("emails", options["emails"])
    if options.get("phone_numbers") is not None:
        managed["phoneNumbers"] = normalize_multi("phoneNumbers", options["phone_numbers"])

    for key, value in (options.get("attributes") or {}).items():
        if key in READ_ONLY or key == "schemas":
            raise ConfigError(f"attributes cannot set {key!r}: the server owns it.")
        if key in managed or any(path.startswith(f"{key}.") or path.startswith(f"{key}:") for path in managed):
            raise ConfigError(f"attributes.{key} overlaps an attribute set by its own option; set it in one place.")
        managed[key] = value

    spec = UserSpec(
        state=options.get("state") or "present",
        id=options.get("id"),
        user_name=options.get("user_name"),
        external_id=options.get("external_id"),
        managed=managed,
    )
    if spec.state == "present" and not (spec.id or spec.user_name or spec.external_id):
        raise ConfigError("Name the user: give user_name, external_id or id.")
    return spec


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


# -- reading and writing paths ------------------------------------------------------------


def split_path(path: str) -> tuple[str, str | None]:
    """``name.givenName`` -> (name, givenName); ``urn:...:User:department`` -> (urn:...:User, department)."""
    if path.lower().startswith("urn:"):
        schema, _sep, attribute = path.rpartition(":")
        return schema, attribute
    head, _sep, tail = path.partition(".")
    return head, tail or None


def _key(container: dict[str, t.Any], name: str) -> str:
    """The key under which ``container`` holds ``name``; SCIM attribute names are case-insensitive."""
    if name in container:
        return name
    folded = name.casefold()
    return next((key for key in container if key.casefold() == folded), name)


def read_path(resource: dict[str, t.Any], path: str) -> t.Any:
    head, tail = split_path(path)
    value = resource.get(_key(resource, head))
    if tail is None:
        return value
    return value.get(_key(value, tail)) if isinstance(value, dict) else None


def write_path(resource: dict[str, t.Any], path: str, value: t.Any) -> None:
    """Set ``path`` in ``resource``; a dict merges into a complex attribute, as a PATCH replace does."""
    head, tail = split_path(path)
    head = _key(resource, head)
    if tail is None:
        if isinstance(value, dict) and isinstance(resource.get(head), dict):
            merged = dict(resource[head])
            merged.update(value)
            resource[head] = merged
        else:
            resource[head] = copy.deepcopy(value)
        return
    parent = resource.get(head)
    if not isinstance(parent, dict):
        parent = resource[head] = {}
    parent[_key(parent, tail)] = copy.deepcopy(value)


def remove_path(resource: dict[str, t.Any], path: str) -> None:
    head, tail = split_path(path)
    head = _key(resource, head)
    if tail is None:
        resource.pop(head, None)
    elif isinstance(resource.get(head), dict):
        resource[head].pop(_key(resource[head], tail), None)


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


def same_value(path: str, wanted: t.Any, current: t.Any) -> bool:
    """Whether the server's value already satisfies the wanted one for this managed path."""
    if is_empty(wanted):
        return is_empty(current)
    if path in MULTI_VALUED.values():
        current_items = current if isinstance(current, list) else []
        return sorted(_multi_key(path, item) for item in wanted) == sorted(_multi_key(path, item) for item in current_items)
    if path in CASE_INSENSITIVE and isinstance(wanted, str) and isinstance(current, str):
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


def plan_update(spec: UserSpec, current: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The minimal PATCH operations (RFC 7644 section 3.5.2) that bring ``current`` to ``spec``.

    Unchanged attributes are left out, e-mails included: Atlassian answers 400 to a replace
    of e-mails with the value it already holds.
    """
    operations = []
    for path, wanted in spec.managed.items():
        current_value = read_path(current, path)
        if same_value(path, wanted, current_value):
            continue
        if is_empty(wanted):
            operations.append({"op": "remove", "path": path})
        else:
            operations.append({"op": "replace", "path": path, "value": copy.deepcopy(wanted)})
    return operations


def apply_operations(resource: dict[str, t.Any], operations: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """What the resource looks like after the operations: the prediction check mode returns."""
    result = copy.deepcopy(resource)
    for operation in operations:
        if operation["op"] == "remove":
            remove_path(result, operation["path"])
        else:
            write_path(result, operation["path"], operation["value"])
    return result


def create_payload(spec: UserSpec) -> dict[str, t.Any]:
    """The body of POST /Users for a user that does not exist yet."""
    if not spec.user_name:
        raise ConfigError(f"user_name is required to create {spec.label}: SCIM requires a userName on create.")
    resource: dict[str, t.Any] = {}
    for path, value in spec.managed.items():
        if not is_empty(value):
            write_path(resource, path, value)
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
    paths = list(spec.managed)
    if "userName" not in paths and resource.get("userName"):
        paths.insert(0, "userName")  # always say whose diff it is
    for path in paths:
        value = read_path(resource, path)
        if is_empty(value):
            continue
        if isinstance(value, list):
            value = sorted(value, key=_canonical)
        write_path(view, path, value)
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
    "USER_ARGUMENT_SPEC",
    "UserSpec",
    "apply_operations",
    "contains",
    "create_payload",
    "managed_view",
    "normalize_multi",
    "plan_update",
    "read_path",
    "replacement_payload",
    "same_value",
    "user_spec",
]
