#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: org_user_info
short_description: Find users of an Atlassian organization by e-mail, account id or status
version_added: "0.2.0"
description:
  - Searches the users of every directory of an Atlassian organization through the organization admin API, every
    page read, and returns each user's account id and statuses.
  - This finds people the SCIM API may not show, and their Atlassian account id, which other
    C(scimkit.atlassian.org) modules take.
  - O(emails), O(account_ids) and O(status) narrow the search and can be combined (a user must match each one
    given); without them every user is returned.
author:
  - scimkit.atlassian contributors (@scimkit)
extends_documentation_fragment:
  - scimkit.atlassian.org
  - scimkit.atlassian.org.transport
  - scimkit.atlassian.attributes
  - scimkit.atlassian.attributes.actiongroup_org
  - scimkit.atlassian.attributes.info_module
options:
  emails:
    description:
      - Return the users with these e-mail addresses (whole addresses, compared case-insensitively).
    type: list
    elements: str
  account_ids:
    description:
      - Return the users with these Atlassian account ids.
    type: list
    elements: str
  status:
    description:
      - Return only users with one of these statuses. V(suspended) means the account is active but its membership
        of the organization is suspended.
    type: list
    elements: str
    choices: [active, suspended, not_invited, deactivated, for_deletion]
seealso:
  - module: scimkit.atlassian.org_user
  - module: scimkit.atlassian.scim_link_info
"""

EXAMPLES = r"""
- name: Find a user's account id
  scimkit.atlassian.org_user_info:
    org_id: "{{ atlassian_org_id }}"
    api_key: "{{ atlassian_admin_api_key }}"
    emails: [jane.doe@example.com]
  register: jane

- name: List the suspended users
  scimkit.atlassian.org_user_info:
    org_id: "{{ atlassian_org_id }}"
    api_key: "{{ atlassian_admin_api_key }}"
    status: [suspended]
  register: suspended
"""

RETURN = r"""
users:
  description: The users found; empty when none matches.
  returned: success
  type: list
  elements: dict
  contains:
    account_id:
      description: The Atlassian account id.
      type: str
      returned: always
    email:
      description: The user's e-mail address.
      type: str
      returned: always
    name:
      description: The user's name.
      type: str
      returned: always
    status:
      description: V(active), V(suspended), V(not_invited), V(deactivated) or V(for_deletion).
      type: str
      returned: always
    account_status:
      description: The Atlassian account's status, V(active), V(inactive) or V(closed).
      type: str
      returned: always
    membership_status:
      description: The organization membership's status, V(active), V(suspended) or V(no_membership).
      type: str
      returned: always
    claim_status:
      description: V(managed) when the organization has verified the user's e-mail domain, else V(unmanaged).
      type: str
      returned: always
    management_source:
      description: V(synced) for a user from an identity provider (SCIM), V(invited), or null.
      type: str
      returned: always
  sample:
    - account_id: "712020:5a1d2c3b-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
      email: jane.doe@example.com
      name: Jane Doe
      status: active
      account_status: active
      membership_status: active
      claim_status: managed
      management_source: synced
"""

from ansible_collections.scimkit.atlassian.plugins.module_utils._module import OrgModule
from ansible_collections.scimkit.atlassian.plugins.module_utils._org_views import user_view

STATUSES = ["active", "suspended", "not_invited", "deactivated", "for_deletion"]


def read(org: OrgModule) -> dict:
    params = org.params
    users = org.org.search_users(emails=params["emails"], account_ids=params["account_ids"], statuses=params["status"])
    return {"changed": False, "users": [user_view(user) for user in users]}


def main() -> None:
    OrgModule({
        "emails": {"type": "list", "elements": "str"},
        "account_ids": {"type": "list", "elements": "str"},
        "status": {"type": "list", "elements": "str", "choices": STATUSES},
    }).run(read)


if __name__ == "__main__":
    main()
