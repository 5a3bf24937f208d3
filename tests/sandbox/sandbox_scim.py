# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SCIM side of the sandbox: scim2-server plus the Atlassian behaviour it lacks.

scim2-server (PyPI) does the SCIM protocol work: parsing, filters, PATCH
paths, PUT semantics, uniqueness of userName. This module adds, around it:

- bearer-token authentication (sandbox-issued token or the static API key);
- Atlassian's filter restrictions (``strict_filters``);
- hiding inactive users from lists (``hide_inactive``);
- PATCH answering 200 with the resource (scim2-server answers 204);
- 409 on a duplicate group displayName, and group members that carry
  ``type``/``display``/``$ref`` and must exist;
- users' read-only ``groups`` attribute, and removal of a deleted user from
  its groups;
- ``active`` defaulting to true when a write leaves it out;
- a listing cache, so that a plain list page costs the same whatever the
  directory size (see ``SandboxStorage.search``), and a cache of each listed
  resource's rendered entry, so that a page does not re-serialize unchanged
  resources (see ``SandboxService.search_response``).

Some of this uses private hooks of scim2-server 0.8.3 (``_candidates``,
``_store``, ``_remove``, ``_values_of``, ``_resources``); they are marked
where used.
"""

from __future__ import annotations

import hmac
import json
import re
from http import HTTPStatus
from operator import attrgetter
from typing import Any, Callable, Union

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    ETag,
    External,
    Filter,
    InvalidValueException,
    ListResponse,
    Patch,
    Reference,
    Resource,
    ResourceType,
    ResponseParameters,
    ScimProvider,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    UniquenessException,
)
from scim2_server.applications.wsgi import WSGIApplication
from scim2_server.memory import InMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.service import ScimService
from scim2_server.storage import SearchPage
from scim2_server.utils import load_default_resource_types, load_default_schemas, parametrize
from werkzeug.wrappers import Request, Response

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

# Atlassian: /Users accepts only `userName eq "..."` or `externalId eq "..."`,
# /Groups only `displayName eq "..."`; an upper-case EQ is rejected too.
_FILTER_RE = re.compile(r'^\s*([A-Za-z][\w:.]*)\s+eq\s+"(?:[^"\\]|\\.)*"\s*$')
# Keyed by the casefolded endpoint: scim2-server matches endpoints case-insensitively.
STRICT_FILTER_ATTRIBUTES = {
    "users": ("username", "externalid"),
    "groups": ("displayname",),
}
ATLASSIAN_RESOURCE_NAMES = {"users": "USER", "groups": "GROUP"}


def scim_error(status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """A SCIM error response (RFC 7644 §3.12); status is a string in the body."""
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    body["detail"] = detail
    return Response(json.dumps(body), status=status, content_type="application/scim+json", headers=headers or {})


def service_provider_config(page_size_cap: int) -> ServiceProviderConfig:
    """What the sandbox advertises: PATCH and filtering; no bulk, sort or ETags (as Atlassian's model)."""
    return ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        # scim2-server bounds every page by filter.maxResults: that is the page size cap.
        filter=Filter(supported=True, max_results=page_size_cap),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                description="Access token from POST /oauth/token, or the directory API key",
                spec_uri=Reference[External]("https://datatracker.ietf.org/doc/html/rfc6750"),
                primary=True,
            )
        ],
    )


class SandboxService(ScimService):
    def patch_response(self, base_url: str, resource: Resource[Any], response_parameters: ResponseParameters[Any]) -> ScimResponse:
        # scim2-server answers 204 when no `attributes` were asked for (RFC
        # 7644 allows it); Atlassian answers 200 with the resource, and
        # clients rely on reading it back.
        return self.resource_response(
            self.publish(base_url, resource),
            Context.RESOURCE_REPLACEMENT_RESPONSE,
            response_parameters,
        )

    def search_response(self, base_url: str, resource_types: list[ResourceType], page: SearchPage, search_request: SearchRequest[Any]) -> ScimResponse:
        """The ListResponse of a page; a plain list page reuses each resource's rendered entry.

        scim2-server renders every resource of every page anew: it publishes it
        (a deep copy, and its references made URLs), dumps it, then validates
        the dumps again into a ListResponse and dumps that. That cost ~1.3 ms a
        user. A plain list page (a ``ListingPage``, see SandboxStorage.search)
        keeps each resource's entry, as it appears in the ``Resources`` of the
        library's body, in the storage's rendered cache. An entry serves only
        the very stored object it was rendered from (every write stores a new
        object, so identity is the version) and, for a user, the same `groups`
        entries; so a write makes only the entries it touched stale, and a
        no-change read after a bulk write is still cheap. The key holds every
        other input of the rendering: the resource type and id, the base URL,
        whether versions are published (ETag support), and the ``attributes``
        / ``excludedAttributes`` of the request.

        Misses are rendered by the library's own steps (publish, dump, and the
        ListResponse round trip), all in one ListResponse as the library does;
        each entry's rendering depends on that entry alone. The envelope
        (schemas, totalResults, startIndex, itemsPerPage) is the library's own
        ListResponse dumped with an empty ``Resources``, which is then filled
        in. Cursor searches, filtered or sorted searches (a plain SearchPage)
        and empty pages take the library's path unchanged.
        """
        if not isinstance(page, ListingPage) or search_request.cursor is not None or not page.stored:
            return super().search_response(base_url, resource_types, page, search_request)
        rendered = page.rendered
        variant = (
            base_url,
            self.etag_supported,
            tuple(str(a) for a in search_request.attributes or ()),
            tuple(str(a) for a in search_request.excluded_attributes or ()),
        )
        keys = [(stored.meta.resource_type if stored.meta else None, stored.id, variant) for stored in page.stored]
        # Each entry is taken once, here: another request may replace a cache slot meanwhile.
        entries: list[dict[str, Any] | None] = []
        missing: list[tuple[int, Resource[Any], Any]] = []
        for position, (key, stored) in enumerate(zip(keys, page.stored)):
            groups = page.groups_of(stored)
            cached = rendered.get(key)
            if cached is not None and cached[0] is stored and cached[1] == groups:
                entries.append(cached[2])
            else:
                entries.append(None)
                missing.append((position, stored, groups))
        if missing:
            # The library's steps (ScimService.search_response), on the page's own copies.
            dumped = [
                self.publish(base_url, page.listed_copy(stored)).model_dump(
                    scim_ctx=Context.RESOURCE_QUERY_RESPONSE,
                    response_parameters=search_request,
                )
                for _position, stored, _groups in missing
            ]
            fresh = self._list_response(len(dumped), len(dumped), 1, dumped)["Resources"]
            for (position, stored, groups), entry in zip(missing, fresh):
                entries[position] = entry
                rendered[keys[position]] = (stored, groups, entry)
        body = self._list_response(page.total, len(keys), search_request.start_index, [])
        body["Resources"] = entries  # the entries are shared: never changed after this
        return ScimResponse(HTTPStatus.OK, body)

    def _list_response(self, total: int | None, items: int, start: int | None, dumped: list[dict[str, Any]]) -> dict[str, Any]:
        """The dumped ListResponse that ScimService.search_response builds for these numbers and dumped resources."""
        response = parametrize(ListResponse, Union[tuple(self.get_models())])(  # noqa: UP007
            total_results=total,
            items_per_page=items,
            start_index=start,
            next_cursor=None,
            previous_cursor=None,
            resources=dumped,
        )
        return response.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


class ListingPage(SearchPage):
    """A plain list page (SandboxStorage.search): the stored resources, copied only when asked.

    ``stored`` holds the stored objects themselves: no write changes a stored
    object, every write stores a new one (scim2-server's create/update and our
    _drop_member_everywhere copy first), so they stay as they were when the
    page was taken, even once the storage lock is released. ``memberships``
    (the users' groups) is the storage's index at that time, for the same
    reason: a write replaces it rather than changing it. ``rendered`` is the
    storage's shared rendered-entry cache; its entries carry the stored object
    and groups they were made from, so a page uses only those that match it.
    ``resources`` is what InMemoryStorage.search would have given: deep copies
    with the users' groups filled.
    """

    def __init__(self, total: int, stored: list[Resource[Any]], storage: SandboxStorage,
                 memberships: dict[str, list[dict[str, Any]]] | None,
                 rendered: dict[Any, tuple[Any, Any, dict[str, Any]]]):
        self.total = total
        self.next = None
        self.previous = None
        self.stored = stored
        self.storage = storage
        self.memberships = memberships
        self.rendered = rendered
        self._resources: list[Resource[Any]] | None = None

    def groups_of(self, stored: Resource[Any]) -> list[dict[str, Any]] | None:
        """The `groups` entries a listed user gets (None for a group, or a user in no group)."""
        if self.memberships is None or not _is_type(stored, "User"):
            return None
        return self.memberships.get(stored.id or "")

    def listed_copy(self, stored: Resource[Any]) -> Resource[Any]:
        copy = stored.model_copy(deep=True)
        self.storage._fill_groups(copy, self.memberships)
        return copy

    @property  # type: ignore[override]
    def resources(self) -> list[Resource[Any]]:
        if self._resources is None:
            self._resources = [self.listed_copy(stored) for stored in self.stored]
        return self._resources

    @resources.setter
    def resources(self, resources: list[Resource[Any]]) -> None:
        self._resources = resources


def _is_type(resource: Resource[Any], name: str) -> bool:
    return bool(resource.meta and resource.meta.resource_type == name)


def _membership(group: Any) -> dict[str, Any]:
    """A user's `groups` entry for a group that lists it."""
    return {"value": group.id, "display": group.display_name, "type": "direct", "ref": f"Groups/{group.id}"}


class SandboxStorage(InMemoryStorage):
    """In-memory storage with Atlassian's group rules, inactive-user hiding and listing caches."""

    def __init__(self, hide_inactive: Callable[[], bool]):
        super().__init__()
        self.hide_inactive = hide_inactive
        # The listing caches (see search, and SandboxService.search_response). The first two
        # are dropped by every write (_invalidate); rendered entries check their own validity.
        # (resource type names, hide_inactive) -> the listed resources, in scim2-server's order
        self._listings: dict[tuple[tuple[str | None, ...], bool], list[Resource[Any]]] = {}
        # user id -> its `groups` entries, in group order; None until a list needs it
        self._memberships: dict[str, list[dict[str, Any]]] | None = None
        # (type, id, rendering variant) -> (the stored object, its user's groups, its entry in a
        # list page) (SandboxService.search_response)
        self._rendered: dict[Any, tuple[Any, Any, dict[str, Any]]] = {}

    # -- reads --------------------------------------------------------------

    def _candidates(self, names: list[str | None], scim_filter: Any) -> list[Resource[Any]]:
        # Private hook (0.8.3): the resources a search walks, before paging.
        # Dropping inactive users here keeps totalResults and paging right.
        found = super()._candidates(names, scim_filter)
        if self.hide_inactive():
            found = [r for r in found if not (_is_type(r, "User") and getattr(r, "active", None) is False)]
        return found

    def get(self, resource_type: ResourceType, resource_id: str, *, response_parameters: ResponseParameters[Any] | None = None) -> Resource[Any]:
        with self.lock:
            resource = super().get(resource_type, resource_id, response_parameters=response_parameters)
            self._fill_groups(resource, self._memberships)  # the index if a list built it since the last write, else a scan
            return resource

    def search(self, resource_types: list[ResourceType], search_request: SearchRequest[Any], *, position: Any = None) -> SearchPage:
        """A search; a plain list page (no filter, sortBy or cursor) comes from the listing cache.

        scim2-server's InMemoryStorage.search walks, filters and sorts every
        resource of the searched types for each page, so reading a directory
        page by page was quadratic. A plain list always sorts the same
        resources the same way, so the sorted list is kept until the next write
        and a page is a slice of it: the cost of a page no longer depends on
        the directory size (the first page after a write pays one sort).

        Same answers as before: the list holds what ``_candidates`` gives
        (inactive users dropped under hide_inactive, which is part of the
        key), in the order scim2-server's ``_page`` gives without sortBy (its
        key is ``(True, "", id)``, i.e. the id, stable), and a page is the
        same slice ``_page`` takes. Filters, sortBy and cursors (the last two
        are refused before this point, as the sandbox announces neither) take
        scim2-server's own path. Attribute projection happens later, in the
        service, on the page as before.

        A plain list page is a ``ListingPage``: it holds the stored resources
        and copies them (with their groups) only when its ``resources`` are
        read, as the service does for the entries its rendered cache lacks.
        """
        with self.lock:
            if search_request.filter is None and search_request.sort_by is None and search_request.cursor is None and position is None:
                names = list(dict.fromkeys(rt.name for rt in resource_types))  # as InMemoryStorage.search
                found = self._listing(names)
                start = search_request.start_index_0 or 0  # as scim2-server's _page
                stop = None if search_request.count is None else start + search_request.count
                stored = found[start:stop]
                memberships = self._membership_index() if any(_is_type(r, "User") for r in stored) else None
                return ListingPage(len(found), stored, self, memberships, self._rendered)
            page = super().search(resource_types, search_request, position=position)
            memberships = self._membership_index() if any(_is_type(r, "User") for r in page.resources) else None
            for resource in page.resources:
                self._fill_groups(resource, memberships)
            return page

    def _listing(self, names: list[str | None]) -> list[Resource[Any]]:
        """Every resource of these types that a list shows, sorted as scim2-server sorts it (cached until a write)."""
        key = (tuple(names), bool(self.hide_inactive()))
        listing = self._listings.get(key)
        if listing is None:
            listing = self._listings[key] = sorted(self._candidates(names, None), key=attrgetter("id"))
        return listing

    def _membership_index(self) -> dict[str, list[dict[str, Any]]]:
        """User id -> its `groups` entries, as _fill_groups would scan them (cached until a write).

        Without it every user of a page scanned every member of every group.
        """
        if self._memberships is None:
            index: dict[str, list[dict[str, Any]]] = {}
            for group in self._resources.get("Group", {}).values():  # private (0.8.3)
                for value in {member.value for member in group.members or []}:
                    index.setdefault(value, []).append(_membership(group))
            self._memberships = index
        return self._memberships

    def _fill_groups(self, resource: Resource[Any], memberships: dict[str, list[dict[str, Any]]] | None = None) -> None:
        """Set a user's read-only `groups` from the groups that list it (RFC 7643 §4.1.2).

        ``memberships`` is the cached index (searches); without it the groups are scanned (one resource).
        """
        if not _is_type(resource, "User"):
            return
        if memberships is not None:
            found = [dict(entry) for entry in memberships.get(resource.id or "", [])]
        else:
            found = [
                _membership(group)
                for group in self._resources.get("Group", {}).values()  # private (0.8.3)
                if any(member.value == resource.id for member in group.members or [])
            ]
        # Plain dicts: assignment validates them into the provider's own model classes.
        resource.groups = found or None

    # -- cache invalidation: every change of the stored resources goes through these

    def _invalidate(self) -> None:
        self._listings.clear()
        self._memberships = None

    def _store(self, resource: Resource[Any], values: dict[str, Any]) -> None:
        # Private hook (0.8.3): create, update, and our member clean-up store through it.
        with self.lock:
            self._invalidate()
            super()._store(resource, values)

    def _remove(self, key: Any) -> None:
        # Private hook (0.8.3): delete (and _store) forget a resource through it.
        with self.lock:
            self._invalidate()
            super()._remove(key)

    @InMemoryStorage.resources.setter
    def resources(self, resources: list[Resource[Any]]) -> None:
        # Replacing everything (clear) resets the dicts without _store/_remove.
        with self.lock:
            self._invalidate()
            InMemoryStorage.resources.fset(self, resources)
            self._invalidate()
            self._rendered = {}  # nothing rendered before is wanted again

    # -- writes -------------------------------------------------------------

    def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        with self.lock:
            resource = self._prepare_write(resource_type, resource, resource_id=None)
            # No _fill_groups(created): it scanned every member of every group and always
            # found nothing. A group lists only ids that existed when it was written
            # (_resolve_members), a deleted user leaves every group, and the new id is
            # fresh; `groups` is already None (_prepare_write).
            return super().create(resource_type, resource)

    def update(self, resource_type: ResourceType, resource: Resource[Any], *, expected_version: str | None = None) -> Resource[Any]:
        with self.lock:
            resource = self._prepare_write(resource_type, resource, resource_id=resource.id)
            updated = super().update(resource_type, resource, expected_version=expected_version)
            self._fill_groups(updated)
            return updated

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version: str | None = None) -> None:
        with self.lock:
            super().delete(resource_type, resource_id, expected_version=expected_version)
            if resource_type.name == "User":
                self._drop_member_everywhere(resource_id)

    def clear(self) -> None:
        with self.lock:
            self.resources = []

    def _prepare_write(self, resource_type: ResourceType, resource: Resource[Any], resource_id: str | None) -> Resource[Any]:
        resource = resource.model_copy(deep=True)
        # The provider builds its models from the schemas, so they are not
        # scim2_models.User/Group subclasses: go by the resource type name.
        if resource_type.name == "User":
            resource.groups = None  # derived on read, never stored
            if resource.active is None:
                resource.active = True  # Atlassian: active defaults to true when omitted
        elif resource_type.name == "Group":
            self._check_group_name(resource, resource_id)
            resource.members = self._resolve_members(resource.members) or None
        return resource

    def _check_group_name(self, group: Any, group_id: str | None) -> None:
        # Atlassian: creating a group with an existing name -> 409. The RFC
        # schema gives displayName no uniqueness, so scim2-server allows it.
        name = (group.display_name or "").casefold()
        for other in self._resources.get("Group", {}).values():
            if other.id != group_id and (other.display_name or "").casefold() == name:
                raise UniquenessException(detail=f"Resource [GROUP]: group with displayName [{group.display_name}] already exists.")

    def _resolve_members(self, members: list[Any] | None) -> list[dict[str, Any]]:
        """Dedupe members and fill type/display/$ref; refuse ids that do not exist."""
        resolved: dict[str, dict[str, Any]] = {}
        users = self._resources.get("User", {})
        groups = self._resources.get("Group", {})
        for member in members or []:
            value = member.value
            if not value:
                raise InvalidValueException(detail="a group member needs a value (the SCIM id of a user)")
            if value in resolved:
                continue  # RFC 7644 §3.5.2.1: adding an existing member changes nothing
            if value in users:
                user = users[value]
                resolved[value] = {"value": value, "type": "User", "display": user.display_name or user.user_name, "ref": f"Users/{value}"}
            elif value in groups:
                resolved[value] = {"value": value, "type": "Group", "display": groups[value].display_name, "ref": f"Groups/{value}"}
            else:
                raise InvalidValueException(detail=f"Resource [GROUP]: member [{value}] does not exist.")
        return list(resolved.values())

    def _drop_member_everywhere(self, member_id: str) -> None:
        # A deleted user leaves every group (Atlassian unlinks it from the directory).
        for group in list(self._resources.get("Group", {}).values()):
            members = group.members or []
            if any(m.value == member_id for m in members):
                changed = group.model_copy(deep=True)
                changed.members = [m for m in members if m.value != member_id] or None
                assert changed.meta is not None
                changed.meta = changed.meta.model_copy(update={"last_modified": self.clock(), "version": self.next_version()})
                self._store(changed, self._values_of(changed))  # private (0.8.3)


class ScimFront:
    """Authenticates, applies Atlassian restrictions, and hands the request to scim2-server."""

    def __init__(self, base_url: str, settings: Any, token_is_valid: Callable[[str], bool], api_key: str):
        self.base_url = base_url
        self.settings = settings
        self.token_is_valid = token_is_valid
        self.api_key = api_key
        self.storage = SandboxStorage(hide_inactive=lambda: bool(settings.hide_inactive))
        config = service_provider_config(settings.page_size_cap)
        provider = ScimProvider.from_discovery(
            load_default_schemas().values(),
            load_default_resource_types().values(),  # User (+ Enterprise extension) and Group
            config=config,
        )
        self.service = SandboxService(provider)
        self.application = WSGIApplication(self.storage, provider, self.service)

    def set_page_size_cap(self, cap: int) -> None:
        assert self.service.config.filter is not None
        self.service.config.filter.max_results = cap

    def authenticate(self, request: Request) -> Response | None:
        """None when the bearer token is good, else the 401 answer."""
        scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": 'Bearer realm="SCIM"'}
        if scheme.lower() != "bearer" or not token:
            return scim_error(401, "Authorization header with a Bearer token is required", headers=challenge)
        if hmac.compare_digest(token.encode(), self.api_key.encode()) or self.token_is_valid(token):
            return None
        return scim_error(401, "The bearer token is invalid or expired", headers=challenge)

    def check_filter(self, method: str, path: str, query: dict[str, str]) -> Response | None:
        """Atlassian rejects every filter but a single lower-case `eq` on a few attributes."""
        if not self.settings.strict_filters or method != "GET" or "filter" not in query:
            return None
        endpoint = path.strip("/").casefold()
        allowed = STRICT_FILTER_ATTRIBUTES.get(endpoint)
        if allowed is None:
            return None
        match = _FILTER_RE.match(query["filter"])
        if match is None or match.group(1).casefold() not in allowed:
            return scim_error(400, f"Resource [{ATLASSIAN_RESOURCE_NAMES[endpoint]}] invalid filter", "invalidFilter")
        return None

    def __call__(self, request: Request, path: str) -> Response:
        """Serve a SCIM request whose path is relative to the directory base URL."""
        denied = self.authenticate(request)
        if denied is not None:
            return denied
        query = {key: request.args[key] for key in request.args}
        rejected = self.check_filter(request.method, path, query)
        if rejected is not None:
            return rejected
        scim_request = ScimRequest(
            method=request.method,
            base_url=self.base_url,
            path=path or "/",
            query=query,
            headers=list(request.headers.items()),
            body=request.get_data(),
        )
        scim_response = self.application.serve(scim_request)
        body = None if scim_response.body is None else json.dumps(scim_response.body)
        return Response(body, status=int(scim_response.status), headers=scim_response.headers)

    def clear(self) -> None:
        self.storage.clear()
