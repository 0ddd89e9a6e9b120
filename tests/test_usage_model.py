"""A Hypothesis state machine: the service against a small in-memory model of metering."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

METHODS = ("SUM", "COUNT", "AVERAGE", "MAX", "MIN", "LATEST")
#: three licenses with different thresholds per method (None = no limit)
LICENSES = {
    "tight": {m: 10 for m in METHODS},
    "loose": {m: 1000 for m in METHODS},
    "open": {m: None for m in METHODS},
}
_names = itertools.count()


class Model:
    """What the metering rules say the stored usage must be, computed independently."""

    def __init__(self) -> None:
        self.usage: dict[str, tuple[float, int] | None] = {m: None for m in METHODS}
        self.reached = 0

    def report(self, method: str, value: float, threshold: float | None) -> str:
        current = self.usage[method]
        if current is None:
            candidate, count = (1.0 if method == "COUNT" else value), 0
        else:
            aggregate, count = current
            candidate = {
                "SUM": aggregate + value, "COUNT": aggregate + 1,
                "AVERAGE": (aggregate * count + value) / (count + 1),
                "MAX": max(aggregate, value), "MIN": min(aggregate, value), "LATEST": value,
            }[method]
        if threshold is not None and candidate > threshold:
            return "REJECTED"
        if threshold is not None and candidate >= threshold and (
                current is None or current[0] < threshold):
            self.reached += 1
        self.usage[method] = (candidate, count + 1)
        return "ACCEPTED"


def build_machine(kaiten):
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
              | st.sampled_from([0.25, 0.5, 9.75, 10, 10.25, 999.5, 1000]))
        def report(self, method, value):
            threshold = LICENSES[self.license][method]
            expected = self.model.report(method, float(value), threshold)
            result = kaiten.usage.report(self.slug, f"h-{method.lower()}", value)
            assert result.status == expected

        @rule(method=st.sampled_from(METHODS))
        def read(self, method):
            value = kaiten.usage.get_value(self.slug, f"h-{method.lower()}")
            self.reads += 1
            assert value.value == LICENSES[self.license][method]

        @rule(license=st.sampled_from(sorted(LICENSES)))
        def change_license(self, license):
            kaiten.instances.update(self.slug, license=license)
            self.license = license

        @invariant()
        def usage_matches_the_model(self):
            summary = kaiten.usage.summary(self.slug).set_index("entitlement")
            for method in METHODS:
                row = summary.loc[f"h-{method.lower()}"]
                expected = self.model.usage[method]
                if expected is None:
                    assert math.isnan(row["usage"]) and row["event_count"] == 0
                else:
                    assert row["usage"] == pytest.approx(expected[0], rel=1e-9, abs=1e-9)
                    assert row["event_count"] == expected[1]

        def teardown(self):
            counted = kaiten.audit.count(self.slug,
                                         event_name="kaiten.v1.entitlement.value.get")
            assert counted.count == self.reads

    return UsageMachine


def test_service_agrees_with_the_model(kaiten):
    kaiten.customers.create("model", "Model")
    for method in METHODS:
        kaiten.entitlements.create(f"h-{method.lower()}", method, aggregation_method=method)
    for slug, thresholds in LICENSES.items():
        kaiten.licenses.create(slug, slug, {f"h-{m.lower()}": t for m, t in thresholds.items()})
    machine = build_machine(kaiten)
    machine.TestCase.settings = settings(
        max_examples=25, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    machine.TestCase().runTest()
