"""One HTTP attempt (httpx, no redirects, a per-attempt timeout), outside any transaction."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass

import httpx

from kaiten_analytics.webhooks.addresses import refusal

DEFAULT_TIMEOUT = 15.0
EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt got: a status code and excerpt, or an error (never both missing)."""

    status_code: int | None
    duration_ms: float
    error: str | None
    response_excerpt: str | None
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        """Any 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


def new_client(timeout: float = DEFAULT_TIMEOUT, connections: int = 10,
               tls: ssl.SSLContext | None = None) -> httpx.Client:
    """An HTTP client for one endpoint: ``timeout`` per phase, redirects never followed."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False,
        verify=tls if tls is not None else True,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


def send(client: httpx.Client, url: str, content: str, headers: dict[str, str],
         allow_private: bool) -> AttemptResult:
    """POST ``content`` to ``url``; never raises for network trouble (it is the attempt's error)."""
    started = time.perf_counter()
    if not allow_private:
        reason = refusal(url)
        if reason:
            return AttemptResult(None, _ms(started), reason, None)
    try:
        with client.stream("POST", url, content=content.encode(), headers=headers) as response:
            excerpt = bytearray()
            for chunk in response.iter_bytes():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES:
                    break
            text = bytes(excerpt[:EXCERPT_BYTES]).decode("utf-8", errors="replace")
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
            return AttemptResult(response.status_code, _ms(started), error, text or None,
                                 response.headers.get("retry-after"))
    except httpx.TimeoutException as exc:
        return AttemptResult(None, _ms(started), f"timed out ({type(exc).__name__})", None)
    except httpx.HTTPError as exc:
        return AttemptResult(None, _ms(started), f"{type(exc).__name__}: {exc}", None)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
