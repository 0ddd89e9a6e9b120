"""Warehouse benchmark: the ClickHouse mirror (embedded chDB engine) against PostgreSQL.

Run it from the repository root::

    .venv/bin/python benchmarks/warehouse.py            # 1M-event instance, 10M/100M warehouses
    .venv/bin/python benchmarks/warehouse.py --small    # a quick look (minutes less)

What it does, in one run (so the ratios compare like with like on a noisy machine):

1. **System of record**: a PostgreSQL schema built with the demo generator — 100 customers,
   1,000 instances, ``--fleet-events`` fleet events plus ``--big-events`` on the big instance
   ``megacorp-prod`` (default 1M + 1M). ``--source-url`` uses an existing database instead
   (kept); the built schema is dropped at the end unless ``--keep``.
2. **Sync**: ``kaiten.warehouse.sync()`` copies the whole trail into an empty embedded
   warehouse: events/s over the whole copy; then ``kaiten.warehouse.verify()`` (must agree).
3. **Reads on the 1M-event instance**, PostgreSQL's rollups vs the warehouse, through the same
   library calls: ``audit.stats(tz="Europe/Berlin")``, ``audit.timeline(days=30)``,
   ``audit.value_over_time(max_points=2000)`` and the event log's first page with its count
   (``audit.events(limit=50)`` + ``audit.count``). Medians of ``--repeat`` calls after one
   warm-up; the answers must be equal.
4. **Warehouses of 10M and 100M events generated inside ClickHouse** (``INSERT … SELECT …
   FROM numbers()``, then each rollup one ``INSERT … SELECT … GROUP BY``; 100M in a few
   minutes on 2 cores): 1,000 instances, a tenth of the events on instance 1 (1M and 10M), 6
   entitlements, 90 days. The same library calls run against each (a small SQLite catalogue
   holds the slugs); **growth** = 100M / 10M (target ≤ 1.5, every call < 100 ms).
5. **Rollups: recomputed ReplacingMergeTree (read with FINAL) vs materialized views vs
   direct**: on the same generated warehouses, stats and the 30-day timeline answered from
   SummingMergeTree tables (filled from the generated rollups, then fed by materialized
   views), and straight from the trail (``countIf``; ``toDate(created_at,
   'Europe/Berlin')``), next to the product's rollups.

``--small``: 100k + 50k events in the system of record, 100k and 1M generated warehouses.
``--data-dir`` keeps the engine (and reuses its generated warehouses on the next run);
``--generated-only`` runs 4. and 5. alone.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

import kaiten_analytics as ka
from kaiten_analytics.analytics.local_days import day_plan, last_days
from kaiten_analytics.db import warehouse as mirror
from kaiten_analytics.events import USAGE_ACCEPTED, USAGE_REJECTED, VALUE_GET

BIG_INSTANCE = "megacorp-prod"
TZ = "Europe/Berlin"
TIMELINE_DAYS = 30
MAX_POINTS = 2000
PAGE = 50
DAYS = 90
#: the generated warehouses end here (their "now")
GENERATED_END = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
TARGET_GROWTH, TARGET_MS = 1.5, 100.0


def timed_together(calls: dict[str, Callable[[], Any]], repeat: int
                   ) -> dict[str, tuple[float, Any]]:
    """One warm-up each, then ``repeat`` rounds calling each once in turn (the same load for
    all); return each call's median in ms and its last answer."""
    answers = {name: call() for name, call in calls.items()}
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            started = time.perf_counter()
            answers[name] = call()
            seconds[name].append(time.perf_counter() - started)
    return {name: (statistics.median(seconds[name]) * 1000, answers[name]) for name in calls}


def settle(warehouse: mirror.Warehouse, limit: float = 300.0) -> float:
    """Wait until the engine's background merges of this database are done; return seconds."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        merges = warehouse.rows("SELECT count() FROM system.merges WHERE database = {d:String}",
                                {"d": warehouse.database})[0][0]
        if not merges:
            break
        time.sleep(1)
    return time.perf_counter() - started


def library_calls(kaiten: ka.Kaiten, instance: str, entitlement: str
                  ) -> dict[str, Callable[[], Any]]:
    audit = kaiten.audit
    return {
        "stats": lambda: audit.stats(instance, tz=TZ),
        "timeline 30d": lambda: audit.timeline(instance, tz=TZ, days=TIMELINE_DAYS),
        "value (2000 pts)": lambda: audit.value_over_time(instance, entitlement,
                                                          max_points=MAX_POINTS),
        "event log p.1": lambda: (audit.events(instance, limit=PAGE), audit.count(instance)),
    }


def same(left: Any, right: Any) -> bool:
    if isinstance(left, tuple):
        return all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(left.drop(columns="id", errors="ignore"),
                                          right.drop(columns="id", errors="ignore"),
                                          check_exact=False, rtol=1e-9)
        except AssertionError:
            return False
        return True
    return left == right


# --- 1. the system of record ------------------------------------------------------------------

def schema_url(admin_url: str, schema: str) -> str:
    url = sa.make_url(admin_url)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False)


def build_source(admin_url: str, fleet_events: int, big_events: int) -> tuple[str, str]:
    schema = f"bench_warehouse_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = schema_url(admin_url, schema)
    kaiten = ka.connect(url)
    started = time.perf_counter()
    print(kaiten.demo.build(customers=100, instances=1_000, events=fleet_events,
                            big_instance_events=big_events, days=DAYS, progress=True),
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    kaiten.close()
    return url, schema


def drop_schema(admin_url: str, schema: str) -> None:
    admin = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def busiest_number_entitlement(kaiten: ka.Kaiten, instance: str) -> str:
    summary = kaiten.usage.summary(instance)
    summary = summary[summary["type"] == "NUMBER"]
    return str(summary.sort_values("event_count", ascending=False)["entitlement"].iloc[0])


# --- 4. generated warehouses ------------------------------------------------------------------

_MV_TABLES = {
    "day": ("day", "intDiv(toUnixTimestamp(created_at), 86400)"),
    "15m": ("bucket", "intDiv(toUnixTimestamp(created_at), 900)"),
}


def create_view_tables(warehouse: mirror.Warehouse) -> None:
    """SummingMergeTree rollups of the counts (the materialized views' tables)."""
    for name, (period, _) in _MV_TABLES.items():
        warehouse.command(
            f"CREATE TABLE IF NOT EXISTS {{db}}.mv_rollup_{name} (instance_id UInt32, "
            f"entitlement_id UInt32, {period} Int64, reads UInt64, accepted UInt64, "
            "rejected UInt64) ENGINE = SummingMergeTree "
            f"ORDER BY (instance_id, entitlement_id, {period})")


def create_views(warehouse: mirror.Warehouse) -> None:
    """The materialized views feeding those tables from every later insert (the alternative)."""
    for name, (period, expression) in _MV_TABLES.items():
        warehouse.command(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mv_{name} TO {{db}}.mv_rollup_{name} "
            f"AS SELECT instance_id, entitlement_id, {expression} AS {period}, "
            f"countIf(event_name = '{VALUE_GET}') AS reads, "
            f"countIf(event_name = '{USAGE_ACCEPTED}') AS accepted, "
            f"countIf(event_name = '{USAGE_REJECTED}') AS rejected "
            f"FROM {{db}}.audit_events GROUP BY instance_id, entitlement_id, {period}")


#: events per INSERT … SELECT of the trail (a few blocks each: memory stays small)
CHUNK_EVENTS = 20_000_000
_GENERATE_SETTINGS = "SETTINGS max_insert_threads = 2, max_threads = 2"


def generate(warehouse: mirror.Warehouse, events: int) -> float:
    """Fill an empty warehouse with ``events`` over DAYS days; return the seconds it took.

    Everything runs inside the engine: the trail is ``INSERT … SELECT … FROM numbers()``
    (``CHUNK_EVENTS`` at a time); then the 15-minute rollup is one ``INSERT … SELECT …
    GROUP BY`` over the trail, the daily rollup one over the 15-minute rows, and the
    materialized-view alternative's SummingMergeTree tables are filled from the same rows
    (their views are created afterwards, so they do not run during the generation). The
    generated trail has no duplicate and no two events at one instant, so the rollups are
    taken without ``FINAL`` and ordered by ``created_at`` alone.
    """
    start = GENERATED_END.replace(hour=0) - timedelta(days=DAYS)
    start_s = int(start.timestamp())
    step_us = DAYS * 86_400 * 1_000_000 // events
    started = time.perf_counter()
    for first in range(0, events, CHUNK_EVENTS):
        count = min(CHUNK_EVENTS, events - first)
        warehouse.command(f"""
            INSERT INTO {{db}}.audit_events ({", ".join(mirror.EVENT_COLUMNS)})
            SELECT id, instance_id, entitlement_id, entitlement, event_name, status, payload,
                   created_at, value_after, threshold, reached
            FROM (
                SELECT number AS n, intHash32(n + 13) % 100 AS h,
                    leftPad(hex(n), 26, '0') AS id,
                    toUInt32(if(n % 10 = 0, 1, 2 + intHash32(n) % 999)) AS instance_id,
                    toUInt32(1 + intHash32(n + 7) % 6) AS entitlement_id,
                    concat('e', toString(entitlement_id)) AS entitlement,
                    multiIf(h < 20, '{VALUE_GET}', h < 90, '{USAGE_ACCEPTED}',
                            '{USAGE_REJECTED}') AS event_name,
                    if(h < 90, 'ACCEPTED', 'REJECTED') AS status,
                    concat('{{"value": ', toString(n % 97), ', "aggregate_after": ',
                           toString(n % 100003), '}}') AS payload,
                    fromUnixTimestamp64Micro(toInt64({start_s * 1_000_000} + n * {step_us}),
                                             'UTC') AS created_at,
                    if(h >= 20 AND h < 90, toFloat64(n % 100003), NULL) AS value_after,
                    if(h >= 20 AND h < 90, 1e9, NULL) AS threshold,
                    toUInt8(h >= 20 AND h < 90 AND n % 1000003 = 0) AS reached
                FROM numbers({first}, {count})) {_GENERATE_SETTINGS}""")
        print(f"\r  generated {first + count:,} events", end="", flush=True)
    print(f" ({time.perf_counter() - started:.0f} s); rollups", end="", flush=True)
    warehouse.command(f"""
        INSERT INTO {{db}}.audit_rollup_15m
        SELECT instance_id, entitlement_id,
            intDiv(toUnixTimestamp(created_at), {mirror.BUCKET_SECONDS}) AS bucket,
            countIf(event_name = '{VALUE_GET}'), countIf(event_name = '{USAGE_ACCEPTED}'),
            countIf(event_name = '{USAGE_REJECTED}'),
            argMinIf(value_after, created_at, value_after IS NOT NULL),
            argMaxIf(value_after, created_at, value_after IS NOT NULL),
            minIf(value_after, value_after IS NOT NULL),
            maxIf(value_after, value_after IS NOT NULL),
            argMaxIf(threshold, created_at, value_after IS NOT NULL), sum(reached), now64(6)
        FROM {{db}}.audit_events GROUP BY instance_id, entitlement_id, bucket
        {_GENERATE_SETTINGS}""")
    warehouse.command(f"""
        INSERT INTO {{db}}.audit_rollup_day
        SELECT instance_id, entitlement_id, intDiv(bucket, {mirror.BUCKETS_PER_DAY}) AS day,
            sum(reads), sum(accepted), sum(rejected),
            argMaxIf(value_last, bucket, value_last IS NOT NULL), max(value_max), now64(6)
        FROM {{db}}.audit_rollup_15m GROUP BY instance_id, entitlement_id, day
        {_GENERATE_SETTINGS}""")
    for name, (period, _) in _MV_TABLES.items():
        source = ("intDiv(bucket, 96) AS day, " if period == "day" else "bucket, ")
        warehouse.command(
            f"INSERT INTO {{db}}.mv_rollup_{name} SELECT instance_id, entitlement_id, "
            f"{source}sum(reads), sum(accepted), sum(rejected) FROM {{db}}.audit_rollup_15m "
            f"GROUP BY instance_id, entitlement_id, {period}")
    create_views(warehouse)
    print(f" ({time.perf_counter() - started:.0f} s)")
    return time.perf_counter() - started


def generated_catalogue(path: Path) -> str:
    """A SQLite system of record naming instance 1 and entitlements e1..e6 (ids 1..6)."""
    path.unlink(missing_ok=True)  # a kept --data-dir holds the last run's
    url = f"sqlite:///{path}"
    kaiten = ka.connect(url, clock=lambda: GENERATED_END)
    kaiten.customers.create("gen", "Generated")
    for n in range(1, 7):
        kaiten.entitlements.create(f"e{n}", f"Entitlement {n}", aggregation_method="SUM")
    kaiten.licenses.create("gen", "Generated", {f"e{n}": 1e9 for n in range(1, 7)})
    kaiten.instances.create("gen", "Instance 1", "i1", "gen")
    kaiten.close()
    return url


def variant_calls(warehouse: mirror.Warehouse) -> dict[str, dict[str, Callable[[], Any]]]:
    """Stats and the timeline of instance 1 three ways: product rollups, MV rollups, direct."""
    today = last_days(GENERATED_END, TZ, 1)[0]
    days = last_days(GENERATED_END, TZ, TIMELINE_DAYS)
    plan = day_plan(days)
    buckets = [b for first, end in plan.bucket_ranges for b in range(first, end)]
    counts = "sum(reads), sum(accepted), sum(rejected)"

    def mv_stats():
        total = warehouse.rows(f"SELECT {counts} FROM {{db}}.mv_rollup_day "
                               "WHERE instance_id = 1")
        now = warehouse.rows("SELECT sum(reads + accepted + rejected) FROM {db}.mv_rollup_15m "
                             f"WHERE instance_id = 1 AND bucket >= {today.first_bucket} "
                             f"AND bucket < {today.end_bucket}")
        return total, now

    def mv_timeline():
        rows = warehouse.rows(
            f"SELECT 'day', day, {counts} FROM {{db}}.mv_rollup_day WHERE instance_id = 1 "
            f"AND day >= {min(plan.owners)} AND day <= {max(plan.owners)} GROUP BY day "
            f"UNION ALL SELECT 'bucket', bucket, {counts} FROM {{db}}.mv_rollup_15m "
            f"WHERE instance_id = 1 AND has({buckets}, bucket) GROUP BY bucket")
        found: dict[str, dict] = {"day": {}, "bucket": {}}
        for kind, period, *row in rows:
            found[kind][period] = row
        return plan.totals(found["day"], found["bucket"], len(days), 3)

    start, end = int(days[0].start.timestamp()), int(days[-1].end.timestamp())

    def direct_stats():
        return warehouse.rows(
            f"SELECT countIf(event_name = '{VALUE_GET}'), countIf(event_name = "
            f"'{USAGE_ACCEPTED}'), countIf(event_name = '{USAGE_REJECTED}'), "
            f"countIf(created_at >= toDateTime({int(today.start.timestamp())}, 'UTC')) "
            "FROM {db}.audit_events WHERE instance_id = 1")

    def direct_timeline():
        return warehouse.rows(
            f"SELECT toDate(created_at, '{TZ}') AS d, event_name, count() "
            "FROM {db}.audit_events WHERE instance_id = 1 "
            f"AND created_at >= toDateTime({start}, 'UTC') "
            f"AND created_at < toDateTime({end}, 'UTC') GROUP BY d, event_name")

    return {"materialized views (SummingMergeTree)": {"stats": mv_stats,
                                                      "timeline 30d": mv_timeline},
            "direct from the trail": {"stats": direct_stats, "timeline 30d": direct_timeline}}


# --- the run ----------------------------------------------------------------------------------

def table(rows: list[list[Any]], header: list[str]) -> str:
    widths = [max(len(str(r[n])) for r in [header, *rows]) for n in range(len(header))]
    lines = [" | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-|-".join("-" * w for w in widths))
    lines += [" | ".join(str(c).rjust(w) if n else str(c).ljust(w)
                         for n, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url",
                        default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--source-url", default=None,
                        help="an existing system of record with megacorp-prod (kept)")
    parser.add_argument("--instance", default=BIG_INSTANCE,
                        help="the instance whose reads are timed (default megacorp-prod)")
    parser.add_argument("--fleet-events", type=int, default=1_000_000)
    parser.add_argument("--big-events", type=int, default=1_000_000)
    parser.add_argument("--generated", default="10000000,100000000",
                        help="sizes of the warehouses generated inside ClickHouse")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--small", action="store_true",
                        help="100k + 50k events, generated 100k and 1M")
    parser.add_argument("--keep", action="store_true", help="keep the built schema")
    parser.add_argument("--generated-only", action="store_true",
                        help="skip the system of record, the sync and its reads (4. and 5. only)")
    parser.add_argument("--data-dir", default=None, help="where the chDB engine lives "
                        "(default a temporary directory, removed at the end); kept, its "
                        "generated warehouses are reused by the next run")
    args = parser.parse_args(argv)
    if args.small:
        args.fleet_events, args.big_events, args.generated = 50_000, 100_000, "100000,1000000"
    generated_sizes = [int(s) for s in args.generated.split(",")]
    engine_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="kaiten-warehouse-bench-"))
    built_schema = None
    try:
        if args.generated_only:
            source_url = ""
        elif args.source_url:
            source_url = args.source_url
        else:
            source_url, built_schema = build_source(args.postgres_url, args.fleet_events,
                                                    args.big_events)
        run(args, source_url, engine_dir, generated_sizes)
    finally:
        if built_schema and not args.keep:
            drop_schema(args.postgres_url, built_schema)
        if not args.data_dir:
            shutil.rmtree(engine_dir, ignore_errors=True)
    return 0


def run(args: argparse.Namespace, source_url: str, engine_dir: Path,
        generated_sizes: list[int]) -> None:
    chdb = f"chdb://{engine_dir / 'engine'}"
    if source_url:
        sync_and_compare(args, source_url, chdb)
    generated(args, engine_dir, chdb, generated_sizes)


def sync_and_compare(args: argparse.Namespace, source_url: str, chdb: str) -> None:
    """2. and 3.: sync the system of record, then its reads against the warehouse's."""
    kaiten = ka.connect(source_url, warehouse_url=f"{chdb}?database=mirror")
    kaiten.db.warehouse.command("DROP DATABASE {db}")  # a fresh copy every run
    kaiten.close()
    kaiten = ka.connect(source_url, warehouse_url=f"{chdb}?database=mirror")
    started = time.perf_counter()
    result = kaiten.warehouse.sync(progress=True)
    sync_seconds = time.perf_counter() - started
    started = time.perf_counter()
    differences = kaiten.warehouse.verify()
    verify_seconds = time.perf_counter() - started
    settled = settle(kaiten.db.warehouse)
    print(f"\nsync: {result.events_read:,} events (+{result.usage_rows:,} usage rows) in "
          f"{sync_seconds:.1f} s = {result.events_read / sync_seconds:,.0f} events/s; "
          f"verify {verify_seconds:.1f} s: "
          f"{'agrees' if differences.empty else f'{len(differences)} DIFFERENCES'}; "
          f"background merges done {settled:.0f} s later")
    # 3. the big instance: PostgreSQL's rollups vs the warehouse
    plain = ka.connect(source_url, migrate=False)
    entitlement = busiest_number_entitlement(plain, args.instance)
    events = plain.audit.stats(args.instance).total
    rows, agree = [], True
    pg_calls = library_calls(plain, args.instance, entitlement)
    wh_calls = library_calls(kaiten, args.instance, entitlement)
    both = timed_together({**{("pg", n): c for n, c in pg_calls.items()},
                           **{("wh", n): c for n, c in wh_calls.items()}}, args.repeat)
    for name in pg_calls:
        (pg_ms, pg_answer), (wh_ms, wh_answer) = both[("pg", name)], both[("wh", name)]
        agree &= same(pg_answer, wh_answer)
        rows.append([name, f"{pg_ms:.1f}", f"{wh_ms:.1f}", f"{wh_ms / pg_ms:.2f}"])
    print(f"\nreads on {args.instance} ({events:,} events), median ms of {args.repeat}; "
          f"answers {'agree' if agree else 'DIFFER'}")
    print(table(rows, ["query", "PostgreSQL rollups", "warehouse", "warehouse / PG"]))
    plain.close()
    kaiten.close()


def generated(args: argparse.Namespace, engine_dir: Path, chdb: str,
              generated_sizes: list[int]) -> None:
    """4. and 5.: the generated warehouses."""
    catalogue = generated_catalogue(engine_dir / "generated.db")
    figures: dict[int, dict[str, float]] = {}
    variants: dict[int, dict[str, dict[str, float]]] = {}
    for size in generated_sizes:
        name = f"generated_{size}"
        warehouse = mirror.open_warehouse(f"{chdb}?database={name}")
        if warehouse.rows("SELECT count() FROM {db}.audit_events")[0][0] != size:
            warehouse.command("DROP DATABASE {db}")
            warehouse = mirror.open_warehouse(f"{chdb}?database={name}")
            create_view_tables(warehouse)
            seconds = generate(warehouse, size)
            print(f"generated {size:,} events in {seconds:.0f} s "
                  f"({size / seconds:,.0f} events/s with the rollups)")
        print(f"  background merges done {settle(warehouse):.0f} s later")
        warehouse.close()
    # every size's calls alternate in one loop: the same load for all (growth is a ratio)
    handles = [ka.connect(catalogue, clock=lambda: GENERATED_END,
                          warehouse_url=f"{chdb}?database=generated_{size}")
               for size in generated_sizes]
    calls = {}
    for size, handle in zip(generated_sizes, handles, strict=True):
        calls.update({(size, "product", n): c
                      for n, c in library_calls(handle, "i1", "e1").items()})
        for variant, vcalls in variant_calls(handle.db.warehouse).items():
            calls.update({(size, variant, n): c for n, c in vcalls.items()})
    measured = timed_together(calls, args.repeat)
    for handle in handles:
        handle.close()
    for size in generated_sizes:
        figures[size] = {n: ms for (z, v, n), (ms, _) in measured.items()
                         if z == size and v == "product"}
        variants[size] = {"recomputed rollups (ReplacingMergeTree FINAL)": {
            "stats": figures[size]["stats"], "timeline 30d": figures[size]["timeline 30d"]}}
        for (z, variant, n), (ms, _) in measured.items():
            if z == size and variant != "product":
                variants[size].setdefault(variant, {})[n] = ms
    small, large = generated_sizes[0], generated_sizes[-1]
    rows = []
    for name in figures[small]:
        growth = figures[large][name] / figures[small][name]
        rows.append([name, f"{figures[small][name]:.1f}", f"{figures[large][name]:.1f}",
                     f"{growth:.2f}",
                     "yes" if growth <= TARGET_GROWTH and figures[large][name] < TARGET_MS
                     else "NO"])
    print(f"\ngenerated warehouses, instance 1 ({small // 10:,} and {large // 10:,} of "
          f"{small:,} and {large:,} events), median ms of {args.repeat}")
    print(table(rows, ["query", f"{small:,}", f"{large:,}", "growth",
                       f"≤ {TARGET_GROWTH}× and < {TARGET_MS:.0f} ms"]))
    rows = [[variant, query, *(f"{variants[s][variant][query]:.1f}" for s in generated_sizes)]
            for variant in variants[small] for query in ("stats", "timeline 30d")]
    print("\nrollups: the product's vs materialized views vs the trail directly, median ms")
    print(table(rows, ["rollups", "query", *(f"{s:,}" for s in generated_sizes)]))


if __name__ == "__main__":
    sys.exit(main())
