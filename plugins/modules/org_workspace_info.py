#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: org_workspace_info
short_description: List the workspaces (products on sites) of an Atlassian organization
version_added: "0.2.0"
description:
  - Returns the workspaces of an Atlassian organization (for example Jira or Confluence on a site), each with the
    ARI that M(scimkit.atlassian.org_group_access) grants roles on, every page read.
  - O(product) and O(name) narrow the list; without them every workspace is returned.
author:
  - scimkit.atlassian contributors (@scimkit)
extends_documentation_fragment:
  - scimkit.atlassian.org
  - scimkit.atlassian.org.transport
  - scimkit.atlassian.attributes
  - scimkit.atlassian.attributes.actiongroup_org
  - scimkit.atlassian.attributes.info_module
options:
  product:
    description:
      - Return only workspaces of these product keys, such as V(jira-software) or V(confluence).
    type: list
    elements: str
  name:
    description:
      - Return only workspaces with this name, or at this URL (V(https://acme.atlassian.net) or V(acme.atlassian.net)),
        compared case-insensitively.
    type: str
seealso:
  - module: scimkit.atlassian.org_group_access
"""

EXAMPLES = r"""
- name: Find the Jira workspaces
  scimkit.atlassian.org_workspace_info:
    org_id: "{{ atlassian_org_id }}"
    api_key: "{{ atlassian_admin_api_key }}"
    product: [jira-software]
  register: jira

- name: Show their ARIs
  ansible.builtin.debug:
    msg: "{{ jira.workspaces | map(attribute='ari') | list }}"
"""

RETURN = r"""
workspaces:
  description: The workspaces found.
  returned: success
  type: list
  elements: dict
  contains:
    ari:
      description: The workspace's resource ARI, the C(resource) of a role assignment.
      type: str
      returned: always
    product_key:
      description: The product key (C(typeKey)), such as C(jira-software) or C(confluence).
      type: str
      returned: always
    product_name:
      description: The product's display name.
      type: str
      returned: always
    name:
      description: The workspace's name.
      type: str
      returned: always
    url:
      description: The workspace's URL (C(hostUrl)).
      type: str
      returned: always
    status:
      description: V(online), V(offline) or V(deprecated).
      type: str
      returned: always
  sample:
    - ari: "ari:cloud:jira::site/6b1f5d3c-2a4e-4b8f-9c0d-1e2f3a4b5c6d"
      product_key: jira-software
      product_name: Jira
      name: acme
      url: https://acme.atlassian.net
      status: online
"""

from ansible_collections.scimkit.atlassian.plugins.module_utils._module import OrgModule
from ansible_collections.scimkit.atlassian.plugins.module_utils._org_views import workspace_matches, workspace_view


def read(org: OrgModule) -> dict:
    products, name = org.params["product"], org.params["name"]
    workspaces = [workspace_view(workspace) for workspace in org.org.workspaces()]
    return {"changed": False, "workspaces": [view for view in workspaces if workspace_matches(view, name=name, products=products)]}


def main() -> None:
    OrgModule({"product": {"type": "list", "elements": "str"}, "name": {"type": "str"}}).run(read)


if __name__ == "__main__":
    main()
