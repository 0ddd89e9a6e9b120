"""API keys of the REST API: create (the secret shown once), revoke, authenticate.

A secret is ``ka_`` followed by 32 URL-safe characters from :mod:`secrets` (192 bits). The
database holds only ``HMAC-SHA256(pepper, secret)`` — the pepper comes from
``$KAITEN_API_KEY_PEPPER`` (:func:`kaiten_analytics.config.api_key_pepper`) — so a key is
looked up by its hash (a unique index) and the stored hash is then compared in constant time.

``last_used_at`` is written at most once a minute per key (:data:`LAST_USED_RESOLUTION`), in
its own short transaction only when it is stale: authenticating is a read, not a write per
request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.config import api_key_pepper
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.driver_statements import StatementCache
from kaiten_analytics.db.lookup import id_for
from kaiten_analytics.db.models import api_keys, customers
from kaiten_analytics.entities import ApiKey
from kaiten_analytics.enumerations import API_KEY_ROLES
from kaiten_analytics.errors import NotFoundError, ValidationError

SECRET_PREFIX = "ka_"
SECRET_BYTES = 24  # 192 bits; token_urlsafe gives 32 characters
PREFIX_SHOWN = len(SECRET_PREFIX) + 4
LAST_USED_RESOLUTION = timedelta(minutes=1)
_SECRET_MAX = 200


def create_key(db: Database, *, name: str, role: str, customer: str | None = None) -> ApiKey:
    """Create an API key; the returned ``ApiKey.secret`` is the only time the secret is seen.

    Raises ``ValidationError`` (name, role), ``NotFoundError`` (customer) or
    ``ConflictError`` (a name already taken, by a revoked key too).
    """
    name = fields.slug(name, "name")
    if not isinstance(role, str) or role not in API_KEY_ROLES:
        raise ValidationError("role", f"must be one of {', '.join(API_KEY_ROLES)}")
    secret = SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    now = db.now()
    with db.transaction() as connection:
        customer_id = None if customer is None else id_for(connection, "customer", customer)
        key_id = connection.execute(api_keys.insert().values(
            name=name, role=role, customer_id=customer_id, key_hash=_hash(secret),
            prefix=secret[:PREFIX_SHOWN], created_at=now,
        )).inserted_primary_key[0]
    return ApiKey(name=name, role=role, customer=customer, prefix=secret[:PREFIX_SHOWN],
                  created_at=now, secret=secret, id=key_id)


def revoke_key(db: Database, *, name: str) -> ApiKey:
    """Revoke the key ``name`` (it stops working at once; its name stays taken).

    Revoking a revoked key changes nothing. Raises ``NotFoundError`` for an unknown name.
    """
    fields.lookup_slug(name, "name", "api_key")
    now = db.now()
    with db.transaction() as connection:
        connection.execute(api_keys.update()
                           .where((api_keys.c.name == name) & api_keys.c.revoked_at.is_(None))
                           .values(revoked_at=now))
        row = connection.execute(_SELECT.where(api_keys.c.name == name)).first()
    if row is None:
        raise NotFoundError("api_key", name)
    return _key(row)


def authenticate(db: Database, *, secret: str) -> ApiKey:
    """Return the live key whose secret is ``secret``; note when it was used.

    Raises ``NotFoundError`` (entity ``api_key``) for a malformed, unknown or revoked secret;
    the message never repeats the secret.
    """
    if (not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX)
            or len(secret) > _SECRET_MAX or not secret.isascii()):
        raise _unknown()
    digest = _hash(secret)
    with db.read() as connection:
        # every API request asks this: compiled once, run on the driver's cursor
        found = _STATEMENTS.driver(connection, "by_hash").first(connection,
                                                                {"key_hash": digest})
    if (found is None or not hmac.compare_digest(found["key_hash"], digest)
            or found["revoked_at"] is not None):
        raise _unknown()
    row = SimpleNamespace(**found)
    now = db.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        stale = now - LAST_USED_RESOLUTION
        with db.transaction() as connection:  # one writer per key and minute wins; others skip
            connection.execute(api_keys.update().where(
                (api_keys.c.id == row.id)
                & (api_keys.c.last_used_at.is_(None) | (api_keys.c.last_used_at <= stale))
            ).values(last_used_at=now))
    return _key(row)


def _hash(secret: str) -> str:
    return hmac.new(api_key_pepper(), secret.encode(), hashlib.sha256).hexdigest()


def _unknown() -> NotFoundError:
    return NotFoundError("api_key", "", "unknown or revoked API key")


_SELECT = (sa.select(api_keys, customers.c.slug.label("customer_slug"))
           .select_from(api_keys.outerjoin(customers, customers.c.id == api_keys.c.customer_id)))
_STATEMENTS = StatementCache({"by_hash": lambda _connection: _SELECT.where(
    api_keys.c.key_hash == sa.bindparam("key_hash", type_=api_keys.c.key_hash.type))})


def _key(row: Any) -> ApiKey:
    return ApiKey(name=row.name, role=row.role, customer=row.customer_slug, prefix=row.prefix,
                  created_at=row.created_at, last_used_at=row.last_used_at,
                  revoked_at=row.revoked_at, id=row.id)
