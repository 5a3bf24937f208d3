#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: scim_groups
short_description: Reconcile many groups of an Atlassian SCIM directory and their members in one task
version_added: "0.2.0"
description:
  - Brings every group of O(groups) to its state, like M(scimkit.atlassian.scim_group) for each, in one task.
  - It lists the groups once, reads the members only of the groups whose membership the task manages
    (concurrently, up to O(concurrency)), and resolves every member name with one listing of the users instead
    of one lookup per member. It then sends only the writes that are needed, in parallel up to O(concurrency)
    over one HTTP session and one token. Membership changes are PATCH C(add) and C(remove) operations, at most
    100 changes a request.
  - The whole plan is made before the first write. An invalid or repeated item, a member name that matches no
    user (in a real run), or a purge larger than O(max_purge) fails the task with nothing changed, naming the
    items (numbered from 1) by their display name.
  - With O(purge), groups of the directory that O(groups) does not name are deleted.
  - A group whose writes fail does not stop the others. The task then fails at the end, naming every failed
    group, and still returns what was done; a task that wrote anything reports C(changed) even when it fails.
author:
  - scimkit.atlassian contributors (@scimkit)
extends_documentation_fragment:
  - scimkit.atlassian.connection
  - scimkit.atlassian.auth
  - scimkit.atlassian.attributes
  - scimkit.atlassian.attributes.actiongroup_scim
attributes:
  check_mode:
    support: full
    details:
      - Reads the directory, sends no write, and reports what a real run would do.
      - A member name that matches no user is reported as an addition, with a warning, since an earlier task
        of the play (a M(scimkit.atlassian.scim_users) in check mode) may be the one that creates the user.
        A real run fails on such a name.
  diff_mode:
    support: full
    details: The diff shows, per group that changes, C(displayName), C(externalId) and, when its members are
      managed, the members' user names before and after.
  idempotent:
    support: full
options:
  groups:
    description:
      - The groups, each with the options of M(scimkit.atlassian.scim_group) except O(scimkit.atlassian.scim_group#module:id).
      - Each group may appear once; display names are compared case-insensitively.
    type: list
    elements: dict
    required: true
    suboptions:
      display_name:
        description: As O(scimkit.atlassian.scim_group#module:display_name). The group's identity.
        type: str
        required: true
      external_id:
        description: As O(scimkit.atlassian.scim_group#module:external_id).
        type: str
      state:
        description: As O(scimkit.atlassian.scim_group#module:state).
        type: str
        default: present
        choices: [present, absent]
      members:
        description:
          - As O(scimkit.atlassian.scim_group#module:members). When not given, the group's membership is
            not managed and its members are not read.
        type: list
        elements: str
      purge_members:
        description: As O(scimkit.atlassian.scim_group#module:purge_members).
        type: bool
        default: false
  concurrency:
    description:
      - How many group reads and writes, and user list pages after the first, are sent at the same time (1 to 32).
    type: int
    default: 4
  purge:
    description:
      - Whether groups of the directory that O(groups) does not name are deleted. Their members may lose the
        product access the groups granted.
    type: bool
    default: false
  max_purge:
    description:
      - The most groups a purge may delete. A purge that would delete more fails before any write, naming up
        to 20 of them.
    type: int
    default: 10
notes:
  - Atlassian may hide deactivated users from lists; give such a member by its SCIM id.
seealso:
  - module: scimkit.atlassian.scim_group
  - module: scimkit.atlassian.scim_users
"""

EXAMPLES = r"""
- name: Make sure the groups exist, without touching their members
  scimkit.atlassian.scim_groups:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    groups:
      - display_name: jira-users
      - display_name: confluence-users
        external_id: 00g1conf
      - display_name: legacy-contractors
        state: absent

- name: Make the memberships exact
  scimkit.atlassian.scim_groups:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    concurrency: 8
    groups:
      - display_name: jira-users
        members: [jane.doe@example.com, sam.roe@example.com]
        purge_members: true
      - display_name: confluence-users
        members: [jane.doe@example.com]
        purge_members: true
"""

RETURN = r"""
created:
  description: Display names of the groups created (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [confluence-users]
updated:
  description: Display names of the groups whose externalId or members changed.
  returned: always
  type: list
  elements: str
  sample: [jira-users]
deleted:
  description: Display names of the groups deleted, by their item's O(groups[].state=absent) or by the purge.
  returned: always
  type: list
  elements: str
  sample: [legacy-contractors]
unchanged:
  description: Display names of the groups already as wanted.
  returned: always
  type: list
  elements: str
  sample: []
failures:
  description: The groups whose writes failed, with why.
  returned: always
  type: list
  elements: dict
  contains:
    item:
      description: The position of the group in O(groups), from 1; V(0) for a group the purge touched.
      type: int
      returned: always
    group:
      description: The group's display name.
      type: str
      returned: always
    error:
      description: What went wrong.
      type: str
      returned: always
  sample:
    - item: 2
      group: confluence-users
      error: "SCIM PATCH /Groups/7c9e6679 failed: HTTP 503."
diff:
  description: Per changed group, the managed attributes before and after, keyed by display name.
  returned: in diff mode
  type: dict
  contains:
    before:
      description: The groups' managed attributes before the task.
      type: dict
      returned: in diff mode
    after:
      description: The groups' managed attributes after the task.
      type: dict
      returned: in diff mode
"""

import copy

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError, ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._group_bulk import GROUP_ITEM_SPEC, reconcile_groups
from ansible_collections.scimkit.atlassian.plugins.module_utils._module import MAX_CONCURRENCY, ScimModule, check_concurrency


def ensure_groups(scim: ScimModule) -> dict:
    params = scim.params
    check_concurrency(params["concurrency"])
    if params["max_purge"] < 0:
        raise ConfigError("max_purge must be 0 or more.")
    result = reconcile_groups(scim.client, params["groups"], check_mode=scim.check_mode,
                              concurrency=params["concurrency"], purge=params["purge"],
                              max_purge=params["max_purge"], diff=scim.diff_mode)
    for warning in result.warnings:
        scim.module.warn(warning)
    output = result.module_result(diff=scim.diff_mode)
    if result.failures:
        raise ScimKitError(result.summary(), **output)
    return output


def main() -> None:
    ScimModule(
        {
            "groups": {"type": "list", "elements": "dict", "required": True, "options": copy.deepcopy(GROUP_ITEM_SPEC)},
            "concurrency": {"type": "int", "default": 4},
            "purge": {"type": "bool", "default": False},
            "max_purge": {"type": "int", "default": 10},
        },
        pool_size=MAX_CONCURRENCY,
    ).run(ensure_groups)


if __name__ == "__main__":
    main()
