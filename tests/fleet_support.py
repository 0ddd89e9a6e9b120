"""The small hand-built fleet whose fleet-view answers are known (library and console tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import kaiten_analytics as ka

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def build_known_fleet(k: ka.Kaiten, clock) -> ka.Kaiten:
    """Add reports with known answers to the ``catalogue`` fixture's database; end at NOW.

    globex-trend (starter, us-prod, dated term): +10 API calls a day for ten days up to
    yesterday (a known slope); globex-dev: one API-calls report ten days ago (silent), seats 1
    then a rejected 10; acme-prod (pro, eu-prod): seats at 90 %, m-sum at its limit plus three
    rejected reports, m-max read only.
    """
    k.instances.create("globex", "Trend", "globex-trend", "starter", deployment_zone="us-prod",
                       license_start="2026-01-01", license_end="2026-12-31")
    for n in range(10):
        clock.set(NOW - timedelta(days=10 - n))
        k.usage.report("globex-trend", "api-calls", 10)
    clock.set(NOW - timedelta(days=10))
    k.usage.report("globex-dev", "api-calls", 5)
    clock.set(NOW - timedelta(hours=2))
    k.usage.report("acme-prod", "seats", 45)  # 90 % of 50: nearing
    k.usage.report("acme-prod", "m-sum", 100)  # at its limit
    for _ in range(3):
        k.usage.report("acme-prod", "m-sum", 5)  # blocked demand
    k.usage.report("globex-dev", "seats", 1)  # 20 % of 5
    k.usage.report("globex-dev", "seats", 10)  # rejected (MAX 10 > 5)
    k.usage.get_value("acme-prod", "m-max")  # read, never reported
    clock.set(NOW)
    return k
