# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Provisioning through a faulty network converges: nothing lost, nothing duplicated, failures named.

The fault proxy (tests/faultproxy) sits between the modules and the sandbox's SCIM API; tokens
come from the sandbox directly. The directory is always checked on the sandbox itself, never
through the proxy. A run may fail, but only honestly: every failure names its cause, everything
reported done is done, and running again converges.
"""

from __future__ import annotations

import re
import threading

import pytest
from security_support import TRANSPORT_OR_HTTP, proxied
# Fixtures, used by name in the tests' arguments.
from security_support import proxy, run_for_result, sandbox  # noqa: F401  # pylint: disable=unused-import

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
# About one request in nine meets a fault: rate limits most often, then broken gateways and
# connections. `*_applied`, `drop` and `slow` reach the server first, so a write happened
# although the client saw a failure.
RATES = {"429": 0.03, "500": 0.005, "502": 0.01, "503": 0.01, "504": 0.005, "500_applied": 0.005,
         "502_applied": 0.01, "504_applied": 0.01, "reset": 0.01, "drop": 0.015, "slow": 0.005}
TIMEOUT = 2  # the modules' timeout option; the proxy holds a `slow` answer for 3 s
MAX_RUNS = 4  # a faulty run is followed by reruns until one succeeds


def person(number: int, **extra) -> dict:
    name = f"fault{number:04d}@example.com"
    return {"user_name": name, "email": name, "given_name": f"Given{number}", "family_name": "Faulty",
            "external_id": f"ext-f{number:04d}", **extra}


def directory(scim) -> dict[str, dict]:
    """The sandbox's users by case-folded userName, after proving no userName is there twice."""
    users = scim.users()
    names = [user["userName"].casefold() for user in users]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"duplicated users: {duplicates}"
    return {user["userName"].casefold(): user for user in users}


def creates_of_existing_users(sandbox) -> int:
    """Creates that reached the server for a user it already held (it answered 409).

    The sandbox, like Atlassian, refuses a second user with the same userName, so a blindly
    resent create shows up here rather than as a duplicate in the directory.
    """
    return sum(1 for entry in sandbox.stats()["requests"]
               if entry["method"] == "POST" and entry["path"].endswith("/Users") and entry["status"] == 409)


def mismatch(user: dict | None, spec: dict) -> str | None:
    """Why the directory's ``user`` does not match ``spec``; None when it does."""
    if spec.get("state") == "absent":
        return None if user is None else "still present"
    if user is None:
        return "missing"
    expected = (spec["external_id"], spec["email"], spec["given_name"], spec["family_name"], spec.get("title"),
                spec.get("active", True))
    actual = (user.get("externalId"), (user.get("emails") or [{}])[0].get("value"),
              (user.get("name") or {}).get("givenName"), (user.get("name") or {}).get("familyName"),
              user.get("title"), user.get("active", True))
    return None if actual == expected else f"{actual} != {expected}"


def assert_exactly(scim, declared: list[dict]) -> None:
    """The directory holds exactly the declared users, with the declared attributes."""
    found = directory(scim)
    wrong = {spec["user_name"]: why for spec in declared if (why := mismatch(found.get(spec["user_name"].casefold()), spec))}
    kept = {spec["user_name"].casefold() for spec in declared if spec.get("state") != "absent"}
    assert not wrong, wrong
    assert set(found) == kept, sorted(set(found) ^ kept)


def assert_honest(message: str) -> None:
    assert re.search(TRANSPORT_OR_HTTP, message), f"the failure does not name its cause: {message}"
    assert "Traceback" not in message and "Unexpected error" not in message, message


def assert_no_traceback(result: dict) -> None:
    # ansible-core 2.19 puts "(traceback unavailable)" in every failed result; a module's own
    # traceback would be there instead.
    assert "Traceback" not in str(result.get("exception", "")), result["exception"]


def converge(run_once, limit: int = MAX_RUNS) -> list[list[str]]:
    """Run until a run reports no failure; return what failed in each run."""
    history: list[list[str]] = []
    for _run in range(limit):
        failed = run_once()
        history.append(failed)
        if not failed:
            return history
    pytest.fail(f"no clean run in {limit} runs; failures per run: {history}")


def check_loop(results: list[dict], scim) -> list[str]:
    """Each item of a scim_user loop either did its work or failed naming why; return the failed."""
    found = directory(scim)
    failed = []
    for result in results:
        spec = result["item"]
        assert_no_traceback(result)
        if result.get("failed"):
            assert_honest(result["msg"])
            failed.append(f"{spec['user_name']}: {result['msg'][:90]}")
        else:
            assert mismatch(found.get(spec["user_name"].casefold()), spec) is None, (spec, result)
    return failed


def check_bulk(result: dict, scim, declared: list[dict]) -> list[str]:
    """A scim_users result is honest: what it reports done is done, what failed is named."""
    found = directory(scim)
    specs = {spec["user_name"]: spec for spec in declared}
    for action in ("created", "updated", "deactivated", "deleted", "unchanged"):
        for name in result.get(action, []):
            assert mismatch(found.get(name.casefold()), specs[name]) is None, (action, name)
    if not result.get("failed"):
        assert result["failures"] == []
        return []
    assert_no_traceback(result)
    if not result.get("failures"):  # the whole task stopped, e.g. on the listing
        assert_honest(result["msg"])
        return [f"(task) {result['msg'][:100]}"]
    for failure in result["failures"]:
        assert failure["user"] in specs, failure
        assert_honest(failure["error"])
    assert result["msg"].startswith(f"{len(result['failures'])} of the users failed"), result["msg"]
    return [f"{failure['user']}: {failure['error'][:90]}" for failure in result["failures"]]


def scim_401s(sandbox) -> int:
    return sum(1 for entry in sandbox.stats()["requests"] if entry["status"] == 401 and "/scim/" in entry["path"])


# ---------------------------------------------------------------------------
# Convergence at realistic fault rates


def stale_copies(scim, declared: list[dict]) -> None:
    """Create these users directly on the sandbox, with an outdated given name, so the run must update them."""
    for spec in declared:
        scim.create_user({"schemas": [USER_SCHEMA], "userName": spec["user_name"], "externalId": spec["external_id"],
                          "name": {"givenName": "Stale", "familyName": "Faulty"},
                          "emails": [{"value": spec["user_name"], "type": "work", "primary": True}]})


def plan(count: int, existing: int) -> tuple[list[dict], list[dict]]:
    """``count`` people, the last ``existing`` already in the directory (stale); of those, the
    last fifth are deleted, the fifth before deactivated, the rest updated. Returns (declared, existing)."""
    people = [person(number) for number in range(count)]
    old = people[count - existing:]
    fifth = max(1, existing // 5)
    declared = people[:count - 2 * fifth]
    declared += [dict(spec, active=False, title="Leaver") for spec in people[count - 2 * fifth:count - fifth]]
    declared += [{"user_name": spec["user_name"], "state": "absent"} for spec in people[count - fifth:]]
    return declared, old


def test_single_user_tasks_converge_through_faults(proxy, sandbox, scim, run_for_result):
    # Creates, updates, deactivations and deletes, one scim_user task each. Few requests per
    # run, so twice the realistic rate: most kinds of fault show up.
    declared, existing = plan(10, existing=5)
    stale_copies(scim, existing)
    proxy.set_rates({fault: rate * 2 for fault, rate in RATES.items()})
    base_url = proxied(proxy, sandbox)

    def run():
        results = run_for_result("faults/user_loop.yml", people=declared, auth="api_key", scim_base_url=base_url,
                                 http_timeout=TIMEOUT)
        return check_loop(results, scim)

    history = converge(run)
    assert_exactly(scim, declared)
    assert creates_of_existing_users(sandbox) == 0
    faults = proxy.stats()["faults"]
    print(f"single-user: faults {faults}, failures per run {history}")
    assert sum(faults.values()) >= 3


def test_bulk_converges_through_faults(proxy, sandbox, scim, run_for_result):
    declared, existing = plan(250, existing=80)
    stale_copies(scim, existing)
    proxy.set_rates(RATES)
    base_url = proxied(proxy, sandbox)

    def run():
        result = run_for_result("faults/bulk.yml", people=declared, scim_base_url=base_url, http_timeout=TIMEOUT,
                                concurrency=8)
        return check_bulk(result, scim, declared)

    history = converge(run)
    assert_exactly(scim, declared)
    assert creates_of_existing_users(sandbox) == 0
    stats = proxy.stats()
    print(f"bulk: {stats['requests']} requests, faults {stats['faults']}, failures per run {history}")
    assert sum(stats["faults"].values()) >= 15
    assert stats["upstream_errors"] == 0


# ---------------------------------------------------------------------------
# Recovery rules of the shared client

# The first POST of each user meets one fault. Whatever it is, the user ends up created once.
CREATE_FAULTS = ["drop", "slow", "reset", "500_applied", "502_applied", "504_applied", "500", "502", "503", "504", "429"]


def test_a_create_whose_answer_is_lost_or_refused_makes_exactly_one_user(proxy, sandbox, scim, run_for_result):
    people = [person(number) for number in range(len(CREATE_FAULTS) + 1)]
    for spec, fault in zip(people, CREATE_FAULTS):
        proxy.inject(fault, method="POST", body_contains=f'"{spec["user_name"]}"')
    racer = people[-1]  # someone else creates this user between our listing and our create: a 409
    raced = threading.Event()

    def create_the_same_user_first(request):
        if request.method == "POST" and racer["user_name"].encode() in request.body and not raced.is_set():
            raced.set()
            scim.create_user({"schemas": [USER_SCHEMA], "userName": racer["user_name"], "name": {"givenName": "Other"}})
        return None

    proxy.on_request = create_the_same_user_first
    result = run_for_result("faults/bulk.yml", people=people, scim_base_url=proxied(proxy, sandbox),
                            http_timeout=TIMEOUT, concurrency=4)
    assert result["failures"] == [] and sorted(result["created"]) == sorted(spec["user_name"] for spec in people)
    found = directory(scim)
    outcome = {fault: {"posts reaching the server": proxy.forwarded("POST", f'"{spec["user_name"]}"'),
                       "wrong": mismatch(found.get(spec["user_name"].casefold()), spec)}
               for spec, fault in zip(people, [*CREATE_FAULTS, "409 race"])}
    assert outcome == {fault: {"posts reaching the server": 1, "wrong": None} for fault in outcome}
    assert raced.is_set() and len(found) == len(people)


def test_a_409_for_a_user_hidden_from_filters_fails_with_an_explanation(sandbox, scim, run_for_result):
    sandbox.configure(hide_inactive=True)
    hidden = [scim.create_user({"schemas": [USER_SCHEMA], "userName": f"hidden.{number}@example.com", "active": False})
              for number in (1, 2)]
    one = {"user_name": "hidden.1@example.com", "email": "hidden.1@example.com", "given_name": "Hidden"}
    result = run_for_result("faults/conflict.yml", people=[one, dict(one, id=hidden[0]["id"], active=True)],
                            bulk_people=[dict(one, user_name="hidden.2@example.com", email="hidden.2@example.com")])
    refused, with_id = result["single"]
    assert refused["failed"]
    for part in ("Creating user 'hidden.1@example.com' was refused with HTTP 409 (uniqueness",
                 "yet it cannot be found in the directory", "Atlassian hides deactivated and unlinked users",
                 "give the user's SCIM id with the id option"):
        assert part in refused["msg"], refused["msg"]
    assert not with_id.get("failed") and with_id["action"] == "updated"  # found by its id, and reactivated
    bulk = result["bulk"]
    assert bulk["failed"] and [failure["user"] for failure in bulk["failures"]] == ["hidden.2@example.com"]
    assert "Atlassian hides deactivated and unlinked users" in bulk["failures"][0]["error"]

    sandbox.configure(hide_inactive=False)
    users = directory(scim)
    assert sorted(users) == ["hidden.1@example.com", "hidden.2@example.com"]  # no second user was made
    assert (users["hidden.1@example.com"]["active"], users["hidden.2@example.com"]["active"]) == (True, False)


def test_a_401_makes_exactly_one_token_refresh(proxy, sandbox, scim, run_for_result):
    # Every token is revoked (as after a key rotation) when SCIM requests number 1, 5, 6 and 7
    # arrive: the first item's first lookup (then its retry, its userName lookup and its create
    # pass), the second item's first lookup and its retry, the third's first lookup.
    numbers = iter(range(1, 1000))
    revoke_at = {1, 5, 6, 7}

    def revoke(request):
        if next(numbers) in revoke_at:
            sandbox.revoke_tokens()
        return None

    proxy.on_request = revoke
    people = [person(1, auth="client_id"), person(2, auth="client_id"), person(3)]
    results = run_for_result("faults/user_loop.yml", people=people, scim_base_url=proxied(proxy, sandbox))
    refreshed, refreshed_in_vain, given = results
    assert not refreshed.get("failed") and refreshed["action"] == "created"
    for failed in (refreshed_in_vain, given):
        assert failed["failed"] and "HTTP 401" in failed["msg"] and "has not expired" in failed["msg"], failed["msg"]
    # oauth_token's one token for the play (the third item's); then each self-authenticating task
    # fetched one and, after its first 401, exactly one more. A given token is never renewed.
    assert sandbox.stats()["token_requests"] == 1 + 2 + 2
    assert scim_401s(sandbox) == 4
    assert sorted(directory(scim)) == [people[0]["user_name"]]


def test_tokens_revoked_during_a_bulk_run_are_refreshed_once(proxy, sandbox, scim, run_for_result):
    posts = iter(range(1, 10_000))

    def revoke_at_the_60th_create(request):
        if request.method == "POST" and next(posts) == 60:
            sandbox.revoke_tokens()
        return None

    proxy.on_request = revoke_at_the_60th_create
    people = [person(number) for number in range(120)]
    result = run_for_result("faults/bulk.yml", people=people, scim_base_url=proxied(proxy, sandbox))
    assert result["failures"] == [] and len(result["created"]) == 120
    assert sandbox.stats()["token_requests"] == 2
    assert 1 <= scim_401s(sandbox) <= 8  # the requests in flight with the revoked token, at most one per worker
    assert_exactly(scim, people)


def test_a_token_expiring_during_a_bulk_run_is_renewed_before_it_expires(proxy, sandbox, scim, run_for_result):
    # 110 creates, 2 at a time, each held 0.1 s by the proxy: the run lasts at least 5.5 s and
    # so outlives a 5 s token. The client must renew it ahead of time rather than meet a 401.
    sandbox.configure(token_lifetime=5)
    proxy.latency = 0.1
    people = [person(number) for number in range(110)]
    result = run_for_result("faults/bulk.yml", people=people, scim_base_url=proxied(proxy, sandbox), concurrency=2)
    assert result["failures"] == [] and len(result["created"]) == 110
    assert sandbox.stats()["token_requests"] >= 2
    assert scim_401s(sandbox) == 0
    assert_exactly(scim, people)


# ---------------------------------------------------------------------------
# One run through a flaky network, and honest reports of what was written

FLAKY = {"429": 0.10, "503": 0.05, "reset": 0.03, "drop": 0.03}


def test_a_bulk_run_through_a_flaky_network_completes_in_one_run(proxy, sandbox, scim, run_for_result):
    # Seeded faults: every create whose answer is lost or refused is looked up, and sent again
    # only when the lookup proves the user absent, as often as max_retries allows.
    proxy.set_rates(FLAKY)
    proxy.retry_after = 0
    people = [person(number) for number in range(300)]
    options = {"people": people, "scim_base_url": proxied(proxy, sandbox), "max_retries": 10, "concurrency": 8}
    result = run_for_result("faults/bulk.yml", **options)
    assert result["failures"] == [] and not result.get("failed"), result.get("msg")
    assert sorted(result["created"]) == sorted(spec["user_name"] for spec in people)
    assert_exactly(scim, people)
    assert creates_of_existing_users(sandbox) == 0
    faults = proxy.stats()["faults"]
    assert all(faults.get(fault) for fault in FLAKY), faults

    rerun = run_for_result("faults/bulk.yml", **options)
    assert rerun["failures"] == [] and not rerun["changed"] and len(rerun["unchanged"]) == 300
    assert_exactly(scim, people)


@pytest.mark.parametrize(("max_retries", "created"), [(5, True), (2, False)])
def test_a_refused_create_is_sent_again_as_often_as_max_retries_allows(
        proxy, sandbox, scim, run_for_result, max_retries, created):
    spec = person(1)
    proxy.inject("503", method="POST", body_contains=f'"{spec["user_name"]}"', times=3)
    result = run_for_result("faults/bulk.yml", people=[spec], scim_base_url=proxied(proxy, sandbox),
                            max_retries=max_retries)
    if created:
        assert result["failures"] == [] and result["created"] == [spec["user_name"]]
        assert_exactly(scim, [spec])
    else:
        [failure] = result["failures"]
        assert "HTTP 503" in failure["error"] and not result["changed"]
        assert scim.users() == []
    assert proxy.forwarded("POST", f'"{spec["user_name"]}"') == int(created)


def test_a_group_whose_members_cannot_be_added_reports_changed(sandbox, scim, run_for_result):
    member = scim.create_user({"schemas": [USER_SCHEMA], "userName": "member@example.com"})
    sandbox.inject(target="scim", status=400, method="PATCH", path_contains="/Groups/",
                   json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                         "detail": "Injected refusal"})
    result = run_for_result("scim_group/ensure.yml", group={"display_name": "Team", "members": [member["id"]]})
    assert result["failed"] and "Injected refusal" in result["msg"]
    assert result["changed"]  # the group was created before the refusal


def test_a_group_delete_whose_answer_was_lost_reports_deleted(proxy, sandbox, run_for_result):
    run_for_result("scim_group/ensure.yml", group={"display_name": "Old team"})
    proxy.inject("504_applied", method="DELETE")  # applied, then the retry of the DELETE meets a 404
    result = run_for_result("scim_group/ensure.yml", group={"display_name": "Old team", "state": "absent"},
                            scim_base_url=proxied(proxy, sandbox))
    assert not result.get("failed") and result["changed"] and result["action"] == "deleted"
    assert proxy.stats()["faults"] == {"504_applied": 1}


def test_an_unexpected_error_on_one_user_keeps_the_report_of_the_others(sandbox, scim, run_for_result):
    people = [person(number) for number in range(6)]
    # The answer to one create is a JSON list, not a user: code that expects a user breaks on it.
    sandbox.inject(target="scim", status=201, method="POST", path_contains="/Users", json=[])
    result = run_for_result("faults/bulk.yml", people=people, concurrency=1)
    assert result["failed"] and result["changed"]
    [failure] = result["failures"]
    assert failure["item"] == 1 and failure["user"] == people[0]["user_name"]
    assert "unexpected error" in failure["error"]
    assert sorted(result["created"]) == sorted(spec["user_name"] for spec in people[1:])
