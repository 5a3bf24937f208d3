# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ScimClient.list_all: pages 2.. fetched concurrently, falling back to a sequential read when the listing moves."""

from __future__ import annotations

import json
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ApiError, TransportError
from ansible_collections.scimkit.atlassian.plugins.module_utils._http import HttpSettings
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ScimClient
from ansible_collections.scimkit.atlassian.plugins.module_utils._token import (
    ClientCredentials,
    ClientCredentialsProvider,
    StaticTokenProvider,
)

BASE_URL = "https://scim.example.test/scim/directory/d-1"
TOKEN_URL = "https://auth.example.test/oauth/token"


class FakeResponse:
    """What ScimClient.request reads of a requests.Response."""

    def __init__(self, status: int, payload=None) -> None:
        self.status_code = status
        self.text = "" if payload is None else json.dumps(payload)
        self.content = self.text.encode()
        self.headers = {"Content-Type": "application/scim+json"}

    def json(self):
        return json.loads(self.text)


class FakeDirectory:
    """Stands in for HttpClient: answers GET /Users from ``listing`` as a SCIM server pages it.

    ``cap`` is the most items the server returns a page, whatever ``count`` asks. ``on_get``
    (called with the startIndex, under no lock) may change the listing, raise, or return a
    FakeResponse to send instead. Every GET is recorded with its query parameters.
    """

    def __init__(self, users: int = 0, *, cap: int | None = None, on_get=None) -> None:
        self.listing = [user(n) for n in range(users)]
        self.cap = cap
        self.on_get = on_get
        self.sent: list[dict] = []
        self.lock = threading.Lock()

    settings = HttpSettings(max_retries=0)

    def send_once_to(self, url: str) -> None:
        """ClientCredentialsProvider asks this of the real HttpClient."""

    def pause_before_retry(self, attempt: int, response=None) -> None:
        """Nothing to wait for here."""

    def request(self, method, url, *, params=None, data=None, headers=None, **kwargs):
        if urlsplit(url).path.endswith("/oauth/token"):
            return self.token_endpoint(kwargs.get("json") or {})
        with self.lock:
            self.sent.append(dict(params))
        start, count = params["startIndex"], params["count"]
        if self.on_get:
            answer = self.on_get(start)
            if answer is not None:
                return answer
        if self.cap is not None:
            count = min(count, self.cap)
        with self.lock:
            items = self.listing[start - 1:start - 1 + count]
            total = len(self.listing)
        return FakeResponse(200, page(items, total, start))

    def token_endpoint(self, body):
        raise AssertionError(f"no token endpoint here: {body}")

    @property
    def starts(self) -> list[int]:
        """The startIndexes asked, sorted: pages 2.. may be sent in any order."""
        return sorted(params["startIndex"] for params in self.sent)


def user(n: int) -> dict:
    return {"id": f"u-{n:05d}", "userName": f"user{n}@example.com"}


def page(items, total, start) -> dict:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": total,
            "startIndex": start, "itemsPerPage": len(items), "Resources": items}


def client(http, page_size: int = 100, tokens=None) -> ScimClient:
    return ScimClient(http, BASE_URL, tokens or StaticTokenProvider("t0k3n"), page_size=page_size)


def ids(resources) -> list[str]:
    return [resource["id"] for resource in resources]


def expected_ids(numbers) -> list[str]:
    return [user(n)["id"] for n in numbers]


def test_pages_come_in_order_with_one_request_each():
    http = FakeDirectory(1050)
    assert ids(client(http).list_all("Users", concurrency=4)) == expected_ids(range(1050))
    assert http.starts == [1, 101, 201, 301, 401, 501, 601, 701, 801, 901, 1001]
    assert all(params["count"] == 100 for params in http.sent)


def test_same_requests_as_a_sequential_read():
    shape = {"filter": 'userName sw "user"', "attributes": "userName"}
    for concurrency in (1, 4):
        concurrent = FakeDirectory(250)
        sequential = FakeDirectory(250)
        assert client(concurrent).list_all("Users", concurrency=concurrency, **shape) == client(sequential).list(
            "Users", **shape)
        assert concurrent.sent[0] == {"count": 100, "startIndex": 1, **shape}
        if concurrency == 1:
            assert concurrent.sent == sequential.sent  # the very same requests, in the same order
        else:
            assert sorted(concurrent.sent, key=start_index) == sequential.sent


def start_index(params: dict) -> int:
    return params["startIndex"]


@pytest.mark.parametrize("concurrency", [0, 1, 4])
def test_empty_directory_costs_one_request(concurrency):
    http = FakeDirectory(0)
    assert client(http).list_all("Users", concurrency=concurrency) == []
    assert http.starts == [1]


@pytest.mark.parametrize(("users", "requests"), [(1, 1), (100, 1), (101, 2)])
def test_one_page_or_just_over(users, requests):
    http = FakeDirectory(users)
    assert ids(client(http).list_all("Users", concurrency=4)) == expected_ids(range(users))
    assert len(http.sent) == requests


def test_server_capping_count_sets_the_page_size():
    http = FakeDirectory(130, cap=40)
    assert ids(client(http).list_all("Users", concurrency=4)) == expected_ids(range(130))
    assert http.starts == [1, 41, 81, 121]
    assert all(params["count"] == 100 for params in http.sent)


def test_pages_are_fetched_at_the_same_time():
    # Pages 2 to 4 each wait for the other two: a sequential read would time out here.
    barrier = threading.Barrier(3, timeout=10)

    def on_get(start):
        if start > 1:
            barrier.wait()

    http = FakeDirectory(400, on_get=on_get)
    assert ids(client(http).list_all("Users", concurrency=3)) == expected_ids(range(400))
    assert http.starts == [1, 101, 201, 301]


def test_short_page_in_the_middle_reads_on_sequentially():
    # The server answers startIndex 101 with 60 items (same totalResults): it is not where a
    # sequential read would go next, so the rest is read on from 161.
    def on_get(start):
        if start == 101:
            return FakeResponse(200, page(http.listing[100:160], 350, 101))
        return None

    http = FakeDirectory(350, on_get=on_get)
    assert ids(client(http).list_all("Users", concurrency=4)) == expected_ids(range(350))
    assert {1, 101, 161, 261}.issubset(http.starts)
    assert client(http).list_all("Users", concurrency=4) == client(http).list("Users") == http.listing


def test_listing_that_grows_meanwhile_is_read_to_its_new_end():
    # 200 users when page 1 is read, 260 by the time page 2 is: page 1's plan (one more page)
    # would miss the newcomers; the changed totalResults makes the read go on to the end.
    def on_get(start):
        if start > 1:
            with http.lock:
                if len(http.listing) == 200:
                    http.listing.extend(user(n) for n in range(200, 260))

    http = FakeDirectory(200, on_get=on_get)
    assert ids(client(http).list_all("Users", concurrency=4)) == expected_ids(range(260))
    assert http.starts == [1, 101, 201]  # page 2 is not asked twice


def test_listing_that_shrinks_meanwhile_loses_no_one():
    # u-00150 is deleted after page 1: everyone after it moves up one place.
    def on_get(start):
        if start > 1:
            with http.lock:
                http.listing[:] = [item for item in http.listing if item["id"] != "u-00150"]

    http = FakeDirectory(301, on_get=on_get)
    assert ids(client(http).list_all("Users", concurrency=4)) == expected_ids(n for n in range(301) if n != 150)


def test_a_user_on_two_pages_is_listed_once():
    http = FakeDirectory(250)
    http.listing[150] = user(50)  # a server that lists u-00050 on pages 1 and 2
    assert ids(client(http).list_all("Users", concurrency=4)) == expected_ids(n for n in range(250) if n != 150)
    assert http.starts == [1, 101, 201]


def test_a_newcomer_pushing_a_user_onto_the_next_page_is_listed_once():
    # A user sorted first is created after page 1: u-00099 is then the first item of page 2 as well.
    def on_get(start):
        if start > 1:
            with http.lock:
                if http.listing[0]["id"] != "new":
                    http.listing.insert(0, {"id": "new", "userName": "aaron@example.com"})

    http = FakeDirectory(250, on_get=on_get)
    assert ids(client(http).list_all("Users", concurrency=4)) == expected_ids(range(250))


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (FakeResponse(500, {"detail": "boom"}), ApiError),
        (TransportError("The connection broke.", maybe_applied=False), TransportError),
    ],
)
def test_an_error_on_page_3_propagates(failure, error):
    # Pages after the third are slow: by the time they would be sent, the error has cancelled them.
    def on_get(start):
        if start == 201:
            if isinstance(failure, Exception):
                raise failure
            return failure
        if start > 201:
            time.sleep(0.3)
        return None

    http = FakeDirectory(1000, on_get=on_get)
    with pytest.raises(error):
        client(http).list_all("Users", concurrency=2)
    assert 201 in http.starts and len(http.sent) < 10


def test_a_401_in_several_threads_renews_the_token_once():
    # The token page 1 was read with is revoked meanwhile: pages 2 to 4, in three threads,
    # each get a 401 for it, and together fetch one new token.
    issued: list[str] = []
    revoked: set[str] = set()
    all_refused = threading.Barrier(3, timeout=10)

    def token_endpoint(body):
        with http.lock:
            issued.append(f"token-{len(issued) + 1}")
            return FakeResponse(200, {"access_token": issued[-1], "token_type": "Bearer", "expires_in": 3600})

    def on_get(start):
        if start == 1:
            revoked.add("token-1")
        return None

    http = FakeDirectory(400, on_get=on_get)
    http.token_endpoint = token_endpoint
    real_request = http.request

    def request(method, url, *, headers=None, params=None, **kwargs):
        token = (headers or {}).get("Authorization", "").removeprefix("Bearer ")
        if params and params["startIndex"] > 1 and token in revoked:
            all_refused.wait()  # the three threads hold the revoked token at the same time
            return FakeResponse(401, {"detail": "token revoked"})
        return real_request(method, url, headers=headers, params=params, **kwargs)

    http.request = request
    creds = ClientCredentials(client_id=f"c-{uuid.uuid4().hex}", token_url=TOKEN_URL, client_secret="s3cret")
    tokens = ClientCredentialsProvider(http, creds)
    assert ids(client(http, tokens=tokens).list_all("Users", concurrency=3)) == expected_ids(range(400))
    assert issued == ["token-1", "token-2"]


@pytest.mark.parametrize("concurrency", [2, 4, 8])
def test_a_claimed_total_asks_at_most_concurrency_pages_past_the_last_page_read(concurrency):
    """totalResults says 1,000,000 but only 250 users exist: the read stops at the first empty page."""
    def on_get(start):
        return FakeResponse(200, page(http.listing[start - 1:start + 99], 1_000_000, start))

    http = FakeDirectory(250, on_get=on_get)
    assert ids(client(http).list_all("Users", concurrency=concurrency)) == expected_ids(range(250))
    # Pages 1-3 hold users and page 4 (startIndex 301) is empty: nothing past 3 + concurrency pages is asked.
    assert 301 in http.starts
    assert max(http.starts) <= 201 + concurrency * 100
    assert len(http.sent) <= 3 + concurrency


def test_an_empty_page_ends_the_concurrent_read_whatever_the_total_claims():
    def on_get(start):
        return FakeResponse(200, page(http.listing[:100] if start == 1 else [], 1000, start))

    http = FakeDirectory(100, on_get=on_get)
    assert ids(client(http).list_all("Users", concurrency=3)) == expected_ids(range(100))
    # Page 2 came back empty: pages 3 and 4 may have been asked ahead already, nothing after them.
    assert http.starts[:2] == [1, 101] and max(http.starts) <= 301
