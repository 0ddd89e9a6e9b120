"""Resolve slugs to rows (and rows to entities) on a connection, or raise ``NotFoundError``.

Both the write path (``service``) and the reads (``analytics``) look things up here.
"""

from __future__ import annotations

import sqlalchemy as sa

from kaiten_analytics.db.models import (
    customers,
    deployment_zones,
    entitlements,
    feature_flags,
    instances,
    instances_in_context,
    licenses,
)
from kaiten_analytics.entities import Flag, Instance
from kaiten_analytics.errors import NotFoundError
from kaiten_analytics.fields import lookup_slug
from kaiten_analytics.flags.rules import in_documented_order

_TABLES = {
    "customer": customers,
    "license": licenses,
    "entitlement": entitlements,
    "deployment_zone": deployment_zones,
}


def id_for(connection: sa.Connection, entity: str, slug: object) -> int:
    """Return the id of the ``entity`` (customer, license, entitlement, deployment_zone)."""
    lookup_slug(slug, entity)
    table = _TABLES[entity]
    found = connection.execute(sa.select(table.c.id).where(table.c.slug == slug)).scalar()
    if found is None:
        raise NotFoundError(entity, slug)
    return found


def live_instance(connection: sa.Connection, slug: object) -> sa.Row:
    """Return the instance row named ``slug``; a deleted instance counts as not found."""
    row = instance_row(connection, slug)
    if row.deleted_at is not None:
        raise NotFoundError.deleted("instance", slug)
    return row


def instance_row(connection: sa.Connection, slug: object) -> sa.Row:
    """Return the instance row named ``slug``, deleted or not."""
    lookup_slug(slug, "instance")
    row = connection.execute(sa.select(instances).where(instances.c.slug == slug)).first()
    if row is None:
        raise NotFoundError("instance", slug)
    return row


def load_instance(connection: sa.Connection, instance_id: int) -> Instance:
    """Return the ``Instance`` with id ``instance_id``, its references as slugs."""
    row = connection.execute(
        sa.select(
            instances,
            customers.c.slug.label("customer_slug"),
            licenses.c.slug.label("license_slug"),
            deployment_zones.c.slug.label("zone_slug"),
        )
        .select_from(instances_in_context())
        .where(instances.c.id == instance_id)
    ).one()
    return Instance(
        slug=row.slug, name=row.name, customer=row.customer_slug, license=row.license_slug,
        deployment_zone=row.zone_slug, description=row.description,
        license_start=row.license_start, license_end=row.license_end,
        metadata=row.metadata, created_at=row.created_at, updated_at=row.updated_at,
        deleted_at=row.deleted_at, id=row.id,
    )


def flag_row(connection: sa.Connection, key: object, lock: bool = False) -> sa.Row:
    """Return the ``feature_flags`` row of ``key``; ``lock`` takes it FOR UPDATE."""
    lookup_slug(key, "key", "flag")
    query = sa.select(feature_flags).where(feature_flags.c.key == key)
    if lock:  # serialise concurrent edits of one flag on PostgreSQL (SQLite: BEGIN IMMEDIATE)
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        raise NotFoundError("flag", key)
    return row


def flag_from_row(row: sa.Row) -> Flag:
    """Return the ``Flag`` a ``feature_flags`` row holds."""
    return Flag(
        key=row.key, name=row.name, type=row.type, default_value=row.default_value,
        enabled=row.enabled, rules=in_documented_order(row.rules), description=row.description,
        created_at=row.created_at, updated_at=row.updated_at, id=row.id,
    )
