"""Read feature flags and evaluate them: for one instance, or for one flag across the fleet."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.analytics.instances import get_instance
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import flag_from_row, flag_row
from kaiten_analytics.db.models import (
    customers,
    deployment_zones,
    feature_flags,
    instances,
    instances_in_context,
    licenses,
)
from kaiten_analytics.entities import Flag, FlagEvaluation
from kaiten_analytics.flags.context import context_of, instance_context
from kaiten_analytics.flags.explain import explain
from kaiten_analytics.flags.rules import Evaluator
from kaiten_analytics.flags.values import json_text

FLAG_COLUMNS = ["key", "name", "type", "enabled", "default_value", "rules", "rule_count",
                "description", "created_at", "updated_at"]
EVALUATION_COLUMNS = ["key", "name", "type", "value", "reason", "rule", "explanation", "error"]
EXPOSURE_COLUMNS = ["instance", "customer", "license", "deployment_zone", "value", "reason",
                    "rule", "explanation"]
SUMMARY_COLUMNS = ["value", "reason", "rule", "instances", "share"]


def list_flags(db: Database) -> pd.DataFrame:
    """List every feature flag, ordered by key.

    Returns
    -------
    DataFrame
        key, name, type, enabled, default_value, rules (the list of rules), rule_count,
        description, created_at, updated_at (aware UTC).
    """
    flags = _flags(db)
    rows = [
        (f.key, f.name, f.type, f.enabled, f.default_value, f.rules,
         len(f.rules) if isinstance(f.rules, list) else 0, f.description, f.created_at,
         f.updated_at)
        for f in flags
    ]
    return _objects(frame(rows, FLAG_COLUMNS, times=("created_at", "updated_at")),
                    "default_value", "rules")


def get_flag(db: Database, key: str) -> Flag:
    """Return the flag ``key``; an unknown key raises ``NotFoundError``."""
    with db.read() as connection:
        return flag_from_row(flag_row(connection, key))


def evaluate_flag(db: Database, key: str, instance: str) -> FlagEvaluation:
    """Return the value the flag ``key`` serves the live instance ``instance``, and why.

    Unknown flags and instances (deleted ones too) raise ``NotFoundError``; a malformed flag
    does not raise: it serves its default with reason ``ERROR``.
    """
    flag = get_flag(db, key)
    return Evaluator(flag).evaluate(instance_context(get_instance(db, instance)))


def evaluate_all(db: Database, instance: str) -> pd.DataFrame:
    """Evaluate every flag for the live instance ``instance``, ordered by flag key.

    Returns
    -------
    DataFrame
        key, name, type, value (what the instance gets), reason (DISABLED, TARGETING_MATCH,
        SPLIT, DEFAULT or ERROR), rule (index of the rule that served the value — or, with
        ERROR, of the malformed rule; <NA> otherwise), explanation (why, in words), error
        (what is malformed, None unless ERROR).
    """
    context = instance_context(get_instance(db, instance))
    rows = []
    for flag in _flags(db):
        evaluator = Evaluator(flag)
        result = evaluator.evaluate(context)
        rows.append((flag.key, flag.name, flag.type, result.value, result.reason, result.rule,
                     explain(evaluator, context, result), result.error))
    return _rules(_objects(frame(rows, EVALUATION_COLUMNS), "value", "error"))


def flag_exposure(db: Database, key: str) -> pd.DataFrame:
    """Evaluate the flag ``key`` for every live instance: who gets which value, and why.

    Returns
    -------
    DataFrame
        instance, customer, license, deployment_zone (slugs; zone missing without one), value,
        reason, rule (<NA> when no rule served the value), explanation — ordered by instance.
    """
    evaluator = Evaluator(get_flag(db, key))
    rows = []
    for slug, customer, license_, zone, metadata in _fleet(db):
        context = context_of(slug, customer, license_, zone, metadata)
        result = evaluator.evaluate(context)
        rows.append((slug, customer, license_, zone, result.value, result.reason, result.rule,
                     explain(evaluator, context, result)))
    return _rules(_objects(frame(rows, EXPOSURE_COLUMNS), "value"))


def exposure_summary(db: Database, key: str) -> pd.DataFrame:
    """Count the live instances getting each value of the flag ``key``, by reason and rule.

    Returns
    -------
    DataFrame
        value, reason, rule (<NA> when no rule served it), instances (count), share (percent
        of live instances, 0–100) — most instances first.
    """
    exposure = flag_exposure(db, key)
    groups: dict[tuple[str, str, Any], list[Any]] = {}
    for value, reason, rule in zip(exposure["value"], exposure["reason"], exposure["rule"],
                                   strict=True):
        rule_key = None if pd.isna(rule) else int(rule)
        entry = groups.setdefault((json_text(value), reason, rule_key), [value, 0])
        entry[1] += 1
    total = len(exposure)
    rows = [
        (value, reason, rule, count, 100.0 * count / total)
        for (_, reason, rule), (value, count) in groups.items()
    ]
    rows.sort(key=lambda row: (-row[3], json_text(row[0]), row[1]))
    summary = frame(rows, SUMMARY_COLUMNS)
    summary["instances"] = summary["instances"].astype("int64")
    summary["share"] = summary["share"].astype("float64")
    return _rules(_objects(summary, "value"))


def _flags(db: Database) -> list:
    with db.read() as connection:
        rows = connection.execute(sa.select(feature_flags).order_by(feature_flags.c.key)).all()
    return [flag_from_row(row) for row in rows]


def _fleet(db: Database) -> list[sa.Row]:
    query = (
        sa.select(instances.c.slug, customers.c.slug, licenses.c.slug, deployment_zones.c.slug,
                  instances.c.metadata)
        .select_from(instances_in_context())
        .where(instances.c.deleted_at.is_(None))
        .order_by(instances.c.slug)
    )
    with db.read() as connection:
        return connection.execute(query).all()


def _objects(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    # values of several JSON kinds (or None) stay Python objects, never coerced to str/float
    for column in columns:
        df[column] = pd.Series(list(df[column]), index=df.index, dtype=object)
    return df


def _rules(df: pd.DataFrame) -> pd.DataFrame:
    df["rule"] = pd.array([None if pd.isna(r) else int(r) for r in df["rule"]], dtype="Int64")
    return df
