#!/usr/bin/python
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: oauth_token
short_description: Get an Atlassian access token for a service account
version_added: "0.1.0"
description:
  - Obtains a short-lived access token with the OAuth 2.0 client-credentials grant, authenticating the
    service account with a JWT client assertion signed by its private key (RFC 7523 C(private_key_jwt)),
    as Atlassian's SCIM OAuth 2.0 set-up describes, or with a client secret.
  - The assertion carries C(iss) and C(sub) set to O(client_id), C(aud), C(iat), C(exp) and a fresh C(jti);
    its header carries C(alg) and C(kid).
  - Pass the token to the SCIM modules with their O(scimkit.atlassian.scim_user#module:access_token) option,
    so a whole play uses one token.
  - Issuing a token changes nothing in Atlassian, so the module never reports C(changed) and runs in check mode too.
author:
  - scimkit.atlassian contributors (@scimkit)
extends_documentation_fragment:
  - scimkit.atlassian.auth
  - scimkit.atlassian.attributes
attributes:
  check_mode:
    support: full
    details: The token is requested in check mode too, so that later tasks can read the directory.
  diff_mode:
    support: N/A
    details: Nothing is changed.
  idempotent:
    support: full
    details: Each run issues a new token but changes no state.
seealso:
  - name: Configure OAuth 2.0 to enable SCIM authentication
    description: Atlassian's guide to the service account, the OAuth credentials and the token exchange.
    link: https://support.atlassian.com/organization-administration/docs/configure-oauth-2-0-to-enable-scim-authentication/
  - module: scimkit.atlassian.scim_user
"""

EXAMPLES = r"""
- name: Get an access token with the service account's private key
  scimkit.atlassian.oauth_token:
    client_id: "{{ atlassian_client_id }}"
    private_key_path: /etc/atlassian/service-account.pem
    key_id: scim-provisioning-2026
  register: atlassian_token
  no_log: true

- name: Create a user with that token
  scimkit.atlassian.scim_user:
    directory_id: "{{ atlassian_directory_id }}"
    access_token: "{{ atlassian_token.access_token }}"
    user_name: jane.doe@example.com
    email: jane.doe@example.com

- name: Use form encoding against a standard OAuth 2.0 server
  scimkit.atlassian.oauth_token:
    client_id: provisioning
    private_key: "{{ lookup('ansible.builtin.file', 'keys/provisioning.pem') }}"
    key_id: provisioning-1
    token_url: https://idp.example.com/oauth2/token
    token_request_format: form
    scope: scim
  register: idp_token
  no_log: true
"""

RETURN = r"""
access_token:
  description: The bearer token. Keep the task's C(no_log) on.
  returned: success
  type: str
  sample: eyJraWQiOiJhdXRoLmF0bGFzc2lhbi5jb20...
token_type:
  description: The token type; always V(Bearer).
  returned: success
  type: str
  sample: Bearer
expires_in:
  description: Seconds the token is valid for, as the authorization server said.
  returned: when the server says
  type: int
  sample: 3600
expires_at:
  description: When the token expires, in seconds since the epoch.
  returned: when the server says
  type: int
  sample: 1795000000
scope:
  description: The scope granted.
  returned: when the server says
  type: str
  sample: manage:directory
"""

from ansible_collections.scimkit.atlassian.plugins.module_utils._module import ScimModule


def issue_token(scim: ScimModule) -> dict:
    token = scim.token_provider(hide_tokens=False).access_token()
    return {
        "changed": False,
        "access_token": token.value,
        "token_type": token.token_type,
        "expires_in": token.expires_in,
        "expires_at": token.expires_at,
        "scope": token.scope,
    }


def main() -> None:
    ScimModule(scim=False).run(issue_token)


if __name__ == "__main__":
    main()
