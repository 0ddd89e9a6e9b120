"""Read console users: the list, and the role of whoever signed in."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.models import console_users
from kaiten_analytics.errors import ValidationError


def role_of(db: Database, *, email: str | None) -> str | None:
    """Return the role of ``email`` (``"admin"``/``"viewer"``), or None when it has none.

    A missing or malformed email has no role (None), rather than an error: this is what the
    console asks about whoever signed in.
    """
    try:
        email = fields.email(email)
    except ValidationError:
        return None
    with db.read() as connection:
        return connection.execute(
            sa.select(console_users.c.role).where(console_users.c.email == email)
        ).scalar_one_or_none()


def list_users(db: Database) -> pd.DataFrame:
    """List console users.

    Returns
    -------
    DataFrame
        email, role (``admin``/``viewer``), created_at, updated_at (aware UTC) — ordered by
        email.
    """
    with db.read() as connection:
        rows = connection.execute(
            sa.select(console_users.c.email, console_users.c.role, console_users.c.created_at,
                      console_users.c.updated_at).order_by(console_users.c.email)
        ).all()
    return frame(rows, ["email", "role", "created_at", "updated_at"],
                 times=("created_at", "updated_at"))
