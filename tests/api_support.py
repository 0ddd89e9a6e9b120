"""The REST API as a real server: ``kaiten api`` in a subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

import kaiten_analytics as ka

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


def seed(kaiten: ka.Kaiten) -> None:
    """Customers acme and globex; instances acme-prod (pro), acme-dev and globex-dev
    (starter); a flag."""
    kaiten.customers.create("acme", "Acme Corp")
    kaiten.customers.create("globex", "Globex")
    kaiten.entitlements.create("api-calls", "API calls", aggregation_method="SUM")
    kaiten.entitlements.create("seats", "Seats", aggregation_method="MAX")
    kaiten.entitlements.create("sso", "Single sign-on", type="BOOLEAN")
    kaiten.licenses.create("starter", "Starter", {"api-calls": 1000, "seats": 5, "sso": False})
    kaiten.licenses.create("pro", "Pro", {"api-calls": None, "seats": 50, "sso": True})
    kaiten.instances.create("acme", "Production", "acme-prod", "pro")
    kaiten.instances.create("acme", "Development", "acme-dev", "starter")
    kaiten.instances.create("globex", "Development", "globex-dev", "starter")
    kaiten.flags.create("new-ui", "New UI", "boolean", False,
                        rules=[{"conditions": [{"attribute": "license.slug", "operator": "equals",
                                                "value": "pro"}], "value": True}])


def make_keys(kaiten, customer: str = "acme") -> dict[str, str]:
    """Secrets of one key per role, unbound (``admin``…) and bound to ``customer``
    (``acme-admin``…)."""
    secrets = {}
    for role in ROLES:
        secrets[role] = kaiten.keys.create(f"k-{role}", role).secret
        secrets[f"{customer}-{role}"] = kaiten.keys.create(f"k-{customer}-{role}", role,
                                                           customer=customer).secret
    return secrets


def report_over_http(base_url: str, secret: str, instance: str, entitlement: str, count: int,
                     key_entitlement: str, barrier, results) -> None:
    """A client process: wait for the others, send ``count`` reports of 1, then one report
    under the shared idempotency key; put (statuses, shared answer) on ``results``."""
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60.0) as client:
        barrier.wait()
        statuses = [client.post(f"/api/instances/{instance}/entitlements/{entitlement}/usage",
                                json={"value": 1}).status_code for _ in range(count)]
        shared = client.post(f"/api/instances/{instance}/entitlements/{key_entitlement}/usage",
                             json={"value": 1}, headers={"Idempotency-Key": "one-key-8-ways"})
        results.put((statuses, shared.status_code, shared.json()["event_id"],
                     shared.headers.get("idempotent-replayed")))


class TcpProxy:
    """A loopback TCP forwarder to ``target`` that a test can stop and start again: the
    database "goes away" for the server behind it while the real server stays up."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Refuse new connections and cut every open one (as a stopped server would)."""
        if self._listener is not None:
            # shutdown first: a close alone leaves the socket listening while the accepting
            # thread still holds it
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
