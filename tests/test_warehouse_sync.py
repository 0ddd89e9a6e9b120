"""The warehouse sync: schema versions, idempotent batches, kill -9, verify."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kaiten_analytics as ka
from kaiten_analytics.cli import main
from kaiten_analytics.db import warehouse as mirror

KAITEN = [sys.executable, "-m", "kaiten_analytics.cli"]


def _traffic(kaiten, clock, reports: int = 60) -> None:
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("calls", "Calls", aggregation_method="SUM")
    kaiten.entitlements.create("seats", "Seats", aggregation_method="MAX")
    kaiten.licenses.create("pro", "Pro", {"calls": 500, "seats": 10})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")
    kaiten.instances.create("acme", "Dev", "acme-dev", "pro")
    for n in range(reports):
        clock.advance(minutes=37)
        instance = ("acme-prod", "acme-dev")[n % 2]
        kaiten.usage.report(instance, "calls", 7 + n % 5)
        kaiten.usage.report(instance, "seats", n % 13)  # some over 10: rejected
        if n % 4 == 0:
            kaiten.usage.get_value(instance, "calls")


def _rollup_totals(warehouse) -> tuple:
    return tuple(warehouse.rows(
        "SELECT count(), sum(reads), sum(accepted), sum(rejected) FROM {db}.audit_rollup_day "
        "FINAL")[0])


def test_schema_upgrade_is_versioned_and_idempotent(warehouse_url):
    warehouse = mirror.open_warehouse(warehouse_url)
    assert mirror.upgrade(warehouse) == mirror.SCHEMA_VERSION
    assert mirror.upgrade(warehouse) == mirror.SCHEMA_VERSION
    assert mirror.schema_version(warehouse) == mirror.SCHEMA_VERSION
    assert warehouse.rows("SELECT count() FROM {db}.schema_versions FINAL")[0][0] \
        == len(mirror.SCHEMA)
    engines = dict(warehouse.rows(
        "SELECT name, engine FROM system.tables WHERE database = {d:String}",
        {"d": warehouse.database}))
    assert engines["audit_events"] == "ReplacingMergeTree"
    assert engines["audit_rollup_15m"] == "ReplacingMergeTree"
    warehouse.close()


def test_sync_copies_every_event_once_and_a_resent_batch_changes_no_count(
        database_url, warehouse_url, clock):
    kaiten = ka.connect(database_url, clock=clock, warehouse_url=warehouse_url)
    _traffic(kaiten, clock)
    first = kaiten.warehouse.sync(batch_rows=25)
    assert first.events == first.events_read == 135
    assert first.usage_rows == 4
    wh = kaiten.db.warehouse
    totals = _rollup_totals(wh)
    stats = [kaiten.audit.stats(slug) for slug in ("acme-prod", "acme-dev")]
    assert totals[1:] == (15, sum(s.accepted for s in stats), sum(s.rejected for s in stats))
    assert sum(totals[1:]) == 135
    # the same batches sent again — from the start, and from the watermark — add nothing
    again = kaiten.warehouse.sync(batch_rows=25, from_start=True)
    assert (again.events, again.events_read) == (0, 135)
    assert kaiten.warehouse.sync().events == 0
    mirror.recompute_rollups(wh, None, 0, 10**9)
    assert _rollup_totals(wh) == totals
    assert wh.rows("SELECT count() FROM {db}.audit_events")[0][0] == 135
    assert kaiten.warehouse.verify().empty
    # new traffic after the watermark is copied by the next sync
    clock.advance(hours=1)
    kaiten.usage.report("acme-prod", "calls", 1)
    assert kaiten.warehouse.sync().events == 1
    assert kaiten.warehouse.verify().empty
    kaiten.close()


def test_verify_lists_a_difference_and_the_command_exits_non_zero(
        database_url, warehouse_url, clock, capsys):
    kaiten = ka.connect(database_url, clock=clock, warehouse_url=warehouse_url)
    _traffic(kaiten, clock, reports=10)
    kaiten.warehouse.sync()
    args = ["warehouse", "verify", "--url", database_url, "--warehouse-url", warehouse_url]
    assert main(args) == 0
    assert "agrees" in capsys.readouterr().out
    clock.advance(days=2)
    kaiten.usage.report("acme-dev", "calls", 3)  # written, not yet synced
    wh = kaiten.db.warehouse
    row = wh.rows("SELECT * EXCEPT id FROM {db}.audit_events WHERE instance_id = 1 LIMIT 1")[0]
    wh.insert("audit_events", [("00000000000000000000000000", *row)],
              mirror.EVENT_COLUMNS)  # an event the system of record never had
    differences = kaiten.warehouse.verify()
    assert list(differences.columns) == ["instance", "day", "category", "system_of_record",
                                         "warehouse_events", "warehouse_rollup"]
    unsynced = differences[differences["instance"] == "acme-dev"]
    assert unsynced[["category", "system_of_record", "warehouse_events",
                     "warehouse_rollup"]].values.tolist() == [["Accepted", 1, 0, 0]]
    extra = differences[differences["instance"] == "acme-prod"]
    assert len(extra) == 1
    assert extra["warehouse_events"].iloc[0] == extra["system_of_record"].iloc[0] + 1
    assert main(args) == 1
    assert "acme-dev" in capsys.readouterr().out
    kaiten.close()


def test_a_warehouse_command_without_a_url_says_what_is_missing(database_url, capsys,
                                                                 monkeypatch):
    monkeypatch.delenv("KAITEN_WAREHOUSE_URL", raising=False)
    assert main(["warehouse", "status", "--url", database_url]) == 2
    assert "KAITEN_WAREHOUSE_URL" in capsys.readouterr().err


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*KAITEN, *args], capture_output=True, text=True, timeout=120,
                          **kwargs)


@pytest.mark.slow
def test_sync_killed_mid_batch_and_re_run_leaves_counts_exact_sqlite_only(
        database_url, tmp_path):
    # The sync runs in its own process (chDB: one engine per process, and this test's process
    # holds another); SIGKILL lands while it is copying, between or inside batches.
    kaiten = ka.connect(database_url)
    kaiten.demo.build(customers=3, instances=8, events=3_000, days=20, progress=False)
    kaiten.close()
    url = f"chdb://{tmp_path / 'engine'}?database=killed"
    command = ["warehouse", "sync", "--once", "--batch-rows", "100", "--url", database_url,
               "--warehouse-url", url]
    env = {**os.environ, "TQDM_MININTERVAL": "0"}
    kills = 0
    for _attempt in range(4):  # kill each run soon after it starts copying
        with subprocess.Popen([*KAITEN, *command], stderr=subprocess.PIPE, text=True,
                              env=env) as process:
            seen = ""
            while "events/s" not in seen and process.poll() is None:  # copying has begun
                seen += process.stderr.read(1)
            time.sleep(0.25)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        if process.returncode != -signal.SIGKILL:
            break  # it finished first
        kills += 1
    assert kills >= 2
    finished = _run(*command, "--quiet")
    assert finished.returncode == 0, finished.stderr
    verified = _run("warehouse", "verify", "--url", database_url, "--warehouse-url", url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "agrees" in verified.stdout
    assert Path(tmp_path / "engine").is_dir()


def _monthly(kaiten) -> None:
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("calls", "Calls", aggregation_method="SUM")
    kaiten.licenses.create("pro", "Pro", {"calls": {"threshold": 100, "period": "month"}})
    kaiten.instances.create("acme", "Prod", "acme-prod", "pro")


def _fleet_usage(kaiten) -> float:
    return kaiten.fleet.consumption()["usage"].iloc[0]


def test_fleet_usage_and_its_period_come_from_the_same_sync(database_url, warehouse_url, clock):
    """A new period's first report, not synced yet, does not lend its period to the old value."""
    mirrored = ka.connect(database_url, clock=clock, warehouse_url=warehouse_url)
    kaiten = ka.connect(database_url, clock=clock)
    _monthly(kaiten)
    kaiten.usage.report("acme-prod", "calls", 40)  # March
    mirrored.warehouse.sync()
    assert _fleet_usage(mirrored) == _fleet_usage(kaiten) == 40
    clock.set(clock.now.replace(month=4, day=2))
    kaiten.usage.report("acme-prod", "calls", 5)  # April restarts the aggregate
    assert _fleet_usage(kaiten) == 5
    # as of the last sync the usage was March's, which is no April usage (it showed 40)
    assert math.isnan(_fleet_usage(mirrored))
    mirrored.warehouse.sync()
    assert _fleet_usage(mirrored) == 5
    kaiten.close()
    mirrored.close()


def test_the_usage_periods_upgrade_copies_every_usage_row_again(database_url, warehouse_url,
                                                                clock):
    kaiten = ka.connect(database_url, clock=clock)
    _monthly(kaiten)
    kaiten.usage.report("acme-prod", "calls", 40)
    # a warehouse at schema version 1, synced then: its usage rows have no period
    warehouse = mirror.open_warehouse(warehouse_url, upgrade_schema=False)
    assert mirror.upgrade(warehouse, version=1) == mirror.schema_version(warehouse) == 1
    usage = kaiten.usage.get_value("acme-prod", "calls").usage
    warehouse.insert("entitlement_usage", [(1, 1, json.dumps(usage), clock.now)],
                     ["instance_id", "entitlement_id", "value", "updated_at"])
    mirror._set_state(warehouse, "entitlement_usage", clock.now.isoformat())
    assert mirror.upgrade(warehouse) == mirror.SCHEMA_VERSION == 2
    clock.advance(minutes=5)
    mirrored = ka.connect(database_url, clock=clock, warehouse_url=warehouse_url)
    assert mirrored.warehouse.sync().usage_rows == 1  # unchanged since, copied again
    (start, end), = warehouse.rows(
        "SELECT period_start, period_end FROM {db}.entitlement_usage FINAL")
    assert (start.month, start.day, end.month, end.day) == (3, 1, 4, 1)
    assert _fleet_usage(mirrored) == _fleet_usage(kaiten) == 40
    warehouse.close()
    mirrored.close()
    kaiten.close()
