"""Which URLs the relay may call.

At ``add``: only ``http``/``https`` URLs with a host. At delivery: every address the host
resolves to must be public; loopback, private, link-local, multicast, unspecified and
reserved ones are refused (an internal service must not be reachable through a webhook)
unless ``$KAITEN_WEBHOOKS_ALLOW_PRIVATE=1``. The check resolves the name itself just before the
call; a name re-pointed between the check and the connection (DNS rebinding) is not caught.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

from kaiten_analytics import fields
from kaiten_analytics.errors import ValidationError

ALLOW_PRIVATE_ENV = "KAITEN_WEBHOOKS_ALLOW_PRIVATE"
MAX_URL_LENGTH = 2000


def checked_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL; else raise ``ValidationError('url')``."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError("url", "is required")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValidationError("url", f"must be at most {MAX_URL_LENGTH} characters")
    fields.storable(url, "url")  # NUL and other control characters: no database stores them
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as error:
        raise ValidationError("url", f"is not a valid URL: {error}") from error
    if parts.scheme not in ("http", "https"):
        raise ValidationError("url", "must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValidationError("url", "must name a host")
    return url


def private_allowed() -> bool:
    """True when ``$KAITEN_WEBHOOKS_ALLOW_PRIVATE`` is ``1`` (or true/yes)."""
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes")


def refusal(url: str) -> str | None:
    """Return why ``url`` may not be called (a non-public address, an unresolvable host), or None.

    Resolves the host; call it at delivery, in the sending thread.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        return f"cannot resolve {host!r}: {error}"
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        kind = _non_public(address)
        if kind:
            return (f"refused: {host} resolves to {kind} address {address} "
                    f"(set {ALLOW_PRIVATE_ENV}=1 to allow)")
    return None


def _non_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    for kind, flag in (("a loopback", address.is_loopback), ("a link-local", address.is_link_local),
                       ("a multicast", address.is_multicast),
                       ("an unspecified", address.is_unspecified),
                       ("a private", address.is_private), ("a reserved", address.is_reserved)):
        if flag:
            return kind
    return None
