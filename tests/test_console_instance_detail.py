"""The console's instance detail page (AppTest): deep link, Overview, tabs, time zones."""

from __future__ import annotations

import json

import pytest
from console_support import open_instance, texts

from kaiten_console import page_paths

TABS = ["Overview", "Feature Flags", "Entitlements", "Audit Trail"]


@pytest.fixture
def detailed(catalogue):
    """The catalogue plus ``acme-eu``: dated license, zone and metadata (clock: 2026-03-10)."""
    catalogue.instances.create(
        "acme", "EU production", "acme-eu", "pro", description="Frankfurt cluster",
        deployment_zone="eu-prod", license_start="2026-01-01", license_end="2026-12-31",
        metadata={"region": "eu", "nodes": 3, "tags": ["gold"]},
    )
    return catalogue


@pytest.fixture
def app(detailed, console_for):
    """The console on the catalogue's database, not yet run."""
    return console_for(detailed)


def metrics(at) -> dict[str, tuple[str, str]]:
    return {metric.label: (metric.value, metric.delta) for metric in at.metric}


def details(at) -> dict[str, str]:
    table = at.table[0].value
    return dict(zip(table.index, table["Value"], strict=True))


def test_deep_link_selects_the_instance(app):
    open_instance(app, "acme-eu")
    assert not app.exception
    assert app.title[0].value == "EU production"
    assert app.selectbox(key="instance_picker").value == "acme-eu"
    assert app.query_params["instance"] == "acme-eu"


def test_deep_link_to_an_instance_created_since_the_list_was_read(app, detailed):
    open_instance(app, "acme-eu")
    detailed.instances.create("globex", "Fresh", "globex-fresh", "starter")
    open_instance(app, "globex-fresh")
    assert not app.error
    assert app.title[0].value == "Fresh"


def test_picking_another_instance_follows_in_the_url(app):
    open_instance(app, "acme-eu")
    app.selectbox(key="instance_picker").set_value("globex-dev").run()
    assert app.title[0].value == "Development"
    assert app.query_params["instance"] == "globex-dev"


def test_overview_shows_the_instance(app):
    open_instance(app, "acme-eu")
    assert metrics(app) == {
        "Customer": ("Acme Corp", "acme"),
        "License": ("Pro", "pro"),
        "Days remaining": ("296 days", "ends 2026-12-31"),
        "Deployment zone": ("eu-prod", "EU production"),
    }
    assert details(app) == {
        "Name": "EU production",
        "Slug": "acme-eu",
        "Description": "Frankfurt cluster",
        "Customer": "Acme Corp (acme)",
        "License": "Pro (pro)",
        "License start": "2026-01-01",
        "License end": "2026-12-31",
        "Days remaining": "296 days (ends 2026-12-31)",
        "Deployment zone": "EU production (eu-prod)",
        "Created": "2026-03-10 12:00:00 UTC",
        "Updated": "2026-03-10 12:00:00 UTC",
    }
    assert [json.loads(element.value) for element in app.json] == [
        {"region": "eu", "nodes": 3, "tags": ["gold"]}
    ]


def test_days_remaining_follows_the_library_clock(app, detailed, clock):
    detailed.instances.create("globex", "Old", "globex-old", "starter",
                              license_start="2025-01-01", license_end="2026-03-01")
    clock.advance(days=30)
    open_instance(app, "acme-eu")
    assert metrics(app)["Days remaining"] == ("266 days", "ends 2026-12-31")
    open_instance(app, "globex-old")
    assert metrics(app)["Days remaining"] == ("Expired", "ended 39 days ago, on 2026-03-01")


def test_instance_without_dates_zone_or_metadata(app):
    open_instance(app, "globex-dev")
    assert metrics(app)["Days remaining"] == ("—", "no end date")
    assert metrics(app)["Deployment zone"] == ("—", "no deployment zone")
    assert "This instance has no metadata." in texts(app.caption)


def test_timestamps_follow_the_chosen_time_zone(app):
    open_instance(app, "acme-eu")
    app.session_state["timezone"] = "Europe/Berlin"
    app.run()
    assert details(app)["Created"] == "2026-03-10 13:00:00 CET"


def test_default_time_zone_is_the_browsers(app):
    app.context = {"timezone": "America/New_York"}
    open_instance(app, "acme-eu")
    assert app.session_state["timezone"] == "America/New_York"
    assert details(app)["Created"] == "2026-03-10 08:00:00 EDT"


def test_kaiten_timezone_wins_over_the_browsers(app, monkeypatch):
    monkeypatch.setenv("KAITEN_TIMEZONE", "Asia/Tokyo")
    app.context = {"timezone": "America/New_York"}
    open_instance(app, "acme-eu")
    assert details(app)["Created"] == "2026-03-10 21:00:00 JST"


def test_misspelt_kaiten_timezone_falls_back_to_utc(app, monkeypatch):
    monkeypatch.setenv("KAITEN_TIMEZONE", "Mars/Olympus_Mons")
    open_instance(app, "acme-eu")
    assert not app.exception
    assert app.session_state["timezone"] == "UTC"


def test_tabs_are_present(app):
    open_instance(app, "acme-eu")
    assert [tab.label for tab in app.tabs] == TABS


@pytest.mark.parametrize("tab", TABS[1:])
def test_every_tab_opens_without_error(app, tab):
    open_instance(app, "acme-eu")
    app.session_state["tab"] = tab
    app.run()
    assert not app.exception
    # the Overview's cards are not drawn under another tab (the Audit Trail has its own)
    assert "Customer" not in [metric.label for metric in app.metric]


@pytest.mark.parametrize(
    ("slug", "message"),
    [("no-such-thing", "instance 'no-such-thing' does not exist"),
     ("globex-dev", "instance 'globex-dev' was deleted")],
    ids=["unknown", "deleted"],
)
def test_unknown_or_deleted_slug_says_so(app, detailed, slug, message):
    detailed.instances.delete("globex-dev")
    open_instance(app, slug)
    assert not app.exception
    assert any(message in error for error in texts(app.error)), texts(app.error)
    assert not app.tabs
    assert app.selectbox(key="instance_picker").value is None


def test_page_without_an_instance_offers_the_picker(app):
    app.run()
    app.switch_page(page_paths.INSTANCE).run()
    assert not app.exception
    assert app.selectbox(key="instance_picker").value is None
    assert not app.tabs and not app.error
