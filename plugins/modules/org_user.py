#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: org_user
short_description: Suspend, restore or remove a user of an Atlassian organization and revoke their API tokens
version_added: "0.2.0"
description:
  - Finds one user of an Atlassian organization by O(email) or O(account_id) through the organization admin API
    and brings their organization membership to O(state).
  - V(suspended) takes away the user's product access without billing them; their roles and groups are kept,
    and V(active) gives everything back. Suspending a suspended user changes nothing.
  - V(removed) takes the user out of the organization's directory. This cannot be undone (getting them back needs
    a new invitation, and their roles and groups must be given again), so it needs O(confirm_removal=true).
  - O(revoke_api_tokens=true) revokes every personal API token of the user (a departing user's tokens keep working
    until then). The module returns how many it revoked and their labels, never a token's value.
  - Without O(state) the membership is left as it is.
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
    details: Reads the user and, with O(revoke_api_tokens), their tokens; sends no write, and predicts the result,
      C(changed) and the diff as a real run would.
  diff_mode:
    support: full
    details: The diff shows the user's C(status) and C(membership_status) and, with O(revoke_api_tokens), the labels
      of their API tokens, before and after.
  idempotent:
    support: full
options:
  email:
    description:
      - The user's e-mail address (compared case-insensitively). One of O(email) and O(account_id) is required;
        with both, the user must have both.
    type: str
  account_id:
    description:
      - The user's Atlassian account id.
    type: str
  state:
    description:
      - V(active) restores a suspended user; V(suspended) suspends an active one; V(removed) removes the user from
        the organization's directory (needs O(confirm_removal)).
      - A user who cannot be found fails the task, except for V(removed), where there is then nothing to do.
      - Not set, the membership is not changed.
    type: str
    choices: [active, suspended, removed]
  revoke_api_tokens:
    description:
      - Revoke every API token of the user. Revoking cannot be undone.
      - The user must be a managed account, and O(api_key) a key without scopes.
    type: bool
    default: false
  confirm_removal:
    description:
      - Must be V(true) for O(state=removed), which cannot be undone.
    type: bool
    default: false
  org_directory_id:
    description:
      - The organization directory whose membership to change (see M(scimkit.atlassian.org_directory_info)).
      - Not set, the module uses the organization's only directory, or each directory that holds the user.
      - Not a SCIM directory id; do not set it in C(module_defaults) for the group.
    type: str
seealso:
  - module: scimkit.atlassian.org_user_info
  - module: scimkit.atlassian.scim_user
"""

EXAMPLES = r"""
- name: Offboard a leaver, keeping their account restorable
  scimkit.atlassian.org_user:
    org_id: "{{ atlassian_org_id }}"
    api_key: "{{ atlassian_admin_api_key }}"
    email: sam.roe@example.com
    state: suspended
    revoke_api_tokens: true
  register: leaver

- name: Say what was revoked
  ansible.builtin.debug:
    msg: "Revoked {{ leaver.revoked_api_tokens.count }} API tokens: {{ leaver.revoked_api_tokens.labels | join(', ') }}"

- name: Welcome them back
  scimkit.atlassian.org_user:
    org_id: "{{ atlassian_org_id }}"
    api_key: "{{ atlassian_admin_api_key }}"
    email: sam.roe@example.com
    state: active

- name: Remove someone for good
  scimkit.atlassian.org_user:
    org_id: "{{ atlassian_org_id }}"
    api_key: "{{ atlassian_admin_api_key }}"
    account_id: "712020:5a1d2c3b-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    state: removed
    confirm_removal: true
"""

RETURN = r"""
action:
  description: What the task did, or would do in check mode, to the membership.
  returned: success
  type: str
  choices: [suspended, restored, removed, unchanged]
  sample: suspended
user:
  description:
    - The user after the task (in check mode, as predicted); null when the user was removed or not found.
    - The same keys as RV(scimkit.atlassian.org_user_info#module:users) returns.
  returned: success
  type: dict
  sample:
    account_id: "712020:5a1d2c3b-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    email: sam.roe@example.com
    name: Sam Roe
    status: suspended
    account_status: active
    membership_status: suspended
    claim_status: managed
    management_source: synced
revoked_api_tokens:
  description: The API tokens revoked (in check mode, those that would be); never their values.
  returned: when O(revoke_api_tokens=true), also when the task fails after revoking some
  type: dict
  contains:
    count:
      description: How many tokens were revoked.
      type: int
      returned: always
    labels:
      description: The labels the user gave the revoked tokens, sorted.
      type: list
      elements: str
      returned: always
  sample:
    count: 2
    labels: [ci-deploy, laptop]
diff:
  description: The user's status, membership status and (with O(revoke_api_tokens)) API token labels, before and after.
  returned: in diff mode
  type: dict
  contains:
    before:
      description: Before the task; empty for a user not found.
      type: dict
      returned: in diff mode
    after:
      description: After the task; empty for a removed user.
      type: dict
      returned: in diff mode
  sample:
    before: {status: active, membership_status: active, api_tokens: [ci-deploy, laptop]}
    after: {status: suspended, membership_status: suspended, api_tokens: []}
"""

from ansible_collections.scimkit.atlassian.plugins.module_utils._module import OrgModule
from ansible_collections.scimkit.atlassian.plugins.module_utils._org_users import STATES, org_user_spec, reconcile_org_user


def ensure_user(org: OrgModule) -> dict:
    spec = org_user_spec(org.params)
    return reconcile_org_user(org.org, spec, check_mode=org.check_mode, diff=org.diff_mode)


def main() -> None:
    OrgModule(
        {
            "email": {"type": "str"},
            "account_id": {"type": "str"},
            "state": {"type": "str", "choices": list(STATES)},
            "revoke_api_tokens": {"type": "bool", "default": False},
            "confirm_removal": {"type": "bool", "default": False},
            "org_directory_id": {"type": "str"},
        },
        required_one_of=[("email", "account_id")],
    ).run(ensure_user)


if __name__ == "__main__":
    main()
