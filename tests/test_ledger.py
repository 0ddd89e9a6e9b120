"""The metering ledger's driver-level statements: same values, same errors as SQLAlchemy's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import table_counts

import kaiten_analytics as ka
from kaiten_analytics.db.models import (
    audit_rollup_15m,
    audit_rollup_day,
    entitlement_usage,
    feature_audit_trail,
)
from kaiten_analytics.service.ledger import Ledger, Target


def test_report_rows_read_back_through_sqlalchemy_as_written(catalogue, clock):
    catalogue.usage.report("acme-prod", "api-calls", 7)
    result = catalogue.usage.report("acme-prod", "api-calls", 5.5)
    with catalogue.db.engine.connect() as connection:
        audit = connection.execute(
            sa.select(feature_audit_trail).where(feature_audit_trail.c.id == result.event_id)
        ).one()
        usage = connection.execute(sa.select(entitlement_usage)).one()
        bucket = connection.execute(sa.select(audit_rollup_15m)).one()
        day = connection.execute(sa.select(audit_rollup_day)).one()
    assert audit.created_at == clock.now and audit.created_at.tzinfo is not None
    assert audit.payload["aggregate_before"] == 7 and audit.payload["aggregate_after"] == 12.5
    assert audit.payload["threshold"] is None and audit.payload["reason"] is None
    assert usage.value == {"type": "number", "value": 12.5, "event_count": 2}
    assert usage.updated_at == clock.now
    assert (bucket.accepted, bucket.value_first, bucket.value_last, bucket.value_min,
            bucket.value_max) == (2, 7.0, 12.5, 7.0, 12.5)
    assert (day.accepted, day.value_last, day.value_max) == (2, 12.5, 12.5)


def test_driver_errors_surface_as_library_errors_and_write_nothing(catalogue, clock):
    before = table_counts(catalogue)
    ghost = Target(instance_id=10_000, instance="ghost", entitlement_id=10_000,
                   entitlement="ghost", type="NUMBER", method="SUM", on_license=True,
                   granted=None, license_start=None, license_end=None)
    with (pytest.raises(ka.ValidationError, match="refused by the database"),
          catalogue.db.transaction() as connection):
        ledger = Ledger(connection)
        ledger.append(ghost, "kaiten.v1.entitlement.value.get", clock.now, {})
        ledger.flush()  # the audit row's foreign keys point nowhere
    assert table_counts(catalogue) == before


def test_dropped_connections_fail_once_then_reconnect_postgresql_only(catalogue):
    engine = catalogue.db.engine
    with engine.connect() as first, engine.connect() as second:  # two in the pool
        pids = [c.exec_driver_sql("SELECT pg_backend_pid()").scalar() for c in (first, second)]
    admin = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    with admin.connect() as connection:  # as a server restart would
        for pid in pids:
            connection.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    admin.dispose()
    with pytest.raises(ka.UnavailableError) as raised:
        catalogue.usage.report("acme-prod", "api-calls", 1)
    # the library's error, from the driver's: the pool saw the connection die and drops it
    assert raised.value.__cause__.connection_invalidated
    assert catalogue.usage.report("acme-prod", "api-calls", 1).usage["value"] == 1
