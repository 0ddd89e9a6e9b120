"""Operating the warehouse: the sync use-case (with its progress bar), verify and status.

The ClickHouse statements live in :mod:`kaiten_analytics.db.warehouse`; this module shapes
what the library and the ``kaiten warehouse`` command show.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics.db import warehouse as mirror
from kaiten_analytics.db.warehouse import BATCH_ROWS, SyncResult, Warehouse

__all__ = ["BATCH_ROWS", "SyncResult", "run_sync", "status", "verify"]

VERIFY_COLUMNS = ["instance", "day", "category", "system_of_record", "warehouse_events",
                  "warehouse_rollup"]
#: a first copy at least this large shows a progress bar (when asked for)
PROGRESS_FROM = 1_000


def run_sync(engine: sa.Engine, warehouse: Warehouse, *, batch_rows: int = BATCH_ROWS,
             from_start: bool = False, progress: bool = False) -> SyncResult:
    """Run :func:`kaiten_analytics.db.warehouse.sync`, with a tqdm bar on a large copy."""
    bar = None
    if progress:
        watermark = "" if from_start else mirror.watermarks(warehouse).get("audit_events", "")
        pending = mirror.pending_events(engine, watermark)
        if pending >= PROGRESS_FROM:
            from tqdm import tqdm

            bar = tqdm(total=pending, unit="events", desc="warehouse sync")
    try:
        return mirror.sync(engine, warehouse, batch_rows=batch_rows, from_start=from_start,
                           progress=None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()


def verify(engine: sa.Engine, warehouse: Warehouse) -> pd.DataFrame:
    """List where the warehouse's counts per instance × UTC day × category disagree.

    Returns
    -------
    DataFrame
        instance (slug), day (UTC date), category, system_of_record, warehouse_events,
        warehouse_rollup — empty when everything agrees.
    """
    slugs = mirror.instance_ids(engine)
    epoch = date(1970, 1, 1)
    records = [(slugs.get(i, str(i)), epoch + timedelta(days=d), category, *counts)
               for i, d, category, *counts in mirror.count_differences(engine, warehouse)]
    df = pd.DataFrame(records, columns=VERIFY_COLUMNS)
    for column in VERIFY_COLUMNS[3:]:
        df[column] = df[column].astype("int64")
    df["day"] = df["day"].astype("object")
    return df


def status(warehouse: Warehouse) -> dict[str, Any]:
    """Return the warehouse's database, schema version and watermarks."""
    return {"database": warehouse.database, "schema_version": mirror.schema_version(warehouse),
            "watermarks": mirror.watermarks(warehouse)}
