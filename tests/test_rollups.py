"""The rollups always equal a raw GROUP BY of the audit trail."""

from __future__ import annotations

import random
from datetime import timedelta


def test_rollups_equal_a_raw_group_by_after_random_reports(catalogue, clock):
    rng = random.Random(1234)
    entitlements = ["m-sum", "m-count", "m-average", "m-max", "m-min", "m-latest", "seats"]
    for _ in range(300):
        clock.advance(seconds=rng.randint(0, 3 * 3600))
        instance = rng.choice(["acme-prod", "acme-prod", "globex-dev"])
        choice = rng.random()
        if instance == "globex-dev":
            if choice < 0.3:
                catalogue.usage.get_value(instance, "seats")
            else:
                catalogue.usage.report(instance, "seats", rng.randint(0, 8))
        elif choice < 0.2:
            catalogue.usage.get_value(instance, rng.choice(entitlements))
        elif choice < 0.3:
            catalogue.usage.report_many([(instance, rng.choice(entitlements),
                                          rng.uniform(-5, 60)) for _ in range(5)])
        else:
            catalogue.usage.report(instance, rng.choice(entitlements), rng.uniform(-5, 60))
    assert catalogue.audit.rollup_mismatches().empty
    assert catalogue.audit.rollup_mismatches("acme-prod").empty
    stats = catalogue.audit.stats("acme-prod")
    assert stats.total == catalogue.audit.count("acme-prod").count
    assert stats.total == catalogue.audit.count("acme-prod", search="acme-prod").count
    timeline = catalogue.audit.timeline("acme-prod", days=60)
    span = (clock.now - timedelta(days=59)).date()
    assert timeline["day"].iloc[0] == span
    assert timeline["events"].sum() <= stats.total


def test_the_check_finds_a_rollup_that_disagrees(catalogue):
    catalogue.usage.report("acme-prod", "m-sum", 1)
    from kaiten_analytics.db.models import audit_rollup_15m

    with catalogue.db.engine.begin() as connection:
        connection.execute(audit_rollup_15m.update().values(accepted=audit_rollup_15m.c.accepted
                                                            + 1))
    mismatches = catalogue.audit.rollup_mismatches()
    assert list(mismatches["table"]) == ["audit_rollup_15m"]
    assert (mismatches["rollup"].iloc[0], mismatches["raw"].iloc[0]) == (2, 1)
