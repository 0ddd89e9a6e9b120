"""The warehouse: the audit trail and usage rows mirrored into ClickHouse.

PostgreSQL (or SQLite) stays the system of record; this module is the only one that speaks
ClickHouse. It holds the connection (``clickhouse-connect``, the official client, for a
server and — through its ``chdb`` backend — for the embedded engine the tests use), the
versioned schema and the sync from the system of record; :mod:`.reads` holds the queries the
analytics run when ``KAITEN_WAREHOUSE_URL`` is set.

Tables (in one ClickHouse database, ``kaiten`` unless the URL names another):

* ``audit_events`` — the trail, a ``ReplacingMergeTree`` ordered by (instance_id,
  entitlement_id, created_at, id) and partitioned by month; the payload is the JSON text the
  system of record's text search sees (``json_text.dumps``). The sync
  inserts only ids it does not hold yet, so the table has no duplicates to merge away; the
  replacing engine is the safety net should two syncs ever race.
* ``audit_rollup_15m`` / ``audit_rollup_day`` — the same rollups as the system of record
  (counts per category, the value's first/last/min/max, threshold, crossings), each a
  ``ReplacingMergeTree(version)``. A rollup row is never incremented: the sync *recomputes*
  the rows of every bucket a batch touched from the trail and inserts them as a new
  version, so a re-sent batch, or a sync killed between the trail insert and the rollup
  insert and re-run, leaves every count exact. Reads take ``FINAL`` (these tables only).
  Materialized views were the alternative; they are insert triggers, so a batch whose trail
  part committed before a ``kill -9`` would never reach them on the re-run.
* ``entitlement_usage`` — the usage rows with their metering periods,
  ``ReplacingMergeTree(updated_at)``.
* ``sync_state`` — the watermarks; ``schema_versions`` — applied schema versions.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import sqlalchemy as sa

from kaiten_analytics.db import json_text
from kaiten_analytics.db.models import (
    entitlement_usage,
    entitlements,
    feature_audit_trail,
    instances,
)
from kaiten_analytics.errors import ValidationError
from kaiten_analytics.events import USAGE_ACCEPTED, USAGE_REJECTED, VALUE_GET

BUCKET_SECONDS = 900
BUCKETS_PER_DAY = 96
DEFAULT_DATABASE = "kaiten"
#: events per sync batch: one INSERT each (well under ClickHouse's 1M-row insert block);
#: the rollup recompute per batch is amortised over this many events
BATCH_ROWS = 100_000
#: a transaction that commits after a later one carries an earlier id: each sync re-reads
#: this long before its watermark and keeps only the ids the warehouse lacks
SETTLE = timedelta(minutes=5)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


# --- the connection ---------------------------------------------------------------------------

def _client(url: str) -> tuple[Any, str]:
    """Return (clickhouse-connect client, database name) for a warehouse URL."""
    import clickhouse_connect

    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.scheme == "chdb":
        database = query.pop("database", DEFAULT_DATABASE)
        path = unquote(parts.path)
        if not path:
            raise ValidationError("warehouse_url", "chdb:///path names the engine's directory")
        return clickhouse_connect.get_client(dsn=f"chdb://{path}"), database
    if parts.scheme not in ("clickhouse", "clickhouses"):
        raise ValidationError("warehouse_url", "must be clickhouse://user@host:8123/db, "
                              "clickhouses://… (TLS) or chdb:///path")
    database = parts.path.strip("/") or DEFAULT_DATABASE
    # the URL's query names server settings, e.g. ?distributed_foreground_insert=1 for a
    # cluster's Distributed tables (an insert is then on its shards when it returns)
    client = clickhouse_connect.get_client(
        host=parts.hostname or "127.0.0.1", port=parts.port or 8123,
        username=unquote(parts.username or "default"), password=unquote(parts.password or ""),
        secure=parts.scheme == "clickhouses", database="default", settings=query or None,
    )
    return client, database


class Warehouse:
    """One ClickHouse database holding the mirror; build it with :func:`open_warehouse`.

    Every statement names its tables ``database.table`` (the client stays on ``default``),
    so one embedded engine can hold many warehouses — a fresh database per test. chDB's
    client is not made for concurrent queries from several threads (the console's): calls
    are serialised by a lock.
    """

    def __init__(self, client: Any, database: str) -> None:
        if not _IDENTIFIER.match(database):
            raise ValidationError("warehouse_url", f"bad database name {database!r}")
        self.client = client
        self.database = database
        self._lock = threading.Lock()

    def sql(self, text: str) -> str:
        """Return ``text`` with ``{db}`` replaced by the database name."""
        return text.replace("{db}", self.database)

    def command(self, text: str, parameters: dict[str, Any] | None = None) -> Any:
        with self._lock:
            return self.client.command(self.sql(text), parameters=parameters)

    def rows(self, text: str, parameters: dict[str, Any] | None = None) -> list[tuple]:
        """Run a query; return its rows as tuples."""
        with self._lock:
            return self.client.query(self.sql(text), parameters=parameters).result_rows

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str], *,
               column_oriented: bool = False) -> None:
        """Insert ``rows`` into ``table`` as one INSERT (one block: all or nothing).

        With ``column_oriented`` the data is one sequence per column (cheaper to encode).
        """
        if not rows or (column_oriented and not rows[0]):
            return
        with self._lock:
            self.client.insert(table, rows, column_names=list(columns), database=self.database,
                               column_oriented=column_oriented)

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"Warehouse(database={self.database!r})"


def open_warehouse(url: str, *, upgrade_schema: bool = True) -> Warehouse:
    """Connect to the warehouse at ``url`` and bring its schema to the newest version."""
    client, database = _client(url)
    warehouse = Warehouse(client, database)
    if upgrade_schema:
        upgrade(warehouse)
    return warehouse


# --- the schema, versioned ------------------------------------------------------------------

_ROLLUP_COUNTS = """
    reads UInt64, accepted UInt64, rejected UInt64,"""

SCHEMA: list[tuple[int, str, list[str]]] = [
    (1, "audit trail, rollups, usage, sync state", [
        """CREATE TABLE IF NOT EXISTS {db}.audit_events (
            id String,
            instance_id UInt32,
            entitlement_id UInt32,
            entitlement LowCardinality(String),
            event_name LowCardinality(String),
            status LowCardinality(String),
            payload String,
            created_at DateTime64(6, 'UTC'),
            value_after Nullable(Float64),
            threshold Nullable(Float64),
            reached UInt8,
            INDEX ix_created_at created_at TYPE minmax GRANULARITY 1
        ) ENGINE = ReplacingMergeTree
        PARTITION BY toYYYYMM(created_at)
        ORDER BY (instance_id, entitlement_id, created_at, id)""",
        f"""CREATE TABLE IF NOT EXISTS {{db}}.audit_rollup_15m (
            instance_id UInt32, entitlement_id UInt32, bucket Int64,{_ROLLUP_COUNTS}
            value_first Nullable(Float64), value_last Nullable(Float64),
            value_min Nullable(Float64), value_max Nullable(Float64),
            threshold_last Nullable(Float64), reached UInt64,
            version DateTime64(6, 'UTC')
        ) ENGINE = ReplacingMergeTree(version)
        PARTITION BY intDiv(bucket, 96 * 32)
        ORDER BY (instance_id, entitlement_id, bucket)""",
        f"""CREATE TABLE IF NOT EXISTS {{db}}.audit_rollup_day (
            instance_id UInt32, entitlement_id UInt32, day Int64,{_ROLLUP_COUNTS}
            value_last Nullable(Float64), value_max Nullable(Float64),
            version DateTime64(6, 'UTC')
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY (instance_id, entitlement_id, day)""",
        """CREATE TABLE IF NOT EXISTS {db}.entitlement_usage (
            instance_id UInt32, entitlement_id UInt32, value String,
            updated_at DateTime64(6, 'UTC')
        ) ENGINE = ReplacingMergeTree(updated_at)
        ORDER BY (instance_id, entitlement_id)""",
        """CREATE TABLE IF NOT EXISTS {db}.sync_state (
            source String, position String, version DateTime64(6, 'UTC')
        ) ENGINE = ReplacingMergeTree(version)
        ORDER BY source""",
    ]),
    # a usage value belongs to its metering period: the fleet views read both as of the
    # same sync (the period from the system of record and the value from here would mix a
    # new period with the last one's aggregate); the usage watermark is reset so that the
    # next sync copies every row again, with its period
    (2, "usage periods", [
        "ALTER TABLE {db}.entitlement_usage ADD COLUMN IF NOT EXISTS "
        "period_start Nullable(DateTime64(6, 'UTC'))",
        "ALTER TABLE {db}.entitlement_usage ADD COLUMN IF NOT EXISTS "
        "period_end Nullable(DateTime64(6, 'UTC'))",
        "INSERT INTO {db}.sync_state (source, position, version) "
        "VALUES ('entitlement_usage', '', now64(6))",
    ]),
]
SCHEMA_VERSION = SCHEMA[-1][0]


def upgrade(warehouse: Warehouse, version: int = SCHEMA_VERSION) -> int:
    """Create or upgrade the warehouse schema up to ``version``; return ``version``.

    Like the Alembic migrations: numbered steps, each applied once and recorded in
    ``schema_versions``; every statement is idempotent (``IF NOT EXISTS``), so a step
    interrupted half-way is simply run again.
    """
    warehouse.command("CREATE DATABASE IF NOT EXISTS {db}")
    warehouse.command("""CREATE TABLE IF NOT EXISTS {db}.schema_versions (
        version UInt32, name String, applied_at DateTime64(6, 'UTC') DEFAULT now64(6)
    ) ENGINE = ReplacingMergeTree ORDER BY version""")
    applied = {row[0] for row in warehouse.rows("SELECT version FROM {db}.schema_versions")}
    for step, name, statements in SCHEMA:
        if step in applied or step > version:
            continue
        for statement in statements:
            warehouse.command(statement)
        warehouse.insert("schema_versions", [(step, name)], ["version", "name"])
    return version


def schema_version(warehouse: Warehouse) -> int:
    """Return the newest applied schema version (0 for an empty warehouse)."""
    return int(warehouse.rows("SELECT max(version) FROM {db}.schema_versions")[0][0] or 0)


# --- rollups: recomputed from the trail, never incremented --------------------------------------

_ROLLUP_15M_SELECT = f"""
    SELECT instance_id, entitlement_id,
        intDiv(toUnixTimestamp(created_at), {BUCKET_SECONDS}) AS bucket,
        countIf(event_name = '{VALUE_GET}') AS reads,
        countIf(event_name = '{USAGE_ACCEPTED}') AS accepted,
        countIf(event_name = '{USAGE_REJECTED}') AS rejected,
        argMinIf(value_after, (created_at, id), value_after IS NOT NULL) AS value_first,
        argMaxIf(value_after, (created_at, id), value_after IS NOT NULL) AS value_last,
        minIf(value_after, value_after IS NOT NULL) AS value_min,
        maxIf(value_after, value_after IS NOT NULL) AS value_max,
        argMaxIf(threshold, (created_at, id), value_after IS NOT NULL) AS threshold_last,
        sum(reached) AS reached,
        now64(6) AS version
    FROM {{db}}.audit_events FINAL
    WHERE {{where}}
    GROUP BY instance_id, entitlement_id, bucket"""

_ROLLUP_DAY_SELECT = """
    SELECT instance_id, entitlement_id, intDiv(bucket, 96) AS day,
        sum(reads), sum(accepted), sum(rejected),
        argMaxIf(value_last, bucket, value_last IS NOT NULL),
        max(value_max),
        now64(6)
    FROM {db}.audit_rollup_15m FINAL
    WHERE {where}
    GROUP BY instance_id, entitlement_id, day"""


def _since(seconds: int) -> str:
    return f"created_at >= fromUnixTimestamp64Micro(toInt64({int(seconds)} * 1000000), 'UTC')"


def _before(seconds: int) -> str:
    return f"created_at < fromUnixTimestamp64Micro(toInt64({int(seconds)} * 1000000), 'UTC')"


def _pairs_condition(pairs: Iterable[tuple[int, int]]) -> str:
    listed = ", ".join(f"({int(i)}, {int(e)})" for i, e in sorted(set(pairs)))
    return f"(instance_id, entitlement_id) IN ({listed})"


def recompute_rollups(warehouse: Warehouse, pairs: Iterable[tuple[int, int]] | None,
                      first_bucket: int, end_bucket: int) -> None:
    """Rewrite the rollup rows of ``pairs`` (None: all) for buckets ``[first, end)``.

    Whole UTC days are recomputed for the daily rollup, from the 15-minute rows (after
    those are rewritten): both tables stay a function of the trail.
    """
    pairs = None if pairs is None else set(pairs)
    if pairs is not None and not pairs:
        return
    scope = "1" if pairs is None else _pairs_condition(pairs)
    first_day, end_day = first_bucket // BUCKETS_PER_DAY, -(-end_bucket // BUCKETS_PER_DAY)
    day_first, day_end = first_day * BUCKETS_PER_DAY, end_day * BUCKETS_PER_DAY
    events_where = (f"{scope} AND {_since(first_bucket * BUCKET_SECONDS)} "
                    f"AND {_before(end_bucket * BUCKET_SECONDS)}")
    warehouse.command("INSERT INTO {db}.audit_rollup_15m "
                      + _ROLLUP_15M_SELECT.replace("{where}", events_where))
    warehouse.command("INSERT INTO {db}.audit_rollup_day "
                      + _ROLLUP_DAY_SELECT.replace(
                          "{where}", f"{scope} AND bucket >= {day_first} AND bucket < {day_end}"))


# --- the sync -----------------------------------------------------------------------------------

EVENT_COLUMNS = ["id", "instance_id", "entitlement_id", "entitlement", "event_name", "status",
                 "payload", "created_at", "value_after", "threshold", "reached"]


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _event_row(row: Any) -> tuple:
    payload = row.payload if isinstance(row.payload, dict) else json_text.loads(row.payload or "{}")
    accepted = row.event_name == USAGE_ACCEPTED
    value_after = _number(payload.get("aggregate_after")) if accepted else None
    threshold = _number(payload.get("threshold")) if accepted else None
    return (row.id, row.instance_id, row.entitlement_id, row.slug, row.event_name, row.status,
            json_text.dumps(payload), row.created_at.astimezone(UTC),
            value_after, threshold, int(bool(accepted and payload.get("reached"))))


def _state(warehouse: Warehouse, source: str) -> str:
    rows = warehouse.rows("SELECT position FROM {db}.sync_state FINAL WHERE source = {s:String}",
                          {"s": source})
    return rows[0][0] if rows else ""


def _set_state(warehouse: Warehouse, source: str, position: str) -> None:
    warehouse.insert("sync_state", [(source, position, datetime.now(UTC))],
                     ["source", "position", "version"])


def as_utc(at: datetime | None) -> datetime | None:
    """``at`` as an aware UTC datetime (ClickHouse may hand back naive UTC); None stays None."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _micros(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000 + at.microsecond


def _ulid_floor(at: datetime) -> str:
    """The smallest ULID of the millisecond ``at``: every id at or after it sorts >= this."""
    from ulid import ULID

    milliseconds = max(0, int(at.timestamp() * 1000))
    return str(ULID.from_timestamp(milliseconds / 1000))[:10] + "0" * 16


def _ulid_time(event_id: str) -> datetime:
    from ulid import ULID

    return ULID.from_str(event_id).datetime


@dataclass(frozen=True)
class SyncResult:
    """What one sync copied: events new to the warehouse, events read, usage rows copied."""

    events: int
    events_read: int
    usage_rows: int
    watermark: str


def pending_events(engine: sa.Engine, watermark: str) -> int:
    """Count the system of record's events after ``watermark`` (for the progress bar)."""
    t = feature_audit_trail
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(t)
                                      .where(t.c.id > watermark)).scalar_one())


def sync(engine: sa.Engine, warehouse: Warehouse, *, batch_rows: int = BATCH_ROWS,
         settle: timedelta = SETTLE, from_start: bool = False,
         progress: Callable[[int], None] | None = None) -> SyncResult:
    """Copy new audit events and usage rows from the system of record, in id order.

    Each batch: read up to ``batch_rows`` events after the position (by id), drop the ids the
    warehouse already holds, insert the rest in one INSERT, recompute the rollups of the
    buckets the batch touched, then store the new watermark. Killed anywhere, a re-run starts
    again from the stored watermark and repeats those idempotent steps: nothing is counted
    twice or lost. ``from_start`` re-reads the whole trail (after a backfill that wrote events
    with a past clock, whose ids sort before the watermark).
    """
    watermark = "" if from_start else _state(warehouse, "audit_events")
    position = _ulid_floor(_ulid_time(watermark) - settle) if watermark else ""
    t, e = feature_audit_trail, entitlements
    statement = (sa.select(t.c.id, t.c.instance_id, t.c.entitlement_id, e.c.slug,
                           t.c.event_name, t.c.status, t.c.payload, t.c.created_at)
                 .join(e, e.c.id == t.c.entitlement_id)
                 .where(t.c.id > sa.bindparam("position"))
                 .order_by(t.c.id).limit(batch_rows))
    # ids the warehouse may hold already (a batch re-sent after a kill -9, or the settle
    # window re-read) are all <= its newest id: a batch wholly above it needs no check
    newest_held = warehouse.rows("SELECT max(id) FROM {db}.audit_events")[0][0] or ""
    copied = read = 0
    while True:
        with engine.connect() as connection:
            batch = connection.execute(statement, {"position": position}).all()
        if not batch:
            break
        rows = [_event_row(row) for row in batch]
        if rows[0][0] <= newest_held:
            first_at, last_at = rows[0][7], rows[-1][7]
            held = {r[0] for r in warehouse.rows(
                "SELECT id FROM {db}.audit_events WHERE created_at >= "
                "fromUnixTimestamp64Micro({a:Int64}, 'UTC') AND created_at <= "
                "fromUnixTimestamp64Micro({b:Int64}, 'UTC') AND id >= {i:String} "
                "AND id <= {j:String}",
                {"a": _micros(min(first_at, last_at)), "b": _micros(max(first_at, last_at)),
                 "i": rows[0][0], "j": rows[-1][0]})}
            new = [row for row in rows if row[0] not in held]
        else:
            new = rows
        if new:
            warehouse.insert("audit_events", list(zip(*new, strict=True)), EVENT_COLUMNS,
                             column_oriented=True)
        times = [row[7] for row in rows]
        recompute_rollups(warehouse, {(row[1], row[2]) for row in rows},
                          int(min(times).timestamp()) // BUCKET_SECONDS,
                          int(max(times).timestamp()) // BUCKET_SECONDS + 1)
        position = rows[-1][0]
        if position > watermark:
            watermark = position
            _set_state(warehouse, "audit_events", watermark)
        copied += len(new)
        read += len(rows)
        if progress is not None:
            progress(len(rows))
    usage_rows = _sync_usage(engine, warehouse, settle)
    return SyncResult(events=copied, events_read=read, usage_rows=usage_rows,
                      watermark=watermark)


def _sync_usage(engine: sa.Engine, warehouse: Warehouse, settle: timedelta) -> int:
    """Copy usage rows changed since the usage watermark (less ``settle``); return how many.

    A usage row changes in place: each copy is a new version (its ``updated_at``) that
    replaces the older one, so copying a row twice changes nothing.
    """
    u = entitlement_usage
    stored = _state(warehouse, "entitlement_usage")
    query = sa.select(u.c.instance_id, u.c.entitlement_id, u.c.value, u.c.updated_at,
                      u.c.period_start, u.c.period_end)
    if stored:
        query = query.where(u.c.updated_at >= datetime.fromisoformat(stored) - settle)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        return 0
    warehouse.insert("entitlement_usage",
                     [(r.instance_id, r.entitlement_id, json_text.dumps(r.value),
                       r.updated_at.astimezone(UTC), as_utc(r.period_start), as_utc(r.period_end))
                      for r in rows],
                     ["instance_id", "entitlement_id", "value", "updated_at", "period_start",
                      "period_end"])
    newest = max(r.updated_at for r in rows).astimezone(UTC)
    if not stored or newest > datetime.fromisoformat(stored):
        _set_state(warehouse, "entitlement_usage", newest.isoformat())
    return len(rows)


def watermarks(warehouse: Warehouse) -> dict[str, str]:
    """Return the stored watermark of each source table."""
    return dict(warehouse.rows("SELECT source, position FROM {db}.sync_state FINAL"))


def instance_ids(engine: sa.Engine) -> dict[int, str]:
    """Return the system of record's instance id -> slug (for verify's listing)."""
    with engine.connect() as connection:
        return dict(connection.execute(sa.select(instances.c.id, instances.c.slug)).all())


# --- verify -------------------------------------------------------------------------------------

_CATEGORY_OF = {VALUE_GET: "Read", USAGE_ACCEPTED: "Accepted", USAGE_REJECTED: "Rejected"}


def count_differences(engine: sa.Engine, warehouse: Warehouse
                      ) -> list[tuple[int, int, str, int, int, int]]:
    """Compare events per instance × UTC day × category: system of record vs warehouse.

    The system of record's raw trail is counted (a scan: this is a check, not a console
    query); the warehouse's trail is counted without ``FINAL`` (a duplicate shows) and its
    daily rollup with it. Returns (instance_id, day, category, system_of_record,
    warehouse_events, warehouse_rollup) for every disagreement, ordered.
    """
    from kaiten_analytics.db.sql_time import epoch_seconds

    t = feature_audit_trail
    day = (epoch_seconds(t.c.created_at, engine.dialect.name) // 86_400).label("day")
    with engine.connect() as connection:
        source = {(int(i), int(d), _CATEGORY_OF[name]): int(n) for i, d, name, n in
                  connection.execute(sa.select(t.c.instance_id, day, t.c.event_name,
                                               sa.func.count())
                                     .group_by(t.c.instance_id, day, t.c.event_name)).all()}
    events = {(int(i), int(d), _CATEGORY_OF[name]): int(n) for i, d, name, n in warehouse.rows(
        "SELECT instance_id, intDiv(toUnixTimestamp(created_at), 86400) AS day, event_name, "
        "count() FROM {db}.audit_events GROUP BY instance_id, day, event_name")}
    rollup: dict[tuple[int, int, str], int] = {}
    for i, d, reads, accepted, rejected in warehouse.rows(
            "SELECT instance_id, day, sum(reads), sum(accepted), sum(rejected) "
            "FROM {db}.audit_rollup_day FINAL GROUP BY instance_id, day"):
        for category, n in (("Read", reads), ("Accepted", accepted), ("Rejected", rejected)):
            if n:
                rollup[(int(i), int(d), category)] = int(n)
    found = []
    for key in sorted(set(source) | set(events) | set(rollup)):
        counts = (source.get(key, 0), events.get(key, 0), rollup.get(key, 0))
        if len(set(counts)) > 1:
            found.append((*key, *counts))
    return found
