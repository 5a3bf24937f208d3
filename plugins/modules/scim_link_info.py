#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: scim_link_info
short_description: Find the SCIM records linked to an Atlassian account
version_added: "0.2.0"
description:
  - Returns the SCIM links of one Atlassian account, found by O(email) or O(account_id), through Atlassian's
    user-provisioning admin API. Each link names the SCIM user id, the SCIM directory and the account.
  - Atlassian leaves some users out of SCIM filters (for example after they were deactivated or unlinked); their
    SCIM user id can still be found here, and M(scimkit.atlassian.scim_user) can then manage them by O(scimkit.atlassian.scim_user#module:id).
author:
  - scimkit.atlassian contributors (@scimkit)
extends_documentation_fragment:
  - scimkit.atlassian.org
  - scimkit.atlassian.org.transport
  - scimkit.atlassian.attributes
  - scimkit.atlassian.attributes.actiongroup_org
  - scimkit.atlassian.attributes.info_module
options:
  email:
    description:
      - The e-mail address of the account. Exactly one of O(email) and O(account_id) is required.
    type: str
  account_id:
    description:
      - The Atlassian account id.
    type: str
notes:
  - Atlassian's documentation leaves open whether this API takes the organization API key or a SCIM directory
    key; the module sends the organization API key (O(api_key)).
seealso:
  - module: scimkit.atlassian.scim_user
  - module: scimkit.atlassian.org_user_info
"""

EXAMPLES = r"""
- name: Find the SCIM user id of someone SCIM filters do not show
  scimkit.atlassian.scim_link_info:
    org_id: "{{ atlassian_org_id }}"
    api_key: "{{ atlassian_admin_api_key }}"
    email: jane.doe@example.com
  register: jane_links

- name: Reactivate them by SCIM id
  scimkit.atlassian.scim_user:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    id: "{{ jane_links.links[0].scim_user_id }}"
    active: true
  when: jane_links.links | length > 0
"""

RETURN = r"""
links:
  description: The account's SCIM links; empty when it has none.
  returned: success
  type: list
  elements: dict
  contains:
    scim_user_id:
      description: The id of the SCIM user record.
      type: str
      returned: always
    directory_id:
      description: The SCIM directory that holds the record.
      type: str
      returned: always
    account_id:
      description: The Atlassian account the record is linked to, or null.
      type: str
      returned: always
    org_id:
      description: The organization.
      type: str
      returned: always
  sample:
    - scim_user_id: 2819c223-7f76-453a-919d-413861904646
      directory_id: 0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d
      account_id: "712020:5a1d2c3b-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
      org_id: 9e8d7c6b-5a4f-3e2d-1c0b-a9f8e7d6c5b4
"""

from ansible_collections.scimkit.atlassian.plugins.module_utils._module import OrgModule
from ansible_collections.scimkit.atlassian.plugins.module_utils._org_views import scim_link_view


def read(org: OrgModule) -> dict:
    links = org.org.scim_links(email=org.params["email"], account_id=org.params["account_id"])
    return {"changed": False, "links": [scim_link_view(link) for link in links]}


def main() -> None:
    OrgModule(
        {"email": {"type": "str"}, "account_id": {"type": "str"}},
        required_one_of=[("email", "account_id")], mutually_exclusive=[("email", "account_id")],
    ).run(read)


if __name__ == "__main__":
    main()
