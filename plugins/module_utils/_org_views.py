# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""The organization admin API's objects as the modules return them: snake_case, only documented keys."""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit


def _attributes(item: dict[str, t.Any]) -> dict[str, t.Any]:
    attributes = item.get("attributes")
    return attributes if isinstance(attributes, dict) else {}


def user_view(user: dict[str, t.Any]) -> dict[str, t.Any]:
    """An org user (v2 users search or get)."""
    return {
        "account_id": user.get("accountId"),
        "email": user.get("email"),
        "name": user.get("name"),
        "status": user.get("status"),
        "account_status": user.get("accountStatus"),
        "membership_status": user.get("membershipStatus"),
        "claim_status": user.get("claimStatus"),
        "management_source": user.get("managementSource"),
    }


def membership_of(user: dict[str, t.Any]) -> str | None:
    """``active``, ``suspended`` or ``no_membership``; from membershipStatus, else from the composite status."""
    membership = user.get("membershipStatus")
    if membership:
        return str(membership)
    status = user.get("status")
    return str(status) if status in ("active", "suspended") else None


def directory_view(directory: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"directory_id": directory.get("directoryId") or directory.get("id"), "name": directory.get("name")}


def workspace_view(workspace: dict[str, t.Any]) -> dict[str, t.Any]:
    """A workspace (a product on a site): its ARI is what group role assignments name."""
    attributes = _attributes(workspace)
    return {
        "ari": workspace.get("id"),
        "product_key": attributes.get("typeKey"),
        "product_name": attributes.get("type"),
        "name": attributes.get("name"),
        "url": attributes.get("hostUrl"),
        "status": attributes.get("status"),
    }


def comparable_url(url: str | None) -> str:
    """A site URL without scheme, case or trailing slash: ``https://Acme.atlassian.net/`` -> ``acme.atlassian.net``."""
    text = (url or "").strip()
    if not text:
        return ""
    parts = urlsplit(text if "://" in text else f"https://{text}")
    return (parts.netloc + parts.path).rstrip("/").casefold()


def workspace_matches(view: dict[str, t.Any], *, name: str | None = None, products: t.Sequence[str] | None = None) -> bool:
    """Whether a workspace view has this name or URL (case-insensitive) and one of these product keys; unset matches all."""
    if products and view.get("product_key") not in products:
        return False
    if not name:
        return True
    return str(view.get("name") or "").casefold() == name.strip().casefold() or comparable_url(view.get("url")) == comparable_url(name)


def scim_link_view(link: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "scim_user_id": link.get("scimUserId"),
        "directory_id": link.get("directoryId"),
        "account_id": link.get("atlassianAccountId"),
        "org_id": link.get("orgId"),
    }


def api_token_view(token: dict[str, t.Any]) -> dict[str, t.Any]:
    """What may be said about an API token: never its value (the API does not send one; nothing else is kept)."""
    return {"id": token.get("id"), "label": token.get("label"), "created_at": token.get("createdAt")}


__all__ = [
    "api_token_view",
    "comparable_url",
    "directory_view",
    "membership_of",
    "scim_link_view",
    "user_view",
    "workspace_matches",
    "workspace_view",
]
