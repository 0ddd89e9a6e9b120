"""Read instances: the list, and one instance."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import id_for, instance_row, live_instance, load_instance
from kaiten_analytics.db.models import (
    customers,
    deployment_zones,
    instances,
    instances_in_context,
    licenses,
)
from kaiten_analytics.entities import Instance

INSTANCE_COLUMNS = [
    "slug", "name", "customer", "license", "deployment_zone", "license_start", "license_end",
    "description", "metadata", "created_at", "updated_at", "customer_name",
]


def list_instances(db: Database, customer: str | None = None, limit: int | None = None,
                   offset: int = 0) -> pd.DataFrame:
    """List live (not deleted) instances, optionally of one customer, ordered by slug.

    ``limit`` (1 to ``fields.PAGE_MAX``; None = every one) and ``offset`` page the list in
    the database.

    Returns
    -------
    DataFrame
        slug, name, customer (slug), license (slug), deployment_zone (slug or None),
        license_start, license_end (dates or None), description, metadata (dict),
        created_at, updated_at (aware UTC), customer_name.
    """
    if limit is not None:
        limit = fields.bounded_int(limit, "limit", 1, fields.PAGE_MAX)
    offset = fields.bounded_int(offset, "offset", 0)
    query = (
        sa.select(
            instances.c.slug, instances.c.name, customers.c.slug, licenses.c.slug,
            deployment_zones.c.slug, instances.c.license_start, instances.c.license_end,
            instances.c.description, instances.c.metadata, instances.c.created_at,
            instances.c.updated_at, customers.c.name,
        )
        .select_from(instances_in_context())
        .order_by(instances.c.slug)
        .limit(limit).offset(offset or None)
    )
    with db.read() as connection:
        query = query.where(*_live(connection, customer))
        rows = connection.execute(query).all()
    return frame(rows, INSTANCE_COLUMNS, times=("created_at", "updated_at"))


def get_instance(db: Database, slug: str, include_deleted: bool = False) -> Instance:
    """Return the instance ``slug``; a deleted one raises ``NotFoundError`` unless asked for."""
    with db.read() as connection:
        row = instance_row(connection, slug) if include_deleted else live_instance(connection,
                                                                                  slug)
        return load_instance(connection, row.id)


def count_instances(db: Database, customer: str | None = None) -> int:
    """Count live (not deleted) instances, optionally of one customer."""
    query = sa.select(sa.func.count()).select_from(instances)
    with db.read() as connection:
        return connection.execute(query.where(*_live(connection, customer))).scalar_one()


def _live(connection: sa.Connection, customer: str | None) -> list[sa.ColumnElement[bool]]:
    """The conditions of the live instances of ``customer`` (every customer if None)."""
    conditions = [instances.c.deleted_at.is_(None)]
    if customer is not None:
        conditions.append(instances.c.customer_id == id_for(connection, "customer", customer))
    return conditions
