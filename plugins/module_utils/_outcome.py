# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to scimkit.atlassian and may change in any release.

"""The result of bringing one resource to its desired state, shared by users and groups."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field


@dataclass
class Outcome:
    """What happened (or, in check mode, would happen) to one resource."""

    action: str  # created, updated, deactivated, deleted or unchanged
    resource: dict[str, t.Any] | None  # as the server holds it after; the prediction in check mode
    before: dict[str, t.Any] = field(default_factory=dict)
    after: dict[str, t.Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.action != "unchanged"

    def module_result(self, key: str, *, diff: bool) -> dict[str, t.Any]:
        """The module's return values: changed, action, the resource under ``key``, and the diff when asked."""
        result: dict[str, t.Any] = {"changed": self.changed, "action": self.action}
        if self.resource is not None:
            result[key] = self.resource
        if diff:
            result["diff"] = {"before": self.before, "after": self.after}
        return result


__all__ = ["Outcome"]
