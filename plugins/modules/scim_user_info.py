#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: scim_user_info
short_description: Read users from an Atlassian SCIM directory
version_added: "0.1.0"
description:
  - Returns the users of a SCIM directory that match O(user_name), O(id) or a raw SCIM O(filter), or all users
    when none is given.
  - Every page is read, also from a server that returns fewer users a page than asked for.
author:
  - scimkit.atlassian contributors (@scimkit)
extends_documentation_fragment:
  - scimkit.atlassian.connection
  - scimkit.atlassian.auth
  - scimkit.atlassian.attributes
  - scimkit.atlassian.attributes.actiongroup_scim
  - scimkit.atlassian.attributes.info_module
options:
  user_name:
    description:
      - Return the user with this C(userName) (compared case-insensitively).
    type: str
  id:
    description:
      - Return the user with this SCIM id.
    type: str
  filter:
    description:
      - A raw SCIM filter (RFC 7644 section 3.4.2.2), such as V(externalId eq "00u1abcd").
      - Atlassian accepts only C(userName eq) and C(externalId eq) filters.
    type: str
  attributes:
    description:
      - Return only these attributes (the server always adds C(id)). Cannot be used with O(excluded_attributes).
    type: list
    elements: str
  excluded_attributes:
    description:
      - Leave these attributes out of the answer.
    type: list
    elements: str
notes:
  - Atlassian may leave deactivated or unlinked users out of lists and filters; O(id) still finds them.
seealso:
  - module: scimkit.atlassian.scim_user
  - module: scimkit.atlassian.scim_users
"""

EXAMPLES = r"""
- name: Look up one user
  scimkit.atlassian.scim_user_info:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    user_name: jane.doe@example.com
  register: jane

- name: Find the user an identity provider id belongs to
  scimkit.atlassian.scim_user_info:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    filter: externalId eq "00u1abcd"
  register: by_external_id

- name: List every user name and status
  scimkit.atlassian.scim_user_info:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    attributes: [userName, active]
  register: everyone
"""

RETURN = r"""
users:
  description: The users found, as the server returns them; empty when none matches.
  returned: success
  type: list
  elements: dict
  sample:
    - id: 2819c223-7f76-453a-919d-413861904646
      userName: jane.doe@example.com
      active: true
      emails: [{value: jane.doe@example.com, type: work, primary: true}]
"""

from ansible_collections.scimkit.atlassian.plugins.module_utils._module import (
    ScimModule,
    attribute_selection,
    info_argument_spec,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._reconcile import read_users
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import check_id


def read(scim: ScimModule) -> dict:
    params = scim.params
    if params["id"] is not None:
        check_id(params["id"], "id")
    users = read_users(scim.client, user_id=params["id"], user_name=params["user_name"], filter=params["filter"],
                       **attribute_selection(params))
    return {"changed": False, "users": users}


def main() -> None:
    ScimModule(
        info_argument_spec("user_name"),
        mutually_exclusive=[("user_name", "id", "filter"), ("attributes", "excluded_attributes")],
    ).run(read)


if __name__ == "__main__":
    main()
