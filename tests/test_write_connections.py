"""Each thread's write connection on a SQLite file: reused, per thread, bounded, closed."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from kaiten_analytics.db.engine import SQLITE_WRITERS_MAX
from kaiten_analytics.db.models import entitlement_usage


def _usage(kaiten) -> dict:
    with kaiten.db.read() as connection:
        return connection.execute(sa.select(entitlement_usage.c.value)).scalar_one()


def test_a_thread_keeps_one_write_connection_between_transactions(
        catalogue, engine_name):
    db = catalogue.db
    if engine_name == "postgresql":
        assert db.writers is None  # the pool's connections: nothing kept per thread
        catalogue.usage.report("acme-prod", "api-calls", 1)
        assert _usage(catalogue)["value"] == 1
        return
    with db.transaction() as first:
        assert db.writers.connection() is None  # busy: a nested one would take the pool's
    with db.transaction() as again:
        assert again is first
    catalogue.usage.report("acme-prod", "api-calls", 2)
    with db.transaction() as after_report:
        assert after_report is first
    assert _usage(catalogue) == {"type": "number", "value": 2, "event_count": 1}


def test_a_failed_transaction_rolls_back_and_the_connection_is_reused(catalogue, engine_name):
    catalogue.usage.report("acme-prod", "api-calls", 3)
    with pytest.raises(RuntimeError), catalogue.db.transaction() as connection:
        connection.execute(entitlement_usage.update().values(value=None))
        raise RuntimeError("stop")
    assert _usage(catalogue)["value"] == 3
    catalogue.usage.report("acme-prod", "api-calls", 4)
    assert _usage(catalogue) == {"type": "number", "value": 7, "event_count": 2}


def test_threads_report_concurrently_on_their_own_connections(catalogue, engine_name):
    threads, reports = SQLITE_WRITERS_MAX + 4, 5  # more threads than kept connections
    seen: list[object] = []
    errors: list[BaseException] = []

    def reporter() -> None:
        try:
            for _ in range(reports):
                catalogue.usage.report("acme-prod", "api-calls", 1)
            with catalogue.db.transaction() as connection:
                seen.append(connection)
        except BaseException as error:  # surfaced below
            errors.append(error)

    workers = [threading.Thread(target=reporter) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert _usage(catalogue) == {"type": "number", "value": threads * reports,
                                 "event_count": threads * reports}
    if engine_name == "sqlite":
        kept = catalogue.db.writers
        assert kept is not None and kept.open_count <= SQLITE_WRITERS_MAX


def test_close_closes_the_write_connections_and_later_writes_use_the_pool(database_url,
                                                                          engine_name):
    import kaiten_analytics as ka

    handle = ka.connect(database_url)
    handle.customers.create("acme", "Acme Corp")
    if engine_name == "sqlite":
        with handle.db.transaction() as connection:
            kept = connection
        handle.close()
        assert kept.closed
        with handle.db.transaction() as connection:  # the pool, after close
            assert connection is not kept
    handle.customers.create("globex", "Globex")
    assert {c.slug for c in handle.customers.list().itertuples()} >= {"acme", "globex"}
    handle.close()
