"""A Hypothesis state machine: the service against a small in-memory model of metering.

The model knows plain thresholds and policies (a daily or weekly period, a soft limit, warning
levels); the machine moves the clock across period boundaries and switches licenses, and the
outbox must hold exactly the REACHED, WARNING and RECOVERED events the model counted.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kaiten_analytics.db.models import outbox_events

METHODS = ("SUM", "COUNT", "AVERAGE", "MAX", "MIN", "LATEST")
#: licenses with different limits per method (None = no limit; a dict is a policy)
LICENSES = {
    "tight": {m: 10 for m in METHODS},
    "loose": {m: 1000 for m in METHODS},
    "open": {m: None for m in METHODS},
    "daily": {m: {"threshold": 10, "period": "day", "overage_percent": 50, "warn_at": [50, 80]}
              for m in METHODS},
    "weekly": {m: {"threshold": 20, "period": "week", "warn_at": [25]} for m in METHODS},
}
_names = itertools.count()


def _limits(value) -> tuple[float | None, float | None, str | None, tuple[float, ...]]:
    """(threshold, highest accepted aggregate, period, warning levels) of a license value."""
    if not isinstance(value, dict):
        return value, value, None, ()
    threshold = value["threshold"]
    return (threshold, threshold * (1 + value.get("overage_percent", 0) / 100),
            value.get("period"), tuple(value.get("warn_at", ())))


def _period(period: str | None, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The UTC period holding ``now``, computed by hand (a day, or an ISO week)."""
    if period is None:
        return None, None
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = day - timedelta(days=day.weekday()) if period == "week" else day
    return start, start + timedelta(days=7 if period == "week" else 1)


class Model:
    """What the metering rules say the stored usage must be, computed independently."""

    def __init__(self) -> None:
        # per method: (aggregate, count, period, levels warned) as stored, or None
        self.usage: dict[str, tuple[float, int, tuple, set] | None] = {m: None for m in METHODS}
        self.events: Counter = Counter()

    def current(self, method: str, value, now: datetime) -> tuple[float, int] | None:
        stored = self.usage[method]
        if stored is None or stored[2] != _period(_limits(value)[2], now):
            return None
        return stored[0], stored[1]

    def report(self, method: str, value: float, license_value, now: datetime) -> str:
        threshold, limit, period, levels = _limits(license_value)
        bounds = _period(period, now)
        stored = self.usage[method]
        same = stored is not None and stored[2] == bounds
        aggregate, count, warned = (stored[0], stored[1], set(stored[3])) if same else (
            None, 0, set())
        if aggregate is None:
            candidate = 1.0 if method == "COUNT" else value
        else:
            candidate = {
                "SUM": aggregate + value, "COUNT": aggregate + 1,
                "AVERAGE": (aggregate * count + value) / (count + 1),
                "MAX": max(aggregate, value), "MIN": min(aggregate, value), "LATEST": value,
            }[method]
        if limit is not None and candidate > limit:
            return "REJECTED"
        if threshold is not None:
            if candidate >= threshold and (aggregate is None or aggregate < threshold):
                self.events["REACHED"] += 1
            if candidate < threshold and stored is not None and stored[0] >= threshold:
                self.events["RECOVERED"] += 1
            for level in levels:
                if level not in warned and candidate >= threshold * level / 100:
                    warned.add(level)
                    self.events["WARNING"] += 1
        self.usage[method] = (candidate, count + 1, bounds, warned)
        return "ACCEPTED"


def _outbox_counts(kaiten, instance: str) -> Counter:
    names = {"INSTANCE_ENTITLEMENT_USAGE_REACHED": "REACHED",
             "INSTANCE_ENTITLEMENT_USAGE_WARNING": "WARNING",
             "INSTANCE_ENTITLEMENT_USAGE_RECOVERED": "RECOVERED"}
    with kaiten.db.engine.connect() as connection:
        rows = connection.execute(
            sa.select(outbox_events.c.event_type, sa.func.count())
            .where(outbox_events.c.aggregate_id == instance,
                   outbox_events.c.event_type.in_(names))
            .group_by(outbox_events.c.event_type)).all()
    return Counter({names[event_type]: n for event_type, n in rows})


def build_machine(kaiten, clock):
    """Return a state machine class bound to a migrated database with the catalogue."""

    class UsageMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.slug = f"model-{next(_names)}"
            kaiten.instances.create("model", "Model", self.slug, "tight")
            self.license = "tight"
            self.model = Model()
            self.reads = 0

        @rule(method=st.sampled_from(METHODS),
              value=st.integers(-20, 40) | st.floats(-50, 50, allow_nan=False)
              | st.sampled_from([0.25, 0.5, 5, 8, 9.75, 10, 10.25, 15, 15.5, 999.5, 1000]))
        def report(self, method, value):
            license_value = LICENSES[self.license][method]
            expected = self.model.report(method, float(value), license_value, clock.now)
            result = kaiten.usage.report(self.slug, f"h-{method.lower()}", value)
            assert result.status == expected

        @rule(method=st.sampled_from(METHODS))
        def read(self, method):
            value = kaiten.usage.get_value(self.slug, f"h-{method.lower()}")
            self.reads += 1
            assert value.value == _limits(LICENSES[self.license][method])[0]

        @rule(hours=st.sampled_from([1, 6, 13, 24, 24 * 7]))
        def advance_clock(self, hours):
            clock.advance(hours=hours)

        @rule(license=st.sampled_from(sorted(LICENSES)))
        def change_license(self, license):
            kaiten.instances.update(self.slug, license=license)
            self.license = license

        @invariant()
        def usage_matches_the_model(self):
            summary = kaiten.usage.summary(self.slug).set_index("entitlement")
            for method in METHODS:
                row = summary.loc[f"h-{method.lower()}"]
                expected = self.model.current(method, LICENSES[self.license][method],
                                              clock.now)
                if expected is None:
                    assert math.isnan(row["usage"]) and row["event_count"] == 0
                else:
                    assert row["usage"] == pytest.approx(expected[0], rel=1e-9, abs=1e-9)
                    assert row["event_count"] == expected[1]

        @invariant()
        def outbox_matches_the_model(self):
            assert _outbox_counts(kaiten, self.slug) == +self.model.events

        def teardown(self):
            counted = kaiten.audit.count(self.slug,
                                         event_name="kaiten.v1.entitlement.value.get")
            assert counted.count == self.reads

    return UsageMachine


def test_service_agrees_with_the_model(kaiten, clock):
    kaiten.customers.create("model", "Model")
    for method in METHODS:
        kaiten.entitlements.create(f"h-{method.lower()}", method, aggregation_method=method)
    for slug, thresholds in LICENSES.items():
        kaiten.licenses.create(slug, slug, {f"h-{m.lower()}": t for m, t in thresholds.items()})
    machine = build_machine(kaiten, clock)
    machine.TestCase.settings = settings(
        max_examples=25, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    machine.TestCase().runTest()
