"""Headless Chromium from Debian's packages, driven by Playwright, for the report tests
and benchmark. Playwright's own browser downloads are never used: it launches
``/usr/bin/chromium`` (or ``$GRA_CHROMIUM``) with a fresh profile and no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = os.environ.get("GRA_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL = "apt-get install -y --no-install-recommends chromium fonts-dejavu-core"


def _try_install() -> str:
    """Install Debian's chromium when we may (root, apt-get); '' on success, else why not."""
    if not shutil.which("apt-get"):
        return "no apt-get here (not Debian): install Chromium and set GRA_CHROMIUM=PATH"
    if os.geteuid() != 0:
        return f"not root: run `sudo apt-get update && sudo {INSTALL}` (or make dev as root)"
    log = []
    for cmd in ("apt-get update -q", INSTALL):
        p = subprocess.run(cmd.split(), capture_output=True, text=True, timeout=900)
        log.append(p.stdout[-400:] + p.stderr[-400:])
        if p.returncode != 0:
            return f"`{cmd}` failed: {' '.join(log).strip()[-600:]}"
    return ""


def unavailable() -> str:
    """'' when Chromium and Playwright are usable, else the reason the browser tests skip."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed: pip install -e '.[dev]'"
    if Path(CHROMIUM).is_file():
        return ""
    if CHROMIUM != "/usr/bin/chromium":
        return f"GRA_CHROMIUM={CHROMIUM} does not exist"
    why = _try_install()
    if why:
        return f"Chromium is missing at {CHROMIUM} and could not be installed: {why}"
    return "" if Path(CHROMIUM).is_file() else f"installed chromium but {CHROMIUM} is missing"


def launch(playwright, user_data_dir: Path, **context):
    """A persistent context (a fresh profile in ``user_data_dir``) of headless Chromium."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=CHROMIUM,
        headless=True,
        args=ARGS,
        **{"viewport": {"width": 1400, "height": 1000}, **context},
    )
