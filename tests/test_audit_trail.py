"""audit.trail / audit.events: filters, ordering, paging, validation; append-only table."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import kaiten_analytics as ka
from kaiten_analytics.db.models import feature_audit_trail


@pytest.fixture
def history(catalogue, clock):
    """Six events one minute apart from 12:00 UTC: report, read, report, rejected, ..."""
    k = catalogue
    k.usage.report("acme-prod", "m-sum", 40)  # 12:00
    clock.advance(minutes=1)
    k.usage.get_value("acme-prod", "seats")  # 12:01
    clock.advance(minutes=1)
    k.usage.report("acme-prod", "m-sum", 50)  # 12:02
    clock.advance(minutes=1)
    k.usage.report("acme-prod", "m-sum", 50)  # 12:03 rejected
    clock.advance(minutes=1)
    k.usage.report("acme-prod", "seats", 3)  # 12:04
    clock.advance(minutes=1)
    k.usage.report("globex-dev", "seats", 1)  # 12:05, another instance
    return k


def test_trail_is_newest_first_and_per_instance(history):
    trail = history.audit.trail("acme-prod")
    assert list(trail.columns) == ["id", "event_name", "entitlement", "status", "payload",
                                   "created_at"]
    assert len(trail) == 5
    assert trail["created_at"].is_monotonic_decreasing
    assert list(trail["id"]) == sorted(trail["id"], reverse=True)
    assert list(trail["status"]) == ["ACCEPTED", "REJECTED", "ACCEPTED", "ACCEPTED",
                                     "ACCEPTED"]


def test_trail_filters_by_event_name_and_time(history):
    name = "kaiten.v1.entitlement.usage.report.accepted"
    assert len(history.audit.trail("acme-prod", event_name=name)) == 3
    window = history.audit.trail("acme-prod", after="2026-03-10T12:01:00Z",
                                 before=datetime(2026, 3, 10, 12, 3, tzinfo=UTC))
    assert [t.minute for t in window["created_at"]] == [2, 1]  # after inclusive, before not
    tokyo = history.audit.trail("acme-prod", after="2026-03-10T21:03:00+09:00")
    assert len(tokyo) == 2


def test_trail_pages_with_limit_and_offset(history):
    first = history.audit.trail("acme-prod", limit=2)
    second = history.audit.trail("acme-prod", limit=2, offset=2)
    whole = history.audit.trail("acme-prod")
    assert list(first["id"]) + list(second["id"]) == list(whole["id"][:4])


@pytest.mark.parametrize("filters", [
    {}, {"limit": 2, "offset": 1}, {"event_name": "kaiten.v1.entitlement.usage.report.accepted"},
    {"after": "2026-03-10T12:01:00Z", "before": "2026-03-10T12:04:00Z"}])
def test_trail_records_are_the_trail_page_as_plain_dicts(history, filters):
    records = history.audit.trail_records("acme-prod", **filters)
    frame = history.audit.trail("acme-prod", **filters)
    assert [list(record) for record in records] == [list(frame.columns)] * len(frame)
    assert [r["id"] for r in records] == list(frame["id"])
    assert [r["payload"] for r in records] == list(frame["payload"])
    assert [r["created_at"] for r in records] == [t.to_pydatetime() for t in frame["created_at"]]
    assert all(type(r["created_at"]) is datetime and r["created_at"].utcoffset().total_seconds()
               == 0 for r in records)
    with pytest.raises(ka.NotFoundError):
        history.audit.trail_records("nobody")
    with pytest.raises(ka.ValidationError) as info:
        history.audit.trail_records("acme-prod", limit=0)
    assert info.value.field == "limit"


def test_equal_timestamps_have_a_stable_order(catalogue):
    for value in range(5):
        catalogue.usage.report("acme-prod", "m-sum", value)  # the fake clock stands still
    trail = catalogue.audit.trail("acme-prod")
    assert trail["created_at"].nunique() == 1
    assert [p["event_count"] for p in trail["payload"]] == [5, 4, 3, 2, 1]
    pages = [catalogue.audit.trail("acme-prod", limit=2, offset=o) for o in (0, 2, 4)]
    assert [i for page in pages for i in page["id"]] == list(trail["id"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"limit": "10"}, "limit"),
        ({"offset": -1}, "offset"), ({"after": "yesterday"}, "after"),
        ({"after": "2026-03-10T12:00:00"}, "after"),
        ({"before": datetime(2026, 3, 10)}, "before"), ({"before": 5}, "before"),
        ({"event_name": "kaiten.v1.other"}, "event_name"),
    ],
)
def test_malformed_trail_parameters_are_refused(history, kwargs, field):
    with pytest.raises(ka.ValidationError) as info:
        history.audit.trail("acme-prod", **kwargs)
    assert info.value.field == field


def test_trail_of_unknown_instance_is_not_found(history):
    with pytest.raises(ka.NotFoundError):
        history.audit.trail("nobody")


def test_event_log_filters_and_full_text_search(history):
    events = history.audit.events
    assert set(events("acme-prod", entitlement="seats")["entitlement"]) == {"seats"}
    assert list(events("acme-prod", status="REJECTED")["category"]) == ["Rejected"]
    assert len(events("acme-prod", search="above the threshold")) == 1
    assert len(events("acme-prod", search="SEATS")) == 2  # entitlement, case-insensitive
    one = events("acme-prod").iloc[2]
    assert list(events("acme-prod", search=one["id"][-8:])["id"]) == [one["id"]]
    assert len(events("acme-prod", search="value.get")) == 1
    assert len(events("acme-prod", search="100%")) == 0  # % is literal, not a wildcard


def test_event_count_from_rollups_and_from_search(history):
    count = history.audit.count
    assert count("acme-prod").count == 5
    assert count("acme-prod", status="REJECTED").count == 1
    assert count("acme-prod", entitlement="m-sum").count == 3
    assert count("acme-prod", event_name="kaiten.v1.entitlement.value.get").count == 1
    searched = count("acme-prod", search="m-sum")
    assert (searched.count, searched.exact) == (3, True)
    assert count("acme-prod", after="2026-03-10T12:02:00Z").count == 3


@pytest.mark.parametrize("statement", [
    "UPDATE feature_audit_trail SET status = 'REJECTED'",
    "DELETE FROM feature_audit_trail",
])
def test_audit_trail_refuses_update_and_delete(history, statement):
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), \
            history.db.engine.begin() as connection:
        connection.exec_driver_sql(statement)
    with history.db.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(
            feature_audit_trail)).scalar() == 6


def test_audit_trail_refuses_truncate_postgresql_only(history):
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), \
            history.db.engine.begin() as connection:
        connection.exec_driver_sql("TRUNCATE feature_audit_trail CASCADE")


def test_count_without_search_equals_a_raw_count_for_every_filter_and_range(catalogue, clock):
    rng = random.Random(11)
    clock.set(datetime(2026, 3, 7, 22, 50, 12, 345678, tzinfo=UTC))
    while clock.now < datetime(2026, 3, 10, 3, tzinfo=UTC):  # three UTC midnights
        clock.advance(minutes=rng.randint(1, 40), seconds=rng.randint(0, 59),
                      microseconds=rng.randint(0, 999_999))
        kind = rng.random()
        if kind < 0.3:
            catalogue.usage.get_value("acme-prod", rng.choice(["m-sum", "seats"]))
        elif kind < 0.4:
            catalogue.usage.report("acme-prod", "m-sum", 1000)  # rejected
        else:
            catalogue.usage.report(rng.choice(["acme-prod", "globex-dev"]), "seats",
                                   rng.randint(0, 4))
    trail = feature_audit_trail
    with catalogue.db.engine.connect() as connection:
        instance_id = connection.execute(sa.text(
            "SELECT id FROM instances WHERE slug = 'acme-prod'")).scalar()
        seats = connection.execute(sa.text(
            "SELECT id FROM entitlements WHERE slug = 'seats'")).scalar()
        events = connection.execute(
            sa.select(trail.c.created_at, trail.c.entitlement_id, trail.c.event_name,
                      trail.c.status).where(trail.c.instance_id == instance_id)).all()
    assert len(events) > 100
    start, stop = datetime(2026, 3, 7, 22, tzinfo=UTC), datetime(2026, 3, 10, 4, tzinfo=UTC)
    instants = [None, start, stop, datetime(2026, 3, 8, tzinfo=UTC),  # a UTC midnight
                datetime(2026, 3, 9, 18, 30, tzinfo=UTC),  # a bucket boundary
                *(e.created_at for e in rng.sample(events, 4)),  # an event's own instant
                *(start + (stop - start) * rng.random() for _ in range(6))]
    filters = [{}, {"entitlement": "seats"}, {"status": "REJECTED"}, {"status": "ACCEPTED"},
               {"event_name": "kaiten.v1.entitlement.value.get"},
               {"event_name": "kaiten.v1.entitlement.usage.report.accepted",
                "entitlement": "seats"},
               {"event_name": "kaiten.v1.entitlement.usage.report.rejected",
                "status": "ACCEPTED"}]
    for after in instants:
        for before in instants:
            for kwargs in filters:
                expected = sum(
                    1 for e in events
                    if (after is None or e.created_at >= after)
                    and (before is None or e.created_at < before)
                    and ("entitlement" not in kwargs or e.entitlement_id == seats)
                    and kwargs.get("status", e.status) == e.status
                    and kwargs.get("event_name", e.event_name) == e.event_name)
                counted = catalogue.audit.count("acme-prod", after=after, before=before,
                                                **kwargs)
                assert (counted.count, counted.exact) == (expected, True), (after, before,
                                                                            kwargs)


def test_event_log_of_unknown_slugs_is_not_found_and_of_a_quiet_instance_empty(history):
    audit = history.audit
    for call in (audit.events, audit.count):
        with pytest.raises(ka.NotFoundError):
            call("nobody")
        with pytest.raises(ka.NotFoundError):
            call("acme-prod", entitlement="nothing")
        with pytest.raises(ka.NotFoundError):
            call("nobody", after="2026-03-10T12:00:30Z", before="2026-03-10T12:00:40Z")
        with pytest.raises(ka.ValidationError):
            call("")
    history.instances.create("acme", "Quiet", "acme-quiet", "pro")
    assert audit.events("acme-quiet").empty
    assert audit.count("acme-quiet") == ka.EventCount(0, True)
    assert audit.count("acme-prod", entitlement="sso") == ka.EventCount(0, True)
    assert audit.count("acme-prod", search="nothing like this") == ka.EventCount(0, True)
