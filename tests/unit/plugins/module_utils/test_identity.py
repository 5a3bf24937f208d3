# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The identity rules: every key an item gives is looked up, and they must agree on one user."""

from __future__ import annotations

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._identity import (
    DirectoryIndex,
    IdentityError,
    resolve_user,
)
from ansible_collections.scimkit.atlassian.plugins.module_utils._users import user_spec

DIRECTORY = [
    {"id": "u1", "userName": "Ada@Example.com", "externalId": "e-ada", "active": True},
    {"id": "u2", "userName": "grace@example.com", "active": False},
    {"id": "u3", "userName": "alan@example.com", "externalId": "e-alan"},
    {"id": "u4", "userName": "twin-a@example.com", "externalId": "e-twin"},
    {"id": "u5", "userName": "twin-b@example.com", "externalId": "e-twin"},
    {"id": "u6", "userName": "dave@example.com"},
]


class CountingIndex(DirectoryIndex):
    """The listing, counting the lookups the resolver makes."""

    def __init__(self, users, hidden=()):
        super().__init__(users)
        self.hidden = {user["id"]: user for user in hidden}
        self.asked: list[str] = []

    def by_id(self, user_id):
        self.asked.append("id")
        return super().by_id(user_id) or self.hidden.get(user_id)

    def by_external_id(self, external_id):
        self.asked.append("externalId")
        return super().by_external_id(external_id)

    def by_user_name(self, user_name):
        self.asked.append("userName")
        return super().by_user_name(user_name)


@pytest.fixture
def index():
    return CountingIndex(DIRECTORY, hidden=[{"id": "h1", "userName": "hidden@example.com", "active": False}])


def resolved(index, **options):
    user = resolve_user(user_spec(options), index)
    return user and user["id"]


@pytest.mark.parametrize(("options", "expected"), [
    ({"id": "u2"}, "u2"),
    ({"id": "u9"}, None),
    ({"id": "h1"}, "h1"),  # left out of the listing, found by id
    ({"user_name": "ada@example.COM"}, "u1"),  # userName is case-insensitive
    ({"external_id": "E-ALAN"}, None),  # externalId is case-exact
    ({"user_name": "nobody@example.com"}, None),
    ({"external_id": "e-alan", "user_name": "alan@example.com"}, "u3"),
    ({"id": "u1", "external_id": "e-ada", "user_name": "ada@example.com"}, "u1"),
])
def test_every_key_leads_to_the_same_user(index, options, expected):
    assert resolved(index, **options) == expected


@pytest.mark.parametrize(("options", "expected"), [
    # A key that finds nobody falls through to the next one.
    ({"id": "gone", "user_name": "ada@example.com"}, "u1"),
    ({"external_id": "e-new", "user_name": "grace@example.com"}, "u2"),
    ({"id": "gone", "external_id": "e-alan"}, "u3"),
])
def test_a_key_that_finds_nobody_falls_through(index, options, expected):
    assert resolved(index, **options) == expected


def test_an_hr_rekey_matches_the_user_without_external_id(index):
    # dave has no externalId: the item's external_id finds nobody, his user name finds him.
    assert resolved(index, user_name="dave@example.com", external_id="HR-0042") == "u6"


def test_a_user_name_whose_user_has_another_external_id_is_a_conflict(index):
    with pytest.raises(IdentityError) as caught:
        resolved(index, user_name="ada@example.com", external_id="HR-0001")
    message = str(caught.value)
    assert "userName 'ada@example.com' belongs to the user with id 'u1'" in message
    assert "externalId 'e-ada'" in message and "'HR-0001'" in message


@pytest.mark.parametrize(("options", "first", "second"), [
    ({"external_id": "e-ada", "user_name": "alan@example.com"}, "u1", "u3"),
    ({"id": "u2", "user_name": "ada@example.com"}, "u2", "u1"),
    ({"id": "u1", "external_id": "e-alan"}, "u1", "u3"),
])
def test_two_keys_that_find_two_users_name_both(index, options, first, second):
    with pytest.raises(IdentityError) as caught:
        resolved(index, **options)
    message = str(caught.value)
    assert message.startswith("the keys name two different users")
    assert f"id {first!r}" in message and f"id {second!r}" in message


def test_a_key_that_finds_two_users_is_ambiguous(index):
    with pytest.raises(IdentityError, match="2 users have externalId 'e-twin'.*'u4'.*'u5'.*give the id"):
        resolved(index, external_id="e-twin")


def test_a_user_found_under_the_name_saves_the_user_name_lookup(index):
    assert resolved(index, external_id="e-alan", user_name="ALAN@example.com") == "u3"
    assert index.asked == ["externalId"]
    index.asked.clear()
    assert resolved(index, external_id="e-new", user_name="dave@example.com") == "u6"
    assert index.asked == ["externalId", "userName"]


def test_the_index_asks_the_server_for_an_id_the_listing_lacks():
    asked = []

    class Client:
        def get(self, resource_type, user_id):
            asked.append((resource_type, user_id))
            return {"id": user_id, "userName": "hidden@example.com"} if user_id == "h1" else None

    index = DirectoryIndex(DIRECTORY, Client())
    assert index.by_id("u1")["userName"] == "Ada@Example.com" and asked == []
    assert index.by_id("h1")["id"] == "h1" and index.by_id("nope") is None
    assert asked == [("Users", "h1"), ("Users", "nope")]
