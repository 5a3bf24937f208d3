#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: scim_group_info
short_description: Read groups from an Atlassian SCIM directory
version_added: "0.1.0"
description:
  - Returns the groups of a SCIM directory that match O(display_name), O(id) or a raw SCIM O(filter), or all
    groups when none is given.
  - Every page is read, also from a server that returns fewer groups a page than asked for.
  - For large groups, O(excluded_attributes=[members]) leaves the member lists out of the answer.
author:
  - scimkit.atlassian contributors (@scimkit)
extends_documentation_fragment:
  - scimkit.atlassian.connection
  - scimkit.atlassian.auth
  - scimkit.atlassian.attributes
  - scimkit.atlassian.attributes.actiongroup_scim
  - scimkit.atlassian.attributes.info_module
options:
  display_name:
    description:
      - Return the group with this C(displayName) (compared case-insensitively).
    type: str
  id:
    description:
      - Return the group with this SCIM id.
    type: str
  filter:
    description:
      - A raw SCIM filter (RFC 7644 section 3.4.2.2), such as V(displayName eq "jira-users").
      - Atlassian accepts only C(displayName eq) filters on groups.
    type: str
  attributes:
    description:
      - Return only these attributes (the server always adds C(id)). Cannot be used with O(excluded_attributes).
    type: list
    elements: str
  excluded_attributes:
    description:
      - Leave these attributes out of the answer, such as V(members) to read large groups quickly.
    type: list
    elements: str
notes:
  - Atlassian does not document O(attributes) and O(excluded_attributes) for groups; a server that ignores them
    returns whole groups.
seealso:
  - module: scimkit.atlassian.scim_group
"""

EXAMPLES = r"""
- name: Read one group with its members
  scimkit.atlassian.scim_group_info:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    display_name: jira-users
  register: jira_users

- name: Show the member ids
  ansible.builtin.debug:
    msg: "{{ jira_users.groups[0].members | default([]) | map(attribute='value') | list }}"

- name: List every group, without the member lists
  scimkit.atlassian.scim_group_info:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    excluded_attributes: [members]
  register: all_groups
"""

RETURN = r"""
groups:
  description: The groups found, as the server returns them; empty when none matches.
  returned: success
  type: list
  elements: dict
  sample:
    - id: 7c9e6679-7425-40de-944b-e07fc1f90ae7
      displayName: jira-users
      externalId: 00g1jira
      members:
        - value: 2819c223-7f76-453a-919d-413861904646
          display: Jane Doe
          type: User
"""

from ansible_collections.scimkit.atlassian.plugins.module_utils._group_reconcile import read_groups
from ansible_collections.scimkit.atlassian.plugins.module_utils._module import (
    ScimModule,
    attribute_selection,
    info_argument_spec,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import check_id


def read(scim: ScimModule) -> dict:
    params = scim.params
    if params["id"] is not None:
        check_id(params["id"], "id")
    groups = read_groups(scim.client, group_id=params["id"], display_name=params["display_name"],
                         filter=params["filter"], **attribute_selection(params))
    return {"changed": False, "groups": groups}


def main() -> None:
    ScimModule(
        info_argument_spec("display_name"),
        mutually_exclusive=[("display_name", "id", "filter"), ("attributes", "excluded_attributes")],
    ).run(read)


if __name__ == "__main__":
    main()
