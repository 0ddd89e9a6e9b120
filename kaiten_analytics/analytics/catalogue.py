"""Read the catalogue: customers, licenses with their entitlement values, zones."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import id_for
from kaiten_analytics.db.models import (
    customers,
    deployment_zones,
    entitlements,
    instances,
    license_entitlements,
    licenses,
)

CUSTOMER_SUMMARY_COLUMNS = ["slug", "name", "created_at", "instances", "licenses"]


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


def customer_summary(db: Database, customer: str | None = None) -> pd.DataFrame:
    """Each customer with its number of live instances and their license mix.

    Counted in the database (one grouped query over customers × licenses); deleted instances
    are not counted, and a customer without instances has 0 and an empty mix.

    Parameters
    ----------
    customer
        The slug of one customer; None = every customer.

    Returns
    -------
    DataFrame
        slug, name, created_at (aware UTC), instances (int: live instances), licenses (dict:
        license slug → live instances under it, most instances first, then by slug) —
        ordered by slug.

    Raises
    ------
    NotFoundError
        ``customer`` names no customer.
    """
    count = sa.func.count(instances.c.id)
    query = (
        sa.select(customers.c.slug, customers.c.name, customers.c.created_at,
                  licenses.c.slug, count)
        .select_from(
            customers
            .outerjoin(instances, sa.and_(instances.c.customer_id == customers.c.id,
                                          instances.c.deleted_at.is_(None)))
            .outerjoin(licenses, licenses.c.id == instances.c.license_id))
        .group_by(customers.c.id, customers.c.slug, customers.c.name, customers.c.created_at,
                  licenses.c.slug)
        .order_by(customers.c.slug, count.desc(), licenses.c.slug)
    )
    with db.read() as connection:
        if customer is not None:
            query = query.where(customers.c.id == id_for(connection, "customer", customer))
        rows = connection.execute(query).all()
    summary: dict[str, list] = {}
    for slug, name, created_at, license, instances_under in rows:
        entry = summary.setdefault(slug, [slug, name, created_at, 0, {}])
        if license is not None:
            entry[3] += instances_under
            entry[4][license] = instances_under
    df = frame(summary.values(), CUSTOMER_SUMMARY_COLUMNS, times=("created_at",))
    df["instances"] = df["instances"].astype("int64")
    return df


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
        for NUMBER the threshold or the policy object, None without a license or without a
        limit) — ordered by slug.
    """
    license = None if license == "" else license
    value = license_entitlements.c.value if license else sa.null()
    query = sa.select(
        entitlements.c.slug, entitlements.c.name, entitlements.c.type,
        entitlements.c.aggregation_method, entitlements.c.unit, entitlements.c.description,
        value,
    ).order_by(entitlements.c.slug)
    if license is not None:
        query = (
            query.join(license_entitlements,
                       license_entitlements.c.entitlement_id == entitlements.c.id)
            .join(licenses, licenses.c.id == license_entitlements.c.license_id)
            .where(licenses.c.slug == license)
        )
    with db.read() as connection:
        if license is not None:
            id_for(connection, "license", license)  # an unknown license is NotFoundError
        rows = connection.execute(query).all()
    return frame(rows, ["slug", "name", "type", "aggregation_method", "unit", "description",
                        "value"])
