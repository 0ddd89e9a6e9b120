"""Create, update and (soft-)delete instances; each change writes its outbox event."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import id_for, live_instance, load_instance
from kaiten_analytics.db.models import (
    instances,
)
from kaiten_analytics.entities import Instance
from kaiten_analytics.errors import ValidationError
from kaiten_analytics.service.outbox import append_event

UPDATABLE = (
    "customer", "name", "slug", "description", "license", "deployment_zone",
    "license_start", "license_end", "metadata",
)


def create_instance(
    db: Database,
    customer: str,
    name: str,
    slug: str,
    license: str,
    description: str = "",
    deployment_zone: str | None = None,
    license_start: date | str | None = None,
    license_end: date | str | None = None,
    metadata: dict[str, Any] | str | None = None,
) -> Instance:
    """Create an instance of ``customer`` under ``license`` and write ``INSTANCE_CREATED``."""
    values = _checked(
        {
            "name": name, "slug": slug, "description": description,
            "license_start": license_start, "license_end": license_end, "metadata": metadata,
        }
    )
    fields.date_range(values["license_start"], values["license_end"])
    now = db.now()
    with db.transaction() as connection:
        values.update(_references(connection, customer=customer, license=license,
                                  deployment_zone=deployment_zone))
        new_id = connection.execute(
            instances.insert().values(**values, created_at=now, updated_at=now)
        ).inserted_primary_key[0]
        instance = load_instance(connection, new_id)
        append_event(connection, now, "instance", instance.slug, "INSTANCE_CREATED",
                     {"instance": _snapshot(instance)})
    return instance


def update_instance(db: Database, slug: str, /, **changes: Any) -> Instance:
    """Change any of the instance's fields (a new ``slug`` included); writes ``INSTANCE_UPDATED``.

    The outbox payload lists each changed field with its value before and after, beside the
    instance's customer, license and whole current state (a webhook receiver needs no second
    call).
    """
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise ValidationError(unknown[0], f"cannot be changed; updatable: {', '.join(UPDATABLE)}")
    plain = {k: v for k, v in changes.items() if k not in ("customer", "license",
                                                            "deployment_zone")}
    values = _checked(plain)
    now = db.now()
    with db.transaction() as connection:
        row = live_instance(connection, slug)
        before = load_instance(connection, row.id)
        refs = {k: changes[k] for k in ("customer", "license", "deployment_zone") if k in changes}
        if "customer" in refs or "license" in refs:
            # both are required; None is not a way to clear them
            for key in ("customer", "license"):
                if key in refs and refs[key] in (None, ""):
                    raise ValidationError(key, "is required")
        values.update(_references(connection, **refs))
        fields.date_range(values.get("license_start", row.license_start),
                          values.get("license_end", row.license_end))
        if values:
            connection.execute(
                instances.update().where(instances.c.id == row.id).values(**values,
                                                                          updated_at=now)
            )
        after = load_instance(connection, row.id)
        diff = {
            key: {"from": _jsonable(getattr(before, key)), "to": _jsonable(getattr(after, key))}
            for key in UPDATABLE
            if getattr(before, key) != getattr(after, key)
        }
        append_event(connection, now, "instance", after.slug, "INSTANCE_UPDATED",
                     {"instance": after.slug, "previous_slug": before.slug,
                      "customer": after.customer, "license": after.license, "changes": diff,
                      "current": _snapshot(after)})
    return after


def delete_instance(db: Database, slug: str) -> None:
    """Soft-delete: the instance leaves every list and takes no reports; history stays."""
    now = db.now()
    with db.transaction() as connection:
        row = live_instance(connection, slug)
        last = load_instance(connection, row.id)
        connection.execute(
            instances.update().where(instances.c.id == row.id).values(deleted_at=now,
                                                                      updated_at=now)
        )
        append_event(connection, now, "instance", row.slug, "INSTANCE_DELETED",
                     {"instance": row.slug, "deleted_at": now.isoformat(),
                      "customer": last.customer, "license": last.license,
                      "last": _snapshot(last)})


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    checks = {
        "name": fields.name,
        "slug": fields.slug,
        "description": fields.text,
        "license_start": lambda v: fields.optional_date(v, "license_start"),
        "license_end": lambda v: fields.optional_date(v, "license_end"),
        "metadata": fields.json_object,
    }
    return {key: checks[key](value) for key, value in values.items()}


def _references(connection: sa.Connection, **refs: str | None) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    if "customer" in refs:
        out["customer_id"] = id_for(connection, "customer", refs["customer"])
    if "license" in refs:
        out["license_id"] = id_for(connection, "license", refs["license"])
    if "deployment_zone" in refs:
        zone = refs["deployment_zone"]
        out["deployment_zone_id"] = (
            None if zone in (None, "") else id_for(connection, "deployment_zone", zone)
        )
    return out


def _snapshot(instance: Instance) -> dict[str, Any]:
    return {key: _jsonable(getattr(instance, key)) for key in UPDATABLE}


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value
