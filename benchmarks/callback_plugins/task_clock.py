# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark helper, not part of the collection: how long each task took, as Ansible saw it.

Writes {task name: seconds} to the file named by SCIMKIT_BENCH_TASK_TIMES when the play ends,
so the benchmark can tell Ansible's own start-up from the time a task spends.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: task_clock
type: aggregate
short_description: Seconds per task, for benchmarks/bulk_provisioning.py
description: Writes the wall seconds of each task to the file named by SCIMKIT_BENCH_TASK_TIMES.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_clock"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.started[task.get_name()] = time.perf_counter()

    def _done(self, result, *args, **kwargs):
        # A role's task starts as "role : name" but its result may carry the bare name: try both.
        name = next((name for name in (result._task.get_name(), result.task_name) if name in self.started), None)
        if name is not None:
            self.seconds[name] = round(time.perf_counter() - self.started[name], 3)

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_skipped = _done

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("SCIMKIT_BENCH_TASK_TIMES")
        if path:
            with open(path, "w", encoding="utf-8") as stream:
                json.dump(self.seconds, stream)
