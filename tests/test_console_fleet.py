"""The console's Fleet page (AppTest) on a small hand-built fleet whose answers are known."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from console_support import texts
from fleet_support import build_known_fleet
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import kaiten_analytics as ka
from kaiten_console import page_paths

PAGE = page_paths.FLEET
LINK = "instance?instance="
# tab label → (the library call it shows, the CSV's name, a column it must carry unchanged)
SECTIONS = {
    "Nearing limits": (lambda k: k.fleet.nearing_limits(), "nearing-limits", "percent_used"),
    "Blocked demand": (lambda k: k.fleet.blocked_demand(days=30), "blocked-demand",
                       "rejected"),
    "Silent metering": (lambda k: k.fleet.silent_metering(days=7), "silent-metering",
                        "days_silent"),
    "Burn-down": (lambda k: k.fleet.burn_down(), "burn-down", "burn_ratio"),
    "Forecast": (lambda k: k.fleet.forecast(window_days=30), "forecast", "days_to_limit"),
}


@pytest.fixture
def fleet(catalogue, clock):
    """The catalogue plus the reports of ``build_known_fleet``."""
    return build_known_fleet(catalogue, clock)


@pytest.fixture
def app(fleet, console_for):
    """The console on the fleet's database, on the Fleet page's Overview."""
    return open_fleet(console_for(fleet))


@pytest.fixture
def downloads(monkeypatch) -> dict[str, str]:
    """File name → text of every file a download button offered (AppTest keeps no copy)."""
    offered: dict[str, str] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if filename is not None and isinstance(path_or_data, bytes):
            offered[filename] = path_or_data.decode()
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return offered


def open_fleet(at: AppTest) -> AppTest:
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def show(at: AppTest, view: str) -> AppTest:
    """Open the tab ``view`` (AppTest cannot click a tab: its state is set)."""
    at.session_state["view"] = view
    at.run()
    assert not at.exception
    return at


def table(at: AppTest) -> pd.DataFrame:
    """The tab's table, its instance links turned back into slugs."""
    assert len(at.dataframe) == 1
    shown = at.dataframe[0].value
    return shown.assign(instance=shown["instance"].str.removeprefix(LINK))


def pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["instance"], frame["entitlement"], strict=True))


def charts(at: AppTest) -> dict[str, tuple[dict, pd.DataFrame]]:
    """Title → (Vega-Lite spec, data) of every chart on the page."""
    found = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        data = convert_arrow_bytes_to_pandas_df(chart.proto.datasets[0].data.data)
        found[spec["layer"][0]["title"]] = (spec, data)
    return found


def test_empty_database_says_how_to_start(kaiten, console_for):
    at = console_for(kaiten)
    open_fleet(at)
    assert texts(at.info) == [
        "No instances yet — create one on the Instances page, or run `kaiten demo`."]
    assert not at.dataframe and not at.tabs


def test_overview_shows_the_fleets_consumption(app, fleet):
    assert [tab.label for tab in app.tabs] == ["Overview", *SECTIONS]
    cards = {metric.label: metric.value for metric in app.metric}
    assert cards == {"Instances": "3", "Metered entitlements": "12", "Nearing a limit": "1",
                     "At the limit": "1"}
    expected = fleet.fleet.consumption()
    shown = table(app)
    assert pairs(shown) == pairs(expected)
    assert list(shown["percent_used"].fillna(-1)) == list(expected["percent_used"].fillna(-1))
    assert list(shown["status"]) == list(expected["status"])


def test_at_the_limit_card_counts_pairs_in_overage(fleet, console_for):
    fleet.licenses.update("pro", entitlements={
        "m-count": {"threshold": 2, "overage_percent": 50}})
    for _ in range(3):  # 3 of 2, inside the 50 % allowance: accepted, in overage
        assert fleet.usage.report("acme-prod", "m-count", 1).status == "ACCEPTED"
    statuses = fleet.fleet.consumption().set_index(["instance", "entitlement"])["status"]
    assert statuses["acme-prod", "m-count"] == "in overage"
    at = open_fleet(console_for(fleet))
    cards = {metric.label: metric.value for metric in at.metric}
    assert cards["At the limit"] == "2"  # m-sum at its limit, m-count in overage


def test_heatmap_draws_the_licenses_utilisation_bands(app, fleet):
    spec, data = charts(app)["Fleet utilisation"]
    assert spec["layer"][0]["encoding"]["y"]["field"] == "license"
    assert spec["layer"][0]["encoding"]["x"]["field"] == "band"
    assert sorted(set(data["license"])) == ["pro", "starter"]
    expected = fleet.fleet.utilisation_bands()
    assert data[["license", "band", "pairs"]].values.tolist() == expected.values.tolist()


def test_consumption_chart_shows_the_fullest_pairs(app):
    _, data = charts(app)["The 5 fullest"]  # the pairs with a limit and usage
    assert list(data.sort_values("percent_used", ascending=False)["label"]) == [
        "acme-prod · m-sum", "acme-prod · seats", "globex-dev · seats",
        "globex-trend · api-calls", "globex-dev · api-calls"]


@pytest.mark.parametrize("view", list(SECTIONS))
def test_each_section_shows_the_librarys_view(app, fleet, view):
    read, _, column = SECTIONS[view]
    show(app, view)
    expected = read(fleet)
    shown = table(app)
    assert not expected.empty
    assert pairs(shown) == pairs(expected)
    assert list(shown[column].fillna(-1)) == pytest.approx(list(expected[column].fillna(-1)))


def test_sections_show_what_the_library_found(app):
    show(app, "Nearing limits")
    assert list(zip(*[table(app)[c] for c in ("instance", "entitlement", "status")],
                    strict=True)) == [("acme-prod", "m-sum", "at limit"),
                                      ("acme-prod", "seats", "nearing")]
    show(app, "Blocked demand")
    assert table(app)[["instance", "rejected"]].values.tolist() == [["acme-prod", 3],
                                                                    ["globex-dev", 1]]
    show(app, "Silent metering")
    assert table(app)[["instance", "entitlement", "status"]].values.tolist() == [
        ["acme-prod", "m-max", "never reported"], ["globex-dev", "api-calls", "silent"]]
    show(app, "Forecast")
    trend = table(app).set_index(["instance", "entitlement"]).loc[("globex-trend", "api-calls")]
    assert (str(trend["forecast_date"])[:10], trend["days_to_limit"]) == ("2026-06-08", 90.0)


def test_forecast_explains_its_method(app):
    show(app, "Forecast")
    method = next(c for c in texts(app.caption) if c.startswith("**Method**"))
    assert "linear least-squares" in method
    assert "closing usage" in method and "at least 3 days" in method
    assert "last 30 days" in method


def test_windows_and_percent_change_the_rows(app, fleet):
    show(app, "Nearing limits")
    app.slider(key="fleet_nearing_percent").set_value(95).run()
    assert pairs(table(app)) == pairs(fleet.fleet.nearing_limits(percent=95)) == [
        ("acme-prod", "m-sum")]
    show(app, "Silent metering")
    app.button_group(key="fleet_silent_days").set_value(14).run()
    assert pairs(table(app)) == pairs(fleet.fleet.silent_metering(days=14)) == [
        ("acme-prod", "m-max")]
    show(app, "Forecast")
    app.button_group(key="fleet_forecast_days").set_value(14).run()
    assert pairs(table(app)) == pairs(fleet.fleet.forecast(window_days=14))
    assert any("last 14 days" in caption for caption in texts(app.caption))


def test_filters_change_the_rows(app, fleet):
    for key, slug, argument in (("fleet_customer", "globex", "customer"),
                                ("fleet_license", "pro", "license"),
                                ("fleet_zone", "us-prod", "zone"),
                                ("fleet_zone", ka.NO_ZONE, "zone")):
        app.selectbox(key=key).set_value(slug).run()
        expected = fleet.fleet.consumption(**{argument: slug})
        assert pairs(table(app)) == pairs(expected), key
        app.selectbox(key=key).set_value(None).run()
    assert set(table(app)["instance"]) == {"acme-prod", "globex-dev", "globex-trend"}


def test_filters_apply_to_every_section(app, fleet):
    app.selectbox(key="fleet_customer").set_value("globex").run()
    show(app, "Blocked demand")
    assert pairs(table(app)) == pairs(fleet.fleet.blocked_demand(customer="globex")) == [
        ("globex-dev", "seats")]
    show(app, "Silent metering")
    assert pairs(table(app)) == [("globex-dev", "api-calls")]


def test_no_match_and_empty_sections_say_so(app):
    app.selectbox(key="fleet_customer").set_value("acme").run()
    show(app, "Burn-down")
    assert not app.dataframe
    assert any("license with both a start and an end date" in i for i in texts(app.info))
    app.selectbox(key="fleet_zone").set_value("us-prod").run()
    assert "No metered instance matches these filters — set one of them back to All." \
        in texts(app.info)
    assert not app.tabs


def test_instances_link_to_their_detail_page(app):
    links = app.dataframe[0].value["instance"]
    assert set(links) == {f"{LINK}acme-prod", f"{LINK}globex-dev", f"{LINK}globex-trend"}


def test_every_table_downloads_as_csv(fleet, downloads, console_for):
    at = console_for(fleet)
    open_fleet(at)
    buttons = at.get("download_button")
    assert [button.label for button in buttons] == ["Download CSV"]
    assert downloads["kaiten-consumption.csv"] == fleet.fleet.consumption().to_csv(
        index=False)
    for view, (read, name, _) in SECTIONS.items():
        show(at, view)
        assert len(at.get("download_button")) == 1, view
        csv = downloads[f"kaiten-{name}.csv"]
        assert csv == read(fleet).to_csv(index=False), view
        assert len(pd.read_csv(io.StringIO(csv))) == len(read(fleet))
    at.selectbox(key="fleet_customer").set_value("globex").run()
    assert "kaiten-forecast-globex.csv" in downloads
    at.selectbox(key="fleet_zone").set_value(ka.NO_ZONE).run()
    assert "kaiten-forecast-globex-no-zone.csv" in downloads
