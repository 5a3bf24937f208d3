# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""The client of Atlassian's organization admin APIs: requests, errors, cursor pagination, rate limits.

A sibling of the SCIM client over the same HTTP layer (one session, the same retries and
transport rules). It covers the v2 organization API (directories, workspaces, users, groups
and their role assignments), the user-management API (a managed user's API tokens) and the
user-provisioning SCIM-link API, all authenticated with the organization API key.
Facts and their sources: ../shared/reference/atlassian-org-api.md (cited below as "reference").
"""

from __future__ import annotations

import json
import typing as t
from urllib.parse import parse_qs, urlsplit

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import (
    OrgApiError,
    ScimKitError,
    TransportError,
    summarize_body,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._http import WRITE_METHODS, json_body, path_segment, seconds_until

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._http import HttpClient

ATLASSIAN_ADMIN_URL = "https://api.atlassian.com"
# On reads and searches "-" means every directory the key may manage (reference section 0).
ALL_DIRECTORIES = "-"
# Answers after which a write may have been applied although it reported failure: the caller reads before resending.
AMBIGUOUS_STATUSES = frozenset({500, 502, 503, 504})
# A listing longer than this many pages is a server that never says "last page".
MAX_PAGES = 10000
# Seconds a pause announced by X-RateLimit-Remaining: 0 may last at most (the 429 path has the same cap).
MAX_RATE_LIMIT_PAUSE = 120.0

_HINTS = {
    401: " Check api_key: it must be an organization API key (admin.atlassian.com > Settings > API keys), "
         "not a site API token or a SCIM directory key, and it expires at the latest a year after its creation.",
    403: " The key may not do this: user and group writes and the user-management API (API tokens) need an "
         "API key created without scopes, and the organization must manage the user or group.",
    429: " Atlassian's rate limit was still exceeded after max_retries retries; run the task again later.",
}


def parse_org_error(status: int, text: str, content_type: str | None, method: str, path: str) -> OrgApiError:
    """One error from any of the bodies the admin APIs send (reference section 9).

    v2 ``{"errors": [{"code", "title", "detail"}]}``, the gateway's v1 ``{"code", "message"}``,
    user management's ``{"key"}`` and ``[{"code", "message"}]``, SCIM's ``{"scimType", "detail"}``,
    a Spring-style ``{"error", "message"}``, or plain text: the message names code, title and detail.
    """
    entries = _error_entries(_json_or_none(text))
    message = f"Atlassian admin API {method} {path} failed: HTTP {status}"
    if entries:
        message += ": " + "; ".join(_describe_entry(*entry) for entry in entries)
    else:
        message += f" with {summarize_body(text, content_type)}"
    code, title, detail = entries[0] if entries else (None, None, None)
    hint = " Check org_id: the organization was not found." if code == "ADMIN-404-2" else _HINTS.get(status, "")
    message = message.rstrip(".") + "." + hint
    return OrgApiError(message, status=status, method=method, path=path, code=code, title=title, detail=detail)


def _json_or_none(text: str) -> t.Any:
    try:
        return json.loads(text) if text and text.strip() else None
    except ValueError:
        return None


def _text(value: t.Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value).strip() or None


def _error_entries(payload: t.Any) -> list[tuple[str | None, str | None, str | None]]:
    """(code, title, detail) of each error a body holds; empty when it holds none we can read."""
    if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
        items: list[t.Any] = payload["errors"]
    elif isinstance(payload, list):
        items = payload
    elif isinstance(payload, dict):
        items = [payload]
    else:
        return []
    entries = []
    for item in items:
        if isinstance(item, str):
            entries.append((None, None, _text(item)))
            continue
        if not isinstance(item, dict):
            continue
        code = _text(item.get("code") or item.get("key") or item.get("scimType"))
        title = _text(item.get("title") or item.get("error"))
        detail = _text(item.get("detail") or item.get("message") or item.get("error_description"))
        if code or title or detail:
            entries.append((code, title, detail))
    return entries


def _describe_entry(code: str | None, title: str | None, detail: str | None) -> str:
    head = " ".join(part for part in (code, title) if part)
    if head and detail and detail != title:
        return f"{head}: {detail}"
    return head or detail or ""


def next_cursor(page: t.Any) -> str | None:
    """The cursor of the next page, from ``links.next``; None on the last page.

    v2 searches send an opaque cursor; the workspaces listing types the link as a URL (how to
    turn it into a cursor is undocumented, reference section 11 item 5): its ``cursor`` query
    parameter is used then, and a URL without one fails rather than silently stop reading.
    """
    links = page.get("links") if isinstance(page, dict) else None
    link = links.get("next") if isinstance(links, dict) else None
    if not link or not isinstance(link, str):
        return None
    if "://" in link or link.startswith("/") or "?" in link:
        values = parse_qs(urlsplit(link).query).get("cursor")
        if not values or not values[0]:
            raise ScimKitError(f"The next-page link {link!r} carries no cursor, so the listing cannot be read on.")
        return values[0]
    return link


def is_ambiguous(error: Exception) -> bool:
    """Whether a failed write may nonetheless have been applied (so a read must decide before resending)."""
    if isinstance(error, TransportError):
        return error.maybe_applied
    return isinstance(error, OrgApiError) and error.status in AMBIGUOUS_STATUSES


def write_verified(send: t.Callable[[], t.Any], *, applied: t.Callable[[], bool]) -> None:
    """Send a write; after an answer that leaves open whether it took effect, read, and resend only if it did not.

    The admin API's writes are not declared safe to repeat (reference section 9: retry mutations
    only on 429, which the HTTP layer does), so a lost answer is settled by ``applied``.
    """
    try:
        send()
        return
    except (OrgApiError, TransportError) as exc:
        if not is_ambiguous(exc):
            raise
    if applied():
        return
    send()


class OrgClient:
    """Speaks to the organization admin APIs of one organization with its API key."""

    def __init__(self, http: HttpClient, base_url: str, org_id: str, api_key: str) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.org_id = org_id
        self._api_key = api_key
        self._read_posts: set[str] = set()
        # Writes the server acknowledged: a task that fails after one still reports changed.
        self.writes_done = 0
        for prefix in ("/admin/", "/users/"):
            http.retry_writes_only_on_429(self.base_url + prefix)

    # -- plumbing ---------------------------------------------------------

    @property
    def _org(self) -> str:
        return f"/admin/v2/orgs/{_segment(self.org_id)}"

    def request(self, method: str, path: str, *, params: dict[str, t.Any] | None = None, body: t.Any = None) -> t.Any:
        """Send one request; return its decoded JSON (None for an empty answer) or raise OrgApiError."""
        headers = {"Accept": "application/json", "Authorization": f"Bearer {self._api_key}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        response = self._http.request(method, self.base_url + path, params=params, data=data, headers=headers)
        self._respect_rate_limit(response)
        if method in WRITE_METHODS and path not in self._read_posts and response.status_code < 300:
            self.writes_done += 1
        if response.status_code >= 400:
            raise parse_org_error(response.status_code, response.text, response.headers.get("Content-Type"),
                                  method, path)
        return json_body(response, f"Atlassian admin API {method} {path}")

    def read_by_post(self, path: str, body: t.Any) -> t.Any:
        """A POST that only reads (searches, workspaces, links by e-mail): retried like a GET after a 5xx or a lost answer."""
        if path not in self._read_posts:
            self._http.retry_posts_to(self.base_url + path)
            self._read_posts.add(path)
        return self.request("POST", path, body=body)

    def _respect_rate_limit(self, response: t.Any) -> None:
        """When the answer says no request is left in this window, hold every request until the window resets."""
        if str(response.headers.get("X-RateLimit-Remaining", "")).strip() != "0":
            return
        seconds = seconds_until(response.headers.get("X-RateLimit-Reset"))
        if seconds:
            self._http.gate.hold(min(seconds, MAX_RATE_LIMIT_PAUSE))

    def _pages(self, fetch: t.Callable[[str | None], t.Any]) -> t.Iterator[dict[str, t.Any]]:
        """Every item of a cursor-paged listing: ``fetch(cursor)`` returns one page; stop when ``links.next`` is absent."""
        cursor: str | None = None
        seen: set[str] = set()
        for _page in range(MAX_PAGES):
            page = fetch(cursor) or {}
            data = page.get("data") if isinstance(page, dict) else None
            yield from (item for item in data or [] if isinstance(item, dict))
            cursor = next_cursor(page)
            if cursor is None:
                return
            if cursor in seen:  # a server bug; reading on would loop for ever
                raise ScimKitError("The admin API returned the same page cursor twice; the listing cannot be read to its end.")
            seen.add(cursor)
        raise ScimKitError(f"The admin API listing did not end after {MAX_PAGES} pages.")

    def _search(self, path: str, body: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        """A v2 POST search read to the end: the same filters with the cursor in the body (reference section 8)."""
        return list(self._pages(lambda cursor: self.read_by_post(path, {**body, **({"cursor": cursor} if cursor else {})})))

    def _list(self, path: str, params: dict[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        """A v2 GET listing read to the end (``?cursor=``; with a cursor the server ignores other parameters)."""
        return list(self._pages(lambda cursor: self.request("GET", path, params={"cursor": cursor} if cursor else params)))

    # -- directories and workspaces (reference section 6) -------------------

    def directories(self) -> list[dict[str, t.Any]]:
        return self._list(f"{self._org}/directories")

    def workspaces(self) -> list[dict[str, t.Any]]:
        # A body with a cursor may hold no other field, so the first page asks with an empty body.
        return list(self._pages(lambda cursor: self.read_by_post(f"{self._org}/workspaces", {"cursor": cursor} if cursor else {})))

    # -- users (reference sections 2, 3, 5) ---------------------------------

    def search_users(self, *, directory_id: str = ALL_DIRECTORIES, emails: list[str] | None = None,
                     account_ids: list[str] | None = None, statuses: list[str] | None = None) -> list[dict[str, t.Any]]:
        """Users matching every filter given, every page read; emails and ids re-checked here, as the server may match loosely."""
        body: dict[str, t.Any] = {}
        if emails:
            body["emails"] = list(emails)
        if account_ids:
            body["accountIds"] = list(account_ids)
        if statuses:
            body["status"] = list(statuses)
        users = self._search(f"{self._org}/directories/{_segment(directory_id)}/users/search", body)
        wanted_emails = {email.casefold() for email in emails or []}
        return [
            user for user in users
            if (not emails or str(user.get("email") or "").casefold() in wanted_emails)
            and (not account_ids or user.get("accountId") in account_ids)
            and (not statuses or user.get("status") in statuses)
        ]

    def _user_path(self, directory_id: str, account_id: str) -> str:
        return f"{self._org}/directories/{_segment(directory_id)}/users/{_segment(account_id)}"

    def suspend_user(self, directory_id: str, account_id: str) -> None:
        self.request("POST", self._user_path(directory_id, account_id) + "/suspend")

    def restore_user(self, directory_id: str, account_id: str) -> None:
        self.request("POST", self._user_path(directory_id, account_id) + "/restore")

    def remove_user(self, directory_id: str, account_id: str) -> None:
        self.request("DELETE", self._user_path(directory_id, account_id))

    def api_tokens(self, account_id: str) -> list[dict[str, t.Any]]:
        """A managed user's API tokens (id, label, dates; never a token's value). Not paged."""
        tokens = self.request("GET", f"/users/{_segment(account_id)}/manage/api-tokens")
        if isinstance(tokens, dict):  # tolerate a {data: [...]} wrapper
            tokens = tokens.get("data")
        return [token for token in tokens or [] if isinstance(token, dict)]

    def revoke_api_token(self, account_id: str, token_id: str) -> None:
        self.request("DELETE", f"/users/{_segment(account_id)}/manage/api-tokens/{_segment(token_id)}")

    # -- groups and product access (reference section 1) --------------------

    def search_groups(self, *, names: list[str] | None = None, group_ids: list[str] | None = None) -> list[dict[str, t.Any]]:
        """Groups by exact name (case-insensitive) or id, in every directory, re-checked here."""
        body: dict[str, t.Any] = {}
        if names:
            body["groupNames"] = list(names)
        elif group_ids:  # groupNames cannot be combined with groupIds (400)
            body["groupIds"] = list(group_ids)
        groups = self._search(f"{self._org}/directories/{ALL_DIRECTORIES}/groups/search", body)
        wanted = {name.casefold() for name in names or []}
        return [
            group for group in groups
            if (not names or str(group.get("name") or "").casefold() in wanted)
            and (not group_ids or group.get("id") in group_ids)
        ]

    def _group_path(self, directory_id: str, group_id: str) -> str:
        return f"{self._org}/directories/{_segment(directory_id)}/groups/{_segment(group_id)}"

    def role_assignments(self, directory_id: str, group_id: str) -> list[dict[str, t.Any]]:
        """The group's role assignments: ``[{resourceId, roles: [...]}, ...]``, every page."""
        return self._list(self._group_path(directory_id, group_id) + "/role-assignments")

    def assign_role(self, directory_id: str, group_id: str, resource_id: str, role_id: str) -> None:
        self.request("POST", self._group_path(directory_id, group_id) + "/role-assignments/assign",
                     body={"resourceId": resource_id, "roleId": role_id})

    def revoke_role(self, directory_id: str, group_id: str, resource_id: str, role_id: str) -> None:
        self.request("POST", self._group_path(directory_id, group_id) + "/role-assignments/revoke",
                     body={"resourceId": resource_id, "roleId": role_id})

    # -- SCIM links (reference section 4) -----------------------------------

    def scim_links(self, *, email: str | None = None, account_id: str | None = None) -> list[dict[str, t.Any]]:
        """The SCIM records linked to an Atlassian account, found by e-mail or account id."""
        base = f"/admin/user-provisioning/v1/org/{_segment(self.org_id)}"
        if account_id:
            answer = self.request("GET", f"{base}/user/{_segment(account_id)}/get-scim-links")
        else:
            answer = self.read_by_post(f"{base}/get-scim-links-for-email", {"email": email})
        links = answer.get("scimLinks") if isinstance(answer, dict) else None
        return [link for link in links or [] if isinstance(link, dict)]


def _segment(value: str) -> str:
    """A value as one URL path segment: an id holding "/" or "..", or an empty one, cannot reach another endpoint."""
    return path_segment(value, "id")


__all__ = [
    "ALL_DIRECTORIES",
    "ATLASSIAN_ADMIN_URL",
    "OrgClient",
    "is_ambiguous",
    "next_cursor",
    "parse_org_error",
    "write_verified",
]
