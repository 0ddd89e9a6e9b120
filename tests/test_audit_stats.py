"""Stats cards and the activity timeline: exact local days in any zone, from the rollups."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest

import kaiten_analytics as ka


def at(clock, iso: str):
    clock.set(datetime.fromisoformat(iso))


def events_at(kaiten, clock, instants, entitlement="m-sum"):
    for iso in instants:
        at(clock, iso)
        kaiten.usage.report("acme-prod", entitlement, 1)


def day_counts(timeline):
    totals = timeline.groupby("day")["events"].sum()
    return {day: int(n) for day, n in totals.items() if n}


@pytest.mark.parametrize(
    ("tz", "instants", "expected"),
    [
        ("Asia/Kolkata", ["2026-03-09T18:29:59+00:00", "2026-03-09T18:30:00+00:00"],
         {date(2026, 3, 9): 1, date(2026, 3, 10): 1}),
        ("Asia/Kathmandu", ["2026-03-09T18:14:59+00:00", "2026-03-09T18:15:00+00:00"],
         {date(2026, 3, 9): 1, date(2026, 3, 10): 1}),
        ("UTC", ["2026-03-09T18:14:59+00:00", "2026-03-09T18:15:00+00:00"],
         {date(2026, 3, 9): 2}),
        # spring forward: 8 March 2026 is 23 hours long in Los Angeles
        ("America/Los_Angeles", ["2026-03-08T07:59:59+00:00", "2026-03-08T08:00:00+00:00",
                                 "2026-03-09T06:59:59+00:00", "2026-03-09T07:00:00+00:00"],
         {date(2026, 3, 7): 1, date(2026, 3, 8): 2, date(2026, 3, 9): 1}),
    ],
)
def test_timeline_days_are_exact_local_days(catalogue, clock, tz, instants, expected):
    events_at(catalogue, clock, instants)
    at(clock, "2026-03-10T20:00:00+00:00")
    timeline = catalogue.audit.timeline("acme-prod", tz=tz, days=10)
    assert day_counts(timeline) == expected


def test_fall_back_day_has_25_hours_of_events(catalogue, clock):
    # 1 November 2026 in Los Angeles runs from 07:00 UTC to 08:00 UTC the next day
    catalogue.instances.update("acme-prod", license="pro")
    events_at(catalogue, clock, ["2026-11-01T06:59:59+00:00", "2026-11-01T07:00:00+00:00",
                                 "2026-11-02T07:59:59+00:00", "2026-11-02T08:00:00+00:00"])
    timeline = catalogue.audit.timeline("acme-prod", tz="America/Los_Angeles", days=5)
    assert day_counts(timeline) == {date(2026, 10, 31): 1, date(2026, 11, 1): 2,
                                    date(2026, 11, 2): 1}


def test_timeline_has_every_day_and_category_with_zero_fill(catalogue, clock):
    events_at(catalogue, clock, ["2026-03-08T10:00:00+00:00"])
    at(clock, "2026-03-08T11:00:00+00:00")
    catalogue.usage.get_value("acme-prod", "m-sum")
    catalogue.usage.report("acme-prod", "m-sum", 1000)  # rejected
    at(clock, "2026-03-10T12:00:00+00:00")
    timeline = catalogue.audit.timeline("acme-prod", days=7)
    assert list(timeline.columns) == ["day", "category", "events"]
    assert len(timeline) == 21
    assert timeline["day"].iloc[-1] == date(2026, 3, 10)
    assert timeline["day"].iloc[0] == date(2026, 3, 4)
    assert list(timeline["category"][:3]) == ["Read", "Accepted", "Rejected"]
    march_8 = timeline[timeline["day"] == date(2026, 3, 8)].set_index("category")["events"]
    assert march_8.to_dict() == {"Read": 1, "Accepted": 1, "Rejected": 1}
    assert timeline["events"].sum() == 3


def test_timeline_entitlement_filter(catalogue, clock):
    events_at(catalogue, clock, ["2026-03-10T01:00:00+00:00"], "m-sum")
    events_at(catalogue, clock, ["2026-03-10T02:00:00+00:00"] * 2, "seats")
    assert catalogue.audit.timeline("acme-prod", entitlement="seats", days=1)[
        "events"].sum() == 2
    assert catalogue.audit.timeline("acme-prod", days=1)["events"].sum() == 3


def test_stats_count_reports_and_today_in_several_zones(catalogue, clock):
    events_at(catalogue, clock, ["2026-03-09T23:30:00+00:00", "2026-03-10T00:30:00+00:00",
                                 "2026-03-10T11:00:00+00:00"])
    at(clock, "2026-03-10T11:30:00+00:00")
    catalogue.usage.report("acme-prod", "m-sum", 1000)  # rejected, today everywhere below
    catalogue.usage.get_value("acme-prod", "seats")  # a read
    at(clock, "2026-03-10T12:00:00+00:00")
    stats = catalogue.audit.stats("acme-prod")
    assert stats == ka.AuditStats(total=5, accepted=3, rejected=1, today=4)
    # Tokyo (+09:00): local midnight was 2026-03-09T15:00Z -> all five are today
    assert catalogue.audit.stats("acme-prod", tz="Asia/Tokyo").today == 5
    # Los Angeles (PDT, -07:00): midnight at 07:00Z -> the 11:00 and 11:30 events only
    assert catalogue.audit.stats("acme-prod", tz="America/Los_Angeles").today == 3
    # Kathmandu (+05:45): midnight at 2026-03-09T18:15Z -> all five
    assert catalogue.audit.stats("acme-prod", tz="Asia/Kathmandu").today == 5
    seats = catalogue.audit.stats("acme-prod", entitlement="seats")
    assert (seats.total, seats.accepted, seats.rejected, seats.today) == (1, 0, 0, 1)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "utc+2"])
def test_unknown_time_zone_is_refused(catalogue, tz):
    with pytest.raises(ka.ValidationError) as info:
        catalogue.audit.stats("acme-prod", tz=tz)
    assert info.value.field == "tz"


@pytest.mark.parametrize("days", [0, 367, "7"])
def test_timeline_days_out_of_range_is_refused(catalogue, days):
    with pytest.raises(ka.ValidationError) as info:
        catalogue.audit.timeline("acme-prod", days=days)
    assert info.value.field == "days"


ZONES = ["UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "America/Los_Angeles",
         "America/St_Johns", "Pacific/Chatham", "Pacific/Marquesas", "Pacific/Kiritimati",
         "Australia/Lord_Howe"]


def raw_local_days(kaiten, tz):
    """Count the raw trail of acme-prod per local day and category, straight from SQL."""
    import sqlalchemy as sa

    from kaiten_analytics.config import zone
    from kaiten_analytics.events import EVENTS

    with kaiten.db.engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT t.created_at, t.event_name FROM feature_audit_trail t"
            " JOIN instances i ON i.id = t.instance_id WHERE i.slug = 'acme-prod'")).all()
    counts = {}
    for created_at, event_name in rows:
        if isinstance(created_at, str):  # SQLite returns the stored text
            created_at = datetime.fromisoformat(created_at)
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        key = (created_at.astimezone(zone(tz)).date(), EVENTS[event_name][1])
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_timeline_and_today_equal_a_raw_count_per_local_day_in_many_zones(catalogue, clock):
    # 8–13 November 2026 (after the northern autumn change, Lord Howe on +11:00) plus the
    # 1 November fall-back day in Los Angeles and St John's: events every 47 minutes or so,
    # so every local midnight in every zone has events on both sides
    catalogue.instances.update("acme-prod", license="pro")
    at(clock, "2026-10-31T20:00:00+00:00")
    rng = random.Random(5)
    while clock.now < datetime(2026, 11, 13, 18, tzinfo=UTC):
        clock.advance(minutes=rng.randint(20, 75), seconds=rng.randint(0, 59))
        kind = rng.random()
        if kind < 0.3:
            catalogue.usage.get_value("acme-prod", rng.choice(["m-sum", "seats"]))
        elif kind < 0.4:
            catalogue.usage.report("acme-prod", "m-sum", 1000)  # rejected
        else:
            catalogue.usage.report("acme-prod", rng.choice(["m-latest", "seats"]),
                                   rng.randint(0, 50))
    for tz in ZONES:
        timeline = catalogue.audit.timeline("acme-prod", tz=tz, days=16)
        expected = raw_local_days(catalogue, tz)
        got = {(d, c): int(n) for d, c, n in timeline.itertuples(index=False) if n}
        in_range = {key: n for key, n in expected.items() if key[0] >= timeline["day"].iloc[0]}
        assert got == in_range, tz
        today = timeline["day"].iloc[-1]
        stats = catalogue.audit.stats("acme-prod", tz=tz)
        assert stats.today == sum(n for (d, _), n in expected.items() if d == today), tz
    seats = catalogue.audit.timeline("acme-prod", entitlement="seats", tz="Asia/Kolkata",
                                     days=16)
    assert 0 < seats["events"].sum() < timeline["events"].sum()
