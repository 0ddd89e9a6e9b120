"""Resolve slugs to rows inside a transaction, or raise ``NotFoundError``."""

from __future__ import annotations

import sqlalchemy as sa

from kaiten_analytics.db.models import (
    customers,
    deployment_zones,
    entitlements,
    instances,
    licenses,
)
from kaiten_analytics.errors import NotFoundError
from kaiten_analytics.fields import lookup_slug

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
