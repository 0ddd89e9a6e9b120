"""The ``kaiten`` command: db upgrade, demo (consistent history), purge-keys, errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import kaiten_analytics as ka
from kaiten_analytics.cli import main


def test_db_upgrade_and_url_before_or_after_the_command(database_url, capsys):
    assert main(["db", "upgrade", "--url", database_url]) == 0
    assert main(["--url", database_url, "db", "upgrade"]) == 0
    assert "at the newest schema" in capsys.readouterr().out


def test_demo_builds_a_consistent_history_and_if_empty_leaves_it(database_url, capsys,
                                                                 request):
    assert main(["--url", database_url, "demo", "--events", "1500", "--instances", "8",
                 "--customers", "3", "--quiet"]) == 0
    assert "8 instances" in capsys.readouterr().out
    kaiten = ka.connect(database_url)
    request.addfinalizer(kaiten.close)
    assert len(kaiten.instances.list()) == 8
    assert len(kaiten.flags.list()) >= 4
    assert kaiten.audit.rollup_mismatches().empty
    totals = sum(kaiten.audit.stats(slug).total for slug in kaiten.instances.list()["slug"])
    assert 1400 <= totals <= 1500
    consumption = kaiten.fleet.consumption()
    assert (consumption["event_count"] > 0).any()
    # usage rows agree with a replay of the audit trail: accepted counts match
    for slug in kaiten.instances.list()["slug"][:3]:
        summary = kaiten.usage.summary(slug)
        for row in summary.itertuples():
            if row.type == "NUMBER":
                # the demo's monthly limits count this month's reports (a dry run
                # says which period the next report counts in)
                since = kaiten.usage.check(slug, row.entitlement, 1).period_start
                accepted = kaiten.audit.count(slug, entitlement=row.entitlement,
                                              event_name=ka.USAGE_ACCEPTED, after=since).count
                assert accepted == row.event_count
    assert main(["--url", database_url, "demo", "--if-empty", "--quiet"]) == 0
    assert "already has data" in capsys.readouterr().out
    assert len(kaiten.instances.list()) == 8


def test_demo_with_a_big_instance(database_url, request):
    assert main(["--url", database_url, "demo", "--events", "200", "--instances", "4",
                 "--big-instance-events", "3000", "--quiet"]) == 0
    kaiten = ka.connect(database_url)
    request.addfinalizer(kaiten.close)
    assert 2900 <= kaiten.audit.stats("megacorp-prod").total <= 3000
    # thousands of rows per transaction take the bulk paths (COPY / staged upserts)
    assert kaiten.audit.rollup_mismatches("megacorp-prod").empty


def test_errors_are_reported_with_exit_status_2(tmp_path, capsys):
    assert main(["--url", "mysql://x/y", "db", "upgrade"]) == 2
    assert "url:" in capsys.readouterr().err
    url = f"sqlite:///{tmp_path / 'k.db'}"
    assert main(["--url", url, "db", "purge-keys", "--older-than-hours", "1"]) == 2
    assert "at least 24 hours" in capsys.readouterr().err
    assert main(["--url", url, "db", "purge-keys"]) == 0


def test_the_console_script_is_installed(tmp_path):
    kaiten = shutil.which("kaiten", path=str(Path(sys.executable).parent))
    assert kaiten, "pip install puts the kaiten command next to the interpreter"
    out = subprocess.run([kaiten, "--url", f"sqlite:///{tmp_path / 'k.db'}", "db", "upgrade"],
                         capture_output=True, text=True, check=True)
    assert "at the newest schema" in out.stdout
