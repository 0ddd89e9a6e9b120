"""The analytics' queries, answered by the warehouse (ClickHouse SQL, nowhere else).

Each function returns the same rows as the system of record's query it stands for, so the
analytics shape one DataFrame from either. Rows are addressed by the system of record's ids
(the analytics resolve slugs there first). The rollup tables are read with ``FINAL`` (a
recomputed bucket is a new version of its row); the trail is not (the sync inserts each id
once; ``kaiten warehouse verify`` counts it without ``FINAL`` and would show a duplicate).

Time follows the system of record's rules exactly: a 15-minute bucket is
``floor(epoch seconds / 900)`` and a UTC day ``floor(bucket / 96)`` in both, and local days
are mapped onto them by :mod:`kaiten_analytics.analytics.local_days` (every current UTC offset
is a multiple of 15 minutes), never by ClickHouse's own zone tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kaiten_analytics.db import json_text
from kaiten_analytics.db.warehouse import BUCKETS_PER_DAY, Warehouse, as_utc
from kaiten_analytics.events import EVENTS, USAGE_ACCEPTED

COUNTS = ("reads", "accepted", "rejected")


@dataclass(frozen=True)
class Scope:
    """The rows of one instance (and maybe one entitlement), by system-of-record ids."""

    instance_id: int
    entitlement_id: int | None = None

    def sql(self, parameters: dict[str, Any]) -> str:
        """Return the condition and add its parameters to ``parameters``."""
        parameters["instance_id"] = self.instance_id
        condition = "instance_id = {instance_id:UInt32}"
        if self.entitlement_id is not None:
            parameters["entitlement_id"] = self.entitlement_id
            condition += " AND entitlement_id = {entitlement_id:UInt32}"
        return condition


def _micros(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000 + at.microsecond


def _instant(name: str, at: datetime, parameters: dict[str, Any]) -> str:
    parameters[name] = _micros(at)
    return f"fromUnixTimestamp64Micro({{{name}:Int64}}, 'UTC')"


# --- audit statistics and the timeline --------------------------------------------------------

def stats(warehouse: Warehouse, scope: Scope, first_bucket: int, end_bucket: int
          ) -> dict[str, tuple]:
    """All-time (reads, accepted, rejected) and the events of buckets ``[first, end)``.

    Returns ``{"total": (reads, accepted, rejected), "today": (events, None, None)}``.
    """
    parameters: dict[str, Any] = {"first": first_bucket, "end": end_bucket}
    where = scope.sql(parameters)
    rows = {row[0]: row[1:] for row in warehouse.rows(
        "SELECT 'total', sum(reads), sum(accepted), sum(rejected) "
        f"FROM {{db}}.audit_rollup_day FINAL WHERE {where} "
        "UNION ALL SELECT 'today', sum(reads + accepted + rejected), NULL, NULL "
        f"FROM {{db}}.audit_rollup_15m FINAL WHERE {where} "
        "AND bucket >= {first:Int64} AND bucket < {end:Int64}", parameters)}
    return {"total": tuple(rows["total"]), "today": tuple(rows["today"])}


def day_and_bucket_counts(warehouse: Warehouse, scope: Scope, first_day: int, last_day: int,
                          buckets: Sequence[int]) -> list[tuple]:
    """(kind, period, reads, accepted, rejected) per UTC day of ``[first, last]`` and bucket.

    ``kind`` is ``"day"`` (a row of the daily rollup) or ``"bucket"`` (a 15-minute row, only
    for ``buckets``); periods without events have no row.
    """
    parameters: dict[str, Any] = {"first": first_day, "last": last_day}
    where = scope.sql(parameters)
    sums = ", ".join(f"sum({c})" for c in COUNTS)
    statement = (f"SELECT 'day', day, {sums} FROM {{db}}.audit_rollup_day FINAL WHERE {where} "
                 "AND day >= {first:Int64} AND day <= {last:Int64} GROUP BY day")
    if buckets:
        parameters["buckets"] = list(buckets)
        statement += (f" UNION ALL SELECT 'bucket', bucket, {sums} "
                      f"FROM {{db}}.audit_rollup_15m FINAL WHERE {where} "
                      "AND has({buckets:Array(Int64)}, bucket) "
                      f"AND bucket >= {min(buckets)} AND bucket <= {max(buckets)} "
                      "GROUP BY bucket")
    return warehouse.rows(statement, parameters)


# --- the event log ----------------------------------------------------------------------------

@dataclass(frozen=True)
class EventQuery:
    """The event log's filters, by ids (a search pattern is already escaped for LIKE)."""

    scope: Scope
    event_name: str | None = None
    status: str | None = None
    pattern: str | None = None
    after: datetime | None = None
    before: datetime | None = None

    def sql(self, parameters: dict[str, Any]) -> str:
        """Return the condition and add its parameters to ``parameters``."""
        clauses = [self.scope.sql(parameters)]
        if self.event_name is not None:
            parameters["event_name"] = self.event_name
            clauses.append("event_name = {event_name:String}")
        if self.status is not None:
            parameters["status"] = self.status
            clauses.append("status = {status:String}")
        if self.after is not None:
            clauses.append(f"created_at >= {_instant('after', self.after, parameters)}")
        if self.before is not None:
            clauses.append(f"created_at < {_instant('before', self.before, parameters)}")
        if self.pattern is not None:
            parameters["pattern"] = self.pattern
            clauses.append("(id ILIKE {pattern:String} OR event_name ILIKE {pattern:String} "
                           "OR entitlement ILIKE {pattern:String} "
                           "OR payload ILIKE {pattern:String})")
        return " AND ".join(clauses)


def event_page(warehouse: Warehouse, query: EventQuery, limit: int, offset: int
               ) -> list[tuple]:
    """(id, event_name, entitlement, status, payload dict, created_at) newest first.

    Without a search the page is looked for only after the newest UTC midnight before which
    the daily rollup holds ``offset + limit`` matching events: the trail's
    (instance_id, entitlement_id, created_at) key then reads those days, not the whole
    instance.
    """
    parameters: dict[str, Any] = {"limit": limit, "offset": offset}
    if query.pattern is None:
        since = _page_start(warehouse, query, limit + offset)
        if since is not None and (query.after is None or since > query.after):
            query = EventQuery(query.scope, query.event_name, query.status, None, since,
                               query.before)
    rows = warehouse.rows(
        "SELECT id, event_name, entitlement, status, payload, created_at "
        f"FROM {{db}}.audit_events WHERE {query.sql(parameters)} "
        "ORDER BY created_at DESC, id DESC LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
        parameters)
    return [(i, name, slug, status, json_text.loads(payload), at)
            for i, name, slug, status, payload, at in rows]


def _page_start(warehouse: Warehouse, query: EventQuery, events: int) -> datetime | None:
    """The newest UTC midnight with at least ``events`` matching events after it (before
    ``query.before``), or None when the whole range holds fewer.

    The day of ``before`` itself counts nothing (some of its events lie after it), so the
    midnight found is never too late.
    """
    columns = [column for name, (status, _, column) in EVENTS.items()
               if (query.event_name is None or name == query.event_name)
               and (query.status is None or status == query.status)]
    if not columns:
        return None
    parameters: dict[str, Any] = {}
    where = query.scope.sql(parameters)
    last_day = None
    if query.before is not None:
        last_day = int(query.before.timestamp()) // 86_400
        where += f" AND day <= {last_day}"
    if query.after is not None:
        where += f" AND day >= {int(query.after.timestamp()) // 86_400}"
    seen = 0
    for day, count in warehouse.rows(
            f"SELECT day, sum({' + '.join(columns)}) FROM {{db}}.audit_rollup_day FINAL "
            f"WHERE {where} GROUP BY day ORDER BY day DESC", parameters):
        if day != last_day:
            seen += int(count)
        if seen >= events:
            return datetime.fromtimestamp(day * 86_400, UTC)
    return None


def count_events(warehouse: Warehouse, query: EventQuery, cap: int) -> int:
    """Count the events of ``query`` in the trail, stopping after ``cap + 1``."""
    parameters: dict[str, Any] = {"cap": cap + 1}
    return int(warehouse.rows(
        f"SELECT count() FROM (SELECT 1 FROM {{db}}.audit_events WHERE {query.sql(parameters)} "
        "LIMIT {cap:UInt64})", parameters)[0][0])


def planned_count(warehouse: Warehouse, query: EventQuery, columns: Sequence[str],
                  days: tuple[int | None, int | None] | None,
                  buckets: Iterable[tuple[int, int]],
                  instants: Iterable[tuple[datetime, datetime]]) -> int:
    """Sum ``columns`` of the daily rollup over ``days``, of the 15-minute rollup over the
    bucket ranges, and count the trail's events of ``query`` in each instant range.

    ``days`` is ``[first, end)`` with either end None for unbounded (None: no daily part).
    """
    parameters: dict[str, Any] = {}
    where = query.scope.sql(parameters)
    total = " + ".join(columns)
    parts = []
    if days is not None:
        bounds = [where]
        if days[0] is not None:
            bounds.append(f"day >= {int(days[0])}")
        if days[1] is not None:
            bounds.append(f"day < {int(days[1])}")
        parts.append(f"SELECT sum({total}) FROM {{db}}.audit_rollup_day FINAL "
                     f"WHERE {' AND '.join(bounds)}")
    parts += [f"SELECT sum({total}) FROM {{db}}.audit_rollup_15m FINAL WHERE {where} "
              f"AND bucket >= {int(a)} AND bucket < {int(b)}" for a, b in buckets]
    for n, (after, before) in enumerate(instants):
        edge = EventQuery(query.scope, query.event_name, query.status, None, after, before)
        condition = edge.sql(edge_parameters := {})
        for name, value in edge_parameters.items():
            parameters[f"{name}_{n}"] = value
            condition = condition.replace(f"{{{name}:", f"{{{name}_{n}:")
        parts.append(f"SELECT toUInt64(count()) FROM {{db}}.audit_events WHERE {condition}")
    if not parts:
        return 0
    return sum(int(row[0] or 0) for row in warehouse.rows(" UNION ALL ".join(parts),
                                                            parameters))


# --- value over time ------------------------------------------------------------------------

def accepted_points(warehouse: Warehouse, scope: Scope,
                    buckets: Sequence[int] | None = None) -> list[tuple]:
    """(created_at, value, threshold, reached) of each accepted report, oldest first.

    ``buckets``: only the reports in these 15-minute buckets.
    """
    parameters: dict[str, Any] = {"accepted": USAGE_ACCEPTED}
    where = scope.sql(parameters) + " AND event_name = {accepted:String}"
    if buckets is not None:  # as time ranges: the key's created_at narrows each
        ranges: list[list[int]] = []
        for bucket in sorted(set(buckets)):
            if ranges and ranges[-1][1] == bucket:
                ranges[-1][1] = bucket + 1
            else:
                ranges.append([bucket, bucket + 1])
        where += " AND (" + " OR ".join(
            f"(created_at >= toDateTime({a * 900}, 'UTC') "
            f"AND created_at < toDateTime({b * 900}, 'UTC'))" for a, b in ranges) + ")"
    return [(at, value, threshold, bool(reached)) for at, value, threshold, reached in
            warehouse.rows("SELECT created_at, value_after, threshold, reached "
                           f"FROM {{db}}.audit_events WHERE {where} ORDER BY created_at, id",
                           parameters)]


def reached_buckets(warehouse: Warehouse, scope: Scope) -> list[int]:
    """The 15-minute buckets holding a report that reached the threshold, in order."""
    parameters: dict[str, Any] = {}
    return [row[0] for row in warehouse.rows(
        f"SELECT bucket FROM {{db}}.audit_rollup_15m FINAL WHERE {scope.sql(parameters)} "
        "AND accepted > 0 AND reached > 0 ORDER BY bucket", parameters)]


def value_windows(warehouse: Warehouse, scope: Scope, count: int) -> list[tuple]:
    """Up to ``count`` windows of equal span over the buckets with accepted reports.

    The span runs from the first to the end of the last UTC day with an accepted report
    (one read of the daily rollup for both ends);
    each window (``ceil(span / count)`` buckets) gives (start bucket, end bucket, first
    value, lowest, highest, last value, threshold at the last value, reached count).
    """
    parameters: dict[str, Any] = {"count": count}
    where = scope.sql(parameters) + " AND accepted > 0"
    return warehouse.rows(
        f"""WITH (SELECT (min(day) * {BUCKETS_PER_DAY},
                         (max(day) + 1 - min(day)) * {BUCKETS_PER_DAY})
                  FROM {{db}}.audit_rollup_day FINAL WHERE {where}) AS span,
                 span.1 AS first, span.2 AS length
            SELECT min(bucket) AS start, max(bucket), argMin(value_first, bucket),
                   min(value_min), max(value_max), argMax(value_last, bucket),
                   argMax(threshold_last, bucket), sum(reached)
            FROM {{db}}.audit_rollup_15m FINAL
            WHERE {where}
            GROUP BY intDiv(bucket - first, intDiv(length + {{count:UInt32}} - 1,
                                                   {{count:UInt32}}))
            ORDER BY start LIMIT {{count:UInt32}}""", parameters)


# --- fleet views ----------------------------------------------------------------------------

def usage_rows(warehouse: Warehouse
               ) -> dict[tuple[int, int], tuple[Any, datetime, datetime | None, datetime | None]]:
    """(instance_id, entitlement_id) -> (usage value as stored, updated_at, period_start,
    period_end) of every pair, times aware UTC."""
    return {(i, e): (json_text.loads(value), as_utc(at), as_utc(start), as_utc(end))
            for i, e, value, at, start, end in warehouse.rows(
                "SELECT instance_id, entitlement_id, value, updated_at, period_start, period_end "
                "FROM {db}.entitlement_usage FINAL")}


def day_totals(warehouse: Warehouse, since_day: int | None) -> list[tuple]:
    """Per pair: reads, accepted, rejected and the last day with a report, read, rejection.

    Days ``since_day`` on (None: all); a last day is None when there was none.
    """
    parameters: dict[str, Any] = {}
    where = ""
    if since_day is not None:
        parameters["since"] = since_day
        where = "WHERE day >= {since:Int64}"
    return warehouse.rows(
        "SELECT instance_id, entitlement_id, sum(reads), sum(accepted), sum(rejected), "
        "max(if(accepted + rejected > 0, day, NULL)), max(if(reads > 0, day, NULL)), "
        f"max(if(rejected > 0, day, NULL)) FROM {{db}}.audit_rollup_day FINAL {where} "
        "GROUP BY instance_id, entitlement_id", parameters)


def trend_sums(warehouse: Warehouse, since_day: int) -> list[tuple]:
    """Per pair: n, Σx, Σy, Σxy, Σx² of (day - since, closing value) from ``since_day`` on."""
    return warehouse.rows(
        "SELECT instance_id, entitlement_id, count(), sum(x), sum(y), sum(x * y), sum(x * x) "
        "FROM (SELECT instance_id, entitlement_id, toFloat64(day - {since:Int64}) AS x, "
        "assumeNotNull(value_last) AS y FROM {db}.audit_rollup_day FINAL "
        "WHERE day >= {since:Int64} AND value_last IS NOT NULL) "
        "GROUP BY instance_id, entitlement_id", {"since": since_day})
