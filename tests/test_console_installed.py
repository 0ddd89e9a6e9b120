"""The console as a user installs it: ``pip install ".[console]"`` into a fresh virtual
environment (not editable, no system site-packages), then ``kaiten console`` from a directory
that is not a checkout.

Both the install and the wheel whose contents are checked are built from a copy of the
source tree without build leftovers (a stale ``build/`` would put files into the wheel that
the tree no longer has). pip's own cache makes the install fast when it ran before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from browser_support import (
    CHROMIUM_ARGS,
    PAGE_TIMEOUT_MS,
    ROOT,
    chromium_or_skip,
    console_server,
    screenshot,
    wait_for_app,
)

pytestmark = pytest.mark.slow
PIP_SECONDS = 600
LEFTOVERS = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "artifacts",
                                   "__pycache__", ".pytest_cache", ".ruff_cache", "*.db",
                                   "*.db-wal", "*.db-shm", ".ipynb_checkpoints", "benchmarks")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that would let the checkout's code be imported."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of the source tree, as a fresh clone has it (no build leftovers)."""
    copy = tmp_path_factory.mktemp("source") / "kaiten-analytics"
    shutil.copytree(ROOT, copy, ignore=LEFTOVERS)
    return copy


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    """The wheel ``pip`` builds from the source tree."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(dist), str(source)],
                   check=True, capture_output=True, text=True, timeout=PIP_SECONDS,
                   env=clean_env())
    (built,) = dist.glob("kaiten_analytics-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(source, tmp_path_factory) -> Path:
    """The ``bin`` directory of a fresh virtual environment after ``pip install
    ".[console]"`` in the source tree (not editable)."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    result = subprocess.run(  # --no-compile: the .pyc files of every dependency cost CPU
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile",
         ".[console]"], capture_output=True, text=True, timeout=PIP_SECONDS,
        env=clean_env(), cwd=source)
    assert result.returncode == 0, result.stdout + result.stderr
    return venv / "bin"


@pytest.fixture(scope="module")
def served(installed, tmp_path_factory):
    """(base URL, start directory) of the installed ``kaiten console``, on a demo database
    in a directory that is not a checkout."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    home = elsewhere / "home"
    home.mkdir()
    url = f"sqlite:///{elsewhere / 'kaiten.db'}"
    subprocess.run(  # the migrations come from the wheel too
        [str(installed / "kaiten"), "--url", url, "demo", "--quiet", "--customers", "2",
         "--instances", "4", "--events", "100", "--days", "7"],
        check=True, capture_output=True, text=True, timeout=300, cwd=elsewhere,
        env=clean_env(HOME=str(home)))
    with console_server(url, elsewhere / "console.log", cwd=elsewhere,
                        kaiten=str(installed / "kaiten"),
                        env={"HOME": str(home)}) as base:
        yield base, elsewhere


def test_the_wheel_ships_the_console_pages_and_the_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "kaiten_console/app.py" in names

    def shipped(folder: str, pattern: str = "*.py") -> tuple[set[str], set[str]]:
        in_tree = {path.relative_to(ROOT).as_posix() for path in (ROOT / folder).glob(pattern)}
        return in_tree, {name for name in names if name in in_tree}

    for folder in ["kaiten_console", "kaiten_console/app_pages",
                   "kaiten_analytics/migrations/versions"]:
        in_tree, in_wheel = shipped(folder)
        assert in_tree and in_wheel == in_tree, folder
    assert "kaiten_analytics/migrations/script.py.mako" in names
    assert "kaiten_analytics/migrations/env.py" in names
    assert not any(name.startswith(("tests/", "benchmarks/", "streamlit_app")) for name in names)
    metadata = zipfile.ZipFile(wheel).read(
        next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
    assert "Requires-Dist: streamlit[auth]" in metadata  # st.login needs Authlib


def test_the_installed_console_serves_from_another_directory(installed, served):
    base, elsewhere = served
    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=10) as response:
        assert response.read().decode().strip() == "ok"
    with urllib.request.urlopen(f"{base}/", timeout=10) as response:
        assert response.status == 200 and "<title>Streamlit</title>" in response.read().decode()

    # what runs is the installed copy, with what st.login needs
    where = subprocess.run(
        [str(installed / "python"), "-c",
         "import authlib, kaiten_console, kaiten_analytics.cli_console as c; "
         "print(kaiten_console.__file__); print(c.entry_script())"],
        check=True, capture_output=True, text=True, timeout=60, cwd=elsewhere,
        env=clean_env()).stdout.split()
    site = installed.parent / "lib"
    assert all(Path(path).is_relative_to(site) for path in where), where
    assert not any(Path(path).is_relative_to(ROOT) for path in where)


@pytest.mark.browser
def test_the_installed_console_renders_the_instances_page(served):
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_or_skip()
    base, _ = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(base)
            wait_for_app(page)
            expect(page.get_by_role("heading", name="Instances")).to_be_visible(
                timeout=PAGE_TIMEOUT_MS)
            expect(page.get_by_text("4 of 4 instances")).to_be_visible()
            expect(page.get_by_text("Open console: no sign-in is configured")).to_be_visible()
            expect(page.get_by_test_id("stException")).to_have_count(0)
            screenshot(page, "screenshots/installed-console-instances")
        finally:
            browser.close()
