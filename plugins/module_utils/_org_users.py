# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Desired state of one organization user: suspend, restore or remove, and revoke their API tokens.

Resolve (find the user and, for a write, the directories that hold them), plan (pure), then apply.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, OrgApiError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._org import write_verified
from ansible_collections.scimkit.atlassian.plugins.module_utils._org_views import (
    api_token_view,
    membership_of,
    user_view,
)

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._org import OrgClient

STATES = ("active", "suspended", "removed")
# The membership each state asks for, and the write that gets there from the other one.
_ACTIONS = {
    ("suspended", "active"): "suspended",
    ("active", "suspended"): "restored",
}


@dataclass(frozen=True)
class OrgUserSpec:
    """What the task asks for one user; None means "leave as it is"."""

    email: str | None = None
    account_id: str | None = None
    state: str | None = None
    revoke_api_tokens: bool = False
    confirm_removal: bool = False
    directory_id: str | None = None

    @property
    def describe(self) -> str:
        return f"account id {self.account_id}" if self.account_id else f"e-mail {self.email}"


def org_user_spec(params: dict[str, t.Any]) -> OrgUserSpec:
    """The spec from module parameters, with the rules that need no request checked first."""
    spec = OrgUserSpec(email=params.get("email"), account_id=params.get("account_id"), state=params.get("state"),
                       revoke_api_tokens=bool(params.get("revoke_api_tokens")),
                       confirm_removal=bool(params.get("confirm_removal")),
                       directory_id=params.get("org_directory_id"))
    if not (spec.email or spec.account_id):
        raise ConfigError("Say which user: give email or account_id.")
    if spec.state == "removed" and not spec.confirm_removal:
        raise ConfigError(
            "state=removed takes the user out of the organization's directory, which cannot be undone: getting them "
            "back needs a new invitation, and their roles and groups must be given again. Set confirm_removal=true "
            "to do it, or use state=suspended, which is reversible."
        )
    return spec


def plan_membership(membership: str | None, state: str | None) -> str | None:
    """The write that brings a membership to ``state``: suspended, restored, removed, or None when it holds already."""
    if state is None:
        return None
    if state == "removed":
        return "removed"
    return _ACTIONS.get((state, membership or ""))


def find_user(client: OrgClient, spec: OrgUserSpec) -> dict[str, t.Any] | None:
    """The one org user the spec names, or None."""
    if spec.account_id:
        found = client.search_users(account_ids=[spec.account_id])
    else:
        found = client.search_users(emails=[spec.email or ""])
    if spec.account_id and spec.email:
        found = [user for user in found if str(user.get("email") or "").casefold() == spec.email.casefold()]
    unique = {user.get("accountId"): user for user in found}  # one row per directory is still one person
    if len(unique) > 1:
        ids = ", ".join(sorted(str(account) for account in unique))
        raise ScimKitError(f"{len(unique)} users have {spec.describe} (account ids {ids}); give account_id to say which.")
    return next(iter(unique.values()), None)


def user_directories(client: OrgClient, spec: OrgUserSpec, account_id: str) -> list[str]:
    """The directories a write must name (whether v2 writes take "-" is undocumented, reference section 11 item 3)."""
    if spec.directory_id:
        return [spec.directory_id]
    ids = [directory.get("directoryId") or directory.get("id") for directory in client.directories()]
    ids = [str(directory_id) for directory_id in ids if directory_id]
    if len(ids) == 1:
        return ids
    holding = [directory_id for directory_id in ids if client.search_users(directory_id=directory_id, account_ids=[account_id])]
    if not holding:
        raise ScimKitError(f"The user with {spec.describe} is in none of the organization's directories "
                           f"({', '.join(ids) or 'none listed'}); give org_directory_id.")
    return holding


def reconcile_org_user(client: OrgClient, spec: OrgUserSpec, *, check_mode: bool, diff: bool) -> dict[str, t.Any]:
    """Bring one user to the spec; return the module's result (``changed``, ``action``, ``user``, ...)."""
    user = find_user(client, spec)
    if user is None:
        if spec.state == "removed":  # already out of the organization: nothing left to do
            return _result(None, "unchanged", [], spec, diff=diff, before={}, after={})
        raise ScimKitError(f"No user with {spec.describe} in organization {client.org_id}. A user removed from the "
                           "organization needs a new invitation before it can be managed here.", status=404)
    account_id = str(user.get("accountId"))
    membership = membership_of(user)
    if spec.state == "active" and membership == "no_membership":
        raise ScimKitError(f"The user with {spec.describe} has no membership in the organization; a suspended user can "
                           "be restored, but someone without a membership needs an invitation.")
    action = plan_membership(membership, spec.state)
    tokens = [api_token_view(token) for token in client.api_tokens(account_id)] if spec.revoke_api_tokens else []
    before = _snapshot(user, tokens, spec)
    predicted = _predicted(user, action)
    after = _snapshot(predicted, [], spec) if predicted is not None else {}
    revoked: list[dict[str, t.Any]] = []
    if not check_mode and (action or tokens):
        try:
            revoked = _revoke_tokens(client, account_id, tokens)
            if action:
                _apply_membership(client, spec, account_id, action)
        except ScimKitError as exc:
            exc.details.setdefault("changed", bool(revoked))
            exc.details["revoked_api_tokens"] = _revoked_summary(revoked)
            raise
    else:
        revoked = tokens
    result = _result(predicted, action or "unchanged", revoked, spec, diff=diff, before=before, after=after)
    if user.get("accountStatus") not in (None, "active") and spec.state == "active":
        result["warnings"] = [f"The account itself is {user.get('accountStatus')}; its organization membership is "
                              "active, but the person cannot log in until the account is reactivated."]
    return result


def _predicted(user: dict[str, t.Any], action: str | None) -> dict[str, t.Any] | None:
    if action == "removed":
        return None
    predicted = dict(user)
    if action in ("suspended", "restored"):
        membership = "suspended" if action == "suspended" else "active"
        predicted["membershipStatus"] = membership
        # status is a composite: a deactivated (or not invited, ...) account keeps saying so.
        if predicted.get("status") in ("active", "suspended", None):
            predicted["status"] = membership
    return predicted


def _snapshot(user: dict[str, t.Any], tokens: list[dict[str, t.Any]], spec: OrgUserSpec) -> dict[str, t.Any]:
    """The diff's view: status and membership, plus the token labels when their revocation is asked for."""
    snapshot: dict[str, t.Any] = {"status": user.get("status"), "membership_status": membership_of(user)}
    if spec.revoke_api_tokens:
        snapshot["api_tokens"] = sorted(str(token.get("label")) for token in tokens)
    return snapshot


def _revoke_tokens(client: OrgClient, account_id: str, tokens: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    revoked = []
    for token in tokens:
        token_id = str(token["id"])

        def gone(token_id: str = token_id) -> bool:
            return all(str(other.get("id")) != token_id for other in client.api_tokens(account_id))

        try:
            write_verified(lambda token_id=token_id: client.revoke_api_token(account_id, token_id), applied=gone)
        except OrgApiError as exc:
            if exc.status != 404:  # 404: revoked meanwhile by someone else, so not by this task
                raise
            continue
        revoked.append(token)
    return revoked


def _apply_membership(client: OrgClient, spec: OrgUserSpec, account_id: str, action: str) -> None:
    for directory_id in user_directories(client, spec, account_id):
        try:
            write_verified(lambda directory_id=directory_id: _send_membership(client, action, directory_id, account_id),
                           applied=lambda directory_id=directory_id: _membership_applied(client, action, directory_id, account_id))
        except OrgApiError as exc:
            if action == "removed" and exc.status == 404:
                continue  # left the directory meanwhile
            raise


def _send_membership(client: OrgClient, action: str, directory_id: str, account_id: str) -> None:
    send = {"removed": client.remove_user, "suspended": client.suspend_user, "restored": client.restore_user}[action]
    send(directory_id, account_id)


def _membership_applied(client: OrgClient, action: str, directory_id: str, account_id: str) -> bool:
    """Whether a write whose answer was lost took effect, read back from the directory."""
    found = client.search_users(directory_id=directory_id, account_ids=[account_id])
    if action == "removed":
        return not found
    return bool(found) and membership_of(found[0]) == ("suspended" if action == "suspended" else "active")


def _revoked_summary(tokens: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    return {"count": len(tokens), "labels": sorted(str(token.get("label")) for token in tokens)}


def _result(user: dict[str, t.Any] | None, action: str, revoked: list[dict[str, t.Any]], spec: OrgUserSpec, *,
            diff: bool, before: dict[str, t.Any], after: dict[str, t.Any]) -> dict[str, t.Any]:
    result: dict[str, t.Any] = {
        "changed": action != "unchanged" or bool(revoked),
        "action": action,
        "user": user_view(user) if user is not None else None,
    }
    if spec.revoke_api_tokens:
        result["revoked_api_tokens"] = _revoked_summary(revoked)
    if diff:
        result["diff"] = {"before": before, "after": after}
    return result


__all__ = ["OrgUserSpec", "STATES", "find_user", "org_user_spec", "plan_membership", "reconcile_org_user"]
