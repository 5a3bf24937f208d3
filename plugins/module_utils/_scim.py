# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""The SCIM 2.0 client (RFC 7644): requests, errors, paging, lookups and safe creates."""

from __future__ import annotations

import collections
import json
import typing as t
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, unquote, urlsplit

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import (
    ApiError,
    ConflictError,
    ScimKitError,
    TransportError,
    error_body,
    summarize_body,
)

from ansible_collections.scimkit.atlassian.plugins.module_utils._http import WRITE_METHODS, json_body, path_segment

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._http import HttpClient
    from ansible_collections.scimkit.atlassian.plugins.module_utils._token import TokenProvider

ATLASSIAN_SCIM_URL = "https://api.atlassian.com/scim/directory/{directory_id}"
SCIM_MEDIA_TYPE = "application/scim+json"
# Resource types (RFC 7644 section 3.2 endpoints).
USERS = "Users"
GROUPS = "Groups"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Atlassian returns at most 100 resources a page; asking for more is pointless.
PAGE_SIZE = 100
# Answers after which a create may have been applied even though it reported failure (5xx),
# or that the transport retries for every other method (429, 503): a create resolves them by
# a lookup, then another POST only if the lookup proves the resource absent.
_AMBIGUOUS_STATUSES = frozenset({429, 500, 502, 503, 504})

# Where the bearer token came from, which decides what a 401 means (ScimClient passes it).
FETCHED_TOKEN = "fetched"
GIVEN_TOKEN = "given"
_UNAUTHORIZED_HINTS = {
    # The task asked for this token moments ago and asked again after the first 401.
    FETCHED_TOKEN: " The token this task fetched with client_id was refused, also after fetching a new one. OAuth "
                   "tokens expire after an hour and the task renews them itself, so check that the service "
                   "account's grant to this directory has not expired or been revoked.",
    GIVEN_TOKEN: " Check that the access_token given has not expired: a token from oauth_token lasts an hour "
                 "(fetch a new one, or give client_id so the task fetches its own); a directory SCIM API key "
                 "may have been revoked, or have expired (they last a year).",
}
_HINTS = {
    401: " Check that the access token or SCIM API key is valid and has not expired "
         "(Atlassian's directory API keys expire after a year).",
    403: " The credential lacks permission for this directory: check the service account's "
         "role and the grant Atlassian made for it.",
    404: " Check base_url (or directory_id) names the right SCIM directory.",
}


def check_id(value: t.Any, option: str) -> None:
    """Refuse an id that would not name one resource as a path segment, before any request (see _http.path_segment)."""
    path_segment(value, option, kind="a SCIM id")


def filter_eq(attribute: str, value: str) -> str:
    """An exact-match SCIM filter (RFC 7644 section 3.4.2.2).

    The value is a JSON string, so a quote or backslash in it is escaped and cannot change
    the query. The operator is lower-case because Atlassian rejects ``EQ``.
    """
    return f"{attribute} eq {json.dumps(value, ensure_ascii=False)}"


def parse_error(status: int, text: str, content_type: str | None, method: str, path: str, *,
                token_source: str | None = None) -> ApiError:
    """Build an ApiError from a SCIM error body, tolerating the loose bodies real servers send.

    Atlassian sends ``status`` as a string, sometimes omits ``scimType`` and once garbled the
    schema URN, so nothing here insists on the RFC shape. ``token_source`` (FETCHED_TOKEN or
    GIVEN_TOKEN) chooses the hint after a 401. Only the start of the body is parsed.
    """
    text = error_body(text)
    scim_type = detail = None
    try:
        payload = json.loads(text) if text else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        scim_type = payload.get("scimType") or None
        detail = payload.get("detail") or payload.get("message") or payload.get("error_description") or None
        if detail is None and isinstance(payload.get("error"), str):
            detail = payload["error"]
    message = f"SCIM {method} {path} failed: HTTP {status}"
    if scim_type:
        message += f" {scim_type}"
    if detail:
        message += f": {detail}"
    elif not isinstance(payload, dict):
        message += f" with {summarize_body(text, content_type)}"
    message = message.rstrip(".") + "."
    if status == 404 and "/" in path.strip("/"):
        # /Users/<id>: the directory answered, so it is the resource that is gone, not base_url that is wrong.
        message += (" It no longer exists: it may have been deleted meanwhile, by someone else or an earlier run; "
                    "run the task again to read the directory afresh.")
    elif status == 401 and token_source in _UNAUTHORIZED_HINTS:
        message += _UNAUTHORIZED_HINTS[token_source]
    else:
        message += _HINTS.get(status, "")
    return ApiError(message, status=status, method=method, path=path,
                    scim_type=str(scim_type) if scim_type else None,
                    detail=str(detail) if detail else None)


class ScimClient:
    """Speaks SCIM to one service provider, with one HTTP session and one token provider."""

    def __init__(self, http: HttpClient, base_url: str, tokens: TokenProvider, *, page_size: int = PAGE_SIZE) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._tokens = tokens
        self.page_size = page_size
        self._patch_supported: bool | None = None
        self._write_only: dict[str, frozenset[str]] = {}
        # Writes the server acknowledged: a task that fails after one still reports changed.
        self.writes_done = 0

    # -- plumbing ---------------------------------------------------------

    def request(self, method: str, path: str, *, params: dict[str, t.Any] | None = None,
                body: t.Any = None) -> t.Any:
        """Send one SCIM request and return its decoded JSON (None for an empty answer).

        A 401 on a token this task fetched itself is answered by fetching a new token, once.
        """
        headers = {"Accept": f"{SCIM_MEDIA_TYPE}, application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = SCIM_MEDIA_TYPE
            data = json.dumps(body).encode()
        for attempt in (1, 2):
            token = self._tokens.token()
            headers["Authorization"] = f"Bearer {token}"
            response = self._http.request(method, self.base_url + path, params=params, data=data, headers=headers)
            if response.status_code == 401 and attempt == 1 and self._tokens.can_renew:
                self._tokens.invalidate(token)
                continue
            break
        if method in WRITE_METHODS and response.status_code < 300:
            self.writes_done += 1  # an int add under the GIL; only ever compared with 0
        if response.status_code >= 400:
            raise parse_error(response.status_code, response.text, response.headers.get("Content-Type"), method, path,
                              token_source=FETCHED_TOKEN if self._tokens.can_renew else GIVEN_TOKEN)
        return json_body(response, f"SCIM {method} {path}")

    @staticmethod
    def _resource_path(resource_type: str, resource_id: str | None = None) -> str:
        """``/Users`` or ``/Users/<id>``; an id that is not one path segment is refused (see check_id)."""
        path = f"/{resource_type}"
        if resource_id is None:
            return path
        check_id(resource_id, "id")
        return f"{path}/{quote(resource_id, safe='')}"

    # -- reads ------------------------------------------------------------

    def get(self, resource_type: str, resource_id: str, *, attributes: str | None = None,
            excluded_attributes: str | None = None) -> dict[str, t.Any] | None:
        """One resource by id, or None when the server says 404."""
        params = _shape_params(attributes, excluded_attributes)
        try:
            return self.request("GET", self._resource_path(resource_type, resource_id), params=params or None)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def iter_resources(self, resource_type: str, *, filter: str | None = None, attributes: str | None = None,
                       excluded_attributes: str | None = None) -> t.Iterator[dict[str, t.Any]]:
        """Every resource of a list, page by page (RFC 7644 section 3.4.2.4).

        Paging trusts what came back, not what was asked: the next page starts after the
        items actually returned, so a server that caps ``count`` below the request is still
        read to the end. Pages are not snapshots, so a resource seen twice is yielded once.
        """
        params = self._list_params(filter, attributes, excluded_attributes)
        yield from _unique(self._read_on(f"/{resource_type}", params, 1, None))

    def list(self, resource_type: str, **kwargs: t.Any) -> list[dict[str, t.Any]]:
        return list(self.iter_resources(resource_type, **kwargs))

    def list_all(self, resource_type: str, *, concurrency: int = 1, filter: str | None = None,
                 attributes: str | None = None, excluded_attributes: str | None = None) -> list[dict[str, t.Any]]:
        """Every resource of a list, as ``list`` reads it, but with the pages after the first fetched concurrently.

        Page 1 tells totalResults and the page size the server really uses (the items it
        returned, which may be fewer than ``count`` asked); pages 2.. are then asked at once, by
        at most ``concurrency`` threads, and used in page order. A normal listing thus costs the
        very requests a sequential read sends, one per page; ``concurrency`` 1 is that sequential read.
        """
        path = f"/{resource_type}"
        params = self._list_params(filter, attributes, excluded_attributes)
        if concurrency <= 1:
            return list(_unique(self._read_on(path, params, 1, None)))
        first = self._page(path, params, 1)
        return list(_unique(self._read_concurrently(path, params, first, concurrency)))

    def _read_concurrently(self, path: str, params: dict[str, t.Any], first: dict[str, t.Any],
                           concurrency: int) -> t.Iterator[dict[str, t.Any]]:
        """Page 1's resources, then those of pages 2.. fetched by a thread pool, in a sliding window.

        At most ``concurrency`` pages are asked past the last page read: what page 1 claims in
        totalResults decides nothing more than that, so a server that claims a hundred million
        users costs ``concurrency`` requests beyond the pages it really sends, not one each.
        A page is used only where a sequential read would have asked for it too: every page
        before it was full and said page 1's totalResults. At the first page that breaks this
        (an empty or short page, the listing moved meanwhile, or the server pages oddly) no more
        pages are asked ahead: the rest is read sequentially from that page on, exactly as
        ``iter_resources`` would, which ends at the first empty page, so nothing is lost for the speed.
        """
        resources = first.get("Resources") or []
        yield from resources
        size, total = len(resources), _as_int(first.get("totalResults"))
        if not size or total is None:
            return  # a sequential read stops here too
        starts = iter(range(1 + size, total + 1, size))
        window: collections.deque[tuple[int, t.Any]] = collections.deque()
        gap: tuple[int, dict[str, t.Any]] | None = None
        pool = ThreadPoolExecutor(max_workers=concurrency)

        def ask_ahead() -> None:
            while len(window) < concurrency:
                start = next(starts, None)
                if start is None:
                    return
                window.append((start, pool.submit(self._page, path, params, start)))

        try:
            ask_ahead()
            while window:
                start, future = window.popleft()
                page = future.result()  # an error on any page propagates, as it would sequentially
                resources = page.get("Resources") or []
                if _as_int(page.get("totalResults")) != total or len(resources) != min(size, total - start + 1):
                    gap = (start, page)
                    break
                yield from resources
                ask_ahead()
        finally:
            # After an error or a gap the pages asked ahead are not wanted: cancel those not yet sent.
            pool.shutdown(wait=True, cancel_futures=True)
        if gap:
            yield from self._read_on(path, params, *gap)

    def _read_on(self, path: str, params: dict[str, t.Any], start: int,
                 page: dict[str, t.Any] | None) -> t.Iterator[dict[str, t.Any]]:
        """The resources from ``start`` to the end, a page at a time (``page``: the one at ``start``, if already read).

        The next page starts after the items actually returned; the end is an empty page,
        a page without totalResults, or one whose totalResults the next start passes.
        """
        while True:
            if page is None:
                page = self._page(path, params, start)
            resources = page.get("Resources") or []
            yield from resources
            start += len(resources)
            total = _as_int(page.get("totalResults"))
            if not resources or total is None or start > total:
                return
            page = None

    def _page(self, path: str, params: dict[str, t.Any], start: int) -> dict[str, t.Any]:
        return self.request("GET", path, params={**params, "startIndex": start}) or {}

    def _list_params(self, filter: str | None, attributes: str | None,
                     excluded_attributes: str | None) -> dict[str, t.Any]:
        params: dict[str, t.Any] = {"count": self.page_size, **_shape_params(attributes, excluded_attributes)}
        if filter:
            params["filter"] = filter
        return params

    def total_results(self, resource_type: str, *, filter: str | None = None) -> int | None:
        """How many resources a list holds, asked with ``count=0`` (RFC 7644 section 3.4.2.4).

        Generic on purpose: a caller with many items to look up can compare one paged listing
        (total / page size requests) with one lookup per item before sending either. A server
        that ignores ``count=0`` answers with a normal first page, whose totalResults serves as
        well. None when the server does not say, or refuses the question: the caller then
        decides without it, and the real requests report any real error.
        """
        params: dict[str, t.Any] = {"count": 0}
        if filter:
            params["filter"] = filter
        try:
            page = self.request("GET", f"/{resource_type}", params=params)
        except ApiError:
            return None
        return _as_int(page.get("totalResults")) if isinstance(page, dict) else None

    def find_all(self, resource_type: str, attribute: str, value: str, *, case_insensitive: bool = False,
                 **shape: t.Any) -> list[dict[str, t.Any]]:
        """Every resource whose ``attribute`` equals ``value``, checked here too: a server may filter loosely."""
        wanted = value.casefold() if case_insensitive else value
        return [
            resource for resource in self.iter_resources(resource_type, filter=filter_eq(attribute, value), **shape)
            if _attribute_value(resource, attribute, case_insensitive) == wanted
        ]

    def find_one(self, resource_type: str, attribute: str, value: str, *, case_insensitive: bool = False,
                 **shape: t.Any) -> dict[str, t.Any] | None:
        """The single resource whose ``attribute`` equals ``value``; None if none; an error if several."""
        matches = self.find_all(resource_type, attribute, value, case_insensitive=case_insensitive, **shape)
        if len(matches) > 1:
            ids = ", ".join(str(resource.get("id")) for resource in matches)
            raise ScimKitError(
                f"{len(matches)} {resource_type} have {attribute} {value!r} (ids {ids}); "
                "give the id option to say which one is meant."
            )
        return matches[0] if matches else None

    def write_only_attributes(self, schema: str) -> frozenset[str]:
        """The attributes the server's schema marks write-only (``mutability: writeOnly`` or ``returned: never``).

        Casefolded top-level names, read once per task from ``/Schemas/<urn>``. Empty when the
        server publishes no such schema or cannot be asked: only the known names are refused then.
        """
        if schema not in self._write_only:
            try:
                document = self.request("GET", f"/Schemas/{quote(schema, safe=':')}") or {}
            except (ApiError, ScimKitError):
                document = {}
            attributes = document.get("attributes") if isinstance(document, dict) else None
            self._write_only[schema] = frozenset(
                str(attribute["name"]).casefold() for attribute in attributes or []
                if isinstance(attribute, dict) and attribute.get("name")
                and (str(attribute.get("mutability", "")).lower() == "writeonly"
                     or str(attribute.get("returned", "")).lower() == "never")
            )
        return self._write_only[schema]

    def patch_supported(self) -> bool:
        """Whether the ServiceProviderConfig advertises PATCH; assumed so when it cannot be read."""
        if self._patch_supported is None:
            try:
                config = self.request("GET", "/ServiceProviderConfig") or {}
                patch = config.get("patch") if isinstance(config, dict) else None
                self._patch_supported = bool(patch.get("supported", True)) if isinstance(patch, dict) else True
            except (ApiError, ScimKitError):
                self._patch_supported = True
        return self._patch_supported

    # -- writes -----------------------------------------------------------

    def create(self, resource_type: str, payload: dict[str, t.Any], *,
               find_existing: t.Callable[[], dict[str, t.Any] | None], describe: str,
               conflict_hint: str = "") -> dict[str, t.Any]:
        """Create a resource without ever creating it twice.

        A create answered 409 (uniqueness) is resolved by looking the resource up: if it is
        there, it is the one we wanted; if not, ConflictError says what to check
        (``conflict_hint``). A create that failed ambiguously (a lost answer, a reset, a 5xx or
        429 after the transport's own retries) may have been applied: each time the resource is
        looked up first, and the create is sent again only when the lookup proves it absent,
        up to ``max_retries`` times.
        """
        path = self._resource_path(resource_type)
        retries = self._http.settings.max_retries
        for attempt in range(retries + 1):
            try:
                return self.request("POST", path, body=payload)
            except ApiError as exc:
                if exc.status == 409:
                    existing = find_existing()
                    if existing is not None:
                        return existing
                    raise ConflictError(_conflict_message(describe, exc, conflict_hint), status=exc.status,
                                        scim_type=exc.scim_type, detail=exc.detail) from None
                if exc.status not in _AMBIGUOUS_STATUSES or attempt == retries:
                    raise
            except TransportError as exc:
                if not (exc.maybe_applied and exc.retryable) or attempt == retries:
                    raise
            self._http.pause_before_retry(attempt + 1)
            existing = find_existing()
            if existing is not None:
                return existing
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def patch(self, resource_type: str, resource_id: str, operations: list[dict[str, t.Any]]) -> dict[str, t.Any] | None:
        """Apply PATCH operations (RFC 7644 section 3.5.2); returns the resource when the server sends it."""
        body = {"schemas": [PATCH_OP_SCHEMA], "Operations": operations}
        return self.request("PATCH", self._resource_path(resource_type, resource_id), body=body)

    def replace(self, resource_type: str, resource_id: str, payload: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """PUT the whole resource (for servers without PATCH)."""
        return self.request("PUT", self._resource_path(resource_type, resource_id), body=payload)

    def delete(self, resource_type: str, resource_id: str) -> bool:
        """Delete a resource; False when it was already gone (404)."""
        try:
            self.request("DELETE", self._resource_path(resource_type, resource_id))
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def _shape_params(attributes: str | None, excluded_attributes: str | None) -> dict[str, str]:
    """The query parameters that choose which attributes come back (RFC 7644 section 3.4.2.5)."""
    params = {}
    if attributes:
        params["attributes"] = attributes
    if excluded_attributes:
        params["excludedAttributes"] = excluded_attributes
    return params


def _unique(resources: t.Iterable[dict[str, t.Any]]) -> t.Iterator[dict[str, t.Any]]:
    """Each resource once: pages are not snapshots, so a resource may show up on two of them."""
    seen: set[str] = set()
    for resource in resources:
        key = resource.get("id")
        if key in seen:
            continue
        if key:
            seen.add(key)
        yield resource


def _conflict_message(describe: str, exc: ApiError, hint: str) -> str:
    reason = f"{exc.scim_type}: {exc.detail}" if exc.scim_type and exc.detail else (exc.detail or exc.scim_type or "conflict")
    message = f"Creating {describe} was refused with HTTP 409 ({reason}), yet it cannot be found in the directory."
    return f"{message} {hint}" if hint else message


def _attribute_value(resource: dict[str, t.Any], attribute: str, case_insensitive: bool) -> t.Any:
    value = resource.get(attribute)
    if case_insensitive and isinstance(value, str):
        return value.casefold()
    return value


def _as_int(value: t.Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def directory_id_of(base_url: str) -> str | None:
    """The directory id in an Atlassian SCIM base URL (``.../scim/directory/<id>``); None for another server's URL."""
    parts = [unquote(part) for part in urlsplit(base_url).path.rstrip("/").split("/")]
    return parts[-1] if len(parts) >= 3 and parts[-3:-1] == ["scim", "directory"] and parts[-1] else None


def directory_url(directory_id: str) -> str:
    """Atlassian's SCIM base URL for a directory id."""
    return ATLASSIAN_SCIM_URL.format(directory_id=quote(directory_id, safe=""))


__all__ = [
    "ENTERPRISE_USER_SCHEMA",
    "FETCHED_TOKEN",
    "GIVEN_TOKEN",
    "GROUPS",
    "GROUP_SCHEMA",
    "PAGE_SIZE",
    "PATCH_OP_SCHEMA",
    "ScimClient",
    "USERS",
    "check_id",
    "USER_SCHEMA",
    "directory_id_of",
    "directory_url",
    "filter_eq",
    "parse_error",
]
