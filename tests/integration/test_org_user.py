# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""org_user against the sandbox's organization admin API, with real ansible-playbook runs."""

from __future__ import annotations

import json
import time


LEAVER = "sam.roe@example.com"
API_KEY_MARK = "sbx-orgkey-"


def test_suspend_with_token_revocation_check_mode_diff_and_rerun(org, run_org, sandbox):
    account_id = org.person(LEAVER)
    sandbox.org_control("api_tokens", email=LEAVER, labels=["laptop", "ci-deploy"])
    task = {"email": LEAVER, "state": "suspended", "revoke_api_tokens": True}

    checked, _run = run_org("org_user", task, "--check", "--diff")
    assert (checked["changed"], checked["action"]) == (True, "suspended")
    assert checked["revoked_api_tokens"] == {"count": 2, "labels": ["ci-deploy", "laptop"]}
    assert org.writes() == 0 and org.user(account_id)["membershipStatus"] == "active"
    assert checked["diff"] == {
        "before": {"status": "active", "membership_status": "active", "api_tokens": ["ci-deploy", "laptop"]},
        "after": {"status": "suspended", "membership_status": "suspended", "api_tokens": []}}

    done, run = run_org("org_user", task, "--diff", "-vvvv")
    assert (done["changed"], done["action"], done["revoked_api_tokens"]["count"]) == (True, "suspended", 2)
    assert done["user"]["account_id"] == account_id and done["user"]["status"] == "suspended"
    assert done["diff"] == checked["diff"]
    assert org.user(account_id)["membershipStatus"] == "suspended"
    assert org.state()["api_tokens"].get(account_id, []) == []
    assert org.operations()["tokens.revoke"] == 2 and org.operations()["users.suspend"] == 1
    assert API_KEY_MARK not in run.output and org.info["sandbox_org_api_key"] not in run.output

    again, _run = run_org("org_user", task)
    assert (again["changed"], again["action"], again["revoked_api_tokens"]) == (False, "unchanged", {"count": 0, "labels": []})
    assert org.writes() == 0


def test_restore_then_remove_needs_confirmation(org, run_org):
    account_id = org.person(LEAVER)
    run_org("org_user", {"account_id": account_id, "state": "suspended"})
    restored, _run = run_org("org_user", {"account_id": account_id, "state": "active"})
    assert (restored["changed"], restored["action"]) == (True, "restored")
    assert org.user(account_id)["membershipStatus"] == "active"

    refused, run = run_org("org_user", {"email": LEAVER, "state": "removed"})
    assert refused["failed"] and "confirm_removal=true" in refused["msg"] and org.writes() == 0

    removed, _run = run_org("org_user", {"email": LEAVER, "state": "removed", "confirm_removal": True}, "--diff")
    assert (removed["changed"], removed["action"], removed["user"]) == (True, "removed", None)
    assert removed["diff"]["after"] == {} and org.user(account_id)["removed"] is True
    again, _run = run_org("org_user", {"email": LEAVER, "state": "removed", "confirm_removal": True})
    assert (again["changed"], org.writes()) == (False, 0)


def test_unknown_user_fails_naming_them(org, run_org):
    failed, _run = run_org("org_user", {"email": "ghost@example.com", "state": "suspended"})
    assert failed["failed"] and failed["msg"].startswith(
        f"No user with e-mail ghost@example.com in organization {org.info['sandbox_org_id']}. A user removed")
    assert failed["status"] == 404


def test_bad_key_fails_with_401_explained_and_masked(org, run_org, tmp_path):
    org.person(LEAVER)
    wrong_key = "sbx-orgkey-wrong-0123456789abcdefghijklmnop"
    # From a vars file: at -vvvv ansible-playbook echoes its own command line, -e values included.
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"api_key": wrong_key}))
    failed, run = run_org("org_user", {"email": LEAVER, "state": "suspended"}, "-vvvv", "-e", f"@{key_file}")
    assert failed["failed"] and failed["status"] == 401 and "organization API key" in failed["msg"]
    assert wrong_key not in run.output


def test_429_waits_for_the_rate_limit_reset(org, run_org, sandbox):
    """The sandbox answers the suspend with 429 and X-RateLimit-Reset only: the retry must wait for that instant."""
    account_id = org.person(LEAVER)
    sandbox.configure(org_fail_429_next=1, org_429_match="users.suspend", org_429_style="reset", org_retry_after=3)
    started = time.monotonic()
    done, _run = run_org("org_user", {"email": LEAVER, "state": "suspended"})
    # A lower bound only: a slow machine makes the run longer, never shorter, than the 3 s the reset asks.
    assert time.monotonic() - started >= 3
    assert done["changed"] and sandbox.stats()["org_injected_429"] == 1
    assert org.operations()["users.suspend"] == 2 and org.user(account_id)["membershipStatus"] == "suspended"


def test_users_of_many_pages_are_found(org, run_org, sandbox):
    for index in range(5):
        org.person(f"user{index}@example.com")
    sandbox.configure(org_page_size_cap=2)
    found, _run = run_org("org_user_info", {})
    assert sorted(user["email"] for user in found["users"]) == [f"user{index}@example.com" for index in range(5)]
    assert org.operations()["users.search"] == 3
    suspended, _run = run_org("org_user", {"email": "user4@example.com", "state": "suspended"})
    assert suspended["changed"]


def test_a_write_answered_502_is_resent_only_after_a_read_proves_it_missing(org, run_org, sandbox):
    """A 502 leaves open whether the suspend was applied: the module reads, finds it was not, and sends it once more.

    The search that reads is a POST too, and a 502 on it is retried like any read.
    """
    account_id = org.person(LEAVER)
    sandbox.org_control("api_tokens", email=LEAVER, labels=["laptop"])
    sandbox.inject(target="org", status=502, method="POST", path_contains="/suspend", body="Bad gateway")
    sandbox.inject(target="org", status=502, method="DELETE", path_contains="/api-tokens/", body="Bad gateway")
    sandbox.inject(target="org", status=503, method="POST", path_contains="/users/search", body="Unavailable")
    done, _run = run_org("org_user", {"email": LEAVER, "state": "suspended", "revoke_api_tokens": True})
    assert done["changed"] and done["revoked_api_tokens"] == {"count": 1, "labels": ["laptop"]}
    assert org.user(account_id)["membershipStatus"] == "suspended"
    operations = [(r["operation"], r["status"]) for r in sandbox.stats()["requests"] if r.get("operation")]
    # Each resend follows a read that proved the first attempt missing (a blind retry would have none between).
    revokes = [op for op in operations if op[0] in ("tokens.revoke", "tokens.list")]
    assert revokes == [("tokens.list", 200), ("tokens.revoke", 502), ("tokens.list", 200), ("tokens.revoke", 204)]
    suspends = [op for op in operations if op[0] == "users.suspend" or op[0] == "users.search"][-3:]
    assert suspends == [("users.suspend", 502), ("users.search", 200), ("users.suspend", 204)]
    assert ("users.search", 503) in operations  # the read was retried after its 503
