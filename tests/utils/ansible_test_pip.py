# Copyright (c) 2026, scimkit.atlassian contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Let ``ansible-test sanity --venv`` bootstrap pip with no network but a package index.

Every virtual environment ansible-test creates (``--venv`` delegation, one per sanity test) starts
without pip and gets it from a ``get-pip.py`` bootstrap script that ansible-test downloads from
ci-files.testing.ansible.com and caches as ``~/.ansible/test/cache/get_pip_<version>.py``. That
host is not reachable here (only package registries are), so the download fails with
"Download failed ... The bootstrap script can be manually downloaded and saved to ...".

This script saves, under that cache name, a small stand-in that does what get-pip.py does with
the arguments ansible-test passes (``pip==<version> --no-setuptools --no-wheel``): it bootstraps
the pip bundled with the interpreter (``ensurepip``, no network), then installs the exact pip
version ansible-test pins from the package index, as any later ``pip install`` does.

It never replaces a bootstrap script that is already cached (a real get-pip.py downloaded on a
machine with wider access keeps being used); it only rewrites an older copy of its own stand-in.
Run it with the Python that has ansible-test installed (the project's .venv).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

MARKER = "# stand-in for get-pip.py written by scimkit.atlassian tests/utils/ansible_test_pip.py"

STAND_IN = MARKER + '''
"""Bootstrap pip into a fresh virtual environment without downloading get-pip.py.

Called by ansible-test as ``python quiet_pip.py <pip install arguments>`` with GET_PIP pointing
here: like get-pip.py, it installs pip (and setuptools and wheel unless ``--no-setuptools`` or
``--no-wheel`` is given) with the remaining arguments as ``pip install`` arguments.
"""
import subprocess
import sys

args = sys.argv[1:]
flags = {"--no-setuptools", "--no-wheel", "--no-pip"}
no_setuptools = "--no-setuptools" in args
no_wheel = "--no-wheel" in args
args = [a for a in args if a not in flags]

subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
extra = [] if no_setuptools else ["setuptools"]
extra += [] if no_wheel else ["wheel"]
subprocess.run([sys.executable, "-m", "pip", "install", "--upgrade", *args, *extra], check=True)
if no_setuptools:
    # ensurepip of Python <= 3.11 also installs setuptools; get-pip.py --no-setuptools would not.
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
'''


def pinned_pip_version() -> str:
    """Return the pip version ansible-test bootstraps into its virtual environments."""
    try:
        from ansible_test._internal.host_configs import NativePythonConfig
        from ansible_test._internal.python_requirements import get_venv_packages

        version = "%d.%d" % sys.version_info[:2]
        return get_venv_packages(NativePythonConfig(version=version, path=sys.executable))["pip"]
    except Exception:  # pylint: disable=broad-exception-caught  # internal API: fall back to reading it
        import ansible_test

        source = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
        found = re.search(r"pip='([0-9.]+)'", source.read_text(encoding="utf-8"))
        if not found:
            raise SystemExit(f"cannot tell which pip version ansible-test pins (looked in {source})") from None
        return found.group(1)


def main() -> int:
    version = pinned_pip_version()
    cache = Path(os.path.expanduser("~/.ansible/test/cache"))
    path = cache / f"get_pip_{version.replace('.', '_')}.py"
    if path.exists():
        current = path.read_text(encoding="utf-8", errors="replace")
        if not current.startswith(MARKER) or current == STAND_IN:
            return 0
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(STAND_IN, encoding="utf-8")
    tmp.replace(path)
    print(f"saved a pip {version} bootstrap stand-in for ansible-test at {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
