# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options that say which Atlassian organization to manage, with which API key, over which connection.

    DOCUMENTATION holds the three options that name the organization; TRANSPORT the HTTP options.
    """

    DOCUMENTATION = r"""
options:
  org_id:
    description:
      - The id of the Atlassian organization, as shown in the URL of Atlassian Administration
        (C(admin.atlassian.com/o/<org_id>/...)) and next to the organization API key when it is created.
      - If not set, the E(ATLASSIAN_ORG_ID) environment variable is used. Required one way or the other.
    type: str
  api_key:
    description:
      - An organization API key (B(admin.atlassian.com > Settings > API keys)), sent as a bearer token.
      - Create it B(without scopes). Atlassian offers no scopes for user and group writes, and the
        user-management API (API tokens) refuses scoped keys. A site API token or a SCIM directory key does
        not work here.
      - If not set, the E(ATLASSIAN_ADMIN_API_KEY) environment variable is used. Required one way or the other.
      - The key expires at the latest a year after its creation.
    type: str
  admin_base_url:
    description:
      - The host of Atlassian's admin APIs. Change it only for a test server.
      - If not set, the E(ATLASSIAN_ADMIN_BASE_URL) environment variable is used, and without it
        V(https://api.atlassian.com).
    type: str
notes:
  - Each option set on the task, or through C(module_defaults) for C(group/scimkit.atlassian.org), takes precedence
    over its environment variable.
"""

    # The organization options of the SCIM modules that use the admin API only to find users Atlassian hides.
    SCIM_LINKS = r"""
options:
  org_id:
    description:
      - The id of the Atlassian organization. With O(api_key), a create refused with HTTP 409 for a user that the
        SCIM filters cannot find (Atlassian hides deactivated users) is looked up by e-mail through the
        organization's SCIM links, and that user is brought to the declared state, so that a rehire works.
      - Optional. If neither O(org_id) nor O(api_key) is set on the task (or through C(module_defaults) for
        C(group/scimkit.atlassian.org)), both are taken from E(ATLASSIAN_ORG_ID) and E(ATLASSIAN_ADMIN_API_KEY)
        when both are set; otherwise no lookup is made.
    type: str
  api_key:
    description:
      - The organization API key, sent as a bearer token to the admin API; see O(org_id).
      - Only read, never written with; it is masked in all output.
    type: str
  admin_base_url:
    description:
      - The host of Atlassian's admin APIs. Change it only for a test server.
      - If not set, the E(ATLASSIAN_ADMIN_BASE_URL) environment variable is used, and without it
        V(https://api.atlassian.com).
    type: str
"""

    # The transport options, for the modules that take no other connection options (the org_* modules);
    # a SCIM module that also talks to the admin API has them from scimkit.atlassian.auth already.
    TRANSPORT = r"""
options:
  validate_certs:
    description:
      - Whether to verify TLS certificates. Turn off only against a test server.
    type: bool
    default: true
  allow_plain_http:
    description:
      - Whether O(admin_base_url) may use plain C(http://) to a host other than this machine.
      - Off by default, because the API key and personal data would cross the network unencrypted. C(http://) to
        a loopback address (C(127.0.0.1), C(::1), C(localhost)) is always allowed, for local test servers.
    type: bool
    default: false
  ca_path:
    description:
      - A CA bundle (PEM) to verify the server's certificate with, instead of the system's.
    type: path
  timeout:
    description:
      - Seconds to wait for each HTTP request to connect and for each answer.
    type: int
    default: 30
  max_retries:
    description:
      - How often a request is retried after HTTP 429 (rate limited), and a read also after 502, 503, 504 or a
        connection error.
      - After a 429 the module waits as C(Retry-After) says (seconds or a date), else until C(X-RateLimit-Reset),
        else for a growing, randomized pause; never longer than 120 seconds at a time.
      - A write (suspend, grant, revoke, ...) is never resent blindly after an answer that leaves open whether it
        took effect; the module first reads whether it did.
    type: int
    default: 5
requirements:
  - requests >= 2.28.0
"""
