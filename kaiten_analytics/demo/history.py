"""A realistic usage history for the demo fleet, written through the metering ledger.

Every event goes through the same rules and writes as a live report
(:func:`kaiten_analytics.service.usage.apply_in_ledger`), so usage rows, the audit trail and
its rollups agree by construction; only the batching differs (one transaction per instance
chunk, PostgreSQL audit rows by COPY).

The shape: event times follow a weekly cycle (weekends quieter), a working-hours daily
cycle and growth over the period; about a quarter of the events are reads between reports;
each instance gets a "pressure" that sizes its reports against its limits, so some instances
run into their thresholds part-way and collect bursts of rejections.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from tqdm import tqdm

from kaiten_analytics.db.database import Database
from kaiten_analytics.db.usage_json import encode_usage
from kaiten_analytics.demo.catalogue import LICENSES, DemoInstance
from kaiten_analytics.policy import policy_of
from kaiten_analytics.service.ledger import Ledger
from kaiten_analytics.service.usage import apply_in_ledger, record_read

CHUNK = 20_000  # events per transaction
READ_SHARE = 0.25
# nominal scale for entitlements without a limit, and the shape of each report's value
NOMINAL = {"seats": 200, "api-calls": 1_000_000, "storage-gb": 1_000, "exports": 1_000,
           "avg-latency-ms": 300, "min-replicas": 5}
WEIGHTS = {"api-calls": 6, "seats": 2, "storage-gb": 1, "exports": 2, "avg-latency-ms": 2,
           "min-replicas": 1}
HOURLY = np.array([2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 10, 11, 12, 12, 11, 9, 7, 5, 4, 3,
                   3, 2], dtype=float)


@dataclass(frozen=True)
class _Plan:
    instance: str
    events: int
    pressure: float


def _times(rng: np.random.Generator, count: int, start: datetime, days: int) -> np.ndarray:
    """Return ``count`` sorted event times (epoch seconds) between start and start + days."""
    day_index = np.arange(days)
    weekday = np.array([(start + timedelta(days=int(d))).weekday() for d in day_index])
    weights = np.where(weekday >= 5, 0.4, 1.0) * (1.0 + 0.6 * day_index / max(days - 1, 1))
    chosen_days = rng.choice(days, size=count, p=weights / weights.sum())
    hours = rng.choice(24, size=count, p=HOURLY / HOURLY.sum())
    seconds = chosen_days * 86_400 + hours * 3_600 + rng.integers(0, 3_600, size=count)
    return np.sort(start.timestamp() + seconds)


# roughly how many days a policy's period lasts, to size the reports of one period
PERIOD_DAYS = {"day": 1, "week": 7, "month": 30.4, "year": 365.25}


def _value(entitlement: str, threshold: float | None, reports: float, pressure: float,
           progress: float, rng: random.Random) -> float:
    """One report's value: sized so that ``pressure`` > 1 reaches the limit part-way
    (``reports``: those expected while the limit lasts — the history, or one period)."""
    limit = threshold if threshold is not None else NOMINAL[entitlement]
    if entitlement == "api-calls":  # SUM: spread the allowance over the expected reports
        return max(1, round(limit * pressure / max(reports, 1) * rng.uniform(0.3, 1.7)))
    if entitlement == "seats":  # MAX: the seat count climbs with the period
        return max(1, round(limit * pressure * (0.4 + 0.6 * progress) * rng.uniform(0.8, 1.05)))
    if entitlement == "storage-gb":  # LATEST: grows with noise
        return round(limit * pressure * (0.3 + 0.7 * progress) * rng.uniform(0.9, 1.1), 1)
    if entitlement == "exports":  # COUNT: the value is recorded, each report counts one
        return rng.randint(1, 50)
    if entitlement == "avg-latency-ms":  # AVERAGE
        return round(limit * rng.uniform(0.3, 0.9 + 0.2 * pressure), 1)
    return rng.randint(1, 5)  # min-replicas: MIN


def _number_entitlements(license_slug: str) -> dict[str, tuple[float | None, str | None]]:
    """The license's metered entitlements: slug → (threshold or None, period or None)."""
    values = LICENSES[license_slug][1]
    limits = {}
    for slug in WEIGHTS:
        if slug in values:
            policy = policy_of(values[slug])
            limits[slug] = (None, None) if policy is None else (policy.threshold, policy.period)
    return limits


def _plans(fleet: list[DemoInstance], events: int, big: tuple[str, int] | None,
           rng: random.Random) -> list[_Plan]:
    total_weight = sum(i.weight for i in fleet) or 1.0
    plans = [_Plan(i.slug, int(events * i.weight / total_weight), rng.uniform(0.3, 1.5))
             for i in fleet]
    if big is not None:
        plans.append(_Plan(big[0], big[1], 1.3))
    return plans


def write_history(db: Database, fleet: list[DemoInstance], events: int, days: int,
                  seed: int = 7, big: tuple[str, int] | None = None,
                  progress: bool = True) -> int:
    """Write about ``events`` events over the last ``days`` days; return how many were written.

    ``big`` is an extra (instance slug, events) written the same way, for a
    database with one instance of a million events.
    """
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    now = db.now()
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    licenses = {i.slug: i.license for i in fleet}
    if big is not None:
        licenses[big[0]] = "enterprise"
    plans = _plans(fleet, events, big, rng)
    written = 0
    with tqdm(total=sum(p.events for p in plans), unit="ev", disable=not progress,
              desc="history", mininterval=0.5) as bar:
        for plan in plans:
            entitlements = _number_entitlements(licenses[plan.instance])
            times = _times(np_rng, plan.events, start, days)
            times = times[times <= now.timestamp()]
            for chunk in _chunks(times):
                written += _write_chunk(db, plan, entitlements, chunk, start, days, rng)
                bar.update(len(chunk))
    return written


def _chunks(times: np.ndarray) -> Iterator[np.ndarray]:
    for begin in range(0, len(times), CHUNK):
        yield times[begin:begin + CHUNK]


def _write_chunk(db: Database, plan: _Plan,
                 entitlements: dict[str, tuple[float | None, str | None]],
                 times: np.ndarray, start: datetime, days: int, rng: random.Random) -> int:
    slugs = list(entitlements)
    weights = [WEIGHTS[s] for s in slugs]
    expected = {s: plan.events * (1 - READ_SHARE) * WEIGHTS[s] / sum(weights)
                   * min(1.0, PERIOD_DAYS.get(entitlements[s][1], days) / days)
                for s in slugs}
    span = days * 86_400
    with db.transaction() as connection:
        ledger = Ledger(connection)
        targets = {s: ledger.resolve(plan.instance, s) for s in slugs}
        ledger.lock_many(list(targets.values()))
        # draw the whole chunk's choices at once (per-event random.choices was a hot spot)
        picks = rng.choices(range(len(slugs)), weights, k=len(times))
        reads = [rng.random() < READ_SHARE for _ in range(len(times))]
        for seconds, pick, is_read in zip(times.tolist(), picks, reads, strict=True):
            at = datetime.fromtimestamp(seconds, UTC)
            slug = slugs[pick]
            target = targets[slug]
            if is_read:
                aggregate, count = ledger.lock_usage(target)
                record_read(ledger, target, at, encode_usage(aggregate, count))
                continue
            progress = (seconds - start.timestamp()) / span
            value = _value(slug, entitlements[slug][0], expected[slug], plan.pressure,
                           progress, rng)
            apply_in_ledger(ledger, target, value, at)
        ledger.flush()
    return len(times)
