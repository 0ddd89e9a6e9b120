"""Read the catalogue: customers, licenses with their entitlement values, zones."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.models import (
    customers,
    deployment_zones,
    entitlements,
    license_entitlements,
    licenses,
)


def list_customers(db: Database) -> pd.DataFrame:
    """List customers.

    Returns
    -------
    DataFrame
        slug, name, created_at (aware UTC) — ordered by slug.
    """
    with db.read() as connection:
        rows = connection.execute(
            sa.select(customers.c.slug, customers.c.name, customers.c.created_at)
            .order_by(customers.c.slug)
        ).all()
    return frame(rows, ["slug", "name", "created_at"], times=("created_at",))


def list_zones(db: Database) -> pd.DataFrame:
    """List deployment zones.

    Returns
    -------
    DataFrame
        slug, name — ordered by slug.
    """
    with db.read() as connection:
        rows = connection.execute(
            sa.select(deployment_zones.c.slug, deployment_zones.c.name)
            .order_by(deployment_zones.c.slug)
        ).all()
    return frame(rows, ["slug", "name"])


def list_licenses(db: Database) -> pd.DataFrame:
    """List license tiers.

    Returns
    -------
    DataFrame
        slug, name, description — ordered by slug.
    """
    with db.read() as connection:
        rows = connection.execute(
            sa.select(licenses.c.slug, licenses.c.name, licenses.c.description)
            .order_by(licenses.c.slug)
        ).all()
    return frame(rows, ["slug", "name", "description"])


def list_entitlements(db: Database, license: str | None = None) -> pd.DataFrame:
    """List catalogue entitlements, or those of one license with the license's value.

    Returns
    -------
    DataFrame
        slug, name, type, aggregation_method, unit, description, value (the license's value —
        threshold for NUMBER, None without a license or without a limit) — ordered by slug.
    """
    value = license_entitlements.c.value if license else sa.null()
    query = sa.select(
        entitlements.c.slug, entitlements.c.name, entitlements.c.type,
        entitlements.c.aggregation_method, entitlements.c.unit, entitlements.c.description,
        value,
    ).order_by(entitlements.c.slug)
    if license:
        query = (
            query.join(license_entitlements,
                       license_entitlements.c.entitlement_id == entitlements.c.id)
            .join(licenses, licenses.c.id == license_entitlements.c.license_id)
            .where(licenses.c.slug == license)
        )
    with db.read() as connection:
        rows = connection.execute(query).all()
    return frame(rows, ["slug", "name", "type", "aggregation_method", "unit", "description",
                        "value"])
