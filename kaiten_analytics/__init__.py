"""Kaiten Analytics: software entitlement usage — metering, audit analytics, feature flags.

>>> import kaiten_analytics as ka
>>> kaiten = ka.connect("sqlite://")
>>> kaiten.customers.create("acme", "Acme Corp").slug
'acme'
"""

from kaiten_analytics.analytics.audit_log import EventCount
from kaiten_analytics.analytics.fleet import NO_ZONE
from kaiten_analytics.client import Kaiten
from kaiten_analytics.config import database_url, default_timezone
from kaiten_analytics.config import zone as time_zone
from kaiten_analytics.db.models import WEBHOOK_DELIVERY_STATUSES
from kaiten_analytics.db.warehouse import BATCH_ROWS as WAREHOUSE_BATCH_ROWS
from kaiten_analytics.entities import (
    ApiKey,
    AuditStats,
    ConsoleUser,
    Customer,
    Entitlement,
    EntitlementValue,
    Flag,
    FlagEvaluation,
    Instance,
    License,
    UsageReport,
    WebhookEndpoint,
    WebhookRunStats,
    Zone,
)
from kaiten_analytics.enumerations import (
    AGGREGATION_METHODS,
    API_KEY_ROLES,
    CONSOLE_ROLES,
    ENTITLEMENT_TYPES,
    FLAG_TYPES,
)
from kaiten_analytics.errors import (
    ConflictError,
    KaitenError,
    NotFoundError,
    ReadOnlyError,
    UnavailableError,
    ValidationError,
)
from kaiten_analytics.events import (
    ACCEPTED,
    EVENT_CATEGORIES,
    EVENT_NAMES,
    REJECTED,
    USAGE_ACCEPTED,
    USAGE_REACHED,
    USAGE_RECOVERED,
    USAGE_REJECTED,
    USAGE_WARNING,
    VALUE_GET,
)
from kaiten_analytics.events import OUTBOX_EVENT_TYPES as WEBHOOK_EVENT_TYPES
from kaiten_analytics.fields import PAGE_MAX
from kaiten_analytics.flags.context import ATTRIBUTES as FLAG_ATTRIBUTES
from kaiten_analytics.flags.context import METADATA_PREFIX as FLAG_METADATA_PREFIX
from kaiten_analytics.flags.explain import OPERATOR_WORDS as FLAG_OPERATORS
from kaiten_analytics.flags.values import json_text, parse_json
from kaiten_analytics.limit_status import (
    AT_LIMIT_PERCENT,
    LIMIT_STATUSES,
    NEARING_PERCENT,
    REACHED_STATUSES,
    UTILISATION_BANDS,
    limit_status,
    percent_used,
    utilisation_band,
)

__all__ = [
    "ACCEPTED",
    "AGGREGATION_METHODS",
    "API_KEY_ROLES",
    "AT_LIMIT_PERCENT",
    "CONSOLE_ROLES",
    "ENTITLEMENT_TYPES",
    "EVENT_CATEGORIES",
    "EVENT_NAMES",
    "FLAG_ATTRIBUTES",
    "FLAG_METADATA_PREFIX",
    "FLAG_OPERATORS",
    "FLAG_TYPES",
    "LIMIT_STATUSES",
    "NEARING_PERCENT",
    "NO_ZONE",
    "PAGE_MAX",
    "REACHED_STATUSES",
    "REJECTED",
    "USAGE_ACCEPTED",
    "USAGE_REACHED",
    "USAGE_RECOVERED",
    "USAGE_REJECTED",
    "USAGE_WARNING",
    "UTILISATION_BANDS",
    "VALUE_GET",
    "WAREHOUSE_BATCH_ROWS",
    "WEBHOOK_DELIVERY_STATUSES",
    "WEBHOOK_EVENT_TYPES",
    "ApiKey",
    "AuditStats",
    "ConflictError",
    "ConsoleUser",
    "Customer",
    "Entitlement",
    "EntitlementValue",
    "EventCount",
    "Flag",
    "FlagEvaluation",
    "Instance",
    "Kaiten",
    "KaitenError",
    "License",
    "NotFoundError",
    "ReadOnlyError",
    "UnavailableError",
    "UsageReport",
    "ValidationError",
    "WebhookEndpoint",
    "WebhookRunStats",
    "Zone",
    "connect",
    "database_url",
    "default_timezone",
    "json_text",
    "limit_status",
    "parse_json",
    "percent_used",
    "time_zone",
    "utilisation_band",
]


def connect(url: str | None = None, clock=None, *, migrate: bool = True,
            pool_size: int | None = None, pool_timeout: float | None = None,
            warehouse_url: str | None = None) -> Kaiten:
    """Connect to a Kaiten database and migrate it to the newest schema.

    Parameters
    ----------
    url
        A SQLAlchemy URL; default ``$KAITEN_DATABASE_URL``, else ``sqlite:///kaiten.db``.
    clock
        A callable returning an aware UTC datetime; every timestamp written and every
        "now"/"today" computed comes from it. Default: the system clock.
    migrate
        Run the shipped Alembic migrations to head first (default True).
    pool_size
        Connections the pool keeps (and at most opens): size it to the threads that call the
        library at once (``kaiten api`` does). Default: 5, plus 10 on demand.
    pool_timeout
        Seconds a call waits for a free pooled connection before ``UnavailableError``
        (default 30).
    warehouse_url
        The ClickHouse mirror of the audit trail: ``clickhouse://user@host:8123/db``
        or ``chdb:///path`` (the embedded engine; ``?database=name``, default ``kaiten``).
        Default ``$KAITEN_WAREHOUSE_URL``. Set, ``kaiten.warehouse.sync()`` copies the trail
        into it, ``kaiten.warehouse.verify()`` compares counts, and ``kaiten.audit.*`` and
        ``kaiten.fleet.*`` answer from it as of its last sync (the same DataFrames); writes,
        ``usage.get_value``/``usage.summary`` and the catalogue stay on the system of record.
        ``migrate`` also brings the warehouse schema to its newest version. Needs the
        ``warehouse`` extra.

    Raises
    ------
    UnavailableError
        ``migrate`` is True and the database cannot be reached.
    """
    from kaiten_analytics.clock import system_clock
    from kaiten_analytics.config import database_url
    from kaiten_analytics.config import warehouse_url as configured_warehouse_url
    from kaiten_analytics.db.database import Database
    from kaiten_analytics.db.engine import create_engine, sqlite_writers
    from kaiten_analytics.db.errors import UNAVAILABLE, translate_unavailable
    from kaiten_analytics.db.migrate import upgrade

    engine = create_engine(database_url(url), pool_size=pool_size, pool_timeout=pool_timeout)
    if migrate:
        try:
            upgrade(engine)
        except UNAVAILABLE as error:
            engine.dispose()
            raise translate_unavailable(error) from error
    warehouse = None
    if (mirror := configured_warehouse_url(warehouse_url)) is not None:
        from kaiten_analytics.db.warehouse import open_warehouse

        warehouse = open_warehouse(mirror, upgrade_schema=migrate)
    return Kaiten(Database(engine=engine, clock=clock or system_clock, warehouse=warehouse,
                           writers=sqlite_writers(engine)))
