#!/usr/bin/env bash
# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The end of `make demo`: start the local sandbox, then, with the collection installed from the
# built tarball, run the onboarding playbook three times: it onboards the team, changes nothing
# the second time, and offboards one person the third. Always stop the sandbox, whatever failed. `make demo` builds and installs the collection
# first and passes the paths below in the environment; run it through make, not by hand.
#
#   DEMO_PYTHON            the virtualenv's python (has the sandbox's dependencies)
#   DEMO_SANDBOX_DIR       state directory of the sandbox (keys, sandbox.json, log)
#   DEMO_PLAYBOOK          the playbook to run
#   DEMO_INVENTORY         its inventory
#   ANSIBLE_COLLECTIONS_PATH  where the tarball was installed (and the ANSIBLE_* settings)
set -euo pipefail

: "${DEMO_PYTHON:?}" "${DEMO_SANDBOX_DIR:?}" "${DEMO_PLAYBOOK:?}" "${DEMO_INVENTORY:?}" "${ANSIBLE_COLLECTIONS_PATH:?}"

sandbox() {
    "$DEMO_PYTHON" tests/sandbox/sandbox.py "$1" --state-dir "$DEMO_SANDBOX_DIR"
}

stop_sandbox() {
    local rc=$?
    trap - EXIT INT TERM
    echo
    echo "== stopping the sandbox"
    if ! sandbox stop && [[ $rc -eq 0 ]]; then
        rc=1
    fi
    exit "$rc"
}
trap stop_sandbox EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== starting the sandbox"
sandbox start

run_playbook() {
    local log=$1
    shift
    # pipefail makes the pipeline fail when ansible-playbook does; tee keeps the output for
    # the checks below while showing it as it comes.
    ansible-playbook -i "$DEMO_INVENTORY" "$DEMO_PLAYBOOK" -e "@$DEMO_SANDBOX_DIR/sandbox.json" "$@" 2>&1 | tee "$log"
}

recap_of() {
    sed -n '/^PLAY RECAP/,$p' "$1" | grep -E '\bchanged=[0-9]+' || true
}

echo
echo "== first run: get a token, onboard the team (groups, users, memberships)"
run_playbook "$DEMO_SANDBOX_DIR/demo-run-1.log"

echo
echo "== second run: the same playbook again must change nothing"
run_playbook "$DEMO_SANDBOX_DIR/demo-run-2.log"
recap=$(recap_of "$DEMO_SANDBOX_DIR/demo-run-2.log")
if [[ -z "$recap" ]] || grep -qE '\bchanged=[1-9]' <<<"$recap"; then
    echo "demo: the second run must report no change:" >&2
    echo "${recap:-no PLAY RECAP}" >&2
    exit 1
fi

echo
echo "== third run: Alan Turing leaves; the same role deactivates him and no one else"
run_playbook "$DEMO_SANDBOX_DIR/demo-run-3.log" -e '{"leavers": ["alan.turing@example.com"]}'
if ! grep -qE '\bchanged=1\b' <<<"$(recap_of "$DEMO_SANDBOX_DIR/demo-run-3.log")"; then
    echo "demo: the offboarding run should change exactly one task" >&2
    exit 1
fi

echo
echo "== fourth run: the groups get Jira and Confluence; Alan is suspended and his API tokens revoked"
# Sandbox set-up, not part of the playbook: Alan has two personal API tokens.
"$DEMO_PYTHON" -c 'import json, sys, urllib.request
info = json.load(open(sys.argv[1]))
body = json.dumps({"email": "alan.turing@example.com", "labels": ["laptop", "ci-deploy"]}).encode()
urllib.request.urlopen(urllib.request.Request(info["sandbox_control_url"] + "/org/api_tokens", body, {"Content-Type": "application/json"}))
' "$DEMO_SANDBOX_DIR/sandbox.json"
DEMO_PLAYBOOK=playbooks/joiner_leaver.yml run_playbook "$DEMO_SANDBOX_DIR/demo-run-4.log" -e '{"leavers": ["alan.turing@example.com"]}'
if ! grep -qE '\bchanged=2\b' <<<"$(recap_of "$DEMO_SANDBOX_DIR/demo-run-4.log")" \
        || ! grep -q '2 API token(s) revoked' "$DEMO_SANDBOX_DIR/demo-run-4.log"; then
    echo "demo: the joiner/leaver run should grant two groups access and offboard Alan with 2 tokens revoked" >&2
    exit 1
fi
DEMO_PLAYBOOK=playbooks/joiner_leaver.yml run_playbook "$DEMO_SANDBOX_DIR/demo-run-5.log" -e '{"leavers": ["alan.turing@example.com"]}'
if grep -qE '\bchanged=[1-9]' <<<"$(recap_of "$DEMO_SANDBOX_DIR/demo-run-5.log")"; then
    echo "demo: the joiner/leaver playbook run again must change nothing" >&2
    exit 1
fi
echo
echo "== demo passed: onboarded, unchanged on the second run, one person offboarded, product access granted, leaver suspended"
