# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Options of the OAuth 2.0 client-credentials grant and of the HTTP connection."""

    DOCUMENTATION = r"""
options:
  client_id:
    description:
      - The OAuth 2.0 client id of the Atlassian service account.
      - If not set, the E(ATLASSIAN_CLIENT_ID) environment variable is used.
      - Needs exactly one of O(private_key), O(private_key_path) and O(client_secret).
    type: str
  private_key:
    description:
      - The PEM private key that signs the JWT client assertion (RFC 7523 C(private_key_jwt)).
        Its public key is the one registered with Atlassian for O(key_id).
      - If not set, the E(ATLASSIAN_PRIVATE_KEY) environment variable is used.
    type: str
  private_key_path:
    description:
      - A file holding the PEM private key, instead of O(private_key).
      - If not set, the E(ATLASSIAN_PRIVATE_KEY_PATH) environment variable is used.
      - The module reads the file on the machine it runs on and cannot decrypt Ansible Vault. For a
        vault-encrypted key use O(private_key) with C({{ lookup('ansible.builtin.file', 'path/to/key.pem') }}),
        which decrypts it on the controller.
    type: path
  private_key_passphrase:
    description:
      - The passphrase of an encrypted private key.
    type: str
  client_secret:
    description:
      - The client secret of self-service service-account OAuth 2.0 credentials, sent in the token
        request body as Atlassian documents, instead of a signed assertion.
      - If not set, the E(ATLASSIAN_CLIENT_SECRET) environment variable is used.
    type: str
  key_id:
    description:
      - The key id (C(kid) header of the assertion) registered with Atlassian for the public key.
      - Required with O(private_key) or O(private_key_path).
      - If not set, the E(ATLASSIAN_KEY_ID) environment variable is used.
    type: str
  algorithm:
    description:
      - The signature algorithm of the assertion. Atlassian documents V(RS256).
      - V(ES256) needs an EC key on curve P-256; the others an RSA key of at least 2048 bits.
    type: str
    default: RS256
    choices: [RS256, RS384, RS512, PS256, ES256]
  token_url:
    description:
      - The token endpoint of the authorization server.
      - If not set, the E(ATLASSIAN_TOKEN_URL) environment variable is used, and without it
        V(https://auth.atlassian.com/oauth/token).
    type: str
  audience:
    description:
      - The C(aud) claim of the assertion.
      - Defaults to the origin of O(token_url) (scheme, host and any port), V(https://auth.atlassian.com)
        for Atlassian.
    type: str
  scope:
    description:
      - The scope to request.
    type: str
    default: manage:directory
  token_request_format:
    description:
      - How the token request body is encoded.
      - V(json) as Atlassian documents; V(form) (C(application/x-www-form-urlencoded)) as RFC 6749 requires,
        for other authorization servers.
    type: str
    default: json
    choices: [json, form]
  assertion_lifetime:
    description:
      - Seconds until the signed assertion expires, at most V(3600). Each token request, a retried one
        included, signs a fresh assertion with a new C(jti).
    type: int
    default: 300
  validate_certs:
    description:
      - Whether to verify TLS certificates. Turn off only against a test server.
    type: bool
    default: true
  allow_plain_http:
    description:
      - Whether O(scimkit.atlassian.scim_user#module:base_url) and O(token_url) may use plain C(http://) to a host
        other than this machine.
      - Off by default, because tokens and personal data would cross the network unencrypted. C(http://) to a
        loopback address (C(127.0.0.1), C(::1), C(localhost)) is always allowed, for local test servers.
    type: bool
    default: false
  ca_path:
    description:
      - A CA bundle (PEM) to verify the servers' certificates with, instead of the system's.
    type: path
  timeout:
    description:
      - Seconds that each HTTP request may take as a whole, connecting, sending and reading the complete
        answer included (each retry gets this time again).
      - Redirects are never followed; an answer larger than 16 MiB is refused.
    type: int
    default: 30
  max_retries:
    description:
      - How often a request is retried after HTTP 429, 502, 503 or 504 or a connection error,
        with exponential backoff that honours C(Retry-After).
      - A create (POST) is never resent blindly; after a lost answer the module first looks whether it took effect.
      - A token request is never resent as it was; after a lost answer, HTTP 429 or 5xx it is sent again with a
        newly signed assertion.
    type: int
    default: 5
requirements:
  - requests >= 2.28.0
  - PyJWT >= 2.8.0 (only to sign a client assertion)
  - cryptography >= 41.0.0 (only to sign a client assertion)
"""
