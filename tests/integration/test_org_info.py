# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""org_directory_info, org_workspace_info, org_user_info and scim_link_info against the sandbox."""

from __future__ import annotations

import pytest

WRONG_KEY = "sbx-orgkey-wrong-0123456789abcdefghijklmnop"


def test_directories_every_page_in_check_mode_too(org, run_org, sandbox):
    sandbox.org_control("directories", directories=["Contractors", "Partners"])
    sandbox.configure(org_page_size_cap=1)
    found, _run = run_org("org_directory_info", {}, "--check")
    assert found["changed"] is False
    assert [d["name"] for d in found["directories"]] == ["Sandbox directory", "Contractors", "Partners"]
    assert found["directories"][0]["directory_id"] == org.info["sandbox_directory_id"]
    assert org.operations()["directories.list"] == 3 and org.writes() == 0


@pytest.mark.parametrize("next_link", ["url", "cursor"])
def test_workspaces_every_page_filtered_by_product_and_name(org, run_org, sandbox, next_link):
    sandbox.org_control("workspaces", workspaces=[
        {"name": "Acme", "type_key": "jira-software", "host_url": "https://acme.atlassian.net"},
        {"name": "Acme", "type_key": "confluence", "host_url": "https://acme.atlassian.net"},
        {"name": "Labs", "type_key": "jira-software", "host_url": "https://labs.atlassian.net", "status": "offline"}])
    sandbox.configure(org_page_size_cap=1, org_workspace_next=next_link)
    everything, _run = run_org("org_workspace_info", {})
    assert [(w["name"], w["product_key"]) for w in everything["workspaces"]] == [
        ("Acme", "jira-software"), ("Acme", "confluence"), ("Labs", "jira-software")]
    assert org.operations()["workspaces.search"] == 3
    labs = everything["workspaces"][2]
    assert labs["ari"].startswith("ari:cloud:jira-software::site/") and labs["url"] == "https://labs.atlassian.net"
    assert labs["status"] == "offline"
    jira, _run = run_org("org_workspace_info", {"product": ["jira-software"], "name": "ACME.atlassian.net"})
    assert [(w["name"], w["product_key"]) for w in jira["workspaces"]] == [("Acme", "jira-software")]


def test_users_by_email_account_id_and_status(org, run_org):
    jane = org.person("jane@example.com")
    org.person("john@example.com", active=False)
    run_org("org_user", {"email": "jane@example.com", "state": "suspended"})
    by_email, _run = run_org("org_user_info", {"emails": ["JANE@example.com", "nobody@example.com"]}, "--check")
    assert by_email["users"] == [{
        "account_id": jane, "email": "jane@example.com", "name": "jane", "status": "suspended",
        "account_status": "active", "membership_status": "suspended", "claim_status": "managed",
        "management_source": "synced"}]
    by_id, _run = run_org("org_user_info", {"account_ids": [jane]})
    assert [u["email"] for u in by_id["users"]] == ["jane@example.com"]
    deactivated, _run = run_org("org_user_info", {"status": ["deactivated"]})
    assert [(u["email"], u["account_status"]) for u in deactivated["users"]] == [("john@example.com", "inactive")]
    assert org.writes() == 0


def test_scim_links_by_email_and_account_id(org, run_org):
    jane = org.person("jane@example.com")
    scim_user_id = org.scim_id("jane@example.com")
    by_email, _run = run_org("scim_link_info", {"email": "Jane@Example.com"})
    assert by_email["links"] == [{"scim_user_id": scim_user_id, "directory_id": org.info["sandbox_directory_id"],
                                  "account_id": jane, "org_id": org.info["sandbox_org_id"]}]
    by_account, _run = run_org("scim_link_info", {"account_id": jane}, "--check")
    assert by_account["links"] == by_email["links"] and by_account["changed"] is False
    nobody, _run = run_org("scim_link_info", {"email": "nobody@example.com"})
    assert nobody["links"] == []


@pytest.mark.parametrize(("module", "task"), [
    ("org_directory_info", {}), ("org_workspace_info", {}), ("org_user_info", {}), ("scim_link_info", {"email": "a@example.com"}),
])
def test_a_bad_key_fails_with_401_and_never_shows_the_key(org, run_org, module, task):
    failed, run = run_org(module, task, api_key=WRONG_KEY)
    assert failed["failed"] and failed["status"] == 401 and "organization API key" in failed["msg"]
    assert WRONG_KEY not in run.output


def test_an_unknown_org_fails_naming_the_api_error(org, run_org):
    failed, _run = run_org("org_directory_info", {}, org_id="00000000-0000-0000-0000-000000000000")
    assert failed["failed"] and failed["status"] == 404 and failed["code"] == "ADMIN-404-2"
    assert "ADMIN-404-2" in failed["msg"]


@pytest.mark.parametrize(("style", "expected"), [
    ("v2", "HTTP 401: ADMIN-401 Unauthorized"),
    ("v1", "HTTP 401: 401: "),
    ("text", "HTTP 401 with a non-JSON body (text/plain)"),
])
def test_every_error_shape_is_readable(org, run_org, sandbox, style, expected):
    sandbox.configure(org_error_style=style)
    failed, _run = run_org("org_directory_info", {}, api_key=WRONG_KEY)
    assert expected in failed["msg"]


@pytest.mark.parametrize("style", ["retry_after", "retry_after_date", "bare"])
def test_reads_are_retried_after_429_whatever_its_headers(org, run_org, sandbox, style):
    sandbox.configure(org_fail_429_next=2, org_429_style=style, org_retry_after=0)
    found, _run = run_org("org_directory_info", {})
    assert len(found["directories"]) == 1 and sandbox.stats()["org_injected_429"] == 2


def test_a_429_that_outlasts_max_retries_fails_clearly(org, run_org, sandbox):
    sandbox.configure(org_fail_429_next=3, org_429_style="retry_after", org_retry_after=0)
    failed, _run = run_org("org_directory_info", {}, max_retries=1)
    assert failed["failed"] and failed["status"] == 429 and "ADMIN-429-1" in failed["msg"] and "max_retries" in failed["msg"]
