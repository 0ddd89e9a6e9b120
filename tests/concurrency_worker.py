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
