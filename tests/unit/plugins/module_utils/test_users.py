# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.scimkit.atlassian.plugins.module_utils._errors import ConfigError
from ansible_collections.scimkit.atlassian.plugins.module_utils._scim import ENTERPRISE_USER_SCHEMA, USER_SCHEMA
from ansible_collections.scimkit.atlassian.plugins.module_utils._users import (
    apply_changes,
    create_payload,
    managed_view,
    patch_operations,
    plan_update,
    replacement_payload,
    same_value,
    user_spec,
)

# A user as Atlassian returns it (shape from the provisioning API's samples).
SERVER_USER = {
    "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, "urn:scim:schemas:extension:atlassian-external:1.0"],
    "id": "5f1c3b0e-2d6a-4c8e-9a1b-7e2f4d6c8a0b",
    "userName": "Jane.Doe@Example.com",
    "externalId": "00u1abcd",
    "active": True,
    "displayName": "Jane Doe",
    "name": {"givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe"},
    "emails": [{"value": "jane.doe@example.com", "type": "work", "primary": True}],
    "title": "Engineer",
    ENTERPRISE_USER_SCHEMA: {"department": "Platform", "organization": "Example"},
    "urn:scim:schemas:extension:atlassian-external:1.0": {"atlassianAccountId": "712020:abc"},
    "groups": [{"value": "g1", "display": "jira-users"}],
    "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00Z"},
}


def spec(**options):
    return user_spec({"user_name": "jane.doe@example.com", **options})


def operations(wanted, current):
    return patch_operations(plan_update(wanted, current))


def test_unset_options_are_unmanaged():
    assert spec().managed == {("userName", None): "jane.doe@example.com"}


def test_matching_user_needs_no_operation():
    wanted = spec(external_id="00u1abcd", email="JANE.DOE@example.com", given_name="Jane", family_name="Doe",
                  display_name="Jane Doe", department="Platform", active=True, title="Engineer")
    assert operations(wanted, SERVER_USER) == []


def test_user_name_is_compared_case_insensitively_but_external_id_is_not():
    assert operations(spec(), SERVER_USER) == []
    assert operations(spec(external_id="00U1ABCD"), SERVER_USER) == [
        {"op": "replace", "path": "externalId", "value": "00U1ABCD"}]


def test_only_changed_attributes_are_patched():
    wanted = spec(email="jane.doe@example.com", given_name="Janet", department="SRE", active=False)
    assert operations(wanted, SERVER_USER) == [
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "name.givenName", "value": "Janet"},
        {"op": "replace", "path": f"{ENTERPRISE_USER_SCHEMA}:department", "value": "SRE"},
    ]


def test_emails_compare_as_a_set():
    reordered = spec(emails=[{"value": "j@example.org", "type": "other"},
                             {"value": "jane.doe@example.com", "primary": True}])
    current = dict(SERVER_USER, emails=[{"value": "j@example.org", "type": "other", "primary": False},
                                        {"value": "Jane.Doe@example.com", "type": "work", "primary": True}])
    assert operations(reordered, current) == []
    changed = operations(spec(email="new@example.com"), current)
    assert changed == [{"op": "replace", "path": "emails",
                        "value": [{"value": "new@example.com", "type": "work", "primary": True}]}]


def test_first_email_becomes_primary_and_two_primaries_are_refused():
    assert spec(emails=[{"value": "a@x.test"}, {"value": "b@x.test"}]).managed[("emails", None)][0]["primary"] is True
    with pytest.raises(ConfigError, match="Only one item of emails may be primary"):
        spec(emails=[{"value": "a@x.test", "primary": True}, {"value": "b@x.test", "primary": True}])


def test_empty_string_removes_an_attribute():
    assert operations(spec(title=""), SERVER_USER) == [{"op": "remove", "path": "title"}]
    assert operations(spec(nick_name=""), SERVER_USER) == []


def test_raw_attributes_compare_only_given_keys():
    same = spec(attributes={"urn:scim:schemas:extension:atlassian-external:1.0": {"atlassianAccountId": "712020:abc"}})
    assert operations(same, SERVER_USER) == []
    other = spec(attributes={"profileUrl": "https://example.com/jane"})
    assert operations(other, SERVER_USER) == [
        {"op": "replace", "path": "profileUrl", "value": "https://example.com/jane"}]


def test_booleans_are_not_equal_to_strings():
    assert not same_value(("active", None), True, "true")
    assert same_value(("active", None), False, False)


def test_apply_predicts_the_server_result():
    wanted = spec(given_name="Janet", title="", department="SRE")
    predicted = apply_changes(SERVER_USER, plan_update(wanted, SERVER_USER))
    assert predicted["name"] == {"givenName": "Janet", "familyName": "Doe", "formatted": "Jane Doe"}
    assert "title" not in predicted
    assert predicted[ENTERPRISE_USER_SCHEMA] == {"department": "SRE", "organization": "Example"}
    assert SERVER_USER["name"]["givenName"] == "Jane", "the current resource must not be modified"
    assert plan_update(wanted, predicted) == []


def test_create_payload_carries_the_extension_schemas():
    payload = create_payload(spec(email="jane.doe@example.com", department="Platform", family_name="Doe"))
    assert payload == {
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "jane.doe@example.com",
        "name": {"familyName": "Doe"},
        ENTERPRISE_USER_SCHEMA: {"department": "Platform"},
        "emails": [{"value": "jane.doe@example.com", "type": "work", "primary": True}],
    }


def test_create_needs_a_user_name():
    with pytest.raises(ConfigError, match="user_name is required"):
        create_payload(user_spec({"external_id": "00u9"}))


def test_replacement_drops_server_owned_attributes():
    payload = replacement_payload(SERVER_USER)
    assert not {"id", "meta", "groups"} & set(payload)
    assert payload["schemas"][0] == USER_SCHEMA


def test_diff_view_is_the_sorted_managed_subset():
    wanted = spec(emails=[{"value": "b@x.test"}, {"value": "a@x.test"}], given_name="Jane")
    view = managed_view(wanted, SERVER_USER)
    assert view == {"userName": "Jane.Doe@Example.com", "name": {"givenName": "Jane"},
                    "emails": [{"value": "jane.doe@example.com", "type": "work", "primary": True}]}
    assert managed_view(wanted, None) == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"email": "a@x.test", "emails": [{"value": "a@x.test"}]}, "mutually exclusive"),
        ({"given_name": "A", "name": {"given_name": "B"}}, "disagree"),
        ({"attributes": {"id": "x"}}, "server owns it"),
        ({"attributes": {"name": {"givenName": "x"}}, "given_name": "y"}, "overlaps"),
        ({"emails": [{"value": ""}]}, "needs a value"),
    ],
)
def test_contradictory_options_are_refused(options, message):
    with pytest.raises(ConfigError, match=message):
        spec(**options)


def test_a_user_must_be_named():
    with pytest.raises(ConfigError, match="Name the user"):
        user_spec({"display_name": "Nobody"})
