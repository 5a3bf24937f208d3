# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


def test_token_exchange_json_form_encrypted_and_secret(playbook, sandbox, scim):
    playbook("oauth_token/exchange.yml")
    stats = sandbox.stats()
    assert stats["token_requests"] == 4
    assert stats["token_failures"] == 0
    assert scim.user("token.holder@example.com") is not None


def test_token_module_runs_in_check_mode(playbook, sandbox, scim):
    run = playbook("oauth_token/exchange.yml", "--check")
    assert sandbox.stats()["token_requests"] == 4
    assert scim.users() == []
    assert run.recap["changed"] == 1  # only the (predicted) user create
