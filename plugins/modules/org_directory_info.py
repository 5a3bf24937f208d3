#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: org_directory_info
short_description: List the user directories of an Atlassian organization
version_added: "0.2.0"
description:
  - Returns the directories of an Atlassian organization through the organization admin API, every page read.
  - An organization with centralized user management has one directory; one with the original user management
    experience may have several. Other C(scimkit.atlassian.org) modules take a directory id where a user or group
    lives in more than one.
author:
  - scimkit.atlassian contributors (@scimkit)
extends_documentation_fragment:
  - scimkit.atlassian.org
  - scimkit.atlassian.org.transport
  - scimkit.atlassian.attributes
  - scimkit.atlassian.attributes.actiongroup_org
  - scimkit.atlassian.attributes.info_module
options: {}
seealso:
  - module: scimkit.atlassian.org_user_info
  - module: scimkit.atlassian.org_workspace_info
"""

EXAMPLES = r"""
- name: List the organization's directories
  scimkit.atlassian.org_directory_info:
    org_id: "{{ atlassian_org_id }}"
    api_key: "{{ atlassian_admin_api_key }}"
  register: org_directories

- name: Set the organization once for every org task
  module_defaults:
    group/scimkit.atlassian.org:
      org_id: "{{ atlassian_org_id }}"
      api_key: "{{ atlassian_admin_api_key }}"
  block:
    - name: List the directories
      scimkit.atlassian.org_directory_info:
      register: org_directories
"""

RETURN = r"""
directories:
  description: The organization's directories.
  returned: success
  type: list
  elements: dict
  contains:
    directory_id:
      description: The directory's id.
      type: str
      returned: always
    name:
      description: The directory's name.
      type: str
      returned: always
  sample:
    - directory_id: 5f2a6c1e-8b7d-4e3f-9a0b-1c2d3e4f5a6b
      name: Acme staff
"""

from ansible_collections.scimkit.atlassian.plugins.module_utils._module import OrgModule
from ansible_collections.scimkit.atlassian.plugins.module_utils._org_views import directory_view


def read(org: OrgModule) -> dict:
    return {"changed": False, "directories": [directory_view(directory) for directory in org.org.directories()]}


def main() -> None:
    OrgModule().run(read)


if __name__ == "__main__":
    main()
