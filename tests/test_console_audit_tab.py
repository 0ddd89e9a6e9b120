"""The instance page's Audit Trail tab (AppTest, both engines): cards, charts, event log."""

from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import pyarrow as pa
import pytest
from console_support import (
    click,
    open_tab,
    reload,
    texts,
)

SLUG = "acme-prod"
PAGE = 50


@pytest.fixture
def audited(catalogue, clock):
    """acme-prod with 74 audit events over 37.5 hours ending 2026-03-12 01:30 UTC.

    45 accepted api-calls reports (no limit), 15 reads of sso, 9 seats reports (MAX, limit
    50: the last three rejected) and 5 m-sum reports of 40 (SUM, limit 100: the last three
    rejected) — 53 accepted reports, 6 rejected.
    """
    kaiten = catalogue
    for i in range(45):
        clock.advance(minutes=50)
        kaiten.usage.report(SLUG, "api-calls", 10)
        if i % 3 == 0:
            kaiten.usage.get_value(SLUG, "sso")
        if i % 5 == 0:
            kaiten.usage.report(SLUG, "seats", 10 + i * 1.5)
        if i % 11 == 0:
            kaiten.usage.report(SLUG, "m-sum", 40)
    return kaiten


@pytest.fixture
def app(audited, console_for):
    """The console on the audited database, not yet run."""
    return console_for(audited)


def open_audit_tab(at, slug: str = SLUG, tz: str | None = None):
    """Open ``/instance?instance=<slug>`` on the Audit Trail tab (in the zone ``tz``)."""
    return open_tab(at, slug, "Audit Trail", tz)


def metrics(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def charts(at) -> list[dict]:
    """The Vega-Lite specs drawn, in order."""
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def chart_data(at, index: int) -> pd.DataFrame:
    """The (first) dataset of chart ``index`` (st.altair_chart sends it as Arrow)."""
    dataset = at.get("vega_lite_chart")[index].proto.datasets[0]
    return pa.ipc.open_stream(dataset.data.data).read_pandas()


def title(spec: dict) -> str:
    """A chart's title (a layered chart carries it on its first layer)."""
    return spec.get("title") or spec["layer"][0]["title"]


def marks(spec: dict) -> list[str]:
    """The mark types of a (layered) chart."""
    layers = spec.get("layer", [spec])
    return [layer["mark"] if isinstance(layer["mark"], str) else layer["mark"]["type"]
            for layer in layers]


def log(at) -> pd.DataFrame:
    """The event log's table (the last dataframe of the tab)."""
    return at.dataframe[-1].value


def set_filter(at, key: str, value):
    """Set the log's or the tab's widget ``key`` (for acme-prod) and rerun."""
    widget = next(w for w in [*at.text_input, *at.selectbox, *at.date_input, *at.toggle,
                              *at.segmented_control] if w.key == key)
    widget.set_value(value)
    return at.run()


def test_stats_cards_show_the_librarys_stats(app, audited):
    open_audit_tab(app)
    stats = audited.audit.stats(SLUG, tz="UTC")
    assert metrics(app) == {"Total Events": f"{stats.total:,}",
                            "Accepted": f"{stats.accepted:,}",
                            "Rejected": f"{stats.rejected:,}", "Today": f"{stats.today:,}"}
    assert (stats.total, stats.accepted, stats.rejected) == (74, 53, 6)
    assert 0 < stats.today < stats.total


def test_today_card_counts_from_the_viewers_midnight(app, audited):
    open_audit_tab(app, tz="America/Los_Angeles")
    stats = audited.audit.stats(SLUG, tz="America/Los_Angeles")
    assert metrics(app)["Today"] == f"{stats.today:,}"
    assert stats.today != audited.audit.stats(SLUG, tz="UTC").today


def test_entitlement_filter_scopes_the_cards_charts_and_log(app, audited):
    open_audit_tab(app)
    set_filter(app, f"audit_entitlement_{SLUG}", "seats")
    stats = audited.audit.stats(SLUG, "seats")
    assert metrics(app)["Total Events"] == "9" and metrics(app)["Rejected"] == "3"
    assert (stats.total, stats.rejected) == (9, 3)
    timeline = chart_data(app, 0)
    assert timeline["events"].sum() == 9
    assert set(log(app)["Entitlement"]) == {"seats"}
    assert len(log(app)) == 9


def test_timeline_chart_draws_the_librarys_timeline(app, audited):
    open_audit_tab(app)
    spec = charts(app)[0]
    assert title(spec) == "Activity, last 30 days"
    assert spec["params"][0]["bind"] == "legend"  # clicking the legend toggles a series
    drawn = chart_data(app, 0)
    expected = audited.audit.timeline(SLUG, tz="UTC", days=30)
    assert len(drawn) == 30 * 3
    assert list(drawn["events"]) == list(expected["events"])
    assert list(drawn["category"]) == list(expected["category"])
    assert list(drawn["day"]) == [str(day) for day in expected["day"]]
    assert any("legend" in caption for caption in texts(app.caption))


def test_days_selector_changes_the_timeline_span(app, audited):
    open_audit_tab(app)
    set_filter(app, f"audit_days_{SLUG}", 7)
    assert title(charts(app)[0]) == "Activity, last 7 days"
    drawn = chart_data(app, 0)
    assert len(drawn) == 7 * 3
    assert drawn["events"].sum() == audited.audit.timeline(SLUG, days=7)["events"].sum()


def test_value_over_time_is_drawn_for_a_number_entitlement(app, audited):
    open_audit_tab(app)
    specs = charts(app)
    assert len(specs) == 2
    picker = app.selectbox(key=f"audit_value_{SLUG}")
    assert picker.value == "api-calls"  # the first NUMBER entitlement of the license
    set_filter(app, f"audit_entitlement_{SLUG}", "seats")
    specs = charts(app)
    assert len(specs) == 2
    assert title(specs[1]) == "Seats over time"
    assert "rule" in marks(specs[1])  # the threshold
    series = audited.audit.value_over_time(SLUG, "seats", max_points=2000)
    assert list(chart_data(app, 1)["value"]) == list(series["value"])


@pytest.mark.parametrize("entitlement", ["sso", "support-tier"])
def test_value_over_time_is_hidden_for_boolean_and_string_entitlements(app, entitlement):
    open_audit_tab(app)
    set_filter(app, f"audit_entitlement_{SLUG}", entitlement)
    assert len(charts(app)) == 1  # the timeline only
    assert any("NUMBER entitlements" in caption for caption in texts(app.caption))


def test_event_log_shows_the_librarys_first_page(app, audited):
    open_audit_tab(app, tz="Europe/Berlin")
    first = audited.audit.events(SLUG, limit=PAGE)
    shown = log(app)
    assert list(shown.columns) == ["Event ID", "Event type", "Entitlement", "Status", "Time"]
    assert list(shown["Event ID"]) == list(first["id"])
    assert list(shown["Entitlement"]) == list(first["entitlement"])
    labels = {"kaiten.v1.entitlement.value.get": "Entitlement Read",
              "kaiten.v1.entitlement.usage.report.accepted": "Usage Accepted",
              "kaiten.v1.entitlement.usage.report.rejected": "Usage Rejected"}
    assert [list(cell) for cell in shown["Event type"]] == [[labels[name]] for name
                                                           in first["event_name"]]
    assert [list(cell) for cell in shown["Status"]] == [[status] for status in first["status"]]
    assert list(shown["Time"]) == list(first["created_at"])  # the instants themselves
    assert "Events 1–50 of 74, newest first" in " ".join(texts(app.caption))
    assert app.pagination[0].num_pages == 2


def test_second_page_shows_the_next_events(app, audited):
    open_audit_tab(app)
    app.pagination[0].set_value(2).run()
    second = audited.audit.events(SLUG, limit=PAGE, offset=PAGE)
    assert list(log(app)["Event ID"]) == list(second["id"])
    assert len(second) == 74 - PAGE
    assert "Events 51–74 of 74" in " ".join(texts(app.caption))


def test_search_filters_the_log(app, audited):
    open_audit_tab(app)
    set_filter(app, f"audit_log_search_{SLUG}", "m-sum")
    expected = audited.audit.events(SLUG, search="m-sum", limit=PAGE)
    assert len(expected) == 5
    assert list(log(app)["Event ID"]) == list(expected["id"])


def test_search_by_event_id_finds_that_event(app, audited):
    target = audited.audit.events(SLUG, limit=PAGE, offset=30).iloc[0]
    open_audit_tab(app)
    set_filter(app, f"audit_log_search_{SLUG}", target["id"])
    assert list(log(app)["Event ID"]) == [target["id"]]


def test_status_and_event_type_filters_change_the_log(app, audited):
    open_audit_tab(app)
    set_filter(app, f"audit_log_status_{SLUG}", "REJECTED")
    rejected = audited.audit.events(SLUG, status="REJECTED", limit=PAGE)
    assert list(log(app)["Event ID"]) == list(rejected["id"])
    assert len(rejected) == 6
    set_filter(app, f"audit_log_status_{SLUG}", "")
    set_filter(app, f"audit_log_type_{SLUG}", "kaiten.v1.entitlement.value.get")
    reads = audited.audit.events(SLUG, event_name="kaiten.v1.entitlement.value.get", limit=PAGE)
    assert list(log(app)["Event ID"]) == list(reads["id"])
    assert {tuple(cell) for cell in log(app)["Event type"]} == {("Entitlement Read",)}


def test_a_filter_change_goes_back_to_page_one(app):
    open_audit_tab(app)
    app.pagination[0].set_value(2).run()
    set_filter(app, f"audit_log_status_{SLUG}", "ACCEPTED")
    assert app.pagination[0].value == 1
    assert "Events 1–50 of 68" in " ".join(texts(app.caption))


def test_a_capped_count_reads_10000_plus(app, audited, monkeypatch):
    from kaiten_analytics.analytics.audit_log import EventCount

    # a search matching more than 10,000 events: the library stops counting there
    monkeypatch.setattr(audited.audit, "count", lambda *args, **kwargs: EventCount(10_000,
                                                                                   False))
    open_audit_tab(app)
    assert "Events 1–50 of 10,000+, newest first" in " ".join(texts(app.caption))
    assert app.pagination[0].num_pages == 200
    app.pagination[0].set_value(2).run()
    assert "Events 51–74 of 10,000+" in " ".join(texts(app.caption))


def test_no_match_says_so(app):
    open_audit_tab(app)
    set_filter(app, f"audit_log_search_{SLUG}", "no event has this text")
    assert "No events match these filters." in texts(app.info)


def test_jump_to_a_date_shows_that_day_and_earlier(app, audited):
    open_audit_tab(app)
    set_filter(app, f"audit_log_before_{SLUG}", date(2026, 3, 10))
    shown = log(app)
    expected = audited.audit.events(SLUG, before="2026-03-11T00:00:00Z", limit=PAGE)
    assert list(shown["Event ID"]) == list(expected["id"])
    assert shown["Time"].max() < pd.Timestamp("2026-03-11", tz="UTC")


def test_payload_dialog_shows_the_selected_event(app, audited):
    open_audit_tab(app, tz="Europe/Berlin")
    event = audited.audit.events(SLUG, limit=PAGE).iloc[3]
    table = app.dataframe[-1]
    app.session_state[table.key] = {"selection": {"rows": [3], "columns": [], "cells": []}}
    app.run()
    click(app, "View payload")
    assert not app.exception
    assert [json.loads(element.value) for element in app.json] == [event["payload"]]
    facts = dict(zip(app.table[-1].value.index, app.table[-1].value["Value"], strict=True))
    assert facts["Event ID"] == event["id"]
    assert facts["Entitlement"] == event["entitlement"]
    assert facts["Time (Europe/Berlin)"] == event["created_at"].tz_convert(
        "Europe/Berlin").strftime("%Y-%m-%d %H:%M:%S %Z")
    click(app, "Close")
    assert not app.json


def test_view_payload_is_disabled_until_a_row_is_selected(app):
    open_audit_tab(app)
    button = next(b for b in app.button if b.label == "View payload")
    assert button.disabled


def test_a_new_report_shows_up_on_the_next_refresh(app, audited):
    open_audit_tab(app)
    assert metrics(app)["Total Events"] == "74"
    report = audited.usage.report(SLUG, "api-calls", 5)
    app.run()  # what the live fragment does every few seconds: no cache in between
    assert metrics(app)["Total Events"] == "75"
    assert log(app)["Event ID"].iloc[0] == report.event_id


def test_search_results_are_kept_between_live_refreshes(app, audited):
    open_audit_tab(app)
    set_filter(app, f"audit_log_search_{SLUG}", "m-sum")
    assert len(log(app)) == 5
    audited.usage.report(SLUG, "m-sum", 1)
    app.run()  # a live refresh: the search (a scan of the events) is not run again
    assert len(log(app)) == 5
    assert any("read again every 30 s" in caption for caption in texts(app.caption))
    reload(app)  # the sidebar's Reload data, or the 30 s, reads it again
    assert len(log(app)) == 6


def test_live_toggle_is_on_and_can_pause(app):
    open_audit_tab(app)
    live = app.toggle(key=f"audit_live_{SLUG}")
    assert live.value is True
    live.set_value(False).run()
    assert not app.exception
    assert len(app.metric) == 4


def test_how_it_works_explains_the_three_event_types(app):
    open_audit_tab(app)
    text = " ".join(texts(app.markdown))
    for label in ("How it works", "Entitlement Read", "Usage Accepted", "Usage Rejected"):
        assert label in text


def test_instance_without_events(app):
    open_audit_tab(app, "globex-dev")
    assert metrics(app) == {"Total Events": "0", "Accepted": "0", "Rejected": "0",
                            "Today": "0"}
    assert "No events match these filters." in texts(app.info)
    assert chart_data(app, 0)["events"].sum() == 0


# --- the pager's arithmetic (no database) ---------------------------------------------------


def test_pages_of_an_exact_count():
    from kaiten_console.event_log import page_count

    assert page_count(0, True, 1, 0) == 1
    assert page_count(50, True, 1, 50) == 1
    assert page_count(51, True, 1, 50) == 2
    assert page_count(1_000_000, True, 1, 50) == math.ceil(1_000_000 / 50)


def test_a_capped_count_offers_the_next_page_after_a_full_one():
    from kaiten_console.event_log import count_text, page_count

    assert count_text(10_000, False) == "10,000+"
    assert count_text(1234, True) == "1,234"
    assert page_count(10_000, False, 1, 50) == 200
    assert page_count(10_000, False, 200, 50) == 201
    assert page_count(10_000, False, 250, 50) == 251
    assert page_count(10_000, False, 251, 12) == 251
