"""The exceptions the library raises.

Every input the library refuses raises one of these, so a caller needs a single ``except``::

    KaitenError                 base of everything below
    ├── ValidationError         a field is missing, malformed or out of range (``.field``)
    ├── NotFoundError           a slug or key names nothing (``.entity``, ``.key``)
    ├── ConflictError           a duplicate slug or key, or an idempotency key reused
    │                           with a different request (``.field``)
    ├── ReadOnlyError           a write through a read-only handle (``Kaiten.read_only()``,
    │                           what the console gives a viewer)
    └── UnavailableError        the database cannot serve the call now (unreachable, stopped,
                                its connection pool exhausted); nothing was written, retry later

Lower-level database errors (``sqlalchemy.exc.IntegrityError``) are translated into these at
one boundary, :func:`kaiten_analytics.db.errors.translate_integrity_error`; a database that
cannot be reached becomes ``UnavailableError`` at the same boundary
(:meth:`kaiten_analytics.db.database.Database.transaction` and ``.read``). All of them
pickle, so they survive a trip across a process boundary.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "KaitenError",
    "NotFoundError",
    "ReadOnlyError",
    "UnavailableError",
    "ValidationError",
]


class KaitenError(Exception):
    """Base class of every error the library raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self):  # keep subclasses' extra fields through pickling
        return (self.__class__._rebuild, (self.__dict__.copy(),))

    @classmethod
    def _rebuild(cls, state: dict) -> KaitenError:
        error = cls.__new__(cls)
        Exception.__init__(error, state.get("message"))
        error.__dict__.update(state)
        return error

    def __str__(self) -> str:
        return self.message


class ValidationError(KaitenError):
    """An input field is refused; ``field`` names it and the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class NotFoundError(KaitenError):
    """A slug or key names nothing (or something deleted)."""

    def __init__(self, entity: str, key: object, message: str | None = None) -> None:
        super().__init__(message or f"{entity} {key!r} does not exist")
        self.entity = entity
        self.key = key
        self.field = entity

    @classmethod
    def deleted(cls, entity: str, key: object) -> NotFoundError:
        """Return the error for a soft-deleted ``entity``: ``instance 'x' was deleted``."""
        return cls(entity, key, f"{entity} {key!r} was deleted")


class ConflictError(KaitenError):
    """A unique value is taken, or an idempotency key was reused with another request."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class ReadOnlyError(KaitenError):
    """A write was attempted through a read-only handle; nothing was written."""


class UnavailableError(KaitenError):
    """The database cannot serve the call now: unreachable, stopped, or its pool exhausted.

    Nothing was written (a transaction that lost its connection is rolled back by the server);
    the same call can be retried once the database is back.
    """
