"""The audit trail, page by page: the API's ``audit.trail`` and the console's event log.

Queries walk the ``(instance_id, created_at, id)`` indexes newest first, so the first pages
cost the same on an instance with ten events or ten million. Counts without a text search
come from the rollups (with a time range, plus the events of at most two quarter-hours at its
ends), never from a scan. With a warehouse, pages and counts come from it (as of its last
sync), by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.analytics.local_days import BUCKETS_PER_DAY
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import id_for, instance_row
from kaiten_analytics.db.models import (
    BUCKET_SECONDS,
    audit_rollup_15m,
    audit_rollup_day,
    entitlements,
    feature_audit_trail,
    instances,
)
from kaiten_analytics.db.text_match import contains_folded, like_pattern
from kaiten_analytics.db.warehouse import as_utc
from kaiten_analytics.db.warehouse import reads as warehouse_reads
from kaiten_analytics.errors import ValidationError
from kaiten_analytics.events import EVENT_NAMES, EVENTS, STATUSES

TRAIL_COLUMNS = ["id", "event_name", "entitlement", "status", "payload", "created_at"]
MAX_LIMIT = fields.PAGE_MAX
SEARCH_MAX = 1000
#: a text-search count stops here; the console then says "10,000+"
COUNT_CAP = 10_000
_CATEGORY = {name: category for name, (_, category, _) in EVENTS.items()}


@dataclass(frozen=True)
class EventFilter:
    """Checked filters of the event log.

    The instance and entitlement are named by their slugs and found inside the query (a
    scalar subquery on their unique slug index): one round trip instead of a lookup first.
    A query that finds nothing asks :meth:`check` whether the slugs exist.
    """

    instance: str
    entitlement: str | None = None
    event_name: str | None = None
    status: str | None = None
    search: str | None = None
    after: datetime | None = None
    before: datetime | None = None

    @property
    def instance_id(self) -> sa.ScalarSelect[int]:
        """The instance's id, as a scalar subquery."""
        return sa.select(instances.c.id).where(instances.c.slug == self.instance) \
            .scalar_subquery()

    @property
    def entitlement_id(self) -> sa.ScalarSelect[int] | None:
        """The entitlement's id, as a scalar subquery (None: every entitlement)."""
        if self.entitlement is None:
            return None
        return sa.select(entitlements.c.id).where(entitlements.c.slug == self.entitlement) \
            .scalar_subquery()

    def check(self, connection: sa.Connection) -> None:
        """Raise ``NotFoundError`` unless the instance (and entitlement) exist."""
        instance_row(connection, self.instance)
        if self.entitlement is not None:
            id_for(connection, "entitlement", self.entitlement)

    def in_warehouse(self, connection: sa.Connection) -> warehouse_reads.EventQuery:
        """These filters as a warehouse query (the slugs resolved: ``NotFoundError``)."""
        scope = warehouse_reads.Scope(
            instance_row(connection, self.instance).id,
            None if self.entitlement is None else id_for(connection, "entitlement",
                                                          self.entitlement))
        pattern = None if self.search is None else like_pattern(self.search)
        return warehouse_reads.EventQuery(scope, self.event_name, self.status, pattern,
                                          self.after, self.before)

    def where(self) -> sa.ColumnElement[bool]:
        """Return the SQL condition for these filters."""
        t = feature_audit_trail
        clauses = [t.c.instance_id == self.instance_id]
        if self.entitlement is not None:
            clauses.append(t.c.entitlement_id == self.entitlement_id)
        if self.event_name is not None:
            clauses.append(t.c.event_name == self.event_name)
        if self.status is not None:
            clauses.append(t.c.status == self.status)
        if self.after is not None:
            clauses.append(t.c.created_at >= self.after)
        if self.before is not None:
            clauses.append(t.c.created_at < self.before)
        if self.search:
            columns: list[sa.ColumnElement[Any]] = [sa.cast(t.c.payload, sa.Text)]
            if self.search.isascii():  # ids, event names and slugs hold ASCII only
                columns = [t.c.id, t.c.event_name, entitlements.c.slug, *columns]
            clauses.append(sa.or_(*(contains_folded(column, self.search)
                                    for column in columns)))
        return sa.and_(*clauses)


def _filter(instance: str, entitlement: str | None, event_name: str | None,
            status: str | None, search: str | None, after: Any, before: Any) -> EventFilter:
    if event_name is not None and event_name not in EVENT_NAMES:
        raise ValidationError("event_name", f"must be one of {', '.join(EVENT_NAMES)}")
    if status is not None and status not in STATUSES:
        raise ValidationError("status", f"must be one of {', '.join(STATUSES)}")
    if search is not None:
        search = fields.text(search, "search", SEARCH_MAX)
    after_at, before_at = fields.instant(after, "after"), fields.instant(before, "before")
    fields.lookup_slug(instance, "instance")
    if entitlement is not None:
        fields.lookup_slug(entitlement, "entitlement")
    return EventFilter(
        instance=instance, entitlement=entitlement, event_name=event_name, status=status,
        search=(search or "").strip() or None, after=after_at, before=before_at,
    )


def audit_events(db: Database, instance: str, entitlement: str | None = None,
                 event_name: str | None = None, status: str | None = None,
                 search: str | None = None, after: Any = None, before: Any = None,
                 limit: int = 50, offset: int = 0) -> pd.DataFrame:
    """Return one page of an instance's audit events, newest first.

    ``after`` is inclusive and ``before`` exclusive (RFC 3339 strings or aware datetimes);
    ``search`` matches event id, event name, entitlement and payload, case-insensitively.
    Equal timestamps are ordered by id (descending), so paging is stable.

    Returns
    -------
    DataFrame
        id, event_name, entitlement (slug), status, payload (dict), created_at (aware UTC),
        category (Read/Accepted/Rejected).
    """
    rows = _event_page(db, _filter(instance, entitlement, event_name, status, search, after,
                                   before), limit, offset)
    return _events_frame(rows, category=True)


def _event_page(db: Database, f: EventFilter, limit: Any, offset: Any) -> list[Any]:
    """The rows of one page of events matching ``f`` (id, event_name, entitlement slug,
    status, payload, created_at); an empty page checks that the instance exists."""
    limit = fields.bounded_int(limit, "limit", 1, MAX_LIMIT)
    offset = fields.bounded_int(offset, "offset", 0)
    with db.read() as connection:
        if db.warehouse is not None:
            return warehouse_reads.event_page(db.warehouse, f.in_warehouse(connection), limit,
                                              offset)
        rows = connection.execute(_page_statement(f, limit, offset)).all()
        if not rows:
            f.check(connection)
    return rows


def _events_frame(rows: list[Any], category: bool) -> pd.DataFrame:
    """The page's DataFrame: ``TRAIL_COLUMNS``, and ``category`` when asked."""
    if not rows:
        df = frame(rows, TRAIL_COLUMNS, times=("created_at",))
        if category:
            df["category"] = df["event_name"].astype("str")
        return df
    # column by column: cheaper than a frame of rows plus a mapped column (this is the
    # console's every refresh, and the API's audit trail)
    ids, names, slugs, statuses, payloads, times = zip(*rows, strict=True)
    columns = {
        "id": ids, "event_name": names, "entitlement": slugs, "status": statuses,
        "payload": payloads, "created_at": pd.to_datetime(list(times), utc=True),
    }
    if category:
        columns["category"] = [_CATEGORY[name] for name in names]
    return pd.DataFrame(columns)


# The console asks for the same page and count with the same filters on every refresh: the
# statements are kept per filter, so SQLAlchemy neither rebuilds them nor recomputes their
# cache keys. Statements are immutable and engine-free.
@lru_cache(maxsize=256)
def _page_statement(f: EventFilter, limit: int, offset: int) -> sa.Select:
    t = feature_audit_trail
    return (sa.select(t.c.id, t.c.event_name, entitlements.c.slug, t.c.status, t.c.payload,
                      t.c.created_at)
            .join(entitlements, entitlements.c.id == t.c.entitlement_id)
            .where(f.where())
            .order_by(t.c.created_at.desc(), t.c.id.desc())
            .limit(limit).offset(offset))


def audit_trail(db: Database, instance: str, event_name: str | None = None, after: Any = None,
                before: Any = None, limit: int = 50, offset: int = 0) -> pd.DataFrame:
    """Return an instance's audit trail, newest first.

    Returns
    -------
    DataFrame
        id, event_name, entitlement (slug), status, payload (dict), created_at (aware UTC).
    """
    rows = _event_page(db, _filter(instance, None, event_name, None, None, after, before),
                       limit, offset)
    return _events_frame(rows, category=False)


def audit_trail_records(db: Database, instance: str, event_name: str | None = None,
                        after: Any = None, before: Any = None, limit: int = 50,
                        offset: int = 0) -> list[dict[str, Any]]:
    """Return the page :func:`audit_trail` returns, as one plain dict per event.

    The same keys (id, event_name, entitlement, status, payload, created_at as an aware UTC
    ``datetime``), for a caller that serializes the page rather than analyses it (the REST
    API): no DataFrame is built and taken apart again.
    """
    rows = _event_page(db, _filter(instance, None, event_name, None, None, after, before),
                       limit, offset)
    return [{"id": event_id, "event_name": name, "entitlement": slug, "status": status,
             "payload": payload, "created_at": as_utc(at)}
            for event_id, name, slug, status, payload, at in rows]


@dataclass(frozen=True)
class EventCount:
    """How many events match a filter; ``exact`` is False when a search count was capped."""

    count: int
    exact: bool


def count_events(db: Database, instance: str, entitlement: str | None = None,
                 event_name: str | None = None, status: str | None = None,
                 search: str | None = None, after: Any = None, before: Any = None
                 ) -> EventCount:
    """Count the events ``audit_events`` would page through.

    Without a search the count is exact and comes from the rollups — whole UTC days from
    ``audit_rollup_day``, the quarter-hours at the edges of a time range from
    ``audit_rollup_15m``, and the events of at most two partly covered quarter-hours from the
    trail — so it costs the same for ten events or ten million. A text search is counted in
    SQL up to 10,000 and reported as inexact beyond that.
    """
    f = _filter(instance, entitlement, event_name, status, search, after, before)
    if db.warehouse is not None:
        with db.read() as connection:
            query = f.in_warehouse(connection)
        count = _warehouse_count(db.warehouse, f, query)
        if f.search is None:
            return EventCount(count, True)
        return EventCount(min(count, COUNT_CAP), count <= COUNT_CAP)
    statement = _count_statement(f)
    with db.read() as connection:
        count = 0 if statement is None else sum(
            int(c or 0) for c in connection.execute(statement).scalars())
        if not count:
            f.check(connection)
    if f.search is None:
        return EventCount(count, True)
    return EventCount(min(count, COUNT_CAP), count <= COUNT_CAP)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BUCKET = timedelta(seconds=BUCKET_SECONDS)


@lru_cache(maxsize=256)
def _count_statement(f: EventFilter) -> sa.Select | sa.CompoundSelect | None:
    """The statement whose rows sum to the count (None: nothing can match)."""
    if f.search is None:
        return _rollup_count(f)
    t = feature_audit_trail
    capped = (sa.select(t.c.id).join(entitlements, entitlements.c.id == t.c.entitlement_id)
              .where(f.where()).limit(COUNT_CAP + 1).subquery())
    return sa.select(sa.func.count()).select_from(capped)


@dataclass(frozen=True)
class CountPlan:
    """How to count the events of a filter without a search, exactly, from the rollups.

    ``[after, before)`` splits into whole UTC days (``days``: ``[first, end)`` of
    ``audit_rollup_day``, either end None for unbounded; None: no daily part), whole
    quarter-hours up to the first and from the last UTC midnight (``buckets``: ranges of
    ``audit_rollup_15m``) and the partly covered quarter-hours at either end (``instants``:
    their events counted in the trail, one bucket's worth at most). ``columns`` are the
    rollup counts (reads/accepted/rejected) the filter's event name and status select.
    """

    columns: tuple[str, ...]
    days: tuple[int | None, int | None] | None
    buckets: tuple[tuple[int, int], ...]
    instants: tuple[tuple[datetime, datetime], ...]


def count_plan(f: EventFilter) -> CountPlan | None:
    """Plan the count of ``f`` (no search); None when nothing can match."""
    columns = tuple(column for name, (status, _, column) in EVENTS.items()
                    if (f.event_name is None or name == f.event_name)
                    and (f.status is None or status == f.status))
    if not columns or (f.after is not None and f.before is not None and f.before <= f.after):
        return None  # (the caller still checks that the slugs exist)
    # whole buckets [first, end) and the partly covered ends, as instants
    first = end = None
    partial: list[tuple[datetime, datetime]] = []
    if f.after is not None:
        first = -((_EPOCH - f.after) // _BUCKET)  # ceiling
    if f.before is not None:
        end = (f.before - _EPOCH) // _BUCKET
    if first is not None and end is not None and first > end:  # inside one bucket
        partial.append((f.after, f.before))
    else:
        if f.after is not None and _EPOCH + first * _BUCKET > f.after:
            partial.append((f.after, _EPOCH + first * _BUCKET))
        if f.before is not None and _EPOCH + end * _BUCKET < f.before:
            partial.append((_EPOCH + end * _BUCKET, f.before))
    days = None
    bucket_ranges: list[tuple[int, int]] = []
    if first is None or end is None or first < end:
        # whole UTC days [first_day, end_day) and the buckets around them
        first_day = None if first is None else -(-first // BUCKETS_PER_DAY)
        end_day = None if end is None else end // BUCKETS_PER_DAY
        if first_day is not None and end_day is not None and first_day >= end_day:
            bucket_ranges = [(first, end)]
        else:
            days = (first_day, end_day)
            if first is not None and first < first_day * BUCKETS_PER_DAY:
                bucket_ranges.append((first, first_day * BUCKETS_PER_DAY))
            if end is not None and end_day * BUCKETS_PER_DAY < end:
                bucket_ranges.append((end_day * BUCKETS_PER_DAY, end))
    return CountPlan(columns, days, tuple(bucket_ranges), tuple(partial))


def _rollup_count(f: EventFilter) -> sa.Select | sa.CompoundSelect | None:
    """Count the events matching ``f`` (no search) from the rollups, exactly, in one query."""
    plan = count_plan(f)
    if plan is None:
        return None
    columns = list(plan.columns)
    parts: list[sa.Select] = []
    if plan.days is not None:
        parts.append(_rollup_part(audit_rollup_day, f, columns, "day", *plan.days))
    parts += [_rollup_part(audit_rollup_15m, f, columns, "bucket", a, b)
              for a, b in plan.buckets]
    parts += [sa.select(sa.func.count()).select_from(feature_audit_trail)
              .where(replace(f, after=a, before=b).where()) for a, b in plan.instants]
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


def _warehouse_count(warehouse: Any, f: EventFilter, query: warehouse_reads.EventQuery
                     ) -> int:
    """Count ``f`` in the warehouse: by :func:`count_plan` without a search, else capped."""
    if f.search is not None:
        return warehouse_reads.count_events(warehouse, query, COUNT_CAP)
    plan = count_plan(f)
    if plan is None:
        return 0
    return warehouse_reads.planned_count(warehouse, query, plan.columns, plan.days,
                                         plan.buckets, plan.instants)


def _rollup_part(table: sa.Table, f: EventFilter, columns: list[str], period: str,
                 first: int | None, end: int | None) -> sa.Select:
    """Sum ``columns`` of ``table`` over the periods ``[first, end)`` (None: unbounded)."""
    query = sa.select(sa.func.sum(sum((table.c[c] for c in columns[1:]), table.c[columns[0]])))
    query = query.where(table.c.instance_id == f.instance_id)
    if f.entitlement is not None:
        query = query.where(table.c.entitlement_id == f.entitlement_id)
    if first is not None:
        query = query.where(table.c[period] >= first)
    if end is not None:
        query = query.where(table.c[period] < end)
    return query
