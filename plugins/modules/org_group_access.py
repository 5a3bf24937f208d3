#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: org_group_access
short_description: Give a group of an Atlassian organization product access
version_added: "0.2.0"
description:
  - Grants (or revokes) roles on workspaces (products on sites) to one group of an Atlassian organization, through
    the organization admin API's group role assignments. Every member of the group then has that access.
  - The group is found by O(group_id), or by O(group) (its exact name, compared case-insensitively).
  - Each O(access) item names a O(access[].resource), as an ARI or as a workspace name or URL that the module
    resolves to its ARI (see M(scimkit.atlassian.org_workspace_info)), and a O(access[].role).
  - The module reads the group's assignments first and writes only what differs. After writing it reads them
    again, for up to O(wait_timeout) seconds, until they show the change, because Atlassian documents up to 30
    seconds before a change is visible. Changes still not visible then are returned in RV(pending), with a
    warning, rather than reported as done.
author:
  - scimkit.atlassian contributors (@scimkit)
extends_documentation_fragment:
  - scimkit.atlassian.org
  - scimkit.atlassian.org.transport
  - scimkit.atlassian.attributes
  - scimkit.atlassian.attributes.actiongroup_org
attributes:
  check_mode:
    support: full
    details: Reads the group, the workspaces and the assignments; sends no write, does not wait, and predicts the
      result, C(changed) and the diff as a real run would.
  diff_mode:
    support: full
    details: The diff shows the group's role assignments, sorted, before and after.
  idempotent:
    support: full
    details: Once Atlassian shows a change (within about 30 seconds), a second run reports no change.
options:
  group:
    description:
      - The group's name, matched exactly but case-insensitively. Exactly one of O(group) and O(group_id) is required.
    type: str
  group_id:
    description:
      - The group's id in the organization.
    type: str
  access:
    description:
      - The roles the group has (V(present)) or must not have (V(absent)).
    type: list
    elements: dict
    required: true
    suboptions:
      resource:
        description:
          - A workspace ARI (V(ari:cloud:jira::site/6b1f5d3c-...)), or a workspace's name or URL.
        type: str
        required: true
      role:
        description:
          - The role, written V(atlassian/<name>), for example V(atlassian/user), V(atlassian/admin),
            V(atlassian/user-access-admin), V(atlassian/guest), V(atlassian/contributor), V(atlassian/customer),
            V(atlassian/basic), V(atlassian/stakeholder) or V(atlassian/viewer).
        type: str
        required: true
      product:
        description:
          - The product key (V(jira-software), V(confluence), ...) of the workspace a name or URL means, needed when
            several products share the name or URL of a site.
        type: str
  state:
    description:
      - V(present) grants the roles in O(access); V(absent) revokes them.
    type: str
    default: present
    choices: [present, absent]
  exclusive:
    description:
      - With O(state=present), also revoke every role assignment of the group that O(access) does not name.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait, after writing, until Atlassian shows the change. V(0) reads once and does not wait.
    type: int
    default: 35
notes:
  - Revoking a role removes the product access of the group's members unless another group grants it.
  - A grant refused because the product has no seats left fails the task, naming the product.
seealso:
  - module: scimkit.atlassian.org_workspace_info
  - module: scimkit.atlassian.scim_group
"""

EXAMPLES = r"""
- name: Let the jira-users group use Jira
  scimkit.atlassian.org_group_access:
    org_id: "{{ atlassian_org_id }}"
    api_key: "{{ atlassian_admin_api_key }}"
    group: jira-users
    access:
      - resource: https://acme.atlassian.net
        product: jira-software
        role: atlassian/user

- name: Make the group's access exactly this, by ARI
  scimkit.atlassian.org_group_access:
    org_id: "{{ atlassian_org_id }}"
    api_key: "{{ atlassian_admin_api_key }}"
    group_id: 7c9e6679-7425-40de-944b-e07fc1f90ae7
    access:
      - resource: "ari:cloud:confluence::site/6b1f5d3c-2a4e-4b8f-9c0d-1e2f3a4b5c6d"
        role: atlassian/user
    exclusive: true
"""

RETURN = r"""
group:
  description: The group.
  returned: success
  type: dict
  contains:
    id:
      description: The group's id.
      type: str
      returned: always
    name:
      description: The group's name.
      type: str
      returned: always
    directory_id:
      description: The directory that holds the group.
      type: str
      returned: always
  sample: {id: 7c9e6679-7425-40de-944b-e07fc1f90ae7, name: jira-users, directory_id: 5f2a6c1e-8b7d-4e3f-9a0b-1c2d3e4f5a6b}
granted:
  description: The role assignments granted (in check mode, that would be), each with C(resource) (an ARI) and C(role).
  returned: success
  type: list
  elements: dict
  sample: [{resource: "ari:cloud:jira::site/6b1f5d3c-2a4e-4b8f-9c0d-1e2f3a4b5c6d", role: atlassian/user}]
revoked:
  description: The role assignments revoked (in check mode, that would be), each with C(resource) and C(role).
  returned: success
  type: list
  elements: dict
  sample: []
assignments:
  description:
    - The group's role assignments after the task, each with C(resource) and C(role), sorted. In check mode the
      predicted ones; when RV(pending) is not empty, those the last read showed.
  returned: success
  type: list
  elements: dict
  sample: [{resource: "ari:cloud:jira::site/6b1f5d3c-2a4e-4b8f-9c0d-1e2f3a4b5c6d", role: atlassian/user}]
pending:
  description:
    - The changes Atlassian accepted but did not show within O(wait_timeout), each with C(resource), C(role) and
      C(change) (V(grant) or V(revoke)). Empty when every change is visible, and in check mode.
  returned: success
  type: list
  elements: dict
  sample: [{resource: "ari:cloud:jira::site/6b1f5d3c-2a4e-4b8f-9c0d-1e2f3a4b5c6d", role: atlassian/user, change: grant}]
diff:
  description: The group's role assignments before and after.
  returned: in diff mode
  type: dict
  contains:
    before:
      description: C(access), the assignments before the task.
      type: dict
      returned: in diff mode
    after:
      description: C(access), the assignments after the task.
      type: dict
      returned: in diff mode
  sample:
    before: {access: []}
    after: {access: [{resource: "ari:cloud:jira::site/6b1f5d3c-2a4e-4b8f-9c0d-1e2f3a4b5c6d", role: atlassian/user}]}
"""

from ansible_collections.scimkit.atlassian.plugins.module_utils._module import OrgModule
from ansible_collections.scimkit.atlassian.plugins.module_utils._org_access import GroupAccess


def ensure_access(org: OrgModule) -> dict:
    return GroupAccess(org.org).reconcile(org.params, check_mode=org.check_mode, diff=org.diff_mode)


def main() -> None:
    OrgModule(
        {
            "group": {"type": "str"},
            "group_id": {"type": "str"},
            "access": {"type": "list", "elements": "dict", "required": True, "options": {
                "resource": {"type": "str", "required": True},
                "role": {"type": "str", "required": True},
                "product": {"type": "str"},
            }},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "exclusive": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 35},
        },
        required_one_of=[("group", "group_id")], mutually_exclusive=[("group", "group_id")],
    ).run(ensure_access)


if __name__ == "__main__":
    main()
