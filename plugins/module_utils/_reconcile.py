# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Bring one SCIM user to its desired state: find, then plan, then (outside check mode) apply.

Check mode and a real run share every step up to the write, so they cannot disagree about
``changed`` or the diff.
"""

from __future__ import annotations

import typing as t

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError
from ansible_collections.scimkit.atlassian.plugins.module_utils._identity import FilterLookup, LinkedUsers, resolve_user
from ansible_collections.scimkit.atlassian.plugins.module_utils._outcome import Outcome
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import USER_SCHEMA, USERS
from ansible_collections.scimkit.atlassian.plugins.module_utils._users import (
    Change,
    UserSpec,
    apply_changes,
    create_payload,
    deactivates,
    managed_view,
    patch_operations,
    plan_update,
    refuse_write_only,
    replacement_payload,
)

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ScimClient

# Why a user can be refused as a duplicate yet not be found (reference: Atlassian ACCESS-1293, KB on 409s).
HIDDEN_USER_HINT = (
    "Atlassian hides deactivated and unlinked users from SCIM searches and listings, and answers 409 when the "
    "e-mail address belongs to an Atlassian account outside this directory. To bring back (rehire) a user it "
    "hides, give the user's SCIM id with the id option: your identity provider keeps it for every user it "
    "provisioned, and Atlassian's organization admin API returns it from its SCIM-link lookup by e-mail "
    "(scimkit.atlassian.scim_link_info). Given org_id and api_key, this module does that lookup itself."
)


def check_attributes(client: ScimClient, spec: UserSpec) -> None:
    """Refuse the ``attributes`` keys the server's schema marks write-only; asks the schema only when there are some."""
    if spec.raw_attributes:
        write_only = client.write_only_attributes(USER_SCHEMA)
        for key in spec.raw_attributes:
            refuse_write_only(key, write_only, spec.managed.get((key, None)))


def find_user(client: ScimClient, spec: UserSpec) -> dict[str, t.Any] | None:
    """The one user a spec names, by every key it gives (see _identity); None when nobody is found."""
    return resolve_user(spec, FilterLookup(client))


def describe_action(changes: list[Change]) -> str:
    return "deactivated" if deactivates(changes) else "updated"


def update_user(client: ScimClient, current: dict[str, t.Any], changes: list[Change],
                predicted: dict[str, t.Any]) -> dict[str, t.Any]:
    """Send the update: a minimal PATCH, or a PUT of the merged resource where PATCH is unsupported."""
    user_id = current["id"]
    if client.patch_supported():
        result = client.patch(USERS, user_id, patch_operations(changes))
    else:
        result = client.replace(USERS, user_id, replacement_payload(predicted))
    # RFC 7644 allows 204 without a body; read the user back only then.
    return result or client.get(USERS, user_id) or predicted


def reconcile_user(client: ScimClient, spec: UserSpec, *, check_mode: bool,
                   current: dict[str, t.Any] | None = None, looked_up: bool = False,
                   links: LinkedUsers | None = None) -> Outcome:
    """Make one user match ``spec``. ``current``/``looked_up`` let a bulk caller pass a prefetched user.

    ``links`` (when the organization admin API is configured) finds a user whose create is
    refused with 409 although the SCIM filters cannot see them: a hidden user being rehired.
    """
    if not looked_up:
        check_attributes(client, spec)
        current = find_user(client, spec)

    if spec.state == "absent":
        if current is None:
            return Outcome("unchanged", None)
        if not check_mode:
            # Gone already (a 404, perhaps to a retry of our own lost DELETE) is the state wanted: it was found above.
            client.delete(USERS, current["id"])
        return Outcome("deleted", None, before=managed_view(spec, current))
    if current is None:
        if spec.offboards:
            # Never create someone just to deactivate them; Atlassian hides the deactivated, too.
            return Outcome("unchanged", None)
        if spec.id:
            raise ConfigError(f"No user has id {spec.id!r}; SCIM cannot create a user with a chosen id.")
        payload = create_payload(spec)
        after = managed_view(spec, payload)
        if check_mode:
            return Outcome("created", payload, after=after)
        linked: list[dict[str, t.Any]] = []

        def find_existing() -> dict[str, t.Any] | None:
            found = find_user(client, spec)
            if found is None and links is not None:
                found = links.find(client, spec)
                linked.extend([found] if found else [])
            return found

        created = client.create(USERS, payload, find_existing=find_existing,
                                describe=f"user {spec.user_name!r}", conflict_hint=HIDDEN_USER_HINT)
        # A create resolved to an existing user may still differ from the spec.
        changes = plan_update(spec, created)
        if changes:
            created = update_user(client, created, changes, apply_changes(created, changes))
        if linked:  # someone Atlassian hides, found through the SCIM links: an update (a rehire), not a create
            return Outcome(describe_action(changes) if changes else "unchanged", created,
                           before=managed_view(spec, linked[0]), after=managed_view(spec, created))
        return Outcome("created", created, after=after)
    changes = plan_update(spec, current)
    before = managed_view(spec, current)
    if not changes:
        return Outcome("unchanged", current, before=before, after=before)
    predicted = apply_changes(current, changes)
    after = managed_view(spec, predicted)
    if check_mode:
        return Outcome(describe_action(changes), predicted, before=before, after=after)
    updated = update_user(client, current, changes, predicted)
    return Outcome(describe_action(changes), updated, before=before, after=after)


def read_users(client: ScimClient, *, user_id: str | None = None, user_name: str | None = None,
               filter: str | None = None, attributes: str | None = None,
               excluded_attributes: str | None = None) -> list[dict[str, t.Any]]:
    """Users for scim_user_info: one by id, the one named user_name, those a raw filter finds, or all."""
    shape = {"attributes": attributes, "excluded_attributes": excluded_attributes}
    if user_id:
        user = client.get(USERS, user_id, **shape)
        return [user] if user else []
    if user_name:
        if attributes:
            shape["attributes"] = f"{attributes},userName"  # needed to check the match
        found = client.find_one(USERS, "userName", user_name, case_insensitive=True, **shape)
        return [found] if found else []
    return client.list(USERS, filter=filter, **shape)


__all__ = ["HIDDEN_USER_HINT", "check_attributes", "find_user", "read_users", "reconcile_user", "update_user"]
