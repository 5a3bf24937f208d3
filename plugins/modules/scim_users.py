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
  - With O(users[].groups), the same task manages group memberships. Each group that an item names is found
    by its display name (case-insensitively) in one listing of the groups, or created. Its members are the
    task's own users, already matched by the rules above, so no member name is looked up again. Only the
    groups whose membership the task manages are read, and membership changes are sent in batched PATCHes.
    The groups are planned with the users, before the first write, and written after the users, before the
    purge. O(groups) declares more about them, and O(purge_members) makes the task's users their only members.
    For groups whose members are named by the group rather than by the user, use M(scimkit.atlassian.scim_groups).
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
      groups:
        description:
          - Display names of the groups the user is a member of (compared case-insensitively). A group that does
            not exist is created.
          - Without O(purge_members), the user is added to these groups and left in any others. With it, each
            group the task manages holds exactly the task's users that name it.
          - Ignored for an item with O(users[].state=absent) (deleting a user removes it from every group), and
            for an item that offboards a user who is not found.
        type: list
        elements: str
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
  groups:
    description:
      - Groups the task manages besides those O(users[].groups) names, and settings for those it names.
      - Each group may appear once. A group marked V(absent) is deleted after the users are written; an item that
        names such a group fails the task before any write.
    type: list
    elements: dict
    default: []
    suboptions:
      display_name:
        description: The group's name (Atlassian cannot rename a group).
        type: str
        required: true
      external_id:
        description: The group's externalId; an empty string removes it.
        type: str
      state:
        description: Whether the group should exist.
        type: str
        default: present
        choices: [present, absent]
      purge_members:
        description: O(purge_members) for this group alone. Unset, the task's O(purge_members) applies.
        type: bool
  purge_members:
    description:
      - Whether members that no item of O(users) puts in a group are removed from it, in every group the task
        manages (those O(users[].groups) names, and those of O(groups)).
      - A group of O(groups) that no item names is then emptied.
    type: bool
    default: false
notes:
  - Atlassian leaves deactivated or unlinked users out of lists. Such a user is not purged; an item that
    offboards one is unchanged; an item that would rehire one fails with an explanation unless its
    O(users[].id) is given.
  - The matching and planning rules, with examples, are in the collection's C(docs/identity.md).
seealso:
  - module: scimkit.atlassian.scim_user
  - module: scimkit.atlassian.scim_user_info
  - module: scimkit.atlassian.scim_groups
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

- name: Onboard people into their groups, and make those groups hold exactly these people
  scimkit.atlassian.scim_users:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    purge_members: true
    groups:
      - display_name: confluence-users
        external_id: 00g-confluence
      - display_name: contractors-2025
        state: absent
    users:
      - user_name: jane.doe@example.com
        email: jane.doe@example.com
        groups: [jira-users, confluence-users]
      - user_name: sam.roe@example.com
        email: sam.roe@example.com
        groups: [jira-users]

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
groups:
  description:
    - The groups the task manages, by what was done to them (or would be, in check mode). Empty lists when the
      task manages no group.
  returned: always
  type: dict
  contains:
    created:
      description: Group names created.
      type: list
      elements: str
      returned: always
    updated:
      description: Group names whose members or externalId changed.
      type: list
      elements: str
      returned: always
    deleted:
      description: Group names deleted (marked V(absent) in O(groups)).
      type: list
      elements: str
      returned: always
    unchanged:
      description: Group names already as wanted.
      type: list
      elements: str
      returned: always
  sample:
    created: [confluence-users]
    updated: [jira-users]
    deleted: []
    unchanged: []
failures:
  description:
    - The users, and the groups, that could not be brought to their state, with why.
    - A group's failure has the keys C(group) and C(error) only.
  returned: always
  type: list
  elements: dict
  contains:
    item:
      description: The position of the item in O(users) or O(users_file), counted from 1; V(0) for a user the
        purge touched.
      type: int
      returned: for a user
    user:
      description: The user's name.
      type: str
      returned: for a user
    group:
      description: The group's name.
      type: str
      returned: for a group
    error:
      description: What went wrong.
      type: str
      returned: always
  sample:
    - item: 4
      user: bad.entry@example.com
      error: "SCIM POST /Users failed: HTTP 400 invalidValue: Attribute 'emails' is required."
diff:
  description:
    - Per changed user, the managed attributes before and after, keyed by user name.
    - When the task manages groups, a list of two such diffs instead, the users' then the groups' (keyed by group
      name, with their members as user names), each with C(before_header) and C(after_header).
  returned: in diff mode
  type: raw
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

from ansible_collections.scimkit.atlassian.plugins.module_utils._bulk import USERS_ITEM_SPEC, read_users_file, reconcile_users
from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ScimKitError
from ansible_collections.scimkit.atlassian.plugins.module_utils._group_bulk import USER_GROUP_SPEC
from ansible_collections.scimkit.atlassian.plugins.module_utils._module import MAX_CONCURRENCY, ScimModule, check_concurrency, org_connection_spec


def ensure_users(scim: ScimModule) -> dict:
    params = scim.params
    check_concurrency(params["concurrency"])
    users = params["users"] if params["users"] is not None else read_users_file(params["users_file"])
    result = reconcile_users(
        scim.client, users, check_mode=scim.check_mode, concurrency=params["concurrency"],
        purge=params["purge"], purge_action=params["purge_action"], max_purge=params["max_purge"],
        diff=scim.diff_mode, links=scim.scim_links(), groups=params["groups"], purge_members=params["purge_members"],
    )
    output = result.module_result(diff=scim.diff_mode)
    output["changed"] = output["changed"] or scim.wrote
    if output["failures"]:  # a user's or a group's
        raise ScimKitError(result.summary(), **output)
    return output


def main() -> None:
    ScimModule(
        {
            "users": {"type": "list", "elements": "dict", "options": copy.deepcopy(USERS_ITEM_SPEC)},
            "users_file": {"type": "path"},
            "concurrency": {"type": "int", "default": 4},
            "purge": {"type": "bool", "default": False},
            "purge_action": {"type": "str", "default": "deactivate", "choices": ["deactivate", "delete"]},
            "max_purge": {"type": "int", "default": 10},
            "groups": {"type": "list", "elements": "dict", "default": [], "options": copy.deepcopy(USER_GROUP_SPEC)},
            "purge_members": {"type": "bool", "default": False},
            **org_connection_spec(),
        },
        pool_size=MAX_CONCURRENCY,
        mutually_exclusive=[("users", "users_file")],
        required_one_of=[("users", "users_file")],
    ).run(ensure_users)


if __name__ == "__main__":
    main()
