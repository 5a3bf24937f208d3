# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: jwk_thumbprint
short_description: Compute the RFC 7638 thumbprint of a key, the default key id of a JWKS
version_added: "0.1.0"
author:
  - scimkit.atlassian contributors (@scimkit)
description:
  - Returns the JSON Web Key thumbprint of RFC 7638, the base64url-encoded SHA-256 hash of the key's
    required public members, serialized as compact JSON in lexicographic order.
  - It is the key id P(scimkit.atlassian.jwks#filter) uses when no C(kid) is given, so a playbook can
    compute the O(scimkit.atlassian.oauth_token#module:key_id) to sign with from the same key file.
  - Takes a PEM key (public, private or certificate) or a JWK dict (or a JWKS dict holding one key).
    Members other than the required ones (C(kid), C(alg), private members) do not change the thumbprint.
options:
  _input:
    description:
      - A PEM C(PUBLIC KEY), C(PRIVATE KEY) (also encrypted, or in the traditional RSA or EC form) or C(CERTIFICATE)
        of an RSA key or an EC key on P-256, P-384 or P-521.
      - Or a JWK dict of key type C(RSA) (members C(e), C(n)), C(EC) (C(crv), C(x), C(y)), C(OKP) (C(crv), C(x),
        RFC 8037) or C(oct) (C(k)); or a JWKS dict whose C(keys) list holds exactly one such JWK.
    type: raw
    required: true
  passphrase:
    description:
      - The passphrase of an encrypted PEM private key.
    type: str
notes:
  - A PEM input needs the Python library C(cryptography) on the Ansible controller; a JWK dict does not.
requirements:
  - cryptography >= 41.0.0 (for PEM input)
seealso:
  - plugin: scimkit.atlassian.jwks
    plugin_type: filter
  - name: RFC 7638 JSON Web Key (JWK) Thumbprint
    description: The definition of the thumbprint.
    link: https://www.rfc-editor.org/rfc/rfc7638
"""

EXAMPLES = r"""
---
- name: Use the key's thumbprint as its key id when getting a token
  scimkit.atlassian.oauth_token:
    client_id: "{{ atlassian_client_id }}"
    private_key_path: keys/scim-service-account.pem
    key_id: "{{ lookup('ansible.builtin.file', 'keys/scim-service-account.pem') | scimkit.atlassian.jwk_thumbprint }}"
  register: atlassian_token
  no_log: true

- name: Thumbprint of a JWK dict (the EC example key of RFC 7517 appendix A.1)
  ansible.builtin.assert:
    that:
      - example_jwk | scimkit.atlassian.jwk_thumbprint == 'cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s'
  vars:
    example_jwk:
      kty: EC
      crv: P-256
      x: MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4
      y: 4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM
      kid: "1"
"""

RETURN = r"""
_value:
  description:
    - The thumbprint, 43 characters of unpadded base64url.
  type: str
  sample: NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.scimkit.atlassian.plugins.plugin_utils._jwk import JWKError, jwk_thumbprint


def jwk_thumbprint_filter(value: t.Any, passphrase: t.Any = None) -> str:
    """PEM key or JWK dict -> RFC 7638 SHA-256 thumbprint."""
    try:
        return jwk_thumbprint(value, passphrase=passphrase)
    except JWKError as exc:
        raise AnsibleFilterError(f"scimkit.atlassian.jwk_thumbprint: {exc}") from None


class FilterModule:
    """The scimkit.atlassian.jwk_thumbprint filter."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"jwk_thumbprint": jwk_thumbprint_filter}
