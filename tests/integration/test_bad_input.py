# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bad input fails with a message naming the cause: no traceback, no secret, even at -vvvv."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def other_key(tmp_path: Path) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "unregistered.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return str(path)


def secrets_of(sandbox, tmp_path: Path) -> list[str]:
    """Strings that must never appear: key material, passphrase, API key, client secret."""
    info = sandbox.info
    found = [info["sandbox_private_key_passphrase"], info["sandbox_api_key"], info["sandbox_client_secret"]]
    for pem in [info["sandbox_private_key_path"], info["sandbox_encrypted_private_key_path"],
                *map(str, tmp_path.glob("*.pem"))]:
        body = [line for line in Path(pem).read_text().splitlines() if line and not line.startswith("-----")]
        found += body[1:-1]  # whole base64 lines from inside the key
    return found


CASES = {
    "garbage PEM": ({"private_key": "garbage that is not a key"}, r"not in PEM format"),
    "public key given": ({"private_key_path": "{public_key}"}, r"is a public key"),
    "wrong kid": ({"key_id": "no-such-kid-2026"}, r"invalid_client.*no-such-kid-2026.*own description above tells the cause"),
    "wrong key": ({"private_key_path": "{other_key}"}, r"invalid_client.*signature.*own description above tells the cause"),
    "wrong passphrase": ({"private_key_path": "{encrypted_key}", "private_key_passphrase": "not-the-passphrase-x"},
                         r"passphrase is wrong"),
    "missing passphrase": ({"private_key_path": "{encrypted_key}"}, r"encrypted; give its passphrase"),
    "EC algorithm with an RSA key": ({"algorithm": "ES256"}, r"ES256 needs an EC private key"),
    "wrong audience": ({"audience": "https://auth.atlassian.com"}, r"invalid_client.*aud"),
    "unknown client": ({"client_id": "nobody-2026"}, r"invalid_client"),
    "missing key file": ({"private_key_path": "/nonexistent/key.pem"}, r"private_key_path /nonexistent/key.pem does not exist"),
    "unreachable token_url": ({"token_url": "http://127.0.0.1:{closed_port}/oauth/token"},
                              r"Could not reach http://127.0.0.1:\d+: .*refused"),
    # Retried with a new assertion after a 5xx; max_retries 0 reports the first answer.
    "HTML 500 from the token endpoint": ({"max_retries": "0"}, r"HTTP 500 with a non-JSON body \(text/html\)"),
}


@pytest.mark.parametrize("module", ["oauth_token", "scim_user"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_auth_input_fails_clearly(playbook, sandbox, scim, tmp_path, module, case):
    options, message = CASES[case]
    values = {
        "public_key": sandbox.info["sandbox_public_key_path"],
        "other_key": other_key(tmp_path),
        "encrypted_key": sandbox.info["sandbox_encrypted_private_key_path"],
        "closed_port": closed_port(),
    }
    bad = {name: value.format(**values) for name, value in options.items()}
    if case.startswith("HTML"):
        sandbox.configure(token_html_error=True)
    run = playbook("bad_input/auth.yml", "-vvvv", extra={"bad": bad, "module": module}, expect_rc=2)
    assert re.search(message, run.stdout), run.output
    assert "Traceback" not in run.output
    for secret in secrets_of(sandbox, tmp_path):
        assert secret not in run.output, f"a secret leaked: {secret[:6]}..."
    assert scim.users() == []
