# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Proves each sandbox rule with real HTTP and real signed assertions.

Run: .venv/bin/python -m pytest tests/sandbox -q
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sandbox import Sandbox  # noqa: E402
from sandbox_config import Settings  # noqa: E402

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


# ---------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Any:
    sb = Sandbox(state_dir=tmp_path_factory.mktemp("sandbox-state"), port=0)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture(autouse=True)
def fresh_settings(request: pytest.FixtureRequest) -> Any:
    """Each test starts from default settings, whatever the previous one configured."""
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").configure(**Settings().as_dict())


@pytest.fixture
def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never through a proxy: the sandbox is on loopback
    return session


@pytest.fixture(scope="module")
def private_key_pem(sandbox: Any) -> bytes:
    return Path(sandbox.info["sandbox_private_key_path"]).read_bytes()


def make_assertion(info: dict[str, Any], key: bytes | Any, *, headers: dict[str, Any] | None = None, algorithm: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": info["sandbox_client_id"],
        "sub": info["sandbox_client_id"],
        "aud": info["sandbox_audience"],
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    for name, value in claims.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    header = {"kid": info["sandbox_key_id"], **(headers or {})}
    return jwt.encode(payload, key, algorithm=algorithm, headers=header)


def token_body(info: dict[str, Any], assertion: str, **extra: Any) -> dict[str, Any]:
    body = {
        "grant_type": "client_credentials",
        "client_id": info["sandbox_client_id"],
        "scope": "manage:directory",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    for name, value in extra.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def get_token(sandbox: Any, http: requests.Session, key: bytes) -> str:
    info = sandbox.info
    answer = http.post(info["sandbox_token_url"], json=token_body(info, make_assertion(info, key)))
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def assert_oauth_error(answer: requests.Response, status: int, error: str, description_part: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error, body
    if description_part is not None:
        assert description_part in body["error_description"], body


def assert_scim_error(answer: requests.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body


class Scim:
    """Tiny SCIM client bound to the sandbox with the static API key."""

    def __init__(self, sandbox: Any, http: requests.Session):
        self.base = sandbox.info["sandbox_base_url"]
        self.http = http
        self.headers = {"Authorization": "Bearer " + sandbox.info["sandbox_api_key"], "Accept": "application/scim+json"}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.base + path, headers=self.headers, **kwargs)

    def create_user(self, user_name: str, **attributes: Any) -> dict[str, Any]:
        answer = self.request("POST", "/Users", json={"schemas": [USER_SCHEMA], "userName": user_name, **attributes})
        assert answer.status_code == 201, answer.text
        return answer.json()

    def list(self, endpoint: str, **params: Any) -> dict[str, Any]:
        answer = self.request("GET", endpoint, params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def scim(sandbox: Any, http: requests.Session) -> Scim:
    sandbox.clear_data()
    return Scim(sandbox, http)


# ---------------------------------------------------------------------------
# token endpoint: successful exchanges


def test_json_exchange_returns_bearer_token(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    info = sandbox.info
    answer = http.post(info["sandbox_token_url"], json=token_body(info, make_assertion(info, private_key_pem)))
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "manage:directory"
    assert len(body["access_token"]) > 40
    users = http.get(info["sandbox_base_url"] + "/Users", headers={"Authorization": "Bearer " + body["access_token"]})
    assert users.status_code == 200


def test_form_exchange_and_token_url_audience(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    info = sandbox.info
    assertion = make_assertion(info, private_key_pem, aud=info["sandbox_token_url"])
    answer = http.post(info["sandbox_token_url"], data=token_body(info, assertion))
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"


def test_missing_scope_defaults_and_other_rsa_algs(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    info = sandbox.info
    for alg in ("RS512", "PS256"):
        assertion = make_assertion(info, private_key_pem, algorithm=alg)
        answer = http.post(info["sandbox_token_url"], json=token_body(info, assertion, scope=None, client_id=None))
        assert answer.status_code == 200, answer.text
        assert answer.json()["scope"] == "manage:directory"


def test_token_lifetime_is_configurable_and_tokens_expire(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    sandbox.configure(token_lifetime=1)
    info = sandbox.info
    answer = http.post(info["sandbox_token_url"], json=token_body(info, make_assertion(info, private_key_pem)))
    assert answer.json()["expires_in"] == 1
    headers = {"Authorization": "Bearer " + answer.json()["access_token"]}
    assert http.get(info["sandbox_base_url"] + "/Users", headers=headers).status_code == 200
    time.sleep(1.1)
    assert_scim_error(http.get(info["sandbox_base_url"] + "/Users", headers=headers), 401)


# ---------------------------------------------------------------------------
# token endpoint: every verification rule


def _post_assertion(sandbox: Any, http: requests.Session, assertion: str, **extra: Any) -> requests.Response:
    info = sandbox.info
    return http.post(info["sandbox_token_url"], json=token_body(info, assertion, **extra))


def test_wrong_kid_is_named(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    assertion = make_assertion(sandbox.info, private_key_pem, headers={"kid": "kid-nobody-registered"})
    assert_oauth_error(_post_assertion(sandbox, http, assertion), 401, "invalid_client", "kid-nobody-registered")


def test_wrong_key_fails_signature(sandbox: Any, http: requests.Session) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assertion = make_assertion(sandbox.info, other_key)
    assert_oauth_error(_post_assertion(sandbox, http, assertion), 401, "invalid_client", "signature verification failed")


def test_expired_assertion(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    now = int(time.time())
    assertion = make_assertion(sandbox.info, private_key_pem, iat=now - 600, exp=now - 120)
    assert_oauth_error(_post_assertion(sandbox, http, assertion), 401, "invalid_client", "expired")


def test_small_clock_skew_is_tolerated(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    now = int(time.time())
    assertion = make_assertion(sandbox.info, private_key_pem, iat=now + 10, exp=now - 5 + 300)
    assert _post_assertion(sandbox, http, assertion).status_code == 200


def test_replayed_jti(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    assertion = make_assertion(sandbox.info, private_key_pem)
    assert _post_assertion(sandbox, http, assertion).status_code == 200
    assert_oauth_error(_post_assertion(sandbox, http, assertion), 401, "invalid_client", "jti replayed")


def test_wrong_audience(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    assertion = make_assertion(sandbox.info, private_key_pem, aud="https://auth.atlassian.com")
    assert_oauth_error(_post_assertion(sandbox, http, assertion), 401, "invalid_client", "aud")


# Time claims are offsets from "now" at run time (None removes the claim).
@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"exp": None}, "'exp'"),
        ({"iat": None}, "'iat'"),
        ({"jti": None}, "'jti'"),
        ({"exp": 7200}, "lifetime"),
        ({"iat": 600, "exp": 900}, "future"),
        ({"iss": "someone-else", "sub": "someone-else"}, "iss"),
        ({"sub": "someone-else"}, "sub"),
    ],
)
def test_claim_rules(sandbox: Any, http: requests.Session, private_key_pem: bytes, claims: dict[str, Any], description: str) -> None:
    now = int(time.time())
    claims = {name: now + value if name in ("exp", "iat") and value is not None else value for name, value in claims.items()}
    assertion = make_assertion(sandbox.info, private_key_pem, **claims)
    assert_oauth_error(_post_assertion(sandbox, http, assertion), 401, "invalid_client", description)


def test_body_client_id_must_match(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    assertion = make_assertion(sandbox.info, private_key_pem)
    assert_oauth_error(_post_assertion(sandbox, http, assertion, client_id="other-client"), 401, "invalid_client", "client_id")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_alg_none_and_hmac_with_public_key_are_refused(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    info = sandbox.info
    now = int(time.time())
    payload = _b64(
        json.dumps(
            {
                "iss": info["sandbox_client_id"],
                "sub": info["sandbox_client_id"],
                "aud": info["sandbox_audience"],
                "iat": now,
                "exp": now + 300,
                "jti": str(uuid.uuid4()),
            }
        ).encode()
    )
    none_header = _b64(json.dumps({"alg": "none", "kid": info["sandbox_key_id"]}).encode())
    assert_oauth_error(_post_assertion(sandbox, http, f"{none_header}.{payload}."), 401, "invalid_client", "'none'")
    # Classic key confusion: HS256 keyed with the (public) PEM.
    public_pem = Path(info["sandbox_public_key_path"]).read_bytes()
    hs_header = _b64(json.dumps({"alg": "HS256", "kid": info["sandbox_key_id"]}).encode())
    signature = _b64(hmac.new(public_pem, f"{hs_header}.{payload}".encode(), hashlib.sha256).digest())
    assert_oauth_error(_post_assertion(sandbox, http, f"{hs_header}.{payload}.{signature}"), 401, "invalid_client", "'HS256'")


def test_request_level_errors(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    info = sandbox.info
    url = info["sandbox_token_url"]
    assertion = make_assertion(info, private_key_pem)
    assert_oauth_error(http.post(url, json=token_body(info, assertion, grant_type="password")), 400, "unsupported_grant_type")
    assert_oauth_error(http.post(url, json=token_body(info, assertion, grant_type=None)), 400, "invalid_request")
    assert_oauth_error(http.post(url, json=token_body(info, assertion, client_assertion_type="urn:other")), 400, "invalid_request")
    assert_oauth_error(http.post(url, json=token_body(info, make_assertion(info, private_key_pem), scope="read:account")), 400, "invalid_scope")
    assert_oauth_error(http.post(url, data="grant_type=client_credentials", headers={"Content-Type": "text/plain"}), 400, "invalid_request", "content type")
    assert_oauth_error(http.post(url, data="{not json", headers={"Content-Type": "application/json"}), 400, "invalid_request")
    assert_oauth_error(http.post(url, json=token_body(info, "not-a-jwt")), 401, "invalid_client")
    assert http.get(url).status_code == 405


def test_secret_client(sandbox: Any, http: requests.Session) -> None:
    info = sandbox.info
    url = info["sandbox_token_url"]
    good = {"grant_type": "client_credentials", "client_id": info["sandbox_secret_client_id"], "client_secret": info["sandbox_client_secret"]}
    for answer in (
        http.post(url, json=good),
        http.post(url, data=good),
        http.post(url, data={"grant_type": "client_credentials"}, auth=(info["sandbox_secret_client_id"], info["sandbox_client_secret"])),
    ):
        assert answer.status_code == 200, answer.text
        assert answer.json()["scope"] == "manage:directory"
    assert_oauth_error(http.post(url, json={**good, "client_secret": "wrong"}), 401, "invalid_client")
    assert_oauth_error(http.post(url, json={**good, "client_id": info["sandbox_client_id"]}), 401, "invalid_client")
    assert_oauth_error(http.post(url, json={"grant_type": "client_credentials"}), 401, "invalid_client")
    basic_fail = http.post(url, data={"grant_type": "client_credentials"}, auth=(info["sandbox_secret_client_id"], "wrong"))
    assert_oauth_error(basic_fail, 401, "invalid_client")
    assert basic_fail.headers["WWW-Authenticate"].startswith("Basic")


def test_token_html_error_mode_and_token_stats(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    info = sandbox.info
    sandbox.reset_stats()
    sandbox.configure(token_html_error=True)
    answer = http.post(info["sandbox_token_url"], json=token_body(info, make_assertion(info, private_key_pem)))
    assert answer.status_code == 500
    assert answer.headers["Content-Type"].startswith("text/html")
    sandbox.configure(token_html_error=False)
    assert http.post(info["sandbox_token_url"], json=token_body(info, make_assertion(info, private_key_pem))).status_code == 200
    stats = sandbox.stats()
    assert stats["token_requests"] == 2
    assert stats["token_failures"] == 1
    assert [r["status"] for r in stats["requests"]] == [500, 200]


# ---------------------------------------------------------------------------
# SCIM authentication


def test_missing_and_bad_bearer(sandbox: Any, http: requests.Session) -> None:
    base = sandbox.info["sandbox_base_url"]
    missing = http.get(base + "/Users")
    assert_scim_error(missing, 401)
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert_scim_error(http.get(base + "/Users", headers={"Authorization": "Bearer sbx-at-forged"}), 401)
    assert_scim_error(http.get(base + "/Users", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401)
    # Discovery endpoints are behind the same gateway.
    assert_scim_error(http.get(base + "/ServiceProviderConfig"), 401)


def test_unknown_directory_is_404(sandbox: Any, http: requests.Session) -> None:
    info = sandbox.info
    url = info["sandbox_base_url"].rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000/Users"
    assert_scim_error(http.get(url, headers={"Authorization": "Bearer " + info["sandbox_api_key"]}), 404)


# ---------------------------------------------------------------------------
# SCIM resources


def test_user_create_uniqueness_and_case_insensitive_filter(scim: Scim) -> None:
    created = scim.request("POST", "/Users", json={"schemas": [USER_SCHEMA], "userName": "Jane.Doe@Example.com", "externalId": "Ext-42"})
    assert created.status_code == 201
    user = created.json()
    assert created.headers["Location"] == user["meta"]["location"] == f"{scim.base}/Users/{user['id']}"
    assert user["active"] is True  # Atlassian default when omitted
    duplicate = scim.request("POST", "/Users", json={"schemas": [USER_SCHEMA], "userName": "jane.doe@example.com"})
    assert_scim_error(duplicate, 409, "uniqueness")
    found = scim.list("/Users", filter='userName eq "JANE.DOE@example.COM"')
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"]
    assert scim.list("/Users", filter='externalId eq "Ext-42"')["totalResults"] == 1
    assert scim.list("/Users", filter='externalId eq "ext-42"')["totalResults"] == 0  # case-exact
    assert scim.list("/Users", filter='userName eq "nobody@example.com"') == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_escaped_filter_value(scim: Scim) -> None:
    tricky = 'o"brien\\admin'
    user = scim.create_user(tricky)
    scim.create_user("obrien")
    escaped = tricky.replace("\\", "\\\\").replace('"', '\\"')
    found = scim.list("/Users", filter=f'userName eq "{escaped}"')
    assert [r["id"] for r in found["Resources"]] == [user["id"]]
    assert found["Resources"][0]["userName"] == tricky


def test_atlassian_filter_restrictions(scim: Scim, sandbox: Any) -> None:
    for bad in ('title eq "x"', 'userName EQ "x"', 'userName sw "x"', 'userName eq "a" or userName eq "b"', 'emails[type eq "work"].value eq "x"'):
        assert_scim_error(scim.request("GET", "/Users", params={"filter": bad}), 400, "invalidFilter")
    assert_scim_error(scim.request("GET", "/Groups", params={"filter": 'externalId eq "x"'}), 400, "invalidFilter")
    sandbox.configure(strict_filters=False)
    assert scim.request("GET", "/Users", params={"filter": 'userName sw "x"'}).status_code == 200


def test_paging_cap(scim: Scim, sandbox: Any) -> None:
    sandbox.configure(page_size_cap=5)
    for index in range(12):
        scim.create_user(f"pager{index:02d}")
    for params, expected in (({}, 5), ({"count": 50}, 5), ({"count": 3}, 3), ({"startIndex": 11, "count": 100}, 2), ({"startIndex": 20}, 0)):
        page = scim.list("/Users", **params)
        assert page["totalResults"] == 12
        assert len(page["Resources"]) == expected
        assert page["itemsPerPage"] == expected
    seen: set[str] = set()
    start = 1
    while True:
        page = scim.list("/Users", startIndex=start, count=100)
        if not page["Resources"]:
            break
        seen.update(r["id"] for r in page["Resources"])
        start += len(page["Resources"])
    assert len(seen) == 12
    config = scim.request("GET", "/ServiceProviderConfig").json()
    assert config["filter"]["maxResults"] == 5


def test_injected_429_next_is_not_applied(scim: Scim, sandbox: Any) -> None:
    sandbox.reset_stats()
    sandbox.configure(fail_429_next=1, retry_after=7)
    refused = scim.request("POST", "/Users", json={"schemas": [USER_SCHEMA], "userName": "throttled"})
    assert_scim_error(refused, 429)
    assert refused.headers["Retry-After"] == "7"
    assert scim.list("/Users", filter='userName eq "throttled"')["totalResults"] == 0
    scim.create_user("throttled")
    stats = sandbox.stats()
    assert stats["injected_429"] == 1
    assert stats["scim_requests"]["POST"] == 2
    assert [(r["method"], r["status"]) for r in stats["requests"]] == [("POST", 429), ("GET", 200), ("POST", 201)]


def test_injected_429_rate_is_seeded(sandbox: Any, scim: Scim) -> None:
    sandbox.configure(fail_429_rate=1.0)
    assert_scim_error(scim.request("GET", "/Users"), 429)
    sandbox.configure(fail_429_rate=0.5)
    statuses = [scim.request("GET", "/Users").status_code for _request in range(40)]
    assert set(statuses) == {200, 429}


def test_hide_inactive(scim: Scim, sandbox: Any) -> None:
    active = scim.create_user("awake", active=True)
    dormant = scim.create_user("dormant", active=False)
    sandbox.configure(hide_inactive=True)
    listing = scim.list("/Users")
    assert [r["id"] for r in listing["Resources"]] == [active["id"]]
    assert listing["totalResults"] == 1
    assert scim.list("/Users", filter='userName eq "dormant"')["totalResults"] == 0
    assert scim.request("GET", f"/Users/{dormant['id']}").json()["active"] is False
    sandbox.configure(hide_inactive=False)
    assert scim.list("/Users", filter='userName eq "dormant"')["totalResults"] == 1


def test_lists_see_every_write(scim: Scim, sandbox: Any) -> None:
    """Plain lists come from a cache of the sorted directory (sandbox_scim.SandboxStorage.search):
    every kind of write must show up in the next list, as must a hide_inactive change."""

    def listing(**params: Any) -> dict[str, dict[str, Any]]:
        page = scim.list("/Users", **params)
        assert page["totalResults"] == page["itemsPerPage"] == len(page["Resources"])
        return {r["userName"]: r for r in page["Resources"]}

    first = scim.create_user("cache-a")
    second = scim.create_user("cache-b")
    assert set(listing()) == {"cache-a", "cache-b"}  # the cache now holds both
    third = scim.create_user("cache-c")  # POST
    assert set(listing()) == {"cache-a", "cache-b", "cache-c"}
    patch = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "Patched"}]}
    assert scim.request("PATCH", f"/Users/{first['id']}", json=patch).status_code == 200  # PATCH
    assert listing()["cache-a"]["displayName"] == "Patched"
    put = {"schemas": [USER_SCHEMA], "userName": "cache-b", "displayName": "Put"}
    assert scim.request("PUT", f"/Users/{second['id']}", json=put).status_code == 200  # PUT
    assert listing()["cache-b"]["displayName"] == "Put"
    assert scim.request("DELETE", f"/Users/{third['id']}").status_code == 204  # DELETE
    assert set(listing()) == {"cache-a", "cache-b"}

    # hide_inactive is a setting, not a write: the next list must follow it anyway.
    deactivate = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert scim.request("PATCH", f"/Users/{second['id']}", json=deactivate).status_code == 200
    sandbox.configure(hide_inactive=True)
    assert set(listing()) == {"cache-a"}
    sandbox.configure(hide_inactive=False)
    assert set(listing()) == {"cache-a", "cache-b"}

    # Users' `groups` in a list come from a cached membership index: group writes must show too.
    group = scim.request("POST", "/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "cache-group"}).json()
    assert "groups" not in listing()["cache-a"]
    add = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": [{"value": first["id"]}]}]}
    assert scim.request("PATCH", f"/Groups/{group['id']}", json=add).status_code == 200
    assert [g["value"] for g in listing()["cache-a"]["groups"]] == [group["id"]]
    assert scim.request("DELETE", f"/Groups/{group['id']}").status_code == 204
    assert "groups" not in listing()["cache-a"]

    # Same order as scim2-server's own (uncached) search path, which a filter takes.
    for index in range(20):
        scim.create_user(f"cache-order-{index:02d}")
    cached = [r["id"] for r in scim.list("/Users", count=100)["Resources"]]
    sandbox.configure(strict_filters=False)
    uncached = [r["id"] for r in scim.list("/Users", count=100, filter="userName pr")["Resources"]]
    assert cached == uncached == sorted(cached) and len(cached) == 22
    assert [r["id"] for r in scim.list("/Users", startIndex=6, count=5)["Resources"]] == cached[5:10]

    sandbox.clear_data()  # replaces everything at once, without the per-resource hooks
    assert listing() == {}


def test_list_entries_see_every_write(scim: Scim, sandbox: Any) -> None:
    """A plain list page reuses each resource's rendered entry (sandbox_scim.SandboxService.search_response):
    every write must drop them, whatever page shape (attributes, excludedAttributes) filled them."""
    shapes: list[dict[str, Any]] = [{}, {"attributes": "userName,title,groups"}, {"excludedAttributes": "emails"}]

    def users(**params: Any) -> dict[str, dict[str, Any]]:
        return {r["userName"]: r for r in scim.list("/Users", count=100, **params)["Resources"]}

    def every_shape() -> list[dict[str, dict[str, Any]]]:
        pages = [users(**shape) for shape in shapes]
        assert pages == [users(**shape) for shape in shapes]  # the second reading comes from the cache
        return pages

    carol = scim.create_user("render-carol", title="Before")
    dave = scim.create_user("render-dave")
    assert [page["render-carol"]["title"] for page in every_shape()] == ["Before", "Before", "Before"]

    # A user's own write: PATCH, then PUT.
    retitle = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "title", "value": "After"}]}
    assert scim.request("PATCH", f"/Users/{carol['id']}", json=retitle).status_code == 200
    pages = every_shape()
    assert [page["render-carol"]["title"] for page in pages] == ["After", "After", "After"]
    assert pages[0]["render-carol"] == scim.request("GET", f"/Users/{carol['id']}").json()  # same entry as a single read
    put = {"schemas": [USER_SCHEMA], "userName": "render-carol", "title": "Put"}
    assert scim.request("PUT", f"/Users/{carol['id']}", json=put).status_code == 200
    assert [page["render-carol"]["title"] for page in every_shape()] == ["Put", "Put", "Put"]

    # A group's write changes its members' `groups`, though the users themselves are not written.
    group = scim.request("POST", "/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "render-group",
                                                  "members": [{"value": carol["id"]}]}).json()
    groups = [{"value": group["id"], "display": "render-group", "type": "direct", "$ref": f"{scim.base}/Groups/{group['id']}"}]
    for page in every_shape()[:2]:
        assert page["render-carol"]["groups"] == groups and "groups" not in page["render-dave"]
    add = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": [{"value": dave["id"]}]}]}
    assert scim.request("PATCH", f"/Groups/{group['id']}", json=add).status_code == 200
    assert every_shape()[0]["render-dave"]["groups"] == groups
    assert {m["value"] for m in scim.list("/Groups")["Resources"][0]["members"]} == {carol["id"], dave["id"]}
    rename = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "displayName", "value": "render-renamed"}]}
    assert scim.request("PATCH", f"/Groups/{group['id']}", json=rename).status_code == 200
    for page in every_shape()[:2]:
        assert [g["display"] for g in page["render-carol"]["groups"]] == ["render-renamed"]
    assert scim.list("/Groups")["Resources"][0]["displayName"] == "render-renamed"
    assert scim.request("DELETE", f"/Users/{dave['id']}").status_code == 204  # leaves the group: a group write
    assert [m["value"] for m in scim.list("/Groups")["Resources"][0]["members"]] == [carol["id"]]
    assert set(every_shape()[0]) == {"render-carol"}
    assert scim.request("DELETE", f"/Groups/{group['id']}").status_code == 204
    assert all("groups" not in page["render-carol"] for page in every_shape())

    # A new user appears with its own entry; clearing drops everything.
    scim.create_user("render-erin", title="New")
    assert every_shape()[1]["render-erin"] == {"schemas": [USER_SCHEMA], "id": ANY_ID, "userName": "render-erin", "title": "New"}
    sandbox.clear_data()
    scim.create_user("render-carol", title="Reborn")
    assert [page["render-carol"]["title"] for page in every_shape()] == ["Reborn", "Reborn", "Reborn"]


class _AnyId:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and len(other) > 0


ANY_ID = _AnyId()


def test_patch_put_delete_user(scim: Scim) -> None:
    user = scim.create_user(
        "patchme",
        name={"givenName": "Pat", "familyName": "Old"},
        emails=[{"value": "patchme@example.com", "type": "work", "primary": True}],
        schemas=[USER_SCHEMA, ENTERPRISE],
        **{ENTERPRISE: {"department": "R&D"}},
    )
    operations = [
        {"op": "replace", "path": "name.givenName", "value": "Patricia"},
        {"op": "remove", "path": "name.familyName"},
        {"op": "replace", "path": "active", "value": False},
        {"op": "add", "path": "emails", "value": [{"value": "home@example.com", "type": "home"}]},
        {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Ops"},
    ]
    patched = scim.request("PATCH", f"/Users/{user['id']}", json={"schemas": [PATCH_SCHEMA], "Operations": operations})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == {"givenName": "Patricia"}
    assert body["active"] is False
    assert {e["value"] for e in body["emails"]} == {"patchme@example.com", "home@example.com"}
    assert body[ENTERPRISE]["department"] == "Ops"

    replaced = scim.request("PUT", f"/Users/{user['id']}", json={"schemas": [USER_SCHEMA], "userName": "patchme", "displayName": "P"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["displayName"] == "P" and "emails" not in replaced.json()  # PUT clears omitted attributes

    assert scim.request("DELETE", f"/Users/{user['id']}").status_code == 204
    assert_scim_error(scim.request("GET", f"/Users/{user['id']}"), 404)
    assert_scim_error(scim.request("PATCH", f"/Users/{user['id']}", json={"schemas": [PATCH_SCHEMA], "Operations": operations}), 404)
    assert_scim_error(scim.request("DELETE", f"/Users/{user['id']}"), 404)


def test_groups_membership(scim: Scim) -> None:
    alice = scim.create_user("alice", displayName="Alice A")
    bob = scim.create_user("bob")
    created = scim.request("POST", "/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "jira-users"})
    assert created.status_code == 201
    group = created.json()
    assert_scim_error(scim.request("POST", "/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "JIRA-users"}), 409, "uniqueness")
    assert scim.list("/Groups", filter='displayName eq "jira-users"')["totalResults"] == 1

    add = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": [{"value": alice["id"]}, {"value": bob["id"]}]}]}
    added = scim.request("PATCH", f"/Groups/{group['id']}", json=add)
    assert added.status_code == 200, added.text
    members = {m["value"]: m for m in added.json()["members"]}
    assert set(members) == {alice["id"], bob["id"]}
    assert members[alice["id"]]["type"] == "User" and members[alice["id"]]["display"] == "Alice A"
    assert members[alice["id"]]["$ref"] == f"{scim.base}/Users/{alice['id']}"
    again = scim.request("PATCH", f"/Groups/{group['id']}", json=add)  # adding existing members changes nothing
    assert len(again.json()["members"]) == 2
    user_view = scim.request("GET", f"/Users/{alice['id']}").json()
    assert [g["value"] for g in user_view["groups"]] == [group["id"]]

    remove = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": f'members[value eq "{bob["id"]}"]'}]}
    removed = scim.request("PATCH", f"/Groups/{group['id']}", json=remove)
    assert removed.status_code == 200
    assert [m["value"] for m in removed.json()["members"]] == [alice["id"]]

    unknown = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}]}
    assert_scim_error(scim.request("PATCH", f"/Groups/{group['id']}", json=unknown), 400)

    assert scim.request("DELETE", f"/Users/{alice['id']}").status_code == 204
    assert "members" not in scim.request("GET", f"/Groups/{group['id']}").json()  # deleted users leave their groups
    assert scim.request("PUT", f"/Groups/{group['id']}", json={"schemas": [GROUP_SCHEMA], "displayName": "jira-users"}).status_code == 200
    assert scim.request("DELETE", f"/Groups/{group['id']}").status_code == 204
    assert_scim_error(scim.request("GET", f"/Groups/{group['id']}"), 404)


def test_service_provider_config(scim: Scim) -> None:
    config = scim.request("GET", "/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["filter"] == {"supported": True, "maxResults": 100}
    assert config["bulk"]["supported"] is False


def test_concurrent_keep_alive_clients(sandbox: Any, scim: Scim) -> None:
    sandbox.reset_stats()
    errors: list[str] = []

    def worker(index: int) -> None:
        session = requests.Session()
        session.trust_env = False
        client = Scim(sandbox, session)
        for item in range(10):
            answer = client.request("POST", "/Users", json={"schemas": [USER_SCHEMA], "userName": f"w{index}-{item}"})
            if answer.status_code != 201:
                errors.append(answer.text)
            if client.request("GET", "/Users", params={"filter": f'userName eq "w{index}-{item}"'}).json()["totalResults"] != 1:
                errors.append(f"w{index}-{item} not found")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert scim.list("/Users")["totalResults"] == 60
    assert sandbox.stats()["scim_requests"]["POST"] == 60


def test_control_api(sandbox: Any, http: requests.Session, scim: Scim) -> None:
    control = sandbox.info["sandbox_control_url"]
    scim.create_user("to-be-cleared")
    assert http.post(control + "/reset_stats").json() == {"ok": True}
    assert http.get(control + "/stats").json()["scim_requests"] == {"GET": 0, "POST": 0, "PATCH": 0, "PUT": 0, "DELETE": 0}
    changed = http.post(control + "/config", json={"page_size_cap": 7, "hide_inactive": True})
    assert changed.status_code == 200 and changed.json()["page_size_cap"] == 7
    assert sandbox.config()["hide_inactive"] is True
    assert http.post(control + "/config", json={"no_such_setting": 1}).status_code == 400
    assert http.post(control + "/clear").json() == {"ok": True}
    assert scim.list("/Users")["totalResults"] == 0
    assert http.get(control + "/info").json()["sandbox_base_url"] == sandbox.info["sandbox_base_url"]


def test_state_dir_is_reused_and_keys_are_private(sandbox: Any, tmp_path: Path) -> None:
    info = sandbox.info
    for name in ("sandbox_private_key_path", "sandbox_encrypted_private_key_path"):
        assert stat.S_IMODE(os.stat(info[name]).st_mode) == 0o600
    encrypted = Path(info["sandbox_encrypted_private_key_path"]).read_bytes()
    assert b"ENCRYPTED" in encrypted
    key = serialization.load_pem_private_key(encrypted, password=info["sandbox_private_key_passphrase"].encode())
    assert key.key_size == 2048
    again = Sandbox(state_dir=Path(info["sandbox_private_key_path"]).parent, port=0)
    started = time.monotonic()
    again.start()
    try:
        assert time.monotonic() - started < 1.0
        for name in ("sandbox_client_id", "sandbox_key_id", "sandbox_directory_id", "sandbox_api_key"):
            assert again.info[name] == info[name]
        assert again.info["sandbox_audience"] != info["sandbox_audience"]  # another port
    finally:
        again.stop()


# ---------------------------------------------------------------------------
# CLI


def test_cli_start_and_stop(tmp_path: Path, http: requests.Session, private_key_pem: bytes) -> None:
    script = str(HERE / "sandbox.py")
    state = tmp_path / "cli-state"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, script, *args, "--state-dir", str(state)], capture_output=True, text=True, timeout=30,
                              check=False)

    started = run("start", "--page-size-cap", "3")
    try:
        assert started.returncode == 0, started.stderr
        info = json.loads((state / "sandbox.json").read_text())
        assert stat.S_IMODE(os.stat(state / "sandbox.json").st_mode) == 0o600
        for key in ("sandbox_base_url", "sandbox_client_id", "sandbox_key_id", "sandbox_private_key_path"):
            assert info[key] in started.stdout
        assert info["sandbox_client_secret"] not in started.stdout
        key = Path(info["sandbox_private_key_path"]).read_bytes()
        answer = http.post(info["sandbox_token_url"], json=token_body(info, make_assertion(info, key)))
        assert answer.status_code == 200, answer.text
        assert http.get(info["sandbox_control_url"] + "/config").json()["page_size_cap"] == 3
        directories = http.get(f"{info['sandbox_admin_base_url']}/admin/v2/orgs/{info['sandbox_org_id']}/directories",
                               headers={"Authorization": f"Bearer {info['sandbox_org_api_key']}"})
        assert directories.json()["data"][0]["directoryId"] == info["sandbox_directory_id"]
        assert info["sandbox_org_api_key"] not in started.stdout
        assert info["sandbox_org_id"] in started.stdout
        again = run("start")
        assert again.returncode == 0 and "already running" in again.stdout
        assert run("status").returncode == 0
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not (state / "sandbox.pid").exists() and not (state / "sandbox.json").exists()
    with pytest.raises(requests.ConnectionError):
        http.get(info["sandbox_control_url"] + "/health", timeout=2)
    assert run("stop").returncode == 0  # idempotent
    assert run("status").returncode == 1


# ---------------------------------------------------------------------------
# Test aids: clock offset, injected answers, revocation, issued-secret records, TLS


@pytest.mark.parametrize(("offset", "description"), [(-600, "iat in the future"), (600, "expired")])
def test_clock_offset_skews_assertion_checks(sandbox: Any, http: requests.Session, private_key_pem: bytes,
                                             offset: int, description: str) -> None:
    sandbox.configure(clock_offset=offset)
    assertion = make_assertion(sandbox.info, private_key_pem)
    assert_oauth_error(_post_assertion(sandbox, http, assertion), 401, "invalid_client", description)
    sandbox.configure(clock_offset=20)  # within the leeway
    assert _post_assertion(sandbox, http, make_assertion(sandbox.info, private_key_pem)).status_code == 200
    with pytest.raises(ValueError):
        sandbox.configure(clock_offset=10**9)


def test_injected_answers_are_consumed_in_order_and_not_applied(sandbox: Any, scim: Scim, http: requests.Session,
                                                                private_key_pem: bytes) -> None:
    sandbox.reset_stats()
    sandbox.inject(status=403, json={"schemas": [ERROR_SCHEMA], "status": "403", "detail": "no"}, method="POST")
    sandbox.inject(status=500, body="<html>boom</html>", content_type="text/html", path_contains="/Users", times=2)
    sandbox.inject(target="token", status=200, body="")
    assert scim.request("GET", "/Groups").status_code == 200  # matches neither SCIM injection
    forbidden = scim.request("POST", "/Users", json={"schemas": [USER_SCHEMA], "userName": "never"})
    assert forbidden.status_code == 403 and forbidden.headers["Content-Type"] == "application/scim+json"
    assert [scim.request("GET", "/Users").status_code for _request in range(3)] == [500, 500, 200]
    assert scim.list("/Users")["totalResults"] == 0
    empty = http.post(sandbox.info["sandbox_token_url"], json=token_body(sandbox.info, make_assertion(sandbox.info, private_key_pem)))
    assert empty.status_code == 200 and empty.text == ""
    assert sandbox.stats()["injected_answers"] == 4
    sandbox.inject(status=404)
    sandbox.clear_injections()
    assert scim.request("GET", "/Users").status_code == 200
    with pytest.raises(ValueError):
        sandbox.inject(status=99)
    control = sandbox.info["sandbox_control_url"]
    assert http.post(control + "/inject", json={"status": 413, "body": "too big", "method": "PATCH"}).json() == {"ok": True, "pending": 1}
    assert http.post(control + "/inject", json={"status": 413, "nonsense": 1}).status_code == 400
    assert http.post(control + "/clear_injections").json() == {"ok": True}


def test_scenario_resets_then_applies_in_one_call(sandbox: Any, scim: Scim, http: requests.Session) -> None:
    sandbox.configure(hide_inactive=True, clock_offset=30)
    sandbox.inject(status=418, body="left over")
    answer = http.post(sandbox.info["sandbox_control_url"] + "/scenario",
                       json={"config": {"page_size_cap": 5}, "inject": [{"status": 503, "method": "DELETE"}]})
    assert answer.status_code == 200 and answer.json()["pending"] == 1
    config = sandbox.config()
    assert (config["hide_inactive"], config["clock_offset"], config["page_size_cap"]) == (False, 0, 5)
    assert scim.request("GET", "/Users").status_code == 200  # the left-over injection is gone
    assert http.post(sandbox.info["sandbox_control_url"] + "/scenario", json={"inject": [{"status": 1}]}).status_code == 400
    assert sandbox.config()["page_size_cap"] == 5  # a refused scenario changes nothing
    assert sandbox.scenario()["pending"] == 0 and sandbox.config()["page_size_cap"] == 100


def test_revoked_tokens_get_401_and_issued_secrets_are_recorded(sandbox: Any, http: requests.Session,
                                                                private_key_pem: bytes) -> None:
    token = get_token(sandbox, http, private_key_pem)
    base = sandbox.info["sandbox_base_url"]
    assert http.get(base + "/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token in sandbox.issued_tokens()
    assert len(sandbox.received_assertions()) >= 1
    assert sandbox.revoke_tokens() >= 1
    assert_scim_error(http.get(base + "/Users", headers={"Authorization": f"Bearer {token}"}), 401)
    api_key = sandbox.info["sandbox_api_key"]
    assert http.get(base + "/Users", headers={"Authorization": f"Bearer {api_key}"}).status_code == 200
    control = sandbox.info["sandbox_control_url"]
    assert token in http.get(control + "/issued").json()["access_tokens"]
    assert http.post(control + "/revoke_tokens").json() == {"revoked": 0}


def test_tls_with_a_generated_test_ca(sandbox: Any, http: requests.Session, private_key_pem: bytes) -> None:
    state_dir = Path(sandbox.info["sandbox_private_key_path"]).parent
    with Sandbox(state_dir=state_dir, port=0, tls=True) as secure:
        info = secure.info
        assert info["sandbox_base_url"].startswith("https://127.0.0.1:")
        with pytest.raises(requests.exceptions.SSLError):
            http.get(info["sandbox_control_url"] + "/health", timeout=5)
        assert http.get(info["sandbox_control_url"] + "/health", verify=info["sandbox_ca_path"], timeout=5).json() == {"status": "ok"}
        answer = http.post(info["sandbox_token_url"], json=token_body(info, make_assertion(info, private_key_pem)),
                           verify=info["sandbox_ca_path"], timeout=5)
        assert answer.status_code == 200, answer.text
        users = http.get(info["sandbox_base_url"] + "/Users", verify=info["sandbox_ca_path"], timeout=5,
                         headers={"Authorization": "Bearer " + answer.json()["access_token"]})
        assert users.status_code == 200
        ca_path = info["sandbox_ca_path"]
    with Sandbox(state_dir=state_dir, port=0, tls=True) as again:
        assert again.info["sandbox_ca_path"] == ca_path  # the CA is reused, so clients keep trusting it
        assert http.get(again.info["sandbox_control_url"] + "/health", verify=ca_path, timeout=5).status_code == 200


def test_a_callers_own_key_is_registered_under_their_client_id(tmp_path):
    """register_client: the caller's JWKS, under a client id of their choice; nothing else changes."""
    from sandbox_oauth import jwks_public_keys

    pyjwt = jwt
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    with pytest.raises(ValueError, match="private key"):
        jwks_public_keys({"keys": [json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(key))]})
    with Sandbox(state_dir=tmp_path / "sbx", clients={"mine": json.dumps({"keys": [dict(jwk, kid="k1")]})}) as sb:
        [thumbprint] = sb.register_client("other", {"keys": [jwk]})  # no kid: its RFC 7638 thumbprint

        def assertion(client_id: str, kid: str) -> str:
            now = int(time.time())
            claims = {"iss": client_id, "sub": client_id, "aud": sb.info["sandbox_audience"], "iat": now,
                      "exp": now + 60, "jti": uuid.uuid4().hex}
            return pyjwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

        def token(client_id: str, kid: str) -> requests.Response:
            return requests.post(sb.info["sandbox_token_url"], timeout=10, json={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion(client_id, kid)})

        assert token("mine", "k1").status_code == 200
        assert token("other", thumbprint).status_code == 200
        refused = token("someone-else", "k1")
        assert refused.status_code in (400, 401) and "iss" in refused.json()["error_description"]
        assert token("mine", "k2").json()["error_description"] == "unknown kid 'k2': no key registered under it"
