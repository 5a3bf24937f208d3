# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""What every module shares: the connection/auth argument spec, its resolution, and the module base.

Environment variables are read here rather than with ``env_fallback``: an option set on the
task (or through ``module_defaults``) then wins over the environment for its whole group, so
a task that passes ``access_token`` is not refused because ``ATLASSIAN_CLIENT_ID`` is exported.
"""

from __future__ import annotations

import ipaddress
import os
import traceback
import typing as t
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import (
    ConfigError,
    DependencyError,
    ScimKitError,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._http import HttpClient, HttpSettings

if t.TYPE_CHECKING:
    from ansible_collections.scimkit.atlassian.plugins.module_utils._identity import LinkedUsers
    from ansible_collections.scimkit.atlassian.plugins.module_utils._org import OrgClient
    from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ScimClient
    from ansible_collections.scimkit.atlassian.plugins.module_utils._token import ClientCredentials, TokenProvider

ENVIRONMENT = {
    "base_url": "ATLASSIAN_SCIM_BASE_URL",
    "directory_id": "ATLASSIAN_SCIM_DIRECTORY_ID",
    "access_token": "ATLASSIAN_SCIM_ACCESS_TOKEN",
    "client_id": "ATLASSIAN_CLIENT_ID",
    "private_key": "ATLASSIAN_PRIVATE_KEY",
    "private_key_path": "ATLASSIAN_PRIVATE_KEY_PATH",
    "client_secret": "ATLASSIAN_CLIENT_SECRET",
    "key_id": "ATLASSIAN_KEY_ID",
    "token_url": "ATLASSIAN_TOKEN_URL",
}
SECRETS = ("access_token", "private_key", "private_key_passphrase", "client_secret")
# Options that must be given together as a group: one member set on the task overrides the environment for all.
TARGET_GROUP = ("base_url", "directory_id")
AUTH_GROUP = ("access_token", "client_id")
CREDENTIAL_GROUP = ("private_key", "private_key_path", "client_secret")
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256"]


def auth_argument_spec() -> dict[str, dict[str, t.Any]]:
    """Options that obtain a token with the client-credentials grant (oauth_token and every SCIM module)."""
    return {
        "client_id": {"type": "str"},
        "private_key": {"type": "str", "no_log": True},
        "private_key_path": {"type": "path", "no_log": False},
        "private_key_passphrase": {"type": "str", "no_log": True},
        "client_secret": {"type": "str", "no_log": True},
        "key_id": {"type": "str", "no_log": False},
        "algorithm": {"type": "str", "default": "RS256", "choices": ALGORITHMS},
        "token_url": {"type": "str", "no_log": False},
        "audience": {"type": "str"},
        "scope": {"type": "str", "default": "manage:directory"},
        "token_request_format": {"type": "str", "default": "json", "choices": ["json", "form"]},
        "assertion_lifetime": {"type": "int", "default": 300},
        "validate_certs": {"type": "bool", "default": True},
        "allow_plain_http": {"type": "bool", "default": False},
        "ca_path": {"type": "path"},
        "timeout": {"type": "int", "default": 30},
        "max_retries": {"type": "int", "default": 5},
    }


def scim_argument_spec() -> dict[str, dict[str, t.Any]]:
    """The connection and auth options every SCIM module takes (doc fragment scimkit.atlassian.connection)."""
    return {
        "base_url": {"type": "str"},
        "directory_id": {"type": "str"},
        "access_token": {"type": "str", "no_log": True},
        **auth_argument_spec(),
    }


@dataclass(frozen=True)
class Connection:
    """Resolved connection options: environment applied, cross-option rules checked."""

    base_url: str | None
    access_token: str | None = field(repr=False)
    credentials: ClientCredentials | None
    http: HttpSettings


def _take_group(params: dict[str, t.Any], environ: t.Mapping[str, str], names: t.Sequence[str]) -> dict[str, t.Any]:
    """The group's values from the task if any member is set there, else from the environment."""
    if any(params.get(name) not in (None, "") for name in names):
        return {name: params.get(name) for name in names}
    return {name: environ.get(ENVIRONMENT[name]) or None for name in names}


def _exactly_one(values: dict[str, t.Any], *, what: str) -> str | None:
    chosen = [name for name, value in values.items() if value]
    if len(chosen) > 1:
        raise ConfigError(f"{' and '.join(chosen)} are mutually exclusive: give exactly one {what}.")
    return chosen[0] if chosen else None


def _missing(names: t.Sequence[str]) -> str:
    variables = ", ".join(ENVIRONMENT[name] for name in names if name in ENVIRONMENT)
    return f"{' or '.join(names)} (or the environment variable {variables})" if variables else " or ".join(names)


def resolve_credentials(params: dict[str, t.Any], environ: t.Mapping[str, str], client_id: str) -> ClientCredentials:
    """The client-credentials settings for ``client_id``, with the key read from its file if needed."""
    from ansible_collections.scimkit.atlassian.plugins.module_utils._token import (
        ATLASSIAN_TOKEN_URL,
        MAX_ASSERTION_LIFETIME,
        ClientCredentials,
    )

    secrets = _take_group(params, environ, CREDENTIAL_GROUP)
    source = _exactly_one(secrets, what="of private_key, private_key_path and client_secret")
    if source is None:
        raise ConfigError(f"client_id needs a credential: give {_missing(CREDENTIAL_GROUP)}.")
    private_key = secrets["private_key"]
    if source == "private_key_path":
        private_key = read_key_file(secrets["private_key_path"])
    key_id = params.get("key_id") or environ.get(ENVIRONMENT["key_id"]) or None
    if source != "client_secret" and not key_id:
        raise ConfigError(f"A private key needs the key id Atlassian registered for it: give {_missing(['key_id'])}.")
    lifetime = params.get("assertion_lifetime", 300)
    if lifetime is not None and lifetime <= 0:
        raise ConfigError("assertion_lifetime must be a positive number of seconds.")
    if lifetime is not None and lifetime > MAX_ASSERTION_LIFETIME:
        raise ConfigError(
            f"assertion_lifetime is {lifetime} s; at most {MAX_ASSERTION_LIFETIME} s (an hour) is allowed, as a "
            "signed assertion is a credential until it expires. The default, 300 s, suits Atlassian."
        )
    return ClientCredentials(
        client_id=client_id,
        token_url=params.get("token_url") or environ.get(ENVIRONMENT["token_url"]) or ATLASSIAN_TOKEN_URL,
        audience=params.get("audience"),
        scope=params.get("scope"),
        request_format=params.get("token_request_format") or "json",
        key_id=key_id,
        algorithm=params.get("algorithm") or "RS256",
        assertion_lifetime=params.get("assertion_lifetime") or 300,
        private_key=private_key,
        private_key_passphrase=params.get("private_key_passphrase"),
        client_secret=secrets["client_secret"],
    )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(option: str, url: str, *, allow_plain_http: bool) -> None:
    """Refuse plain http:// to another machine: the bearer token and user data would cross the network in clear."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{option} must be an http(s) URL with a host, not {url!r}.")
    if parts.scheme.lower() == "http" and not allow_plain_http and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{option} {url} uses plain http:// to another machine, which would send tokens and personal data "
            "unencrypted. Use https://, or set allow_plain_http=true if the network path is otherwise protected."
        )


def check_access_token(token: str) -> None:
    """Refuse a registered result passed whole as the token, before it is sent anywhere.

    ``access_token: "{{ token }}"`` instead of ``"{{ token.access_token }}"`` hands the module
    oauth_token's whole result as JSON or a Python dict repr; sent as a bearer token it would
    only earn a 401 that points at the wrong cause. The value itself is never quoted.
    """
    text = token.strip()
    if text.startswith("{"):
        raise ConfigError(
            "access_token holds a dictionary (it starts with '{'), not a token: the whole registered result of "
            "oauth_token was passed. Pass its token: access_token: \"{{ token.access_token }}\" "
            "(with the name you registered)."
        )


def read_key_file(path: str) -> str:
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ConfigError(f"private_key_path {path} does not exist.") from None
    except PermissionError:
        raise ConfigError(f"private_key_path {path} cannot be read: permission denied.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"private_key_path {path} cannot be read as a PEM file ({type(exc).__name__}).") from None


def http_settings(params: dict[str, t.Any], *, pool_size: int = 10) -> HttpSettings:
    if params.get("timeout", 30) <= 0:
        raise ConfigError("timeout must be a positive number of seconds.")
    if params.get("max_retries", 5) < 0:
        raise ConfigError("max_retries cannot be negative.")
    return HttpSettings(
        validate_certs=params.get("validate_certs", True),
        ca_path=params.get("ca_path"),
        timeout=params.get("timeout", 30),
        max_retries=params.get("max_retries", 5),
        pool_size=pool_size,
    )


def resolve_connection(params: dict[str, t.Any], environ: t.Mapping[str, str], *, scim: bool = True,
                       pool_size: int = 10) -> Connection:
    """Apply the environment and check the cross-option rules, with messages that name the options."""
    from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import directory_url

    base_url = None
    if scim:
        target = _take_group(params, environ, TARGET_GROUP)
        chosen = _exactly_one(target, what="of base_url and directory_id")
        if chosen is None:
            raise ConfigError(f"Say which SCIM directory to manage: give {_missing(TARGET_GROUP)}.")
        base_url = target["base_url"] if chosen == "base_url" else directory_url(target["directory_id"])
        check_transport("base_url", base_url, allow_plain_http=params.get("allow_plain_http", False))
        auth = _take_group(params, environ, AUTH_GROUP)
        chosen = _exactly_one(auth, what="of access_token and client_id")
        if chosen is None:
            raise ConfigError(f"Say how to authenticate: give {_missing(AUTH_GROUP)}.")
        if auth["access_token"]:
            check_access_token(auth["access_token"])
    else:
        auth = {"access_token": None, "client_id": params.get("client_id") or environ.get(ENVIRONMENT["client_id"])}
        if not auth["client_id"]:
            raise ConfigError(f"Give {_missing(['client_id'])}.")
    credentials = resolve_credentials(params, environ, auth["client_id"]) if auth["client_id"] else None
    if credentials is not None:
        check_transport("token_url", credentials.token_url, allow_plain_http=params.get("allow_plain_http", False))
    return Connection(base_url=base_url, access_token=auth["access_token"], credentials=credentials,
                      http=http_settings(params, pool_size=pool_size))


# The most writes a bulk task (scim_users, scim_groups) sends at once: the size of its connection pool.
MAX_CONCURRENCY = 32


def check_concurrency(value: int) -> int:
    """A bulk task's ``concurrency``, refused outside 1..MAX_CONCURRENCY before any request."""
    if not 1 <= value <= MAX_CONCURRENCY:
        raise ConfigError(f"concurrency must be between 1 and {MAX_CONCURRENCY}.")
    return value


def info_argument_spec(name_option: str) -> dict[str, dict[str, t.Any]]:
    """The options of an _info module: one way to choose (name, id or raw filter) and the attributes to return."""
    return {
        name_option: {"type": "str"},
        "id": {"type": "str"},
        "filter": {"type": "str"},
        "attributes": {"type": "list", "elements": "str"},
        "excluded_attributes": {"type": "list", "elements": "str"},
    }


def attribute_selection(params: dict[str, t.Any]) -> dict[str, str | None]:
    """An _info module's attributes/excluded_attributes lists as the comma lists SCIM takes."""
    return {
        "attributes": ",".join(params.get("attributes") or []) or None,
        "excluded_attributes": ",".join(params.get("excluded_attributes") or []) or None,
    }


class ScimModule:
    """An AnsibleModule with the shared options, lazily built clients, and one place that fails.

    module_utils raise typed errors; :meth:`run` is the only place they become ``fail_json``.
    """

    def __init__(self, argument_spec: dict[str, t.Any] | None = None, *, scim: bool = True,
                 pool_size: int = 10, **kwargs: t.Any) -> None:
        spec = scim_argument_spec() if scim else auth_argument_spec()
        spec.update(argument_spec or {})
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
        self.params: dict[str, t.Any] = self.module.params
        self._scim = scim
        self._pool_size = pool_size
        self._connection: Connection | None = None
        self._http: HttpClient | None = None
        self._client: ScimClient | None = None
        self._org: OrgClient | None = None
        self._org_connection: OrgConnection | None = None
        # A password in attributes is refused (see _users.WRITE_ONLY), but the refusal echoes the
        # task's arguments: mask the value there too.
        self._hide(*_write_only_values(self.params))

    @property
    def check_mode(self) -> bool:
        return self.module.check_mode

    @property
    def diff_mode(self) -> bool:
        return bool(self.module._diff)

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = resolve_connection(self.params, os.environ, scim=self._scim, pool_size=self._pool_size)
            self._hide(self._connection.access_token)
            if self._connection.credentials:
                creds = self._connection.credentials
                self._hide(creds.private_key, creds.private_key_passphrase, creds.client_secret)
        return self._connection

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = HttpClient(self.connection.http)
        return self._http

    def token_provider(self, *, hide_tokens: bool = True) -> TokenProvider:
        """The bearer-token source: the given access_token, or the client-credentials grant."""
        from ansible_collections.scimkit.atlassian.plugins.module_utils._token import (
            ClientCredentialsProvider,
            StaticTokenProvider,
        )

        connection = self.connection
        if connection.access_token:
            return StaticTokenProvider(connection.access_token)
        if connection.credentials is None:  # resolve_connection guarantees one of the two
            raise ConfigError("Give access_token or client_id.")
        # Assertions are always masked: unlike the token, no module ever returns one.
        return ClientCredentialsProvider(self.http, connection.credentials,
                                         on_token=self._hide if hide_tokens else None, on_secret=self._hide)

    @property
    def client(self) -> ScimClient:
        if self._client is None:
            from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ScimClient

            self._client = ScimClient(self.http, self.connection.base_url or "", self.token_provider())
        return self._client

    def scim_links(self) -> LinkedUsers | None:
        """The SCIM-link lookup of the organization admin API, when the task (or the environment) names an org and its key.

        Optional for the SCIM modules that take the org options: without both, None. Given on
        the task (or through module_defaults), one without the other is an error.
        """
        from ansible_collections.scimkit.atlassian.plugins.module_utils._identity import LinkedUsers
        from ansible_collections.scimkit.atlassian.plugins.module_utils._org import OrgClient
        from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import directory_id_of

        if "org_id" not in self.params:
            return None
        if self._org is None:
            given = any(self.params.get(name) for name in ("org_id", "api_key"))
            if not given and not all(os.environ.get(ORG_ENVIRONMENT[name]) for name in ("org_id", "api_key")):
                return None
            connection = resolve_org_connection(self.params, os.environ)
            self._hide(connection.api_key)
            self._org = OrgClient(self.http, connection.admin_base_url, connection.org_id, connection.api_key)
        return LinkedUsers(self._org, directory_id_of(self.connection.base_url or ""))

    @property
    def wrote(self) -> bool:
        """Whether a server acknowledged any write of this task: then it changed something, even if it fails."""
        return any(client is not None and client.writes_done > 0 for client in (self._client, self._org))

    def _hide(self, *values: str | None) -> None:
        """Secrets that did not arrive as no_log options (environment, fetched tokens) are masked too."""
        for value in values:
            if value:
                self.module.no_log_values.add(value)

    def run(self, action: t.Callable[[ScimModule], dict[str, t.Any]]) -> t.NoReturn:
        """Call ``action`` and exit with its result, or fail with a message a person can act on."""
        invocation = {"module_args": _without_unset_suboptions(self.params)}
        try:
            result = action(self)
        except DependencyError as exc:
            self.module.fail_json(msg=missing_required_lib(exc.library), exception=exc.traceback, invocation=invocation)
        except ScimKitError as exc:
            self._hide(*exc.secrets)
            details = {**exc.details, "changed": bool(exc.details.get("changed")) or self.wrote}
            self.module.fail_json(msg=str(exc), invocation=invocation, **details)
        except Exception as exc:  # a bug of ours: say so plainly; the traceback shows only with -vvv
            self.module.fail_json(
                msg=f"Unexpected error in scimkit.atlassian ({type(exc).__name__}): {exc}. Please report this.",
                exception=traceback.format_exc(), invocation=invocation, changed=self.wrote,
            )
        finally:
            if self._http is not None:
                self._http.close()
        self.module.exit_json(invocation=invocation, **result)


ORG_ENVIRONMENT = {
    "org_id": "ATLASSIAN_ORG_ID",
    "api_key": "ATLASSIAN_ADMIN_API_KEY",
    "admin_base_url": "ATLASSIAN_ADMIN_BASE_URL",
}


def org_connection_spec() -> dict[str, dict[str, t.Any]]:
    """The options that name the organization and its API key (doc fragment scimkit.atlassian.org)."""
    return {
        "org_id": {"type": "str"},
        "api_key": {"type": "str", "no_log": True},
        "admin_base_url": {"type": "str"},
    }


def org_argument_spec() -> dict[str, dict[str, t.Any]]:
    """Every option of an organization admin API module: the org connection plus the shared transport options."""
    transport = ("validate_certs", "allow_plain_http", "ca_path", "timeout", "max_retries")
    auth = auth_argument_spec()
    return {**org_connection_spec(), **{name: auth[name] for name in transport}}


@dataclass(frozen=True)
class OrgConnection:
    """Resolved organization options: environment applied, transport rule checked."""

    org_id: str
    api_key: str = field(repr=False)
    admin_base_url: str
    http: HttpSettings


def resolve_org_connection(params: dict[str, t.Any], environ: t.Mapping[str, str], *,
                           pool_size: int = 10) -> OrgConnection:
    """The organization, its key and the admin URL, from the task or else the environment, with the plain-http rule."""
    from ansible_collections.scimkit.atlassian.plugins.module_utils._org import ATLASSIAN_ADMIN_URL

    values = {name: params.get(name) or environ.get(variable) or None for name, variable in ORG_ENVIRONMENT.items()}
    for name, what in (("org_id", "Say which organization"), ("api_key", "Give the organization API key")):
        if not values[name]:
            raise ConfigError(f"{what}: give {name} (or the environment variable {ORG_ENVIRONMENT[name]}).")
    base_url = values["admin_base_url"] or ATLASSIAN_ADMIN_URL
    check_transport("admin_base_url", base_url, allow_plain_http=params.get("allow_plain_http", False))
    return OrgConnection(org_id=values["org_id"], api_key=values["api_key"], admin_base_url=base_url,
                         http=http_settings(params, pool_size=pool_size))


class OrgModule(ScimModule):
    """A module of the organization admin API: the org options, an OrgClient, and ScimModule's run()."""

    def __init__(self, argument_spec: dict[str, t.Any] | None = None, **kwargs: t.Any) -> None:  # pylint: disable=super-init-not-called
        spec = org_argument_spec()
        spec.update(argument_spec or {})
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
        self.params = self.module.params
        self._http = None
        self._client = None
        self._org_connection = None
        self._org = None

    @property
    def org_connection(self) -> OrgConnection:
        if self._org_connection is None:
            self._org_connection = resolve_org_connection(self.params, os.environ)
            self._hide(self._org_connection.api_key)
        return self._org_connection

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = HttpClient(self.org_connection.http)
        return self._http

    @property
    def org(self) -> OrgClient:
        if self._org is None:
            from ansible_collections.scimkit.atlassian.plugins.module_utils._org import OrgClient

            connection = self.org_connection
            self._org = OrgClient(self.http, connection.admin_base_url, connection.org_id, connection.api_key)
        return self._org


def _write_only_values(value: t.Any) -> list[str]:
    """The values of every ``password``-like key anywhere in the options (attributes, scim_users' items)."""
    from ansible_collections.scimkit.atlassian.plugins.module_utils._users import WRITE_ONLY

    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(key, str) and key.casefold() in WRITE_ONLY and isinstance(inner, (str, int)):
                    found.append(str(inner))
                else:
                    stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _without_unset_suboptions(params: dict[str, t.Any]) -> dict[str, t.Any]:
    """The task's options as Ansible echoes them, minus the suboptions nobody set.

    Every item of a list option otherwise comes back with all its suboptions filled with null:
    for scim_users' 10,000 users, 200,000 nulls in a result the controller must parse and keep.
    Top-level options stay, so the echo still shows each option's effective value.
    """
    def compact(value: t.Any) -> t.Any:
        if isinstance(value, dict):
            return {key: compact(item) for key, item in value.items() if item is not None}
        if isinstance(value, list):
            return [compact(item) for item in value]
        return value

    return {option: compact(value) for option, value in params.items()}


__all__ = [
    "Connection",
    "ENVIRONMENT",
    "ORG_ENVIRONMENT",
    "OrgConnection",
    "OrgModule",
    "MAX_CONCURRENCY",
    "ScimModule",
    "attribute_selection",
    "check_concurrency",
    "auth_argument_spec",
    "info_argument_spec",
    "org_argument_spec",
    "org_connection_spec",
    "resolve_connection",
    "resolve_org_connection",
    "scim_argument_spec",
]
