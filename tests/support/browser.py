"""Headless Chromium (Debian's ``chromium`` package, installed by tests/setup-system.sh) opening generated pages:
the DOM after scripts ran, and screenshots. No browser download, no driver: the command line does both."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (tests/setup-system.sh)")


def _run(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile: nothing from an earlier run
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               f"--user-data-dir={profile}", "--lang=nl-NL", *args],
                              capture_output=True, text=True, timeout=90)


def dump_dom(url: str) -> str:
    result = _run("--virtual-time-budget=2000", "--dump-dom", url)
    assert result.returncode == 0 and "<html" in result.stdout, result.stderr[-2000:]
    return result.stdout


def screenshot(url: str, png: Path, width: int = 1200, height: int = 1600) -> Path:
    result = _run(f"--window-size={width},{height}", "--hide-scrollbars", f"--screenshot={png}", url)
    assert result.returncode == 0 and png.exists(), result.stderr[-2000:]
    return png
