"""Create, update and delete feature flags; each change writes its outbox event.

Every input is checked before anything is written — the key (URL-safe, unique), the type, the
default value against the type, and each rule (:func:`kaiten_analytics.flags.rules.check_rules`)
— and a refusal is a ``ValidationError`` naming the field, e.g. ``rules[1].conditions[0].value``.
"""

from __future__ import annotations

import json
from typing import Any

from kaiten_analytics import fields
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import flag_from_row, flag_row
from kaiten_analytics.db.models import feature_flags
from kaiten_analytics.entities import Flag
from kaiten_analytics.errors import ValidationError
from kaiten_analytics.flags.rules import check_rules
from kaiten_analytics.flags.values import flag_type, flag_value, parse_json
from kaiten_analytics.service.outbox import append_event

UPDATABLE = ("name", "description", "type", "default_value", "enabled", "rules")
SNAPSHOT = ("key", *UPDATABLE)


def create_flag(
    db: Database,
    key: str,
    name: str,
    type: str,
    default_value: Any,
    enabled: bool = True,
    rules: Any = (),
    description: str = "",
) -> Flag:
    """Create a flag and write ``FEATURE_FLAG_CREATED``.

    ``rules`` is a list of rules or its JSON text; a taken key raises ``ConflictError``.
    """
    values = _checked({"name": name, "description": description, "type": type,
                       "default_value": default_value, "enabled": enabled, "rules": rules})
    values["key"] = fields.slug(key, "key")
    now = db.now()
    with db.transaction() as connection:
        new_id = connection.execute(
            feature_flags.insert().values(**values, created_at=now, updated_at=now)
        ).inserted_primary_key[0]
        flag = Flag(**values, created_at=now, updated_at=now, id=new_id)
        append_event(connection, now, "feature_flag", flag.key, "FEATURE_FLAG_CREATED",
                     {"flag": _snapshot(flag)})
    return flag


def update_flag(db: Database, key: str, /, **changes: Any) -> Flag:
    """Change fields of the flag ``key``; writes ``FEATURE_FLAG_UPDATED`` when something changed.

    Any of name, description, type, default_value, enabled, rules; the flag as changed must be
    whole (a new type needs a default and rules of that type). The key cannot change: it names
    the flag in applications and seeds its rollouts. The outbox payload lists each changed
    field with its value before and after.
    """
    if "key" in changes:
        raise ValidationError("key", "cannot be changed: applications evaluate the flag by its "
                                     "key, and its rollouts are seeded with it")
    unknown = [name for name in changes if name not in UPDATABLE]
    if unknown:
        raise ValidationError(unknown[0], f"cannot be changed; updatable: {', '.join(UPDATABLE)}")
    now = db.now()
    with db.transaction() as connection:
        row = flag_row(connection, key, lock=True)
        before = flag_from_row(row)
        merged = {name: getattr(before, name) for name in UPDATABLE} | changes
        values = _checked(merged)
        diff = {
            name: {"from": getattr(before, name), "to": values[name]}
            for name in UPDATABLE
            if _json(values[name]) != _json(getattr(before, name))
        }
        if not diff:
            return before
        connection.execute(
            feature_flags.update().where(feature_flags.c.id == row.id)
            .values(**{name: values[name] for name in diff}, updated_at=now)
        )
        after = flag_from_row(flag_row(connection, key))
        append_event(connection, now, "feature_flag", key, "FEATURE_FLAG_UPDATED",
                     {"flag": key, "changes": diff})
    return after


def delete_flag(db: Database, key: str) -> None:
    """Delete the flag ``key`` and write ``FEATURE_FLAG_DELETED`` with its last state."""
    now = db.now()
    with db.transaction() as connection:
        row = flag_row(connection, key, lock=True)
        connection.execute(feature_flags.delete().where(feature_flags.c.id == row.id))
        append_event(connection, now, "feature_flag", key, "FEATURE_FLAG_DELETED",
                     {"flag": _snapshot(flag_from_row(row)), "deleted_at": now.isoformat()})


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    type_ = flag_type(values["type"])
    rules = values["rules"]
    if isinstance(rules, str):  # JSON text, as a form sends it; an empty box means no rules
        rules = parse_json(rules, "rules") if rules.strip() else []
    enabled = values["enabled"]
    if not isinstance(enabled, bool):
        raise ValidationError("enabled", "must be true or false")
    return {
        "name": fields.name(values["name"]),
        "description": fields.text(values["description"]),
        "type": type_,
        "default_value": fields.storable_json(
            flag_value(type_, values["default_value"], "default_value"), "default_value"),
        "enabled": enabled,
        "rules": fields.storable_json(check_rules(type_, rules), "rules"),
    }


def _json(value: Any) -> str:
    # 1 == True and key order differ between engines, so compare canonical JSON text
    return json.dumps(value, sort_keys=True)


def _snapshot(flag: Flag) -> dict[str, Any]:
    return {name: getattr(flag, name) for name in SNAPSHOT}
