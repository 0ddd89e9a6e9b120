"""REST API benchmark: ``kaiten api`` over HTTP against the same calls made in-process.

Run it from the repository root::

    .venv/bin/python benchmarks/api.py            # SQLite and PostgreSQL, a 1M-event instance
    .venv/bin/python benchmarks/api.py --small    # a quick look (20k-event instance, 1 s runs)
    .venv/bin/python benchmarks/api.py --reuse    # keep the big-instance databases, reuse them

PostgreSQL comes from ``--postgres-url`` (default ``$KAITEN_BENCH_POSTGRES_URL``, else
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); SQLite alone when it is unreachable.

Two databases per engine
    * **ingest**: the ingest benchmark's (``benchmarks/ingest.py`` ``set_up``: one customer,
      the unlimited SUM entitlement ``bench-calls``, 8 reporter instances ``lib-0`` …
      ``lib-7``), fresh for the run (a temporary SQLite file, a ``bench_<random>`` schema),
      plus one ``reporter`` API key;
    * **big**: the analytics benchmark's demo database with ``--big-events`` (default
      1,000,000) audit events on ``megacorp-prod`` and a small fleet (``benchmarks/analytics.py``
      ``build``: 100 customers, 1,000 instances, ``--fleet-events`` more events); with
      ``--reuse`` it is kept (``benchmarks/.data/api_big_<events>.db``, schema
      ``bench_api_big_<events>``) and reused, else removed at the end.

Each database is served by ``kaiten api`` (a real uvicorn process; ``--workers``,
``--threads`` are passed through) on a free loopback port. Clients are OS processes
(``multiprocessing`` spawn), each with one keep-alive connection (``http.client``: the
lightest client, so that the 2 cores measure the server more than the client), started
together by a barrier and calling in a loop for ``--seconds``.

What is measured, per engine
    * **report, library**: ``kaiten.usage.report(instance, "bench-calls", 1)`` in-process, 1
      and 8 reporter processes, each on its own instance (as ``benchmarks/ingest.py``);
    * **report, HTTP**: ``POST /api/instances/{instance}/entitlements/bench-calls/usage``
      ``{"value": 1}``, 1 and 8 client processes, each on its own instance (target: ≥ 0.5× the
      library at 8); every request's latency is kept: **p50/p99** of the 8-client runs (target
      p99 ≤ 50 ms on PostgreSQL);
    * **batch, HTTP**: ``POST /api/usage/batch`` of 100 reports per request, counted as reports,
      1 and 8 clients (target: ≥ 10× the single-report endpoint at the same client count);
    * **audit trail**: ``GET /api/instances/megacorp-prod/audit-trails?limit=50`` (one client)
      against ``kaiten.audit.trail("megacorp-prod", limit=50)`` in-process, alternately,
      ``--trail-repeat`` times each after a warm-up; medians (target: HTTP ≤ 2× the library
      call); the two answers' event ids are compared.

Rounds alternate library and HTTP runs (library ×1, HTTP ×1, batch ×1, library ×8, HTTP ×8,
batch ×8) ``--rounds`` times; the tables show medians and the ratios of each round. At the end
every usage row is checked against its accepted audit events (no report lost or doubled).

Absolute figures depend on the machine and what else runs on it (a shared 2-core machine
moves them by tens of percent); compare the ratios, measured in the same run under the same
load. On 2 cores the HTTP clients and the server share the CPUs with each other, as the
library's reporters share them with the database.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from analytics import BIG_INSTANCE, DEFAULT_DATA_DIR
from analytics import BenchDatabase as BigDatabase
from analytics import drop as drop_big
from analytics import prepare as prepare_big
from bench_engines import add_engine_options, schema_url
from ingest import (
    ENTITLEMENT,
    MAX_REPORTERS,
    BenchDatabase,
    check_consistency,
    open_databases,
    set_up,
)

import kaiten_analytics as ka

ROOT = Path(__file__).resolve().parents[1]
BATCH = 100
PAGE = 50
LIBRARY, HTTP, BATCHED = "library", "HTTP", "batch"
TARGET_HTTP, TARGET_BATCH, TARGET_P99_MS, TARGET_TRAIL = 0.5, 10.0, 50.0, 2.0


# --- the server -------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``kaiten api`` on ``url`` in a subprocess, on a free loopback port."""

    def __init__(self, url: str, workers: int, threads: int | None) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "kaiten_analytics.cli", "api", "--url", url,
                   "--port", str(self.port), "--workers", str(workers)]
        if threads:
            command += ["--threads", str(threads)]
        self.log = tempfile.TemporaryFile()  # noqa: SIM115  (closed by stop())
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180  # a loaded machine starts a server slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kaiten api exited: {self._output()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/api/health")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        output = self._output()
        self.stop()
        raise RuntimeError(f"kaiten api did not answer in 180 s: {output}")

    def _output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- clients (each in its own process) --------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One client's part of a measurement."""

    case: str  # LIBRARY, HTTP or BATCHED
    url: str  # the database (LIBRARY)
    port: int  # the server (HTTP, BATCHED)
    secret: str
    instance: str
    clients: int  # how many take part (picks the barrier)
    seconds: float


class HttpCaller:
    """One keep-alive connection to the server, posting one body again and again."""

    def __init__(self, port: int, secret: str, path: str, body: dict[str, Any]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.path, self.body = path, json.dumps(body).encode()
        self.headers = {"Authorization": f"Bearer {secret}",
                        "Content-Type": "application/json"}

    def post(self) -> bytes:
        self.connection.request("POST", self.path, self.body, self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.path}: {response.status} {data[:300]!r}")
        return data

    def close(self) -> None:
        self.connection.close()


def _caller(job: Job, cache: dict[tuple, Any]):
    """Return (call, reports per call) for ``job``.

    A library handle is kept between jobs of the same database, like a long-running
    reporter; an HTTP connection is opened per job (the server closes idle keep-alive
    connections after 5 s, longer than the other measurements take).
    """
    if job.case == LIBRARY:
        key = (job.case, job.url)
        if key not in cache:
            cache[key] = ka.connect(job.url, migrate=False)
        kaiten = cache[key]
        return (lambda: kaiten.usage.report(job.instance, ENTITLEMENT, 1)), 1
    if job.case == HTTP:
        caller = HttpCaller(job.port, job.secret, f"/api/instances/{job.instance}"
                            f"/entitlements/{ENTITLEMENT}/usage", {"value": 1})
    else:
        caller = HttpCaller(job.port, job.secret, "/api/usage/batch", {"reports": [
            {"instance": job.instance, "entitlement": ENTITLEMENT, "value": 1}] * BATCH})
    previous = cache.pop((HTTP,), None)
    if previous is not None:
        previous.close()
    cache[(HTTP,)] = caller
    return caller.post, (BATCH if job.case == BATCHED else 1)


def worker(tasks: mp.Queue, results: mp.Queue, barriers: dict[int, Barrier]) -> None:
    """Run jobs from ``tasks`` until ``None``; put (reports, start, end, latencies, error)."""
    cache: dict[tuple, Any] = {}
    try:
        while (job := tasks.get()) is not None:
            try:
                call, per_call = _caller(job, cache)
                call()  # warm-up: connection, statement caches
                barriers[job.clients].wait()
                latencies: list[float] = []
                start = time.monotonic()
                deadline = start + job.seconds
                while True:
                    began = time.perf_counter()
                    call()
                    latencies.append(time.perf_counter() - began)
                    end = time.monotonic()
                    if end >= deadline:
                        break
                results.put((len(latencies) * per_call, start, end, latencies, None))
            except Exception as exc:  # the parent reports it and stops
                barriers[job.clients].abort()
                results.put((0, 0.0, 0.0, [], f"{type(exc).__name__}: {exc}"))
    finally:
        for resource in cache.values():
            resource.close()


class Pool:
    """``MAX_REPORTERS`` spawned client processes, each with its own job queue."""

    def __init__(self) -> None:
        context = mp.get_context("spawn")
        self.barriers = {n: context.Barrier(n) for n in (1, MAX_REPORTERS)}
        self.results: mp.Queue = context.Queue()
        self.tasks: list[mp.Queue] = [context.Queue() for _ in range(MAX_REPORTERS)]
        self.processes = [context.Process(target=worker, args=(tasks, self.results,
                                                               self.barriers), daemon=True)
                          for tasks in self.tasks]
        for process in self.processes:
            process.start()

    def measure(self, case: str, database: BenchDatabase, port: int, secret: str,
                clients: int, seconds: float) -> tuple[float, list[float]]:
        """Run ``case`` with ``clients`` processes; return (reports/s, latencies in s)."""
        for index in range(clients):
            self.tasks[index].put(Job(case, database.url, port, secret,
                                      database.library_instances[index], clients, seconds))
        outcomes = [self.results.get(timeout=seconds + 180) for _ in range(clients)]
        errors = [error for *_, error in outcomes if error]
        if errors:
            for barrier in self.barriers.values():
                barrier.reset()
            raise RuntimeError(f"{database.engine} {case} x{clients}: {errors[0]}")
        total = sum(reports for reports, *_ in outcomes)
        wall = max(o[2] for o in outcomes) - min(o[1] for o in outcomes)
        return total / wall, [latency for o in outcomes for latency in o[3]]

    def close(self) -> None:
        """Stop the processes (they close their connections first)."""
        for tasks in self.tasks:
            tasks.put(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()


# --- the audit trail on the big instance ------------------------------------------------------
def big_database(engine: str, args: argparse.Namespace) -> BigDatabase:
    """The big-instance database of ``engine`` (not built here)."""
    name = f"api_big_{args.big_events}"
    if engine == "sqlite":
        path = args.data_dir / f"{name}.db"
        return BigDatabase("sqlite", "big", f"sqlite:///{path}", args.fleet_events,
                           args.big_events, str(path))
    schema = f"bench_{name}"
    url = schema_url(args.postgres_url, schema).render_as_string(hide_password=False)
    return BigDatabase("postgresql", "big", url, args.fleet_events, args.big_events,
                       f"schema {schema}", admin_url=args.postgres_url, schema=schema)


def measure_trail(database: BigDatabase, args: argparse.Namespace) -> dict[str, Any]:
    """Median ms of the audit-trail page over HTTP and in-process, alternately."""
    kaiten = ka.connect(database.url, migrate=False)
    name = f"bench-{os.getpid()}-{time.time_ns()}"
    secret = kaiten.keys.create(name, "viewer").secret
    server = Server(database.url, args.workers, args.threads)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        path = f"/api/instances/{BIG_INSTANCE}/audit-trails?limit={PAGE}"
        headers = {"Authorization": f"Bearer {secret}"}

        def over_http() -> bytes:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
            return body

        def library() -> Any:
            return kaiten.audit.trail(BIG_INSTANCE, limit=PAGE)

        for _ in range(5):  # warm-up: connections, caches, the pages in memory
            over_http(), library()
        times: dict[str, list[float]] = {LIBRARY: [], HTTP: []}
        for _ in range(args.trail_repeat):
            for case, call in ((LIBRARY, library), (HTTP, over_http)):
                began = time.perf_counter()
                call()
                times[case].append(time.perf_counter() - began)
        served = [item["id"] for item in json.loads(over_http())["items"]]
        agree = served == list(library()["id"]) and len(served) == PAGE
        events = kaiten.audit.count(BIG_INSTANCE).count
        connection.close()
    finally:
        server.stop()
        kaiten.keys.revoke(name)
        kaiten.close()
    return {"library_ms": statistics.median(times[LIBRARY]) * 1000,
            "http_ms": statistics.median(times[HTTP]) * 1000, "agree": agree,
            "events": events}


# --- the run ----------------------------------------------------------------------------------
@dataclass
class Figures:
    """Reports/s of each round per (engine, case, clients), and the 8-client latencies."""

    rounds: dict[tuple[str, str, int], list[float]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    trail: dict[str, dict[str, Any]] = field(default_factory=dict)

    def median(self, engine: str, case: str, clients: int) -> float:
        return statistics.median(self.rounds[(engine, case, clients)])

    def per_round(self, engine: str, case: str, base: str, clients: int) -> str:
        return " ".join(f"{a / b:.2f}" for a, b in zip(
            self.rounds[(engine, case, clients)], self.rounds[(engine, base, clients)],
            strict=True))


def run_engine(pool: Pool, database: BenchDatabase, args: argparse.Namespace,
               figures: Figures) -> None:
    """Alternate the library, HTTP and batch runs for ``args.rounds`` rounds."""
    kaiten = ka.connect(database.url, migrate=False)
    secret = kaiten.keys.create("bench-reporter", "reporter").secret
    kaiten.close()
    server = Server(database.url, args.workers, args.threads)
    try:
        for round_number in range(1, args.rounds + 1):
            for clients in (1, MAX_REPORTERS):
                for case in (LIBRARY, HTTP, BATCHED):
                    rate, latencies = pool.measure(case, database, server.port, secret,
                                                   clients, args.seconds)
                    figures.rounds.setdefault((database.engine, case, clients), []).append(rate)
                    if case == HTTP and clients == MAX_REPORTERS:
                        figures.latencies.setdefault(database.engine, []).extend(latencies)
                    print(f"  [{database.engine} round {round_number}/{args.rounds}] "
                          f"{case:<8} x{clients}: {rate:9.0f} reports/s",
                          file=sys.stderr, flush=True)
    finally:
        server.stop()


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values``."""
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def report(engines: list[str], figures: Figures, args: argparse.Namespace) -> str:
    """The printed tables."""
    lines = [f"Throughput: reports/s, median of {args.rounds} rounds of {args.seconds:g} s; "
             f"server: kaiten api --workers {args.workers}"
             + (f" --threads {args.threads}" if args.threads else ""), ""]
    header = (f"{'engine':<11} {'clients':>7} {'library':>9} {'HTTP':>8} {'HTTP/lib':>8} "
              f"{'met':<4} {'batch(100)':>10} {'batch/HTTP':>10} {'met':<4} "
              "HTTP/lib per round; batch/HTTP per round")
    lines += [header, "-" * len(header)]
    for engine in engines:
        for clients in (1, MAX_REPORTERS):
            library = figures.median(engine, LIBRARY, clients)
            single = figures.median(engine, HTTP, clients)
            batch = figures.median(engine, BATCHED, clients)
            http_met = _met(single / library >= TARGET_HTTP) if clients > 1 else "-"
            lines.append(
                f"{engine:<11} {clients:>7} {library:>9.0f} {single:>8.0f} "
                f"{single / library:>8.2f} {http_met:<4} {batch:>10.0f} "
                f"{batch / single:>10.2f} {_met(batch / single >= TARGET_BATCH):<4} "
                f"{figures.per_round(engine, HTTP, LIBRARY, clients)}; "
                f"{figures.per_round(engine, BATCHED, HTTP, clients)}")
    lines += ["", f"targets: HTTP >= {TARGET_HTTP:g}x the library at {MAX_REPORTERS}; "
              f"batch >= {TARGET_BATCH:g}x the single endpoint", ""]
    lines.append(f"Latency of one POST .../usage at {MAX_REPORTERS} clients (all requests of "
                 "every round)")
    header = f"{'engine':<11} {'requests':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}  target"
    lines += [header, "-" * len(header)]
    for engine in engines:
        values = figures.latencies[engine]
        p99 = percentile(values, 99) * 1000
        target = (f"p99 <= {TARGET_P99_MS:g} ms: {_met(p99 <= TARGET_P99_MS)}"
                  if engine == "postgresql" else "-")
        lines.append(f"{engine:<11} {len(values):>8} {percentile(values, 50) * 1000:>7.1f} "
                     f"{p99:>7.1f} {max(values) * 1000:>7.1f}  {target}")
    if figures.trail:
        lines += ["", f"Audit trail page ({PAGE} events, newest first) of {BIG_INSTANCE}: "
                  f"median ms of {args.trail_repeat} calls each, alternately"]
        header = (f"{'engine':<11} {'events':>9} {'library':>8} {'HTTP':>7} {'HTTP/lib':>8} "
                  f"{'met':<4} answers")
        lines += [header, "-" * len(header)]
        for engine, trail in figures.trail.items():
            ratio = trail["http_ms"] / trail["library_ms"]
            lines.append(f"{engine:<11} {trail['events']:>9,} {trail['library_ms']:>8.2f} "
                         f"{trail['http_ms']:>7.2f} {ratio:>8.2f} "
                         f"{_met(ratio <= TARGET_TRAIL):<4} "
                         f"{'agree' if trail['agree'] else 'DIFFER'}")
        lines.append(f"target: HTTP <= {TARGET_TRAIL:g}x the library call")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true",
                        help="a quick look: 1 s runs, 1 round, a 20k-event big instance, "
                             "30 trail calls")
    parser.add_argument("--seconds", type=float, help="length of one measurement (default 3)")
    parser.add_argument("--rounds", type=int, help="alternations per engine (default 3)")
    parser.add_argument("--big-events", type=int,
                        help="audit events on the big instance (default 1,000,000)")
    parser.add_argument("--fleet-events", type=int, default=10_000,
                        help="events of the rest of the big database's fleet (default 10,000)")
    parser.add_argument("--trail-repeat", type=int,
                        help="audit-trail calls of each kind (default 200)")
    parser.add_argument("--workers", type=int, default=1, help="kaiten api --workers")
    parser.add_argument("--threads", type=int, default=None, help="kaiten api --threads")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the big-instance databases and reuse kept ones")
    parser.add_argument("--no-trail", action="store_true", help="skip the audit-trail part")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="where the kept SQLite file goes (default benchmarks/.data)")
    add_engine_options(parser)
    args = parser.parse_args(argv)
    small = {"seconds": 1.0, "rounds": 1, "big_events": 20_000, "trail_repeat": 30}
    full = {"seconds": 3.0, "rounds": 3, "big_events": 1_000_000, "trail_repeat": 200}
    for name, value in (small if args.small else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables; return the exit status."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kaiten-bench-api-") as directory:
        databases = open_databases(Path(directory), args)
        if databases is None:
            return 1
        started = time.monotonic()
        figures = Figures()
        pool = None
        try:
            for database in databases:
                set_up(database)
            print(f"{len(databases)} engine(s), clients 1 and {MAX_REPORTERS}, "
                  f"{args.seconds:g} s per measurement, {args.rounds} rounds; "
                  f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
                  file=sys.stderr, flush=True)
            pool = Pool()
            for database in databases:
                run_engine(pool, database, args, figures)
            pool.close()
            pool = None
            inconsistent = [f"{database.engine} {problem}" for database in databases
                            for problem in check_consistency(database)]
        finally:
            if pool is not None:
                pool.close()
            for database in databases:
                database.cleanup()
    if not args.no_trail:
        for database in databases:
            big = big_database(database.engine, args)
            try:
                prepare_big(big, args.reuse)
                figures.trail[database.engine] = measure_trail(big, args)
            finally:
                if not args.reuse:
                    drop_big(big)
    engines = [database.engine for database in databases]
    print()
    print(f"REST API benchmark ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}, {time.monotonic() - started:.0f} s)")
    print(report(engines, figures, args))
    if inconsistent:
        print("INCONSISTENT usage rows (lost updates?):", *inconsistent, sep="\n  ")
        return 1
    print("usage rows consistent with the audit trail on every instance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
