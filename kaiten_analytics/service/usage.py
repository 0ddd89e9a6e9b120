"""Usage reports and entitlement reads: the heart of metering.

Every report runs in one transaction: resolve and check the instance and entitlement, take the
usage row's lock, decide with :mod:`kaiten_analytics.service.aggregation`, then write the usage
row, the audit event, its rollups and (on reaching the threshold) the outbox event together.

Reports outside the license term (before ``license_start`` or after ``license_end``, in UTC
dates) are REJECTED with the reason, like an over-limit report: the customer's software gets a
clear answer and the attempt is in the audit trail.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.models import (
    customers,
    entitlement_usage,
    entitlements,
    idempotency_keys,
    instances,
    licenses,
)
from kaiten_analytics.db.usage_json import decode_usage, encode_usage, json_number
from kaiten_analytics.entities import EntitlementValue, UsageReport
from kaiten_analytics.errors import ConflictError, NotFoundError, ValidationError
from kaiten_analytics.events import (
    ACCEPTED,
    REJECTED,
    USAGE_ACCEPTED,
    USAGE_REACHED,
    USAGE_RECOVERED,
    USAGE_REJECTED,
    USAGE_WARNING,
    VALUE_GET,
)
from kaiten_analytics.periods import current_usage, rfc3339
from kaiten_analytics.service import metering
from kaiten_analytics.service.ledger import Ledger, Target

#: How long an idempotency key is honoured; ``kaiten db purge-keys`` deletes older ones.
IDEMPOTENCY_RETENTION = timedelta(days=7)
KEY_MAX = 200
#: the largest report (either sign): the largest whole number a float — and JSON — holds
#: exactly; far below it no sum or average of reports can overflow to infinity
VALUE_MAX = 2**53
#: a purge age beyond this (about a century) keeps every key, like this one
PURGE_HOURS_MAX = 24 * 366 * 100


def report_usage(db: Database, instance: str, entitlement: str, value: Any,
                 idempotency_key: str | None = None) -> UsageReport:
    """Report ``value`` of ``entitlement`` used by ``instance``; accept or reject it.

    A retried report with the same ``idempotency_key`` returns the first outcome and writes
    nothing; the same key with another instance, entitlement or value is a ``ConflictError``.
    """
    request = _checked(instance, entitlement, value, idempotency_key, "")
    return _apply(db, [request], [request])[0]


def report_many(db: Database, reports: Iterable[Any]) -> list[UsageReport]:
    """Apply ``reports`` in order in one transaction; return one ``UsageReport`` each.

    Each report is a mapping with ``instance``, ``entitlement``, ``value`` and optionally
    ``idempotency_key``, or a tuple in that order. All are checked before anything is written;
    an unknown instance or entitlement anywhere refuses the whole batch.
    """
    items = fields.items(reports, "reports")
    requests = [_request(index, item) for index, item in enumerate(items)]
    if not requests:
        return []
    return _apply(db, requests, items)


def _apply(db: Database, requests: list[tuple[str, str, float, str | None]],
           items: list[Any]) -> list[UsageReport]:
    """Apply checked ``requests`` (from ``items``, for error locations) in one transaction."""
    with db.transaction() as connection:
        ledger = Ledger(connection)
        # one distinct usage row (a single report): resolve and lock it in one round trip
        single = len({(instance, entitlement) for instance, entitlement, _, _ in requests}) == 1
        targets = []
        for index, (instance, entitlement, _, _) in enumerate(requests):
            try:
                target = ledger.resolve(instance, entitlement, lock=single, checked=True)
                _check_meterable(target)
            except (NotFoundError, ValidationError) as error:
                raise _located(error, _prefix(index, items[index])) from None
            targets.append(target)
        ledger.lock_many(targets)
        # "now" is read after the locks: events of one usage row get their times in lock order
        now = db.now()
        # a report's outcome becomes its UsageReport after the commit, outside the write lock,
        # unless an idempotency key stores it (or a repeat of the key in the batch needs it)
        results: list[UsageReport | Applied] = []
        claimed: dict[str, tuple[str, int]] = {}  # key -> (request hash, index in results)
        for (_, _, value, key), target in zip(requests, targets, strict=True):
            if key is not None:
                request_hash = _request_hash(target, value)
                if key in claimed:  # the same key twice in one batch
                    if claimed[key][0] != request_hash:
                        raise _key_conflict(key)
                    results.append(replace(_report_at(results, claimed[key][1]),
                                           replayed=True))
                    continue
                earlier = _claim_key(ledger, key, request_hash, now)
                if earlier is not None:
                    results.append(earlier)
                    continue
                claimed[key] = (request_hash, len(results))
            results.append(apply_in_ledger(ledger, target, value, now, key))
        for key, (_, index) in claimed.items():
            ledger.store_response(key, _stored(_report_at(results, index)))
        ledger.flush()
    return [result if isinstance(result, UsageReport) else _report(*result)
            for result in results]


def _report_at(results: list[UsageReport | Applied], index: int) -> UsageReport:
    """The ``UsageReport`` of ``results[index]``, built now (and kept) if it is an outcome."""
    result = results[index]
    if not isinstance(result, UsageReport):
        result = results[index] = _report(*result)
    return result


def get_value(db: Database, instance: str, entitlement: str) -> EntitlementValue:
    """Return what ``instance`` is granted for ``entitlement`` and its usage; audit the read.

    Returns the license value (the threshold for NUMBER), the type, and the usage
    ``{"type", "value", "event_count"}`` (None before the first accepted report). Appends
    ``kaiten.v1.entitlement.value.get``.
    """
    with db.transaction() as connection:
        ledger = Ledger(connection)
        target = ledger.resolve(instance, entitlement)
        if not target.on_license:
            raise _not_on_license(target)
        now = db.now()
        result = record_read(ledger, target, now, _current_usage(connection, target, now))
        ledger.flush()
    return result


def record_read(ledger: Ledger, target: Target, now: datetime, usage: dict | None
                ) -> EntitlementValue:
    """Queue the ``value.get`` audit event of a read of ``target`` and return what was read."""
    event_id = ledger.append(target, VALUE_GET, now, {
        "instance": target.instance, "entitlement": target.entitlement,
        "type": target.type, "value": target.granted, "usage": usage,
    })
    return EntitlementValue(entitlement=target.entitlement, type=target.type,
                            value=target.granted, usage=usage, event_id=event_id,
                            policy=target.stored_policy)


def purge_idempotency_keys(db: Database, older_than_hours: float | None = None) -> int:
    """Delete idempotency keys older than the retention (7 days); return how many."""
    if older_than_hours is not None:
        older_than_hours = fields.finite_number(older_than_hours, "older_than_hours")
        if older_than_hours < 24:
            raise ValidationError("older_than_hours", "keys are kept at least 24 hours")
        older_than_hours = min(older_than_hours, PURGE_HOURS_MAX)
    age = (IDEMPOTENCY_RETENTION if older_than_hours is None
           else timedelta(hours=older_than_hours))
    with db.transaction() as connection:
        return connection.execute(
            idempotency_keys.delete().where(idempotency_keys.c.created_at < db.now() - age)
        ).rowcount


# --- one report ---------------------------------------------------------------------------------
class Applied(NamedTuple):
    """What one applied report leaves for its ``UsageReport`` (built by :func:`_report`)."""

    target: Target
    decision: metering.Decision
    value: float
    event_id: str | None


def apply_in_ledger(ledger: Ledger, target: Target, value: float, now: datetime,
                    key: str | None = None) -> Applied:
    """Decide one report of ``target`` at ``now`` and queue its writes in ``ledger``.

    The caller holds the usage row's lock (``ledger.lock_usage``) and flushes the ledger.
    Returns the outcome, from which the report's ``UsageReport`` is built when it is needed
    (after the commit for a plain report; never for the demo's history).
    """
    decision = _decide(target, ledger.usage_state(target).stored(), value, now)
    threshold = json_number(target.threshold)
    payload: dict[str, Any] = {
        "instance": target.instance, "entitlement": target.entitlement, "value": json_number(value),
        "aggregation_method": target.method, "threshold": threshold,
        "aggregate_before": json_number(decision.before),
        "period_start": rfc3339(decision.period_start),
        "period_end": rfc3339(decision.period_end),
    }
    if key is not None:
        payload["idempotency_key"] = key
    if not decision.accepted:  # rejected: the stored usage stays exactly as it was
        payload.update(aggregate_after=json_number(decision.before),
                       event_count=decision.count_before, reason=decision.reason)
        event_id = ledger.append(target, USAGE_REJECTED, now, payload)
        return Applied(target, decision, value, event_id)
    after = decision.after
    ledger.set_usage(target, after, decision.event_count, now, decision.period_start,
                     decision.period_end, decision.warned)
    payload.update(aggregate_after=json_number(after), event_count=decision.event_count,
                   reason=None, reached=decision.reached)
    if decision.warnings:
        payload["warnings"] = [json_number(level) for level in decision.warnings]
    if decision.recovered:
        payload["recovered"] = True
    event_id = ledger.append(target, USAGE_ACCEPTED, now, payload, value_after=after,
                             reached=decision.reached)
    if decision.reached or decision.warnings or decision.recovered:
        _limit_events(ledger, target, decision, now, event_id)
    return Applied(target, decision, value, event_id)


def _decide(target: Target, stored: metering.Stored, value: float, now: datetime
            ) -> metering.Decision:
    reason = _outside_term(target, now)
    if reason is not None:
        return metering.rejected(stored, target.policy, now, reason)
    return metering.decide(target.method, target.policy, stored, value, now)


def _report(target: Target, decision: metering.Decision, value: float, event_id: str | None
            ) -> UsageReport:
    """The ``UsageReport`` of a decision (``event_id`` None: a dry run)."""
    if decision.accepted:
        usage, status = encode_usage(decision.after, decision.event_count), ACCEPTED
    else:
        usage, status = encode_usage(decision.before, decision.count_before), REJECTED
    return UsageReport(status, usage, json_number(target.threshold), decision.reason, event_id,
                       target.instance, target.entitlement, json_number(value),
                       json_number(decision.before), decision.reached,
                       rfc3339(decision.period_start))


def check_usage(db: Database, instance: str, entitlement: str, value: Any) -> UsageReport:
    """Return the ``UsageReport`` a report of ``value`` would get now; write nothing.

    The same checks and the same decision as :func:`report_usage`, on the stored usage as it
    is (not locked: a concurrent report may change it before a real one); ``event_id`` is
    None and no audit row, usage change or outbox event is written.
    """
    value = fields.finite_number(value, "value")
    with db.read() as connection:
        target = Ledger(connection).resolve(instance, entitlement)
        _check_meterable(target)
        row = connection.execute(_STORED_STATE, {
            "k_instance_id": target.instance_id, "k_entitlement_id": target.entitlement_id,
        }).first()
        now = db.now()
    stored = metering.Stored() if row is None else metering.Stored(
        *decode_usage(row.value), row.period_start, row.period_end, tuple(row.warned or ()))
    return _report(target, _decide(target, stored, value, now), value, None)


def _limit_events(ledger: Ledger, target: Target, decision: metering.Decision, now: datetime,
                  event_id: str) -> None:
    """Queue the outbox events of a report: RECOVERED, a WARNING per new level, REACHED."""
    common = {"instance": target.instance, "entitlement": target.entitlement,
              "value": json_number(decision.after), "threshold": json_number(target.threshold),
              "period_start": rfc3339(decision.period_start), "audit_event_id": event_id,
              "at": now.isoformat()}
    if decision.recovered:
        ledger.outbox(now, "instance", target.instance, USAGE_RECOVERED, common)
    for level in decision.warnings:
        ledger.outbox(now, "instance", target.instance, USAGE_WARNING,
                      {**common, "percent": json_number(level)})
    if decision.reached:
        ledger.outbox(now, "instance", target.instance, USAGE_REACHED, {
            **common, **_reached_context(ledger.connection, target, decision.event_count)})


def _reached_context(connection: sa.Connection, target: Target, event_count: int
                     ) -> dict[str, Any]:
    """What a webhook receiver needs beside the values (one lookup, only when a limit is hit)."""
    row = connection.execute(
        sa.select(customers.c.slug.label("customer"), licenses.c.slug.label("license"),
                  entitlements.c.unit)
        .select_from(instances.join(customers, customers.c.id == instances.c.customer_id)
                     .join(licenses, licenses.c.id == instances.c.license_id))
        .join(entitlements, entitlements.c.id == target.entitlement_id)
        .where(instances.c.id == target.instance_id)
    ).one()
    return {"customer": row.customer, "license": row.license,
            "aggregation_method": target.method, "unit": row.unit, "event_count": event_count}


def _check_meterable(target: Target) -> None:
    if target.type != "NUMBER":
        raise ValidationError(
            "entitlement", f"{target.entitlement!r} is a {target.type} entitlement; only "
                           "NUMBER entitlements take usage reports")
    if not target.on_license:
        raise _not_on_license(target)


def _not_on_license(target: Target) -> ValidationError:
    return ValidationError("entitlement", f"{target.entitlement!r} is not part of the license "
                                          f"of instance {target.instance!r}")


def _outside_term(target: Target, now: datetime) -> str | None:
    today = now.date()
    if target.license_start is not None and today < target.license_start:
        return f"the license term starts on {target.license_start.isoformat()}"
    if target.license_end is not None and today > target.license_end:
        return f"the license term ended on {target.license_end.isoformat()}"
    return None


def _current_usage(connection: sa.Connection, target: Target, now: datetime) -> dict | None:
    """The usage of the period holding ``now`` (None before its first accepted report)."""
    row = connection.execute(_CURRENT_USAGE, {"k_instance_id": target.instance_id,
                                              "k_entitlement_id": target.entitlement_id}
                             ).first()
    if row is None:
        return None
    return encode_usage(*current_usage(row.value, row.period_start, row.period_end,
                                                target.policy, now))


_eu = entitlement_usage
_STORED_STATE = sa.select(_eu.c.value, _eu.c.period_start, _eu.c.period_end, _eu.c.warned).where(
    (_eu.c.instance_id == sa.bindparam("k_instance_id"))
    & (_eu.c.entitlement_id == sa.bindparam("k_entitlement_id")))
_CURRENT_USAGE = sa.select(_eu.c.value, _eu.c.period_start, _eu.c.period_end).where(
    (entitlement_usage.c.instance_id == sa.bindparam("k_instance_id"))
    & (entitlement_usage.c.entitlement_id == sa.bindparam("k_entitlement_id")))


# --- input and idempotency ------------------------------------------------------------------------
def _prefix(index: int, item: Any) -> str:
    """``reports[i].`` before a field of a batch's report (none for a single report)."""
    return f"reports[{index}]." if index or isinstance(item, Mapping) else ""


def _located(error: NotFoundError | ValidationError, prefix: str
             ) -> NotFoundError | ValidationError:
    """``error`` with its field named inside the batch (``reports[1].instance``)."""
    if not prefix:
        return error
    if isinstance(error, ValidationError):
        return ValidationError(prefix + error.field, error.reason)
    located = NotFoundError(error.entity, error.key, error.message)
    located.field = prefix + error.field
    return located


def _request(index: int, item: Any) -> tuple[str, str, float, str | None]:
    prefix = _prefix(index, item)
    if isinstance(item, Mapping):
        unknown = set(item) - {"instance", "entitlement", "value", "idempotency_key"}
        if unknown:
            raise ValidationError(f"{prefix}{sorted(unknown, key=str)[0]}",
                                  "is not a report field")
        item = (item.get("instance"), item.get("entitlement"), item.get("value"),
                item.get("idempotency_key"))
    if not isinstance(item, Sequence) or isinstance(item, str) or len(item) not in (3, 4):
        raise ValidationError(f"reports[{index}]", "must be (instance, entitlement, value"
                                                   "[, idempotency_key]) or a mapping")
    instance, entitlement, value, *rest = item
    return _checked(instance, entitlement, value, rest[0] if rest else None, prefix)


def _checked(instance: Any, entitlement: Any, value: Any, key: Any, prefix: str
             ) -> tuple[str, str, float, str | None]:
    """One report's fields, checked (``prefix`` locates them in a batch)."""
    value = fields.number_between(value, f"{prefix}value", -VALUE_MAX, VALUE_MAX)
    if key is not None and (not isinstance(key, str) or not key.strip()
                            or len(key) > KEY_MAX):
        raise ValidationError(f"{prefix}idempotency_key",
                              f"must be a non-empty string of at most {KEY_MAX} characters")
    if key is not None:
        fields.storable(key, f"{prefix}idempotency_key")
    try:  # checked here, before a batch hashes its (instance, entitlement) pairs
        fields.lookup_slug(instance, f"{prefix}instance", "instance")
        fields.lookup_slug(entitlement, f"{prefix}entitlement", "entitlement")
    except NotFoundError as error:
        raise _located(error, prefix) from None
    return instance, entitlement, value, key


def _request_hash(target: Target, value: float) -> str:
    body = json.dumps([target.instance_id, target.entitlement_id, value])
    return hashlib.sha256(body.encode()).hexdigest()


def _claim_key(ledger: Ledger, key: str, request_hash: str, now: datetime
               ) -> UsageReport | None:
    """Claim ``key`` for this transaction, or return the outcome it already stands for.

    The key row is written in the same transaction as the report's effect, so a failed
    report leaves no key behind; a key older than the retention counts as new.
    """
    held = ledger.claim_key(key, request_hash, now, now - IDEMPOTENCY_RETENTION)
    if held is None:
        return None
    if held["request_hash"] != request_hash or held["response"] is None:
        raise _key_conflict(key)
    return replace(UsageReport(**held["response"]), replayed=True)


def _key_conflict(key: str) -> ConflictError:
    return ConflictError("idempotency_key", f"{key!r} was already used for a different report")


_STORED_FIELDS = tuple(f.name for f in dataclass_fields(UsageReport) if f.name != "replayed")


def _stored(report: UsageReport) -> dict[str, Any]:
    """The outcome an idempotency key stands for: the report's fields, JSON-ready values."""
    return {name: getattr(report, name) for name in _STORED_FIELDS}
