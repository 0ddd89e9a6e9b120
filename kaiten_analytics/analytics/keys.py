"""The API key list (never the secrets: the database does not hold them)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.models import api_keys, customers

KEY_COLUMNS = ["name", "role", "customer", "prefix", "created_at", "last_used_at",
               "revoked_at", "active"]


def list_keys(db: Database) -> pd.DataFrame:
    """List every API key, revoked ones too, ordered by name.

    Returns
    -------
    DataFrame
        name, role (admin/viewer/reporter), customer (slug, None = every customer), prefix
        (the secret's first characters), created_at, last_used_at (aware UTC, NaT if never;
        updated at most once a minute), revoked_at (NaT while active), active (bool).
    """
    query = (sa.select(api_keys.c.name, api_keys.c.role, customers.c.slug, api_keys.c.prefix,
                       api_keys.c.created_at, api_keys.c.last_used_at, api_keys.c.revoked_at,
                       api_keys.c.revoked_at.is_(None))
             .select_from(api_keys.outerjoin(customers, customers.c.id == api_keys.c.customer_id))
             .order_by(api_keys.c.name))
    with db.read() as connection:
        rows = connection.execute(query).all()
    df = frame(rows, KEY_COLUMNS, times=("created_at", "last_used_at", "revoked_at"))
    df["active"] = df["active"].astype(bool)
    return df
