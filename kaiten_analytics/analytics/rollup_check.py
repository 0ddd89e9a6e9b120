"""Prove the rollups: compare them with a raw GROUP BY of the audit trail."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import instance_row
from kaiten_analytics.db.models import (
    BUCKET_SECONDS,
    DAY_SECONDS,
    audit_rollup_15m,
    audit_rollup_day,
    feature_audit_trail,
)
from kaiten_analytics.db.sql_time import epoch_seconds
from kaiten_analytics.events import EVENTS

CHECK_COLUMNS = ["table", "instance_id", "entitlement_id", "period", "column", "rollup",
                 "raw"]


def rollup_mismatches(db: Database, instance: str | None = None) -> pd.DataFrame:
    """Recount events from ``feature_audit_trail`` and list where the rollups disagree.

    This scans the raw events (it is a consistency check, not a console query). An empty
    result means both rollup tables equal the raw GROUP BY.

    Returns
    -------
    DataFrame
        table (rollup table name), instance_id, entitlement_id, period (bucket or day
        number), column (reads/accepted/rejected), rollup (count stored), raw (count
        recounted) — one row per disagreement.
    """
    t = feature_audit_trail
    with db.read() as connection:
        condition = sa.true()
        instance_id = None
        if instance is not None:
            instance_id = instance_row(connection, instance).id
            condition = t.c.instance_id == instance_id
        seconds = epoch_seconds(t.c.created_at, db.dialect)
        found = []
        for table, period_column, width in ((audit_rollup_15m, "bucket", BUCKET_SECONDS),
                                            (audit_rollup_day, "day", DAY_SECONDS)):
            period = (seconds // width).label("period")
            raw_rows = connection.execute(
                sa.select(t.c.instance_id, t.c.entitlement_id, period, t.c.event_name,
                          sa.func.count())
                .where(condition)
                .group_by(t.c.instance_id, t.c.entitlement_id, period, t.c.event_name)
            ).all()
            raw: dict[tuple, int] = {}
            for inst, ent, per, name, count in raw_rows:
                raw[(inst, ent, int(per), EVENTS[name][2])] = count
            query = sa.select(table.c.instance_id, table.c.entitlement_id,
                              table.c[period_column], table.c.reads, table.c.accepted,
                              table.c.rejected)
            if instance_id is not None:
                query = query.where(table.c.instance_id == instance_id)
            stored: dict[tuple, int] = {}
            for inst, ent, per, reads, accepted, rejected in connection.execute(query):
                for column, count in (("reads", reads), ("accepted", accepted),
                                      ("rejected", rejected)):
                    if count:
                        stored[(inst, ent, int(per), column)] = count
            for key in sorted(set(raw) | set(stored)):
                if raw.get(key, 0) != stored.get(key, 0):
                    found.append((table.name, *key, stored.get(key, 0), raw.get(key, 0)))
    return pd.DataFrame(found, columns=CHECK_COLUMNS)
