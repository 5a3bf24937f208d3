# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Descriptions of the attributes every module documents; each module sets the support level."""

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and predict the C(changed) status without modifying the directory.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) in C(diff).
  idempotent:
    description:
      - When run twice in a row with the same options, the second run reports no change.
  platform:
    description: Target the module runs against.
    support: full
    platforms: [atlassian_cloud, scim2]
"""

    ACTIONGROUP_SCIM = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/scimkit.atlassian.scim) in C(module_defaults) to set the connection options once for every task.
    support: full
    membership:
      - scimkit.atlassian.scim
"""

    ACTIONGROUP_ORG = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/scimkit.atlassian.org) in C(module_defaults) to set the organization options once for every task.
    support: full
    membership:
      - scimkit.atlassian.org
"""

    # For a module in both groups: Ansible merges fragments shallowly, so one membership list names both.
    ACTIONGROUP_SCIM_AND_ORG = r"""
options: {}
attributes:
  action_group:
    description:
      - Use C(group/scimkit.atlassian.scim) in C(module_defaults) to set the SCIM connection options once for every
        task, and C(group/scimkit.atlassian.org) to set the organization options.
    support: full
    membership:
      - scimkit.atlassian.scim
      - scimkit.atlassian.org
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: This module only reads, and works the same in check mode.
  diff_mode:
    support: N/A
    details: This module only reads.
  idempotent:
    support: full
"""
