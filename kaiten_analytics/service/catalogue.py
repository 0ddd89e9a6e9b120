"""Create the catalogue: customers, entitlements, licenses (with values) and zones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.models import (
    customers,
    deployment_zones,
    entitlements,
    license_entitlements,
    licenses,
)
from kaiten_analytics.db.models import entitlements as entitlements_table
from kaiten_analytics.entities import Customer, Entitlement, License, Zone
from kaiten_analytics.errors import NotFoundError, ValidationError


def create_customer(db: Database, slug: str, name: str) -> Customer:
    """Create a customer; a taken slug raises ``ConflictError``."""
    slug = fields.slug(slug)
    name = fields.name(name)
    now = db.now()
    with db.transaction() as connection:
        new_id = connection.execute(
            customers.insert().values(slug=slug, name=name, created_at=now)
        ).inserted_primary_key[0]
    return Customer(slug=slug, name=name, created_at=now, id=new_id)


def create_entitlement(
    db: Database,
    slug: str,
    name: str,
    type: str = "NUMBER",
    aggregation_method: str | None = "SUM",
    unit: str | None = None,
    description: str = "",
) -> Entitlement:
    """Create a catalogue entitlement.

    ``aggregation_method`` applies to NUMBER only; for BOOLEAN and STRING leave it at its
    default or pass None (any other value is a ``ValidationError``).
    """
    slug = fields.slug(slug)
    name = fields.name(name)
    type_ = fields.entitlement_type(type)
    if type_ != "NUMBER" and aggregation_method == "SUM":
        aggregation_method = None  # the signature's default belongs to NUMBER
    method = fields.aggregation_method(aggregation_method, type_)
    unit = fields.text(unit, "unit", 50) or None
    description = fields.text(description)
    with db.transaction() as connection:
        new_id = connection.execute(
            entitlements.insert().values(
                slug=slug, name=name, type=type_, aggregation_method=method, unit=unit,
                description=description,
            )
        ).inserted_primary_key[0]
    return Entitlement(slug, name, type_, method, unit, description, id=new_id)


def create_license(
    db: Database,
    slug: str,
    name: str,
    entitlements: Mapping[str, Any] | None = None,
    description: str = "",
) -> License:
    """Create a license tier granting ``entitlements`` ({entitlement slug: value}).

    A NUMBER value is the threshold (None = no limit); BOOLEAN and STRING values are the
    granted value and must be of that type.
    """
    slug = fields.slug(slug)
    name = fields.name(name)
    description = fields.text(description)
    if entitlements is None:
        entitlements = {}
    if not isinstance(entitlements, Mapping):
        raise ValidationError("entitlements", "must map entitlement slugs to values")
    with db.transaction() as connection:
        catalogue = _entitlement_types(connection, list(entitlements))
        values = {
            ent: fields.entitlement_value(catalogue[ent][1], value, f"entitlements.{ent}")
            for ent, value in entitlements.items()
        }
        new_id = connection.execute(
            licenses.insert().values(slug=slug, name=name, description=description)
        ).inserted_primary_key[0]
        if values:
            connection.execute(
                license_entitlements.insert(),
                [
                    {"license_id": new_id, "entitlement_id": catalogue[ent][0], "value": value}
                    for ent, value in values.items()
                ],
            )
    return License(slug, name, description, values, id=new_id)


def update_license(
    db: Database,
    slug: str,
    name: str | None = None,
    entitlements: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> License:
    """Change a license tier: its name, description, or entitlement values.

    ``entitlements`` ({entitlement slug: value}) sets the values given — adding an
    entitlement to the license or changing its value, checked as by :func:`create_license` —
    and leaves the others as they are. The change takes effect for the next report.
    """
    fields.lookup_slug(slug, "slug")
    if entitlements is not None and not isinstance(entitlements, Mapping):
        raise ValidationError("entitlements", "must map entitlement slugs to values")
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = fields.name(name)
    if description is not None:
        changes["description"] = fields.text(description)
    le = license_entitlements
    with db.transaction() as connection:
        license_id = connection.execute(
            sa.select(licenses.c.id).where(licenses.c.slug == slug)).scalar()
        if license_id is None:
            raise NotFoundError("license", slug)
        if entitlements:
            catalogue = _entitlement_types(connection, list(entitlements))
            for ent, value in entitlements.items():
                entitlement_id, type_ = catalogue[ent]
                checked = fields.entitlement_value(type_, value, f"entitlements.{ent}")
                keys = (le.c.license_id == license_id) & (le.c.entitlement_id == entitlement_id)
                if connection.execute(le.update().where(keys).values(value=checked)).rowcount:
                    continue
                connection.execute(le.insert().values(license_id=license_id,
                                                      entitlement_id=entitlement_id,
                                                      value=checked))
        if changes:
            connection.execute(licenses.update().where(licenses.c.id == license_id)
                               .values(**changes))
        row = connection.execute(sa.select(licenses).where(licenses.c.id == license_id)).one()
        values = dict(connection.execute(
            sa.select(entitlements_table.c.slug, le.c.value)
            .join(entitlements_table, entitlements_table.c.id == le.c.entitlement_id)
            .where(le.c.license_id == license_id).order_by(entitlements_table.c.slug)).all())
    return License(row.slug, row.name, row.description, values, id=license_id)


def create_zone(db: Database, slug: str, name: str) -> Zone:
    """Create a deployment zone."""
    slug = fields.slug(slug)
    name = fields.name(name)
    with db.transaction() as connection:
        new_id = connection.execute(
            deployment_zones.insert().values(slug=slug, name=name)
        ).inserted_primary_key[0]
    return Zone(slug, name, id=new_id)


def _entitlement_types(connection: sa.Connection, slugs: list[str]) -> dict[str, tuple[int, str]]:
    for ent in slugs:
        fields.slug(ent, "entitlements")
    rows = connection.execute(
        sa.select(entitlements.c.slug, entitlements.c.id, entitlements.c.type).where(
            entitlements.c.slug.in_(slugs)
        )
    ).all()
    found = {row.slug: (row.id, row.type) for row in rows}
    for ent in slugs:
        if ent not in found:
            raise NotFoundError("entitlement", ent)
    return found
