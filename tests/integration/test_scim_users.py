# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import math

from conftest import requests_sent, scim_writes


def person(number: int, **extra) -> dict:
    name = f"person{number:04d}@example.com"
    return {"user_name": name, "email": name, "given_name": f"Given{number}", "family_name": "Bulk",
            "external_id": f"ext-{number:04d}", **extra}


PEOPLE = [person(number) for number in range(300)]


def test_create_rerun_change_a_few(scim_users_task, sandbox, scim):
    check = scim_users_task(PEOPLE, "--check")
    assert len(check["created"]) == 300 and check["changed"]
    assert scim_writes(sandbox) == {} and scim.users() == []

    sandbox.reset_stats()
    created = scim_users_task(PEOPLE)
    assert sorted(created["created"]) == sorted(p["user_name"] for p in PEOPLE)
    assert created["failures"] == [] and created["changed"]
    assert scim_writes(sandbox) == {"POST": 300}
    assert sandbox.stats()["token_requests"] == 1
    assert len(scim.users()) == 300

    sandbox.reset_stats()
    rerun = scim_users_task(PEOPLE)
    assert not rerun["changed"] and len(rerun["unchanged"]) == 300
    assert scim_writes(sandbox) == {}
    assert requests_sent(sandbox) <= math.ceil(300 / 100) + 2

    changed = [dict(p, title="Lead") if p["user_name"] in {"person0007@example.com", "person0123@example.com"}
               else p for p in PEOPLE]
    changed[200] = dict(changed[200], active=False)
    sandbox.reset_stats()
    update = scim_users_task(changed, "--diff")
    assert sorted(update["updated"]) == ["person0007@example.com", "person0123@example.com"]
    assert update["deactivated"] == ["person0200@example.com"]
    assert len(update["unchanged"]) == 297
    assert scim_writes(sandbox) == {"PATCH": 3}
    assert update["diff"]["after"]["person0007@example.com"]["title"] == "Lead"
    assert "title" not in update["diff"]["before"]["person0007@example.com"]
    assert scim.user("person0123@example.com")["title"] == "Lead"


def test_purge_deactivates_or_deletes_the_unlisted(scim_users_task, sandbox, scim):
    everyone = PEOPLE[:30]
    scim_users_task(everyone)
    stay = everyone[:25]

    sandbox.reset_stats()
    check = scim_users_task(stay, "--check", purge=True)
    assert sorted(check["deactivated"]) == sorted(p["user_name"] for p in everyone[25:])
    assert scim_writes(sandbox) == {}

    purged = scim_users_task(stay, purge=True)
    assert purged["deactivated"] == check["deactivated"]
    assert scim_writes(sandbox) == {"PATCH": 5}
    assert [u["active"] for u in scim.users() if u["userName"] == "person0027@example.com"] == [False]

    again = scim_users_task(stay, purge=True)
    assert not again["changed"]

    sandbox.reset_stats()
    deleted = scim_users_task(stay[:20], purge=True, purge_action="delete")
    assert sorted(deleted["deleted"]) == sorted(p["user_name"] for p in everyone[20:])
    assert scim_writes(sandbox) == {"DELETE": 10}
    assert len(scim.users()) == 20


def test_max_purge_stops_a_large_purge_before_any_write(scim_users_task, sandbox, scim):
    scim_users_task(PEOPLE[:40])
    sandbox.reset_stats()
    guarded = scim_users_task(PEOPLE[:15], purge=True)
    assert guarded["failed"]
    assert "purge would deactivate 25 users, more than max_purge (10); nothing was changed" in guarded["msg"]
    assert scim_writes(sandbox) == {}
    assert all(user["active"] for user in scim.users())

    allowed = scim_users_task(PEOPLE[:15], purge=True, max_purge=25)
    assert len(allowed["deactivated"]) == 25


def test_paging_with_a_server_that_caps_pages(scim_users_task, sandbox, scim):
    sandbox.configure(page_size_cap=7)
    scim_users_task(PEOPLE[:50])
    sandbox.reset_stats()
    rerun = scim_users_task(PEOPLE[:50])
    assert len(rerun["unchanged"]) == 50 and not rerun["changed"]
    assert scim_writes(sandbox) == {}
    assert sandbox.stats()["scim_requests"]["GET"] == math.ceil(50 / 7)


def test_a_failing_item_leaves_the_others_done(scim_users_task, sandbox, scim):
    people = [*PEOPLE[:10], person(998, attributes={"nickName": {"not": "a string"}}), *PEOPLE[10:20]]
    result = scim_users_task(people)
    assert result["failed"] and result["changed"]
    assert len(result["created"]) == 20
    assert [(f["item"], f["user"]) for f in result["failures"]] == [(11, "person0998@example.com")]
    assert "HTTP 400" in result["failures"][0]["error"]
    assert result["msg"].startswith("1 of the users failed")
    assert "item 11 (person0998@example.com): SCIM POST /Users failed: HTTP 400" in result["msg"]
    assert len(scim.users()) == 20


def test_an_invalid_item_fails_the_task_before_any_request(scim_users_task, sandbox, scim):
    people = [*PEOPLE[:10], {"display_name": "Nobody"}, *PEOPLE[10:20]]
    sandbox.reset_stats()
    result = scim_users_task(people)
    assert result["failed"] and not result["changed"]
    assert result["failures"] == [{"item": 11, "user": "item 11",
                                   "error": "Name the user: give user_name, external_id or id."}]
    assert requests_sent(sandbox) == 0 and scim.users() == []


def test_rate_limits_are_survived_without_duplicates(scim_users_task, sandbox, scim):
    sandbox.configure(fail_429_rate=0.2, retry_after=0)
    result = scim_users_task(PEOPLE[:100], concurrency=8)
    assert len(result["created"]) == 100 and result["failures"] == []
    assert sandbox.stats()["injected_429"] > 0
    names = [user["userName"] for user in scim.users()]
    assert sorted(names) == sorted(p["user_name"] for p in PEOPLE[:100])


def test_a_repeated_user_is_refused_before_any_write(scim_users_task, sandbox, scim):
    result = scim_users_task([PEOPLE[0], dict(PEOPLE[0], user_name=PEOPLE[0]["user_name"].upper())])
    assert result["failures"] == [{"item": 2, "user": "PERSON0000@EXAMPLE.COM",
                                   "error": "the same user as item 1; list each user once"}]
    assert scim_writes(sandbox) == {} and scim.users() == []


def test_users_from_a_file_json_or_yaml(scim_users_task, sandbox, scim, tmp_path):
    people_json = tmp_path / "people.json"
    people_json.write_text(json.dumps(PEOPLE[:120]))
    created = scim_users_task([], users_file=str(people_json))
    assert len(created["created"]) == 120 and created["failures"] == []

    # The same people as YAML, under a `users` key, with one change: only that user is written.
    people_yaml = tmp_path / "people.yml"
    lines = ["users:"]
    for number, item in enumerate(PEOPLE[:120]):
        lines.append(f"  - user_name: {item['user_name']}")
        lines += [f"    {option}: {value}" for option, value in item.items() if option != "user_name"]
        if number == 5:
            lines.append("    title: Lead")
    people_yaml.write_text("\n".join(lines) + "\n")
    sandbox.reset_stats()
    updated = scim_users_task([], "--diff", users_file=str(people_yaml))
    assert updated["updated"] == ["person0005@example.com"] and len(updated["unchanged"]) == 119
    assert scim_writes(sandbox) == {"PATCH": 1}
    assert updated["diff"]["after"]["person0005@example.com"]["title"] == "Lead"


def test_an_invalid_users_file_fails_before_any_request(scim_users_task, sandbox, scim, tmp_path):
    people = [*PEOPLE[:5], {"user_name": "typo@example.com", "emial": "x"}, {"user_name": "b@example.com", "active": "maybe"}, "text"]
    bad = tmp_path / "people.json"
    bad.write_text(json.dumps(people))
    sandbox.reset_stats()
    result = scim_users_task([], users_file=str(bad))
    assert result["failed"]
    assert result["msg"].startswith(f"users_file {bad} has 3 item(s) that cannot be planned, so nothing was changed: "
                                    "item 6 (typo@example.com): ")
    assert "emial" in result["msg"] and "item 7 (b@example.com)" in result["msg"]
    assert "item 8 (item 8): a str, not a mapping" in result["msg"]
    assert requests_sent(sandbox) == 0 and scim.users() == []

    broken = tmp_path / "broken.json"
    broken.write_text('[{"user_name": "a@example.com",]')
    assert "is not valid JSON" in scim_users_task([], users_file=str(broken))["msg"]
    missing = scim_users_task([], users_file=str(tmp_path / "absent.yml"))
    assert missing["msg"] == f"users_file {tmp_path / 'absent.yml'} cannot be read: No such file or directory."
    assert "must hold a list of users" in scim_users_task([], users_file=str(people_json_of(tmp_path, {"people": []})))["msg"]


def people_json_of(tmp_path, data) -> str:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data))
    return str(path)
