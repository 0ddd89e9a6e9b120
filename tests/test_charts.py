"""Chart builders return valid Vega-Lite specs with the expected encodings."""

from __future__ import annotations

from datetime import date

import pandas as pd

from kaiten_analytics import charts


def timeline_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "day": [date(2026, 3, d) for d in (9, 9, 9, 10, 10, 10)],
        "category": ["Read", "Accepted", "Rejected"] * 2,
        "events": [1, 2, 0, 3, 4, 5],
    })


def test_activity_timeline_is_stacked_by_category_with_a_legend_toggle():
    spec = charts.activity_timeline_chart(timeline_frame()).to_dict()
    assert spec["mark"]["type"] == "bar"
    encoding = spec["encoding"]
    assert encoding["color"]["field"] == "category"
    assert encoding["color"]["scale"]["domain"] == ["Read", "Accepted", "Rejected"]
    assert encoding["y"]["stack"] == "zero"
    (param,) = spec["params"]
    assert param["bind"] == "legend" and param["select"]["fields"] == ["category"]
    assert encoding["opacity"]["condition"][0]["param"] == param["name"]
    values = spec["datasets"][spec["data"]["name"]]
    assert {v["day"] for v in values} == {"2026-03-09", "2026-03-10"}


def test_value_over_time_has_a_threshold_rule_and_crossing_points():
    series = pd.DataFrame({
        "created_at": pd.to_datetime(["2026-03-10T00:00Z", "2026-03-10T01:00Z"], utc=True),
        "value": [40.0, 100.0], "threshold": [100.0, 100.0], "crossing": [False, True],
    })
    spec = charts.value_over_time_chart(series, tz="Asia/Kolkata").to_dict()
    line, rule, points = spec["layer"]
    assert line["mark"]["type"] == "line" and line["encoding"]["y"]["field"] == "value"
    assert rule["mark"]["type"] == "rule" and rule["encoding"]["y"]["datum"] == 100.0
    assert points["transform"] == [{"filter": "datum.crossing"}]
    data = spec["datasets"][spec["data"]["name"]] if "data" in spec else next(
        iter(spec["datasets"].values()))
    assert data[0]["time"] == "2026-03-10T05:30:00"  # wall-clock time in Kolkata


def test_value_over_time_with_a_changing_threshold_draws_a_step_line():
    series = pd.DataFrame({
        "created_at": pd.to_datetime(["2026-03-10T00:00Z", "2026-03-11T00:00Z"], utc=True),
        "value": [1.0, 2.0], "threshold": [50.0, 5.0], "crossing": [False, False],
    })
    layers = charts.value_over_time_chart(series).to_dict()["layer"]
    assert layers[1]["mark"]["type"] == "line"
    assert layers[1]["encoding"]["y"]["field"] == "threshold"


def test_consumption_chart_from_a_summary_and_from_the_fleet():
    summary = pd.DataFrame({"entitlement": ["seats", "calls", "sso"], "granted": [50, 100, True],
                            "usage": [45.0, 10.0, float("nan")],
                            "percent_used": [90.0, 10.0, float("nan")]})
    spec = charts.consumption_chart(summary).to_dict()
    bars, limit = spec["layer"]
    assert bars["encoding"]["x"]["field"] == "percent_used"
    assert limit["encoding"]["x"]["datum"] == 100
    rows = next(iter(spec["datasets"].values()))
    assert [r["label"] for r in rows] == ["seats", "calls"]
    assert [r["status"] for r in rows] == ["nearing", "ok"]
    fleet = pd.DataFrame({"instance": ["a"], "entitlement": ["seats"], "threshold": [10.0],
                          "usage": [10.0], "percent_used": [100.0]})
    rows = next(iter(charts.consumption_chart(fleet).to_dict()["datasets"].values()))
    assert rows[0]["label"] == "a · seats" and rows[0]["status"] == "at limit"


def test_utilisation_heatmap_encodes_license_by_band():
    bands = pd.DataFrame({"license": ["pro", "pro"], "band": ["0–20%", "at limit"],
                          "pairs": [3, 1]})
    cells, text = charts.utilisation_heatmap(bands).to_dict()["layer"]
    assert cells["mark"]["type"] == "rect"
    assert cells["encoding"]["x"]["field"] == "band"
    assert cells["encoding"]["y"]["field"] == "license"
    assert cells["encoding"]["color"]["field"] == "pairs"
    assert text["encoding"]["text"]["field"] == "pairs"


def test_charts_render_to_png(tmp_path):
    """vl-convert renders the spec: it is valid Vega-Lite, not only a dict."""
    path = tmp_path / "timeline.png"
    charts.activity_timeline_chart(timeline_frame()).save(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
