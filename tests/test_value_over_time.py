"""Value over time: every accepted report, and a downsampled form that keeps the shape."""

from __future__ import annotations

import pytest

import kaiten_analytics as ka


def test_value_over_time_lists_each_accepted_aggregate_with_its_threshold(catalogue, clock):
    for value in (30, 50, 40, 30):  # SUM, threshold 100: 30, 80, then two rejections
        clock.advance(minutes=1)
        catalogue.usage.report("acme-prod", "m-sum", value)
    series = catalogue.audit.value_over_time("acme-prod", "m-sum")
    assert list(series.columns) == ["created_at", "value", "threshold", "crossing"]
    assert list(series["value"]) == [30.0, 80.0]
    assert list(series["threshold"]) == [100.0, 100.0]
    assert series["created_at"].is_monotonic_increasing


def test_threshold_at_the_time_follows_license_changes(catalogue, clock):
    catalogue.usage.report("acme-prod", "api-calls", 1)  # pro: no limit
    clock.advance(minutes=1)
    catalogue.instances.update("acme-prod", license="starter")  # 1000 calls
    catalogue.usage.report("acme-prod", "api-calls", 1)
    series = catalogue.audit.value_over_time("acme-prod", "api-calls")
    assert list(series["value"]) == [1.0, 2.0]
    assert series["threshold"].isna().iloc[0] and series["threshold"].iloc[1] == 1000.0


def test_downsampled_series_keeps_extremes_crossings_and_size(catalogue, clock):
    values = []
    for n in range(1200):  # LATEST, threshold 100: a wave that reaches 100 three times
        clock.advance(minutes=3)
        value = 100 if n in (300, 700, 1000) else (n * 7) % 97
        values.append(value)
        catalogue.usage.report("acme-prod", "m-latest", value)
    full = catalogue.audit.value_over_time("acme-prod", "m-latest")
    assert len(full) == 1200 and int(full["crossing"].sum()) == 3
    small = catalogue.audit.value_over_time("acme-prod", "m-latest", max_points=100)
    assert len(small) <= 100
    assert small["value"].max() == max(values) and small["value"].min() == min(values)
    crossings = small[small["crossing"]]
    assert list(crossings["created_at"]) == list(full.loc[full["crossing"], "created_at"])
    assert small["created_at"].is_monotonic_increasing
    assert small["created_at"].iloc[0] >= full["created_at"].iloc[0].floor("15min")
    assert small["created_at"].iloc[-1] <= full["created_at"].iloc[-1]


def test_value_over_time_needs_a_number_entitlement(catalogue):
    with pytest.raises(ka.ValidationError):
        catalogue.audit.value_over_time("acme-prod", "sso")
    with pytest.raises(ka.NotFoundError):
        catalogue.audit.value_over_time("acme-prod", "nothing")
    assert catalogue.audit.value_over_time("acme-prod", "m-sum", max_points=50).empty
