# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What issue 14 promises about groups at scale: the onboarding role against plain scim_users.

N people (1000) in G groups (50; each person in one group, so 20 members a group), given to the
role as onboarding_users_file: a first run on an empty directory and a no-change rerun. Next to
them, plain scim_users (users_file) with the same people, first run and rerun. It reuses the
sandbox, runner and measurements of bulk_provisioning.py. It prints figures and asserts nothing;
the issue's targets (rerun ratio <= 1.5, the request budget) are printed next to them, met or not.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bulk_provisioning import (  # noqa: E402  (path set just above)
    PLAYBOOKS,
    Runner,
    SandboxProcess,
    _interrupt,
    environment,
    log,
    people,
)

# The role's one module task for SCIM: it fetches the token and reconciles users, groups and memberships.
SCIM_TASK = "Reconcile the users, the groups and their memberships"
RATIO_TARGET = 1.5


def people_in_groups(count: int, groups: int) -> list[dict[str, Any]]:
    """``count`` people, person i in group i % ``groups``."""
    return [dict(person, groups=[f"bench-group-{number % groups:03d}"])
            for number, person in enumerate(people(count, "role"))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="scimkit-bench-groups-"))
    sandbox = SandboxProcess(work / "sandbox", sys.executable)
    sandbox.start()
    try:
        runner = Runner(work, sandbox, sys.executable, sandbox.info, quiet=args.quiet)
        crowd = people_in_groups(args.users, args.groups)
        role_file = work / "role-people.json"
        role_file.write_text(json.dumps(crowd))
        users_file = work / "users.json"
        users_file.write_text(json.dumps([{k: v for k, v in person.items() if k != "groups"} for person in crowd]))
        role = [str(runner.bin / "ansible-playbook"), str(PLAYBOOKS / "role_onboarding.yml"), "-e",
                f"@{runner.info_file}", "-e", json.dumps({"users_file": str(role_file), "concurrency": args.concurrency})]
        plain = runner.file_playbook(users_file, concurrency=args.concurrency)
        samples: dict[str, list[dict[str, Any]]] = {}
        for repeat in range(args.repeat):
            for label, argv in (("role", role), ("scim_users", plain)):
                log(f"{label}: first run on an empty directory ({repeat + 1}/{args.repeat})")
                samples.setdefault(f"{label} first", []).append(runner.measure(f"{label}-first", argv, prepare=sandbox.clear))
                runner.expect_users(label, args.users)
                log(f"{label}: no-change rerun")
                samples.setdefault(f"{label} rerun", []).append(runner.measure(f"{label}-rerun", argv))
        return {"samples": samples, "work": str(work)}
    finally:
        sandbox.stop()
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--quiet", action="store_true", help="wait for an idle machine before each run (see bulk_provisioning.py)")
    parser.add_argument("--keep-work", action="store_true")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    env = environment()
    results = run(args)
    budget = math.ceil(args.users / 100) + math.ceil(args.groups / 100) + args.groups + 3

    def median(label: str, key: str) -> float:
        values = sorted(sample[key] if key == "wall_s" else sample["requests"]["total"] for sample in results["samples"][label])
        return values[len(values) // 2]

    print(f"\nscimkit.atlassian role vs scim_users, {env['date']}, {env['host_cpus']} CPUs, {env['ansible']}; "
          f"{args.users} people in {args.groups} groups, concurrency {args.concurrency}, repeat {args.repeat}")
    print(f"{'run':<18} {'wall s':>8} {'requests':>9}  tasks (s)")
    for label, runs in results["samples"].items():
        tasks = runs[len(runs) // 2]["task_s"]
        shown = ", ".join(f"{name.split(' : ')[-1]}: {seconds:.2f}" for name, seconds in tasks.items() if seconds >= 0.1)
        print(f"{label:<18} {median(label, 'wall_s'):>8.2f} {median(label, 'requests'):>9}  {shown}")
    ratio = median("role rerun", "wall_s") / median("scim_users rerun", "wall_s")
    requests = median("role rerun", "requests")
    scim_task = [seconds for sample in results["samples"]["role rerun"] for name, seconds in sample["task_s"].items()
                 if name.endswith(SCIM_TASK)]
    print(f"\nrole rerun / scim_users rerun: {ratio:.2f} (target <= {RATIO_TARGET}: "
          f"{'met' if ratio <= RATIO_TARGET else 'NOT met'})")
    print(f"role rerun requests: {requests}, budget ceil(users/100) + ceil(groups/100) + groups + 3 = {budget} "
          f"({'met' if requests <= budget else 'NOT met'})")
    if scim_task:
        print(f"role rerun, its scim_users task alone: {sorted(scim_task)[len(scim_task) // 2]:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
