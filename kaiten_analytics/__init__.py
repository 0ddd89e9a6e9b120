"""Kaiten Analytics: software entitlement usage — metering, audit analytics, feature flags.

>>> import kaiten_analytics as ka
>>> kaiten = ka.connect("sqlite://")
>>> kaiten.customers.create("acme", "Acme Corp").slug
'acme'
"""

from kaiten_analytics.analytics.audit_log import EventCount
from kaiten_analytics.analytics.fleet import NO_ZONE
from kaiten_analytics.client import Kaiten
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
    Zone,
)
from kaiten_analytics.errors import (
    ConflictError,
    KaitenError,
    NotFoundError,
    ReadOnlyError,
    UnavailableError,
    ValidationError,
)
from kaiten_analytics.events import EVENT_NAMES

__all__ = [
    "EVENT_NAMES",
    "NO_ZONE",
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
    "Zone",
    "connect",
]


def connect(url: str | None = None, clock=None, *, migrate: bool = True,
            pool_size: int | None = None, pool_timeout: float | None = None) -> Kaiten:
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

    Raises
    ------
    UnavailableError
        ``migrate`` is True and the database cannot be reached.
    """
    from kaiten_analytics.clock import system_clock
    from kaiten_analytics.config import database_url
    from kaiten_analytics.db.engine import create_engine
    from kaiten_analytics.db.errors import UNAVAILABLE, translate_unavailable
    from kaiten_analytics.db.migrate import upgrade
    from kaiten_analytics.service.database import Database

    engine = create_engine(database_url(url), pool_size=pool_size, pool_timeout=pool_timeout)
    if migrate:
        try:
            upgrade(engine)
        except UNAVAILABLE as error:
            engine.dispose()
            raise translate_unavailable(error) from error
    return Kaiten(Database(engine=engine, clock=clock or system_clock))
