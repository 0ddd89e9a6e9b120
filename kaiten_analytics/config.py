"""Settings read from the environment when asked (never at import); explicit arguments win."""

from __future__ import annotations

import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kaiten_analytics.errors import ValidationError
from kaiten_analytics.fields import time_zone_name

DEFAULT_DATABASE_URL = "sqlite:///kaiten.db"
DEFAULT_TIMEZONE = "UTC"
#: Used when ``$KAITEN_API_KEY_PEPPER`` is unset. It is public, so it adds nothing: with it an
#: API key is as safe as an unsalted SHA-256 of 128+ random bits (infeasible to reverse). Set
#: the variable in production, kept outside the database, and a stolen database alone cannot
#: even confirm a guessed key. Changing it invalidates every key.
DEFAULT_API_KEY_PEPPER = "kaiten-analytics-default-pepper"


def database_url(url: str | None = None) -> str:
    """Return ``url``, else ``$KAITEN_DATABASE_URL``, else the embedded SQLite file."""
    return url or os.environ.get("KAITEN_DATABASE_URL") or DEFAULT_DATABASE_URL


def api_key_pepper(pepper: str | None = None) -> bytes:
    """Return the secret that API-key hashes are keyed with: ``pepper``, else
    ``$KAITEN_API_KEY_PEPPER``, else :data:`DEFAULT_API_KEY_PEPPER`."""
    return (pepper or os.environ.get("KAITEN_API_KEY_PEPPER") or DEFAULT_API_KEY_PEPPER).encode()


def warehouse_url(url: str | None = None) -> str | None:
    """Return ``url``, else ``$KAITEN_WAREHOUSE_URL``, else None (no warehouse: read the
    system of record)."""
    return url or os.environ.get("KAITEN_WAREHOUSE_URL") or None


def default_timezone(tz: str | None = None) -> str:
    """Return ``tz``, else ``$KAITEN_TIMEZONE``, else ``UTC``; the name is checked."""
    name = tz or os.environ.get("KAITEN_TIMEZONE") or DEFAULT_TIMEZONE
    zone(name)
    return name


def zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` or raise ``ValidationError(field="tz")``.

    The name's shape is checked first (:func:`kaiten_analytics.fields.time_zone_name`); a
    directory of the zone database (``America``) is not a zone either.
    """
    time_zone_name(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationError("tz", f"unknown time zone {name!r}") from exc
