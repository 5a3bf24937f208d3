# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Mirror the working tree into ``<dest>`` (``.../ansible_collections/<namespace>/<name>``).

ansible-test, ansible-playbook and the ``ansible_collections.scimkit.atlassian`` Python imports
need the collection to live at ``ansible_collections/<namespace>/<name>``; a git checkout is
usually not laid out that way, so ``make collection`` builds that tree with this script.

The file list is ``git ls-files --cached --others --exclude-standard``: every tracked file plus
every untracked file that ``.gitignore`` does not ignore, as it is in the working tree now
(uncommitted edits included, deleted files left out). Only files whose size or mtime differ are
copied, and files that are no longer in the list are removed, so a re-run is cheap and the copy
never holds stale plugins. Outputs that tools write inside the copy (``tests/output`` of
ansible-test, ``__pycache__``) are kept.

The copy gets an empty git repository of its own (``git init``, nothing committed): ansible-test
and ansible-lint find their files with ``git ls-files --cached --others --exclude-standard`` from
the nearest ``.git`` upwards. Without one they would find the source repository, where ``build/``
is ignored, and see no files at all ("WARNING: All targets skipped"). In the copy's own repository
every file is an untracked, not-ignored file, so they see exactly the copied files, with the
copied ``.gitignore`` hiding their own outputs.

Standard library only: it runs before the virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

# Paths (relative to the copy) that tools create there and that must survive a re-sync.
KEEP_DIRS = ("tests/output",)
KEEP_NAMES = ("__pycache__", ".pytest_cache")
KEEP_TOP = (".git",)


def tracked_files(src: Path) -> list[str]:
    """Return the working-tree files git knows about or would add, relative to ``src``."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=src,
        check=True,
        stdout=subprocess.PIPE,
    ).stdout
    names = sorted({n for n in out.decode("utf-8", "surrogateescape").split("\0") if n})
    # --cached still lists tracked files deleted from the working tree; submodules show up as
    # directories. Neither belongs in the copy.
    return [n for n in names if os.path.islink(src / n) or os.path.isfile(src / n)]


def same(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime) and stat.S_IMODE(a.st_mode) == stat.S_IMODE(b.st_mode)


def sync(src: Path, dest: Path) -> tuple[int, int]:
    files = tracked_files(src)
    wanted = set(files)
    copied = 0
    dest.mkdir(parents=True, exist_ok=True)
    for name in files:
        s, d = src / name, dest / name
        s_stat = os.lstat(s)
        if stat.S_ISLNK(s_stat.st_mode):
            target = os.readlink(s)
            if d.is_symlink() and os.readlink(d) == target:
                continue
            if os.path.lexists(d):
                _remove(d)
            d.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, d)
            copied += 1
            continue
        try:
            d_stat = os.lstat(d)
        except FileNotFoundError:
            d_stat = None
        if d_stat is not None and stat.S_ISREG(d_stat.st_mode) and same(s_stat, d_stat):
            continue
        if d_stat is not None:
            _remove(d)
        d.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(s, d)
        copied += 1

    removed = 0
    for root, dirs, names in os.walk(dest, topdown=True):
        rel_root = os.path.relpath(root, dest)
        rel_root = "" if rel_root == "." else rel_root
        dirs[:] = [
            d for d in dirs
            if d not in KEEP_NAMES and _join(rel_root, d) not in KEEP_DIRS + KEEP_TOP
        ]
        for n in names:
            rel = _join(rel_root, n)
            if rel not in wanted:
                os.unlink(os.path.join(root, n))
                removed += 1
        for d in list(dirs):
            p = os.path.join(root, d)
            if os.path.islink(p) and _join(rel_root, d) not in wanted:
                os.unlink(p)
                removed += 1
    # Drop directories left empty (bottom-up), but never the kept ones.
    for root, dirs, names in os.walk(dest, topdown=False):
        rel_root = os.path.relpath(root, dest)
        if rel_root == "." or any(rel_root == k or rel_root.startswith(k + "/") for k in KEEP_DIRS + KEEP_TOP):
            continue
        if any(part in KEEP_NAMES for part in Path(rel_root).parts):
            continue
        if not os.listdir(root):
            os.rmdir(root)
    return copied, removed


def _join(a: str, b: str) -> str:
    return f"{a}/{b}" if a else b


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="the collection directory to create, ending in ansible_collections/NS/NAME")
    parser.add_argument("--src", type=Path, default=Path.cwd(), help="the git working tree (default: the current directory)")
    args = parser.parse_args()
    dest = args.dest.resolve()
    if dest.parent.parent.name != "ansible_collections":
        parser.error(f"{dest} is not of the form .../ansible_collections/<namespace>/<name>")
    src = args.src.resolve()
    if dest == src or dest in src.parents:
        parser.error("the destination must not contain the source tree")
    if src in dest.parents:
        ignored = subprocess.run(["git", "check-ignore", "-q", str(dest)], cwd=src, check=False).returncode == 0
        if not ignored:
            parser.error(f"{dest} is inside the source tree but not ignored by git; it would copy itself")
    if src / ".git" in dest.parents or dest.name == ".git":
        parser.error("refusing to write inside a .git directory")
    copied, removed = sync(src, dest)
    if not (dest / ".git").exists():
        subprocess.run(["git", "init", "--quiet", str(dest)], check=True)
    print(f"collection laid out at {os.path.relpath(dest)} ({copied} copied, {removed} removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
