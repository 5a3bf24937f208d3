# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

WRITES = ("POST", "PATCH", "PUT", "DELETE")

PEOPLE = [
    {"user_name": "grace.hopper@example.com", "email": "grace.hopper@example.com", "given_name": "Grace",
     "family_name": "Hopper", "title": "Rear Admiral"},
    {"user_name": "alan.turing@example.com", "email": "alan.turing@example.com", "display_name": "Alan Turing"},
    {"user_name": "katherine.johnson@example.com", "external_id": "00u-kj", "email": "katherine.johnson@example.com",
     "department": "Flight Research"},
]


def writes(sandbox) -> dict[str, int]:
    counts = sandbox.stats()["scim_requests"]
    return {method: counts.get(method, 0) for method in WRITES if counts.get(method, 0)}


@pytest.mark.parametrize("user_name", ["ada.lovelace@example.com", 'ada "the countess" \\ lovelace'])
def test_lifecycle(playbook, scim, user_name):
    playbook("scim_user/lifecycle.yml", extra={"lifecycle_user_name": user_name})
    assert scim.users() == []


def test_check_mode_writes_nothing_and_agrees_with_the_real_run(playbook, sandbox, scim):
    check = playbook("scim_user/ensure.yml", "--check", extra={"people": PEOPLE})
    assert writes(sandbox) == {}
    assert scim.users() == []

    real = playbook("scim_user/ensure.yml", extra={"people": PEOPLE})
    assert check.recap["changed"] == real.recap["changed"] == 1
    assert writes(sandbox) == {"POST": 3}
    grace = scim.user("grace.hopper@example.com")
    assert (grace["name"]["givenName"], grace["title"], grace["emails"][0]["value"]) == (
        "Grace", "Rear Admiral", "grace.hopper@example.com")
    assert scim.user("katherine.johnson@example.com")["externalId"] == "00u-kj"

    sandbox.reset_stats()
    rerun = playbook("scim_user/ensure.yml", extra={"people": PEOPLE})
    assert rerun.recap["changed"] == 0
    assert writes(sandbox) == {}

    changed = [dict(PEOPLE[0], title="Commodore"), *PEOPLE[1:]]
    check_update = playbook("scim_user/ensure.yml", "--check", "--diff", extra={"people": changed})
    assert writes(sandbox) == {}
    assert "Commodore" in check_update.stdout and "Rear Admiral" in check_update.stdout
    update = playbook("scim_user/ensure.yml", "--diff", extra={"people": changed})
    assert check_update.recap["changed"] == update.recap["changed"] == 1
    assert writes(sandbox) == {"PATCH": 1}
    assert scim.user("grace.hopper@example.com")["title"] == "Commodore"


def test_one_token_serves_a_whole_play(playbook, sandbox, scim):
    playbook("scim_user/ensure.yml", extra={"people": PEOPLE, "auth": "access_token"})
    assert sandbox.stats()["token_requests"] == 1
    assert len(scim.users()) == 3


def test_each_self_authenticating_task_fetches_one_token(playbook, sandbox):
    playbook("scim_user/ensure.yml", extra={"people": PEOPLE})
    assert sandbox.stats()["token_requests"] == len(PEOPLE)


def test_existing_user_without_our_external_id_is_found_by_user_name(playbook, sandbox, scim):
    """A user created elsewhere without an externalId: the externalId finds nobody, the userName finds them."""
    scim.create_user({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                      "userName": "katherine.johnson@example.com",
                      "emails": [{"value": "katherine.johnson@example.com", "type": "work", "primary": True}]})
    sandbox.reset_stats()
    playbook("scim_user/ensure.yml", extra={"people": [PEOPLE[2]]})
    user = scim.user("katherine.johnson@example.com")
    assert user["externalId"] == "00u-kj"
    assert len(scim.users()) == 1
    assert writes(sandbox) == {"PATCH": 1}  # no create, so no 409 to recover from
