"""The ``Kaiten`` handle that :func:`connect` returns: one namespace per domain.

Each namespace method is a thin binding of a service (writes) or analytics (reads) function to
the connected database, so the console, notebooks, CLI and tests share one code path. Its
docstring is the public documentation (``help(kaiten.audit.trail)``); the examples assume
``import kaiten_analytics as ka`` and run as doctests in the suite.

Every error is a ``ka.KaitenError``: ``ValidationError`` for a malformed argument,
``NotFoundError`` for a slug or key that names nothing, ``ConflictError`` for a taken one,
``ReadOnlyError`` for a write through :meth:`Kaiten.read_only`'s handle.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import pandas as pd

from kaiten_analytics.analytics import audit_log, audit_stats, fleet
from kaiten_analytics.analytics import catalogue as catalogue_reads
from kaiten_analytics.analytics import flags as flag_reads
from kaiten_analytics.analytics import keys as key_reads
from kaiten_analytics.analytics import users as user_reads
from kaiten_analytics.analytics.instances import count_instances, get_instance, list_instances
from kaiten_analytics.analytics.rollup_check import rollup_mismatches
from kaiten_analytics.analytics.usage import usage_summary
from kaiten_analytics.analytics.usage_at import usage_at
from kaiten_analytics.analytics.value_over_time import value_over_time
from kaiten_analytics.config import zone as time_zone
from kaiten_analytics.db.database import Database
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
from kaiten_analytics.errors import ValidationError
from kaiten_analytics.limit_status import NEARING_PERCENT
from kaiten_analytics.service import catalogue, instances, keys, usage, users
from kaiten_analytics.service import flags as flag_writes
from kaiten_analytics.service import warehouse as warehouse_sync
from kaiten_analytics.webhooks import endpoints as webhook_endpoints
from kaiten_analytics.webhooks.relay import Relay


class _Namespace:
    def __init__(self, db: Database) -> None:
        self._db = db


class Customers(_Namespace):
    """``kaiten.customers``: the companies that own instances."""

    def create(self, slug: str, name: str) -> Customer:
        """Create a customer.

        Parameters
        ----------
        slug
            Lower-case letters, digits and single hyphens (at most 63 characters), unique.
        name
            The display name (at most 200 characters).

        Returns
        -------
        Customer
            slug, name, created_at (aware UTC).

        Raises
        ------
        ValidationError
            ``slug`` or ``name`` is malformed.
        ConflictError
            ``slug`` is taken.
        ReadOnlyError
            The handle is read-only.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> kaiten.customers.create("acme", "Acme Corp").name
        'Acme Corp'
        """
        return catalogue.create_customer(self._db, slug=slug, name=name)

    def list(self) -> pd.DataFrame:
        """List customers.

        Returns
        -------
        DataFrame
            slug, name, created_at (aware UTC) — ordered by slug.
        """
        return catalogue_reads.list_customers(self._db)

    def summary(self, customer: str | None = None) -> pd.DataFrame:
        """List customers with their live instance counts and license mix.

        Parameters
        ----------
        customer
            The slug of one customer; None = every customer.

        Returns
        -------
        DataFrame
            slug, name, created_at (aware UTC), instances (live instances, int), licenses
            (dict: license slug → live instances, most first) — ordered by slug; see
            :func:`kaiten_analytics.analytics.catalogue.customer_summary`.

        Raises
        ------
        NotFoundError
            ``customer`` names no customer.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> kaiten.customers.create("acme", "Acme Corp").slug
        'acme'
        >>> kaiten.customers.summary()[["slug", "instances", "licenses"]].to_dict("records")
        [{'slug': 'acme', 'instances': 0, 'licenses': {}}]
        """
        return catalogue_reads.customer_summary(self._db, customer=customer)


class Entitlements(_Namespace):
    """``kaiten.entitlements``: the catalogue of what a license can grant."""

    def create(self, slug: str, name: str, type: str = "NUMBER",
               aggregation_method: str | None = "SUM", unit: str | None = None,
               description: str = "") -> Entitlement:
        """Create a catalogue entitlement.

        Parameters
        ----------
        slug
            The entitlement's slug, unique.
        name
            The display name.
        type
            ``NUMBER`` (metered against a threshold), ``BOOLEAN`` or ``STRING``.
        aggregation_method
            How reports of a NUMBER combine: ``SUM``, ``COUNT``, ``AVERAGE``, ``MAX``, ``MIN``
            or ``LATEST``. For BOOLEAN and STRING leave the default or pass None.
        unit
            What a NUMBER counts (``"calls"``, ``"GB"`` …), or None.
        description
            Free text.

        Returns
        -------
        Entitlement
            slug, name, type, aggregation_method (None unless NUMBER), unit, description.

        Raises
        ------
        ValidationError
            A field is malformed, ``type`` or ``aggregation_method`` is unknown, or a method
            is given for a BOOLEAN or STRING.
        ConflictError
            ``slug`` is taken.
        ReadOnlyError
            The handle is read-only.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> kaiten.entitlements.create("api-calls", "API calls", unit="calls").aggregation_method
        'SUM'
        """
        return catalogue.create_entitlement(
            self._db, slug=slug, name=name, type=type, aggregation_method=aggregation_method,
            unit=unit, description=description)

    def list(self, license: str | None = None) -> pd.DataFrame:
        """List catalogue entitlements, or those of one license with the license's value.

        Parameters
        ----------
        license
            A license slug; None lists the whole catalogue.

        Returns
        -------
        DataFrame
            slug, name, type, aggregation_method, unit, description, value (the license's
            value — for NUMBER the threshold or the policy object, None without a license or
            without a limit) — ordered by slug.

        Raises
        ------
        NotFoundError
            ``license`` does not exist.
        ValidationError
            ``license`` is not a slug.
        """
        return catalogue_reads.list_entitlements(self._db, license=license)


class Licenses(_Namespace):
    """``kaiten.licenses``: license tiers and the entitlement values they grant."""

    def create(self, slug: str, name: str, entitlements: dict[str, Any] | None = None,
               description: str = "") -> License:
        """Create a license tier granting ``entitlements``.

        Parameters
        ----------
        slug
            The license's slug, unique.
        name
            The display name.
        entitlements
            ``{entitlement slug: value}``. A NUMBER value is the threshold (None = no limit);
            BOOLEAN and STRING values are the granted value and must be of that type.
        description
            Free text.

        Returns
        -------
        License
            slug, name, description, entitlements (``{slug: value}``).

        Raises
        ------
        ValidationError
            A field is malformed, or a value is not of its entitlement's type.
        NotFoundError
            An entitlement slug names nothing.
        ConflictError
            ``slug`` is taken.
        ReadOnlyError
            The handle is read-only.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> _ = kaiten.entitlements.create("api-calls", "API calls")
        >>> kaiten.licenses.create("pro", "Pro", {"api-calls": 1000}).entitlements
        {'api-calls': 1000}
        """
        return catalogue.create_license(self._db, slug=slug, name=name,
                                        entitlements=entitlements, description=description)

    def update(self, slug: str, /, *, name: str | None = None,
               entitlements: dict[str, Any] | None = None,
               description: str | None = None) -> License:
        """Change a license tier; the change takes effect for the next report.

        Parameters
        ----------
        slug
            The license's slug.
        name
            A new display name (None: unchanged).
        entitlements
            ``{entitlement slug: value}`` to set: adds the entitlement to the license or
            changes its value (a threshold, None = no limit, or a policy ``{"threshold",
            "period", "overage_percent", "warn_at"}``); entitlements not named stay as they
            are.
        description
            New free text (None: unchanged).

        Returns
        -------
        License
            slug, name, description, entitlements (every value of the license after the edit).

        Raises
        ------
        ValidationError
            A field is malformed, or a value is not of its entitlement's type (the field names
            the policy key at fault, e.g. ``entitlements.api-calls.period``).
        NotFoundError
            ``slug`` or an entitlement slug names nothing.
        ReadOnlyError
            The handle is read-only.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> _ = kaiten.entitlements.create("api-calls", "API calls")
        >>> _ = kaiten.licenses.create("pro", "Pro", {"api-calls": 1000})
        >>> policy = {"threshold": 10000, "period": "month", "warn_at": [80]}
        >>> kaiten.licenses.update("pro", entitlements={"api-calls": policy}).entitlements
        {'api-calls': {'threshold': 10000, 'period': 'month', 'warn_at': [80]}}
        """
        return catalogue.update_license(self._db, slug, name=name, entitlements=entitlements,
                                        description=description)

    def list(self) -> pd.DataFrame:
        """List license tiers.

        Returns
        -------
        DataFrame
            slug, name, description — ordered by slug.
        """
        return catalogue_reads.list_licenses(self._db)


class Zones(_Namespace):
    """``kaiten.zones``: deployment zones (regions) an instance can run in."""

    def create(self, slug: str, name: str) -> Zone:
        """Create a deployment zone.

        Parameters
        ----------
        slug
            The zone's slug, unique.
        name
            The display name.

        Returns
        -------
        Zone
            slug, name.

        Raises
        ------
        ValidationError
            ``slug`` or ``name`` is malformed.
        ConflictError
            ``slug`` is taken.
        ReadOnlyError
            The handle is read-only.
        """
        return catalogue.create_zone(self._db, slug=slug, name=name)

    def list(self) -> pd.DataFrame:
        """List deployment zones.

        Returns
        -------
        DataFrame
            slug, name — ordered by slug.
        """
        return catalogue_reads.list_zones(self._db)


class Instances(_Namespace):
    """``kaiten.instances``: a customer's deployments, each metered under one license."""

    def create(self, customer: str, name: str, slug: str, license: str, description: str = "",
               deployment_zone: str | None = None, license_start=None, license_end=None,
               metadata: dict[str, Any] | str | None = None) -> Instance:
        """Create an instance and write its ``INSTANCE_CREATED`` outbox event.

        Parameters
        ----------
        customer
            The owning customer's slug.
        name
            The display name.
        slug
            The instance's slug, unique (the name software reports usage under).
        license
            The license tier's slug.
        description
            Free text.
        deployment_zone
            A zone slug, or None.
        license_start, license_end
            The license term (``datetime.date`` or ``YYYY-MM-DD``; None = open). Reports
            outside it are rejected.
        metadata
            A JSON object (a dict or its text), or None.

        Returns
        -------
        Instance
            slug, name, customer, license, deployment_zone, description, license_start,
            license_end, metadata, created_at, updated_at, deleted_at.

        Raises
        ------
        ValidationError
            A field is malformed, or ``license_end`` is before ``license_start``.
        NotFoundError
            ``customer``, ``license`` or ``deployment_zone`` names nothing.
        ConflictError
            ``slug`` is taken.
        ReadOnlyError
            The handle is read-only.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> _ = kaiten.customers.create("acme", "Acme Corp")
        >>> _ = kaiten.licenses.create("pro", "Pro")
        >>> kaiten.instances.create("acme", "Acme production", "acme-prod", "pro").customer
        'acme'
        """
        return instances.create_instance(
            self._db, customer=customer, name=name, slug=slug, license=license,
            description=description, deployment_zone=deployment_zone,
            license_start=license_start, license_end=license_end, metadata=metadata)

    def update(self, slug: str, /, **changes: Any) -> Instance:
        """Change fields of an instance and write ``INSTANCE_UPDATED``.

        Parameters
        ----------
        slug
            The instance to change.
        **changes
            Any of name, slug (a new one), customer, license, deployment_zone, description,
            license_start, license_end, metadata; the outbox payload lists each changed field
            with its value before and after.

        Returns
        -------
        Instance
            The instance as changed.

        Raises
        ------
        ValidationError
            A field is unknown or malformed.
        NotFoundError
            ``slug`` names no live instance, or a reference names nothing.
        ConflictError
            The new slug is taken.
        ReadOnlyError
            The handle is read-only.
        """
        # ``slug`` is positional-only: a new slug may be one of ``changes``
        return instances.update_instance(self._db, slug, **changes)

    def delete(self, slug: str) -> None:
        """Soft-delete an instance and write ``INSTANCE_DELETED``.

        The instance leaves every list and takes no more reports; its history stays.

        Raises
        ------
        NotFoundError
            ``slug`` names no live instance.
        ValidationError
            ``slug`` is not a slug.
        ReadOnlyError
            The handle is read-only.
        """
        instances.delete_instance(self._db, slug=slug)

    def get(self, slug: str, include_deleted: bool = False) -> Instance:
        """Return one instance.

        Parameters
        ----------
        slug
            The instance's slug.
        include_deleted
            Return a soft-deleted instance too (else it is not found).

        Returns
        -------
        Instance
            See :meth:`create`.

        Raises
        ------
        NotFoundError
            ``slug`` names nothing (or a deleted instance, unless ``include_deleted``).
        ValidationError
            ``slug`` is not a slug.
        """
        return get_instance(self._db, slug=slug, include_deleted=include_deleted)

    def list(self, customer: str | None = None, limit: int | None = None,
             offset: int = 0) -> pd.DataFrame:
        """List live (not deleted) instances, optionally of one customer, one page at a time.

        Parameters
        ----------
        customer
            A customer slug; None lists every customer's instances.
        limit
            At most this many instances (1 to ``ka.PAGE_MAX``); None returns every one.
        offset
            Skip this many first (in slug order).

        Returns
        -------
        DataFrame
            slug, name, customer (slug), license (slug), deployment_zone (slug or None),
            license_start, license_end (dates or None), description, metadata (dict),
            created_at, updated_at (aware UTC), customer_name — ordered by slug.

        Raises
        ------
        NotFoundError
            ``customer`` does not exist.
        ValidationError
            ``customer`` is not a slug, or ``limit``/``offset`` is not a whole number in
            range.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> _ = kaiten.customers.create("acme", "Acme Corp")
        >>> _ = kaiten.licenses.create("pro", "Pro")
        >>> for slug in ("acme-a", "acme-b", "acme-c"):
        ...     _ = kaiten.instances.create("acme", slug, slug, "pro")
        >>> list(kaiten.instances.list(limit=2, offset=1)["slug"])
        ['acme-b', 'acme-c']
        """
        return list_instances(self._db, customer=customer, limit=limit, offset=offset)

    def count(self, customer: str | None = None) -> int:
        """Count live (not deleted) instances, optionally of one customer.

        Parameters
        ----------
        customer
            A customer slug; None counts every customer's instances.

        Returns
        -------
        int
            The number of rows :meth:`list` returns without a ``limit``.

        Raises
        ------
        NotFoundError
            ``customer`` does not exist.
        ValidationError
            ``customer`` is not a slug.
        """
        return count_instances(self._db, customer=customer)


class Usage(_Namespace):
    """``kaiten.usage``: metering — usage reports and entitlement reads."""

    def report(self, instance: str, entitlement: str, value: float,
               idempotency_key: str | None = None) -> UsageReport:
        """Report ``value`` of ``entitlement`` used by ``instance``; accept or reject it.

        The report is aggregated by the entitlement's method and accepted unless the result
        would exceed the license's threshold or falls outside the license term; either way
        it is in the audit trail. Concurrent reports are serialised on the usage row.

        Parameters
        ----------
        instance
            The instance's slug.
        entitlement
            A NUMBER entitlement of the instance's license.
        value
            A finite number, at most 2**53 either way.
        idempotency_key
            A retried report with the same key returns the first outcome (``replayed``) and
            writes nothing; keys are kept for 7 days.

        Returns
        -------
        UsageReport
            status (``ACCEPTED``/``REJECTED``), usage (``{"type", "value", "event_count"}``
            after the report), threshold, reason (why rejected), event_id, instance,
            entitlement, value, previous (the aggregate before), reached (this report took
            the aggregate to the threshold), replayed.

        Raises
        ------
        ValidationError
            A field is malformed, or the entitlement is not a NUMBER on the license.
        NotFoundError
            ``instance`` (or a deleted one) or ``entitlement`` names nothing.
        ConflictError
            ``idempotency_key`` was used for a different report.
        ReadOnlyError
            The handle is read-only.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> _ = kaiten.customers.create("acme", "Acme Corp")
        >>> _ = kaiten.entitlements.create("api-calls", "API calls")
        >>> _ = kaiten.licenses.create("pro", "Pro", {"api-calls": 10})
        >>> _ = kaiten.instances.create("acme", "Acme production", "acme-prod", "pro")
        >>> kaiten.usage.report("acme-prod", "api-calls", 7).status
        'ACCEPTED'
        >>> result = kaiten.usage.report("acme-prod", "api-calls", 5)
        >>> result.status, result.usage["value"]
        ('REJECTED', 7)
        """
        return usage.report_usage(self._db, instance=instance, entitlement=entitlement,
                                  value=value, idempotency_key=idempotency_key)

    def report_many(self, reports: Iterable[Any]) -> list[UsageReport]:
        """Apply many reports in order in one transaction.

        Parameters
        ----------
        reports
            Each a mapping with ``instance``, ``entitlement``, ``value`` and optionally
            ``idempotency_key``, or a tuple in that order.

        Returns
        -------
        list of UsageReport
            One per report, in order; see :meth:`report`.

        Raises
        ------
        ValidationError
            A report is malformed (the field is named ``reports[i].<field>``).
        NotFoundError
            An instance or entitlement anywhere names nothing: nothing is written.
        ConflictError
            An idempotency key was used for a different report.
        ReadOnlyError
            The handle is read-only.
        """
        return usage.report_many(self._db, reports=reports)

    def check(self, instance: str, entitlement: str, value: float) -> UsageReport:
        """Return what a report of ``value`` would do now, writing nothing (a dry run).

        The same checks and decision as :meth:`report` on the usage as it stands; no audit
        row, no usage change, no outbox event. A concurrent report may change the usage before
        a real report is made.

        Parameters
        ----------
        instance
            The instance's slug.
        entitlement
            A NUMBER entitlement of the instance's license.
        value
            A finite number, at most 2**53 either way.

        Returns
        -------
        UsageReport
            As :meth:`report` would return it (status, usage after, threshold, reason,
            period_start, reached), with event_id None.

        Raises
        ------
        ValidationError
            A field is malformed, or the entitlement is not a NUMBER on the license.
        NotFoundError
            ``instance`` (or a deleted one) or ``entitlement`` names nothing.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> _ = kaiten.customers.create("acme", "Acme Corp")
        >>> _ = kaiten.entitlements.create("api-calls", "API calls")
        >>> _ = kaiten.licenses.create("pro", "Pro", {"api-calls": 10})
        >>> _ = kaiten.instances.create("acme", "Acme production", "acme-prod", "pro")
        >>> kaiten.usage.check("acme-prod", "api-calls", 12).reason
        'the aggregate would be 12, above the threshold 10 (SUM)'
        """
        return usage.check_usage(self._db, instance=instance, entitlement=entitlement,
                                 value=value)

    def at(self, instance: str, entitlement: str, when: datetime | str
           ) -> dict[str, Any] | None:
        """Return the usage of ``entitlement`` as it stood at ``when``.

        Reports at exactly ``when`` count. Under a policy with a period it is that period's
        usage: None before the period's first accepted report. Read from the rollups and at
        most one 15-minute bucket of audit events; appends no read event.

        Parameters
        ----------
        instance
            The instance's slug (a deleted instance's past stays readable).
        entitlement
            The entitlement's slug.
        when
            An aware datetime or an RFC 3339 string.

        Returns
        -------
        dict or None
            ``{"type": "number", "value", "event_count"}``, or None.

        Raises
        ------
        ValidationError
            ``when`` is missing or not an instant, or a slug is malformed.
        NotFoundError
            ``instance`` or ``entitlement`` names nothing.
        """
        return usage_at(self._db, instance=instance, entitlement=entitlement, when=when)

    def get_value(self, instance: str, entitlement: str) -> EntitlementValue:
        """Return what ``instance`` is granted for ``entitlement`` and its usage.

        Appends the read event ``kaiten.v1.entitlement.value.get`` to the audit trail.

        Parameters
        ----------
        instance
            The instance's slug.
        entitlement
            An entitlement slug (any type).

        Returns
        -------
        EntitlementValue
            entitlement, type, value (the license value: threshold for NUMBER), usage
            (``{"type", "value", "event_count"}``, None before the first accepted report),
            event_id.

        Raises
        ------
        ValidationError
            A slug is malformed.
        NotFoundError
            ``instance`` (or a deleted one) or ``entitlement`` names nothing.
        ReadOnlyError
            The handle is read-only (the read is audited, so it writes).
        """
        return usage.get_value(self._db, instance=instance, entitlement=entitlement)

    def summary(self, instance: str) -> pd.DataFrame:
        """Summarise an instance's usage: one row per entitlement of its license.

        Parameters
        ----------
        instance
            The instance's slug.

        Returns
        -------
        DataFrame
            entitlement (slug), type, aggregation_method, granted (the license value: the
            threshold for NUMBER, None = no limit), usage (current aggregate, NaN before the
            first accepted report or for non-NUMBER), event_count (accepted reports),
            percent_used (0–100 of the threshold, NaN without a limit), updated_at (aware
            UTC, NaT before the first report), name, unit — ordered by entitlement.

        Raises
        ------
        NotFoundError
            ``instance`` names nothing.
        ValidationError
            ``instance`` is not a slug.
        """
        return usage_summary(self._db, instance=instance)

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
    """``kaiten.audit``: the audit trail of every report and read, and its statistics.

    Time filters: ``after`` is inclusive and ``before`` exclusive, each an aware
    ``datetime`` or an RFC 3339 string. ``tz`` is an IANA zone name (``"Europe/Berlin"``)
    whose local days the counts follow.
    """

    def trail(self, instance: str, event_name: str | None = None, after: Any = None,
              before: Any = None, limit: int = 50, offset: int = 0) -> pd.DataFrame:
        """Return an instance's audit trail, newest first.

        Parameters
        ----------
        instance
            The instance's slug (a deleted instance's trail is kept).
        event_name
            Only events of this name (see ``ka.EVENT_NAMES``).
        after, before
            The time range (inclusive, exclusive).
        limit, offset
            The page: at most ``limit`` events after skipping ``offset``.

        Returns
        -------
        DataFrame
            id, event_name, entitlement (slug), status, payload (dict), created_at (aware
            UTC).

        Raises
        ------
        NotFoundError
            ``instance`` names nothing.
        ValidationError
            A filter is malformed or out of range.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> _ = kaiten.customers.create("acme", "Acme Corp")
        >>> _ = kaiten.entitlements.create("api-calls", "API calls")
        >>> _ = kaiten.licenses.create("pro", "Pro", {"api-calls": 10})
        >>> _ = kaiten.instances.create("acme", "Acme production", "acme-prod", "pro")
        >>> _ = kaiten.usage.report("acme-prod", "api-calls", 7)
        >>> kaiten.audit.trail("acme-prod")[["event_name", "status"]].to_dict("records")
        [{'event_name': 'kaiten.v1.entitlement.usage.report.accepted', 'status': 'ACCEPTED'}]
        """
        return audit_log.audit_trail(self._db, instance=instance, event_name=event_name,
                                     after=after, before=before, limit=limit, offset=offset)

    def trail_records(self, instance: str, event_name: str | None = None, after: Any = None,
                      before: Any = None, limit: int = 50, offset: int = 0
                      ) -> list[dict[str, Any]]:
        """Return the page :meth:`trail` returns as a list of dicts, one per event.

        For code that sends the page on rather than analysing it (the REST API serializes
        it): the same filters, order, keys and errors as :meth:`trail`, without the DataFrame.

        Returns
        -------
        list of dict
            id, event_name, entitlement (slug), status, payload (dict), created_at (aware UTC
            ``datetime``), newest first.

        Raises
        ------
        NotFoundError
            ``instance`` names nothing.
        ValidationError
            A filter is malformed or out of range.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> _ = kaiten.demo.build(customers=1, instances=1, events=20, progress=False)
        >>> slug = kaiten.instances.list()["slug"].iloc[0]
        >>> page = kaiten.audit.trail_records(slug, limit=3)
        >>> [event["id"] for event in page] == list(kaiten.audit.trail(slug, limit=3)["id"])
        True
        """
        return audit_log.audit_trail_records(
            self._db, instance=instance, event_name=event_name, after=after, before=before,
            limit=limit, offset=offset)

    def events(self, instance: str, entitlement: str | None = None,
               event_name: str | None = None, status: str | None = None,
               search: str | None = None, after: Any = None, before: Any = None,
               limit: int = 50, offset: int = 0) -> pd.DataFrame:
        """Return one page of an instance's audit events, newest first (the console's log).

        Equal timestamps are ordered by id (descending), so paging is stable.

        Parameters
        ----------
        instance
            The instance's slug.
        entitlement, event_name, status
            Only events of this entitlement, name, or status (``ACCEPTED``, ``REJECTED`` …).
        search
            Matches event id, event name, entitlement and payload, case-insensitively.
        after, before
            The time range (inclusive, exclusive).
        limit, offset
            The page.

        Returns
        -------
        DataFrame
            id, event_name, entitlement (slug), status, payload (dict), created_at (aware
            UTC), category (Read/Accepted/Rejected).

        Raises
        ------
        NotFoundError
            ``instance`` or ``entitlement`` names nothing.
        ValidationError
            A filter is malformed or out of range.
        """
        return audit_log.audit_events(
            self._db, instance=instance, entitlement=entitlement, event_name=event_name,
            status=status, search=search, after=after, before=before, limit=limit,
            offset=offset)

    def count(self, instance: str, entitlement: str | None = None,
              event_name: str | None = None, status: str | None = None,
              search: str | None = None, after: Any = None, before: Any = None
              ) -> audit_log.EventCount:
        """Count the events :meth:`events` pages through.

        Without a search the count is exact and read from the rollups, so it costs the same
        for ten events or ten million; a text search is counted up to 10,000 and reported
        as inexact beyond that.

        Parameters
        ----------
        instance, entitlement, event_name, status, search, after, before
            The filters of :meth:`events`.

        Returns
        -------
        EventCount
            count, exact (False when a search count was capped).

        Raises
        ------
        NotFoundError
            ``instance`` or ``entitlement`` names nothing.
        ValidationError
            A filter is malformed.
        """
        return audit_log.count_events(
            self._db, instance=instance, entitlement=entitlement, event_name=event_name,
            status=status, search=search, after=after, before=before)

    def stats(self, instance: str, entitlement: str | None = None, tz: str = "UTC"
              ) -> AuditStats:
        """Return the four stats cards of an instance's events.

        Parameters
        ----------
        instance
            The instance's slug.
        entitlement
            Only this entitlement's events.
        tz
            The zone whose midnight starts "today".

        Returns
        -------
        AuditStats
            total (reports and reads), accepted, rejected (usage reports), today (events
            since local midnight in ``tz``).

        Raises
        ------
        NotFoundError
            ``instance`` or ``entitlement`` names nothing.
        ValidationError
            A slug is malformed or ``tz`` is not a time zone.
        """
        return audit_stats.audit_stats(self._db, instance=instance, entitlement=entitlement,
                                       tz=tz)

    def timeline(self, instance: str, entitlement: str | None = None, tz: str = "UTC",
                 days: int = 30) -> pd.DataFrame:
        """Count events per local day and category, for the ``days`` days ending today.

        Days with no events are present with zero, so the result has ``days`` × 3 rows.

        Parameters
        ----------
        instance
            The instance's slug.
        entitlement
            Only this entitlement's events.
        tz
            The zone whose local days are counted.
        days
            How many days, today included.

        Returns
        -------
        DataFrame
            day (local date, ``datetime.date``), category (``Read``/``Accepted``/
            ``Rejected``), events (int) — ordered by day, then category in that order.

        Raises
        ------
        NotFoundError
            ``instance`` or ``entitlement`` names nothing.
        ValidationError
            A slug is malformed, ``tz`` is not a time zone or ``days`` is out of range.
        """
        return audit_stats.audit_timeline(self._db, instance=instance,
                                          entitlement=entitlement, tz=tz, days=days)

    def value_over_time(self, instance: str, entitlement: str, max_points: int | None = None
                        ) -> pd.DataFrame:
        """Return the aggregate after each accepted report, with the threshold at that time.

        Parameters
        ----------
        instance
            The instance's slug.
        entitlement
            A NUMBER entitlement's slug.
        max_points
            Downsample to at most about this many points (e.g. 2000, for a chart): each
            window keeps its first, lowest, highest and last value, and every report that
            reached the threshold stays an exact point. None: every report.

        Returns
        -------
        DataFrame
            created_at (aware UTC), value (float), threshold (float, NaN without a limit),
            crossing (bool: this report took the aggregate to the threshold) — oldest first.

        Raises
        ------
        NotFoundError
            ``instance`` or ``entitlement`` names nothing.
        ValidationError
            A slug is malformed or ``max_points`` is out of range.
        """
        return value_over_time(self._db, instance=instance, entitlement=entitlement,
                               max_points=max_points)

    def rollup_mismatches(self, instance: str | None = None) -> pd.DataFrame:
        """Recount the raw audit trail and list where the rollups disagree.

        A consistency check that scans the raw events, not a console query.

        Parameters
        ----------
        instance
            Only this instance; None checks every instance.

        Returns
        -------
        DataFrame
            table (rollup table name), instance_id, entitlement_id, period (bucket or day
            number), column (reads/accepted/rejected), rollup (count stored), raw (count
            recounted) — one row per disagreement; empty when the rollups are right.

        Raises
        ------
        NotFoundError
            ``instance`` names nothing.
        ValidationError
            ``instance`` is not a slug.
        """
        return rollup_mismatches(self._db, instance=instance)


class Fleet(_Namespace):
    """``kaiten.fleet``: every live instance × NUMBER entitlement, across customers.

    Every method takes the filters ``customer``, ``license`` and ``zone`` (slugs; None = all;
    ``zone=ka.NO_ZONE`` keeps the instances without a deployment zone). An unknown filter
    slug raises ``NotFoundError``, a malformed one ``ValidationError``.
    """

    def consumption(self, customer: str | None = None, license: str | None = None,
                    zone: str | None = None) -> pd.DataFrame:
        """Return consumption against threshold for every live instance × NUMBER entitlement.

        Returns
        -------
        DataFrame
            instance, customer, license, deployment_zone, entitlement, aggregation_method,
            unit, threshold (NaN = no limit), usage (NaN before the first report),
            event_count, updated_at (aware UTC), license_start, license_end, percent_used
            (NaN without a limit or usage), band (one of ``ka.UTILISATION_BANDS``, see
            :func:`ka.utilisation_band`; None without a percentage), status
            (:func:`ka.limit_status`: ``no limit``, ``unused``, ``ok``, ``nearing`` (≥
            ``ka.NEARING_PERCENT``), ``at limit``).

        Raises
        ------
        NotFoundError
            A filter names nothing.
        ValidationError
            A filter is not a slug.
        """
        return fleet.consumption(self._db, customer=customer, license=license, zone=zone)

    def nearing_limits(self, percent: float = NEARING_PERCENT, customer: str | None = None,
                       license: str | None = None, zone: str | None = None) -> pd.DataFrame:
        """Return the pairs at or above ``percent`` of their limit, fullest first.

        Parameters
        ----------
        percent
            The cut-off, 0–100 of the threshold.

        Returns
        -------
        DataFrame
            The columns of :meth:`consumption`, only rows with percent_used ≥ ``percent``,
            plus at_limit (bool) — ordered by percent_used descending.

        Raises
        ------
        NotFoundError
            A filter names nothing.
        ValidationError
            A filter is not a slug or ``percent`` is not a number.
        """
        return fleet.nearing_limits(self._db, percent=percent, customer=customer,
                                    license=license, zone=zone)

    def blocked_demand(self, days: int = 30, customer: str | None = None,
                       license: str | None = None, zone: str | None = None) -> pd.DataFrame:
        """Return rejected usage reports per instance × entitlement over the last ``days``.

        Rejections are demand the license blocked: the clearest upsell signal.

        Parameters
        ----------
        days
            How many UTC days, today included.

        Returns
        -------
        DataFrame
            instance, customer, license, deployment_zone, entitlement, threshold, usage,
            rejected, accepted, rejection_rate (rejected / reports, 0–1), last_rejected_day
            (UTC date) — only pairs with rejections, most rejected first.

        Raises
        ------
        NotFoundError
            A filter names nothing.
        ValidationError
            A filter is not a slug or ``days`` is out of range.
        """
        return fleet.blocked_demand(self._db, days=days, customer=customer, license=license,
                                    zone=zone)

    def silent_metering(self, days: int = 7, customer: str | None = None,
                        license: str | None = None, zone: str | None = None) -> pd.DataFrame:
        """Return entitlements read but never reported, or not reported for ``days`` days.

        Parameters
        ----------
        days
            How many days without a report make a pair silent.

        Returns
        -------
        DataFrame
            instance, customer, license, deployment_zone, entitlement, reads (all time),
            reports (all time), last_read_day, last_report_day (UTC dates or None),
            days_silent (days since the last report; NaN when never reported), status
            (``never reported`` or ``silent``) — never-reported first, then the longest
            silent.

        Raises
        ------
        NotFoundError
            A filter names nothing.
        ValidationError
            A filter is not a slug or ``days`` is out of range.
        """
        return fleet.silent_metering(self._db, days=days, customer=customer, license=license,
                                     zone=zone)

    def burn_down(self, customer: str | None = None, license: str | None = None,
                  zone: str | None = None) -> pd.DataFrame:
        """Return the percent of each limit used against the percent of the term elapsed.

        A burn ratio above 1 means the instance uses its allowance faster than its term
        runs. Rows need a threshold and both license dates.

        Returns
        -------
        DataFrame
            instance, customer, license, entitlement, aggregation_method, usage, threshold,
            percent_used, license_start, license_end, percent_term_elapsed (0–100),
            burn_ratio (percent_used / percent_term_elapsed), projected_percent_at_end
            (SUM/COUNT only: the percentage reached at the end of the term at the pace so
            far), pace (``ahead`` > 1.1, ``on pace``, ``behind`` < 0.9) — highest burn
            ratio first.

        Raises
        ------
        NotFoundError
            A filter names nothing.
        ValidationError
            A filter is not a slug.
        """
        return fleet.burn_down(self._db, customer=customer, license=license, zone=zone)

    def forecast(self, window_days: int = 30, customer: str | None = None,
                 license: str | None = None, zone: str | None = None) -> pd.DataFrame:
        """Forecast the date each instance reaches each limit from its recent trend.

        A least-squares line through the daily closing aggregate over the last
        ``window_days`` UTC days; the date is today plus the headroom over the slope. Fewer
        than 3 days of reports give no forecast (``not enough data``); a flat or falling
        trend never reaches the limit (``flat or falling``); an aggregate at its threshold
        gets today (``at limit``).

        Parameters
        ----------
        window_days
            How many days of history the trend is fitted to.

        Returns
        -------
        DataFrame
            instance, customer, license, deployment_zone, entitlement, aggregation_method,
            usage, threshold, percent_used, slope_per_day, days_of_data, forecast_date
            (date or None), days_to_limit (float, NaN without a forecast), reason
            (``forecast``, ``at limit``, ``not enough data``, ``flat or falling``,
            ``unused``) — soonest first.

        Raises
        ------
        NotFoundError
            A filter names nothing.
        ValidationError
            A filter is not a slug or ``window_days`` is out of range.
        """
        return fleet.forecast(self._db, window_days=window_days, customer=customer,
                              license=license, zone=zone)

    def utilisation_bands(self, customer: str | None = None, license: str | None = None,
                          zone: str | None = None) -> pd.DataFrame:
        """Count instance × entitlement pairs per license and utilisation band (a heatmap).

        Returns
        -------
        DataFrame
            license, band (one of ``ka.UTILISATION_BANDS``), pairs (int) — every
            license × band combination present, zeros included.

        Raises
        ------
        NotFoundError
            A filter names nothing.
        ValidationError
            A filter is not a slug.
        """
        return fleet.utilisation_bands(self._db, customer=customer, license=license,
                                       zone=zone)


class Flags(_Namespace):
    """``kaiten.flags``: feature flags, their targeting rules and who gets which value."""

    def create(self, key: str, name: str, type: str, default_value: Any, enabled: bool = True,
               rules: Any = (), description: str = "") -> Flag:
        """Create a feature flag and write ``FEATURE_FLAG_CREATED``.

        Parameters
        ----------
        key
            The flag's key, unique: it names the flag in applications and seeds its rollouts.
        name
            The display name.
        type
            ``boolean``, ``string``, ``number`` or ``json``.
        default_value
            What the flag serves when no rule matches (of ``type``).
        enabled
            A disabled flag serves its default to everyone.
        rules
            A list of targeting rules, or its JSON text; each is validated.
        description
            Free text.

        Returns
        -------
        Flag
            key, name, type, default_value, enabled, rules, description, created_at,
            updated_at.

        Raises
        ------
        ValidationError
            A field or a rule is malformed, or a value is not of ``type``.
        ConflictError
            ``key`` is taken.
        ReadOnlyError
            The handle is read-only.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> kaiten.flags.create("dark-mode", "Dark mode", "boolean", False).enabled
        True
        """
        return flag_writes.create_flag(
            self._db, key=key, name=name, type=type, default_value=default_value,
            enabled=enabled, rules=rules, description=description)

    def update(self, key: str, /, **changes: Any) -> Flag:
        """Change fields of a flag; writes ``FEATURE_FLAG_UPDATED`` when something changed.

        Parameters
        ----------
        key
            The flag to change (the key itself cannot change).
        **changes
            Any of name, description, type, default_value, enabled, rules; the flag as
            changed must be whole (a new type needs a default and rules of that type).

        Returns
        -------
        Flag
            The flag as changed.

        Raises
        ------
        ValidationError
            A field is unknown or malformed.
        NotFoundError
            ``key`` names no flag.
        ReadOnlyError
            The handle is read-only.
        """
        return flag_writes.update_flag(self._db, key, **changes)

    def delete(self, key: str) -> None:
        """Delete a flag and write ``FEATURE_FLAG_DELETED`` with its last state.

        Raises
        ------
        NotFoundError
            ``key`` names no flag.
        ValidationError
            ``key`` is malformed.
        ReadOnlyError
            The handle is read-only.
        """
        flag_writes.delete_flag(self._db, key=key)

    def get(self, key: str) -> Flag:
        """Return one flag.

        Returns
        -------
        Flag
            See :meth:`create`.

        Raises
        ------
        NotFoundError
            ``key`` names no flag.
        ValidationError
            ``key`` is malformed.
        """
        return flag_reads.get_flag(self._db, key=key)

    def list(self) -> pd.DataFrame:
        """List every feature flag, ordered by key.

        Returns
        -------
        DataFrame
            key, name, type, enabled, default_value, rules (the list of rules), rule_count,
            description, created_at, updated_at (aware UTC).
        """
        return flag_reads.list_flags(self._db)

    def evaluate(self, key: str, instance: str) -> FlagEvaluation:
        """Return the value the flag ``key`` serves the live instance ``instance``, and why.

        A malformed flag does not raise: it serves its default with reason ``ERROR``.

        Returns
        -------
        FlagEvaluation
            value, reason (``DISABLED``, ``TARGETING_MATCH``, ``SPLIT``, ``DEFAULT`` or
            ``ERROR``), rule (index of the rule that served it, or None), error, key.

        Raises
        ------
        NotFoundError
            ``key`` or ``instance`` (a deleted one too) names nothing.
        ValidationError
            ``key`` or ``instance`` is malformed.

        Examples
        --------
        >>> kaiten = ka.connect("sqlite://")
        >>> _ = kaiten.customers.create("acme", "Acme Corp")
        >>> _ = kaiten.licenses.create("pro", "Pro")
        >>> _ = kaiten.instances.create("acme", "Acme production", "acme-prod", "pro")
        >>> _ = kaiten.flags.create("dark-mode", "Dark mode", "boolean", False)
        >>> evaluation = kaiten.flags.evaluate("dark-mode", "acme-prod")
        >>> evaluation.value, evaluation.reason
        (False, 'DEFAULT')
        """
        return flag_reads.evaluate_flag(self._db, key=key, instance=instance)

    def evaluate_all(self, instance: str) -> pd.DataFrame:
        """Evaluate every flag for the live instance ``instance``, ordered by flag key.

        Returns
        -------
        DataFrame
            key, name, type, value (what the instance gets), reason (DISABLED,
            TARGETING_MATCH, SPLIT, DEFAULT or ERROR), rule (index of the rule that served
            the value — or, with ERROR, of the malformed rule; <NA> otherwise), explanation
            (why, in words), error (what is malformed, None unless ERROR).

        Raises
        ------
        NotFoundError
            ``instance`` (a deleted one too) names nothing.
        ValidationError
            ``instance`` is not a slug.
        """
        return flag_reads.evaluate_all(self._db, instance=instance)

    def exposure(self, key: str) -> pd.DataFrame:
        """Evaluate the flag ``key`` for every live instance: who gets which value, and why.

        Returns
        -------
        DataFrame
            instance, customer, license, deployment_zone (slugs; None without one), value,
            reason, rule (<NA> when no rule served the value), explanation — ordered by
            instance.

        Raises
        ------
        NotFoundError
            ``key`` names no flag.
        ValidationError
            ``key`` is malformed.
        """
        return flag_reads.flag_exposure(self._db, key=key)

    def exposure_summary(self, key: str) -> pd.DataFrame:
        """Count the live instances getting each value of the flag ``key``, by reason and rule.

        Returns
        -------
        DataFrame
            value, reason, rule (<NA> when no rule served it), instances (count), share
            (percent of live instances, 0–100) — most instances first.

        Raises
        ------
        NotFoundError
            ``key`` names no flag.
        ValidationError
            ``key`` is malformed.
        """
        return flag_reads.exposure_summary(self._db, key=key)


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
        ReadOnlyError
            The handle is read-only.
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
        ReadOnlyError
            The handle is read-only.
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


class Warehouse(_Namespace):
    """``kaiten.warehouse``: the ClickHouse copy of the audit trail.

    Needs a warehouse URL (``connect(..., warehouse_url=...)`` or ``$KAITEN_WAREHOUSE_URL``);
    without one every method raises ``ValidationError(field="warehouse_url")``.
    """

    def _mirror(self):
        if self._db.warehouse is None:
            raise ValidationError("warehouse_url", "no warehouse configured: set "
                                  "KAITEN_WAREHOUSE_URL or pass connect(warehouse_url=...)")
        return self._db.warehouse

    @property
    def configured(self) -> bool:
        """Whether a warehouse is configured (reads then come from it)."""
        return self._db.warehouse is not None

    def sync(self, *, batch_rows: int = warehouse_sync.BATCH_ROWS, from_start: bool = False,
             progress: bool = False) -> warehouse_sync.SyncResult:
        """Copy new audit events and usage rows into the warehouse; return what was copied.

        Idempotent and resumable: it starts from the watermark the warehouse stores and only
        inserts event ids it lacks, so re-running it (even after ``kill -9``) never counts an
        event twice. ``from_start`` re-reads the whole trail (after a backfill with a past
        clock). ``progress`` shows a tqdm bar on stderr.

        Returns
        -------
        SyncResult
            events (new to the warehouse), events_read, usage_rows, watermark (last id).

        Raises
        ------
        ValidationError
            No warehouse is configured.
        """
        return warehouse_sync.run_sync(engine=self._db.engine, warehouse=self._mirror(),
                                       batch_rows=batch_rows, from_start=from_start,
                                       progress=progress)

    def verify(self) -> pd.DataFrame:
        """Compare event counts per instance × UTC day × category with the system of record.

        Returns
        -------
        DataFrame
            instance (slug), day (UTC date), category (Read/Accepted/Rejected),
            system_of_record, warehouse_events, warehouse_rollup (ints) — one row per
            disagreement; empty when the warehouse agrees.

        Raises
        ------
        ValidationError
            No warehouse is configured.
        """
        return warehouse_sync.verify(engine=self._db.engine, warehouse=self._mirror())

    def status(self) -> dict[str, Any]:
        """Return the warehouse's database, schema version and watermarks.

        Raises
        ------
        ValidationError
            No warehouse is configured.
        """
        return warehouse_sync.status(warehouse=self._mirror())

class Webhooks(_Namespace):
    """``kaiten.webhooks``: endpoints that receive the outbox events, and the relay.

    Every outbox event written after an endpoint was added (and matching its ``events``) gets
    one delivery to it, signed per Standard Webhooks; ``run`` delivers them at least once.
    """

    def add(self, url: str, events: Iterable[str] | str | None = None,
            description: str = "") -> WebhookEndpoint:
        """Add an endpoint and return it with its new signing secret (shown this once).

        Parameters
        ----------
        url
            An ``http://`` or ``https://`` URL. Loopback and private addresses are refused at
            delivery unless ``$KAITEN_WEBHOOKS_ALLOW_PRIVATE=1``.
        events
            Event types to receive (a list, or comma-separated text); None = every type.
        description
            Free text, at most 1,000 characters.

        Returns
        -------
        WebhookEndpoint
            ``.secret`` is ``whsec_`` + base64 of 32 random bytes; only its encryption is kept.

        Raises
        ------
        ValidationError
            ``url`` not http(s), an unknown event type, a description too long.
        ReadOnlyError
            The handle is read-only.
        """
        return webhook_endpoints.add_endpoint(self._db, url=url, events=events,
                                              description=description)

    def get(self, endpoint: int) -> WebhookEndpoint:
        """Return one endpoint (never its secret).

        Raises
        ------
        NotFoundError
            No endpoint has this id.
        """
        return webhook_endpoints.get_endpoint(self._db, endpoint=endpoint)

    def list(self) -> pd.DataFrame:
        """List endpoints, oldest first.

        Returns
        -------
        DataFrame
            id, url, events (list of types; None = every type), description, enabled,
            disabled_reason, created_at.
        """
        return webhook_endpoints.list_endpoints(self._db)

    def remove(self, endpoint: int) -> None:
        """Remove an endpoint with its secrets, deliveries and their attempts.

        Raises
        ------
        NotFoundError
            No endpoint has this id.
        ReadOnlyError
            The handle is read-only.
        """
        webhook_endpoints.remove_endpoint(self._db, endpoint=endpoint)

    def enable(self, endpoint: int) -> None:
        """Enable an endpoint again after a 410 disabled it; its waiting deliveries go out.

        Raises
        ------
        NotFoundError
            No endpoint has this id.
        ReadOnlyError
            The handle is read-only.
        """
        webhook_endpoints.enable_endpoint(self._db, endpoint=endpoint)

    def disable(self, endpoint: int, reason: str = "disabled by hand") -> None:
        """Disable an endpoint: nothing is sent to it until :meth:`enable`.

        Deliveries already queued wait and go out once it is enabled; events written while it
        is disabled are not delivered to it (as after a 410).

        Parameters
        ----------
        endpoint
            The endpoint's id.
        reason
            Why, shown as ``disabled_reason`` (at most 1,000 characters).

        Raises
        ------
        NotFoundError
            No endpoint has this id.
        ValidationError
            ``reason`` too long.
        ReadOnlyError
            The handle is read-only.
        """
        webhook_endpoints.disable_endpoint(self._db, endpoint=endpoint, reason=reason)

    def rotate_secret(self, endpoint: int) -> str:
        """Return a new signing secret for the endpoint (shown this once).

        The previous secret keeps signing beside it for 24 hours: each message carries both
        signatures, so a receiver can switch without a gap.

        Raises
        ------
        NotFoundError
            No endpoint has this id.
        ReadOnlyError
            The handle is read-only.
        """
        return webhook_endpoints.rotate_secret(self._db, endpoint=endpoint)

    def deliveries(self, endpoint: int | None = None, status: str | None = None,
                   limit: int = 50, offset: int = 0) -> pd.DataFrame:
        """List deliveries, newest first: ``offset`` rows skipped, then at most ``limit``.

        Returns
        -------
        DataFrame
            id, endpoint_id, url, event_id (the ``webhook-id``), event_type, status
            (pending / delivering / succeeded / failed), attempts, last_status_code,
            last_error, next_attempt_at, created_at, updated_at.

        Raises
        ------
        ValidationError
            an unknown ``status``, ``limit`` outside 1–1000, a negative ``offset``.
        """
        return webhook_endpoints.list_deliveries(self._db, endpoint=endpoint, status=status,
                                                 limit=limit, offset=offset)

    def attempts(self, delivery: int) -> pd.DataFrame:
        """List one delivery's attempts, oldest first.

        Returns
        -------
        DataFrame
            id, delivery_id, attempted_at, status_code, duration_ms, error, response_excerpt.

        Raises
        ------
        NotFoundError
            No delivery has this id.
        """
        return webhook_endpoints.list_attempts(self._db, delivery=delivery)

    def retry(self, delivery: int) -> None:
        """Make a delivery due now (one more attempt for a failed one; a re-send otherwise).

        Raises
        ------
        NotFoundError
            No delivery has this id.
        ConflictError
            It is being attempted right now, or its endpoint is disabled.
        ReadOnlyError
            The handle is read-only.
        """
        webhook_endpoints.retry_delivery(self._db, delivery=delivery)

    def send_test(self, endpoint: int) -> str:
        """Queue a ``WEBHOOK_TEST`` message to this endpoint alone; return its ``webhook-id``.

        Raises
        ------
        NotFoundError
            No endpoint has this id.
        ReadOnlyError
            The handle is read-only.
        """
        return webhook_endpoints.send_test(self._db, endpoint=endpoint)

    def run(self, once: bool = False, *, stop: threading.Event | None = None,
            timeout: float = 15.0, lease: float = 30.0, poll_interval: float = 0.2,
            max_in_flight: int = 8, allow_private: bool | None = None) -> WebhookRunStats:
        """Run the relay: deliver due deliveries until ``stop`` is set (``once``: one pass).

        Parameters
        ----------
        once
            Make one attempt at every delivery due now, then return.
        stop
            Set it (from another thread) to stop; what is in flight is finished and recorded.
        timeout
            Seconds per attempt (default 15).
        lease
            Seconds a claimed delivery is held before another relay may take it (≤ 30).
        poll_interval
            Seconds between looks for new deliveries when idle.
        max_in_flight
            Concurrent attempts per endpoint.
        allow_private
            Call private/loopback addresses; default ``$KAITEN_WEBHOOKS_ALLOW_PRIVATE``.

        Returns
        -------
        WebhookRunStats
            attempted, succeeded, failed: the attempts this run made.

        Raises
        ------
        ValidationError
            ``timeout``, ``lease``, ``poll_interval`` or ``max_in_flight`` out of range; the
            secrets' key (``$KAITEN_WEBHOOKS_SECRET_KEY``) missing or wrong.
        """
        relay = Relay(db=self._db, timeout=timeout, lease=lease, poll_interval=poll_interval,
                      max_in_flight=max_in_flight, allow_private=allow_private)
        return relay.run(once=once, stop=stop)



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
        self.warehouse = Warehouse(db)
        self.webhooks = Webhooks(db)

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
        """Release the connections (and the warehouse client)."""
        self.db.close()
        if self.db.warehouse is not None:
            self.db.warehouse.close()

    def __repr__(self) -> str:
        return f"Kaiten({self.url!r})"
