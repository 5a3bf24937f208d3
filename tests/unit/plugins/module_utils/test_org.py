# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The organization admin API client: error bodies, cursors, paging, rate-limit headers, verified writes."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import (
    ConfigError,
    OrgApiError,
    ScimKitError,
    TransportError,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._http import _GatedRetry
from ansible_collections.scimkit.atlassian.plugins.module_utils._org import (
    OrgClient,
    next_cursor,
    parse_org_error,
    write_verified,
)

API_KEY = "org-api-key-unit-0123456789abcdefghijklmnopqrstuvwxyz"


# -- errors -------------------------------------------------------------------

def test_v2_error_names_code_title_and_detail():
    body = json.dumps({"errors": [{"status": "404", "code": "ADMIN-404-10", "title": "Not Found",
                                   "detail": "Group 42 was not found"}]})
    error = parse_org_error(404, body, "application/json", "GET", "/admin/v2/orgs/o/groups/42")
    assert str(error).startswith("Atlassian admin API GET /admin/v2/orgs/o/groups/42 failed: HTTP 404: "
                                 "ADMIN-404-10 Not Found: Group 42 was not found.")
    assert (error.status, error.code, error.title, error.detail) == (404, "ADMIN-404-10", "Not Found", "Group 42 was not found")
    assert error.details == {"status": 404, "code": "ADMIN-404-10", "title": "Not Found", "detail": "Group 42 was not found"}


def test_every_v2_error_is_named():
    body = json.dumps({"errors": [{"code": "ADMIN-400-24", "title": "Bad Request", "detail": "roleId"},
                                  {"code": "ADMIN-400-4", "title": "Bad Request", "detail": "resourceId"}]})
    message = str(parse_org_error(400, body, "application/json", "POST", "/p"))
    assert "ADMIN-400-24 Bad Request: roleId; ADMIN-400-4 Bad Request: resourceId." in message


def test_v1_proxy_error_and_its_hint():
    error = parse_org_error(429, json.dumps({"code": 429, "message": "Too many requests"}), "application/json", "POST", "/p")
    assert "HTTP 429: 429: Too many requests." in str(error)
    assert "max_retries" in str(error) and error.code == "429"


@pytest.mark.parametrize(("body", "expected"), [
    ('{"key": "forbidden"}', "HTTP 403: forbidden."),
    ('[{"code": "user.not.managed", "message": "Only managed accounts"}]', "HTTP 403: user.not.managed: Only managed accounts."),
    ('{"timestamp": "2026-01-01", "path": "/p", "status": 403, "error": "Forbidden", "message": "denied"}', "HTTP 403: Forbidden: denied."),
    ('{"schemas": [], "status": "403", "scimType": "invalidValue", "detail": "no"}', "HTTP 403: invalidValue: no."),
])
def test_other_error_bodies(body, expected):
    error = parse_org_error(403, body, "application/json", "GET", "/p")
    assert expected in str(error)
    assert "API key created without scopes" in str(error)


def test_plain_text_error_is_summarised_and_401_explains_the_key():
    error = parse_org_error(401, "Unauthorized: bad token", "text/plain", "GET", "/p")
    assert "HTTP 401 with a non-JSON body (text/plain): 'Unauthorized: bad token'." in str(error)
    assert "organization API key" in str(error) and error.code is None


def test_an_unknown_org_says_to_check_org_id():
    body = json.dumps({"errors": [{"code": "ADMIN-404-2", "title": "Not Found", "detail": "Organization not found"}]})
    assert str(parse_org_error(404, body, "application/json", "GET", "/p")).endswith("Check org_id: the organization was not found.")


# -- cursors --------------------------------------------------------------------

@pytest.mark.parametrize(("page", "expected"), [
    ({"links": {"next": "b3BhcXVl"}}, "b3BhcXVl"),
    ({"links": {"self": "x"}}, None),
    ({"links": {"next": None}}, None),
    ({}, None),
    ({"links": {"next": "https://api.atlassian.com/admin/v2/orgs/o/workspaces?cursor=YWJj%3D"}}, "YWJj="),
    ({"links": {"next": "/admin/v2/orgs/o/workspaces?limit=20&cursor=Zm9v"}}, "Zm9v"),
])
def test_next_cursor(page, expected):
    assert next_cursor(page) == expected


def test_a_next_link_without_cursor_fails_rather_than_stop_early():
    with pytest.raises(ScimKitError, match="carries no cursor"):
        next_cursor({"links": {"next": "https://api.atlassian.com/admin/v2/orgs/o/workspaces?page=2"}})


# -- a client over a scripted HTTP layer ---------------------------------------------

class FakeResponse:
    def __init__(self, status=200, body=None, headers=None):
        self.status_code = status
        self.text = "" if body is None else (body if isinstance(body, str) else json.dumps(body))
        self.content = self.text.encode()
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def json(self):
        return json.loads(self.text)


class FakeHttp:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []
        self.mounted = []
        held = []
        self.gate = SimpleNamespace(held=held, hold=held.append)

    def retry_writes_only_on_429(self, url):
        self.mounted.append(url)

    def retry_posts_to(self, url):
        self.mounted.append(("reads", url))

    def request(self, method, url, **kwargs):
        body = json.loads(kwargs["data"]) if kwargs.get("data") else None
        self.sent.append((method, url, kwargs.get("params"), body, kwargs["headers"]))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def org_client(*answers):
    http = FakeHttp(*answers)
    return OrgClient(http, "https://admin.example/", "org-1", API_KEY), http


def test_requests_carry_the_key_as_bearer_and_writes_retry_only_on_429():
    client, http = org_client(FakeResponse(200, {"data": [{"directoryId": "d1", "name": "Staff"}], "links": {}}))
    assert client.directories() == [{"directoryId": "d1", "name": "Staff"}]
    method, url, _params, _body, headers = http.sent[0]
    assert (method, url) == ("GET", "https://admin.example/admin/v2/orgs/org-1/directories")
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert http.mounted == ["https://admin.example/admin/", "https://admin.example/users/"]


def test_search_pages_resend_the_filters_with_the_cursor_until_next_is_absent():
    client, http = org_client(
        FakeResponse(200, {"data": [{"accountId": "a1", "email": "A@x.test"}], "links": {"next": "c2"}}),
        FakeResponse(200, {"data": [{"accountId": "a2", "email": "b@x.test"}], "links": {"next": "c3"}}),
        FakeResponse(200, {"data": [{"accountId": "a3", "email": "a@x.test"}], "links": {}}),
    )
    users = client.search_users(emails=["a@x.test"])
    assert [user["accountId"] for user in users] == ["a1", "a3"]  # b@ re-filtered out: exact addresses only
    bodies = [body for _m, _u, _p, body, _h in http.sent]
    assert bodies == [{"emails": ["a@x.test"]}, {"emails": ["a@x.test"], "cursor": "c2"},
                      {"emails": ["a@x.test"], "cursor": "c3"}]
    assert http.sent[0][1] == "https://admin.example/admin/v2/orgs/org-1/directories/-/users/search"
    # A search is a read: its POSTs are retried after a 5xx like GETs (mounted once, for that path only).
    assert http.mounted[2:] == [("reads", "https://admin.example/admin/v2/orgs/org-1/directories/-/users/search")]


def test_get_lists_send_only_the_cursor_after_the_first_page():
    client, http = org_client(
        FakeResponse(200, {"data": [{"resourceId": "ari:1", "roles": ["atlassian/user"]}], "links": {"next": "n1"}}),
        FakeResponse(200, {"data": [{"resourceId": "ari:2", "roles": []}], "links": {"next": None}}),
    )
    assert len(client.role_assignments("d1", "g:1")) == 2
    assert [params for _m, _u, params, _b, _h in http.sent] == [None, {"cursor": "n1"}]
    assert http.sent[0][1].endswith("/directories/d1/groups/g:1/role-assignments")


@pytest.mark.parametrize("group_id", ["g/1", "..", ".", ""])
def test_an_id_that_is_not_one_path_segment_is_refused_before_any_request(group_id):
    client, http = org_client()
    with pytest.raises(ConfigError, match="is not an id: an id must be one path segment"):
        client.role_assignments("d1", group_id)
    assert http.sent == []


def test_workspace_pages_send_the_cursor_alone():
    client, http = org_client(
        FakeResponse(200, {"data": [{"id": "ari:1"}], "links": {"next": "https://admin.example/x?cursor=QQ"}}),
        FakeResponse(200, {"data": [{"id": "ari:2"}], "links": {}}),
    )
    assert [w["id"] for w in client.workspaces()] == ["ari:1", "ari:2"]
    assert [body for _m, _u, _p, body, _h in http.sent] == [{}, {"cursor": "QQ"}]


def test_a_repeated_cursor_fails_instead_of_looping():
    client, _http = org_client(
        FakeResponse(200, {"data": [], "links": {"next": "same"}}),
        FakeResponse(200, {"data": [], "links": {"next": "same"}}),
    )
    with pytest.raises(ScimKitError, match="same page cursor twice"):
        client.directories()


def test_an_exhausted_window_holds_every_request_until_it_resets():
    reset = (datetime.now(timezone.utc) + timedelta(seconds=100)).isoformat().replace("+00:00", "Z")
    client, http = org_client(
        FakeResponse(200, {"data": []}, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}),
        FakeResponse(200, {"data": []}, {"X-RateLimit-Remaining": "7", "X-RateLimit-Reset": reset}),
    )
    client.directories()
    client.directories()
    assert len(http.gate.held) == 1 and 90 < http.gate.held[0] <= 100


def test_error_answers_raise_org_api_errors():
    client, _http = org_client(FakeResponse(404, {"errors": [{"code": "ADMIN-404-8", "title": "Not Found"}]}))
    with pytest.raises(OrgApiError, match="ADMIN-404-8 Not Found") as caught:
        client.suspend_user("d1", "712020:abc")
    assert caught.value.path == "/admin/v2/orgs/org-1/directories/d1/users/712020:abc/suspend"


def test_api_tokens_and_scim_links_paths():
    client, http = org_client(
        FakeResponse(200, [{"id": "t1", "label": "ci"}]),
        FakeResponse(200, {"scimLinks": [{"scimUserId": "s1"}]}),
        FakeResponse(200, {"scimLinks": []}),
    )
    assert client.api_tokens("a1") == [{"id": "t1", "label": "ci"}]
    assert client.scim_links(email="j@x.test") == [{"scimUserId": "s1"}]
    assert client.scim_links(account_id="a1") == []
    assert [(m, u.replace("https://admin.example", "")) for m, u, _p, _b, _h in http.sent] == [
        ("GET", "/users/a1/manage/api-tokens"),
        ("POST", "/admin/user-provisioning/v1/org/org-1/get-scim-links-for-email"),
        ("GET", "/admin/user-provisioning/v1/org/org-1/user/a1/get-scim-links"),
    ]


# -- verified writes ---------------------------------------------------------------

def write_log(*outcomes):
    sent = []

    def send():
        sent.append(1)
        outcome = outcomes[len(sent) - 1]
        if isinstance(outcome, Exception):
            raise outcome

    return send, sent


def ambiguous_error(status=502):
    return OrgApiError("bad gateway", status=status, method="POST", path="/p")


def test_a_write_whose_answer_was_lost_is_not_resent_when_a_read_shows_it_applied():
    send, sent = write_log(TransportError("lost", maybe_applied=True))
    write_verified(send, applied=lambda: True)
    assert len(sent) == 1


def test_a_write_is_resent_once_when_a_read_proves_it_was_not_applied():
    send, sent = write_log(ambiguous_error(503), None)
    write_verified(send, applied=lambda: False)
    assert len(sent) == 2


@pytest.mark.parametrize("error", [
    OrgApiError("conflict", status=409, method="POST", path="/p"),
    TransportError("refused", maybe_applied=False),
])
def test_clear_failures_are_raised_without_a_read(error):
    send, sent = write_log(error)

    def applied():
        raise AssertionError("no read expected")

    with pytest.raises(type(error)):
        write_verified(send, applied=applied)
    assert len(sent) == 1


# -- 429 pauses (the HTTP layer) ---------------------------------------------------------

def answer_429(status=429, **headers):
    return SimpleNamespace(status=status, headers=headers)


def retry():
    return _GatedRetry(total=3, backoff_factor=0.5, backoff_jitter=0.5, backoff_max=30, respect_retry_after_header=True)


def in_seconds(seconds):
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_retry_after_seconds_win_over_the_reset_instant():
    assert retry().get_retry_after(answer_429(**{"Retry-After": "7", "X-RateLimit-Reset": in_seconds(100)})) == 7


def test_retry_after_as_an_http_date():
    when = (datetime.now(timezone.utc) + timedelta(seconds=100)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 90 < retry().get_retry_after(answer_429(**{"Retry-After": when})) <= 100


def test_without_retry_after_a_429_waits_for_the_rate_limit_reset():
    assert 90 < retry().get_retry_after(answer_429(**{"X-RateLimit-Reset": in_seconds(100)})) <= 100
    assert retry().get_retry_after(answer_429(**{"X-RateLimit-Reset": "2020-01-01T00:00:00Z"})) == 0


def test_a_numeric_reset_is_epoch_seconds_or_a_delay():
    assert retry().get_retry_after(answer_429(**{"X-RateLimit-Reset": "5"})) == 5
    assert 90 < retry().get_retry_after(answer_429(**{"X-RateLimit-Reset": str(int(time.time()) + 100)})) <= 100


def test_every_pause_is_capped():
    assert retry().get_retry_after(answer_429(**{"X-RateLimit-Reset": in_seconds(3600)})) == 120
    assert retry().get_retry_after(answer_429(**{"Retry-After": "3600"})) == 120


def test_a_bare_429_gets_a_jittered_backoff():
    delays = {retry().get_retry_after(answer_429(**{"X-RateLimit-Reset": "soon"})) for _attempt in range(20)}
    assert all(0.5 <= delay <= 1.0 for delay in delays) and len(delays) > 1


def test_the_reset_instant_is_for_429_only():
    assert retry().get_retry_after(answer_429(status=503, **{"X-RateLimit-Reset": in_seconds(100)})) is None
