# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Identity: which one directory user an item means, by every key the item gives.

This collection deactivates and deletes people, so an item must never reach the wrong one.
The rules (docs/identity.md states them for users):

1. Every key the item gives is looked up, in the order ``id``, ``external_id`` (exact),
   ``user_name`` (case-insensitive). A key that finds nobody falls through to the next.
2. Two keys that find two different users are a conflict: the item fails, naming both.
3. A user found by ``user_name`` whose non-empty externalId differs from the item's
   ``external_id`` is a conflict too (another person may have taken over the name). Found
   without an externalId, it is the match, and the item's external_id is then set on it.
4. A key that finds several users (a directory holding duplicates) is ambiguous: give the id.

The same rules serve a single task (lookups through SCIM filters, :class:`FilterLookup`) and
a bulk task (lookups in one listing of the directory, :class:`DirectoryIndex`).
"""

from __future__ import annotations

import dataclasses
import typing as t

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import USERS

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._org import OrgClient
    from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ScimClient
    from ansible_collections.scimkit.atlassian.plugins.module_utils._users import UserSpec

User = t.Dict[str, t.Any]


class IdentityError(ScimKitError):
    """An item's keys do not lead to exactly one user; nothing may be written for it."""


class UserLookup(t.Protocol):
    """Where the resolver looks users up: by id (one or none), by externalId or userName (all that match)."""

    def by_id(self, user_id: str) -> User | None: ...

    def by_external_id(self, external_id: str) -> list[User]: ...

    def by_user_name(self, user_name: str) -> list[User]: ...


def describe_user(user: User) -> str:
    """How messages name a directory user: its id, with the keys people recognise."""
    parts = [f"userName {user['userName']!r}"] if user.get("userName") else []
    if user.get("externalId"):
        parts.append(f"externalId {user['externalId']!r}")
    extra = f" ({', '.join(parts)})" if parts else ""
    return f"the user with id {user.get('id')!r}{extra}"


def resolve_user(spec: UserSpec, lookup: UserLookup) -> User | None:
    """The one user ``spec`` means, or None when no key finds anybody; IdentityError otherwise."""
    found: list[tuple[str, User]] = []  # (the key that found it, the user)
    if spec.id:
        user = lookup.by_id(spec.id)
        if user is not None:
            found.append((f"id {spec.id!r}", user))
    if spec.external_id:
        found += _single(f"externalId {spec.external_id!r}", lookup.by_external_id(spec.external_id))
    if spec.user_name and not _holds_user_name(found, spec.user_name):
        # userName is unique in a SCIM directory (RFC 7643 section 4.1.1): a user already found
        # under this name is the one the lookup would return, so the request is saved.
        found += _single(f"userName {spec.user_name!r}", lookup.by_user_name(spec.user_name))
    ids = {user["id"] for _key, user in found}
    if len(ids) > 1:
        first_key, first = found[0]
        other_key, other = next((key, user) for key, user in found if user["id"] != first["id"])
        raise IdentityError(
            f"the keys name two different users: {first_key} finds {describe_user(first)}, "
            f"{other_key} finds {describe_user(other)}. Correct them so that every key names the same person."
        )
    for key, user in found:
        held = user.get("externalId")
        if key.startswith("userName") and spec.external_id and held and held != spec.external_id:
            raise IdentityError(
                f"{key} belongs to {describe_user(user)}, whose externalId is not the {spec.external_id!r} "
                "given as external_id. Another person may hold this name now; if it is the same person "
                "with a new HR key, give the user's id too, or correct external_id."
            )
    return found[0][1] if found else None


def _single(key: str, users: list[User]) -> list[tuple[str, User]]:
    if len(users) > 1:
        named = "; ".join(describe_user(user) for user in users)
        raise IdentityError(f"{len(users)} users have {key} ({named}); give the id of the one meant.")
    return [(key, user) for user in users]


def _holds_user_name(found: list[tuple[str, User]], user_name: str) -> bool:
    return any(str(user.get("userName") or "").casefold() == user_name.casefold() for _key, user in found)


class FilterLookup:
    """Lookups through the SCIM API: GET by id, exact-match filters for the other keys."""

    def __init__(self, client: ScimClient) -> None:
        self._client = client

    def by_id(self, user_id: str) -> User | None:
        return self._client.get(USERS, user_id)

    def by_external_id(self, external_id: str) -> list[User]:
        return self._client.find_all(USERS, "externalId", external_id)

    def by_user_name(self, user_name: str) -> list[User]:
        return self._client.find_all(USERS, "userName", user_name, case_insensitive=True)


class DirectoryIndex:
    """Every user of one listing of the directory, looked up without a request.

    Atlassian leaves some users (deactivated, unlinked) out of listings, so an id the listing
    lacks is asked of the server directly, when a client is given.
    """

    def __init__(self, users: t.Iterable[User], client: ScimClient | None = None) -> None:
        self._client = client
        self.by_id_map: dict[str, User] = {}
        self._by_external_id: dict[str, list[User]] = {}
        self._by_user_name: dict[str, list[User]] = {}
        for user in users:
            self.by_id_map[user["id"]] = user
            if user.get("externalId"):
                self._by_external_id.setdefault(user["externalId"], []).append(user)
            if user.get("userName"):
                self._by_user_name.setdefault(str(user["userName"]).casefold(), []).append(user)

    def by_id(self, user_id: str) -> User | None:
        user = self.by_id_map.get(user_id)
        if user is None and self._client is not None:
            user = self._client.get(USERS, user_id)
        return user

    def by_external_id(self, external_id: str) -> list[User]:
        return list(self._by_external_id.get(external_id, []))

    def by_user_name(self, user_name: str) -> list[User]:
        return list(self._by_user_name.get(user_name.casefold(), []))

    def users(self) -> t.Iterable[User]:
        return self.by_id_map.values()


class LinkedUsers:
    """Users Atlassian hides from SCIM filters, found through the SCIM links of the organization admin API.

    Used only after a create was refused with 409 and the filters found nobody: the e-mail's
    Atlassian account may be linked to a SCIM user of this directory that Atlassian hides (a
    deactivated user being rehired). The linked user must still pass every rule above.
    """

    def __init__(self, org: OrgClient, directory_id: str | None) -> None:
        self._org = org
        self._directory_id = directory_id

    def find(self, client: ScimClient, spec: UserSpec) -> User | None:
        email = contact_email(spec)
        if not email:
            return None
        ids = sorted({
            str(link["scimUserId"]) for link in self._org.scim_links(email=email)
            if link.get("scimUserId") and (self._directory_id is None or link.get("directoryId") == self._directory_id)
        })
        if len(ids) > 1:
            raise IdentityError(f"the e-mail {email!r} is linked to {len(ids)} SCIM users of this directory "
                                f"({', '.join(ids)}); give the id of the one meant.")
        if not ids:
            return None
        user = resolve_user(dataclasses.replace(spec, id=ids[0]), FilterLookup(client))
        held = (user or {}).get("externalId")
        if user is not None and spec.external_id and held and held != spec.external_id:
            raise IdentityError(
                f"the e-mail {email!r} is linked to {describe_user(user)}, whose externalId is not the "
                f"{spec.external_id!r} given as external_id; give the user's id if it is the same person."
            )
        return user


def contact_email(spec: UserSpec) -> str | None:
    """The e-mail address Atlassian knows the person by: the primary one the spec sets, else an e-mail-like userName."""
    emails = spec.managed.get(("emails", None)) or []
    primary = next((item.get("value") for item in emails if isinstance(item, dict) and item.get("primary")), None)
    if primary:
        return str(primary)
    return spec.user_name if spec.user_name and "@" in spec.user_name else None


__all__ = ["DirectoryIndex", "FilterLookup", "IdentityError", "LinkedUsers", "UserLookup", "contact_email",
           "describe_user", "resolve_user"]
