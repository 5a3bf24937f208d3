#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: scim_users
short_description: Reconcile many users of an Atlassian SCIM directory in one task
version_added: "0.1.0"
description:
  - Brings every user of O(users) to its state, like M(scimkit.atlassian.scim_user) for each, in one task.
  - It reads the directory once, page by page, instead of looking each user up, then sends only the writes
    that are needed (a minimal PATCH for a changed user), in parallel up to O(concurrency) over one HTTP
    session and one token. When the server answers HTTP 429, every worker pauses as C(Retry-After) says.
  - Each item finds its user by the rules of M(scimkit.atlassian.scim_user) (every key it gives, and all
    must lead to the same user), looked up in the one listing.
  - The whole plan is checked before the first write. Every item is validated (also by the module's own
    checks, such as O(users[].given_name) against O(users[].name.given_name)) and matched, and each
    directory user may be claimed by one item only. Any invalid, conflicting or duplicate item fails the task
    before the first write; the message names every such item, counted from 1, with its user name.
  - With O(purge), users of the directory that O(users) does not name are deactivated, or deleted with
    O(purge_action=delete). The purge is planned only from a clean plan and never touches a user any item
    resolves to; one larger than O(max_purge) fails with nothing changed, naming up to 20 of its users.
  - After the plan, a user whose write fails does not stop the others. The task then fails at the end, naming
    every failed item, and still returns what was done, with C(changed=true) if anything was written.
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
    details: Reads the directory, sends no write, and reports exactly what a real run would do.
  diff_mode:
    support: full
    details: The diff shows, per user that changes, the managed attributes before and after.
  idempotent:
    support: full
options:
  users:
    description:
      - The users, each with the options of M(scimkit.atlassian.scim_user) (connection options excepted).
      - Each user may appear once.
      - Exactly one of O(users) and O(users_file) is required.
    type: list
    elements: dict
    suboptions:
      state:
        description: As O(scimkit.atlassian.scim_user#module:state).
        type: str
        default: present
        choices: [present, absent]
      id:
        description: As O(scimkit.atlassian.scim_user#module:id).
        type: str
      user_name:
        description: As O(scimkit.atlassian.scim_user#module:user_name).
        type: str
      external_id:
        description: As O(scimkit.atlassian.scim_user#module:external_id).
        type: str
      active:
        description: As O(scimkit.atlassian.scim_user#module:active).
        type: bool
      email:
        description: As O(scimkit.atlassian.scim_user#module:email).
        type: str
      emails:
        description: As O(scimkit.atlassian.scim_user#module:emails).
        type: list
        elements: dict
        suboptions:
          value:
            description: The address.
            type: str
            required: true
          type:
            description: The kind of address.
            type: str
            default: work
          primary:
            description: Whether this is the primary address.
            type: bool
      name:
        description: As O(scimkit.atlassian.scim_user#module:name).
        type: dict
        suboptions:
          given_name:
            description: As O(scimkit.atlassian.scim_user#module:name.given_name).
            type: str
          family_name:
            description: As O(scimkit.atlassian.scim_user#module:name.family_name).
            type: str
          formatted:
            description: As O(scimkit.atlassian.scim_user#module:name.formatted).
            type: str
          middle_name:
            description: As O(scimkit.atlassian.scim_user#module:name.middle_name).
            type: str
          honorific_prefix:
            description: As O(scimkit.atlassian.scim_user#module:name.honorific_prefix).
            type: str
          honorific_suffix:
            description: As O(scimkit.atlassian.scim_user#module:name.honorific_suffix).
            type: str
      given_name:
        description: As O(scimkit.atlassian.scim_user#module:given_name).
        type: str
      family_name:
        description: As O(scimkit.atlassian.scim_user#module:family_name).
        type: str
      display_name:
        description: As O(scimkit.atlassian.scim_user#module:display_name).
        type: str
      nick_name:
        description: As O(scimkit.atlassian.scim_user#module:nick_name).
        type: str
      title:
        description: As O(scimkit.atlassian.scim_user#module:title).
        type: str
      preferred_language:
        description: As O(scimkit.atlassian.scim_user#module:preferred_language).
        type: str
      locale:
        description: As O(scimkit.atlassian.scim_user#module:locale).
        type: str
      timezone:
        description: As O(scimkit.atlassian.scim_user#module:timezone).
        type: str
      phone_numbers:
        description: As O(scimkit.atlassian.scim_user#module:phone_numbers).
        type: list
        elements: dict
        suboptions:
          value:
            description: The number.
            type: str
            required: true
          type:
            description: The kind of number.
            type: str
            default: work
          primary:
            description: Whether this is the primary number.
            type: bool
      department:
        description: As O(scimkit.atlassian.scim_user#module:department).
        type: str
      organization:
        description: As O(scimkit.atlassian.scim_user#module:organization).
        type: str
      attributes:
        description: As O(scimkit.atlassian.scim_user#module:attributes).
        type: dict
  users_file:
    description:
      - A JSON or YAML file on the host that runs the task (normally the controller) that holds the users,
        as a list of items with the options of O(users), or as a mapping whose only key, C(users), holds
        that list.
      - For thousands of users. The list then does not pass through Ansible's variables and task arguments,
        which at 10,000 users saves about 45% of the run's memory (374 MB to 201 MB in this collection's
        benchmark) and the templating of the list.
      - Every item is checked as O(users) would be; any invalid item fails the task before a request is sent.
      - A relative path is taken from the directory C(ansible-playbook) was started in (the module's working
        directory on the controller); messages show the absolute path. C({{ playbook_dir }}/people.yml) is
        independent of it.
    type: path
  concurrency:
    description:
      - How many writes, and list pages after the first, are sent at the same time.
    type: int
    default: 4
  purge:
    description:
      - Whether users of the directory that O(users) does not name are offboarded, as O(purge_action) says.
    type: bool
    default: false
  purge_action:
    description:
      - V(deactivate) sets C(active) to false (reversible); V(delete) deletes the SCIM user, which Atlassian
        cannot undo.
    type: str
    default: deactivate
    choices: [deactivate, delete]
  max_purge:
    description:
      - The most users a purge may touch. A purge that would touch more fails before any write, naming the
        count, as identity providers' accidental-deletion thresholds do.
    type: int
    default: 10
notes:
  - Atlassian leaves deactivated or unlinked users out of lists. Such a user is not purged; an item that
    offboards one is unchanged; an item that would rehire one fails with an explanation unless its
    O(users[].id) is given.
  - The matching and planning rules, with examples, are in the collection's C(docs/identity.md).
seealso:
  - module: scimkit.atlassian.scim_user
  - module: scimkit.atlassian.scim_user_info
"""

EXAMPLES = r"""
- name: Onboard everyone from the HR export in one task
  scimkit.atlassian.scim_users:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    concurrency: 8
    users: "{{ hr_export | map('combine', {'state': 'present'}) | list }}"

- name: Reconcile the whole company from the HR system's nightly JSON export
  scimkit.atlassian.scim_users:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    users_file: /srv/hr/people.json

- name: Make the directory hold exactly these people, deactivating the rest
  scimkit.atlassian.scim_users:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    purge: true
    max_purge: 25
    users:
      - user_name: jane.doe@example.com
        external_id: 00u1abcd
        email: jane.doe@example.com
        given_name: Jane
        family_name: Doe
      - user_name: sam.roe@example.com
        email: sam.roe@example.com
        active: false
"""

RETURN = r"""
created:
  description: User names created (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [jane.doe@example.com]
updated:
  description: User names updated.
  returned: always
  type: list
  elements: str
  sample: []
deactivated:
  description: User names deactivated, by their item's O(users[].active=false) or by the purge.
  returned: always
  type: list
  elements: str
  sample: [sam.roe@example.com]
deleted:
  description: User names deleted, by their item's O(users[].state=absent) or by the purge.
  returned: always
  type: list
  elements: str
  sample: []
unchanged:
  description: User names already as wanted.
  returned: always
  type: list
  elements: str
  sample: [lee.poe@example.com]
failures:
  description: The users that could not be brought to their state, with why.
  returned: always
  type: list
  elements: dict
  contains:
    item:
      description: The position of the item in O(users) or O(users_file), counted from 1; V(0) for a user the
        purge touched.
      type: int
      returned: always
    user:
      description: The user's name.
      type: str
      returned: always
    error:
      description: What went wrong.
      type: str
      returned: always
  sample:
    - item: 4
      user: bad.entry@example.com
      error: "SCIM POST /Users failed: HTTP 400 invalidValue: Attribute 'emails' is required."
diff:
  description: Per changed user, the managed attributes before and after, keyed by user name.
  returned: in diff mode
  type: dict
  contains:
    before:
      description: The users' managed attributes before the task.
      type: dict
      returned: in diff mode
    after:
      description: The users' managed attributes after the task.
      type: dict
      returned: in diff mode
"""

import copy

from ansible_collections.scimkit.atlassian.plugins.module_utils._bulk import diff_view, read_users_file, reconcile_users
from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._module import MAX_CONCURRENCY, ScimModule, check_concurrency, org_connection_spec
from ansible_collections.scimkit.atlassian.plugins.module_utils._users import USER_ARGUMENT_SPEC


def ensure_users(scim: ScimModule) -> dict:
    params = scim.params
    check_concurrency(params["concurrency"])
    users = params["users"] if params["users"] is not None else read_users_file(params["users_file"])
    result = reconcile_users(
        scim.client, users, check_mode=scim.check_mode, concurrency=params["concurrency"],
        purge=params["purge"], purge_action=params["purge_action"], max_purge=params["max_purge"],
        diff=scim.diff_mode, links=scim.scim_links(),
    )
    output = {"changed": result.changed or scim.wrote, **result.outcomes, "failures": [f.as_dict() for f in result.failures]}
    if scim.diff_mode:
        output["diff"] = diff_view(result)
    if result.failures:
        raise ScimKitError(result.summary(), **output)
    return output


def main() -> None:
    ScimModule(
        {
            "users": {"type": "list", "elements": "dict", "options": copy.deepcopy(USER_ARGUMENT_SPEC)},
            "users_file": {"type": "path"},
            "concurrency": {"type": "int", "default": 4},
            "purge": {"type": "bool", "default": False},
            "purge_action": {"type": "str", "default": "deactivate", "choices": ["deactivate", "delete"]},
            "max_purge": {"type": "int", "default": 10},
            **org_connection_spec(),
        },
        pool_size=MAX_CONCURRENCY,
        mutually_exclusive=[("users", "users_file")],
        required_one_of=[("users", "users_file")],
    ).run(ensure_users)


if __name__ == "__main__":
    main()
