"""Usage at a past moment: the aggregate as it stood, from the rollups and one bucket of events.

The state at ``when`` is the one the last accepted report at or before ``when`` left (its audit
payload records the aggregate after it, the event count and its period). The 15-minute rollup
says which bucket holds that report without reading events: the latest bucket up to
``when``'s with an accepted report (found with the two slugs' ids in one statement). Only
that bucket's events are read:

* a bucket before ``when``'s: its last accepted report;
* ``when``'s own bucket: its last accepted report at or before ``when``, or else the first one
  after ``when``, whose ``aggregate_before`` and event count tell the state just before it.

A report whose period ended at or before ``when`` leaves no usage at ``when`` (a new period
had begun and had no report yet). Period boundaries are UTC midnights, so a bucket never
spans two periods.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import id_for, instance_row
from kaiten_analytics.db.models import (
    BUCKET_SECONDS,
    audit_rollup_15m,
    entitlements,
    feature_audit_trail,
    instances,
)
from kaiten_analytics.db.usage_json import encode_usage
from kaiten_analytics.errors import NotFoundError, ValidationError
from kaiten_analytics.events import USAGE_ACCEPTED

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BUCKET = timedelta(seconds=BUCKET_SECONDS)
_r, _t = audit_rollup_15m, feature_audit_trail
_IID, _EID = sa.bindparam("instance_id"), sa.bindparam("entitlement_id")
# ORDER BY … LIMIT 1, not max(): with the accepted > 0 filter PostgreSQL's max() reads every
# bucket up to ``when``'s; this walks the primary key backwards and stops at the first
_LAST_BUCKET = (sa.select(_r.c.bucket).where(
    _r.c.accepted > 0, _r.c.bucket <= sa.bindparam("bucket"))
    .order_by(_r.c.bucket.desc()).limit(1))
_ACCEPTED = sa.select(_t.c.payload).where(
    _t.c.instance_id == _IID, _t.c.entitlement_id == _EID, _t.c.event_name == USAGE_ACCEPTED)
_i, _e = instances.alias("i"), entitlements.alias("e")
_RESOLVE = (
    sa.select(_i.c.id.label("instance_id"), _e.c.id.label("entitlement_id"),
              _LAST_BUCKET.where(_r.c.instance_id == _i.c.id, _r.c.entitlement_id == _e.c.id)
              .scalar_subquery().label("bucket"))
    .select_from(_i.join(_e, sa.true()))  # one row each: the pair, not a product
    .where(_i.c.slug == sa.bindparam("instance"), _e.c.slug == sa.bindparam("entitlement"))
)
# the last accepted report in [low, high] and the first in (low, high)
_LAST_IN = (_ACCEPTED.where(_t.c.created_at >= sa.bindparam("low", type_=_t.c.created_at.type),
                            _t.c.created_at <= sa.bindparam("high", type_=_t.c.created_at.type))
            .order_by(_t.c.created_at.desc(), _t.c.id.desc()).limit(1))
_FIRST_AFTER = (_ACCEPTED.where(_t.c.created_at > sa.bindparam("low", type_=_t.c.created_at.type),
                                _t.c.created_at < sa.bindparam("high",
                                                               type_=_t.c.created_at.type))
                .order_by(_t.c.created_at, _t.c.id).limit(1))


def usage_at(db: Database, instance: str, entitlement: str, when: Any) -> dict[str, Any] | None:
    """Return the usage ``{"type", "value", "event_count"}`` of a pair as it stood at ``when``.

    Reports at exactly ``when`` are included; None before the first accepted report of the
    period holding ``when``. Appends no read event. A deleted instance's past stays readable.
    """
    instance = fields.lookup_slug(instance, "instance")
    entitlement = fields.lookup_slug(entitlement, "entitlement")
    if when is None:
        raise ValidationError("when", "is required: an RFC 3339 string or an aware datetime")
    moment = fields.instant(when, "when")
    bucket_of_when = int((moment - _EPOCH) // _BUCKET)
    with db.read() as connection:
        # the two ids and the bucket in one round trip; a missing name is looked up again
        # for its error
        row = connection.execute(_RESOLVE, {"instance": instance, "entitlement": entitlement,
                                            "bucket": bucket_of_when}).first()
        if row is None:
            instance_row(connection, instance)
            id_for(connection, "entitlement", entitlement)
            raise NotFoundError("entitlement", entitlement)  # not reached: one was missing
        ids = {"instance_id": row.instance_id, "entitlement_id": row.entitlement_id}
        bucket = row.bucket
        if bucket is None:
            return None
        start = _EPOCH + bucket * _BUCKET
        end = start + _BUCKET
        if bucket < bucket_of_when:
            return _after(connection.execute(
                _LAST_IN, {**ids, "low": start, "high": end}).scalar(), moment)
        last = connection.execute(_LAST_IN, {**ids, "low": start, "high": moment}).scalar()
        if last is not None:
            return _after(last, moment)
        following = connection.execute(_FIRST_AFTER, {**ids, "low": moment, "high": end}
                                       ).scalar()
    return _before(following)


def _after(payload: dict[str, Any] | None, moment: datetime) -> dict[str, Any] | None:
    """The usage an accepted report left, unless its period ended by ``moment``."""
    if payload is None:
        return None
    period_end = payload.get("period_end")
    if period_end is not None and datetime.fromisoformat(period_end) <= moment:
        return None
    return encode_usage(payload.get("aggregate_after"), int(payload.get("event_count", 0)))


def _before(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """The usage just before an accepted report (None: it was its period's first)."""
    if payload is None or payload.get("aggregate_before") is None:
        return None
    return encode_usage(payload["aggregate_before"], int(payload.get("event_count", 1)) - 1)
