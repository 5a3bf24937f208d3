# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run-time settings of the sandbox, shared by the token endpoint and the SCIM front.

Settings are read on every request, so Sandbox.configure() and
POST /_sandbox/config take effect immediately.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

# URL layout and constants shared by every module (this one is cheap to import).
HOST = "127.0.0.1"  # loopback only, by design
TOKEN_PATH = "/oauth/token"
SCIM_PREFIX = "/scim/directory/"
CONTROL_PREFIX = "/_sandbox"
SCOPE = "manage:directory"
MAX_CLOCK_OFFSET = 7 * 24 * 3600


@dataclass
class Settings:
    fail_429_rate: float = 0.0  # probability that a SCIM request is answered 429 (seeded RNG)
    fail_429_next: int = 0  # the next N SCIM requests are answered 429
    retry_after: int = 1  # Retry-After seconds on injected 429s
    hide_inactive: bool = False  # list/filter on /Users leaves out active == false
    page_size_cap: int = 100  # largest page a list returns (Atlassian returns at most 100)
    token_html_error: bool = False  # the token endpoint answers 500 with an HTML page
    token_lifetime: int = 3600  # expires_in of issued access tokens, seconds
    strict_filters: bool = True  # only the filters Atlassian supports (see README)
    clock_offset: int = 0  # seconds added to the token endpoint's clock (clock-skew tests)
    # Organization admin API (sandbox_org.py; README "Organization admin API")
    org_fail_429_next: int = 0  # the next N org API requests (matching org_429_match) are answered 429
    org_429_match: str = ""  # only requests whose operation name or path contains this ("" = any)
    org_429_style: str = "reset"  # reset | retry_after | retry_after_date | bare: which headers a 429 carries
    org_retry_after: int = 1  # seconds until X-RateLimit-Reset / Retry-After on injected 429s
    org_error_style: str = "native"  # native | v2 | v1 | text: shape of org API error bodies
    org_page_size_cap: int = 100  # largest page an org API list or search returns
    org_workspace_next: str = "url"  # url | cursor: the form of the workspaces links.next
    org_role_visibility_reads: int = 0  # a role change is hidden from the next N reads of the group's assignments
    org_role_visibility_seconds: float = 0.0  # ... and for this many seconds (wall clock)
    org_role_visibility_hold: bool = False  # ... and until POST /_sandbox/org/settle
    org_strict_repeats: bool = False  # suspending a suspended (restoring an active) user answers 409, not 204
    org_allow_dash_writes: bool = False  # accept directoryId "-" on org API writes (400 otherwise)
    org_default_token_labels: str = ""  # comma-separated: API tokens every user starts with (for the demo)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


SETTING_NAMES = tuple(f.name for f in fields(Settings))
SETTING_CHOICES = {
    "org_429_style": ("reset", "retry_after", "retry_after_date", "bare"),
    "org_error_style": ("native", "v2", "v1", "text"),
    "org_workspace_next": ("url", "cursor"),
}


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return value.lower() in ("true", "yes", "on", "1")
    raise ValueError(f"{name} must be a boolean")


def _as_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer") from None
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}")
    return number


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Check names and types of a configure() call; return normalised values.

    :raises ValueError: on an unknown key or a bad value (nothing is applied).
    """
    unknown = sorted(set(changes) - set(SETTING_NAMES))
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(SETTING_NAMES)}")
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "fail_429_rate":
            try:
                rate = float(value)
            except (TypeError, ValueError):
                raise ValueError("fail_429_rate must be a number") from None
            if not 0.0 <= rate <= 1.0:
                raise ValueError("fail_429_rate must be between 0 and 1")
            clean[name] = rate
        elif name in SETTING_CHOICES:
            if value not in SETTING_CHOICES[name]:
                raise ValueError(f"{name} must be one of {', '.join(SETTING_CHOICES[name])}")
            clean[name] = value
        elif name in ("org_429_match", "org_default_token_labels"):
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string")
            clean[name] = value
        elif name == "org_role_visibility_seconds":
            try:
                clean[name] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number") from None
            if not 0.0 <= clean[name] <= 3600.0:
                raise ValueError(f"{name} must be between 0 and 3600")
        elif name in ("hide_inactive", "token_html_error", "strict_filters", "org_role_visibility_hold",
                      "org_strict_repeats", "org_allow_dash_writes"):
            clean[name] = _as_bool(name, value)
        elif name in ("page_size_cap", "token_lifetime", "org_page_size_cap"):
            clean[name] = _as_int(name, value, 1)
        elif name == "clock_offset":
            clean[name] = _as_int(name, value, -MAX_CLOCK_OFFSET)
            if abs(clean[name]) > MAX_CLOCK_OFFSET:
                raise ValueError(f"clock_offset must be within +-{MAX_CLOCK_OFFSET} seconds")
        else:  # fail_429_next, retry_after, org_fail_429_next, org_retry_after, org_role_visibility_reads
            clean[name] = _as_int(name, value, 0)
    return clean


class SettingsHolder:
    """Settings plus a lock, so a configure() call is applied atomically."""

    def __init__(self, settings: Settings):
        self.current = settings
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        # Reads go straight to the current settings (attribute reads are atomic).
        return getattr(self.current, name)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        clean = validate_changes(changes)
        with self.lock:
            for name, value in clean.items():
                setattr(self.current, name, value)
            return self.current.as_dict()
