# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bulk provisioning benchmark: four ways to put N people into a SCIM directory.

Starts the local sandbox (tests/sandbox) as a separate process, then, clearing the
directory between ways:

  a. floor       benchmarks/floor_requests.py: one keep-alive requests.Session, one token,
                 N sequential POSTs (the cheapest any client can be per person);
  b. uri loop    an ansible.builtin.uri POST per person (on --loop-users people);
  c. scim_user   a scimkit.atlassian.scim_user task per person, one oauth_token task first
                 (on --loop-users people), then the same loop again on that directory;
  d. scim_users  one scimkit.atlassian.scim_users task for all N, then again (no change);

each play also once with no people (its fixed cost), then one scim_users create and no-change
rerun with --memory-users people while sampling the memory of the whole ansible-playbook
process tree (and, for scale, a plain debug task given the same list). Prints a table and the issue's targets
with PASS/FAIL, and writes everything to benchmarks/results/<timestamp>.json.

    .venv/bin/python benchmarks/bulk_provisioning.py [--users 1000] [--concurrency 4]
        [--loop-users 50] [--memory-users 10000] [--repeat 1] [--sweep 1,2,4,8]
        [--latency-ms 0] [--quiet] [--skip-slow]

Loops b and c cost about 0.7 s per person on a 2-core machine, so they run on --loop-users
people and their figures for N are extrapolated (fixed cost + per-person cost x N, marked *).
--skip-slow leaves out b, c and the memory run (about 30 s in all at N=1000).
Only 127.0.0.1 is contacted. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PLAYBOOKS = BENCH / "playbooks"
SANDBOX = ROOT / "tests" / "sandbox" / "sandbox.py"
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = 100  # what the module asks for and what the sandbox (like Atlassian) caps at

# --quiet: wait for an idle second (at most QUIET_BUSY CPU s busy in it) before each run, for at most
# QUIET_MAX_WAIT s, and measure again (QUIET_TRIES runs in all) when other work used more than NOISY_SHARE
# of a CPU during the run.
QUIET_BUSY = 0.1
QUIET_MAX_WAIT = 300.0
QUIET_TRIES = 3
NOISY_SHARE = 0.1

# The targets.
CREATE_VS_FLOOR = 1.0
RERUN_VS_CREATE = 0.15
MEMORY_LIMIT_MB = 300.0


# ---------------------------------------------------------------------------------------------
# Small helpers


def people(count: int, prefix: str) -> list[dict[str, str]]:
    """``count`` distinct people; the same five options for every way."""
    return [
        {
            "user_name": f"{prefix}{number:05d}@example.com",
            "external_id": f"{prefix}-ext-{number:05d}",
            "email": f"{prefix}{number:05d}@example.com",
            "given_name": f"Given{number}",
            "family_name": "Bench",
        }
        for number in range(count)
    ]


def http_json(url: str, *, method: str = "GET", token: str | None = None, timeout: float = 600) -> Any:
    """A request to the sandbox (control API or SCIM), never through a proxy."""
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as answer:
        return json.loads(answer.read() or b"null")


def proc_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a live process (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all CPUs, from /proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything below it.

    Its process group is not enough: an Ansible worker calls setsid(), so it and the module it runs
    would live on, orphaned, after their ansible-playbook died.
    """
    for member in reversed(descendants(pid)):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_until_quiet(max_wait: float = QUIET_MAX_WAIT) -> float:
    """Wait (at most ``max_wait`` s) for a second in which the machine is almost idle; the seconds waited.

    Called between runs, when this benchmark's own processes are idle, so what is busy is other work.
    """
    started = time.monotonic()
    while time.monotonic() - started < max_wait:
        before = busy_cpu_seconds()
        time.sleep(1.0)
        if busy_cpu_seconds() - before <= QUIET_BUSY:
            break
    return time.monotonic() - started


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) and Pss of a process, in kB; empty if it is gone.

    RSS counts pages shared with other processes in full (a forked Ansible worker shares most
    of its parent's), so a sum of RSS over a tree overstates it; Pss shares them out.
    """
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, rest = line.split(":", 1) if ":" in line else (line, "")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                values["Pss"] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return values
    return values


def process_name(pid: int) -> str:
    """A short name for a process: the script a python runs (ansible-playbook, AnsiballZ_scim_users.py), else argv[0]."""
    try:
        argv = [part for part in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if part]
    except OSError:
        return "?"
    if not argv:
        return "?"
    program = os.path.basename(argv[0])
    if program.startswith("python") and len(argv) > 1 and not argv[1].startswith("-"):
        return os.path.basename(argv[1])
    return program


def descendants(pid: int) -> list[int]:
    """pid and every process below it (via /proc/PID/task/TID/children, else a /proc scan)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                queue += [int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        except OSError:  # no children files on this kernel: scan /proc once for the whole tree
            return _scan_tree(pid)
    return found


def _scan_tree(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue += parents.get(current, [])
    return found


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# The sandbox, as a separate process


class SandboxProcess:
    def __init__(self, state_dir: Path, python: str):
        self.state_dir = state_dir
        self.python = python
        self.info: dict[str, Any] = {}
        self.pid = 0

    def start(self) -> None:
        subprocess.run([self.python, str(SANDBOX), "start", "--state-dir", str(self.state_dir),
                        "--page-size-cap", str(PAGE_SIZE)], check=True, stdout=subprocess.DEVNULL)
        self.info = json.loads((self.state_dir / "sandbox.json").read_text())
        self.pid = int((self.state_dir / "sandbox.pid").read_text())

    def stop(self) -> None:
        subprocess.run([self.python, str(SANDBOX), "stop", "--state-dir", str(self.state_dir)],
                       check=False, stdout=subprocess.DEVNULL)

    def control(self, what: str, method: str = "GET") -> Any:
        return http_json(f"{self.info['sandbox_control_url']}/{what}", method=method)

    def clear(self) -> None:
        self.control("clear", "POST")

    def reset_stats(self) -> None:
        self.control("reset_stats", "POST")

    def counts(self) -> dict[str, int]:
        stats = self.control("stats")
        counts = {method: int(stats["scim_requests"].get(method, 0)) for method in METHODS}
        counts["token"] = int(stats["token_requests"])
        counts["total"] = sum(counts[method] for method in METHODS) + counts["token"]
        return counts

    def user_total(self) -> int:
        page = http_json(f"{self.info['sandbox_base_url']}/Users?count=0", token=self.info["sandbox_api_key"])
        return int(page["totalResults"])

    def cpu(self) -> float:
        return proc_cpu_seconds(self.pid)


# ---------------------------------------------------------------------------------------------
# Running one measured command


class LatencyProxy:
    """benchmarks/latency_proxy.py in front of the sandbox: every request takes ``delay_ms`` longer."""

    def __init__(self, python: str, target_port: int, delay_ms: float):
        self.process = subprocess.Popen([python, str(BENCH / "latency_proxy.py"), str(target_port), str(delay_ms)],
                                        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            self.stop()
            raise RuntimeError("latency_proxy.py did not start")
        self.port = int(json.loads(line)["port"])

    def route(self, info: dict[str, Any]) -> dict[str, Any]:
        """The connection info with the SCIM and token URLs through the proxy (aud stays the real origin)."""
        origin = info["sandbox_audience"]
        routed = dict(info)
        for key in ("sandbox_base_url", "sandbox_token_url"):
            routed[key] = info[key].replace(origin, f"http://127.0.0.1:{self.port}", 1)
        return routed

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Runner:
    def __init__(self, work: Path, sandbox: SandboxProcess, python: str, client_info: dict[str, Any], *,
                 quiet: bool = False):
        self.quiet = quiet
        self.discarded: list[dict[str, Any]] = []
        self.work = work
        self.sandbox = sandbox
        self.python = python
        self.bin = Path(python).parent
        self.logs = work / "logs"
        self.logs.mkdir()
        # What the clients get: the sandbox's connection info, or the same through the latency proxy.
        self.info_file = work / "sandbox-info.json"
        self.info_file.write_text(json.dumps(client_info))
        self.info_file.chmod(0o600)
        # The collection laid out as Ansible wants it, pointing at this checkout.
        collections = work / "collections"
        (collections / "ansible_collections" / "scimkit").mkdir(parents=True)
        (collections / "ansible_collections" / "scimkit" / "atlassian").symlink_to(ROOT)
        tmp = work / "ansible-tmp"
        tmp.mkdir()
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("ATLASSIAN_", "ANSIBLE_")) and key.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env.update({
            "PATH": f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_COLLECTIONS_PATH": str(collections),
            "ANSIBLE_PYTHON_INTERPRETER": python,
            "ANSIBLE_LOCAL_TEMP": str(tmp),
            "ANSIBLE_REMOTE_TMP": str(tmp),
            "ANSIBLE_HOME": str(work / "ansible-home"),
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_NOCOLOR": "1",
            # Seconds per task (callback_plugins/task_clock.py), to tell Ansible's start-up from the task.
            "ANSIBLE_CALLBACK_PLUGINS": str(BENCH / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "task_clock",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })
        self.env = env
        self.counter = 0

    def people_file(self, count: int, prefix: str) -> Path:
        path = self.work / f"people-{prefix}-{count}.json"
        if not path.exists():
            path.write_text(json.dumps({"people": people(count, prefix)}))
        return path

    def users_file(self, count: int, prefix: str) -> Path:
        """The same people as people_file, as the list a scim_users users_file holds."""
        path = self.work / f"users-{prefix}-{count}.json"
        if not path.exists():
            path.write_text(json.dumps(people(count, prefix)))
        return path

    def file_playbook(self, users_path: Path, **extra: Any) -> list[str]:
        argv = [str(self.bin / "ansible-playbook"), str(PLAYBOOKS / "scim_users_file.yml"), "-e", f"@{self.info_file}",
                "-e", json.dumps({"users_file": str(users_path), **extra})]
        return argv

    def playbook(self, name: str, people_path: Path, **extra: Any) -> list[str]:
        argv = [str(self.bin / "ansible-playbook"), str(PLAYBOOKS / name), "-e", f"@{self.info_file}",
                "-e", f"@{people_path}"]
        if extra:
            argv += ["-e", json.dumps(extra)]
        return argv

    def measure(self, label: str, argv: list[str], *, prepare: Callable[[], None] | None = None,
                sample_memory: bool = False) -> dict[str, Any]:
        """``prepare()`` then run ``argv``; with ``quiet``, on a quiet machine, again if others got in the way."""
        for attempt in range(1, QUIET_TRIES + 1):
            if prepare is not None:
                prepare()
            waited = wait_until_quiet() if self.quiet else 0.0
            result = self._measure_once(label, argv, sample_memory=sample_memory)
            result["waited_for_quiet_s"] = round(waited, 1)
            noisy = result["other_cpu_s"] > NOISY_SHARE * result["wall_s"]
            if not (self.quiet and noisy and attempt < QUIET_TRIES):
                result["noisy"] = noisy
                return result
            self.discarded.append(result)
            print(f"  ({label}: other work used {result['other_cpu_s']:.1f} CPU s in {result['wall_s']:.1f} s; "
                  "measuring again)", file=sys.stderr, flush=True)
        raise AssertionError("unreachable")

    def _measure_once(self, label: str, argv: list[str], *, sample_memory: bool = False) -> dict[str, Any]:
        """Run ``argv`` to completion; its wall time, CPU, memory, and the HTTP requests it caused."""
        self.counter += 1
        log = self.logs / f"{self.counter:02d}-{label}.log"
        self.sandbox.reset_stats()
        sandbox_cpu = self.sandbox.cpu()
        machine_cpu = busy_cpu_seconds()
        load = os.getloadavg()[0]
        tree_peak_kb = tree_pss_peak_kb = 0
        hwm_kb: dict[int, int] = {}
        names: dict[int, str] = {}
        task_times = self.logs / f"{self.counter:02d}-{label}.tasks.json"
        env = {**self.env, "SCIMKIT_BENCH_TASK_TIMES": str(task_times)}
        with open(log, "wb") as output:
            started = time.perf_counter()
            process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=self.work,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                while True:
                    pid, status, usage = os.wait4(process.pid, os.WNOHANG if sample_memory else 0)
                    if pid:
                        break
                    tree_kb = tree_pss_kb = 0
                    for member in descendants(process.pid):
                        memory = memory_kb(member)
                        tree_kb += memory.get("VmRSS", 0)
                        tree_pss_kb += memory.get("Pss", 0)
                        hwm_kb[member] = max(hwm_kb.get(member, 0), memory.get("VmHWM", 0))
                        if member not in names:
                            names[member] = process_name(member)
                    tree_peak_kb = max(tree_peak_kb, tree_kb)
                    tree_pss_peak_kb = max(tree_pss_peak_kb, tree_pss_kb)
                    time.sleep(0.05)
            except BaseException:
                kill_tree(process.pid)
                process.wait()
                raise
            wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        sandbox_cpu = self.sandbox.cpu() - sandbox_cpu
        machine_cpu = busy_cpu_seconds() - machine_cpu
        counts = self.sandbox.counts()
        client_cpu = usage.ru_utime + usage.ru_stime
        result = {
            "label": label,
            "argv": [str(part) for part in argv],
            "wall_s": round(wall, 3),
            "client_cpu_s": round(client_cpu, 3),
            "sandbox_cpu_s": round(sandbox_cpu, 3),
            # CPU that neither the run nor the sandbox used: other work on the machine (noise), plus this
            # script's own sampling.
            "other_cpu_s": round(max(0.0, machine_cpu - client_cpu - sandbox_cpu), 3),
            "largest_process_max_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "requests": counts,
            # Ansible's view: seconds per task (none for the floor script).
            "task_s": json.loads(task_times.read_text()) if task_times.exists() else {},
            "load_avg_1m_before": round(load, 2),
            "log": str(log),
        }
        if sample_memory:
            result["tree_peak_rss_mb"] = round(tree_peak_kb / 1024, 1)
            result["tree_peak_pss_mb"] = round(tree_pss_peak_kb / 1024, 1)
            result["tree_sum_of_process_peaks_mb"] = round(sum(hwm_kb.values()) / 1024, 1)
            result["tree_processes_seen"] = len(hwm_kb)
            result["process_peaks_mb"] = sorted(
                ({"pid": pid, "process": names.get(pid, "?"), "peak_rss_mb": round(kb / 1024, 1)} for pid, kb in hwm_kb.items()),
                key=lambda entry: -entry["peak_rss_mb"])
        if process.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{label} exited {process.returncode}; log {log}:\n{tail}")
        return result

    def expect_users(self, label: str, expected: int) -> None:
        found = self.sandbox.user_total()
        if found != expected:
            raise RuntimeError(f"{label}: the directory holds {found} users, expected {expected}")


# ---------------------------------------------------------------------------------------------
# The benchmark


def log(message: str) -> None:
    """Progress, on stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    python = sys.executable
    n, m = args.users, min(args.loop_users, args.users)
    work = Path(tempfile.mkdtemp(prefix="scimkit-bench-"))
    sandbox = SandboxProcess(work / "sandbox", python)
    proxy: LatencyProxy | None = None
    results: dict[str, Any] = {"runs": {}, "sweep": [], "memory": {}, "memory_baseline": {}}
    try:
        sandbox.start()
        client_info = sandbox.info
        if args.latency_ms:
            proxy = LatencyProxy(python, int(sandbox.info["sandbox_audience"].rsplit(":", 1)[1]), args.latency_ms)
            client_info = proxy.route(sandbox.info)
            log(f"latency proxy on port {proxy.port}: +{args.latency_ms:g} ms per request")
        runner = Runner(work, sandbox, python, client_info, quiet=args.quiet)
        log(f"sandbox pid {sandbox.pid} on {sandbox.info['sandbox_audience']}; work dir {work}")
        big = runner.people_file(n, "bulk")
        big_file = runner.users_file(n, "bulk")
        small = runner.people_file(m, "loop")
        nobody = runner.people_file(0, "none")

        def record(key: str, sample: dict[str, Any], users: int) -> None:
            sample["users"] = users
            results["runs"].setdefault(key, []).append(sample)
            counts = sample["requests"]
            log(f"  {key:<22} {users:>6} users  {sample['wall_s']:8.2f} s  {counts['total']:>6} requests "
                f"(token {counts['token']})  other CPU {sample['other_cpu_s']:.2f} s")

        clear = sandbox.clear
        for attempt in range(args.repeat if "main" in args.only else 0):
            log(f"round {attempt + 1}/{args.repeat}")
            floor_argv = [python, str(BENCH / "floor_requests.py"), str(runner.info_file), str(big)]
            record("a_floor", runner.measure("floor", floor_argv, prepare=clear), n)
            runner.expect_users("floor", n)
            record("d_scim_users", runner.measure(
                f"scim_users-c{args.concurrency}", runner.playbook("scim_users.yml", big, concurrency=args.concurrency),
                prepare=clear), n)
            runner.expect_users("scim_users", n)
            record("d_scim_users_rerun", runner.measure(
                "scim_users-rerun", runner.playbook("scim_users.yml", big, concurrency=args.concurrency)), n)
            runner.expect_users("scim_users rerun", n)
            record("e_scim_users_file", runner.measure(
                f"scim_users_file-c{args.concurrency}", runner.file_playbook(big_file, concurrency=args.concurrency),
                prepare=clear), n)
            runner.expect_users("scim_users users_file", n)
            record("e_scim_users_file_rerun", runner.measure(
                "scim_users_file-rerun", runner.file_playbook(big_file, concurrency=args.concurrency)), n)
            runner.expect_users("scim_users users_file rerun", n)
            # Once more: the sandbox renders each user for a list page the first time only (tests/sandbox
            # README, Performance), so this row is the module's own no-change cost with a cheap server.
            record("e_scim_users_file_rerun_again", runner.measure(
                "scim_users_file-rerun-again", runner.file_playbook(big_file, concurrency=args.concurrency)), n)
            # What any scim_users task costs before its first user: Ansible, module start-up, token, one listing.
            record("d0_scim_users_fixed", runner.measure("scim_users-0-users", runner.playbook("scim_users.yml", nobody),
                                                         prepare=clear), 0)

        if "loops" in args.only:
            log(f"loops on {m} users")
            # The same plays with an empty loop: the fixed part of their cost (start-up, the oauth_token task).
            record("b0_uri_loop_fixed", runner.measure("uri-loop-0-users", runner.playbook("uri_loop.yml", nobody)), 0)
            record("c0_scim_user_loop_fixed", runner.measure("scim_user-loop-0-users",
                                                             runner.playbook("scim_user_loop.yml", nobody)), 0)
            record("b_uri_loop", runner.measure("uri-loop", runner.playbook("uri_loop.yml", small), prepare=clear), m)
            runner.expect_users("uri loop", m)
            record("c_scim_user_loop", runner.measure("scim_user-loop", runner.playbook("scim_user_loop.yml", small),
                                                      prepare=clear), m)
            runner.expect_users("scim_user loop", m)
            record("c_scim_user_loop_rerun", runner.measure("scim_user-loop-rerun",
                                                            runner.playbook("scim_user_loop.yml", small)), m)
            runner.expect_users("scim_user loop rerun", m)

        for concurrency in args.sweep if "sweep" in args.only else []:
            for attempt in range(args.repeat):
                sample = runner.measure(f"sweep-c{concurrency}",
                                        runner.playbook("scim_users.yml", big, concurrency=concurrency), prepare=clear)
                runner.expect_users(f"sweep c={concurrency}", n)
                sample.update(users=n, concurrency=concurrency)
                results["sweep"].append(sample)
                log(f"  sweep concurrency {concurrency:<3} {sample['wall_s']:8.2f} s  other CPU {sample['other_cpu_s']:.2f} s")

        if "memory" in args.only:
            k = args.memory_users
            log(f"memory: scim_users on {k} users")
            many = runner.people_file(k, "mem")
            baseline = runner.measure("memory-baseline", runner.playbook("people_count.yml", many), sample_memory=True)
            many_file = runner.users_file(k, "mem")
            ways = {"create": runner.playbook("scim_users.yml", many, concurrency=args.concurrency),
                    "file create": runner.file_playbook(many_file, concurrency=args.concurrency)}
            for way, argv in ways.items():
                create = runner.measure(f"memory-{way.replace(' ', '-')}", argv, prepare=clear, sample_memory=True)
                runner.expect_users(f"memory {way}", k)
                rerun = runner.measure(f"memory-{way.replace(' ', '-')}-rerun", argv, sample_memory=True)
                runner.expect_users(f"memory {way} rerun", k)
                create["users"] = rerun["users"] = k
                results["memory"][way] = create
                results["memory"][way.replace("create", "rerun")] = rerun
            baseline["users"] = k
            results["memory_baseline"] = baseline
            for name, sample in results["memory"].items():
                log(f"  memory {name:<7} {sample['wall_s']:8.2f} s  tree peak {sample['tree_peak_rss_mb']} MB")
        results["discarded_noisy_runs"] = runner.discarded
    finally:
        if proxy is not None:
            proxy.stop()
        sandbox.stop()
        if args.keep_work:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return results


# ---------------------------------------------------------------------------------------------
# Summaries, targets, output


FIXED = {
    "b_uri_loop": "b0_uri_loop_fixed",
    "c_scim_user_loop": "c0_scim_user_loop_fixed",
    "c_scim_user_loop_rerun": "c0_scim_user_loop_fixed",
    "d_scim_users": "d0_scim_users_fixed",
    "d_scim_users_rerun": "d0_scim_users_fixed",
    "e_scim_users_file": "d0_scim_users_fixed",
    "e_scim_users_file_rerun": "d0_scim_users_fixed",
    "e_scim_users_file_rerun_again": "d0_scim_users_fixed",
}
# The task each play times (callback_plugins/task_clock.py): the one that does the work.
TIMED_TASKS = ("Reconcile everyone at once",)


def summarize(results: dict[str, Any], n: int) -> dict[str, dict[str, Any]]:
    """One row per run kind: medians over the repeats, per-user costs, and N-user extrapolations for loops.

    A loop measured on fewer than N users is extrapolated as fixed + marginal x N, where fixed is
    the wall time of the same play with an empty loop and marginal = (wall - fixed) / users.
    """
    rows: dict[str, dict[str, Any]] = {}
    for key, samples in results["runs"].items():
        users = samples[0]["users"]
        wall = median([s["wall_s"] for s in samples])
        rows[key] = {
            "users_measured": users,
            "samples": len(samples),
            "wall_s": round(wall, 3),
            "wall_s_all": [s["wall_s"] for s in samples],
            "client_cpu_s": round(median([s["client_cpu_s"] for s in samples]), 3),
            "sandbox_cpu_s": round(median([s["sandbox_cpu_s"] for s in samples]), 3),
            "other_cpu_s": round(median([s["other_cpu_s"] for s in samples]), 3),
            "task_s": _task_seconds(samples),
            "requests": samples[-1]["requests"],
            "extrapolated": 0 < users != n,
            "noisy_samples": sum(1 for s in samples if s["other_cpu_s"] > NOISY_SHARE * s["wall_s"]),
        }
    for key, row in rows.items():
        users, wall = row["users_measured"], row["wall_s"]
        if not users:
            continue
        fixed = rows[FIXED[key]]["wall_s"] if key in FIXED and FIXED[key] in rows else 0.0
        row["fixed_s"] = fixed
        row["per_user_ms"] = round(1000 * wall / users, 2)
        row["marginal_per_user_ms"] = round(1000 * (wall - fixed) / users, 2)
        row["wall_s_for_n"] = round(wall if users == n else fixed + (wall - fixed) * n / users, 2)
        row["requests_per_user"] = round(row["requests"]["total"] / users, 3)
    floor = rows.get("a_floor", {}).get("wall_s")
    for row in rows.values():
        if "wall_s_for_n" in row and floor:
            row["vs_floor"] = round(row["wall_s_for_n"] / floor, 2)
    for rerun, create in (("d_scim_users_rerun", "d_scim_users"), ("e_scim_users_file_rerun", "e_scim_users_file"),
                          ("e_scim_users_file_rerun_again", "e_scim_users_file"),
                          ("c_scim_user_loop_rerun", "c_scim_user_loop")):
        if rerun in rows and create in rows:
            rows[rerun]["vs_create"] = round(rows[rerun]["wall_s"] / rows[create]["wall_s"], 3)
            if rows[rerun]["task_s"] and rows[create]["task_s"]:
                rows[rerun]["task_vs_create"] = round(rows[rerun]["task_s"] / rows[create]["task_s"], 3)
    return rows


def _task_seconds(samples: list[dict[str, Any]]) -> float | None:
    """Median seconds of the play's main task, as Ansible timed it; None for the floor and the loops."""
    times = [seconds for sample in samples for name, seconds in sample.get("task_s", {}).items() if name in TIMED_TASKS]
    return round(median(times), 3) if len(times) == len(samples) else None


def targets(rows: dict[str, dict[str, Any]], results: dict[str, Any], n: int) -> list[dict[str, Any]]:
    found = []

    def check(name: str, passed: bool, measured: str) -> None:
        found.append({"target": name, "passed": bool(passed), "measured": measured})

    for way, key, rerun_key in (("users", "d_scim_users", "d_scim_users_rerun"),
                                ("users_file", "e_scim_users_file", "e_scim_users_file_rerun"),
                                ("users_file, rerun again", "e_scim_users_file", "e_scim_users_file_rerun_again")):
        if key not in rows or rerun_key not in rows:
            continue
        create, rerun = rows[key], rows[rerun_key]
        if "again" not in way:
            check(f"scim_users ({way}) create <= {CREATE_VS_FLOOR:g} x floor (N={n})", create["vs_floor"] <= CREATE_VS_FLOOR,
                  f"{create['wall_s']:.2f} s vs floor {rows['a_floor']['wall_s']:.2f} s = {create['vs_floor']:.2f}x")
        check(f"scim_users ({way}) rerun <= {RERUN_VS_CREATE:g} x its create", rerun["vs_create"] <= RERUN_VS_CREATE,
              f"{rerun['wall_s']:.2f} s vs {create['wall_s']:.2f} s = {rerun['vs_create']:.2f}x "
              + (f"(the tasks alone, without Ansible's start-up: {rerun['task_s']:.2f} s vs {create['task_s']:.2f} s "
                 f"= {rerun['task_vs_create']:.2f}x)" if "task_vs_create" in rerun else ""))
        limit = math.ceil(n / PAGE_SIZE) + 2
        worst = max(s["requests"]["total"] for s in results["runs"][rerun_key])
        check(f"scim_users ({way}) rerun <= ceil(N/100)+2 = {limit} HTTP requests", worst <= limit, f"{worst} requests")
    # Every measured run is one task that needs a token (the loop plays: their one oauth_token task).
    tokens = {key: [s["requests"]["token"] for s in samples] for key, samples in results["runs"].items()}
    tokens["sweep"] = [s["requests"]["token"] for s in results["sweep"]]
    tokens["memory"] = [s["requests"]["token"] for s in results["memory"].values()]
    every = [count for counts in tokens.values() for count in counts]
    check("one token request per task (each run: the floor, one scim_users task, or a loop play's oauth_token task)",
          all(count == 1 for count in every), ", ".join(f"{k}: {v}" for k, v in tokens.items() if v))
    memory = results["memory"]
    if memory:
        users = memory["create"]["users"]
        for way, create, rerun in (("users", "create", "rerun"), ("users_file", "file create", "file rerun")):
            peak = max(memory[create]["tree_peak_rss_mb"], memory[rerun]["tree_peak_rss_mb"])
            bound = max(memory[create]["tree_sum_of_process_peaks_mb"], memory[rerun]["tree_sum_of_process_peaks_mb"])
            check(f"scim_users ({way}): peak RSS of the ansible-playbook tree < {MEMORY_LIMIT_MB:g} MB at {users} users",
                  peak < MEMORY_LIMIT_MB, f"{peak:.0f} MB sampled (sum of per-process peaks {bound:.0f} MB)")
            limit = math.ceil(users / PAGE_SIZE) + 2
            sent = memory[rerun]["requests"]["total"]
            check(f"scim_users ({way}) rerun at {users} users <= {limit} HTTP requests", sent <= limit, f"{sent} requests")
    return found


def table(rows: dict[str, dict[str, Any]], results: dict[str, Any], n: int, args: argparse.Namespace) -> str:
    names = {
        "a_floor": "a  floor: requests script",
        "b0_uri_loop_fixed": "b0 uri loop play, 0 users",
        "b_uri_loop": "b  ansible.builtin.uri loop",
        "c0_scim_user_loop_fixed": "c0 scim_user loop play, 0 users",
        "c_scim_user_loop": "c  scim_user loop",
        "c_scim_user_loop_rerun": "c' scim_user loop, rerun",
        "d0_scim_users_fixed": "d0 scim_users, 0 users",
        "d_scim_users": f"d  scim_users (concurrency {args.concurrency})",
        "d_scim_users_rerun": "d' scim_users, rerun",
        "e_scim_users_file": "e  scim_users, users_file",
        "e_scim_users_file_rerun": "e' scim_users, users_file, rerun",
        "e_scim_users_file_rerun_again": "e'' the same rerun again",
    }
    head = (f"{'way':<34}{'users':>6}{'wall s':>9}{'ms/user':>9}{'marg.':>8}{'wall s @N':>11}{'x floor':>9}"
            f"{'x create':>10}{'GET':>7}{'POST':>7}{'PATCH':>7}{'token':>7}{'total':>7}{'cli CPU':>9}{'sbx CPU':>9}"
            f"{'other':>7}{'task s':>8}")
    lines = [head, "-" * len(head)]
    for key in names:
        if key not in rows:
            continue
        row, counts = rows[key], rows[key]["requests"]
        if row["users_measured"]:
            at_n = f"{row['wall_s_for_n']:.1f}" + ("*" if row["extrapolated"] else "")
            vs_floor = f"{row['vs_floor']:.2f}" if "vs_floor" in row else ""
            per_user = f"{row['per_user_ms']:>9.1f}{row['marginal_per_user_ms']:>8.1f}{at_n:>11}{vs_floor:>9}"
        else:
            per_user = f"{'':>9}{'':>8}{'':>11}{'':>9}"
        vs_create = f"{row['vs_create']:.2f}" if "vs_create" in row else ""
        wall = f"{row['wall_s']:.2f}" + ("!" if row["noisy_samples"] else "")
        lines.append(
            f"{names[key]:<34}{row['users_measured']:>6}{wall:>9}{per_user}{vs_create:>10}"
            f"{counts['GET']:>7}{counts['POST']:>7}{counts['PATCH']:>7}{counts['token']:>7}{counts['total']:>7}"
            f"{row['client_cpu_s']:>9.2f}{row['sandbox_cpu_s']:>9.2f}{row['other_cpu_s']:>7.2f}"
            + (f"{row['task_s']:>8.2f}" if row["task_s"] is not None else "")
        )
    lines.append("ms/user: wall / users. marg.: (wall - the same play with 0 users) / users.")
    if any(row["noisy_samples"] for row in rows.values()):
        lines.append(f"! other work used more than {NOISY_SHARE:.0%} of a CPU during a sample of this row: its time is "
                     "inflated (--quiet waits and measures again).")
    if any(row["extrapolated"] for row in rows.values()):
        lines.append(f"* extrapolated to N={n}: wall of the 0-user play + marg. x N. Request counts are as measured.")
    lines.append("cli CPU: user+system CPU s of the measured process tree; sbx CPU: CPU s the sandbox spent meanwhile; "
                 "other: CPU s the rest of the machine used meanwhile (noise). task s: the scim_users task alone, as "
                 "Ansible timed it (without Ansible's start-up). Medians over the repeats.")
    if results["sweep"]:
        lines.append("")
        lines.append(f"scim_users create, N={n}, by concurrency (median wall s; client CPU s; sandbox CPU s):")
        for concurrency in dict.fromkeys(s["concurrency"] for s in results["sweep"]):
            samples = [s for s in results["sweep"] if s["concurrency"] == concurrency]
            wall = median([s["wall_s"] for s in samples])
            vs_floor = f"({wall / rows['a_floor']['wall_s']:.2f}x floor)" if "a_floor" in rows else ""
            lines.append(f"  concurrency {concurrency:>2}: {wall:7.2f} s  {vs_floor}  "
                         f"all {[s['wall_s'] for s in samples]}  cli {median([s['client_cpu_s'] for s in samples]):.2f}  "
                         f"sbx {median([s['sandbox_cpu_s'] for s in samples]):.2f}  "
                         f"other {median([s['other_cpu_s'] for s in samples]):.2f}")
    if results["memory"]:
        lines.append("")
        memory = dict(results["memory"])
        if results["memory_baseline"]:
            memory["baseline (one debug task on the same people list, no module of ours)"] = results["memory_baseline"]
        for name, sample in memory.items():
            lines.append(
                f"memory, {'' if name.startswith('baseline') else 'scim_users '}{name} of {sample['users']} users: "
                f"{sample['wall_s']:.1f} s, "
                f"{sample['requests']['total']} requests (token {sample['requests']['token']}); "
                f"tree peak RSS {sample['tree_peak_rss_mb']} MB (PSS {sample['tree_peak_pss_mb']} MB) sampled "
                f"every 50 ms, sum of per-process peaks "
                f"{sample['tree_sum_of_process_peaks_mb']} MB over {sample['tree_processes_seen']} processes, "
                f"largest single process {sample['largest_process_max_rss_mb']} MB")
            lines.append("    per-process peak RSS: " + ", ".join(
                f"{entry['process']} {entry['peak_rss_mb']:.0f} MB" for entry in sample["process_peaks_mb"] if entry["peak_rss_mb"] >= 5))
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    try:
        ansible = subprocess.run([str(Path(sys.executable).parent / "ansible"), "--version"], capture_output=True,
                                 text=True, check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        ansible = ""
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "ansible": ansible,
        "platform": platform.platform(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "load_avg_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    summary, details = __doc__.split("\n\n", maxsplit=1)
    parser = argparse.ArgumentParser(description=summary, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=details)
    parser.add_argument("--users", type=int, default=1000, help="N, the users of the floor and scim_users runs (1000)")
    parser.add_argument("--concurrency", type=int, default=4, help="scim_users concurrency (4, the module's default)")
    parser.add_argument("--loop-users", type=int, default=50,
                        help="users of the uri and scim_user loops, extrapolated to N (50; about 0.7 s each)")
    parser.add_argument("--memory-users", type=int, default=10000, help="users of the memory run (10000; 0 skips it)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the floor and scim_users (and of each sweep "
                        "point); medians are reported (1)")
    parser.add_argument("--sweep", default="", help="comma-separated scim_users concurrencies to time at N, e.g. 1,2,4,8")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="add this many ms to every SCIM and token request (benchmarks/latency_proxy.py), to "
                        "imitate a distant server (0: talk to the sandbox directly)")
    parser.add_argument("--quiet", action="store_true",
                        help=f"on a shared machine: before each run wait (up to {QUIET_MAX_WAIT:g} s) for an idle second, "
                        f"and measure again (up to {QUIET_TRIES} runs) when other work used more than "
                        f"{NOISY_SHARE * 100:.0f}%% of a CPU meanwhile")
    parser.add_argument("--skip-slow", action="store_true", help="leave out the loops and the memory run")
    parser.add_argument("--only", default="", help="run only these parts (comma-separated: main, loops, sweep, "
                        "memory); main (the floor and scim_users runs) gives the speed targets")
    parser.add_argument("--results-dir", type=Path, default=BENCH / "results", help="where the JSON goes")
    parser.add_argument("--keep-work", action="store_true", help="keep the temporary work dir (logs, layout)")
    args = parser.parse_args(argv)
    args.sweep = [int(value) for value in args.sweep.split(",") if value.strip()]
    args.only = {value.strip() for value in args.only.split(",") if value.strip()} or {"main", "loops", "sweep", "memory"}
    if args.skip_slow:
        args.only -= {"loops", "memory"}
    if not args.memory_users:
        args.only.discard("memory")
    if args.users < 1 or args.loop_users < 1 or args.repeat < 1 or args.memory_users < 0:
        parser.error("--users, --loop-users and --repeat must be positive, --memory-users not negative")
    return args


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (e.g. from a CI timeout) unwinds like Ctrl-C, so the sandbox is always stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    env = environment()
    if env["load_avg_at_start"][0] > 0.5:
        print(f"warning: load average {env['load_avg_at_start'][0]} at start: other work shares the CPUs, "
              "so wall times are noisy", file=sys.stderr)
    started = time.perf_counter()
    try:
        results = run(args)
    except KeyboardInterrupt as exc:
        print(f"interrupted ({exc or 'Ctrl-C'}); the sandbox and the run in progress were stopped", file=sys.stderr)
        return 130
    rows = summarize(results, args.users)
    checks = targets(rows, results, args.users)
    env["load_avg_at_end"] = [round(value, 2) for value in os.getloadavg()]
    env["benchmark_seconds"] = round(time.perf_counter() - started, 1)

    print()
    print(f"scimkit.atlassian bulk provisioning benchmark, {env['date']}, {env['host_cpus']} CPUs, "
          f"Python {env['python']}, {env['ansible']}")
    print(f"N={args.users}, concurrency {args.concurrency}, loops on {min(args.loop_users, args.users)} users, "
          f"added latency {args.latency_ms:g} ms per request, "
          f"repeat {args.repeat}, load average {env['load_avg_at_start'][0]} at start, "
          f"{env['load_avg_at_end'][0]} at end; {env['benchmark_seconds']} s in all")
    print()
    print(table(rows, results, args.users, args))
    print()
    print("targets:")
    for check in checks:
        print(f"  [{'PASS' if check['passed'] else 'FAIL'}] {check['target']}: {check['measured']}")

    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    path = args.results_dir / f"{stamp}.json"
    options = {key: (str(value) if isinstance(value, Path) else sorted(value) if isinstance(value, set) else value)
               for key, value in vars(args).items()}
    path.write_text(json.dumps({"environment": env, "options": options, "summary": rows, "targets": checks,
                                **results}, indent=2) + "\n")
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
