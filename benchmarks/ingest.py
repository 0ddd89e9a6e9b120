"""Ingest benchmark: ``usage.report`` against the same transaction written directly in SQL.

Run it from the repository root::

    .venv/bin/python benchmarks/ingest.py                 # SQLite and PostgreSQL
    .venv/bin/python benchmarks/ingest.py --sqlite-only --seconds 2 --rounds 5

PostgreSQL comes from ``--postgres-url`` (default ``$KAITEN_BENCH_POSTGRES_URL``, else
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); the run creates a schema
``bench_<random>`` there and drops it at the end. When PostgreSQL cannot be reached the run says
so and measures SQLite alone. SQLite is a fresh file in a temporary directory.

What is measured, per engine and per number of concurrent reporters (1 and 8), each reporter
an OS process (``multiprocessing`` spawn) writing its own instance's usage row, all started
together by a barrier and reporting in a loop for ``--seconds``:

* **library**: ``kaiten.usage.report(instance, "bench-calls", 1)`` — the whole public path
  (validation, resolve, lock, aggregate, usage row, audit event, rollups, commit);
* **raw SQL**: the minimum the same report needs, written with psycopg / sqlite3 directly:
  ``BEGIN`` (SQLite: ``BEGIN IMMEDIATE``), ``SELECT value … FOR UPDATE`` on the usage row
  (no ``FOR UPDATE`` on SQLite), ``UPDATE`` it, ``INSERT`` the audit row, ``COMMIT``; the same
  tables, timestamps and payload as the library, on other instances;
* **bare SQL**: the bare transaction, a second baseline: ``BEGIN`` (SQLite: ``BEGIN
  IMMEDIATE``), ``UPDATE`` one row, ``INSERT`` one row, ``COMMIT``, into two bare tables
  (``bench_bare_usage``, ``bench_bare_audit``: the same column types, none of the product's
  indexes, constraints or foreign keys) — what any durable "count it and log it" costs;
* **report with a key**: the library call with a fresh ``idempotency_key`` each time (what a
  reporter that retries safely sends: the key is claimed and its outcome stored in the same
  transaction);
* **report_many**: ``kaiten.usage.report_many`` of 100 reports per call, counted as reports;
* **report (threshold)** and **report (policy)**: the library call on the same SUM entitlement
  under a plain threshold, and under a metering policy (a monthly period, a 20 % soft limit,
  warning levels at 50 and 80 %), both far above what a run reports; the second table gives
  policy / threshold (target >= 0.9: a policy costs at most 10 %).

Figures are reports per second: all reports of all reporters / wall time. Library and raw runs
alternate (library, raw, library, raw, …) for ``--rounds`` rounds and the table shows the
median of each, the ratio library / raw SQL and the ratio library / bare SQL. Targets: ratio
>= 0.5 on PostgreSQL and >= 0.25 on SQLite for ``report``, SQLite's also >= 0.25 of the bare
transaction; ``report_many`` well above the raw single-report SQL; the keyed report is shown
for what a key costs, without a target of its own.

Absolute figures depend on the machine and on whatever else runs on it (on a shared 2-core
machine they move by tens of percent from run to run); the ratios are the figures to compare,
because library and raw SQL are measured in the same run, alternately, under the same load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench_engines import add_engine_options, schema_url

import kaiten_analytics as ka
from kaiten_analytics.clock import new_id
from kaiten_analytics.db.engine import SQLITE_BUSY_TIMEOUT, SQLITE_FILE_PRAGMAS

ENTITLEMENT = "bench-calls"
#: the same SUM entitlement under a plain threshold, and under a metering policy (a monthly
#: period, a soft limit, two warning levels); both limits are far above what a run reports
LIMITED, POLICY_ENTITLEMENT = "bench-limited", "bench-policy"
HIGH = 10**12
POLICY = {"threshold": HIGH, "period": "month", "overage_percent": 20, "warn_at": [50, 80]}
POLICY_TARGET = 0.9  # report (policy) / report (threshold)
MAX_REPORTERS = 8
BATCH = 100  # reports per report_many call
TARGETS = {"postgresql": 0.5, "sqlite": 0.25}
BARE_TARGETS = {"sqlite": 0.25}  # report / bare SQL
USAGE_ACCEPTED = "kaiten.v1.entitlement.usage.report.accepted"

# case names
LIBRARY, KEYED, RAW, BARE, MANY = "library", "keyed", "raw SQL", "bare SQL", "report_many"
THRESHOLD, POLICED = "threshold", "policy"
NAMES = {LIBRARY: "report", KEYED: "report+key", MANY: f"many({BATCH})",
         THRESHOLD: "report (threshold)", POLICED: "report (policy)"}
#: the entitlement each library case reports
CASE_ENTITLEMENT = {THRESHOLD: LIMITED, POLICED: POLICY_ENTITLEMENT}


# --- databases ------------------------------------------------------------------------------------
@dataclass
class BenchDatabase:
    """One engine under test: its URL, its raw driver target and the rows set up in it."""

    engine: str  # "sqlite" or "postgresql"
    url: str  # SQLAlchemy URL (what ka.connect takes)
    raw_target: str  # sqlite3 file path or libpq conninfo
    library_instances: list[str] = field(default_factory=list)
    raw_rows: list[tuple[str, int]] = field(default_factory=list)  # (instance slug, id)
    entitlement_id: int = 0
    cleanup: Callable[[], None] = lambda: None


def sqlite_database(directory: Path) -> BenchDatabase:
    """Return a fresh SQLite database file in ``directory``."""
    path = directory / "bench.db"
    return BenchDatabase("sqlite", f"sqlite:///{path}", str(path))


def postgres_database(admin_url: str) -> BenchDatabase:
    """Create a fresh schema ``bench_<random>`` in ``admin_url``; the cleanup drops it.

    Raises whatever the driver raises when PostgreSQL cannot be reached.
    """
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, poolclass=sa.pool.NullPool,
                             connect_args={"connect_timeout": 5})
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def cleanup() -> None:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    url = schema_url(admin_url, schema)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return BenchDatabase("postgresql", url.render_as_string(hide_password=False), conninfo,
                    cleanup=cleanup)


def set_up(database: BenchDatabase) -> None:
    """Migrate and fill ``database`` through the public API.

    One customer, the SUM entitlement ``bench-calls``, a license granting it without a limit,
    and ``MAX_REPORTERS`` instances for the library and as many for raw SQL. One report on each
    creates its usage row (the raw SQL transaction only updates it) and warms the database up.
    """
    kaiten = ka.connect(database.url)
    try:
        kaiten.customers.create("bench", "Benchmark Inc")
        kaiten.entitlements.create(ENTITLEMENT, "Benchmark calls", aggregation_method="SUM",
                                   unit="calls")
        for slug in (LIMITED, POLICY_ENTITLEMENT):
            kaiten.entitlements.create(slug, slug, aggregation_method="SUM", unit="calls")
        kaiten.licenses.create("bench", "Benchmark", {ENTITLEMENT: None, LIMITED: HIGH,
                                                      POLICY_ENTITLEMENT: POLICY})
        for prefix in ("lib", "raw"):
            for index in range(MAX_REPORTERS):
                slug = f"{prefix}-{index}"
                kaiten.instances.create("bench", f"Reporter {prefix} {index}", slug, "bench")
                kaiten.usage.report(slug, ENTITLEMENT, 1)
                if prefix == "lib":
                    kaiten.usage.report(slug, LIMITED, 1)
                    kaiten.usage.report(slug, POLICY_ENTITLEMENT, 1)
        with kaiten.db.engine.connect() as connection:
            ids = dict(connection.execute(sa.text("SELECT slug, id FROM instances")).all())
            database.entitlement_id = connection.execute(
                sa.text("SELECT id FROM entitlements WHERE slug = :slug"),
                {"slug": ENTITLEMENT},
            ).scalar_one()
    finally:
        kaiten.close()
    create_bare_tables(database)
    database.library_instances = [f"lib-{index}" for index in range(MAX_REPORTERS)]
    database.raw_rows = [(f"raw-{index}", ids[f"raw-{index}"])
                         for index in range(MAX_REPORTERS)]


def create_bare_tables(database: BenchDatabase) -> None:
    """Create the bare baseline's two tables: no keys, indexes, constraints or triggers.

    ``bench_bare_usage`` has one row per reporter (``slot`` 0 … ``MAX_REPORTERS - 1``), found
    by a full scan of those few rows.
    """
    json_type, time_type = (("TEXT", "TEXT") if database.engine == "sqlite"
                            else ("JSONB", "TIMESTAMPTZ"))
    statements = [
        f"CREATE TABLE bench_bare_usage (slot INTEGER, value {json_type}, "
        f"updated_at {time_type})",
        f"CREATE TABLE bench_bare_audit (id TEXT, instance_id INTEGER, entitlement_id INTEGER,"
        f" event_name TEXT, status TEXT, payload {json_type}, created_at {time_type})",
        *(f"INSERT INTO bench_bare_usage (slot) VALUES ({slot})"
          for slot in range(MAX_REPORTERS)),
    ]
    engine = sa.create_engine(database.url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def check_consistency(database: BenchDatabase) -> list[str]:
    """Return the instances whose usage count differs from their accepted audit events.

    Every report is ``+1`` on a SUM with no limit, so the stored aggregate and event count must
    both equal the number of accepted audit events: a lost update would show here.
    """
    kaiten = ka.connect(database.url, migrate=False)
    bad = []
    try:
        with kaiten.db.engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT i.slug, u.value, (SELECT count(*) FROM feature_audit_trail a"
                "  WHERE a.instance_id = u.instance_id AND a.entitlement_id = u.entitlement_id"
                "  AND a.event_name = :name)"
                " FROM entitlement_usage u JOIN instances i ON i.id = u.instance_id"
            ), {"name": USAGE_ACCEPTED}).all()
        for slug, value, events in rows:
            usage = json.loads(value) if isinstance(value, str) else value
            if usage["event_count"] != events or usage["value"] != events:
                bad.append(f"{slug}: usage {usage}, {events} audit events")
    finally:
        kaiten.close()
    return bad


# --- reporters (each in its own process) ---------------------------------------------------------
class RawSQLReporter:
    """The report transaction written by hand with sqlite3 or psycopg, for one usage row.

    ``bare``: the bare transaction instead (update the reporter's row of
    ``bench_bare_usage`` from the count it keeps, insert into ``bench_bare_audit``).
    """

    def __init__(self, engine: str, target: str, instance: str, instance_id: int,
                 entitlement_id: int, bare: bool = False, slot: int = 0) -> None:
        self.engine, self.bare, self.slot, self.count = engine, bare, slot, 0
        self.instance, self.instance_id, self.entitlement_id = instance, instance_id, entitlement_id
        if engine == "sqlite":
            self.connection: Any = sqlite3.connect(target, timeout=SQLITE_BUSY_TIMEOUT,
                                                   isolation_level=None)
            for pragma in (*SQLITE_FILE_PRAGMAS, "foreign_keys=ON",
                           f"busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}"):
                self.connection.execute(f"PRAGMA {pragma}")
            self.begin = "BEGIN IMMEDIATE"
            self.select = ("SELECT value FROM entitlement_usage"
                           " WHERE instance_id = ? AND entitlement_id = ?")
            self.update = ("UPDATE entitlement_usage SET value = ?, updated_at = ?"
                           " WHERE instance_id = ? AND entitlement_id = ?")
            self.insert = ("INSERT INTO feature_audit_trail (id, instance_id, entitlement_id,"
                           " event_name, status, payload, created_at)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?)")
            if bare:
                self.update = "UPDATE bench_bare_usage SET value = ?, updated_at = ? WHERE slot = ?"
                self.insert = self.insert.replace("feature_audit_trail", "bench_bare_audit")
        else:
            import psycopg

            self.connection = psycopg.connect(target, autocommit=True)
            self.begin = "BEGIN"
            self.select = ("SELECT value FROM entitlement_usage"
                           " WHERE instance_id = %s AND entitlement_id = %s FOR UPDATE")
            self.update = ("UPDATE entitlement_usage SET value = %s::jsonb, updated_at = %s"
                           " WHERE instance_id = %s AND entitlement_id = %s")
            self.insert = ("INSERT INTO feature_audit_trail (id, instance_id, entitlement_id,"
                           " event_name, status, payload, created_at)"
                           " VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s)")
            if bare:
                self.update = ("UPDATE bench_bare_usage SET value = %s::jsonb, updated_at = %s"
                               " WHERE slot = %s")
                self.insert = self.insert.replace("feature_audit_trail", "bench_bare_audit")

    def report(self, value: int) -> None:
        """Add ``value`` to the usage row and append its audit event, in one transaction."""
        cursor = self.connection.cursor()
        key = (self.instance_id, self.entitlement_id)
        cursor.execute(self.begin)
        try:
            if self.bare:  # nothing read back: the value comes from the reporter's own count
                before = count = self.count
            else:
                stored = cursor.execute(self.select, key).fetchone()[0]
                usage = json.loads(stored) if isinstance(stored, str) else stored
                before, count = usage["value"], usage["event_count"]
            after = before + value
            now = datetime.now(UTC)
            at: Any = now if self.engine == "postgresql" else (
                now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"))
            where = (self.slot,) if self.bare else key
            cursor.execute(self.update, (json.dumps(
                {"type": "number", "value": after, "event_count": count + 1}), at, *where))
            payload = {
                "instance": self.instance, "entitlement": ENTITLEMENT, "value": value,
                "aggregation_method": "SUM", "threshold": None, "aggregate_before": before,
                "aggregate_after": after, "event_count": count + 1, "reason": None,
                "reached": False,
            }
            cursor.execute(self.insert, (new_id(now), *key, USAGE_ACCEPTED, "ACCEPTED",
                                         json.dumps(payload), at))
            cursor.execute("COMMIT")
            self.count = count + 1
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        finally:
            cursor.close()

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


@dataclass(frozen=True)
class Job:
    """One reporter's part of a measurement."""

    case: str  # LIBRARY, KEYED, RAW, BARE or MANY
    engine: str
    url: str
    raw_target: str
    instance: str
    instance_id: int
    entitlement_id: int
    slot: int  # the reporter's index (its row of bench_bare_usage)
    reporters: int  # how many reporters take part (picks the barrier)
    seconds: float


def _reporter_for(job: Job, cache: dict[tuple[str, str, str], Any]) -> Callable[[], int]:
    """Return a function doing one call of ``job`` and returning how many reports it made."""
    if job.case in (RAW, BARE):
        key = (job.case, job.raw_target, job.instance)
        if key not in cache:
            cache[key] = RawSQLReporter(job.engine, job.raw_target, job.instance,
                                        job.instance_id, job.entitlement_id,
                                        bare=job.case == BARE, slot=job.slot)
        raw = cache[key]

        def raw_report() -> int:
            raw.report(1)
            return 1

        return raw_report
    key = (LIBRARY, job.url, "")
    if key not in cache:
        cache[key] = ka.connect(job.url, migrate=False)
    kaiten = cache[key]
    if job.case == MANY:
        batch = [(job.instance, ENTITLEMENT, 1)] * BATCH

        def report_many() -> int:
            return len(kaiten.usage.report_many(batch))

        return report_many

    if job.case == KEYED:
        def report_with_key() -> int:
            kaiten.usage.report(job.instance, ENTITLEMENT, 1, idempotency_key=uuid.uuid4().hex)
            return 1

        return report_with_key

    entitlement = CASE_ENTITLEMENT.get(job.case, ENTITLEMENT)

    def report() -> int:
        kaiten.usage.report(job.instance, entitlement, 1)
        return 1

    return report


def worker(tasks: mp.Queue, results: mp.Queue, barriers: dict[int, Barrier]) -> None:
    """Run jobs from ``tasks`` until ``None``; put (reports, start, end) on ``results``.

    Connections are kept between jobs of the same database, like a long-running reporter.
    Each job makes one warm-up call, waits at the barrier of its reporter count, then calls
    in a loop until ``job.seconds`` have passed.
    """
    cache: dict[tuple[str, str, str], Any] = {}
    try:
        while (job := tasks.get()) is not None:
            try:
                call = _reporter_for(job, cache)
                call()  # warm-up: connection, statement caches
                barriers[job.reporters].wait()
                start = time.monotonic()
                deadline = start + job.seconds
                reports = 0
                while True:
                    reports += call()
                    end = time.monotonic()
                    if end >= deadline:
                        break
                results.put((reports, start, end, None))
            except Exception as exc:  # the parent reports it and stops
                barriers[job.reporters].abort()
                results.put((0, 0.0, 0.0, f"{type(exc).__name__}: {exc}"))
    finally:
        for resource in cache.values():
            resource.close()


class Pool:
    """``MAX_REPORTERS`` spawned reporter processes, each with its own job queue."""

    def __init__(self) -> None:
        context = mp.get_context("spawn")
        self.barriers = {n: context.Barrier(n) for n in (1, MAX_REPORTERS)}
        self.results: mp.Queue = context.Queue()
        self.tasks: list[mp.Queue] = [context.Queue() for _ in range(MAX_REPORTERS)]
        self.processes = [
            context.Process(target=worker, args=(tasks, self.results, self.barriers),
                            daemon=True)
            for tasks in self.tasks
        ]
        for process in self.processes:
            process.start()

    def measure(self, database: BenchDatabase, case: str, reporters: int, seconds: float) -> float:
        """Run ``case`` with ``reporters`` processes for ``seconds``; return reports/s."""
        for index in range(reporters):
            if case in (RAW, BARE):
                instance, instance_id = database.raw_rows[index]
            else:
                instance, instance_id = database.library_instances[index], 0
            self.tasks[index].put(Job(case, database.engine, database.url, database.raw_target,
                                      instance, instance_id, database.entitlement_id,
                                      index, reporters, seconds))
        outcomes = [self.results.get(timeout=seconds + 120) for _ in range(reporters)]
        errors = [error for *_, error in outcomes if error]
        if errors:
            for barrier in self.barriers.values():
                barrier.reset()
            raise RuntimeError(f"{database.engine} {case} x{reporters}: {errors[0]}")
        total = sum(reports for reports, *_ in outcomes)
        wall = max(end for _, _, end, _ in outcomes) - min(start for _, start, _, _ in outcomes)
        return total / wall

    def close(self) -> None:
        """Stop the processes (they close their connections first)."""
        for tasks in self.tasks:
            tasks.put(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()


# --- the run --------------------------------------------------------------------------------------
@dataclass
class Figures:
    """Reports/s of each round, per (engine, case, reporters)."""

    rounds: dict[tuple[str, str, int], list[float]] = field(default_factory=dict)

    def add(self, engine: str, case: str, reporters: int, rate: float) -> None:
        """Record one round's figure."""
        self.rounds.setdefault((engine, case, reporters), []).append(rate)

    def median(self, engine: str, case: str, reporters: int) -> float:
        """The median reports/s over the rounds."""
        return statistics.median(self.rounds[(engine, case, reporters)])


def run_engine(pool: Pool, database: BenchDatabase, figures: Figures, seconds: float,
               rounds: int) -> None:
    """Alternate library and raw SQL runs for ``rounds`` rounds on one engine."""
    plan = [(case, reporters) for reporters in (1, MAX_REPORTERS)
            for case in (LIBRARY, KEYED, RAW, BARE, MANY, THRESHOLD, POLICED)]
    for round_number in range(1, rounds + 1):
        for case, reporters in plan:
            rate = pool.measure(database, case, reporters, seconds)
            figures.add(database.engine, case, reporters, rate)
            print(f"  [{database.engine} round {round_number}/{rounds}] {case:<11} "
                  f"x{reporters}: {rate:9.0f} reports/s", file=sys.stderr, flush=True)


def format_table(engines: list[str], figures: Figures) -> str:
    """The result table: medians, the ratios to both baselines and the targets."""
    header = (f"{'engine':<11} {'case':<18} {'reporters':>9} {'library r/s':>12} "
              f"{'raw SQL r/s':>12} {'ratio':>6}  {'target':<7} {'met':<4} "
              f"{'bare r/s':>9} {'vs bare':>7}  {'target':<7} {'met':<4} ratio per round")
    lines = [header, "-" * len(header)]
    for engine in engines:
        for case in (LIBRARY, KEYED, MANY, THRESHOLD, POLICED):
            for reporters in (1, MAX_REPORTERS):
                library = figures.median(engine, case, reporters)
                raw = figures.median(engine, RAW, reporters)
                bare = figures.median(engine, BARE, reporters)
                target = {LIBRARY: TARGETS[engine], MANY: 1.0}.get(case)  # keyed: none set
                bare_target = BARE_TARGETS.get(engine) if case == LIBRARY else None
                per_round = " ".join(
                    f"{lib / base:.2f}" for lib, base in zip(
                        figures.rounds[(engine, case, reporters)],
                        figures.rounds[(engine, RAW, reporters)], strict=True))
                wanted, met = _target(target, library / raw, case == MANY)
                bare_wanted, bare_met = _target(bare_target, library / bare, False)
                lines.append(
                    f"{engine:<11} {NAMES[case]:<18} {reporters:>9} {library:>12.0f} "
                    f"{raw:>12.0f} {library / raw:>6.2f}  {wanted:<7} {met:<4} "
                    f"{bare:>9.0f} {library / bare:>7.2f}  {bare_wanted:<7} {bare_met:<4} "
                    f"{per_round}")
    lines += ["", f"{'engine':<11} {'reporters':>9} {'threshold r/s':>14} {'policy r/s':>11} "
                  f"{'policy / threshold':>19}  target  met  per round"]
    for engine in engines:
        for reporters in (1, MAX_REPORTERS):
            plain = figures.median(engine, THRESHOLD, reporters)
            policy = figures.median(engine, POLICED, reporters)
            wanted, met = _target(POLICY_TARGET, policy / plain, False)
            per_round = " ".join(f"{p / t:.2f}" for p, t in zip(
                figures.rounds[(engine, POLICED, reporters)],
                figures.rounds[(engine, THRESHOLD, reporters)], strict=True))
            lines.append(f"{engine:<11} {reporters:>9} {plain:>14.0f} {policy:>11.0f} "
                         f"{policy / plain:>19.2f}  {wanted:<7} {met:<4} {per_round}")
    return "\n".join(lines)


def _target(target: float | None, ratio: float, above: bool) -> tuple[str, str]:
    """The target column and whether it is met ("-" without a target)."""
    if target is None:
        return "-", "-"
    wanted = f"> {target:g}" if above else f">= {target:g}"
    return wanted, "yes" if ratio >= target else "NO"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="length of one measurement (default 3)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="library/raw alternations per engine (default 3)")
    add_engine_options(parser)
    return parser.parse_args(argv)


def open_databases(directory: Path, args: argparse.Namespace) -> list[BenchDatabase] | None:
    """The engines the options ask for (a SQLite file in ``directory``, the PostgreSQL server);
    without PostgreSQL, SQLite alone with a note — None when only PostgreSQL was asked for."""
    databases = [] if args.postgres_only else [sqlite_database(directory)]
    if not args.sqlite_only:
        try:
            databases.append(postgres_database(args.postgres_url))
        except Exception as exc:
            print(f"PostgreSQL is unreachable at {args.postgres_url} "
                  f"({type(exc).__name__}: {str(exc).strip().splitlines()[0]})",
                  file=sys.stderr)
            if args.postgres_only:
                return None
            print("running SQLite only", file=sys.stderr)
    return databases


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; return the exit status."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kaiten-bench-") as directory:
        databases = open_databases(Path(directory), args)
        if databases is None:
            return 1
        started = time.monotonic()
        figures = Figures()
        pool = None
        try:
            for database in databases:
                set_up(database)
            print(f"{len(databases)} engine(s), reporters 1 and {MAX_REPORTERS}, "
                  f"{args.seconds:g} s per measurement, {args.rounds} rounds; "
                  f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
                  file=sys.stderr, flush=True)
            pool = Pool()
            for database in databases:
                run_engine(pool, database, figures, args.seconds, args.rounds)
            pool.close()
            pool = None
            inconsistent = [f"{database.engine} {problem}" for database in databases
                            for problem in check_consistency(database)]
        finally:
            if pool is not None:
                pool.close()
            for database in databases:
                database.cleanup()
    engines = [database.engine for database in databases]
    print()
    print(f"Ingest: reports/s, median of {args.rounds} rounds of {args.seconds:g} s; "
          f"ratio = library / raw SQL, vs bare = library / bare SQL ({os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}, {time.monotonic() - started:.0f} s)")
    print(format_table(engines, figures))
    print(f"many({BATCH}) = usage.report_many of {BATCH} reports per call, against the raw "
          "SQL single-report transaction")
    if inconsistent:
        print("INCONSISTENT usage rows (lost updates?):", *inconsistent, sep="\n  ")
        return 1
    print("usage rows consistent with the audit trail on every instance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
