"""usage.report: the aggregation table, the threshold rule, REACHED events, refused input."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
from conftest import table_counts

import kaiten_analytics as ka
from kaiten_analytics.db.models import entitlement_usage, outbox_events

METRIC = "m-{}"  # the catalogue fixture's per-method entitlements, threshold 100 on "pro"


def reached_events(kaiten):
    with kaiten.db.engine.connect() as connection:
        return connection.execute(
            sa.select(outbox_events.c.payload)
            .where(outbox_events.c.event_type == "INSTANCE_ENTITLEMENT_USAGE_REACHED")
            .order_by(outbox_events.c.id)
        ).scalars().all()


def report_all(kaiten, entitlement, values):
    return [kaiten.usage.report("acme-prod", entitlement, v) for v in values]


@pytest.mark.parametrize(
    ("method", "values", "aggregate", "count"),
    [
        ("sum", [10, 20, 5.5], 35.5, 3),
        ("count", [10, 20, 5.5], 3, 3),
        ("average", [10, 20, 30], 20, 3),
        ("max", [10, 40, 20], 40, 3),
        ("min", [50, 20, 30], 20, 3),
        ("latest", [50, 20, 30], 30, 3),
    ],
)
def test_each_aggregation_method(catalogue, method, values, aggregate, count):
    results = report_all(catalogue, METRIC.format(method), values)
    assert all(r.status == "ACCEPTED" for r in results)
    assert results[-1].usage == {"type": "number", "value": aggregate, "event_count": count}
    assert results[0].previous is None


def test_first_report_sets_the_aggregate_for_count_to_one(catalogue):
    first = catalogue.usage.report("acme-prod", "m-count", 42)
    assert first.usage["value"] == 1


def test_equal_to_the_threshold_is_accepted_and_reaches_it(catalogue):
    results = report_all(catalogue, "m-sum", [60, 40])
    assert [r.status for r in results] == ["ACCEPTED", "ACCEPTED"]
    assert results[-1].usage["value"] == 100 and results[-1].reached
    assert [e["entitlement"] for e in reached_events(catalogue)] == ["m-sum"]


def test_exceeding_report_is_rejected_and_leaves_usage_unchanged(catalogue):
    catalogue.usage.report("acme-prod", "m-sum", 60)
    with catalogue.db.engine.connect() as connection:
        before = connection.execute(sa.select(entitlement_usage)).all()
    rejected = catalogue.usage.report("acme-prod", "m-sum", 41)
    assert rejected.status == "REJECTED"
    assert "above the threshold 100" in rejected.reason
    assert rejected.usage == {"type": "number", "value": 60, "event_count": 1}
    with catalogue.db.engine.connect() as connection:
        assert connection.execute(sa.select(entitlement_usage)).all() == before
    assert reached_events(catalogue) == []
    event = catalogue.audit.trail("acme-prod", limit=1).iloc[0]
    assert event["event_name"] == "kaiten.v1.entitlement.usage.report.rejected"
    assert event["status"] == "REJECTED"
    assert event["payload"]["aggregate_before"] == 60
    assert event["payload"]["aggregate_after"] == 60
    assert event["payload"]["reason"] == rejected.reason


def test_first_report_above_the_threshold_is_rejected_and_creates_no_usage(catalogue):
    rejected = catalogue.usage.report("acme-prod", "m-max", 101)
    assert rejected.status == "REJECTED" and rejected.usage is None
    summary = catalogue.usage.summary("acme-prod").set_index("entitlement")
    assert math.isnan(summary.loc["m-max", "usage"])
    assert summary.loc["m-max", "event_count"] == 0


def test_average_after_a_rejection_ignores_the_rejected_value(catalogue):
    results = report_all(catalogue, "m-average", [90, 100, 200, 80])
    assert [r.status for r in results] == ["ACCEPTED", "ACCEPTED", "REJECTED", "ACCEPTED"]
    assert results[-1].usage == {"type": "number", "value": 90, "event_count": 3}


def test_latest_crossing_the_threshold_twice_writes_two_reached_events(catalogue):
    results = report_all(catalogue, "m-latest", [50, 100, 20, 100, 100, 101])
    assert [r.reached for r in results] == [False, True, False, True, False, False]
    assert results[-1].status == "REJECTED"
    assert len(reached_events(catalogue)) == 2


def test_min_with_a_threshold(catalogue):
    results = report_all(catalogue, "m-min", [150, 100, 80, 120])
    assert [r.status for r in results] == ["REJECTED", "ACCEPTED", "ACCEPTED", "ACCEPTED"]
    assert results[1].reached and not results[2].reached
    assert results[-1].usage["value"] == 80


def test_none_threshold_means_no_limit(catalogue):
    results = report_all(catalogue, "api-calls", [10**9, 10**9])
    assert all(r.status == "ACCEPTED" and r.threshold is None for r in results)
    assert results[-1].usage["value"] == 2 * 10**9
    assert reached_events(catalogue) == []


def test_reached_event_is_written_with_the_report(catalogue):
    report = catalogue.usage.report("acme-prod", "seats", 50)
    (event,) = reached_events(catalogue)
    assert event["audit_event_id"] == report.event_id
    assert (event["value"], event["threshold"]) == (50, 50)


def test_audit_payload_records_the_report(catalogue):
    catalogue.usage.report("acme-prod", "m-sum", 30)
    report = catalogue.usage.report("acme-prod", "m-sum", 12)
    payload = catalogue.audit.trail("acme-prod", limit=1).iloc[0]["payload"]
    assert payload["value"] == 12
    assert payload["aggregation_method"] == "SUM"
    assert payload["threshold"] == 100
    assert (payload["aggregate_before"], payload["aggregate_after"]) == (30, 42)
    assert payload["event_count"] == 2
    assert payload["reason"] is None
    assert catalogue.audit.trail("acme-prod", limit=1).iloc[0]["id"] == report.event_id


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -float("inf"), True, False, "5", None, [1], {"v": 1}]
)
def test_non_finite_or_non_numeric_value_is_refused(catalogue, value):
    before = table_counts(catalogue)
    with pytest.raises(ka.ValidationError) as info:
        catalogue.usage.report("acme-prod", "m-sum", value)
    assert info.value.field == "value"
    assert table_counts(catalogue) == before


@pytest.mark.parametrize(
    ("instance", "entitlement", "error", "field"),
    [
        ("nobody", "m-sum", ka.NotFoundError, "instance"),
        ("acme-prod", "nothing", ka.NotFoundError, "entitlement"),
        ("acme-prod", "sso", ka.ValidationError, "entitlement"),
        ("globex-dev", "m-sum", ka.ValidationError, "entitlement"),
        ("", "m-sum", ka.ValidationError, "instance"),
    ],
)
def test_report_against_the_wrong_thing_is_refused(catalogue, instance, entitlement, error,
                                                     field):
    before = table_counts(catalogue)
    with pytest.raises(error) as info:
        catalogue.usage.report(instance, entitlement, 1)
    assert info.value.field == field
    assert table_counts(catalogue) == before


def test_deleted_instance_takes_no_reports_but_keeps_its_history(catalogue):
    catalogue.usage.report("acme-prod", "m-sum", 5)
    catalogue.instances.delete("acme-prod")
    before = table_counts(catalogue)
    with pytest.raises(ka.NotFoundError, match="deleted"):
        catalogue.usage.report("acme-prod", "m-sum", 1)
    assert table_counts(catalogue) == before
    assert len(catalogue.audit.trail("acme-prod")) == 1
    assert catalogue.usage.summary("acme-prod").set_index("entitlement").loc["m-sum",
                                                                             "usage"] == 5


def test_report_outside_the_license_term_is_rejected_with_a_reason(catalogue, clock):
    catalogue.instances.update("acme-prod", license_start="2026-04-01",
                               license_end="2026-06-30")
    early = catalogue.usage.report("acme-prod", "m-sum", 1)  # clock: 2026-03-10
    assert early.status == "REJECTED" and "starts on 2026-04-01" in early.reason
    clock.set(clock.now.replace(month=5))
    assert catalogue.usage.report("acme-prod", "m-sum", 1).status == "ACCEPTED"
    clock.set(clock.now.replace(month=7, day=1))
    late = catalogue.usage.report("acme-prod", "m-sum", 1)
    assert late.status == "REJECTED" and "ended on 2026-06-30" in late.reason
    assert late.usage["event_count"] == 1


def test_report_many_applies_in_order_in_one_transaction(catalogue):
    results = catalogue.usage.report_many([
        ("acme-prod", "m-sum", 60),
        {"instance": "acme-prod", "entitlement": "m-sum", "value": 50},
        ("acme-prod", "m-sum", 40),
        ("acme-prod", "m-max", 7),
    ])
    assert [r.status for r in results] == ["ACCEPTED", "REJECTED", "ACCEPTED", "ACCEPTED"]
    assert results[2].usage == {"type": "number", "value": 100, "event_count": 2}
    assert len(catalogue.audit.trail("acme-prod")) == 4
    assert len(reached_events(catalogue)) == 1


def test_report_many_refuses_the_whole_batch_on_a_bad_item(catalogue):
    before = table_counts(catalogue)
    with pytest.raises(ka.ValidationError) as info:
        catalogue.usage.report_many([("acme-prod", "m-sum", 1), ("acme-prod", "m-sum", "x")])
    assert info.value.field == "reports[1].value"
    with pytest.raises(ka.NotFoundError):
        catalogue.usage.report_many([("acme-prod", "m-sum", 1), ("acme-prod", "nope", 1)])
    assert table_counts(catalogue) == before
    assert catalogue.usage.report_many([]) == []


def test_get_value_returns_grant_and_usage_and_appends_a_read(catalogue):
    none_yet = catalogue.usage.get_value("acme-prod", "seats")
    assert (none_yet.type, none_yet.value, none_yet.usage) == ("NUMBER", 50, None)
    catalogue.usage.report("acme-prod", "seats", 12)
    seats = catalogue.usage.get_value("acme-prod", "seats")
    assert seats.usage == {"type": "number", "value": 12, "event_count": 1}
    sso = catalogue.usage.get_value("acme-prod", "sso")
    assert (sso.type, sso.value) == ("BOOLEAN", True)
    trail = catalogue.audit.trail("acme-prod", event_name="kaiten.v1.entitlement.value.get")
    assert list(trail["entitlement"]) == ["sso", "seats", "seats"]
    assert set(trail["status"]) == {"ACCEPTED"}
    before = table_counts(catalogue)
    with pytest.raises(ka.ValidationError):
        catalogue.usage.get_value("globex-dev", "m-sum")
    assert table_counts(catalogue) == before


def test_summary_has_one_row_per_license_entitlement_with_percent_used(catalogue):
    catalogue.usage.report("acme-prod", "seats", 25)
    summary = catalogue.usage.summary("acme-prod")
    assert list(summary.columns[:8]) == [
        "entitlement", "type", "aggregation_method", "granted", "usage", "event_count",
        "percent_used", "updated_at",
    ]
    rows = summary.set_index("entitlement")
    assert len(rows) == 10
    assert rows.loc["seats", "percent_used"] == 50.0
    assert rows.loc["seats", "usage"] == 25.0 and rows.loc["seats", "event_count"] == 1
    assert math.isnan(rows.loc["api-calls", "percent_used"])  # no limit
    assert math.isnan(rows.loc["m-sum", "percent_used"])  # no report yet
    assert rows.loc["sso", "granted"] is True and math.isnan(rows.loc["sso", "usage"])
    assert str(summary["updated_at"].dtype) == "datetime64[us, UTC]"


def test_a_large_batch_takes_the_bulk_path_and_stays_consistent(catalogue, clock):
    results = catalogue.usage.report_many([("acme-prod", "api-calls", 2)] * 1500
                                          + [("acme-prod", "m-count", 1)] * 150)
    assert [r.usage["event_count"] for r in results[:3]] == [1, 2, 3]
    assert results[1499].usage == {"type": "number", "value": 3000, "event_count": 1500}
    assert sum(r.status == "REJECTED" for r in results[1500:]) == 50  # COUNT threshold 100
    assert catalogue.audit.count("acme-prod").count == 1650
    assert catalogue.audit.rollup_mismatches().empty
    trail = catalogue.audit.trail("acme-prod", limit=1)
    assert trail["created_at"].iloc[0] == clock.now
