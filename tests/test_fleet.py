"""Fleet views on a small hand-built fleet whose answers are known."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fleet_support import build_known_fleet

import kaiten_analytics as ka


@pytest.fixture
def fleet(catalogue, clock):
    """The catalogue plus the reports of ``build_known_fleet``."""
    return build_known_fleet(catalogue, clock)


def test_consumption_vs_threshold_for_every_pair(fleet):
    df = fleet.fleet.consumption().set_index(["instance", "entitlement"])
    assert len(df) == 8 + 2 + 2  # pro has 8 NUMBER entitlements, starter 2, twice
    assert df.loc[("acme-prod", "seats"), "percent_used"] == 90.0
    assert df.loc[("acme-prod", "seats"), "status"] == "nearing"
    assert df.loc[("acme-prod", "m-sum"), "status"] == "at limit"
    assert df.loc[("acme-prod", "m-sum"), "band"] == "at limit"
    assert df.loc[("globex-dev", "seats"), "band"] == "20–40%"
    assert df.loc[("acme-prod", "api-calls"), "status"] == "no limit"
    assert df.loc[("acme-prod", "m-min"), "status"] == "unused"
    assert set(fleet.fleet.consumption(customer="globex")["instance"]) == {"globex-dev",
                                                                           "globex-trend"}
    assert set(fleet.fleet.consumption(zone="us-prod")["instance"]) == {"globex-trend"}
    assert set(fleet.fleet.consumption(license="pro")["instance"]) == {"acme-prod"}
    assert set(fleet.fleet.consumption(zone=ka.NO_ZONE)["instance"]) == {"globex-dev"}
    assert set(fleet.fleet.blocked_demand(zone=ka.NO_ZONE)["instance"]) == {"globex-dev"}
    with pytest.raises(ka.NotFoundError):
        fleet.fleet.consumption(license="platinum")


def test_nearing_limits_lists_at_and_near_fullest_first(fleet):
    df = fleet.fleet.nearing_limits()
    assert list(zip(df["instance"], df["entitlement"], df["at_limit"], strict=True)) == [
        ("acme-prod", "m-sum", True), ("acme-prod", "seats", False)]
    assert len(fleet.fleet.nearing_limits(percent=95)) == 1


def test_blocked_demand_counts_rejections(fleet):
    df = fleet.fleet.blocked_demand(days=30)
    assert list(zip(df["instance"], df["entitlement"], df["rejected"], strict=True)) == [
        ("acme-prod", "m-sum", 3), ("globex-dev", "seats", 1)]
    assert df["rejection_rate"].iloc[0] == pytest.approx(3 / 4)
    assert df["last_rejected_day"].iloc[0] == date(2026, 3, 10)


def test_silent_metering_finds_never_reported_and_silent(fleet):
    df = fleet.fleet.silent_metering(days=7).set_index(["instance", "entitlement"])
    assert df.loc[("acme-prod", "m-max"), "status"] == "never reported"
    assert df.loc[("acme-prod", "m-max"), "reads"] == 1
    assert df.loc[("globex-dev", "api-calls"), "status"] == "silent"
    assert df.loc[("globex-dev", "api-calls"), "days_silent"] == 10
    assert ("globex-trend", "api-calls") not in df.index  # reported yesterday
    assert len(df) == 2
    assert len(fleet.fleet.silent_metering(days=11)) == 1


def test_burn_down_compares_usage_with_the_term_elapsed(fleet):
    row = fleet.fleet.burn_down().set_index(["instance", "entitlement"]).loc[
        ("globex-trend", "api-calls")]
    elapsed = (date(2026, 3, 10) - date(2026, 1, 1)).days / 364 * 100
    assert row["percent_term_elapsed"] == pytest.approx(elapsed)
    assert row["percent_used"] == pytest.approx(10.0)
    assert row["burn_ratio"] == pytest.approx(10.0 / elapsed)
    assert row["projected_percent_at_end"] == pytest.approx(10.0 / (elapsed / 100))
    assert row["pace"] == "behind"
    assert set(fleet.fleet.burn_down()["instance"]) == {"globex-trend"}  # only dated terms


def test_forecast_on_a_series_with_a_known_slope(fleet):
    df = fleet.fleet.forecast(window_days=30).set_index(["instance", "entitlement"])
    trend = df.loc[("globex-trend", "api-calls")]
    assert trend["slope_per_day"] == pytest.approx(10.0)
    assert trend["days_of_data"] == 10
    assert trend["reason"] == "forecast"
    assert trend["days_to_limit"] == pytest.approx(90.0)  # (1000 - 100) / 10
    assert trend["forecast_date"] == date(2026, 3, 10) + timedelta(days=90)
    assert df.loc[("acme-prod", "m-sum"), "reason"] == "at limit"
    assert df.loc[("acme-prod", "seats"), "reason"] == "not enough data"
    assert df.loc[("acme-prod", "m-min"), "reason"] == "unused"
    assert "api-calls" not in df.loc["acme-prod"].index  # no limit, no forecast
    assert df.index[0] == ("acme-prod", "m-sum")  # soonest first


def test_utilisation_bands_for_the_heatmap(fleet):
    df = fleet.fleet.utilisation_bands()
    assert list(df.columns) == ["license", "band", "pairs"]
    cells = df.set_index(["license", "band"])["pairs"]
    assert cells[("pro", "at limit")] == 1 and cells[("pro", "80–100%")] == 1
    assert cells[("starter", "20–40%")] == 1
    assert cells[("starter", "0–20%")] == 2  # globex-dev and globex-trend api-calls
    assert len(df) == 2 * 6
