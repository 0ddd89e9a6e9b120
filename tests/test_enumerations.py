"""Each enumeration is defined once, and the tables' CHECK constraints allow exactly it."""

from __future__ import annotations

import re

import sqlalchemy as sa

import kaiten_analytics as ka
from kaiten_analytics.db.models import metadata
from kaiten_analytics.enumerations import (
    AGGREGATION_METHODS,
    CONSOLE_ROLES,
    ENTITLEMENT_TYPES,
    FLAG_TYPES,
)

#: constraint name -> the values its SQL may list
CONSTRAINTS = {
    ("entitlements", "ck_entitlements_type"): set(ENTITLEMENT_TYPES),
    # "type = 'NUMBER' AND aggregation_method IN (...)": the one type that aggregates, too
    ("entitlements", "ck_entitlements_aggregation_method"): {*AGGREGATION_METHODS, "NUMBER"},
    ("feature_flags", "ck_feature_flags_type"): set(FLAG_TYPES),
    ("console_users", "ck_console_users_role"): set(CONSOLE_ROLES),
}


def _literals(sql: str) -> set[str]:
    return set(re.findall(r"'([^']*)'", sql))


def test_the_models_check_constraints_list_the_enumerations():
    found = {}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            key = (table.name, constraint.name)
            if key in CONSTRAINTS:
                found[key] = _literals(str(constraint.sqltext))
    assert found == CONSTRAINTS


def test_the_migrated_schema_allows_exactly_the_enumerations(kaiten):
    """A member added to an enumeration without a migration widening the stored CHECK fails."""
    inspector = sa.inspect(kaiten.db.engine)
    found = {}
    for table, name in CONSTRAINTS:
        for constraint in inspector.get_check_constraints(table):
            if constraint["name"] == name:
                found[(table, name)] = _literals(constraint["sqltext"])
    assert found == CONSTRAINTS



def test_the_public_names_are_the_enumerations():
    assert ka.ENTITLEMENT_TYPES == ENTITLEMENT_TYPES
    assert ka.AGGREGATION_METHODS == AGGREGATION_METHODS
    assert ka.FLAG_TYPES == FLAG_TYPES
    assert ka.CONSOLE_ROLES == CONSOLE_ROLES
