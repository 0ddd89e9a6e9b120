"""The REST API as a real server: ``kaiten api`` in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ApiServer:
    """``kaiten api --url URL --port P`` started and stopped by the test (a real process)."""

    def __init__(self, url: str, *, threads: int | None = None, workers: int = 1,
                 env: dict[str, str] | None = None) -> None:
        self.url, self.port = url, free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "kaiten_analytics.cli", "api", "--url", url,
                   "--port", str(self.port), "--workers", str(workers)]
        if threads:
            command += ["--threads", str(threads)]
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})},
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)

    def wait(self, timeout: float = 60.0) -> ApiServer:
        """Return once the server answers (any status), or fail with its output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kaiten api exited: {self.process.stdout.read()}")
            try:
                httpx.get(self.base_url + "/api/health", timeout=2.0)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"kaiten api did not answer in {timeout} s: "
                           f"{self.process.stdout.read()}")

    def client(self, key: str | None = None) -> httpx.Client:
        """An httpx client on the server, with ``key`` as the bearer token."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30.0)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> ApiServer:
        return self.wait()

    def __exit__(self, *_exc) -> None:
        self.stop()


ROLES = ("admin", "viewer", "reporter")


def make_keys(kaiten, customer: str = "acme") -> dict[str, str]:
    """Secrets of one key per role, unbound (``admin``…) and bound to ``customer``
    (``acme-admin``…)."""
    secrets = {}
    for role in ROLES:
        secrets[role] = kaiten.keys.create(f"k-{role}", role).secret
        secrets[f"{customer}-{role}"] = kaiten.keys.create(f"k-{customer}-{role}", role,
                                                           customer=customer).secret
    return secrets
