"""Concurrent reporters: 8 OS processes, one connection each, released together.

A second run sends policy reports (a monthly period, a soft limit, warning levels) while the
clock the 8 processes share crosses a month boundary: per period, the same chain holds, and
REACHED, each WARNING level and RECOVERED are written exactly as often as a replay says.

Afterwards, for every aggregation method: accepted + rejected = sent; the accepted audit rows
form one unbroken chain (event_count 1..n, each report's "before" is the previous "after");
replaying them gives the stored aggregate; the threshold was never passed; REACHED events
match the replay. One idempotency key sent by all 8 has exactly one effect.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from concurrency_worker import hammer, hammer_across_a_boundary

from kaiten_analytics.db.engine import SQLITE_BUSY_TIMEOUT
from kaiten_analytics.db.models import entitlements, feature_audit_trail, outbox_events
from kaiten_analytics.service.aggregation import apply_report

WORKERS = 8
PER_ENTITLEMENT = 30
THRESHOLDS = {"c-sum": 250, "c-count": 150, "c-average": 55, "c-max": 900}
METHODS = {"c-sum": "SUM", "c-count": "COUNT", "c-average": "AVERAGE", "c-max": "MAX"}


def _plan(worker: int) -> list[tuple[str, float]]:
    plan = []
    for i in range(PER_ENTITLEMENT):
        plan.append(("c-sum", 1 + (i + worker) % 3))
        plan.append(("c-count", 7))
        plan.append(("c-average", (i * 37 + worker * 11) % 100))
        plan.append(("c-max", 900 if (i, worker) == (PER_ENTITLEMENT - 1, 3)
                     else (i * 53 + worker * 7) % 1000))
    return plan


@pytest.fixture
def hammered(kaiten, database_url):
    k = kaiten
    k.customers.create("fleet", "Fleet")
    for slug, method in METHODS.items():
        k.entitlements.create(slug, slug, aggregation_method=method)
    k.entitlements.create("c-keyed", "keyed", aggregation_method="SUM")
    k.licenses.create("hammer", "Hammer", {**THRESHOLDS, "c-keyed": None})
    k.instances.create("fleet", "Fleet 1", "fleet-1", "hammer")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=hammer, args=(database_url, w, barrier, _plan(w), "c-keyed",
                                             results))
        for w in range(WORKERS)
    ]
    for process in processes:
        process.start()
    collected = []
    try:
        for _ in range(WORKERS):
            collected.append(results.get(timeout=240))
    except queue.Empty:
        pytest.fail("a reporter process did not finish in time")
    finally:
        for process in processes:
            process.join(timeout=30)
    assert all(process.exitcode == 0 for process in processes)
    return k, collected


def _accepted_chain(kaiten, entitlement: str) -> list[dict]:
    t = feature_audit_trail
    with kaiten.db.engine.connect() as connection:
        payloads = connection.execute(
            sa.select(t.c.payload).join(entitlements, entitlements.c.id == t.c.entitlement_id)
            .where(entitlements.c.slug == entitlement)
            .where(t.c.event_name == "kaiten.v1.entitlement.usage.report.accepted")
        ).scalars().all()
    return sorted(payloads, key=lambda p: p["event_count"])


def test_concurrent_reports_are_neither_lost_nor_double_counted(hammered):
    """(One run per engine checks both the reports and the shared idempotency key.)"""
    kaiten, collected = hammered
    sent = {slug: WORKERS * PER_ENTITLEMENT for slug in METHODS}
    summary = kaiten.usage.summary("fleet-1").set_index("entitlement")
    for slug, method in METHODS.items():
        statuses = [s for _, worker_statuses, _ in collected for e, s in worker_statuses
                    if e == slug]
        accepted = statuses.count("ACCEPTED")
        assert accepted + statuses.count("REJECTED") == sent[slug]
        chain = _accepted_chain(kaiten, slug)
        assert [p["event_count"] for p in chain] == list(range(1, accepted + 1)), slug
        for previous, current in itertools.pairwise(chain):
            assert current["aggregate_before"] == previous["aggregate_after"], slug
        aggregate, count, reached = None, 0, 0
        for payload in chain:
            outcome = apply_report(method, aggregate, count, payload["value"],
                                   THRESHOLDS[slug])
            assert outcome.accepted
            aggregate, count = outcome.after, outcome.event_count
            reached += outcome.reached
            assert aggregate <= THRESHOLDS[slug]
        assert summary.loc[slug, "usage"] == pytest.approx(aggregate)
        assert summary.loc[slug, "event_count"] == accepted
        with kaiten.db.engine.connect() as connection:
            reached_events = connection.execute(
                sa.select(sa.func.count()).where(
                    outbox_events.c.event_type == "INSTANCE_ENTITLEMENT_USAGE_REACHED",
                    outbox_events.c.payload["entitlement"].as_string() == slug)
            ).scalar()
        assert reached_events == reached, slug
        if method in ("SUM", "COUNT", "MAX"):
            assert reached == 1, slug  # monotonic aggregates reach their threshold once
    # the same run also sent one idempotency key from all 8 processes: one effect
    assert len({event_id for _, _, event_id in collected}) == 1
    keyed = kaiten.usage.summary("fleet-1").set_index("entitlement").loc["c-keyed"]
    assert (keyed["usage"], keyed["event_count"]) == (1.0, 1)
    assert kaiten.audit.count("fleet-1", entitlement="c-keyed").count == 1


def test_a_writer_still_locked_out_gets_sqlalchemys_operational_error_sqlite_only(kaiten):
    blocker = sqlite3.connect(kaiten.db.engine.url.database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with kaiten.db.engine.connect() as connection:
            driver = connection.connection.driver_connection
            driver.execute("PRAGMA busy_timeout=50")  # instead of a minute
            try:
                with pytest.raises(sa.exc.OperationalError, match="database is locked"):
                    connection.begin()
            finally:
                driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_a_read_does_not_take_the_write_lock_sqlite_only(catalogue):
    """Readers never wait on writers and writers never wait on an open read (WAL)."""
    with catalogue.db.read() as reading:
        reading.execute(sa.select(entitlements.c.slug)).all()
        writer = sqlite3.connect(catalogue.db.engine.url.database, isolation_level=None,
                                 timeout=0.05)
        try:
            writer.execute("BEGIN IMMEDIATE")  # "database is locked" if the read held it
            writer.execute("ROLLBACK")
        finally:
            writer.close()
        report = catalogue.usage.report("acme-prod", "m-sum", 5)  # the library's own writer
        assert report.accepted


# --- across a period boundary ------------------------------------------------------------------
POLICIES = {
    "p-sum": ("SUM", {"threshold": 100, "period": "month", "overage_percent": 20,
                      "warn_at": [50, 80]}),
    "p-count": ("COUNT", {"threshold": 60, "period": "month", "warn_at": [50]}),
    "p-max": ("MAX", {"threshold": 900, "period": "month", "warn_at": [50, 90]}),
    "p-latest": ("LATEST", {"threshold": 50, "period": "month", "overage_percent": 10,
                            "warn_at": [80]}),
}
BOUNDARY = datetime(2026, 4, 1, tzinfo=UTC)


PER_POLICY = 20


def _policy_plan(worker: int) -> list[tuple[str, float]]:
    plan = []
    for i in range(PER_POLICY):
        plan.append(("p-sum", 1 + (i + worker) % 3))
        plan.append(("p-count", 7))
        plan.append(("p-max", (i * 53 + worker * 7) % 1000))
        plan.append(("p-latest", (i * 31 + worker * 17) % 60))
    return plan


def _replay_period(method, policy, chain, previous_end):
    """The events a period's accepted chain must have written, by the rules (independently)."""
    threshold, levels = policy["threshold"], policy.get("warn_at", [])
    limit = threshold * (1 + policy.get("overage_percent", 0) / 100)
    aggregate, count, warned = None, 0, set()
    events = Counter()
    stored = previous_end
    for payload in chain:
        value = payload["value"]
        new = {"SUM": (aggregate or 0) + value, "COUNT": (aggregate or 0) + 1,
               "MAX": value if aggregate is None else max(aggregate, value),
               "LATEST": value}[method]
        assert new <= limit
        if new >= threshold and (aggregate is None or aggregate < threshold):
            events["REACHED"] += 1
        if new < threshold and stored is not None and stored >= threshold:
            events["RECOVERED"] += 1
        for level in levels:
            if level not in warned and new >= threshold * level / 100:
                warned.add(level)
                events[f"WARNING {level}"] += 1
        aggregate, count, stored = new, count + 1, new
        assert payload["aggregate_after"] == pytest.approx(aggregate)
        assert payload["event_count"] == count
    return events, aggregate


@pytest.fixture
def hammered_across_a_boundary(kaiten, database_url, clock):
    k = kaiten
    k.customers.create("fleet", "Fleet")
    for slug, (method, _) in POLICIES.items():
        k.entitlements.create(slug, slug, aggregation_method=method)
    k.licenses.create("monthly", "Monthly", {slug: p for slug, (_, p) in POLICIES.items()})
    k.instances.create("fleet", "Fleet 1", "fleet-1", "monthly")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    made = context.Value("q", 0)
    total = WORKERS * PER_POLICY * len(POLICIES)
    before = (BOUNDARY - timedelta(seconds=total)).timestamp()
    processes = [
        context.Process(target=hammer_across_a_boundary,
                        args=(database_url, w, barrier, _policy_plan(w), made, total // 2,
                              before, BOUNDARY.timestamp(), results))
        for w in range(WORKERS)
    ]
    for process in processes:
        process.start()
    collected = []
    try:
        for _ in range(WORKERS):
            collected.append(results.get(timeout=240))
    except queue.Empty:
        pytest.fail("a reporter process did not finish in time")
    finally:
        for process in processes:
            process.join(timeout=30)
    assert all(process.exitcode == 0 for process in processes)
    clock.set(BOUNDARY + timedelta(hours=1))
    return k, collected


@pytest.mark.slow
def test_reports_across_a_period_boundary_keep_every_rule_once_per_period(
        hammered_across_a_boundary):
    kaiten, collected = hammered_across_a_boundary
    summary = kaiten.usage.summary("fleet-1").set_index("entitlement")
    starts = ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
    for slug, (method, policy) in POLICIES.items():
        statuses = [s for _, worker_statuses, _ in collected for e, s in worker_statuses
                    if e == slug]
        assert len(statuses) == WORKERS * PER_POLICY
        chain = _accepted_chain_by_period(kaiten, slug)
        assert sum(len(c) for c in chain.values()) == statuses.count("ACCEPTED")
        assert set(chain) == set(starts), slug  # both periods took reports
        expected, previous_end = Counter(), None
        for start in starts:
            period_chain = chain[start]
            assert [p["event_count"] for p in period_chain] == list(
                range(1, len(period_chain) + 1)), (slug, start)
            assert period_chain[0]["aggregate_before"] is None  # a period starts from none
            for earlier, later in itertools.pairwise(period_chain):
                assert later["aggregate_before"] == earlier["aggregate_after"], slug
            events, previous_end = _replay_period(method, policy, period_chain, previous_end)
            for kind, n in events.items():
                expected[(start, kind)] = n
            if method in ("SUM", "COUNT"):  # both periods pass the threshold: once each
                assert events["REACHED"] == 1, (slug, start)
                assert all(events[f"WARNING {level}"] == 1 for level in policy["warn_at"])
            if method == "MAX":  # monotonic: at most once per period
                assert max(events.values(), default=0) <= 1, (slug, start)
        assert _limit_events(kaiten, slug) == +expected, slug
        assert summary.loc[slug, "usage"] == pytest.approx(previous_end)
        assert summary.loc[slug, "event_count"] == len(chain[starts[1]])


def _accepted_chain_by_period(kaiten, entitlement: str) -> dict[str, list[dict]]:
    by_period: dict[str, list[dict]] = {}
    for payload in _accepted_chain(kaiten, entitlement):
        by_period.setdefault(payload["period_start"], []).append(payload)
    return {start: sorted(chain, key=lambda p: p["event_count"])
            for start, chain in by_period.items()}


def _limit_events(kaiten, entitlement: str) -> Counter:
    kinds = {"INSTANCE_ENTITLEMENT_USAGE_REACHED": "REACHED",
             "INSTANCE_ENTITLEMENT_USAGE_RECOVERED": "RECOVERED",
             "INSTANCE_ENTITLEMENT_USAGE_WARNING": "WARNING"}
    with kaiten.db.engine.connect() as connection:
        rows = connection.execute(
            sa.select(outbox_events.c.event_type, outbox_events.c.payload)
            .where(outbox_events.c.event_type.in_(kinds))).all()
    counted = Counter()
    for event_type, payload in rows:
        if payload["entitlement"] != entitlement:
            continue
        kind = kinds[event_type]
        if kind == "WARNING":
            kind = f"WARNING {payload['percent']}"
        counted[(payload["period_start"], kind)] += 1
    return counted
