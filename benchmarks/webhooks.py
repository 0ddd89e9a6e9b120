"""Webhook relay benchmark: deliveries per second and commit-to-receiver latency.

Run it from the repository root::

    .venv/bin/python benchmarks/webhooks.py                    # SQLite and PostgreSQL
    .venv/bin/python benchmarks/webhooks.py --sqlite-only --events 300 --seconds 3 --rounds 1

PostgreSQL comes from ``--postgres-url`` (default ``$KAITEN_BENCH_POSTGRES_URL``, else
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); the run creates a schema
``bench_<random>`` there and drops it at the end. SQLite is a fresh file in a temporary
directory.

The relay is a real ``kaiten webhooks run`` process (``--timeout 2``); the receiver is a
bare ASGI app under uvicorn on 127.0.0.1 in its own process, answering 200 at once on ``/ok``;
events are ``INSTANCE_UPDATED`` outbox events written by ``kaiten.instances.update`` in this
process. Per engine and round:

* **throughput**: ``--events`` events written while no relay runs, then a relay started;
  deliveries per second = arrivals at ``/ok`` / the time from the first to the last one;
* **latency**: a relay running while events are written at ``--rate`` per second for
  ``--seconds``; latency = the receiver's arrival time − the time the writing transaction
  committed (p50, p99, max);
* both again **with a dead endpoint**: a second endpoint (``/dead``) subscribed to every event
  that never answers in time (the receiver sleeps 3 s; every attempt times out after 2 s).
  The healthy endpoint's figures must not move by more than 20 %.

Baseline measured in the same run: **bare POST**, the same number of unsigned POSTs of the same
size to the same receiver from 8 threads with keep-alive httpx clients (the relay's default
``--max-in-flight``): what the receiver and loopback HTTP allow, with no database at all.
Rounds alternate (healthy, with the dead endpoint, healthy, …; the dead endpoint is disabled
during healthy rounds) and the table shows medians. Targets: ≥ 300 deliveries/s, p50 ≤ 1 s,
p99 ≤ 3 s; with the dead endpoint, within 20 % of the healthy figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa
import uvicorn
from bench_engines import add_engine_options, schema_url
from cryptography.fernet import Fernet

import kaiten_analytics as ka

ROOT = Path(__file__).resolve().parents[1]
RELAY_TIMEOUT = 2.0
DEAD_SLEEP = 3.0
THREADS = 8


# --- the receiver (its own process: uvicorn and a bare ASGI app) ----------------------------
def _receiver_app():
    arrivals: list[tuple[str, int, float]] = []

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path, body, more = scope["path"], b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        at = time.time()
        answer = b"ok"
        if path == "/arrivals":  # the benchmark reads what arrived since an index
            since = int(scope["query_string"].decode().removeprefix("since=") or 0)
            answer = json.dumps(arrivals[since:]).encode()
        elif path == "/dead":
            await asyncio.sleep(DEAD_SLEEP)
        else:
            seq = json.loads(body)["data"]["changes"]["description"]["to"]
            arrivals.append((path, int(seq), at))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})

    return app


def _serve(port: int) -> None:
    uvicorn.run(_receiver_app(), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, lifespan="on", backlog=256)


class Receiver:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = mp.get_context("spawn").Process(target=_serve, args=(self.port,),
                                                       daemon=True)
        self.process.start()
        self.client = httpx.Client(base_url=self.url(""), timeout=30)
        self.seen = 0
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client.get("/arrivals")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def collect(self, seqs: set[int], path: str, timeout: float) -> dict[int, float]:
        """Wait for every ``seq`` at ``path``; return seq → first arrival time."""
        got: dict[int, float] = {}
        deadline = time.monotonic() + timeout
        while True:
            new = self.client.get("/arrivals", params={"since": self.seen}).json()
            self.seen += len(new)
            for where, seq, at in new:
                if where == path and seq in seqs:
                    got.setdefault(seq, at)
            if seqs <= got.keys():
                return got
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(seqs - got.keys())} of {len(seqs)} never arrived")
            time.sleep(0.05)

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.join(10)


# --- the relay (a real `kaiten webhooks run`) -------------------------------------------------
class Relay:
    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kaiten_analytics.cli", "webhooks", "run", "--url", url,
             "--timeout", str(RELAY_TIMEOUT), "--lease", "5"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        if self.process.returncode not in (0, -signal.SIGTERM):
            raise RuntimeError(f"the relay failed: {err}")


# --- one engine ------------------------------------------------------------------------------
class Bench:
    def __init__(self, url: str, receiver: Receiver, env: dict[str, str]) -> None:
        self.url, self.receiver, self.env = url, receiver, env
        self.kaiten = ka.connect(url)
        self.kaiten.customers.create("acme", "Acme")
        self.kaiten.entitlements.create("seats", "Seats", aggregation_method="MAX")
        self.kaiten.licenses.create("pro", "Pro", {"seats": 10})
        self.kaiten.instances.create("acme", "Bench", "bench", "pro")
        self.healthy = self.kaiten.webhooks.add(receiver.url("/ok")).id
        self.dead = self.kaiten.webhooks.add(receiver.url("/dead")).id
        self.kaiten.webhooks.disable(self.dead, reason="benchmark: healthy rounds")
        self.seq = 0

    def _write(self) -> tuple[int, float]:
        self.seq += 1
        self.kaiten.instances.update("bench", description=str(self.seq))
        return self.seq, time.time()

    def throughput(self, events: int) -> float:
        seqs = {self._write()[0] for _ in range(events)}
        relay = Relay(self.url, self.env)
        try:
            got = self.receiver.collect(seqs, "/ok", timeout=120)
        finally:
            relay.stop()
        times = sorted(got.values())
        return (len(times) - 1) / (times[-1] - times[0])

    def latency(self, rate: float, seconds: float) -> list[float]:
        relay = Relay(self.url, self.env)
        try:
            # once a probe event has arrived the relay is up (and has drained what was due)
            self.receiver.collect({self._write()[0]}, "/ok", timeout=60)
            committed: dict[int, float] = {}
            start, count = time.monotonic(), int(rate * seconds)
            for n in range(count):
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                seq, at = self._write()
                committed[seq] = at
            got = self.receiver.collect(set(committed), "/ok", timeout=60)
        finally:
            relay.stop()
        return sorted(got[s] - committed[s] for s in committed)

    def dead_endpoint(self, on: bool) -> None:
        if on:
            self.kaiten.webhooks.enable(self.dead)
        else:
            self.kaiten.webhooks.disable(self.dead, reason="benchmark: healthy rounds")

    def close(self) -> None:
        self.kaiten.close()


def bare_posts(receiver: Receiver, events: int, seq0: int) -> float:
    """The baseline: ``events`` unsigned POSTs of a message's size from 8 keep-alive clients."""
    body = json.dumps({"type": "INSTANCE_UPDATED", "timestamp": "2026-03-20T12:00:00.000000Z",
                       "data": {"changes": {"description": {"to": "0"}}, "pad": "x" * 600}})
    clients = [httpx.Client(timeout=10) for _ in range(THREADS)]
    seqs = set(range(seq0, seq0 + events))

    def post(seq: int) -> None:
        client = clients[seq % THREADS]
        client.post(receiver.url("/bare"), content=body.replace('"to": "0"', f'"to": "{seq}"'),
                    headers={"content-type": "application/json"})

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(post, sorted(seqs)))
    elapsed = time.perf_counter() - started
    receiver.collect(seqs, "/bare", timeout=30)  # (and skip past them)
    for client in clients:
        client.close()
    return events / elapsed


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(
        values) > 1 else values[0]


def run_engine(name: str, url: str, args, env: dict[str, str], receiver: Receiver) -> list:
    bench = Bench(url, receiver, env)
    rows: dict[str, dict[str, list[float]]] = {"healthy": {}, "dead endpoint": {}}
    bare: list[float] = []
    try:
        for round_ in range(args.rounds):
            for case in ("healthy", "dead endpoint"):
                bench.dead_endpoint(case == "dead endpoint")
                figures = rows[case]
                rate = bench.throughput(args.events)
                lat = bench.latency(args.rate, args.seconds)
                figures.setdefault("rate", []).append(rate)
                figures.setdefault("p50", []).append(percentile(lat, 50))
                figures.setdefault("p99", []).append(percentile(lat, 99))
                figures.setdefault("max", []).append(lat[-1])
                print(f"  {name} round {round_ + 1} {case}: {rate:,.0f}/s, p50 "
                      f"{figures['p50'][-1] * 1000:.0f} ms, p99 {figures['p99'][-1] * 1000:.0f}"
                      f" ms", file=sys.stderr)
            bare.append(bare_posts(receiver, args.events, 10_000_000 * (round_ + 1)))
    finally:
        bench.close()
    out = []
    healthy = {k: statistics.median(v) for k, v in rows["healthy"].items()}
    for case, figures in rows.items():
        med = {k: statistics.median(v) for k, v in figures.items()}
        out.append((name, case, med["rate"], statistics.median(bare), med["p50"], med["p99"],
                    med["max"], med["rate"] / healthy["rate"], med["p50"] / healthy["p50"],
                    med["p99"] / healthy["p99"]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    add_engine_options(parser)
    parser.add_argument("--events", type=int, default=2000,
                        help="events per throughput measurement (default 2000)")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="events per second written while measuring latency (default 100)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="seconds of writing per latency measurement (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each case (default 2)")
    args = parser.parse_args(argv)

    env = {**os.environ, "KAITEN_WEBHOOKS_SECRET_KEY": Fernet.generate_key().decode(),
           "KAITEN_WEBHOOKS_ALLOW_PRIVATE": "1"}
    os.environ["KAITEN_WEBHOOKS_SECRET_KEY"] = env["KAITEN_WEBHOOKS_SECRET_KEY"]
    receiver = Receiver()
    results = []
    try:
        if not args.postgres_only:
            with tempfile.TemporaryDirectory() as directory:
                url = f"sqlite:///{Path(directory) / 'bench.db'}"
                results += run_engine("sqlite", url, args, env, receiver)
        if not args.sqlite_only:
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            admin = sa.create_engine(args.postgres_url, poolclass=sa.pool.NullPool)
            try:
                with admin.begin() as connection:
                    connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            except sa.exc.OperationalError as error:
                print(f"PostgreSQL not reachable ({error.orig}); SQLite only", file=sys.stderr)
            else:
                try:
                    url = schema_url(args.postgres_url, schema).render_as_string(
                        hide_password=False)
                    results += run_engine("postgresql", url, args, env, receiver)
                finally:
                    with admin.begin() as connection:
                        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                    admin.dispose()
    finally:
        receiver.stop()

    print(f"\nWebhook relay: {args.events} events per throughput run, {args.rate:g}/s for "
          f"{args.seconds:g} s per latency run, median of {args.rounds} rounds\n")
    print("| engine | case | deliveries/s | bare POST/s | relay / bare | p50 ms | p99 ms | "
          "max ms | rate vs healthy | p50 vs healthy | p99 vs healthy |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (name, case, rate, bare, p50, p99, top, r_rate, r_p50, r_p99) in results:
        print(f"| {name} | {case} | {rate:,.0f} | {bare:,.0f} | {rate / bare:.2f} | "
              f"{p50 * 1000:,.0f} | {p99 * 1000:,.0f} | {top * 1000:,.0f} | {r_rate:.2f} | "
              f"{r_p50:.2f} | {r_p99:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
