"""Fixtures: every database test runs on SQLite and on PostgreSQL, each on a fresh schema.

PostgreSQL comes from ``$KAITEN_TEST_POSTGRES_URL`` (``.ci/run`` sets it). Without it, or when
it cannot connect, PostgreSQL tests skip with the reason — except under ``CI=true``, where
they fail: CI must exercise both engines.
"""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import kaiten_analytics as ka

ENGINES = ("sqlite", "postgresql")
PG_URL_ENV = "KAITEN_TEST_POSTGRES_URL"


class FakeClock:
    """A clock tests move by hand (aware UTC)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, at: datetime) -> None:
        self.now = at.astimezone(UTC)


def _postgres_admin_url() -> str | None:
    return os.environ.get(PG_URL_ENV)


_pg_state: dict[str, object] = {}


def postgres_or_skip() -> str:
    """Return the PostgreSQL URL, or skip (fail under CI=true) with the reason."""
    url = _postgres_admin_url()
    reason = None
    if not url:
        reason = f"${PG_URL_ENV} is not set (.ci/run sets it)"
    elif "ok" not in _pg_state:
        try:
            engine = sa.create_engine(url)
            with engine.connect() as connection:
                connection.execute(sa.text("select 1"))
            engine.dispose()
            _pg_state["ok"] = True
        except Exception as exc:
            _pg_state["ok"] = False
            _pg_state["error"] = f"cannot connect to PostgreSQL at {url}: {exc}"
    if url and not _pg_state["ok"]:
        reason = str(_pg_state["error"])
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
        pytest.skip(reason)
    return url


def _schema_url(admin_url: str, schema: str) -> str:
    url = sa.make_url(admin_url)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def fresh_database_url(engine_name: str, tmp_path) -> tuple[str, object]:
    """Return (url, cleanup) for an empty database of ``engine_name``."""
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path / 'kaiten.db'}", lambda: None
    admin_url = postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def cleanup() -> None:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return _schema_url(admin_url, schema), cleanup


@pytest.fixture(params=ENGINES)
def engine_name(request) -> str:
    """The database engine under test: ``sqlite`` or ``postgresql``."""
    return request.param


@pytest.fixture
def database_url(engine_name, tmp_path):
    """The URL of a fresh, empty database on the engine under test."""
    url, cleanup = fresh_database_url(engine_name, tmp_path)
    yield url
    cleanup()


@pytest.fixture
def clock() -> FakeClock:
    """A hand-moved clock starting at 2026-03-10 12:00 UTC."""
    return FakeClock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))


@pytest.fixture
def kaiten(database_url, clock):
    """A migrated Kaiten database on the engine under test, with the fake clock."""
    handle = ka.connect(database_url, clock=clock)
    yield handle
    handle.close()


@pytest.fixture
def catalogue(kaiten):
    """A small catalogue built through the public API.

    Customers acme, globex; zones eu-prod, us-prod; entitlements of every type and method;
    licenses starter and pro; instances acme-prod (pro, eu-prod) and globex-dev (starter).
    """
    kaiten.customers.create("acme", "Acme Corp")
    kaiten.customers.create("globex", "Globex")
    kaiten.zones.create("eu-prod", "EU production")
    kaiten.zones.create("us-prod", "US production")
    for method in ("SUM", "COUNT", "AVERAGE", "MAX", "MIN", "LATEST"):
        kaiten.entitlements.create(f"m-{method.lower()}", f"Metric {method}",
                                   aggregation_method=method)
    kaiten.entitlements.create("seats", "Seats", aggregation_method="MAX", unit="seats")
    kaiten.entitlements.create("api-calls", "API calls", aggregation_method="SUM", unit="calls")
    kaiten.entitlements.create("sso", "Single sign-on", type="BOOLEAN")
    kaiten.entitlements.create("support-tier", "Support tier", type="STRING")
    kaiten.licenses.create("starter", "Starter", {"seats": 5, "api-calls": 1000, "sso": False,
                                                  "support-tier": "community"})
    kaiten.licenses.create(
        "pro", "Pro",
        {"seats": 50, "api-calls": None, "sso": True, "support-tier": "business",
         **{f"m-{m}": 100 for m in ("sum", "count", "average", "max", "min", "latest")}},
    )
    kaiten.instances.create("acme", "Production", "acme-prod", "pro",
                            deployment_zone="eu-prod", metadata={"region": "eu", "tier": 2})
    kaiten.instances.create("globex", "Development", "globex-dev", "starter")
    return kaiten


@pytest.fixture
def console_for(database_url, monkeypatch):
    """Return ``make(kaiten)``: the console's AppTest on that handle's database and clock.

    The console's caches are emptied before and after, so nothing leaks between tests.
    """
    from console_support import clear_console_caches, console_app

    yield lambda kaiten: console_app(kaiten, database_url, monkeypatch)
    clear_console_caches()


def table_counts(kaiten) -> dict[str, int]:
    """Row count of every table (to prove a refused call wrote nothing)."""
    from kaiten_analytics.db.models import metadata

    with kaiten.db.engine.connect() as connection:
        return {
            name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for name, table in metadata.tables.items()
        }


def pytest_collection_modifyitems(config, items):
    """A test named ``*_postgresql_only`` / ``*_sqlite_only`` runs on that engine alone."""
    keep, drop = [], []
    for item in items:
        engine = getattr(item, "callspec", None) and item.callspec.params.get("engine_name")
        name = item.originalname if hasattr(item, "originalname") else item.name
        wrong = engine and any(name.endswith(f"_{other}_only") for other in ENGINES
                               if other != engine)
        (drop if wrong else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --- report how many tests ran on each engine -------------------------------------------------
_ENGINE_IN_ID = re.compile(r"[\[-](sqlite|postgresql)[\]-]")
_per_engine: Counter = Counter()


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        match = _ENGINE_IN_ID.search(report.nodeid)
        if match:
            _per_engine[(match.group(1), report.outcome)] += 1


def pytest_terminal_summary(terminalreporter):
    if _per_engine:
        terminalreporter.section("tests per database engine")
        for engine in ENGINES:
            parts = ", ".join(
                f"{_per_engine[(engine, outcome)]} {outcome}"
                for outcome in ("passed", "failed", "skipped")
                if _per_engine[(engine, outcome)]
            )
            terminalreporter.write_line(f"{engine}: {parts or 'none'}")


# --- the warehouse: one embedded ClickHouse engine per process ----------------------
# chDB opens one engine per process (a second path fails), so every test of a worker shares
# the engine at one directory and gets a fresh database in it. Under pytest-xdist each worker
# is its own process, with its own base temp directory.

@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory) -> str:
    """The directory of this process's embedded ClickHouse engine."""
    pytest.importorskip("clickhouse_connect", reason="the warehouse extra is not installed")
    return str(tmp_path_factory.getbasetemp() / "chdb")


@pytest.fixture
def warehouse_url(chdb_path):
    """A ``chdb://`` URL naming a fresh database in this process's engine (dropped after)."""
    database = f"w_{uuid.uuid4().hex[:12]}"
    yield f"chdb://{chdb_path}?database={database}"
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}")
    client.command(f"DROP DATABASE IF EXISTS {database}")
