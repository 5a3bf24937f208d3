# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check that meta/runtime.yml's action groups match the modules' docs (style guide section 9).

A module is in the action group NAME exactly when its DOCUMENTATION extends the doc fragment
``scimkit.atlassian.attributes.actiongroup_NAME`` (or ``actiongroup_NAME_and_OTHER``), and each group is listed in alphabetical order
without duplicates. ansible-test does not check this; a module missing from its group silently
ignores ``module_defaults: {group/scimkit.atlassian.NAME: ...}`` (community.hashi_vault issue
#251), which is the bug this prevents.

Run from the collection root with a Python that has PyYAML (the project's .venv):
``python tests/utils/check_action_groups.py``. Exit status 1 and one line per problem when the
two disagree.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import yaml

FRAGMENT_PREFIX = "scimkit.atlassian.attributes.actiongroup_"


def documented_groups(path: Path) -> set[str] | None:
    """Return the action groups a module's DOCUMENTATION declares, or None when it has none to read."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "DOCUMENTATION" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            doc = yaml.safe_load(node.value.value) or {}
            fragments = doc.get("extends_documentation_fragment") or []
            if isinstance(fragments, str):
                fragments = [fragments]
            # actiongroup_scim_and_org: a module in both groups.
            return {group for f in fragments if f.startswith(FRAGMENT_PREFIX)
                    for group in f[len(FRAGMENT_PREFIX):].split("_and_")}
    return None


def main() -> int:
    root = Path.cwd()
    runtime = yaml.safe_load((root / "meta" / "runtime.yml").read_text(encoding="utf-8")) or {}
    groups: dict[str, list[str]] = {
        name: [m for m in members if isinstance(m, str)]
        for name, members in (runtime.get("action_groups") or {}).items()
        if isinstance(members, list)
    }
    problems: list[str] = []

    for name, members in sorted(groups.items()):
        if members != sorted(set(members)):
            problems.append(f"meta/runtime.yml: action group {name!r} is not sorted or has duplicates: {members}")

    declared: dict[str, set[str]] = {}
    for path in sorted((root / "plugins" / "modules").glob("*.py")):
        if path.name == "__init__.py":
            continue
        try:
            found = documented_groups(path)
        except (SyntaxError, yaml.YAMLError) as exc:
            problems.append(f"{path.relative_to(root)}: cannot read DOCUMENTATION ({type(exc).__name__}); validate-modules tells more")
            continue
        for group in found or ():
            declared.setdefault(group, set()).add(path.stem)

    for group in sorted(set(groups) | set(declared)):
        listed = set(groups.get(group, []))
        documented = declared.get(group, set())
        for module in sorted(documented - listed):
            problems.append(
                f"meta/runtime.yml: module {module!r} extends {FRAGMENT_PREFIX}{group} but is not in action group {group!r}"
            )
        for module in sorted(listed - documented):
            problems.append(
                f"plugins/modules/{module}.py: listed in action group {group!r} of meta/runtime.yml "
                f"but does not extend {FRAGMENT_PREFIX}{group} (or does not exist)"
            )

    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"action groups match the module docs: {', '.join(f'{g} ({len(m)})' for g, m in sorted(groups.items())) or 'none'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
