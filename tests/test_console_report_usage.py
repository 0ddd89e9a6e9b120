"""The console's Report usage page (AppTest): deep link, context, outcomes, refused reports."""

from __future__ import annotations

import pytest
from conftest import table_counts
from console_support import click, texts
from streamlit.testing.v1 import AppTest

import kaiten_analytics as ka
from kaiten_console import page_paths

PAGE = page_paths.REPORT_USAGE
PRO_NUMBER_ENTITLEMENTS = ["api-calls", "m-average", "m-count", "m-latest", "m-max", "m-min",
                           "m-sum", "seats"]


@pytest.fixture
def app(catalogue, console_for):
    """The console on the catalogue's database, first run done."""
    at = console_for(catalogue).run()
    assert not at.exception
    return at


def open_report(at: AppTest, instance: str | None = None,
                entitlement: str | None = None) -> AppTest:
    """Open the page as ``/report_usage?instance=…&entitlement=…`` would."""
    at.run()
    for param, value in (("instance", instance), ("entitlement", entitlement)):
        if value is not None:
            at.query_params[param] = value
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def report(at: AppTest, value: float | None, key: str = "") -> AppTest:
    """Type ``value`` and ``key`` into the form and submit it."""
    if value is not None:
        at.number_input(key="report_value").set_value(value)
    at.text_input(key="report_idempotency_key").input(key)
    return click(at, "Report usage")


def metrics(at: AppTest) -> dict[str, list[tuple[str, str]]]:
    """label → [(value, delta)] of every card (context first, then the outcome)."""
    cards: dict[str, list[tuple[str, str]]] = {}
    for metric in at.metric:
        cards.setdefault(metric.label, []).append((metric.value, metric.delta))
    return cards


def newest_event(kaiten, instance: str) -> dict:
    return kaiten.audit.trail(instance, limit=1).iloc[0].to_dict()


def test_empty_database_says_how_to_start(kaiten, console_for):
    at = console_for(kaiten)
    open_report(at)
    assert "No instances yet — create one on the Instances page, or run `kaiten demo`." \
        in texts(at.info)
    assert not at.number_input


def test_without_an_instance_the_page_asks_for_one(app):
    open_report(app)
    assert app.title[0].value == "Report usage"
    assert app.selectbox(key="report_instance").value is None
    assert not app.number_input


def test_deep_link_selects_the_instance_and_offers_its_number_entitlements(app, catalogue):
    open_report(app, "acme-prod")
    assert app.selectbox(key="report_instance").value == "acme-prod"
    summary = catalogue.usage.summary("acme-prod")
    expected = list(summary[summary["type"] == "NUMBER"]["entitlement"])
    assert expected == PRO_NUMBER_ENTITLEMENTS  # sso and support-tier take no reports
    box = app.selectbox(key="report_entitlement")
    assert box.options == [f"{name} ({slug})" for slug, name in zip(
        summary["entitlement"], summary["name"], strict=True) if slug in expected]
    assert box.value == "api-calls"


def test_entitlement_deep_link_and_picking_follow_in_the_url(app):
    open_report(app, "acme-prod", "seats")
    assert app.selectbox(key="report_entitlement").value == "seats"
    app.selectbox(key="report_entitlement").set_value("m-sum").run()
    assert app.query_params["entitlement"] == "m-sum"
    app.selectbox(key="report_instance").set_value("globex-dev").run()
    assert app.query_params["instance"] == "globex-dev"
    assert "entitlement" not in app.query_params
    assert app.selectbox(key="report_entitlement").options == ["API calls (api-calls)",
                                                                "Seats (seats)"]


def test_unknown_instance_link_says_so(app):
    open_report(app, "no-such-instance")
    assert any("Cannot report usage for this instance" in e for e in texts(app.error))
    assert app.selectbox(key="report_instance").value is None


def test_context_shows_method_threshold_and_current_usage(app, catalogue):
    catalogue.usage.report("acme-prod", "seats", 10)
    open_report(app, "acme-prod", "seats")
    cards = metrics(app)
    assert cards["Aggregation"] == [("MAX", "highest value")]
    assert cards["Threshold"] == [("50 seats", "pro license")]
    assert cards["Current usage"] == [("10 seats", "20% of threshold")]
    assert cards["Accepted reports"] == [("1", "last 2026-03-10 12:00:00 UTC")]


def test_accepted_report_writes_usage_and_audit_trail_and_shows_the_outcome(app, catalogue):
    catalogue.usage.report("acme-prod", "m-sum", 40)
    open_report(app, "acme-prod", "m-sum")
    report(app, 25)
    assert not app.exception and not app.error
    row = catalogue.usage.summary("acme-prod").set_index("entitlement").loc["m-sum"]
    assert (row["usage"], row["event_count"]) == (65.0, 2)
    event = newest_event(catalogue, "acme-prod")
    assert event["event_name"] == "kaiten.v1.entitlement.usage.report.accepted"
    assert (event["payload"]["value"], event["payload"]["aggregate_before"],
            event["payload"]["aggregate_after"]) == (25, 40, 65)

    assert texts(app.success) == ["**ACCEPTED** — 25 reported for `m-sum` of `acme-prod`."]
    cards = metrics(app)
    assert cards["Usage"] == [("65", "+25")]  # after, and the change from before
    assert cards["Threshold"][-1] == ("100", "65% used")
    assert cards["Current usage"] == [("65", "65% of threshold")]  # reads were refreshed
    assert any(f"audit event `{event['id']}`" in c and "40 → 65" in c for c in texts(app.caption))


def test_unlimited_entitlement_and_an_unchanged_aggregate(app, catalogue):
    catalogue.usage.report("acme-prod", "m-max", 30)
    open_report(app, "acme-prod", "api-calls")
    assert metrics(app)["Threshold"] == [("no limit", "pro license")]
    report(app, 1500)
    assert texts(app.success) and metrics(app)["Threshold"][-1] == ("no limit", "")
    app.selectbox(key="report_entitlement").set_value("m-max").run()
    report(app, 20)  # MAX: a lower value is accepted and changes nothing
    assert metrics(app)["Usage"] == [("30", "no change")]


def test_first_report_of_an_entitlement(app, catalogue):
    open_report(app, "acme-prod", "seats")
    report(app, 12)
    assert metrics(app)["Usage"] == [("12 seats", "first report")]
    assert catalogue.usage.summary("acme-prod").set_index("entitlement").loc[
        "seats", "usage"] == 12.0


def test_report_over_the_threshold_is_rejected_with_its_reason(app, catalogue):
    catalogue.usage.report("globex-dev", "seats", 4)
    open_report(app, "globex-dev", "seats")
    report(app, 9)
    event = newest_event(catalogue, "globex-dev")
    assert (event["event_name"], event["status"]) == (
        "kaiten.v1.entitlement.usage.report.rejected", "REJECTED")
    reason = event["payload"]["reason"]
    assert texts(app.warning) == [f"**REJECTED** — 9 seats for `seats` of `globex-dev`: "
                                  f"{reason}. The stored usage is unchanged."]
    assert not app.success and not app.error
    assert metrics(app)["Usage"] == [("4 seats", "unchanged")]
    assert catalogue.usage.summary("globex-dev").set_index("entitlement").loc[
        "seats", "usage"] == 4.0


def test_reaching_the_threshold_is_announced(app, catalogue):
    open_report(app, "globex-dev", "seats")
    report(app, 5)
    assert any("**Threshold reached**" in message for message in texts(app.info))
    assert metrics(app)["Threshold"][-1] == ("5 seats", "100% used")


def test_reused_idempotency_key_with_another_value_is_refused_beside_the_form(app, catalogue):
    open_report(app, "acme-prod", "m-sum")
    report(app, 5, key="batch-1")
    assert texts(app.success)
    before = table_counts(catalogue)
    report(app, 7, key="batch-1")
    assert not app.exception
    errors = texts(app.error)
    assert len(errors) == 1 and errors[0].startswith("Could not report usage.")
    assert "**Idempotency key**: 'batch-1' was already used for a different report" in errors[0]
    assert table_counts(catalogue) == before
    assert not app.success  # the earlier outcome no longer stands beside the form
    assert app.number_input(key="report_value").value == 7
    assert app.text_input(key="report_idempotency_key").value == "batch-1"


def test_retry_with_the_same_key_returns_the_first_outcome_and_writes_nothing(app, catalogue):
    open_report(app, "acme-prod", "m-sum")
    report(app, 5, key="batch-1")
    first = newest_event(catalogue, "acme-prod")["id"]
    assert not any("idempotency key was used before" in info for info in texts(app.info))
    before = table_counts(catalogue)
    report(app, 5, key="batch-1")
    assert table_counts(catalogue) == before
    assert texts(app.success)
    assert any("idempotency key was used before" in info for info in texts(app.info))
    assert any(f"audit event `{first}`" in caption for caption in texts(app.caption))


def test_empty_value_shows_the_librarys_message_and_writes_nothing(app, catalogue):
    open_report(app, "acme-prod", "seats")
    before = table_counts(catalogue)
    report(app, None)
    errors = texts(app.error)
    assert len(errors) == 1 and "**Value**: is required: a finite number" in errors[0]
    assert table_counts(catalogue) == before


def preview(at: AppTest, value: float) -> AppTest:
    """Type ``value`` into the form and press Preview."""
    at.number_input(key="report_value").set_value(value)
    return click(at, "Preview")


def test_preview_says_what_a_report_would_do_and_writes_nothing(app, catalogue):
    open_report(app, "acme-prod", "m-sum")  # SUM, threshold 100
    catalogue.usage.report("acme-prod", "m-sum", 60)
    before = table_counts(catalogue)
    preview(app, 30)
    shown = " ".join(texts(app.info))
    assert "would be **ACCEPTED**" in shown and "usage 60 → 90" in shown
    assert "90% of the threshold 100" in shown
    preview(app, 50)
    shown = " ".join(texts(app.info))
    assert "would be **REJECTED**" in shown
    assert catalogue.usage.check("acme-prod", "m-sum", 50).reason in shown
    assert table_counts(catalogue) == before  # not even an audit row
    assert app.number_input(key="report_value").value == 50  # the input is kept


def test_preview_agrees_with_the_report_that_follows(app, catalogue):
    open_report(app, "acme-prod", "m-sum")
    preview(app, 100)
    assert "would reach the threshold" in " ".join(texts(app.info))
    click(app, "Report usage")
    event = newest_event(catalogue, "acme-prod")
    assert event["event_name"] == ka.USAGE_ACCEPTED
    assert catalogue.usage.get_value("acme-prod", "m-sum").usage["value"] == 100
    assert not any("Preview" in text for text in texts(app.info))  # the outcome replaced it


def test_a_refused_preview_shows_the_message_beside_the_form(app, catalogue):
    open_report(app, "acme-prod", "m-sum")
    before = table_counts(catalogue)
    click(app, "Preview")  # no value typed
    assert any("Could not preview this report." in text for text in texts(app.error))
    assert table_counts(catalogue) == before
