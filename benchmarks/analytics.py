"""Analytics benchmark: ``kaiten.audit.*`` on the full-scale database, against a raw scan and
pandas. Full scale is what the product must hold: 100 customers, 1,000 instances and 10M audit
events, 1M of them on one instance.

Run it from the repository root::

    .venv/bin/python benchmarks/analytics.py                  # full scale, both engines
    .venv/bin/python benchmarks/analytics.py --scale 0.02     # a quick look (200k events)
    .venv/bin/python benchmarks/analytics.py --scale 0.5 --reuse   # build once, keep, reuse
    .venv/bin/python benchmarks/analytics.py --scale 0.5 --drop    # remove the kept databases

The databases
    Two per engine, built with the demo generator (``kaiten.demo.build``,
    90 days of history, seed 7): **full** is the full scale times ``--scale`` — 100 customers, 1,000
    instances, 9M fleet events plus 1M on the big instance ``megacorp-prod`` (10M in all) at
    scale 1 — and **tenth** has a tenth of those events (the big instance 100k at scale 1),
    same fleet. The generator runs every event through the metering ledger and is Python-bound
    (some 6–8k events/s on a 2-core machine: about 25 minutes per engine at scale 1), hence
    ``--scale``. Without ``--reuse`` the databases are built fresh and removed at the end; with
    ``--reuse`` the ones kept by an earlier ``--reuse`` run of the same scale are used (those
    missing are built) and all are kept: SQLite files ``analytics_{full,tenth}_<scale>.db`` in
    ``--data-dir`` (default ``benchmarks/.data/``, git-ignored), PostgreSQL schemas
    ``bench_analytics_full_<scale>`` / ``bench_analytics_tenth_<scale>`` in the database of
    ``--postgres-url`` (default ``$KAITEN_BENCH_POSTGRES_URL``, else
    ``postgresql+psycopg://postgres@127.0.0.1:5432/test``; SQLite alone when unreachable).
    ``--drop`` removes the kept databases of ``--scale`` and exits; ``--build-only`` builds
    (and keeps) them without measuring.

What is measured, on the big instance, per engine
    * **stats**: ``kaiten.audit.stats(inst, tz="Europe/Berlin")`` (Total, Accepted, Rejected,
      Today since local midnight);
    * **timeline 30d**: ``kaiten.audit.timeline(inst, tz="Europe/Berlin", days=30)``;
    * **value (2000 pts)**: ``kaiten.audit.value_over_time(inst, <busiest NUMBER entitlement>,
      max_points=2000)``;
    * **event log p.1**: ``kaiten.audit.events(inst, limit=50)`` plus ``kaiten.audit.count``,
      what the console's event log shows first.

    Figures, all wall times in ms, medians:
    * **library full / tenth**: ``--repeat`` calls after one warm-up call, full and tenth
      alternately (the same load for both), in a fresh subprocess per engine, which also
      reports its peak RSS (``ru_maxrss``): the memory a process answering these queries on
      both databases needs (interpreter, pandas and SQLAlchemy included; target < 300 MB);
    * **growth** = library full / library tenth: the cost of 10× the events (target ≤ 1.5);
    * **raw scan**: the same answers computed straight from ``feature_audit_trail`` in SQL —
      ``COUNT`` with ``CASE`` for the stats, ``GROUP BY`` local day for the timeline
      (``AT TIME ZONE`` on PostgreSQL, the zone's UTC offsets as a ``CASE`` on SQLite), the
      accepted reports' ``aggregate_after`` downsampled with ``ntile(1000)`` + MIN/MAX (2000
      points), ``ORDER BY created_at DESC LIMIT 50`` + ``COUNT(*)`` for the event log;
      ``--baseline-repeat`` runs after a warm-up, on both databases (**raw growth** shows that
      the scan grows with the events); **raw/library** = raw scan / library on the full
      database (target ≥ 30);
    * **pandas**: the naive notebook approach — ``pd.read_sql`` of the instance's events (the
      columns the question needs), then filter and group in pandas — run ``--pandas-runs``
      times (default 1: it is slow) on the full database in a fresh subprocess per query; its
      peak RSS is shown next to it.

    The answers are checked against each other in the same run: stats equal, timeline counts
    equal per day and category, the same first page and count, the same lowest and highest
    value over time (the downsampled series keep the extremes); the run prints "answers
    agree" or the differences.

Noise: absolute times depend on the machine and on what else runs on it (a shared 2-core
machine moves them by tens of percent from run to run, more while other jobs run); ratios
between figures measured in the same run are what to compare. ``--explain`` prints the plans
of the SQL each library call sends on the full database (``EXPLAIN ANALYZE`` on PostgreSQL,
``EXPLAIN QUERY PLAN`` on SQLite), for profiling a call that misses its target.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from bench_engines import add_engine_options, schema_url

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / ".data"

# full scale (1): 100 customers, 1,000 instances, 10M events of which 1M on one instance
CUSTOMERS, INSTANCES = 100, 1_000
FLEET_EVENTS, BIG_EVENTS = 9_000_000, 1_000_000
DAYS, SEED = 90, 7
BIG_INSTANCE = "megacorp-prod"  # kaiten_analytics.demo.build.BIG_INSTANCE
TZ = "Europe/Berlin"
TIMELINE_DAYS = 30
MAX_POINTS = 2000
PAGE = 50
RAW_WINDOWS = MAX_POINTS // 2  # ntile windows, each giving its MIN and MAX

TARGET_RATIO, TARGET_GROWTH, TARGET_RSS_MB = 30.0, 1.5, 300.0
META_TABLE = "bench_analytics_build"  # one row, written when a build completed

VALUE_GET = "kaiten.v1.entitlement.value.get"
USAGE_ACCEPTED = "kaiten.v1.entitlement.usage.report.accepted"
USAGE_REJECTED = "kaiten.v1.entitlement.usage.report.rejected"
CATEGORY = {VALUE_GET: "Read", USAGE_ACCEPTED: "Accepted", USAGE_REJECTED: "Rejected"}
CATEGORIES = ("Read", "Accepted", "Rejected")

QUERIES = ("stats", "timeline", "value", "events")
LABELS = {"stats": "stats", "timeline": f"timeline {TIMELINE_DAYS}d",
          "value": f"value ({MAX_POINTS} pts)", "events": "event log p.1"}


# --- databases ------------------------------------------------------------------------------------
@dataclass
class BenchDatabase:
    """One database under test: engine, size (full or tenth), where it lives, what it holds."""

    engine: str  # "sqlite" or "postgresql"
    size: str  # "full" or "tenth"
    url: str  # SQLAlchemy URL (what ka.connect takes)
    fleet_events: int
    big_events: int
    location: str  # file path or schema name, for messages
    admin_url: str = ""  # PostgreSQL: the URL without the search_path
    schema: str = ""
    build_seconds: float | None = None
    reused: bool = False

    @property
    def name(self) -> str:
        return f"{self.engine} {self.size}"


def scale_label(scale: float) -> str:
    """``1`` → ``"1"``, ``0.02`` → ``"0_02"``: a name part for files and schemas."""
    return f"{scale:g}".replace(".", "_").replace("-", "m")


def sizes(scale: float) -> dict[str, tuple[int, int]]:
    """(fleet events, big-instance events) of the full and the tenth database at ``scale``."""
    fleet, big = round(FLEET_EVENTS * scale), round(BIG_EVENTS * scale)
    return {"full": (fleet, big), "tenth": (round(fleet / 10), round(big / 10))}


def sqlite_databases(data_dir: Path, scale: float) -> list[BenchDatabase]:
    """The SQLite files of ``scale`` in ``data_dir`` (not created here)."""
    label = scale_label(scale)
    result = []
    for size, (fleet, big) in sizes(scale).items():
        path = data_dir / f"analytics_{size}_{label}.db"
        result.append(BenchDatabase("sqlite", size, f"sqlite:///{path}", fleet, big, str(path)))
    return result


def postgres_databases(admin_url: str, scale: float) -> list[BenchDatabase]:
    """The PostgreSQL schemas of ``scale`` (not created here); raises when unreachable."""
    admin = sa.create_engine(admin_url, poolclass=sa.pool.NullPool,
                             connect_args={"connect_timeout": 5})
    with admin.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    admin.dispose()
    label = scale_label(scale)
    result = []
    for size, (fleet, big) in sizes(scale).items():
        schema = f"bench_analytics_{size}_{label}"
        url = schema_url(admin_url, schema)
        result.append(BenchDatabase("postgresql", size, url.render_as_string(hide_password=False),
                                    fleet, big, f"schema {schema}", admin_url=admin_url,
                                    schema=schema))
    return result


def drop(database: BenchDatabase) -> None:
    """Remove the database (SQLite file and its WAL, or the PostgreSQL schema)."""
    if database.engine == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(database.location + suffix).unlink(missing_ok=True)
        return
    admin = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE'))
    admin.dispose()


def completed_build(database: BenchDatabase) -> float | None:
    """Return the build time recorded by a completed build of this size, else None."""
    if database.engine == "sqlite" and not Path(database.location).exists():
        return None
    engine = sa.create_engine(database.url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(META_TABLE):
                return None
            row = connection.execute(sa.text(
                f"SELECT fleet_events, big_events, seconds FROM {META_TABLE}")).first()
    finally:
        engine.dispose()
    if row is None or (row[0], row[1]) != (database.fleet_events, database.big_events):
        return None
    return float(row[2])


def build(database: BenchDatabase) -> None:
    """Create the database afresh and fill it with the demo generator; record the build."""
    import kaiten_analytics as ka

    drop(database)
    if database.engine == "sqlite":
        Path(database.location).parent.mkdir(parents=True, exist_ok=True)
    else:
        admin = sa.create_engine(database.admin_url, poolclass=sa.pool.NullPool)
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{database.schema}"'))
        admin.dispose()
    print(f"building {database.name} ({database.location}): {CUSTOMERS} customers, "
          f"{INSTANCES} instances, {database.fleet_events:,} fleet events + "
          f"{database.big_events:,} on {BIG_INSTANCE}", file=sys.stderr, flush=True)
    started = time.monotonic()
    kaiten = ka.connect(database.url)
    try:
        summary = kaiten.demo.build(customers=CUSTOMERS, instances=INSTANCES,
                                    events=database.fleet_events,
                                    big_instance_events=database.big_events, days=DAYS,
                                    seed=SEED, progress=True)
        seconds = time.monotonic() - started
        with kaiten.db.engine.begin() as connection:
            connection.execute(sa.text(
                f"CREATE TABLE {META_TABLE} (fleet_events BIGINT, big_events BIGINT,"
                " seconds FLOAT, built_at VARCHAR(40), summary VARCHAR(200))"))
            connection.execute(sa.text(
                f"INSERT INTO {META_TABLE} VALUES (:fleet, :big, :seconds, :at, :summary)"),
                {"fleet": database.fleet_events, "big": database.big_events, "seconds": seconds,
                 "at": datetime.now(UTC).isoformat(timespec="seconds"), "summary": summary})
    finally:
        kaiten.close()
    if database.engine == "postgresql":
        admin = sa.create_engine(database.url, poolclass=sa.pool.NullPool)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))
        admin.dispose()
    database.build_seconds = seconds
    rate = (database.fleet_events + database.big_events) / seconds
    print(f"  {summary} — built in {seconds:.0f} s ({rate:,.0f} events/s)", file=sys.stderr,
          flush=True)


def prepare(database: BenchDatabase, reuse: bool) -> None:
    """Reuse the database when asked and complete, else build it."""
    if reuse:
        seconds = completed_build(database)
        if seconds is not None:
            database.build_seconds, database.reused = seconds, True
            print(f"reusing {database.name} ({database.location}, built in {seconds:.0f} s)",
                  file=sys.stderr, flush=True)
            return
    build(database)


# --- the questions, their time zone arithmetic ----------------------------------------------------
@dataclass(frozen=True)
class Subject:
    """What the queries are about, resolved once per database."""

    instance: str
    instance_id: int
    entitlement: str  # the big instance's busiest NUMBER entitlement
    entitlement_id: int


def subject_of(engine: sa.Engine) -> Subject:
    """Resolve the big instance and its busiest NUMBER entitlement (from the daily rollup)."""
    with engine.connect() as connection:
        instance_id = connection.execute(sa.text("SELECT id FROM instances WHERE slug = :slug"),
                                         {"slug": BIG_INSTANCE}).scalar_one()
        slug, entitlement_id = connection.execute(sa.text(
            "SELECT e.slug, e.id FROM audit_rollup_day r JOIN entitlements e"
            " ON e.id = r.entitlement_id WHERE r.instance_id = :i AND e.type = 'NUMBER'"
            " GROUP BY e.slug, e.id ORDER BY SUM(r.accepted) DESC, e.slug LIMIT 1"),
            {"i": instance_id}).one()
    return Subject(BIG_INSTANCE, instance_id, slug, entitlement_id)


def local_midnight(day: date, tz: str) -> datetime:
    """The UTC instant at which local ``day`` begins in ``tz``."""
    return datetime.combine(day, clock_time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def local_days(now: datetime, tz: str, days: int) -> tuple[list[date], datetime, datetime]:
    """The ``days`` local dates ending today, and the UTC instants they start and end at."""
    today = now.astimezone(ZoneInfo(tz)).date()
    dates = [today - timedelta(days=days - 1 - n) for n in range(days)]
    return dates, local_midnight(dates[0], tz), local_midnight(today + timedelta(days=1), tz)


def offset_segments(start: datetime, end: datetime, tz: str) -> list[tuple[datetime, int]]:
    """The zone's UTC offset (minutes) over [start, end): (segment end, offset), in order."""
    zone, step = ZoneInfo(tz), timedelta(minutes=15)

    def offset(at: datetime) -> int:
        return int(at.astimezone(zone).utcoffset().total_seconds() // 60)

    segments, current, at = [], offset(start), start
    while at < end:
        if offset(at) != current:
            segments.append((at, current))
            current = offset(at)
        at += step
    segments.append((end, current))
    return segments


# --- answers in one comparable shape --------------------------------------------------------------
def timeline_answer(counts: dict[tuple[str, str], int], dates: list[date]) -> list[list[Any]]:
    """Every (day, category) of ``dates`` with its count, zero-filled."""
    return [[d.isoformat(), c, int(counts.get((d.isoformat(), c), 0))]
            for d in dates for c in CATEGORIES]


def value_answer(values: list[float]) -> dict[str, Any]:
    """A value-over-time series reduced to what every approach must agree on."""
    present = [float(v) for v in values if v is not None and not math.isnan(v)]
    return {"points": len(values), "min": min(present, default=None),
            "max": max(present, default=None)}


def compare(what: str, left: dict[str, Any], right: dict[str, Any], names: tuple[str, str]
            ) -> list[str]:
    """Return the differences between two answer sets (empty when they agree)."""
    problems = []
    for query in QUERIES:
        a, b = left.get(query), right.get(query)
        if a is None or b is None:
            continue
        if query == "value":
            for key in ("min", "max"):
                x, y = a[key], b[key]
                if (x is None) != (y is None) or (x is not None and not math.isclose(
                        x, y, rel_tol=1e-9, abs_tol=1e-9)):
                    problems.append(f"{what} value {key}: {names[0]} {x}, {names[1]} {y}")
            for name, answer in zip(names, (a, b), strict=True):
                if answer["points"] > MAX_POINTS:
                    problems.append(f"{what} value: {name} has {answer['points']} points")
        elif query == "timeline":
            diffs = [f"{x[0]} {x[1]}: {x[2]} vs {y[2]}" for x, y in zip(a, b, strict=False)
                     if x != y]
            if len(a) != len(b) or diffs:
                problems.append(f"{what} timeline ({names[0]} vs {names[1]}, {len(a)} vs "
                                f"{len(b)} rows): " + "; ".join(diffs[:5]))
        elif a != b:
            problems.append(f"{what} {query}: {names[0]} {a} vs {names[1]} {b}")
    return problems


# --- library (in a fresh subprocess per database) -------------------------------------------------
def timed(call: Callable[[], Any], repeat: int, warmup: int = 1) -> tuple[list[float], Any]:
    """Call ``warmup`` then ``repeat`` times; return the timed seconds and the last result."""
    result = None
    for _ in range(warmup):
        result = call()
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def library_worker(urls: dict[str, str], repeat: int, explain: bool) -> dict[str, Any]:
    """Time the four library calls on each of ``urls`` (size -> URL), alternately.

    Runs in its own process, so that the peak RSS it reports is the library's alone. For each
    query: one warm-up call per database, then ``repeat`` rounds of one timed call per
    database, so that both sizes are measured under the same load.
    """
    import kaiten_analytics as ka

    clients = {size: ka.connect(url, migrate=False) for size, url in urls.items()}
    try:
        subjects = {size: subject_of(kaiten.db.engine) for size, kaiten in clients.items()}
        calls = {size: _library_calls(kaiten, subjects[size]) for size, kaiten in clients.items()}
        times: dict[str, dict[str, list[float]]] = {size: {} for size in urls}
        answers: dict[str, dict[str, Any]] = {size: {} for size in urls}
        for query in QUERIES:
            for size in urls:
                calls[size][query]()  # warm-up
                times[size][query] = []
            for _ in range(repeat):
                for size in urls:
                    times[size][query] += timed(calls[size][query], 1, warmup=0)[0]
        for size in urls:  # the answers, outside the timing
            for query in QUERIES:
                answers[size][query] = _library_answer(query, calls[size][query]())
        plans = {size: _explain(clients[size].db.engine, calls[size])
                 if explain and size == "full" else {} for size in urls}
    finally:
        for kaiten in clients.values():
            kaiten.close()
    return {"times": times, "answers": answers, "plans": plans,
            "entitlement": {size: subject.entitlement for size, subject in subjects.items()},
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _library_calls(kaiten: Any, subject: Subject) -> dict[str, Callable[[], Any]]:
    inst, audit = subject.instance, kaiten.audit
    return {
        "stats": lambda: audit.stats(inst, tz=TZ),
        "timeline": lambda: audit.timeline(inst, tz=TZ, days=TIMELINE_DAYS),
        "value": lambda: audit.value_over_time(inst, subject.entitlement, max_points=MAX_POINTS),
        "events": lambda: (audit.events(inst, limit=PAGE), audit.count(inst)),
    }


def _library_answer(query: str, result: Any) -> Any:
    if query == "stats":
        return {"total": result.total, "accepted": result.accepted, "rejected": result.rejected,
                "today": result.today}
    if query == "timeline":
        return [[d.isoformat(), c, int(n)] for d, c, n in
                result[["day", "category", "events"]].itertuples(index=False)]
    if query == "value":
        return value_answer(result["value"].tolist())
    page, count = result
    return {"ids": page["id"].tolist(), "count": count.count}


def _explain(engine: sa.Engine, calls: dict[str, Callable[[], Any]]) -> dict[str, list[str]]:
    """Capture the SQL each call sends and return its plans."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        captured.append((statement, parameters))

    plans: dict[str, list[str]] = {}
    for query, call in calls.items():
        captured.clear()
        sa.event.listen(engine, "before_cursor_execute", capture)
        try:
            call()
        finally:
            sa.event.remove(engine, "before_cursor_execute", capture)
        statements = list(captured)
        lines: list[str] = []
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement, parameters in statements:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                if engine.dialect.name == "postgresql":
                    prefix = "EXPLAIN (ANALYZE, BUFFERS) "
                else:
                    prefix = "EXPLAIN QUERY PLAN "
                cursor.execute(prefix + statement, parameters)
                plan = [" | ".join(str(c) for c in row) for row in cursor.fetchall()]
                lines += ["SQL: " + " ".join(statement.split()), *("  " + p for p in plan)]
            cursor.close()
        finally:
            raw.close()
        plans[query] = lines
    return plans


def in_subprocess(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function(*args)`` in a freshly spawned process and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as executor:
        return executor.submit(function, *args).result()


# --- raw SQL scans of feature_audit_trail ---------------------------------------------------------
def _bind(name: str) -> sa.BindParameter:
    from kaiten_analytics.db.types import UTCDateTime

    return sa.bindparam(name, type_=UTCDateTime)


def raw_queries(engine: sa.Engine, subject: Subject, now: datetime
                ) -> dict[str, Callable[[sa.Connection], Any]]:
    """The four answers computed straight from the audit trail, each one function."""
    postgres = engine.dialect.name == "postgresql"
    i, e = subject.instance_id, subject.entitlement_id
    _, today_start, today_end = local_days(now, TZ, 1)
    dates, start, end = local_days(now, TZ, TIMELINE_DAYS)

    stats_sql = sa.text(
        "SELECT COUNT(*),"
        " SUM(CASE WHEN event_name = :accepted THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN event_name = :rejected THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN created_at >= :t0 AND created_at < :t1 THEN 1 ELSE 0 END)"
        " FROM feature_audit_trail WHERE instance_id = :i"
    ).bindparams(_bind("t0"), _bind("t1"))

    def stats(connection: sa.Connection) -> dict[str, int]:
        row = connection.execute(stats_sql, {"accepted": USAGE_ACCEPTED,
                                             "rejected": USAGE_REJECTED, "t0": today_start,
                                             "t1": today_end, "i": i}).one()
        total, accepted, rejected, today = (int(v or 0) for v in row)
        return {"total": total, "accepted": accepted, "rejected": rejected, "today": today}

    if postgres:
        local_day = "CAST(date_trunc('day', created_at AT TIME ZONE :tz) AS date)"
    else:  # SQLite has no time zones: the zone's offsets over the range, as a CASE
        segments = offset_segments(start, end, TZ)
        whens = " ".join(f"WHEN created_at < :s{n} THEN '{offset:+d} minutes'"
                         for n, (_, offset) in enumerate(segments[:-1]))
        modifier = (f"CASE {whens} ELSE '{segments[-1][1]:+d} minutes' END" if whens
                    else f"'{segments[-1][1]:+d} minutes'")
        local_day = f"date(created_at, {modifier})"
    timeline_sql = sa.text(
        f"SELECT {local_day} AS day, event_name, COUNT(*) FROM feature_audit_trail"
        " WHERE instance_id = :i AND created_at >= :start AND created_at < :end"
        " GROUP BY 1, 2"
    ).bindparams(_bind("start"), _bind("end"))
    timeline_params: dict[str, Any] = {"i": i, "start": start, "end": end}
    if postgres:
        timeline_params["tz"] = TZ
    else:
        for n, (until, _) in enumerate(segments[:-1]):
            timeline_sql = timeline_sql.bindparams(_bind(f"s{n}"))
            timeline_params[f"s{n}"] = until

    def timeline(connection: sa.Connection) -> list[list[Any]]:
        counts: dict[tuple[str, str], int] = {}
        for day, event_name, count in connection.execute(timeline_sql, timeline_params):
            key = (str(day)[:10], CATEGORY[event_name])
            counts[key] = counts.get(key, 0) + int(count)
        return timeline_answer(counts, dates)

    value_of = ("CAST(payload ->> 'aggregate_after' AS DOUBLE PRECISION)" if postgres
                else "CAST(json_extract(payload, '$.aggregate_after') AS REAL)")
    value_sql = sa.text(
        f"WITH points AS (SELECT created_at, {value_of} AS value,"
        f" ntile({RAW_WINDOWS}) OVER (ORDER BY created_at, id) AS w FROM feature_audit_trail"
        " WHERE instance_id = :i AND entitlement_id = :e AND event_name = :accepted)"
        " SELECT w, MIN(created_at), MIN(value), MAX(value) FROM points GROUP BY w ORDER BY w")

    def value(connection: sa.Connection) -> dict[str, Any]:
        rows = connection.execute(value_sql, {"i": i, "e": e,
                                              "accepted": USAGE_ACCEPTED}).all()
        return value_answer([v for row in rows for v in (row[2], row[3])])

    page_sql = sa.text(
        "SELECT t.id, t.event_name, e.slug, t.status, t.payload, t.created_at"
        " FROM feature_audit_trail t JOIN entitlements e ON e.id = t.entitlement_id"
        " WHERE t.instance_id = :i ORDER BY t.created_at DESC, t.id DESC LIMIT :limit")
    count_sql = sa.text("SELECT COUNT(*) FROM feature_audit_trail WHERE instance_id = :i")

    def events(connection: sa.Connection) -> dict[str, Any]:
        page = connection.execute(page_sql, {"i": i, "limit": PAGE}).all()
        count = connection.execute(count_sql, {"i": i}).scalar_one()
        return {"ids": [row[0] for row in page], "count": int(count)}

    return {"stats": stats, "timeline": timeline, "value": value, "events": events}


def measure_raw(url: str, repeat: int) -> dict[str, Any]:
    """Time the raw SQL answers on ``url`` (in this process)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        subject = subject_of(engine)
        queries = raw_queries(engine, subject, datetime.now(UTC))
        times, answers = {}, {}
        with engine.connect() as connection:
            for query, function in queries.items():
                times[query], answers[query] = timed(lambda f=function: f(connection), repeat)
                connection.rollback()
    finally:
        engine.dispose()
    return {"times": times, "answers": answers}


# --- naive pandas (in a fresh subprocess per query) -----------------------------------------------
def pandas_worker(url: str, query: str, runs: int) -> dict[str, Any]:
    """Read the instance's events with ``pd.read_sql`` and answer ``query`` in pandas."""
    import numpy as np
    import pandas as pd

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    subject = subject_of(engine)
    params = {"i": subject.instance_id, "e": subject.entitlement_id}

    def read(sql: str, **extra: Any) -> pd.DataFrame:
        with engine.connect() as connection:
            df = pd.read_sql(sa.text(sql), connection, params={**params, **extra})
        if "created_at" in df:
            df["created_at"] = pd.to_datetime(df["created_at"], utc=True, format="ISO8601")
        return df

    def stats() -> dict[str, int]:
        df = read("SELECT event_name, created_at FROM feature_audit_trail WHERE instance_id = :i")
        _, t0, t1 = local_days(datetime.now(UTC), TZ, 1)
        today = (df["created_at"] >= pd.Timestamp(t0)) & (df["created_at"] < pd.Timestamp(t1))
        return {"total": len(df), "accepted": int((df["event_name"] == USAGE_ACCEPTED).sum()),
                "rejected": int((df["event_name"] == USAGE_REJECTED).sum()),
                "today": int(today.sum())}

    def timeline() -> list[list[Any]]:
        df = read("SELECT event_name, created_at FROM feature_audit_trail WHERE instance_id = :i")
        dates, start, end = local_days(datetime.now(UTC), TZ, TIMELINE_DAYS)
        df = df[(df["created_at"] >= pd.Timestamp(start)) & (df["created_at"] < pd.Timestamp(end))]
        day = df["created_at"].dt.tz_convert(TZ).dt.strftime("%Y-%m-%d")
        counts = df.groupby([day, df["event_name"].map(CATEGORY)]).size()
        return timeline_answer({key: int(n) for key, n in counts.items()}, dates)

    def value() -> dict[str, Any]:
        df = read("SELECT created_at, id, event_name, payload FROM feature_audit_trail"
                  " WHERE instance_id = :i AND entitlement_id = :e")
        df = df[df["event_name"] == USAGE_ACCEPTED].sort_values(["created_at", "id"])
        payload = df["payload"].map(lambda p: json.loads(p) if isinstance(p, str) else p)
        values = payload.map(lambda p: p["aggregate_after"]).astype("float64")
        window = np.arange(len(values)) * RAW_WINDOWS // max(len(values), 1)
        grouped = values.groupby(window).agg(["min", "max"])
        return value_answer([*grouped["min"].tolist(), *grouped["max"].tolist()])

    def events() -> dict[str, Any]:
        df = read("SELECT t.id, t.event_name, e.slug AS entitlement, t.status, t.payload,"
                  " t.created_at FROM feature_audit_trail t JOIN entitlements e"
                  " ON e.id = t.entitlement_id WHERE t.instance_id = :i")
        page = df.sort_values(["created_at", "id"], ascending=False).head(PAGE)
        return {"ids": page["id"].tolist(), "count": len(df)}

    function = {"stats": stats, "timeline": timeline, "value": value, "events": events}[query]
    try:
        seconds, answer = timed(function, runs, warmup=0)
    finally:
        engine.dispose()
    return {"times": seconds, "answer": answer,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# --- the run --------------------------------------------------------------------------------------
def ms(seconds: list[float]) -> float:
    """Median of ``seconds`` in milliseconds."""
    return statistics.median(seconds) * 1000


def run_engine(full: BenchDatabase, tenth: BenchDatabase, args: argparse.Namespace
               ) -> tuple[str, list[str]]:
    """Measure one engine; return its table and the answers' differences."""
    engine = full.engine
    step = f"[{engine}]"
    print(f"{step} library on full and tenth", file=sys.stderr, flush=True)
    library = in_subprocess(library_worker, {"full": full.url, "tenth": tenth.url},
                            args.repeat, args.explain)
    lib_full, lib_tenth = ({"times": library["times"][size], "answers": library["answers"][size]}
                           for size in ("full", "tenth"))
    print(f"{step} raw SQL scans on full and tenth", file=sys.stderr, flush=True)
    raw_full = measure_raw(full.url, args.baseline_repeat)
    raw_tenth = measure_raw(tenth.url, args.baseline_repeat)
    pandas: dict[str, dict[str, Any]] = {}
    if args.pandas_runs:
        for query in QUERIES:
            print(f"{step} pandas {query} on full", file=sys.stderr, flush=True)
            pandas[query] = in_subprocess(pandas_worker, full.url, query, args.pandas_runs)

    problems = (compare(f"{engine} full", lib_full["answers"], raw_full["answers"],
                        ("library", "raw"))
                + compare(f"{engine} tenth", lib_tenth["answers"], raw_tenth["answers"],
                          ("library", "raw"))
                + compare(f"{engine} full", {q: p["answer"] for q, p in pandas.items()},
                          raw_full["answers"], ("pandas", "raw")))

    header = (f"{'query':<17} {'lib full':>9} {'lib tenth':>9} {'growth':>6} {'raw scan':>9} "
              f"{'raw/lib':>8} {'raw growth':>10} {'pandas':>9} {'pandas/lib':>10} "
              f"{'pandas RSS':>10}")
    lines = [f"{engine}: big instance {BIG_INSTANCE} — full "
             f"{full.big_events:,} events ({full.fleet_events + full.big_events:,} in the "
             f"database), tenth {tenth.big_events:,} ({tenth.fleet_events + tenth.big_events:,}); "
             f"value over time of {library['entitlement']['full']}; times in ms",
             header, "-" * len(header)]
    for query in QUERIES:
        lf, lt = ms(lib_full["times"][query]), ms(lib_tenth["times"][query])
        rf, rt = ms(raw_full["times"][query]), ms(raw_tenth["times"][query])
        if query in pandas:
            pf = ms(pandas[query]["times"])
            pandas_cells = (f"{pf:>9.0f} {_ratio(pf / lf):>10} "
                            f"{pandas[query]['rss_mb']:>7.0f} MB")
        else:
            pandas_cells = f"{'-':>9} {'-':>10} {'-':>10}"
        lines.append(f"{LABELS[query]:<17} {lf:>9.1f} {lt:>9.1f} {lf / lt:>6.2f} {rf:>9.1f} "
                     f"{_ratio(rf / lf):>8} {_ratio(rf / rt):>10} {pandas_cells}")
    growths = [ms(lib_full["times"][q]) / ms(lib_tenth["times"][q]) for q in QUERIES]
    ratios = [ms(raw_full["times"][q]) / ms(lib_full["times"][q]) for q in QUERIES]
    rss = library["rss_mb"]
    lines += [
        f"peak RSS of the process making the library calls (both databases): {rss:.0f} MB",
        f"targets: raw/lib >= {TARGET_RATIO:g} ({_met(min(ratios) >= TARGET_RATIO)}, lowest "
        f"{min(ratios):.0f}), growth <= {TARGET_GROWTH:g} ({_met(max(growths) <= TARGET_GROWTH)}"
        f", highest {max(growths):.2f}), RSS < {TARGET_RSS_MB:g} MB "
        f"({_met(rss < TARGET_RSS_MB)}, {rss:.0f} MB)",
    ]
    for query, plan in library["plans"]["full"].items():
        lines += [f"plans of {LABELS[query]} ({engine} full):", *("  " + p for p in plan)]
    return "\n".join(lines), problems


def _ratio(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="events as a share of the full scale's 10M (default 1); the tenth "
                             "database always has a tenth of these")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the databases kept by an earlier --reuse run (build the "
                             "missing ones) and keep them")
    parser.add_argument("--drop", action="store_true",
                        help="remove the kept databases of --scale and exit")
    parser.add_argument("--build-only", action="store_true",
                        help="build (or reuse) and keep the databases, measure nothing")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="where the SQLite files go (default benchmarks/.data/)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed library calls per query, after a warm-up (default 5)")
    parser.add_argument("--baseline-repeat", type=int, default=3,
                        help="timed raw SQL scans per query, after a warm-up (default 3)")
    parser.add_argument("--pandas-runs", type=int, default=1,
                        help="runs of the pandas approach per query, 0 to skip (default 1)")
    parser.add_argument("--explain", action="store_true",
                        help="print the plans of the SQL the library sends (full database)")
    add_engine_options(parser)
    args = parser.parse_args(argv)
    if args.scale <= 0 or args.repeat < 1 or args.baseline_repeat < 1 or args.pandas_runs < 0:
        parser.error("--scale, --repeat and --baseline-repeat must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the databases, measure, print the tables; return the exit status."""
    args = parse_args(argv)
    engines: list[list[BenchDatabase]] = []
    if not args.postgres_only:
        engines.append(sqlite_databases(args.data_dir, args.scale))
    if not args.sqlite_only:
        try:
            engines.append(postgres_databases(args.postgres_url, args.scale))
        except Exception as exc:
            print(f"PostgreSQL is unreachable at {args.postgres_url} "
                  f"({type(exc).__name__}: {str(exc).strip().splitlines()[0]})", file=sys.stderr)
            if args.postgres_only:
                return 1
            print("running SQLite only", file=sys.stderr)
    databases = [database for pair in engines for database in pair]
    if args.drop:
        for database in databases:
            drop(database)
            print(f"dropped {database.name} ({database.location})", file=sys.stderr)
        return 0

    keep = args.reuse or args.build_only
    started = time.monotonic()
    tables, problems = [], []
    try:
        for database in databases:
            prepare(database, reuse=keep)
        if args.build_only:
            return 0
        print(f"measuring: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
              file=sys.stderr, flush=True)
        for full, tenth in engines:
            table, differences = run_engine(full, tenth, args)
            tables.append(table)
            problems += differences
    finally:
        if not keep:
            for database in databases:
                drop(database)
    print()
    print(f"Analytics on the full-scale database at scale {args.scale:g}: median of {args.repeat} "
          f"library calls, {args.baseline_repeat} raw scans, {args.pandas_runs} pandas run(s) "
          f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
          f"{time.monotonic() - started:.0f} s)")
    print("growth = library full / tenth (target <= 1.5); raw/lib = raw scan / library on full "
          "(target >= 30); raw growth = raw scan full / tenth")
    for database in databases:
        how = "reused, built" if database.reused else "built"
        print(f"  {database.name}: {database.fleet_events + database.big_events:,} events, "
              f"{how} in {database.build_seconds or 0:.0f} s")
    for table in tables:
        print()
        print(table)
    print()
    if problems:
        print("ANSWERS DIFFER:", *problems, sep="\n  ")
        return 1
    compared = "library, raw SQL and pandas" if args.pandas_runs else "library and raw SQL"
    print(f"answers agree ({compared}: stats, timeline per day and category, value extremes, "
          "first page and count)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
