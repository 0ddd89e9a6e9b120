"""Migrations: empty to head on both engines; the models and the migrated schema agree."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import kaiten_analytics as ka
from kaiten_analytics.db.migrate import alembic_config, current_revision
from kaiten_analytics.db.models import metadata

ROOT = Path(__file__).resolve().parents[1]


def test_connect_migrates_an_empty_database_to_head(database_url):
    kaiten = ka.connect(database_url)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(kaiten.db.engine) == head
    assert set(metadata.tables) <= set(sa.inspect(kaiten.db.engine).get_table_names())
    kaiten.close()
    # connecting again is a no-op upgrade
    again = ka.connect(database_url)
    assert current_revision(again.db.engine) == head
    again.close()


def test_models_and_migrated_schema_agree(kaiten):
    with kaiten.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_sqlite_connection_runs_wal_with_foreign_keys_sqlite_only(tmp_path):
    kaiten = ka.connect(f"sqlite:///{tmp_path / 'k.db'}")
    with kaiten.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30_000
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
    writer = kaiten.db.writers.connection()  # the writers' connections are set alike
    with writer.begin():
        assert writer.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
    kaiten.close()


def test_unsupported_url_is_a_validation_error():
    with pytest.raises(ka.ValidationError) as info:
        ka.connect("mysql://root@localhost/test")
    assert info.value.field == "url"


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_ships_the_migrations(tmp_path):
    """A non-editable install (wheel built from the repo) can migrate a new SQLite file."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps",
         str(ROOT)],
        check=True, cwd=tmp_path, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    # the dependencies come from this test environment; the package itself from the new venv
    deps = [p for p in sys.path if p.endswith("site-packages")]
    site = next((env_dir / "lib").glob("python*/site-packages"))
    (site / "test-deps.pth").write_text("\n".join(deps) + "\n")
    script = (
        "import kaiten_analytics as ka, sys\n"
        "assert sys.prefix in ka.__file__, ka.__file__\n"
        "k = ka.connect('sqlite:///new.db')\n"
        "k.customers.create('acme', 'Acme')\n"
        "print(ka.__file__, len(k.customers.list()))\n"
    )
    out = subprocess.run([str(python), "-c", script], check=True, cwd=tmp_path,
                         capture_output=True, text=True)
    assert str(env_dir) in out.stdout and out.stdout.strip().endswith(" 1")
