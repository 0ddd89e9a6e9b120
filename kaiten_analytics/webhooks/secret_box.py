"""Signing secrets: made here, stored encrypted, decrypted only to sign.

A secret is ``whsec_`` + base64 of 32 random bytes (Standard Webhooks allows 24–64). It is
stored as a Fernet token (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key that is
**not** in the database: ``$KAITEN_WEBHOOKS_SECRET_KEY`` (one or more comma-separated Fernet
keys; the first encrypts, any decrypts, so the key itself can be rotated), else the key file
``$KAITEN_WEBHOOKS_KEY_FILE`` (default ``~/.config/kaiten/webhooks.key``), created with mode
0600 the first time a secret is stored. The relay must see the same key.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kaiten_analytics.errors import ValidationError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
KEY_ENV = "KAITEN_WEBHOOKS_SECRET_KEY"
KEY_FILE_ENV = "KAITEN_WEBHOOKS_KEY_FILE"
DEFAULT_KEY_FILE = Path("~/.config/kaiten/webhooks.key")


def new_secret() -> str:
    """Return a new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _keys(create: bool) -> list[bytes]:
    configured = os.environ.get(KEY_ENV, "").strip()
    if configured:
        return [key.strip().encode() for key in configured.split(",") if key.strip()]
    path = Path(os.environ.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE).expanduser()
    if not path.exists():
        if not create:
            raise ValidationError(KEY_ENV, f"is not set and the key file {path} does not exist: "
                                           "the webhook secrets cannot be read")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return [path.read_bytes().strip()]


def _box(create: bool = False) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys(create)])
    except ValueError as error:
        raise ValidationError(KEY_ENV, "must be Fernet keys (32 url-safe base64 bytes), "
                                       "comma-separated") from error


def encrypt(secret: str) -> str:
    """Return ``secret`` encrypted for storage."""
    return _box(create=True).encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    """Return the secret stored as ``token``; a wrong key is a clear error, never the token."""
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise ValidationError(KEY_ENV, "does not decrypt the stored webhook secrets (was the "
                                       "key changed?)") from error
