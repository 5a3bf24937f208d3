#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: scim_group
short_description: Create and delete a group of an Atlassian SCIM directory and manage its members
version_added: "0.1.0"
description:
  - Makes one SCIM 2.0 group exist (or not) with the members given, in an Atlassian Cloud SCIM directory or any
    SCIM 2.0 service provider.
  - The group is found by O(id) when given, else by O(display_name), compared case-insensitively as RFC 7643
    defines C(displayName). Atlassian cannot rename a group that has been synced, so O(display_name) is the
    group's identity, not an attribute the module changes; a group found by O(id) under another name fails the task.
  - O(members) are user names (C(userName), case-insensitive) or SCIM user ids. They are resolved to ids with as
    few requests as possible, and before any write, so a name that matches no user fails the task with nothing
    changed and every such name in the message.
  - Membership changes are PATCH C(add) and C(remove) operations (RFC 7644 section 3.5.2), at most 100 changes
    a request. The member list is never replaced as a whole.
  - O(state=absent) deletes the group. Its members may lose the product access or permissions the group granted.
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
      - Reads the directory and resolves the member names, sends no write, and predicts RV(group), C(changed)
        and the diff as a real run would.
      - A member name that matches no user is not an error in check mode. It is reported as an addition, with a
        warning, since an earlier task of the play (creating the user, itself in check mode) would have made it
        exist. A real run fails on such a name.
  diff_mode:
    support: full
    details: The diff shows C(displayName), C(externalId) and, when O(members) is given or the group is deleted,
      the members' user names, sorted, before and after.
  idempotent:
    support: full
options:
  state:
    description:
      - V(present) creates the group or updates it to match; V(absent) deletes it.
    type: str
    default: present
    choices: [present, absent]
  display_name:
    description:
      - The group's name (C(displayName)), unique in the directory. Required to create a group.
      - Compared case-insensitively. A group found under another spelling keeps its own.
    type: str
  id:
    description:
      - The SCIM id of an existing group. Takes precedence over O(display_name) for finding the group; a group
        cannot be created with a chosen id.
    type: str
  external_id:
    description:
      - The identity provider's id for the group (C(externalId), case-sensitive). An empty string removes it.
    type: str
  members:
    description:
      - Users that must be members, each given as its user name (C(userName)) or its SCIM user id (not the
        Atlassian account id).
      - Without O(purge_members), members not listed stay. When not given, the membership is not managed.
    type: list
    elements: str
  purge_members:
    description:
      - Whether members that O(members) does not list are removed, so the membership becomes exactly O(members).
        V(true) with O(members=[]) removes every member.
    type: bool
    default: false
notes:
  - Atlassian may hide deactivated users from lookups by name; give such a member by its SCIM id.
  - Atlassian supports renaming a synced group only by creating the new group, moving the members and deleting
    the old one, which drops the product roles bound to the old group.
seealso:
  - module: scimkit.atlassian.scim_group_info
  - module: scimkit.atlassian.scim_user
  - name: Atlassian user provisioning REST API
    description: The SCIM Groups operations.
    link: https://developer.atlassian.com/cloud/admin/user-provisioning/rest/api-group-groups/
"""

EXAMPLES = r"""
- name: Get one token for the play
  scimkit.atlassian.oauth_token:
    client_id: "{{ atlassian_client_id }}"
    private_key_path: /etc/atlassian/service-account.pem
    key_id: scim-provisioning-2026
  register: atlassian_token
  no_log: true

- name: Manage groups
  module_defaults:
    group/scimkit.atlassian.scim:
      directory_id: "{{ atlassian_directory_id }}"
      access_token: "{{ atlassian_token.access_token }}"
  block:
    - name: Ensure jira-users exists and holds at least these people
      scimkit.atlassian.scim_group:
        display_name: jira-users
        external_id: 00g1jira
        members:
          - jane.doe@example.com
          - sam.roe@example.com

    - name: Make confluence-admins hold exactly these people
      scimkit.atlassian.scim_group:
        display_name: confluence-admins
        members:
          - jane.doe@example.com
        purge_members: true

    - name: Remove every member of a retired group
      scimkit.atlassian.scim_group:
        display_name: legacy-contractors
        members: []
        purge_members: true

    - name: Delete the retired group
      scimkit.atlassian.scim_group:
        display_name: legacy-contractors
        state: absent
"""

RETURN = r"""
group:
  description:
    - The group as the server holds it after the task; in check mode, the predicted group (with no C(id) for a
      group not yet created, and predicted members carrying only their C(value)). Absent after a delete.
  returned: when the group exists after the task
  type: dict
  sample:
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"]
    id: 7c9e6679-7425-40de-944b-e07fc1f90ae7
    displayName: jira-users
    externalId: 00g1jira
    members:
      - value: 2819c223-7f76-453a-919d-413861904646
        display: Jane Doe
        type: User
action:
  description: What the task did, or would do in check mode.
  returned: always
  type: str
  choices: [created, updated, deleted, unchanged]
  sample: updated
diff:
  description: The managed attributes before and after, in diff mode (C(--diff)).
  returned: in diff mode
  type: dict
  contains:
    before:
      description: C(displayName), C(externalId) and C(members) (sorted user names) before the task; empty for a new group.
      type: dict
      returned: in diff mode
    after:
      description: The same after the task; empty for a deleted group.
      type: dict
      returned: in diff mode
  sample:
    before: {displayName: jira-users, members: [jane.doe@example.com]}
    after: {displayName: jira-users, members: [jane.doe@example.com, sam.roe@example.com]}
"""

import copy

from ansible_collections.scimkit.atlassian.plugins.module_utils._group_reconcile import reconcile_group
from ansible_collections.scimkit.atlassian.plugins.module_utils._groups import GROUP_ARGUMENT_SPEC, group_spec
from ansible_collections.scimkit.atlassian.plugins.module_utils._module import ScimModule


def ensure_group(scim: ScimModule) -> dict:
    outcome = reconcile_group(scim.client, group_spec(scim.params), check_mode=scim.check_mode, diff=scim.diff_mode,
                              warn=scim.module.warn)
    return outcome.module_result("group", diff=scim.diff_mode)


def main() -> None:
    ScimModule(copy.deepcopy(GROUP_ARGUMENT_SPEC), required_one_of=[("display_name", "id")]).run(ensure_group)


if __name__ == "__main__":
    main()
