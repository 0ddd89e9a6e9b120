"""A usage reporter run in its own OS process by test_concurrency.py (importable by spawn)."""

from __future__ import annotations

import kaiten_analytics as ka


def hammer(url: str, worker: int, barrier, plan: list[tuple[str, float]], key_entitlement: str,
           results) -> None:
    """Wait for every worker, then send ``plan`` and one shared idempotency-keyed report."""
    kaiten = ka.connect(url, migrate=False)
    barrier.wait()
    statuses = []
    for entitlement, value in plan:
        statuses.append((entitlement, kaiten.usage.report("fleet-1", entitlement, value).status))
    shared = kaiten.usage.report("fleet-1", key_entitlement, 1, idempotency_key="the-one-key")
    results.put((worker, statuses, shared.event_id))
    kaiten.close()


def hammer_across_a_boundary(url: str, worker: int, barrier, plan: list[tuple[str, float]],
                             reports_made, switch_at: int, before: float, after: float,
                             results) -> None:
    """Send ``plan`` while the clock crosses a period boundary.

    Every worker's clock reads the shared count of reports made so far: before ``switch_at``
    reports it says ``before`` (+ 1 ms per report), from then on ``after`` (+ 1 ms per report).
    The count only grows, so the clock never goes back in any process.
    """
    from datetime import UTC, datetime

    def clock() -> datetime:
        made = reports_made.value
        return datetime.fromtimestamp((before if made < switch_at else after) + made / 1000,
                                      UTC)

    kaiten = ka.connect(url, clock=clock, migrate=False)
    barrier.wait()
    statuses = []
    for entitlement, value in plan:
        statuses.append((entitlement, kaiten.usage.report("fleet-1", entitlement, value).status))
        with reports_made.get_lock():
            reports_made.value += 1
    results.put((worker, statuses, None))
    kaiten.close()
