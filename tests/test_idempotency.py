"""Idempotency keys: a retry returns the first outcome and writes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import table_counts

import kaiten_analytics as ka
from kaiten_analytics.db.models import idempotency_keys


def test_retry_returns_the_first_outcome_and_writes_nothing(catalogue):
    first = catalogue.usage.report("acme-prod", "m-sum", 70, idempotency_key="req-1")
    before = table_counts(catalogue)
    again = catalogue.usage.report("acme-prod", "m-sum", 70, idempotency_key="req-1")
    assert again == first
    assert (first.replayed, again.replayed) == (False, True)
    assert table_counts(catalogue) == before


def test_retry_of_a_rejected_report_returns_the_rejection(catalogue):
    catalogue.usage.report("acme-prod", "m-sum", 90)
    first = catalogue.usage.report("acme-prod", "m-sum", 20, idempotency_key="req-2")
    assert first.status == "REJECTED"
    assert catalogue.usage.report("acme-prod", "m-sum", 20, idempotency_key="req-2") == first


@pytest.mark.parametrize(
    ("instance", "entitlement", "value"),
    [("acme-prod", "m-sum", 71), ("acme-prod", "m-max", 70), ("globex-dev", "seats", 70)],
)
def test_same_key_with_a_different_request_is_a_conflict(catalogue, instance, entitlement,
                                                         value):
    catalogue.usage.report("acme-prod", "m-sum", 70, idempotency_key="req-3")
    before = table_counts(catalogue)
    with pytest.raises(ka.ConflictError) as info:
        catalogue.usage.report(instance, entitlement, value, idempotency_key="req-3")
    assert info.value.field == "idempotency_key"
    assert table_counts(catalogue) == before


def test_a_failed_report_does_not_store_its_key(catalogue):
    catalogue.instances.delete("globex-dev")
    with pytest.raises(ka.NotFoundError):
        catalogue.usage.report("globex-dev", "seats", 1, idempotency_key="req-4")
    # the key was not swallowed: the same key now works for a valid report
    ok = catalogue.usage.report("acme-prod", "seats", 1, idempotency_key="req-4")
    assert ok.status == "ACCEPTED"


def test_same_key_twice_in_one_batch(catalogue):
    results = catalogue.usage.report_many([
        ("acme-prod", "m-sum", 5, "b-1"), ("acme-prod", "m-sum", 5, "b-1"),
    ])
    assert results[0] == results[1]
    assert (results[0].replayed, results[1].replayed) == (False, True)
    assert results[0].usage["event_count"] == 1
    with pytest.raises(ka.ConflictError):
        catalogue.usage.report_many([("acme-prod", "m-sum", 5, "b-2"),
                                     ("acme-prod", "m-sum", 6, "b-2")])


def test_keys_are_kept_seven_days_then_purged(catalogue, clock):
    first = catalogue.usage.report("acme-prod", "m-sum", 1, idempotency_key="old")
    clock.advance(days=6, hours=23)
    assert catalogue.usage.report("acme-prod", "m-sum", 1, idempotency_key="old") == first
    assert catalogue.usage.purge_keys() == 0
    clock.advance(hours=2)
    assert catalogue.usage.purge_keys() == 1
    with catalogue.db.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(
            idempotency_keys)).scalar() == 0
    with pytest.raises(ka.ValidationError):
        catalogue.usage.purge_keys(older_than_hours=1)


def test_an_expired_key_is_a_new_request(catalogue, clock):
    first = catalogue.usage.report("acme-prod", "m-sum", 1, idempotency_key="k")
    clock.advance(days=8)
    second = catalogue.usage.report("acme-prod", "m-sum", 2, idempotency_key="k")
    assert second.event_id != first.event_id and second.usage["value"] == 3


@pytest.mark.parametrize("key", ["", "   ", "x" * 201, 42])
def test_malformed_key_is_refused(catalogue, key):
    with pytest.raises(ka.ValidationError) as info:
        catalogue.usage.report("acme-prod", "m-sum", 1, idempotency_key=key)
    assert info.value.field == "idempotency_key"
