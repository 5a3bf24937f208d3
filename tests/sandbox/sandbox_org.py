# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Atlassian's organization admin API, served beside SCIM from the same store.

Every SCIM user of the sandbox's directory is an organization user with a
stable account id; every SCIM group is an organization group. On top of the
SCIM data this module keeps what only the organization API knows: suspended
and removed accounts, group role assignments on workspaces (with an
eventual-consistency delay that tests control), per-user API tokens,
workspaces and extra directories. See README.md, "Organization admin API".

Paths, bodies and error shapes follow ../../../shared/reference/atlassian-org-api.md
(the project's reference sheet); where the reference lists an unknown, the
sandbox picks one answer and often offers the other through a setting.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import hmac
import json
import os
import re
import secrets
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

ORG_IDENTITY_FILE = "org_identity.json"
ADMIN_PREFIX = "/admin/"
MANAGE_PREFIX = "/users/"

# §1: the roles a group can get on a workspace; anything else is a 400.
GROUP_ROLE_IDS = frozenset(
    "atlassian/" + name
    for name in ("user", "user-access-admin", "admin", "guest", "contributor", "customer", "basic", "stakeholder", "viewer")
)
USER_STATUSES = ("active", "suspended", "not_invited", "deactivated", "for_deletion")
ACCOUNT_STATUSES = ("active", "inactive", "closed")
MEMBERSHIP_STATUSES = ("active", "suspended", "no_membership")
CLAIM_STATUSES = ("managed", "unmanaged")
DEFAULT_LIMITS = {"users": 50, "groups": 20, "directories": 20, "workspaces": 20, "role_assignments": 20}
RATE_LIMIT = 1000  # per 60 s window; advertised in X-RateLimit-* only (429s come from injection)
RATE_WINDOW = 60


# ---------------------------------------------------------------------------
# Identity: generated once per state dir, like the SCIM credentials


@dataclass(frozen=True)
class OrgIdentity:
    org_id: str
    org_api_key: str

    @classmethod
    def generate(cls) -> OrgIdentity:
        return cls(org_id=str(uuid.uuid4()), org_api_key="sbx-orgkey-" + secrets.token_urlsafe(32))


def load_or_create_org_identity(state_dir: Path) -> OrgIdentity:
    """Reuse STATE_DIR/org_identity.json (mode 0600), or write a new one.

    A file of its own, so state dirs made before the org API existed keep their SCIM identity.
    """
    path = Path(state_dir) / ORG_IDENTITY_FILE
    try:
        return OrgIdentity(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    identity = OrgIdentity.generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(identity), handle)
    os.replace(tmp, path)
    return identity


# ---------------------------------------------------------------------------
# Errors


class OrgError(Exception):
    """An error answer; rendered in the family's own shape (or the one `org_error_style` forces)."""

    def __init__(self, status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}


MANAGE_ERROR_KEYS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 409: "conflict", 429: "rate-limited"}


def error_body(style: str, error: OrgError) -> tuple[str, str]:
    """(body, content type) of an error in one of the shapes clients meet (reference §9)."""
    if style == "v2":
        body = {"errors": [{"id": uuid.uuid4().hex, "status": str(error.status), "code": error.code,
                            "title": error.title, "detail": error.detail}]}
        return json.dumps(body), "application/json"
    if style == "v1":  # the proxy / v1 shape
        return json.dumps({"code": error.status, "message": error.detail}), "application/json"
    if style == "scim":  # user provisioning (SCIM links)
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": str(error.status), "detail": error.detail}
        return json.dumps(body), "application/json"
    if style == "manage":  # user management: {"key": "forbidden"} and a message
        return json.dumps({"key": MANAGE_ERROR_KEYS.get(error.status, "error"), "message": error.detail}), "application/json"
    return f"{error.title}: {error.detail}", "text/plain"


def bad_body(detail: str) -> OrgError:
    return OrgError(400, "ADMIN-400-24", "Invalid request body", detail)


def user_not_found(account_id: str) -> OrgError:
    return OrgError(404, "ADMIN-404-8", "User not found", f"No user with account id {account_id!r} in this directory")


def group_not_found(group_id: str) -> OrgError:
    return OrgError(404, "ADMIN-404-10", "Group not found", f"No group with id {group_id!r} in this directory")


# ---------------------------------------------------------------------------
# Time and cursors


def rfc3339(instant: float) -> str:
    moment = datetime.datetime.fromtimestamp(instant, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def encode_cursor(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, sort_keys=True).encode()).decode().rstrip("=")


def decode_cursor(cursor: Any, kind: str, *required: str) -> dict[str, Any]:
    bad = OrgError(400, "ADMIN-400-1", "Invalid cursor", f"The cursor {str(cursor)[:40]!r} is not valid for this request")
    if not isinstance(cursor, str) or not cursor:
        raise bad
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise bad from None
    if not isinstance(payload, dict) or payload.get("kind") != kind or not isinstance(payload.get("offset"), int):
        raise bad
    if payload["offset"] < 0 or any(name not in payload for name in required):
        raise bad
    return payload


def fingerprint(filters: dict[str, Any]) -> str:
    return uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(filters, sort_keys=True, default=str)).hex[:16]


# ---------------------------------------------------------------------------
# Workspaces


@dataclass
class Workspace:
    id: str  # the resource ARI
    type_key: str
    name: str
    host_url: str
    status: str = "online"
    seats: int | None = None  # None: unlimited; see README "Seats"
    type: str = ""  # display name of the product

    @classmethod
    def from_spec(cls, spec: dict[str, Any], org_id: str) -> Workspace:
        if not isinstance(spec, dict):
            raise ValueError("a workspace must be an object")
        aliases = {"typeKey": "type_key", "hostUrl": "host_url"}
        spec = {aliases.get(key, key): value for key, value in spec.items()}
        known = {"id", "type_key", "name", "host_url", "status", "seats", "type"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(f"unknown workspace key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for required in ("type_key", "name"):
            if not isinstance(spec.get(required), str) or not spec[required]:
                raise ValueError(f"a workspace needs {required} (a non-empty string)")
        if spec.get("status", "online") not in ("online", "offline", "deprecated"):
            raise ValueError("workspace status must be online, offline or deprecated")
        seats = spec.get("seats")
        if seats is not None and (isinstance(seats, bool) or not isinstance(seats, int) or seats < 0):
            raise ValueError("workspace seats must be null or an integer >= 0")
        site = uuid.uuid5(uuid.UUID(org_id), spec["name"])
        slug = re.sub(r"[^a-z0-9]+", "-", spec["name"].lower()).strip("-") or "site"
        return cls(
            id=spec.get("id") or f"ari:cloud:{spec['type_key']}::site/{site}",
            type_key=spec["type_key"],
            name=spec["name"],
            host_url=spec.get("host_url") or f"https://{slug}.atlassian.net",
            status=spec.get("status", "online"),
            seats=seats,
            type=spec.get("type") or spec["type_key"].replace("-", " ").title(),
        )

    def as_api(self, org_id: str, origin: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "workspace",
            "attributes": {
                "name": self.name,
                "typeKey": self.type_key,
                "type": self.type,
                "owner": org_id,
                "status": self.status,
                "statusDetails": [],
                "hostUrl": self.host_url,
                "realm": "us",
                "regions": ["us"],
                "sandbox": {"type": "none"},
                "usage": None,
                "capacity": self.seats,
                "createdAt": "2026-01-01T00:00:00.000Z",
                "createdBy": None,
            },
            "links": {"self": f"{origin}/admin/v2/orgs/{org_id}/workspaces/{self.id}"},
            "relationships": {},
        }


DEFAULT_WORKSPACES = (
    {"type_key": "jira-software", "name": "Sandbox Jira", "type": "Jira"},
    {"type_key": "confluence", "name": "Sandbox Confluence", "type": "Confluence"},
)


# ---------------------------------------------------------------------------
# State


@dataclass
class PendingRoleChange:
    """A role grant or revoke that reads do not show yet (eventual consistency)."""

    group_id: str
    resource_id: str
    role: str
    grant: bool
    reads_left: int
    due: float


@dataclass
class UserView:
    """A SCIM user as the organization API sees it."""

    scim_id: str
    account_id: str
    user_name: str
    email: str
    emails: list[str]
    name: str
    active: bool
    created: str | None


@dataclass
class OrgData:
    """What only the organization API knows (the SCIM store knows the rest)."""

    suspended: set[str] = field(default_factory=set)  # account ids
    removed: set[str] = field(default_factory=set)
    # group id -> resource ARI -> roles: what writes did, and what reads show
    assigned: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    visible: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    pending: list[PendingRoleChange] = field(default_factory=list)
    tokens: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # account id -> API tokens


def _add_role(table: dict[str, dict[str, set[str]]], group_id: str, resource_id: str, role: str, grant: bool) -> None:
    roles = table.setdefault(group_id, {}).setdefault(resource_id, set())
    if grant:
        roles.add(role)
    else:
        roles.discard(role)
        if not roles:
            del table[group_id][resource_id]


class OrgState:
    """The organization: identity, workspaces, directories, and OrgData on top of the SCIM store."""

    def __init__(self, identity: OrgIdentity, directory_id: str, storage: Any, settings: Any):
        self.org_id = identity.org_id
        self.api_key = identity.org_api_key
        self.directory_id = directory_id
        self.storage = storage  # sandbox_scim.SandboxStorage
        self.settings = settings
        self.lock = threading.RLock()
        self._account_namespace = uuid.UUID(identity.org_id)
        self.data = OrgData()
        # scim id -> (the stored SCIM object, its view): a write stores a new object, so identity is the version
        self._views: dict[str, tuple[Any, UserView]] = {}
        self.workspaces: list[Workspace] = []
        self.extra_directories: list[dict[str, Any]] = []
        self.reset()

    # -- set-up ----------------------------------------------------------------

    def reset(self) -> None:
        """Default workspaces, no extra directories, no org-only data."""
        with self.lock:
            self.workspaces = [Workspace.from_spec(dict(spec), self.org_id) for spec in DEFAULT_WORKSPACES]
            self.extra_directories = []
            self.data = OrgData()
            self._views = {}

    def clear_data(self) -> None:
        """Forget suspensions, removals, role assignments and tokens (the SCIM data is cleared elsewhere)."""
        with self.lock:
            self.data = OrgData()
            self._views = {}

    def account_id_of(self, scim_id: str) -> str:
        # Derived from the SCIM id, so it is fixed when the SCIM user is created and never changes.
        return "712020:" + str(uuid.uuid5(self._account_namespace, scim_id))

    # -- views of the SCIM store -------------------------------------------------

    def _stored(self, kind: str) -> list[Any]:
        # Private hook of scim2-server 0.8.3 (as in sandbox_scim): the stored objects are never
        # changed in place (every write stores a new object), so the list can be used unlocked.
        with self.storage.lock:
            return list(self.storage._resources.get(kind, {}).values())

    def users(self, include_removed: bool = False) -> list[UserView]:
        views = []
        for user in self._stored("User"):
            cached = self._views.get(user.id)
            if cached is not None and cached[0] is user:
                view = cached[1]
            else:
                view = self._user_view(user)
                self._views[user.id] = (user, view)
            if include_removed or view.account_id not in self.data.removed:
                views.append(view)
        return views

    def _user_view(self, user: Any) -> UserView:
        emails = [e.value for e in (user.emails or []) if getattr(e, "value", None)]
        primary = next((e.value for e in (user.emails or []) if getattr(e, "primary", False) and e.value), None)
        email = primary or (emails[0] if emails else user.user_name)
        name_parts = user.name
        name = user.display_name or (name_parts.formatted if name_parts else None) or " ".join(
            part for part in ((name_parts.given_name, name_parts.family_name) if name_parts else ()) if part
        ) or user.user_name
        created = user.meta.created.isoformat().replace("+00:00", "Z") if user.meta and user.meta.created else None
        return UserView(user.id, self.account_id_of(user.id), user.user_name, email, emails or [user.user_name], name,
                        user.active is not False, created)

    def user(self, account_id: str, include_removed: bool = False) -> UserView | None:
        return next((view for view in self.users(include_removed) if view.account_id == account_id), None)

    def groups(self) -> list[Any]:
        return self._stored("Group")

    def group(self, group_id: str) -> Any | None:
        return next((group for group in self.groups() if group.id == group_id), None)

    @staticmethod
    def member_ids(group: Any) -> list[str]:
        return [member.value for member in group.members or [] if member.value]

    def workspace(self, resource: str) -> Workspace | None:
        """A workspace by ARI, name or host URL (control calls accept all three)."""
        wanted = resource.casefold().rstrip("/")
        for workspace in self.workspaces:
            if resource == workspace.id or wanted in (workspace.name.casefold(), workspace.host_url.casefold().rstrip("/")):
                return workspace
        return None

    def tokens_of(self, view: UserView) -> list[dict[str, Any]]:
        """The user's API tokens; a user seen for the first time gets `org_default_token_labels` ones."""
        tokens = self.data.tokens.get(view.account_id)
        if tokens is None:
            labels = [label.strip() for label in str(self.settings.org_default_token_labels).split(",") if label.strip()]
            tokens = self.data.tokens[view.account_id] = [
                {"id": str(uuid.uuid5(self._account_namespace, f"{view.account_id}/{label}")), "label": label,
                 "createdAt": view.created or rfc3339(time.time())}
                for label in labels
            ]
        return tokens

    # -- statuses ------------------------------------------------------------------

    def statuses(self, view: UserView) -> dict[str, str]:
        suspended = view.account_id in self.data.suspended
        if not view.active:  # SCIM deactivation deactivates the account
            status, account_status = "deactivated", "inactive"
        elif suspended:
            status, account_status = "suspended", "active"
        else:
            status, account_status = "active", "active"
        return {"status": status, "accountStatus": account_status,
                "membershipStatus": "suspended" if suspended else "active"}

    # -- role assignments --------------------------------------------------------------

    def read_assignments(self, group_id: str) -> dict[str, set[str]]:
        """What a read shows now; counts this read against pending changes of the group."""
        now = time.monotonic()
        hold = bool(self.settings.org_role_visibility_hold)
        blocked = False
        for change in list(self.data.pending):
            if change.group_id != group_id:
                continue
            if hold or change.reads_left > 0 or now < change.due:
                if change.reads_left > 0:
                    change.reads_left -= 1
                blocked = True  # later changes of this group wait for it (changes show in order)
            elif not blocked:
                _add_role(self.data.visible, change.group_id, change.resource_id, change.role, change.grant)
                self.data.pending.remove(change)
        return {resource: set(roles) for resource, roles in self.data.visible.get(group_id, {}).items()}

    def change_role(self, group_id: str, resource_id: str, role: str, grant: bool, settle: bool = False) -> None:
        _add_role(self.data.assigned, group_id, resource_id, role, grant)
        reads = int(self.settings.org_role_visibility_reads)
        seconds = float(self.settings.org_role_visibility_seconds)
        if settle or (reads == 0 and seconds == 0 and not self.settings.org_role_visibility_hold
                      and not any(change.group_id == group_id for change in self.data.pending)):
            _add_role(self.data.visible, group_id, resource_id, role, grant)
        else:
            self.data.pending.append(PendingRoleChange(group_id, resource_id, role, grant, reads, time.monotonic() + seconds))

    def settle(self) -> int:
        """Make every pending role change visible now; return how many there were."""
        pending, self.data.pending = self.data.pending, []
        for change in pending:
            _add_role(self.data.visible, change.group_id, change.resource_id, change.role, change.grant)
        return len(pending)

    def seats_used(self, workspace: Workspace, extra_group: Any = None) -> int:
        """Distinct billable users (active, not suspended, not removed) of groups with a role on the workspace."""
        groups = {group.id: group for group in self.groups()}
        granting = [groups[gid] for gid, resources in self.data.assigned.items() if resources.get(workspace.id) and gid in groups]
        if extra_group is not None:
            granting.append(extra_group)
        billable = {view.scim_id for view in self.users() if view.active and view.account_id not in self.data.suspended}
        return len({member for group in granting for member in self.member_ids(group) if member in billable})


# ---------------------------------------------------------------------------
# The HTTP side


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    family: str  # error shape: v2, scim (user provisioning) or manage (user management)
    write: bool
    handler: Callable[..., Any]


class OrgApi:
    """Serves /admin/... and /users/{accountId}/manage/...; see README, "Organization admin API"."""

    def __init__(self, state: OrgState, origin: str, settings: Any):
        self.state = state
        self.origin = origin
        self.settings = settings
        self._window = (0, 0)  # (window number, requests in it) for X-RateLimit-*
        self._window_lock = threading.Lock()
        org = r"(?P<org>[^/]+)"
        directory = r"/admin/v2/orgs/" + org + r"/directories/(?P<directory>[^/]+)"
        account = r"(?P<account>[^/]+)"
        provisioning = r"/admin/user-provisioning/v1/org/" + org
        routes = [
            ("GET", r"/admin/v1/orgs", "orgs.list", "v2", False, self.list_orgs),
            ("GET", r"/admin/v1/orgs/" + org, "orgs.get", "v2", False, self.get_org),
            ("GET", r"/admin/v2/orgs/" + org + r"/directories", "directories.list", "v2", False, self.list_directories),
            ("POST", r"/admin/v2/orgs/" + org + r"/workspaces", "workspaces.search", "v2", False, self.search_workspaces),
            ("POST", directory + r"/users/search", "users.search", "v2", False, self.search_users),
            ("GET", directory + r"/users/" + account, "users.get", "v2", False, self.get_user),
            ("POST", directory + r"/users/" + account + r"/suspend", "users.suspend", "v2", True, self.suspend_user),
            ("POST", directory + r"/users/" + account + r"/restore", "users.restore", "v2", True, self.restore_user),
            ("DELETE", directory + r"/users/" + account, "users.remove", "v2", True, self.remove_user),
            ("POST", directory + r"/groups/search", "groups.search", "v2", False, self.search_groups),
            ("GET", directory + r"/groups/(?P<group>[^/]+)/role-assignments", "groups.role_assignments", "v2", False, self.get_role_assignments),
            ("POST", directory + r"/groups/(?P<group>[^/]+)/role-assignments/assign", "groups.assign", "v2", True, self.assign_role),
            ("POST", directory + r"/groups/(?P<group>[^/]+)/role-assignments/revoke", "groups.revoke", "v2", True, self.revoke_role),
            ("GET", r"/users/" + account + r"/manage/api-tokens", "tokens.list", "manage", False, self.list_tokens),
            ("DELETE", r"/users/" + account + r"/manage/api-tokens/(?P<token>[^/]+)", "tokens.revoke", "manage", True, self.revoke_token),
            ("GET", r"/users/" + account + r"/manage", "manage.privileges", "manage", False, self.privileges),
            ("GET", provisioning + r"/user/" + account + r"/get-scim-links", "links.by_account", "scim", False, self.links_by_account),
            ("POST", provisioning + r"/get-scim-links-for-email", "links.by_email", "scim", False, self.links_by_email),
        ]
        self.routes = [Route(method, re.compile(pattern + r"/?"), operation, family, write, handler)
                       for method, pattern, operation, family, write, handler in routes]

    # -- dispatch ------------------------------------------------------------------------

    def route(self, request: Request) -> tuple[Route | None, dict[str, str]]:
        """The route of a request (None: no such endpoint) and its path parameters."""
        path = request.path
        family = "manage" if path.startswith(MANAGE_PREFIX) else "scim" if "/user-provisioning/" in path else "v2"
        allowed = []
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match:
                if route.method == request.method:
                    return route, match.groupdict()
                allowed.append(route)
        if allowed:
            return Route(request.method, re.compile(""), "method_not_allowed", allowed[0].family, False, self._method_not_allowed), {}
        return Route(request.method, re.compile(""), "unknown", family, False, self._not_found), {}

    def _method_not_allowed(self, request: Request) -> Any:
        raise OrgError(405, "ADMIN-405", "Method not allowed", f"{request.method} is not allowed on {request.path}")

    def _not_found(self, request: Request) -> Any:
        raise OrgError(404, "ADMIN-404", "Not found", f"No organization API endpoint at {request.path}")

    def __call__(self, request: Request, route: Route, params: dict[str, str]) -> Response:
        """Answer a routed request: rate-limit headers, 429 injection, auth, org check, handler."""
        try:
            injected = self.take_429(request, route)
            if injected is not None:
                raise injected
            self.authenticate(request)
            if "org" in params and params["org"] != self.state.org_id:
                raise OrgError(404, "ADMIN-404-2", "Organization not found", f"No organization with id {params['org']!r}")
            with self.state.lock:
                result = route.handler(request, **{k: v for k, v in params.items() if k != "org"})
            if result is None:
                response = Response(status=204)
            else:
                response = Response(json.dumps(result), status=200, content_type="application/json")
        except OrgError as error:
            style = self.settings.org_error_style
            body, content_type = error_body(route.family if style == "native" else style, error)
            response = Response(body, status=error.status, content_type=content_type, headers=error.headers)
        self.add_rate_limit_headers(response)
        return response

    def authenticate(self, request: Request) -> None:
        scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": 'Bearer realm="Atlassian admin"'}
        if scheme.lower() != "bearer" or not token:
            raise OrgError(401, "ADMIN-401", "Unauthorized", "An organization API key is required (Authorization: Bearer <key>)", challenge)
        if not hmac.compare_digest(token.encode(), self.state.api_key.encode()):
            raise OrgError(401, "ADMIN-401", "Unauthorized", "The API key is invalid, expired or revoked", challenge)

    def take_429(self, request: Request, route: Route) -> OrgError | None:
        """The injected 429 for this request, if `org_fail_429_next` asks for one (the request is not applied)."""
        with self.settings.lock:
            current = self.settings.current
            match = current.org_429_match
            if current.org_fail_429_next <= 0 or (match and match not in route.operation and match not in request.path):
                return None
            current.org_fail_429_next -= 1
            style, wait = current.org_429_style, current.org_retry_after
        now = time.time()
        headers = {"X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": "0"}
        if style != "bare":
            headers["X-RateLimit-Reset"] = rfc3339(now + wait)
        if style == "retry_after":
            headers["Retry-After"] = str(wait)
        elif style == "retry_after_date":
            headers["Retry-After"] = email.utils.formatdate(int(now) + wait + 1, usegmt=True)
        error = OrgError(429, "ADMIN-429-1", "Too many requests", "Rate limit exceeded (injected by the sandbox)", headers)
        return error

    def add_rate_limit_headers(self, response: Response) -> None:
        if "X-RateLimit-Limit" in response.headers:
            return  # an injected 429 carries its own
        now = time.time()
        window = int(now // RATE_WINDOW)
        with self._window_lock:
            count = self._window[1] + 1 if self._window[0] == window else 1
            self._window = (window, count)
        response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        response.headers["X-RateLimit-Remaining"] = str(max(0, RATE_LIMIT - count))
        response.headers["X-RateLimit-Reset"] = rfc3339((window + 1) * RATE_WINDOW)

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def json_body(request: Request, required: bool = False) -> dict[str, Any]:
        raw = request.get_data(as_text=True)
        if not raw.strip():
            if required:
                raise bad_body("A JSON body is required")
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise bad_body("The body is not valid JSON") from None
        if not isinstance(body, dict):
            raise bad_body("The body must be a JSON object")
        return body

    @staticmethod
    def string_list(body: dict[str, Any], name: str, choices: tuple[str, ...] | None = None) -> list[str] | None:
        value = body.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise bad_body(f"{name} must be a list of strings")
        if choices is not None:
            wrong = [item for item in value if item not in choices]
            if wrong:
                raise bad_body(f"{name}: invalid value(s) {', '.join(wrong)}; allowed: {', '.join(choices)}")
        return value

    def limit_of(self, value: Any, kind: str) -> int:
        if value is None or value == "":
            limit = DEFAULT_LIMITS[kind]
        else:
            try:
                limit = int(value)
            except (TypeError, ValueError):
                raise bad_body("limit must be an integer") from None
            if isinstance(value, bool) or limit < 1:
                raise bad_body("limit must be a positive integer")
        return min(limit, int(self.settings.org_page_size_cap))

    def check_directory(self, directory: str, write: bool = False) -> None:
        if directory == "-":
            if write and not self.settings.org_allow_dash_writes:
                raise bad_body("directoryId '-' (all directories) is accepted on reads and searches only; "
                               "give the user's directory id")
            return
        if directory != self.state.directory_id and directory not in {d["directoryId"] for d in self.state.extra_directories}:
            raise OrgError(404, "ADMIN-404-1", "Directory not found", f"No directory with id {directory!r} in this organization")

    def in_scim_directory(self, directory: str) -> bool:
        """True when the directory holds the SCIM users and groups (extra directories are empty)."""
        return directory in ("-", self.state.directory_id)

    def page(self, items: list[Any], kind: str, filters: dict[str, Any], cursor: Any, limit: int, request: Request) -> dict[str, Any]:
        """One page of items; `links.next` is an opaque cursor, absent on the last page."""
        offset = 0
        if cursor is not None:
            payload = decode_cursor(cursor, kind)
            if payload.get("filters") != fingerprint(filters):
                raise OrgError(400, "ADMIN-400-1", "Invalid cursor", "The cursor belongs to a different query; send the same filters with it")
            offset = payload["offset"]
        chunk = items[offset: offset + limit]
        links: dict[str, Any] = {"self": self.origin + request.full_path.rstrip("?")}
        if offset + limit < len(items):
            links["next"] = encode_cursor({"kind": kind, "offset": offset + limit, "filters": fingerprint(filters)})
        if offset > 0:
            links["prev"] = encode_cursor({"kind": kind, "offset": max(0, offset - limit), "filters": fingerprint(filters)})
        return {"data": chunk, "links": links}

    def user_api(self, view: UserView, expand: list[str] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "accountId": view.account_id,
            "accountType": "atlassian",
            "email": view.email,
            "name": view.name,
            "nickname": view.user_name.split("@")[0],
            **self.state.statuses(view),
            "claimStatus": "managed",
            "managementSource": "synced",
            "emailVerified": True,
            "mfaEnabled": False,
            "addedToOrg": view.created,
            "links": {"self": f"{self.origin}/admin/v2/orgs/{self.state.org_id}/directories/{self.state.directory_id}/users/{view.account_id}"},
        }
        if expand and "groups" in expand:
            data["groups"] = [{"id": group.id, "name": group.display_name} for group in self.state.groups()
                              if view.scim_id in self.state.member_ids(group)]
        return data

    def existing_user(self, directory: str, account: str) -> UserView:
        view = self.state.user(account) if self.in_scim_directory(directory) else None
        if view is None:
            raise user_not_found(account)
        return view

    def existing_group(self, directory: str, group_id: str) -> Any:
        group = self.state.group(group_id) if self.in_scim_directory(directory) else None
        if group is None:
            raise group_not_found(group_id)
        return group

    # -- orgs and directories -------------------------------------------------------------

    def org_api(self) -> dict[str, Any]:
        return {"id": self.state.org_id, "type": "orgs", "attributes": {"name": "Sandbox organization"},
                "links": {"self": f"{self.origin}/admin/v1/orgs/{self.state.org_id}"}}

    def list_orgs(self, request: Request) -> dict[str, Any]:
        return {"data": [self.org_api()], "links": {}}

    def get_org(self, request: Request) -> dict[str, Any]:
        return {"data": self.org_api()}

    def list_directories(self, request: Request) -> dict[str, Any]:
        args = request.args
        cursor = args.get("cursor")
        if cursor is not None:  # with a cursor every other parameter is ignored (reference §8)
            filters = decode_cursor(cursor, "directories", "query")["query"]
        else:
            filters = {"accountId": args.get("accountId"), "directoryIds": args.getlist("directoryIds"),
                       "searchTerm": args.get("searchTerm"), "limit": args.get("limit")}
        directories = [{"directoryId": self.state.directory_id, "name": "Sandbox directory", "icon": None}]
        directories += [dict(d) for d in self.state.extra_directories]
        ids = [i for value in filters["directoryIds"] for i in value.split(",") if i]
        if ids:
            directories = [d for d in directories if d["directoryId"] in ids]
        if filters["searchTerm"]:
            directories = [d for d in directories if filters["searchTerm"].casefold() in d["name"].casefold()]
        if filters["accountId"]:
            found = self.state.user(filters["accountId"]) is not None
            directories = [d for d in directories if found and d["directoryId"] == self.state.directory_id]
        limit = self.limit_of(filters["limit"], "directories")
        offset = decode_cursor(cursor, "directories")["offset"] if cursor is not None else 0
        links: dict[str, Any] = {"self": self.origin + request.full_path.rstrip("?")}
        if offset + limit < len(directories):
            links["next"] = encode_cursor({"kind": "directories", "offset": offset + limit, "query": filters})
        return {"data": directories[offset: offset + limit], "links": links}

    # -- workspaces ---------------------------------------------------------------------------

    def search_workspaces(self, request: Request) -> dict[str, Any]:
        body = self.json_body(request)
        if "cursor" in body:
            others = sorted(set(body) - {"cursor"})
            if others:
                raise bad_body(f"cursor cannot be combined with other fields ({', '.join(others)})")
            payload = decode_cursor(body["cursor"], "workspaces", "query", "sort", "limit")
            query, sort, limit, offset = payload["query"], payload["sort"], payload["limit"], payload["offset"]
        else:
            query, sort, offset = body.get("query"), body.get("sort"), 0
            limit = self.limit_of(body.get("limit"), "workspaces")
        found = [w for w in self.state.workspaces if self.workspace_matches(w, query)]
        for rule in reversed(sort or []):
            if not isinstance(rule, dict) or rule.get("field") not in ("name", "typeKey", "status", "hostUrl"):
                raise bad_body("sort entries are {field: name|typeKey|status|hostUrl, order: asc|desc}")
            attribute = {"typeKey": "type_key", "hostUrl": "host_url"}.get(rule["field"], rule["field"])
            found.sort(key=lambda w: getattr(w, attribute).casefold(), reverse=rule.get("order") == "desc")
        chunk = found[offset: offset + limit]
        links: dict[str, Any] = {"self": f"{self.origin}/admin/v2/orgs/{self.state.org_id}/workspaces"}
        if offset + limit < len(found):
            cursor = encode_cursor({"kind": "workspaces", "offset": offset + limit, "query": query, "sort": sort, "limit": limit})
            # Unknown (§11.5) how Atlassian's "URL" turns into a body cursor: both forms can be served.
            links["next"] = cursor if self.settings.org_workspace_next == "cursor" else f"{links['self']}?cursor={cursor}"
        return {
            "data": [w.as_api(self.state.org_id, self.origin) for w in chunk],
            "links": links,
            "meta": {"pageSize": limit, "startIndex": offset, "endIndex": offset + len(chunk), "total": len(found)},
        }

    def workspace_matches(self, workspace: Workspace, query: Any) -> bool:
        if query is None:
            return True
        if not isinstance(query, dict) or len(query) != 1:
            raise bad_body("query must be one of {and: [...]}, {nor: [...]}, {field: {name, values}}, {searchWorkspaces: text}, "
                           "{features: [...]}, {policies: [...]}")
        kind, value = next(iter(query.items()))
        if kind in ("and", "nor"):
            if not isinstance(value, list):
                raise bad_body(f"{kind} takes a list of queries")
            results = [self.workspace_matches(workspace, sub) for sub in value]
            return all(results) if kind == "and" else not any(results)
        if kind == "searchWorkspaces":
            text = str(value).casefold()
            return text in workspace.name.casefold() or text in workspace.host_url.casefold()
        if kind == "field":
            names = {"typeKey": workspace.type_key, "status": workspace.status, "name": workspace.name,
                     "hostUrl": workspace.host_url, "id": workspace.id}
            if not isinstance(value, dict) or value.get("name") not in names or not isinstance(value.get("values"), list):
                raise bad_body(f"field query needs name (one of {', '.join(names)}) and values (a list)")
            return names[value["name"]] in value["values"]
        if kind in ("features", "policies"):
            return True  # not modelled: every workspace matches
        raise bad_body(f"unknown query kind {kind!r}")

    # -- users ------------------------------------------------------------------------------------

    def search_users(self, request: Request, directory: str) -> dict[str, Any]:
        self.check_directory(directory)
        body = self.json_body(request)
        if body.get("searchTerm") is not None and body.get("emails") is not None:
            raise bad_body("searchTerm cannot be combined with emails")
        filters = {
            "emails": self.string_list(body, "emails"),
            "accountIds": self.string_list(body, "accountIds"),
            "directoryIds": self.string_list(body, "directoryIds"),
            "groupIds": self.string_list(body, "groupIds"),
            "emailDomains": self.string_list(body, "emailDomains"),
            "status": self.string_list(body, "status", USER_STATUSES),
            "accountStatus": self.string_list(body, "accountStatus", ACCOUNT_STATUSES),
            "membershipStatus": self.string_list(body, "membershipStatus", MEMBERSHIP_STATUSES),
            "searchTerm": body.get("searchTerm"),
            "claimStatus": body.get("claimStatus"),
        }
        if filters["claimStatus"] is not None and filters["claimStatus"] not in CLAIM_STATUSES:
            raise bad_body("claimStatus must be managed or unmanaged")
        expand = self.string_list(body, "expand")
        views = self.state.users() if self.in_scim_directory(directory) else []
        if filters["directoryIds"] is not None and self.state.directory_id not in filters["directoryIds"]:
            views = []
        if filters["claimStatus"] == "unmanaged":
            views = []
        if filters["emails"] is not None:
            wanted = {e.casefold() for e in filters["emails"]}
            views = [v for v in views if v.email.casefold() in wanted]
        if filters["accountIds"] is not None:
            views = [v for v in views if v.account_id in filters["accountIds"]]
        if filters["emailDomains"] is not None:
            domains = {d.casefold().lstrip("@") for d in filters["emailDomains"]}
            views = [v for v in views if v.email.rpartition("@")[2].casefold() in domains]
        if filters["groupIds"] is not None:
            members = {m for g in self.state.groups() if g.id in filters["groupIds"] for m in self.state.member_ids(g)}
            views = [v for v in views if v.scim_id in members]
        if filters["searchTerm"]:
            term = str(filters["searchTerm"]).casefold()
            views = [v for v in views if term in v.email.casefold() or term in v.name.casefold()]
        for name in ("status", "accountStatus", "membershipStatus"):
            if filters[name] is not None:
                views = [v for v in views if self.state.statuses(v)[name] in filters[name]]
        items = [self.user_api(v, expand) for v in views]
        return self.page(items, "users", filters, body.get("cursor"), self.limit_of(body.get("limit"), "users"), request)

    def get_user(self, request: Request, directory: str, account: str) -> dict[str, Any]:
        self.check_directory(directory)
        view = self.existing_user(directory, account)
        data = self.user_api(view)
        data["deactivatedOn"] = None if view.active else data["addedToOrg"]
        return {"data": data}

    def _repeat(self, what: str) -> None:
        if self.settings.org_strict_repeats:
            raise OrgError(409, "ADMIN-409-28", "Conflict", what)

    def suspend_user(self, request: Request, directory: str, account: str) -> None:
        self.check_directory(directory, write=True)
        view = self.existing_user(directory, account)
        if view.account_id in self.state.data.suspended:
            self._repeat("The user is already suspended")
        self.state.data.suspended.add(view.account_id)

    def restore_user(self, request: Request, directory: str, account: str) -> None:
        self.check_directory(directory, write=True)
        view = self.existing_user(directory, account)
        if view.account_id not in self.state.data.suspended:
            self._repeat("The user is not suspended")
        self.state.data.suspended.discard(view.account_id)

    def remove_user(self, request: Request, directory: str, account: str) -> None:
        self.check_directory(directory, write=True)
        view = self.existing_user(directory, account)
        self.state.data.suspended.discard(view.account_id)
        self.state.data.removed.add(view.account_id)

    # -- groups and role assignments ----------------------------------------------------------------

    def search_groups(self, request: Request, directory: str) -> dict[str, Any]:
        self.check_directory(directory)
        body = self.json_body(request)
        names = self.string_list(body, "groupNames")
        if names is not None and (body.get("searchTerm") is not None or body.get("groupIds") is not None):
            raise bad_body("groupNames cannot be combined with searchTerm or groupIds")
        filters = {
            "groupNames": names,
            "groupIds": self.string_list(body, "groupIds"),
            "accountIds": self.string_list(body, "accountIds"),
            "directoryIds": self.string_list(body, "directoryIds"),
            "resourceIds": self.string_list(body, "resourceIds"),
            "roleIds": self.string_list(body, "roleIds"),
            "searchTerm": body.get("searchTerm"),
        }
        expand = self.string_list(body, "expand") or []
        groups = self.state.groups() if self.in_scim_directory(directory) else []
        if filters["directoryIds"] is not None and self.state.directory_id not in filters["directoryIds"]:
            groups = []
        if names is not None:
            wanted = {name.casefold() for name in names}
            groups = [g for g in groups if (g.display_name or "").casefold() in wanted]
        if filters["groupIds"] is not None:
            groups = [g for g in groups if g.id in filters["groupIds"]]
        if filters["searchTerm"]:
            groups = [g for g in groups if str(filters["searchTerm"]).casefold() in (g.display_name or "").casefold()]
        if filters["accountIds"] is not None:
            scim_ids = {v.scim_id for v in self.state.users() if v.account_id in filters["accountIds"]}
            groups = [g for g in groups if scim_ids & set(self.state.member_ids(g))]
        for name in ("resourceIds", "roleIds"):
            if filters[name] is not None:
                def granted(group: Any, wanted: list[str] = filters[name], by_resource: bool = name == "resourceIds") -> bool:
                    resources = self.state.data.visible.get(group.id, {})
                    if by_resource:
                        return any(resources.get(r) for r in wanted)
                    return any(set(wanted) & roles for roles in resources.values())
                groups = [g for g in groups if granted(g)]
        items = []
        for group in groups:
            item: dict[str, Any] = {
                "id": group.id,
                "name": group.display_name,
                "description": None,
                "directoryId": self.state.directory_id,
                "managementAccess": {"deletable": False, "modifiable": False, "readable": True},
                "externalSynced": True,
                "managedBy": "scim",
                "links": {"self": f"{self.origin}/admin/v2/orgs/{self.state.org_id}/directories/{self.state.directory_id}/groups/{group.id}"},
            }
            counts = {}
            if "counts.users" in expand:
                counts["users"] = len(self.state.member_ids(group))
            if "counts.resources" in expand:
                counts["resources"] = len(self.state.data.visible.get(group.id, {}))
            if counts:
                item["counts"] = counts
            items.append(item)
        return self.page(items, "groups", filters, body.get("cursor"), self.limit_of(body.get("limit"), "groups"), request)

    def get_role_assignments(self, request: Request, directory: str, group: str) -> dict[str, Any]:
        self.check_directory(directory)
        self.existing_group(directory, group)
        args = request.args
        cursor = args.get("cursor")
        if cursor is not None:  # with a cursor every other parameter is ignored (reference §8)
            filters = decode_cursor(cursor, "role_assignments", "query")["query"]
        else:
            filters = {name: [i for v in args.getlist(name) for i in v.split(",") if i]
                       for name in ("resourceIds", "roleIds", "resourceOwners", "directoryIds")}
            filters["limit"] = args.get("limit")
        owners = {w.id: w.type_key for w in self.state.workspaces}
        items = []
        for resource_id, roles in sorted(self.state.read_assignments(group).items()):
            owner = owners.get(resource_id, resource_id.split(":")[2] if resource_id.count(":") >= 2 else "")
            if not roles or (filters["resourceIds"] and resource_id not in filters["resourceIds"]):
                continue
            if filters["resourceOwners"] and owner not in filters["resourceOwners"]:
                continue
            if filters["roleIds"] and not set(filters["roleIds"]) & roles:
                continue
            items.append({"resourceId": resource_id, "resourceOwner": owner, "defaultRole": None, "roles": sorted(roles)})
        limit = self.limit_of(filters["limit"], "role_assignments")
        offset = decode_cursor(cursor, "role_assignments")["offset"] if cursor is not None else 0
        links: dict[str, Any] = {"self": self.origin + request.full_path.rstrip("?")}
        if offset + limit < len(items):
            links["next"] = encode_cursor({"kind": "role_assignments", "offset": offset + limit, "query": filters})
        return {"data": items[offset: offset + limit], "links": links}

    def _role_request(self, request: Request, directory: str, group_id: str) -> tuple[Any, Workspace, str]:
        self.check_directory(directory, write=True)
        group = self.existing_group(directory, group_id)
        body = self.json_body(request, required=True)
        resource_id, role = body.get("resourceId"), body.get("roleId")
        if not isinstance(resource_id, str) or not resource_id or not isinstance(role, str) or not role:
            raise bad_body("resourceId and roleId are required strings")
        if role not in GROUP_ROLE_IDS:
            raise bad_body(f"roleId {role!r} is not a group role; allowed: {', '.join(sorted(GROUP_ROLE_IDS))}")
        workspace = next((w for w in self.state.workspaces if w.id == resource_id), None)
        if workspace is None:
            raise OrgError(400, "ADMIN-400-4", "Invalid resource", f"resourceId {resource_id!r} is not a workspace of this organization")
        return group, workspace, role

    def assign_role(self, request: Request, directory: str, group: str) -> None:
        found, workspace, role = self._role_request(request, directory, group)
        current = self.state.data.assigned.get(found.id, {}).get(workspace.id, set())
        if role in current:
            return  # an upsert: granting again is not an error
        if not current and workspace.seats is not None:
            needed = self.state.seats_used(workspace, extra_group=found)
            if needed > workspace.seats:
                raise OrgError(409, "ADMIN-409-3", "Licence limit reached",
                               f"No seats left for {workspace.type_key} ({workspace.name}): "
                               f"{workspace.seats} seats, {needed} users would need one")
        self.state.change_role(found.id, workspace.id, role, grant=True)

    def revoke_role(self, request: Request, directory: str, group: str) -> None:
        found, workspace, role = self._role_request(request, directory, group)
        if role not in self.state.data.assigned.get(found.id, {}).get(workspace.id, set()):
            raise OrgError(404, "ADMIN-404-0", "Role assignment not found",
                           f"The group has no role {role} on {workspace.id}")
        self.state.change_role(found.id, workspace.id, role, grant=False)

    # -- user management: API tokens ----------------------------------------------------------------

    def managed_user(self, account: str) -> UserView:
        view = self.state.user(account)
        if view is None:
            raise OrgError(404, "not-found", "Not found", f"No managed account with id {account!r}")
        return view

    def list_tokens(self, request: Request, account: str) -> list[dict[str, Any]]:
        view = self.managed_user(account)
        return [dict(token) for token in self.state.tokens_of(view)]

    def revoke_token(self, request: Request, account: str, token: str) -> None:
        view = self.managed_user(account)
        tokens = self.state.tokens_of(view)
        kept = [t for t in tokens if t["id"] != token]
        if len(kept) == len(tokens):
            raise OrgError(404, "not-found", "Not found", f"No API token {token!r} for this account")
        self.state.data.tokens[view.account_id] = kept

    def privileges(self, request: Request, account: str) -> dict[str, Any]:
        self.managed_user(account)
        return {name: {"allowed": True} for name in request.args.getlist("privileges")}

    # -- user provisioning: SCIM links --------------------------------------------------------------

    def link_of(self, view: UserView) -> dict[str, Any]:
        return {"scimUserId": view.scim_id, "atlassianAccountId": view.account_id,
                "orgId": self.state.org_id, "directoryId": self.state.directory_id}

    def links_by_account(self, request: Request, account: str) -> dict[str, Any]:
        # Every SCIM record counts, also users hidden from SCIM filters and removed from the org.
        return {"scimLinks": [self.link_of(v) for v in self.state.users(include_removed=True) if v.account_id == account]}

    def links_by_email(self, request: Request) -> dict[str, Any]:
        body = self.json_body(request, required=True)
        wanted = body.get("email")
        if not isinstance(wanted, str) or not wanted:
            raise OrgError(400, "ADMIN-400-24", "Invalid request body", "email is required (a string)")
        wanted = wanted.casefold()
        return {"scimLinks": [self.link_of(v) for v in self.state.users(include_removed=True)
                              if wanted in {e.casefold() for e in [*v.emails, v.user_name]}]}


# ---------------------------------------------------------------------------
# Control (test set-up): /_sandbox/org/<name> and Sandbox.org_control()


class OrgControl:
    """Set-up calls for tests; every call takes and returns JSON-able values."""

    def __init__(self, state: OrgState):
        self.state = state

    def __call__(self, name: str, body: dict[str, Any]) -> Any:
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "state": self.snapshot,
            "workspaces": self.set_workspaces,
            "directories": self.set_directories,
            "seats": self.set_seats,
            "api_tokens": self.seed_api_tokens,
            "role_assignment": self.seed_role_assignment,
            "settle": lambda _body: {"settled": self.state.settle()},
            "account": self.account,
            "reinvite": self.reinvite,
            "reset": lambda _body: (self.state.reset(), {"ok": True})[1],
        }
        handler = handlers.get(name)
        if handler is None:
            raise KeyError(f"org control calls: {', '.join(sorted(handlers))}")
        with self.state.lock:
            return handler(body)

    def _view(self, body: dict[str, Any]) -> UserView:
        account, address = body.get("account_id"), body.get("email")
        if bool(account) == bool(address):
            raise ValueError("give account_id or email")
        for view in self.state.users(include_removed=True):
            if view.account_id == account or (address and address.casefold() in {e.casefold() for e in view.emails}):
                return view
        raise ValueError(f"no SCIM user with {'account id' if account else 'e-mail'} {account or address!r}")

    def account(self, body: dict[str, Any]) -> dict[str, Any]:
        view = self._view(body)
        return {"account_id": view.account_id, "scim_user_id": view.scim_id, "email": view.email}

    def reinvite(self, body: dict[str, Any]) -> dict[str, Any]:
        """Bring a removed user back into the org (Atlassian needs a re-invite); roles and groups are not restored."""
        view = self._view(body)
        self.state.data.removed.discard(view.account_id)
        return {"account_id": view.account_id, "scim_user_id": view.scim_id, "email": view.email}

    def snapshot(self, _body: dict[str, Any]) -> dict[str, Any]:
        data = self.state.data
        users = self.state.users(include_removed=True)
        for view in users:
            self.state.tokens_of(view)  # default tokens show before anyone listed them

        def table(source: dict[str, dict[str, set[str]]]) -> dict[str, dict[str, list[str]]]:
            return {g: {r: sorted(roles) for r, roles in resources.items() if roles} for g, resources in source.items() if resources}

        return {
            "org_id": self.state.org_id,
            "directory_id": self.state.directory_id,
            "directories": [{"directoryId": self.state.directory_id, "name": "Sandbox directory"}, *self.state.extra_directories],
            "workspaces": [asdict(w) for w in self.state.workspaces],
            "users": [{"account_id": v.account_id, "scim_user_id": v.scim_id, "email": v.email,
                       "removed": v.account_id in data.removed, **self.state.statuses(v)} for v in users],
            "role_assignments": table(data.assigned),
            "visible_role_assignments": table(data.visible),
            "pending_role_changes": [asdict(change) for change in data.pending],
            "api_tokens": {account: [dict(t) for t in tokens] for account, tokens in data.tokens.items()},
        }

    def set_workspaces(self, body: dict[str, Any]) -> dict[str, Any]:
        specs = body.get("workspaces")
        if not isinstance(specs, list):
            raise ValueError("workspaces must be a list")
        workspaces = [Workspace.from_spec(spec, self.state.org_id) for spec in specs]
        if len({w.id for w in workspaces}) != len(workspaces):
            raise ValueError("workspace ids (ARIs) must be unique")
        self.state.workspaces = workspaces
        return {"workspaces": [asdict(w) for w in workspaces]}

    def set_directories(self, body: dict[str, Any]) -> dict[str, Any]:
        """Extra (empty) directories after the SCIM one: names, or {directoryId?, name}."""
        specs = body.get("directories")
        if not isinstance(specs, list):
            raise ValueError("directories must be a list")
        directories = []
        for spec in specs:
            spec = {"name": spec} if isinstance(spec, str) else spec
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                raise ValueError("a directory is a name or {directoryId?, name}")
            directory_id = spec.get("directoryId") or str(uuid.uuid5(uuid.UUID(self.state.org_id), spec["name"]))
            directories.append({"directoryId": directory_id, "name": spec["name"], "icon": None})
        self.state.extra_directories = directories
        return {"directories": directories}

    def set_seats(self, body: dict[str, Any]) -> dict[str, Any]:
        workspace = self.state.workspace(str(body.get("resource", "")))
        if workspace is None:
            raise ValueError("resource must name a workspace (ARI, name or host URL)")
        seats = body.get("seats")
        if seats is not None and (isinstance(seats, bool) or not isinstance(seats, int) or seats < 0):
            raise ValueError("seats must be null or an integer >= 0")
        workspace.seats = seats
        return asdict(workspace)

    def seed_api_tokens(self, body: dict[str, Any]) -> dict[str, Any]:
        """Give a user API tokens: {account_id|email, labels: [...]} or tokens: [{label, createdAt?, lastAccess?, expiry?}]."""
        view = self._view(body)
        specs = body.get("tokens")
        if specs is None:
            labels = body.get("labels")
            if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
                raise ValueError("give labels (a list of strings) or tokens (a list of objects)")
            specs = [{"label": label} for label in labels]
        if not isinstance(specs, list):
            raise ValueError("tokens must be a list")
        tokens = self.state.tokens_of(view)
        for spec in specs:
            if not isinstance(spec, dict) or not isinstance(spec.get("label"), str):
                raise ValueError("a token needs a label (a string)")
            unknown = sorted(set(spec) - {"label", "createdAt", "lastAccess", "expiry", "id"})
            if unknown:
                raise ValueError(f"unknown token key(s): {', '.join(unknown)}")
            token = {"id": spec.get("id") or str(uuid.uuid4()), "label": spec["label"],
                     "createdAt": spec.get("createdAt") or rfc3339(time.time())}
            for optional in ("lastAccess", "expiry"):
                if spec.get(optional):
                    token[optional] = spec[optional]
            tokens.append(token)
        return {"account_id": view.account_id, "tokens": [dict(t) for t in tokens]}

    def seed_role_assignment(self, body: dict[str, Any]) -> dict[str, Any]:
        """A role a group has already, visible at once: {group | group_id, resource (ARI, name or URL), role}."""
        group_id, name = body.get("group_id"), body.get("group")
        group = self.state.group(group_id) if group_id else next(
            (g for g in self.state.groups() if (g.display_name or "").casefold() == str(name or "").casefold()), None)
        if group is None:
            raise ValueError("group or group_id must name an existing SCIM group")
        workspace = self.state.workspace(str(body.get("resource", "")))
        if workspace is None:
            raise ValueError("resource must name a workspace (ARI, name or host URL)")
        role = body.get("role", "atlassian/user")
        if role not in GROUP_ROLE_IDS:
            raise ValueError(f"role must be one of {', '.join(sorted(GROUP_ROLE_IDS))}")
        self.state.change_role(group.id, workspace.id, role, grant=True, settle=True)
        return {"group_id": group.id, "resource_id": workspace.id, "role": role}


__all__ = ["OrgApi", "OrgControl", "OrgIdentity", "OrgState", "load_or_create_org_identity", "ADMIN_PREFIX", "MANAGE_PREFIX"]
