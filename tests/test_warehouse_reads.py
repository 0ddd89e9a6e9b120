"""Reads from the warehouse: every ``kaiten.audit.*`` and ``kaiten.fleet.*`` answer from
ClickHouse (the embedded chDB engine) equals the answer of PostgreSQL and of SQLite.

One seeded random history is written into a SQLite and a PostgreSQL database (several
instances, every aggregation method, rejections, reads, crossings of a threshold, a deleted
instance), each is synced into its own warehouse database, and every answer is compared three
ways: warehouse = its system of record, and SQLite = PostgreSQL. Local days are checked in
UTC, Asia/Kathmandu (+05:45), America/New_York and Europe/Berlin, whose DST changes
(2026-03-08 and 2026-03-29) fall inside the history.
"""

from __future__ import annotations

import random
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from conftest import FakeClock, fresh_database_url

import kaiten_analytics as ka

START = datetime(2026, 2, 20, 9, 7, 13, 250_000, tzinfo=UTC)
END = datetime(2026, 4, 3, 18, 30, tzinfo=UTC)
ZONES = ("UTC", "Asia/Kathmandu", "America/New_York", "Europe/Berlin")
METHODS = ("SUM", "COUNT", "AVERAGE", "MAX", "MIN", "LATEST")
INSTANCES = ("acme-prod", "acme-dev", "globex-eu", "initech")


def _catalogue(kaiten: ka.Kaiten) -> None:
    kaiten.customers.create("acme", "Acme")
    kaiten.customers.create("globex", "Globex")
    kaiten.customers.create("initech", "Initech")
    kaiten.zones.create("eu", "EU")
    kaiten.zones.create("us", "US")
    for method in METHODS:
        kaiten.entitlements.create(f"m-{method.lower()}", f"Metric {method}",
                                   aggregation_method=method)
    kaiten.entitlements.create("sso", "SSO", type="BOOLEAN")
    kaiten.entitlements.create("edition", "Edition", type="STRING")
    limits = {"m-sum": 900, "m-count": 40, "m-average": 8, "m-max": 9, "m-min": 2,
              "m-latest": 9}
    kaiten.licenses.create("pro", "Pro", {**limits, "sso": True, "edition": "Édition Première"})
    kaiten.licenses.create("open", "Open", {"m-sum": None, "m-max": 12, "m-latest": None})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro", deployment_zone="eu",
                            license_start="2026-01-01", license_end="2026-12-31")
    kaiten.instances.create("acme", "Dev", "acme-dev", "open", deployment_zone="us")
    kaiten.instances.create("globex", "EU", "globex-eu", "pro", deployment_zone="eu",
                            license_start="2026-02-01", license_end="2026-06-30")
    kaiten.instances.create("initech", "Main", "initech", "pro")


def _history(kaiten: ka.Kaiten, clock: FakeClock, seed: int = 17) -> None:
    """Write the same seeded history into any database (every call at a distinct instant)."""
    rng = random.Random(seed)
    entitled = {"acme-prod": [f"m-{m.lower()}" for m in METHODS], "acme-dev":
                ["m-sum", "m-max", "m-latest"]}
    entitled["globex-eu"] = entitled["initech"] = entitled["acme-prod"]
    clock.set(START)
    kaiten.usage.get_value("acme-prod", "edition")  # non-ASCII payload text, for the search
    while clock.now < END:
        # bursts in some quarter-hours, quiet days elsewhere; some seconds land on midnights
        clock.advance(seconds=rng.choice((1, 7, 40, 300, 900, 1800, 3600, 4 * 3600)))
        if clock.now >= END:
            break
        instance = rng.choice(INSTANCES[:3] if clock.now.day % 5 else INSTANCES)
        entitlement = rng.choice(entitled[instance])
        # read and never reported; not reported since 20 March: the silent-metering cases
        only_read = (instance, entitlement) == ("acme-dev", "m-latest") or (
            (instance, entitlement) == ("acme-prod", "m-min") and clock.now.day > 20
            and clock.now.month == 3)
        if only_read or rng.random() < 0.2:
            kaiten.usage.get_value(instance, entitlement)
        else:
            value = rng.choice((0, 1, 2, 3, 5, 8, 9, 9, 12, 40, 2.5))
            kaiten.usage.report(instance, entitlement, value)
    kaiten.instances.delete("initech")  # its trail stays queryable; the fleet drops it


def _plain(answer):
    if is_dataclass(answer):
        return asdict(answer)
    return answer


def _same(left, right, what: str, drop_ids: bool = False) -> None:
    left, right = _plain(left), _plain(right)
    if isinstance(left, pd.DataFrame):
        if drop_ids and "id" in left.columns:
            left, right = left.drop(columns="id"), right.drop(columns="id")
        pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=1e-9, obj=what)
    else:
        assert left == right, what


def _questions(kaiten: ka.Kaiten, full: bool = True) -> list[tuple[str, object]]:
    """Every audit and fleet question the test asks, as (label, thunk).

    ``full=False``: only those whose answer depends on the clock (stats, timeline, fleet).
    """
    questions = []
    odd_after = datetime(2026, 3, 1, 10, 7, 31, tzinfo=UTC)  # inside a quarter-hour
    odd_before = datetime(2026, 3, 19, 23, 52, 2, 500_000, tzinfo=UTC)
    for instance in INSTANCES:
        for entitlement in (None, "m-max"):
            for tz in ZONES:
                questions.append((f"stats {instance} {entitlement} {tz}", lambda i=instance,
                                  e=entitlement, z=tz: kaiten.audit.stats(i, e, tz=z)))
                questions.append((f"timeline {instance} {entitlement} {tz}",
                                  lambda i=instance, e=entitlement, z=tz:
                                  kaiten.audit.timeline(i, e, tz=z, days=50)))
        if not full:
            continue
        filters = [{}, {"entitlement": "m-sum"}, {"status": "REJECTED"},
                   {"event_name": "kaiten.v1.entitlement.value.get"},
                   {"after": odd_after}, {"before": odd_before},
                   {"after": odd_after, "before": odd_before, "entitlement": "m-max"},
                   {"after": "2026-03-08T05:00:00Z", "before": "2026-03-08T05:10:00Z"},
                   {"after": "2026-03-02T00:00:00Z", "before": "2026-03-30T00:00:00Z",
                    "status": "ACCEPTED"},
                   {"search": "rejected"}, {"search": "M-AVER"}, {"search": '"value": 9'},
                   {"search": "50%_"}, {"search": "Première"}]
        for f in filters:
            questions.append((f"count {instance} {f}",
                              lambda i=instance, f=f: kaiten.audit.count(i, **f)))
            questions.append((f"events {instance} {f}",
                              lambda i=instance, f=f: kaiten.audit.events(i, limit=37, **f)))
        questions.append((f"events page 3 {instance}",
                          lambda i=instance: kaiten.audit.events(i, limit=50, offset=100)))
        questions.append((f"trail {instance}", lambda i=instance: kaiten.audit.trail(
            i, event_name="kaiten.v1.entitlement.usage.report.accepted", limit=200)))
        questions.append((f"trail records {instance}", lambda i=instance: [
            {key: value for key, value in record.items() if key != "id"}  # ids differ by engine
            for record in kaiten.audit.trail_records(i, limit=200)]))
        for entitlement in ("m-sum", "m-max", "m-latest", "m-average", "m-min"):
            for points in (None, 12) if entitlement != "m-max" else (None, 12, 2000):
                questions.append((f"value_over_time {instance} {entitlement} {points}",
                                  lambda i=instance, e=entitlement, p=points:
                                  kaiten.audit.value_over_time(i, e, max_points=p)))
    fleet = kaiten.fleet
    for filters in ({}, {"customer": "acme"}, {"license": "pro"}, {"zone": "eu"},
                    {"zone": ka.NO_ZONE}):
        questions += [
            (f"consumption {filters}", lambda f=filters: fleet.consumption(**f)),
            (f"nearing {filters}", lambda f=filters: fleet.nearing_limits(50, **f)),
            (f"blocked {filters}", lambda f=filters: fleet.blocked_demand(20, **f)),
            (f"blocked all {filters}", lambda f=filters: fleet.blocked_demand(3000, **f)),
            (f"silent {filters}", lambda f=filters: fleet.silent_metering(2, **f)),
            (f"burn {filters}", lambda f=filters: fleet.burn_down(**f)),
            (f"forecast {filters}", lambda f=filters: fleet.forecast(14, **f)),
            (f"bands {filters}", lambda f=filters: fleet.utilisation_bands(**f)),
        ]
    return questions


def _answers(kaiten: ka.Kaiten, full: bool = True) -> dict[str, object]:
    return {label: ask() for label, ask in _questions(kaiten, full)}


def _compare(expected: dict, actual: dict, source: str, drop_ids: bool = False) -> None:
    assert expected.keys() == actual.keys()
    for label, answer in expected.items():
        _same(actual[label], answer, f"{source}: {label}", drop_ids=drop_ids)


@pytest.fixture(scope="module")
def histories(tmp_path_factory):
    """{engine: (system-of-record handle, warehouse handle)} with the same synced history."""
    pytest.importorskip("clickhouse_connect", reason="the warehouse extra is not installed")
    chdb_path = tmp_path_factory.getbasetemp() / "chdb"
    handles, cleanups = {}, []
    for engine in ("sqlite", "postgresql"):
        url, cleanup = fresh_database_url(engine, tmp_path_factory.mktemp(engine))
        cleanups.append(cleanup)
        clock = FakeClock(START)
        kaiten = ka.connect(url, clock=clock)
        _catalogue(kaiten)
        _history(kaiten, clock)
        warehouse_url = f"chdb://{chdb_path}?database=parity_{engine}_{id(kaiten)}"
        mirrored = ka.connect(url, clock=clock, warehouse_url=warehouse_url)
        mirrored.warehouse.sync(batch_rows=700)
        handles[engine] = (kaiten, mirrored, clock)
    yield handles
    for kaiten, mirrored, _ in handles.values():
        mirrored.db.warehouse.command("DROP DATABASE IF EXISTS {db}")
        mirrored.close()
        kaiten.close()
    for cleanup in cleanups:
        cleanup()


def test_the_history_has_what_the_parity_needs(histories):
    kaiten = histories["sqlite"][0]
    stats = kaiten.audit.stats("acme-prod")
    assert stats.rejected > 20 and stats.accepted > 150 and stats.total > stats.accepted + 50
    crossings = kaiten.audit.value_over_time("acme-prod", "m-max")["crossing"]
    assert crossings.any()
    assert not kaiten.fleet.blocked_demand(3000).empty
    assert not kaiten.fleet.silent_metering(2).empty
    assert set(kaiten.fleet.forecast(14)["reason"]) >= {"forecast", "at limit"}
    assert kaiten.audit.count("acme-prod", search="50%_").count == 0
    assert kaiten.audit.count("acme-prod", search="Première").count == 1


def test_every_answer_from_the_warehouse_equals_postgresql_and_sqlite(histories):
    sqlite_answers = None
    for engine, (kaiten, mirrored, clock) in histories.items():
        for now in (END + timedelta(hours=1), datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
                    datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC)):
            clock.set(now)  # "today" on a DST day, and shortly after the history
            full = now > END
            expected = _answers(kaiten, full)
            _compare(expected, _answers(mirrored, full), f"warehouse vs {engine} at {now}")
            if full:
                if sqlite_answers is None:
                    sqlite_answers = expected
                else:
                    _compare(sqlite_answers, expected, "postgresql vs sqlite", drop_ids=True)
    assert sqlite_answers is not None


def test_a_re_sent_history_changes_no_answer_and_unsynced_events_wait_for_the_sync(histories):
    kaiten, mirrored, clock = histories["sqlite"]
    clock.set(END + timedelta(hours=2))
    mirrored.warehouse.sync(batch_rows=500, from_start=True)  # every batch sent again
    before = mirrored.audit.stats("acme-prod", tz="Asia/Kathmandu")
    assert before == kaiten.audit.stats("acme-prod", tz="Asia/Kathmandu")
    assert mirrored.warehouse.verify().empty
    # the warehouse answers as of its last sync: a new report shows after the next one
    clock.advance(minutes=3)
    kaiten.usage.report("acme-prod", "m-count", 1)
    assert mirrored.audit.stats("acme-prod", tz="Asia/Kathmandu") == before
    assert mirrored.audit.count("acme-prod").count == before.total
    assert mirrored.warehouse.sync().events == 1
    after = mirrored.audit.stats("acme-prod", tz="Asia/Kathmandu")
    assert after.total == before.total + 1 and after.today == before.today + 1
    assert after == kaiten.audit.stats("acme-prod", tz="Asia/Kathmandu")
    _same(mirrored.fleet.consumption(), kaiten.fleet.consumption(), "consumption")


def test_reads_from_the_warehouse_raise_the_same_errors(histories):
    kaiten, mirrored, _ = histories["postgresql"]
    for handle in (kaiten, mirrored):
        with pytest.raises(ka.NotFoundError):
            handle.audit.stats("nope")
        with pytest.raises(ka.NotFoundError):
            handle.audit.events("acme-prod", entitlement="nope")
        with pytest.raises(ka.NotFoundError):
            handle.audit.count("nope", search="x")
        with pytest.raises(ka.ValidationError):
            handle.audit.value_over_time("acme-prod", "sso")
        with pytest.raises(ka.ValidationError):
            handle.audit.timeline("acme-prod", tz="Mars/Olympus")
        with pytest.raises(ka.NotFoundError):
            handle.fleet.consumption(customer="nope")
