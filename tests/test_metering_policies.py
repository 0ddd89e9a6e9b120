"""Metering policies: periods that reset, soft limits, warning levels, recovery, license edits.

The boundary matrix runs every aggregation method across the last report of a period and the
first of the next, for days, ISO weeks (53 too), months of 28, 29, 30 and 31 days and a year,
on both engines; the rules themselves are checked on the pure decision as well.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import table_counts

import kaiten_analytics as ka
from kaiten_analytics.db.models import entitlement_usage, feature_audit_trail, outbox_events
from kaiten_analytics.periods import period_bounds
from kaiten_analytics.policy import Policy, license_value
from kaiten_analytics.service.metering import Stored, decide

METHODS = ("SUM", "COUNT", "AVERAGE", "MAX", "MIN", "LATEST")
US = timedelta(microseconds=1)


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- periods ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("period", "moment", "start", "end"), [
    ("day", at(2026, 3, 10, 23, 59, 59), at(2026, 3, 10), at(2026, 3, 11)),
    ("week", at(2026, 12, 31, 12), at(2026, 12, 28), at(2027, 1, 4)),  # ISO 2026-W53
    ("week", at(2027, 1, 3, 23, 59), at(2026, 12, 28), at(2027, 1, 4)),
    ("week", at(2027, 1, 4), at(2027, 1, 4), at(2027, 1, 11)),  # 2027-W01
    ("month", at(2024, 2, 29, 23), at(2024, 2, 1), at(2024, 3, 1)),  # 29 days
    ("month", at(2026, 2, 28, 23), at(2026, 2, 1), at(2026, 3, 1)),  # 28 days
    ("month", at(2026, 4, 30, 23), at(2026, 4, 1), at(2026, 5, 1)),  # 30 days
    ("month", at(2026, 1, 31, 23), at(2026, 1, 1), at(2026, 2, 1)),  # 31 days
    ("year", at(2026, 12, 31, 23, 59), at(2026, 1, 1), at(2027, 1, 1)),
    ("year", at(2027, 1, 1), at(2027, 1, 1), at(2028, 1, 1)),
])
def test_period_bounds_are_utc_calendar_periods(period, moment, start, end):
    assert period_bounds(period, moment) == (start, end)
    assert period_bounds(None, moment) == (None, None)


def test_iso_week_53_is_one_week_from_monday():
    start, end = period_bounds("week", at(2026, 12, 30))
    assert start.isocalendar()[1:] == (53, 1) and end - start == timedelta(weeks=1)


# --- the policy shape -------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "field"), [
    ({"period": "month"}, "e.threshold"),
    ({"threshold": -1}, "e.threshold"),
    ({"threshold": "ten"}, "e.threshold"),
    ({"threshold": 10, "period": "fortnight"}, "e.period"),
    ({"threshold": 10, "overage_percent": -5}, "e.overage_percent"),
    ({"threshold": 10, "overage_percent": float("nan")}, "e.overage_percent"),
    ({"threshold": 10, "warn_at": "80"}, "e.warn_at"),
    ({"threshold": 10, "warn_at": [0]}, "e.warn_at[0]"),
    ({"threshold": 10, "warn_at": [50, 101]}, "e.warn_at[1]"),
    ({"threshold": 10, "warn_at": [50, 50]}, "e.warn_at"),
    ({"threshold": 10, "limit": 20}, "e.limit"),
    (True, "e"),
])
def test_malformed_policy_names_the_key(value, field):
    with pytest.raises(ka.ValidationError) as info:
        license_value(value, "e")
    assert info.value.field == field


def test_policy_is_stored_normalised():
    assert license_value({"threshold": 10.0, "warn_at": [80, 50.5], "overage_percent": 10,
                          "period": "week"}, "e") == {
        "threshold": 10, "period": "week", "overage_percent": 10, "warn_at": [50.5, 80]}
    # a warning may sit inside the overage band
    assert license_value({"threshold": 10, "overage_percent": 20, "warn_at": [110]},
                         "e")["warn_at"] == [110]
    assert license_value(7.0, "e") == 7 and license_value(None, "e") is None


# --- the pure decision ------------------------------------------------------------------------
def test_soft_limit_accepts_up_to_the_overage_line_and_reaches_at_the_threshold():
    policy = Policy(100, overage_percent=20)
    now = at(2026, 3, 10)
    at_line = decide("SUM", policy, Stored(90, 1), 30, now)
    assert at_line.accepted and at_line.after == 120 and at_line.reached
    over = decide("SUM", policy, Stored(90, 1), 30.5, now)
    assert not over.accepted and over.after == 90 and "above the limit 120" in over.reason
    inside = decide("SUM", policy, Stored(110, 2), 5, now)
    assert inside.accepted and not inside.reached  # already over the threshold


def test_warning_levels_once_each_several_at_once():
    policy = Policy(100, warn_at=(50, 80))
    now = at(2026, 3, 10)
    jump = decide("SUM", policy, Stored(10, 1), 75, now)
    assert jump.warnings == (50, 80) and jump.warned == (50, 80)
    again = decide("LATEST", policy, Stored(85, 2, warned=(50, 80)), 90, now)
    assert again.warnings == ()


@pytest.mark.parametrize("method", ["LATEST", "MIN", "AVERAGE"])
def test_recovery_when_an_aggregate_at_or_over_falls_below(method):
    policy = Policy(100)
    now = at(2026, 3, 10)
    falls = decide(method, policy, Stored(100, 1), 0, now)
    assert falls.accepted and falls.after < 100 and falls.recovered
    stays = decide(method, policy, Stored(99, 1), 0, now)
    assert not stays.recovered


# --- the boundary matrix on the database ------------------------------------------------------
BOUNDARIES = [  # (period, last moment of a period, first moment of the next, its start)
    ("day", at(2026, 3, 10, 23, 59, 59, 999999), at(2026, 3, 11)),
    ("week", at(2027, 1, 3, 23, 59, 59, 999999), at(2027, 1, 4)),  # end of ISO week 53
    ("week", at(2026, 12, 27, 23, 59, 59), at(2026, 12, 28)),  # into ISO week 53
    ("month", at(2024, 2, 29, 23, 59, 59), at(2024, 3, 1)),
    ("month", at(2026, 2, 28, 23, 59, 59), at(2026, 3, 1)),
    ("month", at(2026, 4, 30, 23, 59, 59), at(2026, 5, 1)),
    ("month", at(2026, 1, 31, 23, 59, 59), at(2026, 2, 1)),
    ("year", at(2026, 12, 31, 23, 59, 59, 999999), at(2027, 1, 1)),
]


def outbox(kaiten, event_type=None):
    query = sa.select(outbox_events.c.event_type, outbox_events.c.payload).order_by(
        outbox_events.c.id)
    if event_type is not None:
        query = query.where(outbox_events.c.event_type == event_type)
    with kaiten.db.engine.connect() as connection:
        return [(row.event_type, row.payload) for row in connection.execute(query)]


def payload_of(kaiten, report):
    with kaiten.db.engine.connect() as connection:
        return connection.execute(sa.select(feature_audit_trail.c.payload).where(
            feature_audit_trail.c.id == report.event_id)).scalar_one()


def test_every_method_restarts_at_every_period_boundary(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    for method in METHODS:
        kaiten.entitlements.create(f"m-{method.lower()}", method, aggregation_method=method)
    for period in ("day", "week", "month", "year"):
        kaiten.licenses.create(f"per-{period}", period, {
            f"m-{m.lower()}": {"threshold": 50, "period": period} for m in METHODS})
    for index, (period, last, first) in enumerate(BOUNDARIES):
        instance = f"i-{index}"
        kaiten.instances.create("acme", instance, instance, f"per-{period}")
        old_start = period_bounds(period, last)[0]
        for method in METHODS:
            ent = f"m-{method.lower()}"
            clock.set(old_start)  # the first moment of the old period counts in it
            kaiten.usage.report(instance, ent, 40)
            clock.set(last)
            closing = kaiten.usage.report(instance, ent, 40)
            assert closing.period_start == old_start.isoformat().replace("+00:00", "Z")
            assert closing.usage["event_count"] == (2 if closing.accepted else 1), method
            assert payload_of(kaiten, closing)["period_start"] == closing.period_start
            clock.set(first)
            # before any report of the new period the usage is empty ...
            assert kaiten.usage.get_value(instance, ent).usage is None
            # ... and its first report starts from none
            opening = kaiten.usage.report(instance, ent, 7)
            assert opening.accepted and opening.previous is None, (period, method)
            assert opening.usage == {"type": "number", "value": 1 if method == "COUNT" else 7,
                                     "event_count": 1}
            assert opening.period_start == first.isoformat().replace("+00:00", "Z")
            payload = payload_of(kaiten, opening)
            assert payload["period_start"] == opening.period_start
            assert payload["aggregate_before"] is None and payload["event_count"] == 1
    # SUM took the old periods to 80 > 50: those closing reports were rejected
    assert len(kaiten.audit.trail("i-0", event_name=ka.USAGE_REJECTED, limit=200)) == 1


def test_soft_limit_and_warnings_on_the_database(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("api-calls", "API calls")
    kaiten.licenses.create("pro", "Pro", {"api-calls": {
        "threshold": 1000, "period": "month", "overage_percent": 10, "warn_at": [50, 80]}})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")
    clock.set(at(2026, 3, 1))
    results = [kaiten.usage.report("acme-prod", "api-calls", v)
               for v in (400, 100, 100, 250, 250, 1)]
    assert [r.status for r in results] == ["ACCEPTED"] * 5 + ["REJECTED"]
    assert results[3].usage["value"] == 850 and not results[3].reached
    assert results[4].usage["value"] == 1100 and results[4].reached  # the overage line
    assert results[5].usage["value"] == 1100 and "above the limit 1100" in results[5].reason
    events = [(kind, payload) for kind, payload in outbox(kaiten)
              if kind != "INSTANCE_CREATED"]
    assert [(kind, payload.get("percent")) for kind, payload in events] == [
        (ka.USAGE_WARNING, 50), (ka.USAGE_WARNING, 80), (ka.USAGE_REACHED, None)]
    warning = dict(events[0][1])
    assert {k: warning[k] for k in ("instance", "entitlement", "percent", "value", "threshold",
                                    "period_start")} == {
        "instance": "acme-prod", "entitlement": "api-calls", "percent": 50, "value": 500,
        "threshold": 1000, "period_start": "2026-03-01T00:00:00Z"}


def test_reached_at_the_threshold_inside_the_overage_band(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("api-calls", "API calls")
    kaiten.licenses.create("pro", "Pro", {"api-calls": {
        "threshold": 100, "period": "day", "overage_percent": 50, "warn_at": [80]}})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")
    day_one = [kaiten.usage.report("acme-prod", "api-calls", v) for v in (90, 10, 50, 1)]
    assert [r.status for r in day_one] == ["ACCEPTED", "ACCEPTED", "ACCEPTED", "REJECTED"]
    assert [r.reached for r in day_one] == [False, True, False, False]
    assert day_one[2].usage["value"] == 150  # exactly the overage line
    clock.advance(days=1)
    day_two = [kaiten.usage.report("acme-prod", "api-calls", v) for v in (85, 20)]
    assert [r.reached for r in day_two] == [False, True]
    kinds = [(kind, p.get("percent"), p["period_start"][:10]) for kind, p in outbox(kaiten)
             if kind != "INSTANCE_CREATED"]
    assert kinds == [
        (ka.USAGE_WARNING, 80, "2026-03-10"), (ka.USAGE_REACHED, None, "2026-03-10"),
        (ka.USAGE_RECOVERED, None, "2026-03-11"),  # the new day began below the threshold
        (ka.USAGE_WARNING, 80, "2026-03-11"), (ka.USAGE_REACHED, None, "2026-03-11")]


@pytest.mark.parametrize("method", ["LATEST", "MIN", "AVERAGE"])
def test_recovery_events_for_falling_methods(kaiten, clock, method):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("gauge", "Gauge", aggregation_method=method)
    kaiten.licenses.create("pro", "Pro", {"gauge": 100})  # a plain threshold recovers too
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")
    values = {"LATEST": (100, 40, 100, 60), "MIN": (100, 40), "AVERAGE": (100, 0)}[method]
    reports = [kaiten.usage.report("acme-prod", "gauge", v) for v in values]
    assert all(r.accepted for r in reports)
    recovered = outbox(kaiten, ka.USAGE_RECOVERED)
    expected = {"LATEST": 2, "MIN": 1, "AVERAGE": 1}[method]
    assert len(recovered) == expected
    assert recovered[0][1]["value"] == reports[1].usage["value"]
    assert recovered[0][1]["threshold"] == 100 and recovered[0][1]["period_start"] is None
    trail = kaiten.audit.trail("acme-prod", event_name=ka.USAGE_ACCEPTED, limit=10)
    assert trail["payload"].map(lambda p: p.get("recovered", False)).sum() == expected


def test_recovery_at_a_new_period_only_after_ending_at_or_over(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("api-calls", "API calls")
    kaiten.licenses.create("pro", "Pro", {"api-calls": {"threshold": 10, "period": "day"}})
    kaiten.instances.create("acme", "A", "a", "pro")
    kaiten.instances.create("acme", "B", "b", "pro")
    kaiten.usage.report("a", "api-calls", 10)  # ends the day at the threshold
    kaiten.usage.report("b", "api-calls", 9)  # ends below
    clock.advance(days=1)
    kaiten.usage.report("a", "api-calls", 1)
    kaiten.usage.report("b", "api-calls", 1)
    recovered = outbox(kaiten, ka.USAGE_RECOVERED)
    assert [p["instance"] for _, p in recovered] == ["a"]
    assert recovered[0][1]["period_start"] == "2026-03-11T00:00:00Z"


def test_warning_once_per_level_per_period_even_when_the_aggregate_falls(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("gauge", "Gauge", aggregation_method="LATEST")
    kaiten.licenses.create("pro", "Pro", {"gauge": {"threshold": 100, "period": "week",
                                                    "warn_at": [50, 90]}})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")
    for value in (60, 10, 70, 95, 0, 95):
        kaiten.usage.report("acme-prod", "gauge", value)
    clock.advance(weeks=1)
    kaiten.usage.report("acme-prod", "gauge", 55)
    warnings = [(p["percent"], p["value"], p["period_start"][:10])
                for _, p in outbox(kaiten, ka.USAGE_WARNING)]
    assert warnings == [(50, 60, "2026-03-09"), (90, 95, "2026-03-09"),
                        (50, 55, "2026-03-16")]


def test_reads_follow_the_current_period(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("api-calls", "API calls")
    policy = {"threshold": 100, "period": "month", "warn_at": [80]}
    kaiten.licenses.create("pro", "Pro", {"api-calls": policy})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")
    kaiten.usage.report("acme-prod", "api-calls", 30)
    read = kaiten.usage.get_value("acme-prod", "api-calls")
    assert read.value == 100 and read.policy == policy
    assert read.usage == {"type": "number", "value": 30, "event_count": 1}
    clock.set(at(2026, 4, 1))
    assert kaiten.usage.get_value("acme-prod", "api-calls").usage is None
    # the old period's row is still stored: nothing was written at the boundary
    with kaiten.db.engine.connect() as connection:
        stored = connection.execute(sa.select(entitlement_usage.c.value)).scalar()
    assert stored["value"] == 30


def test_license_update_takes_effect_for_the_next_report(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("api-calls", "API calls")
    kaiten.entitlements.create("seats", "Seats", aggregation_method="MAX")
    kaiten.licenses.create("pro", "Pro", {"api-calls": 100})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")
    assert kaiten.usage.report("acme-prod", "api-calls", 100).accepted
    assert not kaiten.usage.report("acme-prod", "api-calls", 1).accepted
    updated = kaiten.licenses.update("pro", name="Pro+", entitlements={
        "api-calls": {"threshold": 100, "overage_percent": 10}, "seats": 5})
    assert updated.name == "Pro+" and updated.entitlements == {
        "api-calls": {"threshold": 100, "overage_percent": 10}, "seats": 5}
    # a policy without a period keeps the stored aggregate (the period did not change)
    after = kaiten.usage.report("acme-prod", "api-calls", 10)
    assert after.accepted and after.usage["value"] == 110
    assert kaiten.usage.report("acme-prod", "seats", 5).accepted
    # adding a period starts one at the next report
    kaiten.licenses.update("pro", entitlements={"api-calls": {"threshold": 100,
                                                              "period": "day"}})
    assert kaiten.usage.report("acme-prod", "api-calls", 5).usage["value"] == 5
    before = table_counts(kaiten)
    with pytest.raises(ka.ValidationError) as info:
        kaiten.licenses.update("pro", entitlements={"api-calls": {"threshold": 1,
                                                                  "warn_at": [200]}})
    assert info.value.field == "entitlements.api-calls.warn_at[0]"
    with pytest.raises(ka.NotFoundError):
        kaiten.licenses.update("nope", name="x")
    assert table_counts(kaiten) == before
    with pytest.raises(ka.ReadOnlyError):
        kaiten.read_only().licenses.update("pro", name="x")


def test_audit_rows_of_a_policy_report_carry_the_period(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("api-calls", "API calls")
    kaiten.licenses.create("pro", "Pro", {"api-calls": {"threshold": 5, "period": "year"}})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")
    kaiten.usage.report("acme-prod", "api-calls", 6)  # rejected: its payload has it too
    with kaiten.db.engine.connect() as connection:
        payload = connection.execute(sa.select(feature_audit_trail.c.payload)).scalar()
    assert payload["period_start"] == "2026-01-01T00:00:00Z"
    assert payload["period_end"] == "2027-01-01T00:00:00Z"
    assert payload["reason"].startswith("the aggregate would be 6")


def test_a_database_at_the_empty_0006_revision_upgrades_and_keeps_its_usage(database_url):
    """Databases that applied 0006 while it was an empty placeholder get the columns too."""
    from alembic.script import ScriptDirectory

    from kaiten_analytics.db.migrate import alembic_config, current_revision, upgrade

    engine = sa.create_engine(database_url)
    upgrade(engine, "0006")
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO customers (id, slug, name, created_at) VALUES (1, 'acme', 'A', :t)",
            "INSERT INTO licenses (id, slug, name, description) VALUES (1, 'pro', 'P', '')",
            "INSERT INTO entitlements (id, slug, name, type, aggregation_method, description) "
            "VALUES (1, 'api-calls', 'API', 'NUMBER', 'SUM', '')",
            "INSERT INTO license_entitlements (license_id, entitlement_id, value) "
            "VALUES (1, 1, '100')",
            "INSERT INTO instances (id, customer_id, name, slug, description, license_id, "
            "metadata, created_at, updated_at) VALUES (1, 1, 'P', 'acme-prod', '', 1, '{}', "
            ":t, :t)",
            "INSERT INTO entitlement_usage (instance_id, entitlement_id, value, updated_at) "
            "VALUES (1, 1, '{\"type\": \"number\", \"value\": 40, \"event_count\": 2}', :t)",
        ):
            connection.execute(sa.text(statement), {"t": at(2026, 3, 1)})
    engine.dispose()
    kaiten = ka.connect(database_url, clock=lambda: at(2026, 3, 10))
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(kaiten.db.engine) == head
    assert kaiten.usage.get_value("acme-prod", "api-calls").usage["value"] == 40
    assert kaiten.usage.report("acme-prod", "api-calls", 60).usage == {
        "type": "number", "value": 100, "event_count": 3}
    kaiten.close()


# --- dry runs and usage at a moment ---------------------------------------------------------
def _policy_catalogue(kaiten):
    kaiten.customers.create("acme", "Acme")
    for method in METHODS:
        kaiten.entitlements.create(f"m-{method.lower()}", method, aggregation_method=method)
    kaiten.licenses.create("pro", "Pro", {
        "m-sum": {"threshold": 60, "period": "day", "overage_percent": 25, "warn_at": [50]},
        "m-count": {"threshold": 5, "period": "day"},
        "m-average": {"threshold": 30, "period": "week", "warn_at": [90]},
        "m-max": 40, "m-min": {"threshold": 10, "period": "month"},
        "m-latest": {"threshold": 20, "period": "day", "overage_percent": 50}})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")


def test_check_writes_nothing_and_agrees_with_the_report_that_follows(kaiten, clock):
    import random

    _policy_catalogue(kaiten)
    rng = random.Random(16)
    clock.set(at(2026, 3, 8, 20))
    for _ in range(60):
        method = rng.choice(METHODS)
        value = rng.choice([0, 1, 2.5, 5, 9, 12, 20, 25, 31])
        clock.advance(minutes=rng.choice([0, 7, 45, 240]))
        before = table_counts(kaiten)
        dry = kaiten.usage.check("acme-prod", f"m-{method.lower()}", value)
        assert table_counts(kaiten) == before  # not even an audit row
        assert dry.event_id is None
        real = kaiten.usage.report("acme-prod", f"m-{method.lower()}", value)
        assert real.event_id is not None
        assert dry == ka.UsageReport(**{**real.__dict__, "event_id": None}), (method, value)
    with pytest.raises(ka.ValidationError):
        kaiten.usage.check("acme-prod", "m-sum", float("inf"))
    with pytest.raises(ka.NotFoundError):
        kaiten.usage.check("nope", "m-sum", 1)
    # a dry run is a read: a read-only handle may make it
    assert kaiten.read_only().usage.check("acme-prod", "m-max", 1).status == "ACCEPTED"


def _replay(kaiten, instance):
    """Every accepted report in order, replayed from the trail's values by the rules."""
    from kaiten_analytics.policy import policy_of
    from kaiten_analytics.service.aggregation import candidate

    license = {ent: policy_of(value)
               for ent, value in kaiten.licenses.update("pro").entitlements.items()}
    trail = kaiten.audit.trail(instance, event_name=ka.USAGE_ACCEPTED, limit=200)
    assert len(trail) < 200
    steps, state = [], {}
    for row in trail.iloc[::-1].itertuples():
        policy = license[row.entitlement]
        method = kaiten.entitlements.list().set_index("slug").loc[row.entitlement,
                                                                  "aggregation_method"]
        bounds = period_bounds(policy.period if policy else None, row.created_at)
        aggregate, count, held = state.get(row.entitlement, (None, 0, None))
        if held != bounds:
            aggregate, count = None, 0
        aggregate = candidate(method, aggregate, count, row.payload["value"])
        state[row.entitlement] = (aggregate, count + 1, bounds)
        steps.append((row.created_at.to_pydatetime(), row.entitlement, aggregate, count + 1,
                      bounds[1]))
    return steps


def _replayed_at(steps, entitlement, when):
    found = None
    for created, ent, aggregate, count, end in steps:
        if ent == entitlement and created <= when:
            found = (aggregate, count, end)
    if found is None or (found[2] is not None and found[2] <= when):
        return None
    return found[:2]


def test_usage_at_equals_a_replay_of_the_trail_at_random_moments(kaiten, clock):
    import random

    _policy_catalogue(kaiten)
    rng = random.Random(61)
    clock.set(at(2026, 3, 9, 22, 50))
    for _ in range(120):
        clock.advance(minutes=rng.choice([0, 0, 3, 14, 15, 50, 200]))
        method = rng.choice(METHODS)
        if rng.random() < 0.15:
            kaiten.usage.get_value("acme-prod", f"m-{method.lower()}")
        else:
            kaiten.usage.report("acme-prod", f"m-{method.lower()}", rng.choice([1, 3, 7, 15]))
    end = clock.now
    steps = _replay(kaiten, "acme-prod")
    moments = [created for created, *_ in steps[::7]]  # exactly at reports
    moments += [created - US for created, *_ in steps[::11]]  # just before them
    moments += [at(2026, 3, 10), at(2026, 3, 11), at(2026, 3, 16), at(2026, 4, 1),
                at(2026, 3, 9), end + timedelta(days=40)]
    moments += [at(2026, 3, 9, 22) + timedelta(seconds=rng.randrange(0, 7 * 86400))
                for _ in range(30)]
    reads_before = kaiten.audit.count("acme-prod").count
    for when in moments:
        for method in METHODS:
            ent = f"m-{method.lower()}"
            expected = _replayed_at(steps, ent, when)
            got = kaiten.usage.at("acme-prod", ent, when)
            if expected is None:
                assert got is None, (ent, when)
            else:
                assert got is not None, (ent, when)
                assert got["value"] == pytest.approx(expected[0]) and \
                    got["event_count"] == expected[1], (ent, when)
    assert kaiten.usage.at("acme-prod", "m-sum", "2026-03-10T00:00:00Z") == \
        kaiten.usage.at("acme-prod", "m-sum", at(2026, 3, 10))
    assert kaiten.audit.count("acme-prod").count == reads_before  # no read event appended
    with pytest.raises(ka.ValidationError) as info:
        kaiten.usage.at("acme-prod", "m-sum", "2026-03-10")
    assert info.value.field == "when"
    with pytest.raises(ka.ValidationError):
        kaiten.usage.at("acme-prod", "m-sum", None)
    for instance, entitlement in (("nope", "m-sum"), ("acme-prod", "nope")):
        with pytest.raises(ka.NotFoundError):
            kaiten.usage.at(instance, entitlement, at(2026, 3, 10))


# --- reads of the current period ---------------------------------------------------------------
def test_in_overage_is_distinct_from_at_limit():
    assert ka.limit_status(100, 100) == "at limit"
    assert ka.limit_status(100.5, 100) == "in overage"
    assert ka.limit_status(0, 0) == "at limit" and ka.limit_status(1, 0) == "in overage"
    assert "in overage" in ka.LIMIT_STATUSES


def test_summary_and_fleet_views_show_the_current_period_and_overage(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("api-calls", "API calls")
    kaiten.licenses.create("pro", "Pro", {"api-calls": {
        "threshold": 100, "period": "month", "overage_percent": 50}})
    for slug in ("over", "at", "quiet"):
        kaiten.instances.create("acme", slug, slug, "pro")
    kaiten.usage.report("over", "api-calls", 120)
    kaiten.usage.report("at", "api-calls", 100)
    fleet = kaiten.fleet.consumption().set_index("instance")
    assert fleet.loc["over", "status"] == "in overage" and fleet.loc["at", "status"] == "at limit"
    assert fleet.loc["over", "threshold"] == 100 and fleet.loc["over", "percent_used"] == 120
    assert fleet.loc["quiet", "status"] == "unused"
    nearing = kaiten.fleet.nearing_limits().set_index("instance")
    assert nearing.loc["over", "at_limit"] and nearing.loc["at", "at_limit"]
    summary = kaiten.usage.summary("over").set_index("entitlement")
    assert summary.loc["api-calls", "granted"] == 100
    assert summary.loc["api-calls", "status"] == "in overage"
    clock.set(at(2026, 4, 1))  # a new month: no usage until its first report
    fleet = kaiten.fleet.consumption().set_index("instance")
    assert fleet["status"].eq("unused").all() and fleet["usage"].isna().all()
    summary = kaiten.usage.summary("over").set_index("entitlement")
    assert summary.loc["api-calls", "event_count"] == 0
    assert summary.loc["api-calls", "updated_at"] is pd.NaT or pd.isna(
        summary.loc["api-calls", "updated_at"])


def test_forecast_runs_through_the_current_period_only(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("api-calls", "API calls")
    kaiten.licenses.create("slow", "Slow", {"api-calls": {"threshold": 1000,
                                                          "period": "month"}})
    kaiten.licenses.create("fast", "Fast", {"api-calls": {"threshold": 150,
                                                          "period": "month"}})
    kaiten.licenses.create("plain", "Plain", {"api-calls": 150})
    for slug, license in (("slow-1", "slow"), ("fast-1", "fast"), ("plain-1", "plain")):
        kaiten.instances.create("acme", slug, slug, license)
    # February ran hot (and would tilt a trend drawn across the reset)
    for day in range(20, 29):
        clock.set(at(2026, 2, day, 12))
        kaiten.usage.report("slow-1", "api-calls", 100)
        kaiten.usage.report("fast-1", "api-calls", 15)
    for day in range(1, 11):  # March: 10 a day
        clock.set(at(2026, 3, day, 12))
        for slug in ("slow-1", "fast-1", "plain-1"):
            kaiten.usage.report(slug, "api-calls", 10)
    forecast = kaiten.fleet.forecast(window_days=30).set_index("instance")
    slow, fast, plain = forecast.loc["slow-1"], forecast.loc["fast-1"], forecast.loc["plain-1"]
    assert slow["days_of_data"] == 10 and slow["slope_per_day"] == pytest.approx(10)
    assert slow["reason"] == "not within this period" and slow["forecast_date"] is None
    assert fast["reason"] == "forecast" and fast["slope_per_day"] == pytest.approx(10)
    assert fast["forecast_date"] == at(2026, 3, 15).date()  # 50 left at 10 a day
    assert plain["reason"] == "forecast" and plain["days_of_data"] == 10


def test_value_over_time_shows_each_period_and_where_it_reset(kaiten, clock):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("api-calls", "API calls")
    kaiten.licenses.create("pro", "Pro", {"api-calls": {"threshold": 100, "period": "week"}})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")
    for day in range(12):  # Tuesday 10 March to Saturday 21 March
        clock.set(at(2026, 3, 10 + day, 9))
        kaiten.usage.report("acme-prod", "api-calls", 10)
    series = kaiten.audit.value_over_time("acme-prod", "api-calls")
    assert list(series["value"]) == [10, 20, 30, 40, 50, 60, 10, 20, 30, 40, 50, 60]
    starts = series["period_start"].dt.strftime("%Y-%m-%d")
    assert list(starts) == ["2026-03-09"] * 6 + ["2026-03-16"] * 6
    sampled = kaiten.audit.value_over_time("acme-prod", "api-calls", max_points=40)
    assert set(sampled["period_start"].dt.strftime("%Y-%m-%d")) == {"2026-03-09", "2026-03-16"}
    assert sampled["value"].min() == 10 and sampled["value"].max() == 60
