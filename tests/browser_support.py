"""Run the real console (``kaiten console``) on a demo database and drive it with Chromium.

Playwright cannot download browsers here, so the tests use Debian's ``/usr/bin/chromium``
(``scripts/ensure-chromium.sh`` installs it). Without it they skip — except under ``CI=true``,
where they fail: CI must run them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
KAITEN = str(Path(sys.executable).parent / "kaiten")
SERVER_START_SECONDS = 90
PAGE_TIMEOUT_MS = 60_000


def chromium_or_skip() -> str:
    """Return Chromium's path, or skip (fail under CI=true) saying why."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    reason = (f"{CHROMIUM} is missing (Playwright cannot download browsers here); "
              "run scripts/ensure-chromium.sh as root to install Debian's chromium")
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests must run under CI=true: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_demo(url: str) -> None:
    """Fill the database at ``url`` with a small demo (``kaiten demo``)."""
    subprocess.run(
        [KAITEN, "--url", url, "demo", "--quiet", "--customers", "3", "--instances", "9",
         "--events", "500", "--days", "14"],
        check=True, capture_output=True, text=True, timeout=300,
    )


@contextmanager
def console_server(url: str, log_path: Path, *, cwd: Path = ROOT, port: int | None = None,
                   kaiten: str = KAITEN, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``kaiten console`` on ``url``; yield its base URL; stop it (and Streamlit) after.

    It starts in ``cwd`` (where Streamlit reads ``.streamlit/secrets.toml``), on ``port`` (a
    free one by default), with the ``kaiten`` command given (another environment's, say) and
    ``env`` added to this process's environment. ``kaiten console`` runs Streamlit as a child
    process, so the server gets its own process group and the whole group is stopped.
    """
    port = port or free_port()
    env = {**os.environ, "KAITEN_DATABASE_URL": url, **(env or {})}
    env.pop("KAITEN_TIMEZONE", None)  # the browser's zone is the default under test
    # `kaiten console` passes --server.port and --browser.gatherUsageStats false itself
    command = [
        kaiten, "--url", url, "console", "--port", str(port), "--",
        "--server.headless", "true", "--server.fileWatcherType", "none",
    ]
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_healthy(base, server, log_path)
        yield base
    finally:
        stop(server)


def _wait_until_healthy(base: str, server: subprocess.Popen, log_path: Path) -> None:
    wait_until_answers(f"{base}/_stcore/health", server, log_path, expect="ok")


def wait_until_answers(url: str, server: subprocess.Popen, log_path: Path,
                       expect: str | None = None) -> str:
    """Poll ``url`` until it answers 200 (with the body ``expect``, if given); return the body.

    Raise ``RuntimeError`` with the server's log when it exits or does not answer in time.
    """
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"{server.args[0]} exited with {server.returncode}:\n"
                               f"{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = response.read().decode()
                if expect is None or body.strip() == expect:
                    return body
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {SERVER_START_SECONDS}s:\n"
                       f"{log_path.read_text()}")


def stop(server: subprocess.Popen) -> None:
    """Stop ``server`` (started with ``start_new_session=True``) and its whole process group."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=15)


def wait_for_app(page) -> None:
    """Wait until Streamlit is connected, has finished its run and shows no skeleton."""
    from playwright.sync_api import expect

    page.wait_for_timeout(250)  # let a rerun start before looking for "notRunning"
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=PAGE_TIMEOUT_MS)
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=PAGE_TIMEOUT_MS)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=PAGE_TIMEOUT_MS)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as ``artifacts/<name>.png`` and return its path.

    ``name`` may hold a folder, e.g. ``screenshots/sign-in``.
    """
    path = ARTIFACTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path
