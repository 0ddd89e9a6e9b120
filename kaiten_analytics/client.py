"""The ``Kaiten`` handle that :func:`connect` returns: one namespace per domain.

Each namespace method is a thin binding of a service (writes) or analytics (reads) function to
the connected database, so the console, notebooks, CLI and tests share one code path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import pandas as pd

from kaiten_analytics.analytics import audit_log, audit_stats, fleet
from kaiten_analytics.analytics import catalogue as catalogue_reads
from kaiten_analytics.analytics import flags as flag_reads
from kaiten_analytics.analytics import keys as key_reads
from kaiten_analytics.analytics import users as user_reads
from kaiten_analytics.analytics.instances import list_instances
from kaiten_analytics.analytics.rollup_check import rollup_mismatches
from kaiten_analytics.analytics.usage import usage_summary
from kaiten_analytics.analytics.value_over_time import value_over_time
from kaiten_analytics.config import zone as time_zone
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
from kaiten_analytics.service import catalogue, instances, keys, usage, users
from kaiten_analytics.service import flags as flag_writes
from kaiten_analytics.service.database import Database


class _Namespace:
    def __init__(self, db: Database) -> None:
        self._db = db


class Customers(_Namespace):
    """``kaiten.customers``"""

    def create(self, slug: str, name: str) -> Customer:
        """Create a customer."""
        return catalogue.create_customer(self._db, slug, name)

    def list(self) -> pd.DataFrame:
        """List customers: slug, name, created_at."""
        return catalogue_reads.list_customers(self._db)


class Entitlements(_Namespace):
    """``kaiten.entitlements``"""

    def create(self, slug: str, name: str, type: str = "NUMBER",
               aggregation_method: str | None = "SUM", unit: str | None = None,
               description: str = "") -> Entitlement:
        """Create a catalogue entitlement."""
        return catalogue.create_entitlement(self._db, slug, name, type, aggregation_method,
                                            unit, description)

    def list(self, license: str | None = None) -> pd.DataFrame:
        """List entitlements (of one license, with its values)."""
        return catalogue_reads.list_entitlements(self._db, license)


class Licenses(_Namespace):
    """``kaiten.licenses``"""

    def create(self, slug: str, name: str, entitlements: dict[str, Any] | None = None,
               description: str = "") -> License:
        """Create a license tier with its entitlement values."""
        return catalogue.create_license(self._db, slug, name, entitlements, description)

    def list(self) -> pd.DataFrame:
        """List license tiers: slug, name, description."""
        return catalogue_reads.list_licenses(self._db)


class Zones(_Namespace):
    """``kaiten.zones``"""

    def create(self, slug: str, name: str) -> Zone:
        """Create a deployment zone."""
        return catalogue.create_zone(self._db, slug, name)

    def list(self) -> pd.DataFrame:
        """List deployment zones: slug, name."""
        return catalogue_reads.list_zones(self._db)


class Instances(_Namespace):
    """``kaiten.instances``"""

    def create(self, customer: str, name: str, slug: str, license: str, description: str = "",
               deployment_zone: str | None = None, license_start=None, license_end=None,
               metadata: dict[str, Any] | str | None = None) -> Instance:
        """Create an instance (writes ``INSTANCE_CREATED``)."""
        return instances.create_instance(self._db, customer, name, slug, license, description,
                                         deployment_zone, license_start, license_end, metadata)

    def update(self, slug: str, /, **changes: Any) -> Instance:
        """Change fields of an instance (writes ``INSTANCE_UPDATED``)."""
        return instances.update_instance(self._db, slug, **changes)

    def delete(self, slug: str) -> None:
        """Soft-delete an instance (writes ``INSTANCE_DELETED``)."""
        instances.delete_instance(self._db, slug)

    def get(self, slug: str, include_deleted: bool = False) -> Instance:
        """Return one instance."""
        return instances.get_instance(self._db, slug, include_deleted)

    def list(self, customer: str | None = None) -> pd.DataFrame:
        """List live instances; see :func:`kaiten_analytics.analytics.instances.list_instances`."""
        return list_instances(self._db, customer)


class Usage(_Namespace):
    """``kaiten.usage``"""

    def report(self, instance: str, entitlement: str, value: float,
               idempotency_key: str | None = None) -> UsageReport:
        """Report usage; see :func:`kaiten_analytics.service.usage.report_usage`."""
        return usage.report_usage(self._db, instance, entitlement, value, idempotency_key)

    def report_many(self, reports: Iterable[Any]) -> list[UsageReport]:
        """Apply many reports in order in one transaction; one ``UsageReport`` each."""
        return usage.report_many(self._db, reports)

    def get_value(self, instance: str, entitlement: str) -> EntitlementValue:
        """Return the granted value and current usage; appends the read event."""
        return usage.get_value(self._db, instance, entitlement)

    def summary(self, instance: str) -> pd.DataFrame:
        """One row per entitlement of the license; see ``analytics.usage.usage_summary``."""
        return usage_summary(self._db, instance)

    def purge_keys(self, older_than_hours: float | None = None) -> int:
        """Delete the idempotency keys past their retention; return how many went.

        A key is honoured for 7 days; older ones only take space, and ``kaiten db purge-keys``
        (run it daily) calls this.

        Parameters
        ----------
        older_than_hours
            Delete keys created more than this many hours ago; default the 7-day retention.

        Returns
        -------
        int
            The number of keys deleted.

        Raises
        ------
        ValidationError
            ``older_than_hours`` is under 24 (a retry may still be in flight) or not a number.
        """
        return usage.purge_idempotency_keys(self._db, older_than_hours=older_than_hours)


class Audit(_Namespace):
    """``kaiten.audit``"""

    def trail(self, instance: str, event_name: str | None = None, after: Any = None,
              before: Any = None, limit: int = 50, offset: int = 0) -> pd.DataFrame:
        """The audit trail, newest first; see ``analytics.audit_log.audit_trail``."""
        return audit_log.audit_trail(self._db, instance, event_name, after, before, limit,
                                     offset)

    def events(self, instance: str, entitlement: str | None = None,
               event_name: str | None = None, status: str | None = None,
               search: str | None = None, after: Any = None, before: Any = None,
               limit: int = 50, offset: int = 0) -> pd.DataFrame:
        """The console's event log page; see ``analytics.audit_log.audit_events``."""
        return audit_log.audit_events(self._db, instance, entitlement, event_name, status,
                                      search, after, before, limit, offset)

    def count(self, instance: str, entitlement: str | None = None,
              event_name: str | None = None, status: str | None = None,
              search: str | None = None, after: Any = None, before: Any = None
              ) -> audit_log.EventCount:
        """How many events ``events`` pages through (from rollups when it can)."""
        return audit_log.count_events(self._db, instance, entitlement, event_name, status,
                                      search, after, before)

    def stats(self, instance: str, entitlement: str | None = None, tz: str = "UTC"
              ) -> AuditStats:
        """Total, Accepted, Rejected and Today (since local midnight in ``tz``)."""
        return audit_stats.audit_stats(self._db, instance, entitlement, tz)

    def timeline(self, instance: str, entitlement: str | None = None, tz: str = "UTC",
                 days: int = 30) -> pd.DataFrame:
        """Events per local day × category; see ``analytics.audit_stats.audit_timeline``."""
        return audit_stats.audit_timeline(self._db, instance, entitlement, tz, days)

    def value_over_time(self, instance: str, entitlement: str, max_points: int | None = None
                        ) -> pd.DataFrame:
        """The aggregate after each accepted report (downsampled with ``max_points``)."""
        return value_over_time(self._db, instance, entitlement, max_points)

    def rollup_mismatches(self, instance: str | None = None) -> pd.DataFrame:
        """Recount the raw audit trail and list where the rollups disagree (empty = fine)."""
        return rollup_mismatches(self._db, instance)


class Fleet(_Namespace):
    """``kaiten.fleet``: every instance × NUMBER entitlement; filters by slug."""

    def consumption(self, customer: str | None = None, license: str | None = None,
                    zone: str | None = None) -> pd.DataFrame:
        """Consumption vs threshold; see ``analytics.fleet.consumption``."""
        return fleet.consumption(self._db, customer, license, zone)

    def nearing_limits(self, percent: float = 80.0, customer: str | None = None,
                       license: str | None = None, zone: str | None = None) -> pd.DataFrame:
        """Pairs at or above ``percent`` of their limit; see ``analytics.fleet``."""
        return fleet.nearing_limits(self._db, percent, customer, license, zone)

    def blocked_demand(self, days: int = 30, customer: str | None = None,
                       license: str | None = None, zone: str | None = None) -> pd.DataFrame:
        """Rejected reports per instance × entitlement over the last ``days`` days."""
        return fleet.blocked_demand(self._db, days, customer, license, zone)

    def silent_metering(self, days: int = 7, customer: str | None = None,
                        license: str | None = None, zone: str | None = None) -> pd.DataFrame:
        """Entitlements read but never reported, or not reported for ``days`` days."""
        return fleet.silent_metering(self._db, days, customer, license, zone)

    def burn_down(self, customer: str | None = None, license: str | None = None,
                  zone: str | None = None) -> pd.DataFrame:
        """Percent of limit used vs percent of license term elapsed."""
        return fleet.burn_down(self._db, customer, license, zone)

    def forecast(self, window_days: int = 30, customer: str | None = None,
                 license: str | None = None, zone: str | None = None) -> pd.DataFrame:
        """The date each instance reaches each limit at its recent (linear) trend."""
        return fleet.forecast(self._db, window_days, customer, license, zone)

    def utilisation_bands(self, customer: str | None = None, license: str | None = None,
                          zone: str | None = None) -> pd.DataFrame:
        """Pairs per license × utilisation band (the heatmap's data)."""
        return fleet.utilisation_bands(self._db, customer, license, zone)


class Flags(_Namespace):
    """``kaiten.flags``"""

    def create(self, key: str, name: str, type: str, default_value: Any, enabled: bool = True,
               rules: Any = (), description: str = "") -> Flag:
        """Create a feature flag (writes ``FEATURE_FLAG_CREATED``); rules are validated."""
        return flag_writes.create_flag(self._db, key, name, type, default_value, enabled,
                                       rules, description)

    def update(self, key: str, /, **changes: Any) -> Flag:
        """Change fields of a flag (writes ``FEATURE_FLAG_UPDATED``); the key stays."""
        return flag_writes.update_flag(self._db, key, **changes)

    def delete(self, key: str) -> None:
        """Delete a flag (writes ``FEATURE_FLAG_DELETED``)."""
        flag_writes.delete_flag(self._db, key)

    def get(self, key: str) -> Flag:
        """Return one flag."""
        return flag_writes.get_flag(self._db, key)

    def list(self) -> pd.DataFrame:
        """List flags; see :func:`kaiten_analytics.analytics.flags.list_flags`."""
        return flag_reads.list_flags(self._db)

    def evaluate(self, key: str, instance: str) -> FlagEvaluation:
        """Return the value the flag serves the instance: value, reason, rule, error."""
        return flag_reads.evaluate_flag(self._db, key, instance)

    def evaluate_all(self, instance: str) -> pd.DataFrame:
        """Evaluate every flag for one instance; see ``analytics.flags.evaluate_all``."""
        return flag_reads.evaluate_all(self._db, instance)

    def exposure(self, key: str) -> pd.DataFrame:
        """Which live instance gets which value of one flag; ``analytics.flags.flag_exposure``."""
        return flag_reads.flag_exposure(self._db, key)

    def exposure_summary(self, key: str) -> pd.DataFrame:
        """Instances per value of one flag; see ``analytics.flags.exposure_summary``."""
        return flag_reads.exposure_summary(self._db, key)


class Users(_Namespace):
    """``kaiten.users``: who may use the console once its sign-in is configured, and how.

    Roles: ``admin`` (every page and every write) and ``viewer`` (every page, no write). An
    email is stored trimmed and in lower case, and compared that way.
    """

    def add(self, email: str, role: str) -> ConsoleUser:
        """Give ``email`` a console role: add the user, or change the role they have.

        Parameters
        ----------
        email
            The address the identity provider signs them in with (case does not matter).
        role
            ``"admin"`` or ``"viewer"``.

        Returns
        -------
        ConsoleUser
            email (normalised), role, created_at, updated_at.

        Raises
        ------
        ValidationError
            ``email`` is not an email address, or ``role`` is neither admin nor viewer.
        """
        return users.add_user(self._db, email=email, role=role)

    def remove(self, email: str) -> None:
        """Take ``email``'s console access away (they get the "no access" page).

        Raises
        ------
        NotFoundError
            ``email`` has no role.
        ValidationError
            ``email`` is not an email address.
        """
        users.remove_user(self._db, email=email)

    def role_of(self, email: str | None) -> str | None:
        """Return ``"admin"`` or ``"viewer"`` for ``email``, or None when it has no role.

        A missing or malformed ``email`` has no role (None, not an error).
        """
        return user_reads.role_of(self._db, email=email)

    def list(self) -> pd.DataFrame:
        """List console users.

        Returns
        -------
        DataFrame
            email, role, created_at, updated_at (aware UTC) — ordered by email.
        """
        return user_reads.list_users(self._db)


class Keys(_Namespace):
    """``kaiten.keys``: API keys of the REST API (``kaiten api``)."""

    def create(self, name: str, role: str, customer: str | None = None) -> ApiKey:
        """Create an API key and return it with its secret, the only time it is shown.

        Parameters
        ----------
        name
            A slug naming the key (unique, revoked keys included).
        role
            ``admin`` (everything), ``viewer`` (every read) or ``reporter`` (usage reports,
            an instance's entitlements and flags).
        customer
            The slug of the one customer whose instances the key sees; None = every customer.

        Returns
        -------
        ApiKey
            ``secret`` is ``ka_`` + 32 random URL-safe characters; only a keyed hash of it is
            stored (``$KAITEN_API_KEY_PEPPER`` keys the hash).

        Raises
        ------
        ValidationError
            ``name`` is not a slug or ``role`` is not one of the three.
        NotFoundError
            ``customer`` does not exist.
        ConflictError
            ``name`` is taken.
        """
        return keys.create_key(self._db, name=name, role=role, customer=customer)

    def list(self) -> pd.DataFrame:
        """List the API keys, revoked ones too (never a secret).

        Returns
        -------
        DataFrame
            name, role, customer, prefix, created_at, last_used_at, revoked_at, active; see
            :func:`kaiten_analytics.analytics.keys.list_keys`.
        """
        return key_reads.list_keys(self._db)

    def revoke(self, name: str) -> ApiKey:
        """Revoke the key ``name``: it stops authenticating at once.

        Raises
        ------
        NotFoundError
            No key has that name.
        """
        return keys.revoke_key(self._db, name=name)

    def authenticate(self, secret: str) -> ApiKey:
        """Return the live key whose secret is ``secret`` (and note its use, once a minute).

        Raises
        ------
        NotFoundError
            The secret is malformed, unknown or revoked (the message never repeats it).
        """
        return keys.authenticate(self._db, secret=secret)


class Demo(_Namespace):
    """``kaiten.demo``: fill an empty database with a realistic demo fleet."""

    def build(self, *, customers: int = 5, instances: int = 30, events: int = 20_000,
              big_instance_events: int = 0, days: int = 90, seed: int = 7,
              progress: bool = True) -> str:
        """Create the demo catalogue, fleet, flags and usage history; return a summary line.

        Every event goes through the metering rules of a live report, so usage, the audit
        trail and its rollups agree. The same ``seed`` builds the same data.

        Parameters
        ----------
        customers, instances
            How many customers and instances (spread over them) to create.
        events
            About how many audit events of history to write over the last ``days`` days.
        big_instance_events
            Events for one extra, busy instance ``megacorp-prod`` (0: none).
        seed
            The random seed.
        progress
            Show a progress bar on the terminal.

        Returns
        -------
        str
            e.g. ``"demo data: 5 customers, 30 instances, 20,000 audit events over 90 days"``.

        Raises
        ------
        ConflictError
            The database already holds a demo slug (build into an empty database).
        """
        from kaiten_analytics.demo.build import build_demo

        return build_demo(self._db, customers=customers, instances=instances, events=events,
                          big_instance_events=big_instance_events, days=days, seed=seed,
                          progress=progress)


class Kaiten:
    """A connected Kaiten Analytics database. Build it with :func:`kaiten_analytics.connect`.

    ``db`` is the service layer's handle (engine and clock) for the library's own code and its
    tests; the faces — console, notebooks, CLI, API — use the namespaces only.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.customers = Customers(db)
        self.entitlements = Entitlements(db)
        self.licenses = Licenses(db)
        self.zones = Zones(db)
        self.instances = Instances(db)
        self.flags = Flags(db)
        self.usage = Usage(db)
        self.audit = Audit(db)
        self.fleet = Fleet(db)
        self.keys = Keys(db)
        self.users = Users(db)
        self.demo = Demo(db)

    @property
    def url(self) -> str:
        """The database URL (password hidden)."""
        return self.db.engine.url.render_as_string(hide_password=True)

    def read_only(self) -> Kaiten:
        """Return a handle on the same database that refuses every write.

        Reads work as on this handle; any write (create, update, delete, a usage report, a
        role change …) raises ``ReadOnlyError`` before anything is written. The console gives
        a viewer such a handle. Both share one engine: closing either closes both.
        """
        return Kaiten(dataclasses.replace(self.db, read_only=True))

    def ping(self) -> None:
        """Check that the database answers now.

        Raises
        ------
        UnavailableError
            The database cannot be reached, or no pooled connection is free in time.
        """
        with self.db.read() as connection:
            connection.exec_driver_sql("SELECT 1")

    def now(self) -> datetime:
        """Return the current time by the handle's clock (aware, UTC).

        The clock given to :func:`kaiten_analytics.connect` (a test's fake clock, say), so a
        face asking "what time is it" agrees with every timestamp the library writes.
        """
        return self.db.now()

    def today(self, tz: str = "UTC") -> date:
        """Return today's date in the IANA time zone ``tz``, by the handle's clock.

        Raises
        ------
        ValidationError
            ``tz`` is not an IANA time zone name (field ``tz``).
        """
        return self.db.now().astimezone(time_zone(tz)).date()

    def close(self) -> None:
        """Release the connection pool."""
        self.db.engine.dispose()

    def __repr__(self) -> str:
        return f"Kaiten({self.url!r})"
