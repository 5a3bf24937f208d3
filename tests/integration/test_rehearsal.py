# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The key handover rehearsed locally: getting-started's steps from making a key to a first token and user.

The key and its JWKS are made as the guide says; the sandbox is then started from the command
line with that JWKS registered under a client id of our choice, as the guide's rehearsal does.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT

SANDBOX = ROOT / "tests" / "sandbox" / "sandbox.py"


def test_a_key_of_your_own_from_the_guide_gets_a_token(playbook, sandbox, tmp_path):
    guide = (ROOT / "docs" / "getting-started.md").read_text()
    assert "--client my-own-client=" in guide  # the guide shows this very rehearsal
    keys = tmp_path / "keys"
    keys.mkdir()
    playbook("rehearsal/make_key.yml", extra={"key_dir": str(keys)})
    jwks = json.loads((keys / "scim-service-account.jwks.json").read_text())
    assert [key["kid"] for key in jwks["keys"]] == ["scim-provisioning-2026"] and "d" not in jwks["keys"][0]

    # The shared sandbox does not know this key: Atlassian before the handover.
    refused = playbook("rehearsal/first_token.yml", extra={"key_dir": str(keys)}, expect_rc=2)
    assert "unknown kid 'scim-provisioning-2026'" in refused.stdout

    state = tmp_path / "own-sandbox"
    command = [sys.executable, str(SANDBOX)]
    started = subprocess.run([*command, "start", "--state-dir", str(state),
                              "--client", f"my-own-client={keys / 'scim-service-account.jwks.json'}"],
                             capture_output=True, text=True, timeout=60, check=False)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        own = json.loads((state / "sandbox.json").read_text())
        done = playbook("rehearsal/first_token.yml",
                        extra={"key_dir": str(keys), "sandbox_token_url": own["sandbox_token_url"],
                               "sandbox_base_url": own["sandbox_base_url"]})
        assert "manage:directory, valid for 3600 s" in done.stdout
        assert done.recap["changed"] == 1 and done.recap["failed"] == 0
    finally:
        subprocess.run([*command, "stop", "--state-dir", str(state)], capture_output=True, timeout=60, check=False)
