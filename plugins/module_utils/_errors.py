# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""Typed errors raised by module_utils; only the module base turns them into fail_json."""

from __future__ import annotations

import re
import typing as t


class ScimKitError(Exception):
    """Base of every error this collection raises on purpose.

    ``str(error)`` is the message shown to the user; it never contains a secret.
    ``details`` holds extra, secret-free keys returned next to ``msg``.
    """

    def __init__(self, message: str, *, secrets: t.Iterable[str] = (), **details: t.Any) -> None:
        super().__init__(message)
        self.details = {key: value for key, value in details.items() if value is not None}
        # Values of the task's own options that must be masked wherever the failure echoes them.
        self.secrets = tuple(secrets)


class ConfigError(ScimKitError):
    """The task's options cannot work together (found before any request)."""


class DependencyError(ScimKitError):
    """A required Python library is missing or too old."""

    def __init__(self, library: str, *, traceback: str | None = None) -> None:
        super().__init__(f"The Python library {library} is required but could not be imported.")
        self.library = library
        self.traceback = traceback


class CredentialError(ScimKitError):
    """The private key or passphrase cannot be used to sign an assertion."""


class TransportError(ScimKitError):
    """No usable HTTP answer: DNS, connection refused, TLS failure, timeout.

    ``maybe_applied`` tells whether the server may have acted on the request before the
    answer was lost; a create must then look before it tries again.
    """

    def __init__(self, message: str, *, maybe_applied: bool, retryable: bool = True) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied
        # False when the server did answer, unusably (a redirect, an oversized body): asking again
        # would get the same answer.
        self.retryable = retryable


class TokenError(ScimKitError):
    """The authorization server refused to issue a token (RFC 6749 section 5.2)."""

    def __init__(self, message: str, *, status: int | None = None, error: str | None = None,
                 error_description: str | None = None) -> None:
        super().__init__(message, status=status, error=error, error_description=error_description)
        self.status = status
        self.error = error
        self.error_description = error_description


class ApiError(ScimKitError):
    """The SCIM service provider answered with an error (RFC 7644 section 3.12)."""

    def __init__(self, message: str, *, status: int, method: str, path: str,
                 scim_type: str | None = None, detail: str | None = None) -> None:
        super().__init__(message, status=status, scim_type=scim_type, detail=detail)
        self.status = status
        self.method = method
        self.path = path
        self.scim_type = scim_type
        self.detail = detail


class OrgApiError(ApiError):
    """Atlassian's organization admin API answered with an error: HTTP status plus its ``code`` and ``title``."""

    def __init__(self, message: str, *, status: int, method: str, path: str, code: str | None = None,
                 title: str | None = None, detail: str | None = None) -> None:
        super().__init__(message, status=status, method=method, path=path, detail=detail)
        self.details.update({key: value for key, value in (("code", code), ("title", title)) if value})
        self.code = code
        self.title = title


class ConflictError(ScimKitError):
    """A resource could be neither created nor found (Atlassian hides some users)."""


# A tag cannot contain "<": each match attempt stops at the next "<", so the scan is linear
# (``<[^>]*>`` rescans to the end from every "<" of a body without ">", which is quadratic).
_TAG = re.compile(r"<[^<>]*>")
_SPACE = re.compile(r"\s+")
# Only this much of an error body is ever looked at: an excerpt needs no more, whatever the server sent.
MAX_EXCERPT_SOURCE = 4096
# An error answer (status 400 and up) is parsed from at most this much of its body; real error
# documents (SCIM, OAuth) are a few hundred bytes.
MAX_ERROR_BODY = 64 * 1024


def error_body(text: str) -> str:
    """The part of an error answer's body that is parsed at all."""
    return text[:MAX_ERROR_BODY]


def summarize_body(text: str, content_type: str | None, limit: int = 160) -> str:
    """Describe a response body that is not the JSON we expected, briefly and readably.

    Error pages from proxies ("502 Bad Gateway") tell the user a lot in a few words,
    so keep a short excerpt with markup removed rather than the raw page.
    """
    text = text[:MAX_EXCERPT_SOURCE]
    if not text.strip():
        return "an empty body"
    excerpt = _SPACE.sub(" ", _TAG.sub(" ", text)).strip()
    if len(excerpt) > limit:
        excerpt = excerpt[:limit].rstrip() + "..."
    kind = (content_type or "unknown content type").split(";")[0].strip()
    return f"a non-JSON body ({kind}): {excerpt!r}"


__all__ = [
    "ApiError",
    "ConfigError",
    "ConflictError",
    "CredentialError",
    "DependencyError",
    "OrgApiError",
    "ScimKitError",
    "TokenError",
    "TransportError",
    "error_body",
    "summarize_body",
]
