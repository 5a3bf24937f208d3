# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options that say which SCIM directory to talk to and with which bearer token."""

    DOCUMENTATION = r"""
options:
  base_url:
    description:
      - The SCIM base URL of the directory, as Atlassian Administration shows it under
        B(Security > Identity providers > your directory), for example
        V(https://api.atlassian.com/scim/directory/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d).
      - Any SCIM 2.0 service provider's base URL works too.
      - If not set, the E(ATLASSIAN_SCIM_BASE_URL) environment variable is used.
      - Exactly one of O(base_url) and O(directory_id) is required.
    type: str
  directory_id:
    description:
      - The id of an Atlassian SCIM directory; the module then uses
        V(https://api.atlassian.com/scim/directory/<directory_id>) as O(base_url).
      - If not set, the E(ATLASSIAN_SCIM_DIRECTORY_ID) environment variable is used.
    type: str
  access_token:
    description:
      - A bearer token, either the RV(scimkit.atlassian.oauth_token#module:access_token) that
        M(scimkit.atlassian.oauth_token) returned or a directory's SCIM API key.
      - If not set, the E(ATLASSIAN_SCIM_ACCESS_TOKEN) environment variable is used.
      - Exactly one of O(access_token) and O(client_id) is required. With O(client_id) the module
        fetches a token itself; in a play with many tasks, fetch one with
        M(scimkit.atlassian.oauth_token) and pass it here instead.
      - Pass the token itself, V({{ token.access_token }}), not the whole registered result; a value that
        starts with C({) is refused before any request.
    type: str
notes:
  - Options set on the task, or through C(module_defaults), take precedence over the environment
    variables for their whole group (O(base_url)/O(directory_id), O(access_token)/O(client_id), and
    O(private_key)/O(private_key_path)/O(client_secret)).
"""
