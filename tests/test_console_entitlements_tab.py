"""The instance page's Entitlements tab (AppTest, both engines): usage vs limits, history."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from console_support import open_tab, texts

SLUG = "acme-prod"


@pytest.fixture
def metered(catalogue, clock):
    """acme-prod (pro) with usage: seats at 45 of 50, api-calls 300 (no limit), m-sum full."""
    kaiten = catalogue
    for value in (10, 30, 45, 60):  # MAX: the 60 is rejected
        clock.advance(hours=2)
        kaiten.usage.report(SLUG, "seats", value)
    for _ in range(3):
        clock.advance(hours=1)
        kaiten.usage.report(SLUG, "api-calls", 100)
    for value in (60, 40):  # SUM to exactly the limit of 100
        clock.advance(hours=1)
        kaiten.usage.report(SLUG, "m-sum", value)
    kaiten.usage.get_value(SLUG, "sso")
    return kaiten


@pytest.fixture
def app(metered, console_for):
    """The console on the metered database, not yet run."""
    return console_for(metered)


def open_entitlements_tab(at, slug: str = SLUG, tz: str | None = None):
    """Open ``/instance?instance=<slug>`` on the Entitlements tab."""
    return open_tab(at, slug, "Entitlements", tz)


def usage_rows(at) -> dict[str, dict]:
    """The usage table as slug → its row."""
    table = at.dataframe[0].value
    return {row["Slug"]: row.to_dict() for _, row in table.iterrows()}


def charts(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def title(spec: dict) -> str:
    return spec.get("title") or spec["layer"][0]["title"]


def test_table_has_one_row_per_entitlement_of_the_license(app, metered):
    open_entitlements_tab(app)
    summary = metered.usage.summary(SLUG)
    table = app.dataframe[0].value
    assert list(table["Slug"]) == list(summary["entitlement"])
    assert list(table["Entitlement"]) == list(summary["name"])
    assert list(table.columns) == ["Entitlement", "Slug", "Type", "Usage", "Limit", "Used",
                                   "Status", "Reports", "Last report"]


def test_progress_is_the_percent_of_the_threshold_used(app, metered):
    open_entitlements_tab(app)
    summary = metered.usage.summary(SLUG).set_index("entitlement")
    rows = usage_rows(app)
    for slug, row in rows.items():
        expected = summary.loc[slug, "percent_used"]
        assert (math.isnan(row["Used"]) and math.isnan(expected)) or row["Used"] == expected
    assert rows["seats"]["Used"] == pytest.approx(90.0)
    assert rows["m-sum"]["Used"] == pytest.approx(100.0)
    assert (rows["seats"]["Status"], rows["m-sum"]["Status"]) == ("nearing", "at limit")
    assert rows["seats"]["Reports"] == 3  # the rejected 60 is not counted


def test_limits_show_thresholds_no_limit_and_granted_values(app):
    open_entitlements_tab(app)
    rows = usage_rows(app)
    assert (rows["seats"]["Usage"], rows["seats"]["Limit"]) == ("45 seats", "50 seats")
    assert (rows["api-calls"]["Usage"], rows["api-calls"]["Limit"]) == ("300 calls", "no limit")
    assert rows["api-calls"]["Status"] == "no limit"
    assert math.isnan(rows["api-calls"]["Used"])
    assert (rows["sso"]["Type"], rows["sso"]["Limit"], rows["sso"]["Usage"]) == (
        "BOOLEAN", "✓ included", "—")
    assert (rows["support-tier"]["Type"], rows["support-tier"]["Limit"]) == ("STRING",
                                                                             "business")
    assert rows["m-max"]["Usage"] == "no reports yet"
    assert rows["m-max"]["Status"] == "unused"
    assert rows["seats"]["Type"] == "NUMBER · MAX"


def test_boolean_not_granted_says_so(app):
    open_entitlements_tab(app, "globex-dev")
    rows = usage_rows(app)
    assert (rows["sso"]["Limit"], rows["sso"]["Status"]) == ("✗ not included", "not granted")


def test_last_report_is_the_libraries_instant(app, metered):
    open_entitlements_tab(app, tz="Europe/Berlin")
    summary = metered.usage.summary(SLUG).set_index("entitlement")
    assert usage_rows(app)["seats"]["Last report"] == summary.loc["seats", "updated_at"]
    assert pd.isna(usage_rows(app)["sso"]["Last report"])


def test_consumption_and_history_charts(app, metered):
    open_entitlements_tab(app)
    specs = charts(app)
    assert len(specs) == 2
    assert title(specs[0]) == "Share of each limit used"
    picker = app.selectbox(key=f"entitlements_pick_{SLUG}")
    assert picker.value == "api-calls"  # the first NUMBER entitlement
    assert title(specs[1]) == "API calls over time"
    picker.set_value("seats").run()
    assert title(charts(app)[1]) == "Seats over time"


def test_boolean_entitlement_has_no_history_chart_but_its_entries(app, metered):
    open_entitlements_tab(app)
    app.selectbox(key=f"entitlements_pick_{SLUG}").set_value("sso").run()
    assert len(charts(app)) == 1  # the consumption chart only
    assert any("no usage history" in caption for caption in texts(app.caption))
    latest = app.dataframe[1].value
    expected = metered.audit.events(SLUG, entitlement="sso", limit=10)
    assert list(latest["Event ID"]) == list(expected["id"]) and len(expected) == 1


def test_latest_entries_are_the_entitlements_newest_ten(app, metered):
    open_entitlements_tab(app)
    app.selectbox(key=f"entitlements_pick_{SLUG}").set_value("seats").run()
    expected = metered.audit.events(SLUG, entitlement="seats", limit=10)
    latest = app.dataframe[1].value
    assert list(latest["Event ID"]) == list(expected["id"])
    assert [list(cell) for cell in latest["Status"]] == [[s] for s in expected["status"]]
    assert "Latest audit entries — Seats" in texts(app.subheader)


def test_summary_caption_counts_limits(app):
    open_entitlements_tab(app)
    assert ("10 entitlements in this license · 8 metered · 1 at limit · 1 nearing it (≥ 80%)"
            in texts(app.caption))


def test_instance_without_usage(app):
    open_entitlements_tab(app, "globex-dev")
    rows = usage_rows(app)
    assert rows["seats"]["Usage"] == "no reports yet"
    assert any("nothing to compare" in caption for caption in texts(app.caption))
    assert any("No accepted usage reports" in caption for caption in texts(app.caption))


def test_a_past_date_shows_the_usage_as_it_stood_then(app, metered, clock):
    """The "As of" picker: each NUMBER row's usage at the end of that local day."""
    from datetime import timedelta

    day_one = clock.now.date()  # seats reached 45, api-calls 300, m-sum 100 by now
    clock.advance(days=2)
    metered.usage.report(SLUG, "api-calls", 1000)
    open_entitlements_tab(app)
    assert usage_rows(app)["api-calls"]["Usage"].startswith("1,300")
    app.date_input(key=f"entitlements_as_of_{SLUG}").set_value(day_one).run()
    assert not app.exception
    rows = usage_rows(app)
    end_of_day_one = pd.Timestamp(day_one + timedelta(days=1), tz="UTC") - pd.Timedelta(1, "us")
    for slug in ("api-calls", "seats", "m-sum"):
        stood = metered.usage.at(SLUG, slug, end_of_day_one.to_pydatetime())
        assert rows[slug]["Usage"].split(" ")[0] == f"{stood['value']:,.0f}"
    assert rows["api-calls"]["Usage"].startswith("300")
    assert rows["m-sum"]["Status"] == "at limit"
    assert any(f"end of {day_one.isoformat()}" in text for text in texts(app.caption))
    app.date_input(key=f"entitlements_as_of_{SLUG}").set_value(None).run()
    assert usage_rows(app)["api-calls"]["Usage"].startswith("1,300")


def test_before_any_report_a_past_date_shows_no_usage(app, metered, clock):
    open_entitlements_tab(app)
    app.date_input(key=f"entitlements_as_of_{SLUG}").set_value(
        clock.now.date() - pd.Timedelta(days=30)).run()
    assert not app.exception
    assert usage_rows(app)["seats"]["Usage"] == "no reports yet"
    assert usage_rows(app)["seats"]["Reports"] == 0
