"""Console users and their roles: who may sign in to the console, as an admin or a viewer.

Roles matter only when the console's sign-in is configured: an ``admin`` sees and
does everything, a ``viewer`` sees every page and writes nothing, and a signed-in email that
is not listed here gets a "no access" page. Emails are compared normalised (trimmed, lower
case), as identity providers differ in how they case the same address.
"""

from __future__ import annotations

from kaiten_analytics import fields
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.models import console_users
from kaiten_analytics.db.upsert import insert_for
from kaiten_analytics.entities import ConsoleUser
from kaiten_analytics.enumerations import CONSOLE_ROLES
from kaiten_analytics.errors import NotFoundError, ValidationError


def console_role(value: object) -> str:
    """Return ``value`` as a console role; anything but admin/viewer is a ``ValidationError``."""
    if isinstance(value, str) and value.strip().lower() in CONSOLE_ROLES:
        return value.strip().lower()
    raise ValidationError("role", f"must be one of {', '.join(CONSOLE_ROLES)}, got {value!r}")


def add_user(db: Database, *, email: str, role: str) -> ConsoleUser:
    """Give ``email`` the console ``role``: add the user, or change the role they have."""
    email, role_ = fields.email(email), console_role(role)
    now = db.now()
    with db.transaction() as connection:
        statement = insert_for(connection, console_users).values(
            email=email, role=role_, created_at=now, updated_at=now)
        row = connection.execute(
            statement.on_conflict_do_update(
                index_elements=[console_users.c.email],
                set_={"role": role_, "updated_at": now},
            ).returning(console_users.c.created_at, console_users.c.updated_at)
        ).one()
    return ConsoleUser(email=email, role=role_, created_at=row.created_at,
                       updated_at=row.updated_at)


def remove_user(db: Database, *, email: str) -> None:
    """Take ``email``'s console access away; an unknown email raises ``NotFoundError``."""
    email = fields.email(email)
    with db.transaction() as connection:
        removed = connection.execute(
            console_users.delete().where(console_users.c.email == email)).rowcount
    if not removed:
        raise NotFoundError("console user", email)
