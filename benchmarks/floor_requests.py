# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The floor: the smallest hand-written script that provisions people over SCIM.

One ``requests.Session`` (keep-alive), one token fetched once with the same signed-JWT
client-assertion flow the collection uses (PyJWT, the sandbox's key), then one POST per
person, sequentially. No lookups, no retries, no idempotency: it only works on an empty
directory, and that is the point; nothing a module does can be cheaper per person.

    python benchmarks/floor_requests.py SANDBOX_JSON PEOPLE_JSON

SANDBOX_JSON is the sandbox's connection info (``sandbox.json``); PEOPLE_JSON is
``{"people": [{"user_name", "external_id", "email", "given_name", "family_name"}, ...]}``.
Prints one JSON line: the seconds spent getting the token and sending the POSTs.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

import jwt
import requests

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def main(info_path: str, people_path: str) -> None:
    with open(info_path, encoding="utf-8") as handle:
        info = json.load(handle)
    with open(people_path, encoding="utf-8") as handle:
        people = json.load(handle)["people"]
    with open(info["sandbox_private_key_path"], encoding="utf-8") as handle:
        private_key = handle.read()

    started = time.perf_counter()
    session = requests.Session()
    now = int(time.time())
    assertion = jwt.encode(
        {"iss": info["sandbox_client_id"], "sub": info["sandbox_client_id"], "aud": info["sandbox_audience"],
         "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex},
        private_key, algorithm="RS256", headers={"kid": info["sandbox_key_id"]},
    )
    answer = session.post(info["sandbox_token_url"], timeout=30, json={
        "grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion,
    })
    answer.raise_for_status()
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}", "Content-Type": "application/scim+json",
               "Accept": "application/scim+json, application/json"}
    token_done = time.perf_counter()

    url = info["sandbox_base_url"] + "/Users"
    for person in people:
        # The same body scim_user/scim_users send for these options.
        body = {
            "userName": person["user_name"],
            "externalId": person["external_id"],
            "name": {"givenName": person["given_name"], "familyName": person["family_name"]},
            "emails": [{"value": person["email"], "type": "work", "primary": True}],
            "schemas": [USER_SCHEMA],
        }
        answer = session.post(url, data=json.dumps(body), headers=headers, timeout=30)
        if answer.status_code != 201:
            sys.exit(f"POST {person['user_name']}: HTTP {answer.status_code}: {answer.text[:300]}")
    done = time.perf_counter()
    print(json.dumps({"token_seconds": round(token_done - started, 4), "http_seconds": round(done - token_done, 4),
                      "posts": len(people)}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
