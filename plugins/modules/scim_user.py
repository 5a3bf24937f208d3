#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: scim_user
short_description: Create, update, deactivate and delete a user in an Atlassian SCIM directory
version_added: "0.1.0"
description:
  - Makes one SCIM 2.0 user match the options given, in an Atlassian Cloud SCIM directory or any
    SCIM 2.0 service provider.
  - The user is found by every key the task gives, in the order O(id), O(external_id) (exact), O(user_name)
    (case-insensitive, as RFC 7643 defines C(userName)); a key that finds nobody falls through to the next.
  - Two keys that find two different users fail the task, naming both. So does a O(user_name) whose user
    carries an externalId other than O(external_id). A user found by O(user_name) without an externalId is
    the match, and gets O(external_id).
  - O(active=false) or O(state=absent) for a user that cannot be found is unchanged; a user is never
    created just to be deactivated.
  - Only the attributes the task sets are managed; everything else on the server is left alone.
    An option set to an empty string removes that attribute.
  - An update sends a minimal PATCH (RFC 7644 section 3.5.2) of the attributes that differ, or a PUT of
    the merged user where the server's C(ServiceProviderConfig) says PATCH is unsupported.
  - To offboard someone, prefer O(active=false), which deactivates the Atlassian account and can be undone.
    O(state=absent) deletes the SCIM user, which Atlassian cannot undo; creating the user again gives it a new id.
  - For many users in one task, use M(scimkit.atlassian.scim_users), which is much faster than a loop.
author:
  - scimkit.atlassian contributors (@scimkit)
extends_documentation_fragment:
  - scimkit.atlassian.connection
  - scimkit.atlassian.auth
  - scimkit.atlassian.attributes
  - scimkit.atlassian.attributes.actiongroup_scim_and_org
  - scimkit.atlassian.org.scim_links
attributes:
  check_mode:
    support: full
    details: Reads the directory, sends no write, and predicts RV(user), C(changed) and the diff as a real run would.
  diff_mode:
    support: full
    details: The diff shows the managed attributes before and after.
  idempotent:
    support: full
options:
  state:
    description:
      - V(present) creates the user or updates it to match; V(absent) deletes it.
    type: str
    default: present
    choices: [present, absent]
  id:
    description:
      - The SCIM id of an existing user (not the Atlassian account id). Takes precedence over the other keys for
        finding the user; a user cannot be created with a chosen id.
    type: str
  user_name:
    description:
      - The C(userName), unique in the directory. Required to create a user.
      - Compared case-insensitively.
    type: str
  external_id:
    description:
      - The identity provider's immutable id for the person (C(externalId), case-sensitive).
      - When given, the user is found by it, so a change of O(user_name) or e-mail is an update, not a new user.
    type: str
  active:
    description:
      - Whether the user is active. V(false) deactivates the Atlassian account.
    type: bool
  email:
    description:
      - One primary work e-mail address; a shortcut for O(emails).
      - The primary address becomes the Atlassian account's e-mail.
    type: str
  emails:
    description:
      - All e-mail addresses of the user, compared as a set (addresses case-insensitively).
      - When none is marked primary, the first one is.
    type: list
    elements: dict
    suboptions:
      value:
        description: The address.
        type: str
        required: true
      type:
        description: The kind of address, such as V(work), V(home) or V(other).
        type: str
        default: work
      primary:
        description: Whether this is the primary address. At most one may be.
        type: bool
  name:
    description:
      - The parts of the user's name. Only the parts given are managed.
    type: dict
    suboptions:
      given_name:
        description: Given (first) name.
        type: str
      family_name:
        description: Family (last) name.
        type: str
      formatted:
        description: The full name, formatted for display.
        type: str
      middle_name:
        description: Middle name.
        type: str
      honorific_prefix:
        description: Prefix such as V(Dr.).
        type: str
      honorific_suffix:
        description: Suffix such as V(Jr.).
        type: str
  given_name:
    description: Shortcut for O(name.given_name).
    type: str
  family_name:
    description: Shortcut for O(name.family_name).
    type: str
  display_name:
    description: The name shown in Atlassian products.
    type: str
  nick_name:
    description: A casual name.
    type: str
  title:
    description: Job title.
    type: str
  preferred_language:
    description: Preferred language, such as V(en-US).
    type: str
  locale:
    description: Locale for formatting, such as V(en-US).
    type: str
  timezone:
    description: Time zone, as an IANA name such as V(Europe/Berlin).
    type: str
  phone_numbers:
    description:
      - Phone numbers, compared as a set.
    type: list
    elements: dict
    suboptions:
      value:
        description: The number.
        type: str
        required: true
      type:
        description: The kind of number, such as V(work) or V(mobile).
        type: str
        default: work
      primary:
        description: Whether this is the primary number.
        type: bool
  department:
    description: Department, in the Enterprise User extension schema.
    type: str
  organization:
    description: Organization, in the Enterprise User extension schema.
    type: str
  attributes:
    description:
      - Any other SCIM attributes, as the server names them, merged into the user. Keys may be extension schema
        URNs holding a dict of that schema's attributes.
      - Dicts are compared by the keys given; lists and values as wholes.
    type: dict
notes:
  - Atlassian accepts only C(userName) and C(externalId) in user filters and hides deactivated or unlinked
    users from them. A second offboarding run therefore reports no change. Rehiring such a user needs its
    O(id), since the create is refused as a duplicate; the task fails saying so, and where the id is found.
  - A create whose answer is lost or refused with 5xx or 429 is sent again, up to O(max_retries) times, only
    after a lookup proves the user absent, so a retry never makes a second user.
  - The matching rules, with examples, are in the collection's C(docs/identity.md).
seealso:
  - module: scimkit.atlassian.oauth_token
  - name: Atlassian user provisioning REST API
    description: The SCIM Users operations.
    link: https://developer.atlassian.com/cloud/admin/user-provisioning/rest/api-group-users/
"""

EXAMPLES = r"""
- name: Get one token for the play
  scimkit.atlassian.oauth_token:
    client_id: "{{ atlassian_client_id }}"
    private_key_path: /etc/atlassian/service-account.pem
    key_id: scim-provisioning-2026
  register: atlassian_token
  no_log: true

- name: Provision people
  module_defaults:
    group/scimkit.atlassian.scim:
      directory_id: "{{ atlassian_directory_id }}"
      access_token: "{{ atlassian_token.access_token }}"
  block:
    - name: Ensure Jane exists
      scimkit.atlassian.scim_user:
        user_name: jane.doe@example.com
        external_id: 00u1abcd
        email: jane.doe@example.com
        given_name: Jane
        family_name: Doe
        display_name: Jane Doe
        title: Site Reliability Engineer
        department: Platform

    - name: Offboard Sam (reversible)
      scimkit.atlassian.scim_user:
        user_name: sam.roe@example.com
        active: false

    - name: Delete a test account (cannot be undone in Atlassian)
      scimkit.atlassian.scim_user:
        user_name: test.account@example.com
        state: absent

- name: Let the module fetch its own token
  scimkit.atlassian.scim_user:
    base_url: https://api.atlassian.com/scim/directory/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d
    client_id: "{{ atlassian_client_id }}"
    private_key: "{{ atlassian_private_key }}"
    key_id: scim-provisioning-2026
    user_name: lee.poe@example.com
    emails:
      - value: lee.poe@example.com
        primary: true
      - value: lee@example.org
        type: other
"""

RETURN = r"""
user:
  description:
    - The user as the server holds it after the task; in check mode, the predicted user (with no C(id) for a
      user not yet created). Absent after a delete.
  returned: when the user exists after the task
  type: dict
  sample:
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"]
    id: 2819c223-7f76-453a-919d-413861904646
    userName: jane.doe@example.com
    externalId: 00u1abcd
    active: true
    displayName: Jane Doe
    name: {givenName: Jane, familyName: Doe}
    emails: [{value: jane.doe@example.com, type: work, primary: true}]
action:
  description: What the task did, or would do in check mode.
  returned: always
  type: str
  choices: [created, updated, deactivated, deleted, unchanged]
  sample: created
diff:
  description: The managed attributes before and after, in diff mode (C(--diff)).
  returned: in diff mode
  type: dict
  contains:
    before:
      description: The managed attributes before the task; empty for a new user.
      type: dict
      returned: in diff mode
    after:
      description: The managed attributes after the task; empty for a deleted user.
      type: dict
      returned: in diff mode
"""

import copy

from ansible_collections.scimkit.atlassian.plugins.module_utils._module import ScimModule, org_connection_spec
from ansible_collections.scimkit.atlassian.plugins.module_utils._reconcile import reconcile_user
from ansible_collections.scimkit.atlassian.plugins.module_utils._users import USER_ARGUMENT_SPEC, user_spec


def ensure_user(scim: ScimModule) -> dict:
    spec = user_spec(scim.params)
    outcome = reconcile_user(scim.client, spec, check_mode=scim.check_mode, links=scim.scim_links())
    return outcome.module_result("user", diff=scim.diff_mode)


def main() -> None:
    ScimModule(
        {**copy.deepcopy(USER_ARGUMENT_SPEC), **org_connection_spec()},
        mutually_exclusive=[("email", "emails")],
        required_one_of=[("user_name", "external_id", "id")],
    ).run(ensure_user)


if __name__ == "__main__":
    main()
