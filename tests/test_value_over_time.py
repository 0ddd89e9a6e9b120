"""Value over time: every accepted report, and a downsampled form that keeps the shape."""

from __future__ import annotations

import random

import pandas as pd
import pytest

import kaiten_analytics as ka


def test_value_over_time_lists_each_accepted_aggregate_with_its_threshold(catalogue, clock):
    for value in (30, 50, 40, 30):  # SUM, threshold 100: 30, 80, then two rejections
        clock.advance(minutes=1)
        catalogue.usage.report("acme-prod", "m-sum", value)
    series = catalogue.audit.value_over_time("acme-prod", "m-sum")
    assert list(series.columns) == ["created_at", "value", "threshold", "crossing",
                                    "period_start"]
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


def test_downsampled_buckets_keep_first_low_high_last_of_their_reports(catalogue, clock):
    rng = random.Random(3)
    for _ in range(300):  # LATEST, threshold 100: ~12 hours of values, crossing now and then
        clock.advance(minutes=2, seconds=rng.randint(0, 59))
        catalogue.usage.report("acme-prod", "m-latest",
                               100 if rng.random() < 0.08 else rng.randint(0, 99))
    full = catalogue.audit.value_over_time("acme-prod", "m-latest")
    fine = catalogue.audit.value_over_time("acme-prod", "m-latest", max_points=2000)
    # 2000 points leave one window per 15-minute bucket: each keeps its reports' first,
    # lowest, highest and last value, within the bucket's time
    for start, reports in full.groupby(full["created_at"].dt.floor("15min")):
        kept = fine[(fine["created_at"] >= start) & (fine["created_at"] < start
                                                     + pd.Timedelta(minutes=15))]
        expected = {reports["value"].iloc[0], reports["value"].min(), reports["value"].max(),
                    reports["value"].iloc[-1]}
        assert set(kept.loc[~kept["crossing"], "value"]) == expected
        assert set(kept.loc[kept["crossing"], "created_at"]) == set(
            reports.loc[reports["crossing"], "created_at"])
    coarse = catalogue.audit.value_over_time("acme-prod", "m-latest", max_points=60)
    crossings = full.loc[full["crossing"], "created_at"]
    assert 10 < len(crossings) < 40  # more than the 60 points leave at 4 per window: shrunk
    assert len(coarse) <= 60
    assert list(coarse.loc[coarse["crossing"], "created_at"]) == list(crossings)
    assert coarse["value"].iloc[0] == full["value"].iloc[0]
    assert coarse["value"].iloc[-1] == full["value"].iloc[-1]
    assert (coarse["value"].min(), coarse["value"].max()) == (full["value"].min(),
                                                            full["value"].max())
    assert coarse["created_at"].is_monotonic_increasing
    assert (coarse["threshold"] == 100).all()
