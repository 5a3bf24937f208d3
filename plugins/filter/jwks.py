# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: jwks
short_description: Turn a PEM key into a JWKS document holding only its public part
version_added: "0.1.0"
author:
  - scimkit.atlassian contributors (@scimkit)
description:
  - Reads a PEM public key, private key or certificate and returns a JSON Web Key Set (RFC 7517 section 5),
    a dict with one key C(keys) listing the JWKs, the document Atlassian (or any authorization server that accepts
    C(private_key_jwt)) needs to check the client assertions that M(scimkit.atlassian.oauth_token) signs.
  - The JWK holds only public members, C(kty), C(n), C(e) for RSA and C(kty), C(crv), C(x), C(y) for EC,
    plus C(kid), C(use) and C(alg). Private members (C(d), C(p), C(q), C(dp), C(dq), C(qi)) are never
    copied, so the result of a private key is safe to hand over or publish.
  - RSA keys need at least 2048 bits (RFC 7518 section 3.3). EC keys must be on P-256, P-384 or P-521;
    M(scimkit.atlassian.oauth_token) signs with P-256 (V(ES256)) or RSA.
  - Give a list of PEM keys to publish several keys in one set, for example the old and the new key while
    a key is rotated.
options:
  _input:
    description:
      - A PEM C(PUBLIC KEY), C(RSA PUBLIC KEY), C(PRIVATE KEY), C(ENCRYPTED PRIVATE KEY), C(RSA PRIVATE KEY),
        C(EC PRIVATE KEY), C(OPENSSH PRIVATE KEY) or C(CERTIFICATE), or a list of them.
      - For example the content of the service account's key file, read with P(ansible.builtin.file#lookup).
    type: raw
    required: true
  kid:
    description:
      - The key id, the C(kid) the JWT header of every client assertion names
        (O(scimkit.atlassian.oauth_token#module:key_id)).
      - If not given, the RFC 7638 thumbprint of the key, as P(scimkit.atlassian.jwk_thumbprint#filter) computes it.
      - With a list of keys, a list with one distinct kid per key.
    type: raw
  alg:
    description:
      - The C(alg) member, the algorithm the key signs with.
      - Defaults to V(RS256) for RSA keys, and for EC keys to the one algorithm of the curve,
        V(ES256) for P-256, V(ES384) for P-384, V(ES512) for P-521.
      - An RSA key takes V(RS256), V(RS384), V(RS512), V(PS256), V(PS384) or V(PS512); an EC key only the
        algorithm of its curve.
      - With a list of keys, one value for all of them or a list with one per key.
    type: raw
  use:
    description:
      - The C(use) member. Client assertion keys sign, so leave it at V(sig).
    type: str
    default: sig
    choices: [sig, enc]
  passphrase:
    description:
      - The passphrase of an encrypted private key (C(ENCRYPTED PRIVATE KEY), or a traditional PEM with a C(Proc-Type) header).
      - Giving a passphrase for a key that is not encrypted is an error, as it is for M(scimkit.atlassian.oauth_token).
    type: str
notes:
  - Runs on the Ansible controller and needs the Python library C(cryptography) there, as the modules do.
  - Errors name the cause (not PEM, unsupported key type, encrypted key without passphrase, wrong passphrase)
    and never echo the key or the passphrase.
requirements:
  - cryptography >= 41.0.0
seealso:
  - plugin: scimkit.atlassian.jwk_thumbprint
    plugin_type: filter
  - module: scimkit.atlassian.oauth_token
  - name: RFC 7517 JSON Web Key (JWK)
    description: The JWK and JWK Set formats.
    link: https://www.rfc-editor.org/rfc/rfc7517
  - name: RFC 7638 JSON Web Key (JWK) Thumbprint
    description: How the default kid is computed.
    link: https://www.rfc-editor.org/rfc/rfc7638
"""

EXAMPLES = r"""
---
- name: Write the public key of the service account as a JWKS document to hand over to Atlassian
  ansible.builtin.copy:
    content: "{{ lookup('ansible.builtin.file', 'keys/scim-service-account.pem')
                 | scimkit.atlassian.jwks(kid='scim-provisioning-2026') | to_nice_json }}"
    dest: files/scim-service-account.jwks.json
    mode: "0644"

- name: Without a kid the key id is the RFC 7638 thumbprint; read it back from the document
  vars:
    service_account_jwks: "{{ lookup('ansible.builtin.file', 'keys/scim-service-account.pub.pem') | scimkit.atlassian.jwks }}"
  ansible.builtin.debug:
    msg: "Register the key with kid {{ service_account_jwks['keys'][0]['kid'] }}"

- name: An encrypted private key needs its passphrase
  ansible.builtin.set_fact:
    service_account_jwks: "{{ lookup('ansible.builtin.file', 'keys/scim-service-account.enc.pem')
                              | scimkit.atlassian.jwks(kid='scim-2026', passphrase=key_passphrase) }}"

- name: Publish the old and the new key while rotating
  ansible.builtin.copy:
    content: "{{ [lookup('ansible.builtin.file', 'keys/scim-2025.pem'), lookup('ansible.builtin.file', 'keys/scim-2026.pem')]
                 | scimkit.atlassian.jwks(kid=['scim-2025', 'scim-2026']) | to_nice_json }}"
    dest: /var/www/jwks/scim.json
    mode: "0644"
"""

RETURN = r"""
_value:
  description:
    - The JWK Set, a dict with one key C(keys), a list with one JWK per input key.
  type: dict
  contains:
    keys:
      description: The public JWKs, in the order of the input keys.
      type: list
      elements: dict
      contains:
        kty:
          description: The key type, V(RSA) or V(EC).
          type: str
          sample: RSA
        n:
          description: RSA only; the modulus, base64url-encoded.
          type: str
          sample: 0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs...
        e:
          description: RSA only; the public exponent, base64url-encoded.
          type: str
          sample: AQAB
        crv:
          description: EC only; the curve, V(P-256), V(P-384) or V(P-521).
          type: str
          sample: P-256
        x:
          description: EC only; the x coordinate, base64url-encoded at the full length of the curve.
          type: str
          sample: f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU
        y:
          description: EC only; the y coordinate, base64url-encoded at the full length of the curve.
          type: str
          sample: x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0
        kid:
          description: The key id, O(kid) or the RFC 7638 thumbprint.
          type: str
          sample: scim-provisioning-2026
        use:
          description: The public key use, O(use).
          type: str
          sample: sig
        alg:
          description: The algorithm, O(alg) or the default for the key type.
          type: str
          sample: RS256
"""

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.scimkit.atlassian.plugins.plugin_utils._jwk import JWKError, jwks


def jwks_filter(pem: t.Any, kid: t.Any = None, alg: t.Any = None, use: t.Any = "sig", passphrase: t.Any = None) -> dict[str, t.Any]:
    """PEM key (or list of them) -> JWKS with only the public members."""
    try:
        return jwks(pem, kid=kid, alg=alg, use=use, passphrase=passphrase)
    except JWKError as exc:
        raise AnsibleFilterError(f"scimkit.atlassian.jwks: {exc}") from None


class FilterModule:
    """The scimkit.atlassian.jwks filter."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"jwks": jwks_filter}
