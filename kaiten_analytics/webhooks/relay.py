"""The relay: claim due deliveries, send them outside any transaction, record every attempt.

One loop thread owns the database; each endpoint has its own small thread pool and HTTP
client, so a slow or dead endpoint only ever occupies its own ``max_in_flight`` threads and
never delays another endpoint's deliveries. Each pass of the loop is one short transaction:
record the attempts that finished, then claim more rows for every endpoint with free slots.

A claim (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``; SQLite has no
row locks and serialises the claim under its write lock instead) marks the rows
``delivering`` with a random token and sets ``next_attempt_at`` to the lease's end: a relay
killed at any moment leaves rows that come due again by themselves when the lease expires,
and are sent again with the same ``webhook-id``. A result is written only while the token is
still the row's, so a relay that lost its lease cannot overwrite the next one's outcome.
"""

from __future__ import annotations

import logging
import queue
import random
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from kaiten_analytics.db.database import Database
from kaiten_analytics.db.models import (
    outbox_events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)
from kaiten_analytics.db.types import UTCDateTime
from kaiten_analytics.entities import WebhookRunStats
from kaiten_analytics.errors import ValidationError
from kaiten_analytics.webhooks import messages, schedule, sender
from kaiten_analytics.webhooks.addresses import private_allowed
from kaiten_analytics.webhooks.endpoints import signing_secrets

log = logging.getLogger(__name__)

MAX_LEASE = 30.0
DEFAULT_POLL_INTERVAL = 0.2
DEFAULT_MAX_IN_FLIGHT = 8
#: how often the loop re-reads the endpoints and their secrets (added, removed, rotated)
ENDPOINT_REFRESH = 1.0
#: how long a pass waits for more attempts to finish once one has (seconds)
BATCH_LINGER = 0.01
#: PostgreSQL's deadlock_detected and serialization_failure
_RETRYABLE = ("40P01", "40001")


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    endpoint_id: int
    event_id: str
    attempts: int
    token: str
    event_type: str
    payload: Any
    created_at: datetime


@dataclass
class _Endpoint:
    id: int
    url: str
    secrets: list[str]
    pool: ThreadPoolExecutor
    client: httpx.Client
    in_flight: int = 0


@dataclass
class _Finished:
    claim: _Claim
    attempted_at: datetime
    result: sender.AttemptResult


def _claim_statement() -> sa.Update:
    d = webhook_deliveries
    due = (
        sa.select(d.c.id)
        .where(d.c.endpoint_id == sa.bindparam("k_endpoint"),
               d.c.next_attempt_at <= sa.bindparam("cutoff", type_=UTCDateTime))
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(sa.bindparam("n"))
        .with_for_update(skip_locked=True)
    )
    return (
        d.update().where(d.c.id.in_(due.scalar_subquery()))
        .values(status="delivering", claim_token=sa.bindparam("token"),
                lease_until=sa.bindparam("lease_until", type_=UTCDateTime),
                next_attempt_at=sa.bindparam("lease_until", type_=UTCDateTime),
                updated_at=sa.bindparam("now", type_=UTCDateTime))
        .returning(d.c.id, d.c.event_id, d.c.attempts)
    )


_CLAIM = _claim_statement()

_RECORD = (
    webhook_deliveries.update()
    .where(webhook_deliveries.c.id == sa.bindparam("k_id"),
           webhook_deliveries.c.claim_token == sa.bindparam("k_token"))
    .values(status=sa.bindparam("k_status"),
            attempts=webhook_deliveries.c.attempts + 1,
            next_attempt_at=sa.bindparam("k_next", type_=UTCDateTime),
            lease_until=None, claim_token=None,
            last_status_code=sa.bindparam("k_code", type_=sa.Integer),
            last_error=sa.bindparam("k_error", type_=sa.Text),
            updated_at=sa.bindparam("k_now", type_=UTCDateTime))
)

_ATTEMPT_COLUMNS = ("delivery_id", "attempted_at", "status_code", "duration_ms", "error",
                    "response_excerpt")
# an attempt is recorded even after a lost lease (it happened), unless its delivery is gone
_INSERT_ATTEMPT = webhook_attempts.insert().from_select(
    list(_ATTEMPT_COLUMNS),
    sa.select(
        sa.bindparam("a_delivery", type_=sa.Integer),
        sa.bindparam("a_at", type_=UTCDateTime),
        sa.bindparam("a_code", type_=sa.Integer),
        sa.bindparam("a_ms", type_=sa.Float),
        sa.bindparam("a_error", type_=sa.Text),
        sa.bindparam("a_excerpt", type_=sa.Text),
    ).where(sa.exists().where(webhook_deliveries.c.id == sa.bindparam("a_delivery"))),
)


class Relay:
    """Delivers due webhook deliveries until stopped; see the module docstring.

    Parameters
    ----------
    db
        The database handle (its clock decides what is due and stamps every attempt).
    timeout
        Seconds per attempt (httpx's per-phase timeout; default 15).
    lease
        Seconds a claim is held (at most 30, and longer than ``timeout``).
    poll_interval
        Seconds between looks for new deliveries when idle.
    max_in_flight
        Concurrent attempts per endpoint.
    allow_private
        Call loopback/private/link-local addresses; default ``$KAITEN_WEBHOOKS_ALLOW_PRIVATE``.
    """

    def __init__(self, db: Database, *, timeout: float = sender.DEFAULT_TIMEOUT,
                 lease: float = MAX_LEASE, poll_interval: float = DEFAULT_POLL_INTERVAL,
                 max_in_flight: int = DEFAULT_MAX_IN_FLIGHT, allow_private: bool | None = None,
                 rng: random.Random | None = None) -> None:
        if not timeout > 0:
            raise ValidationError("timeout", "must be a positive number of seconds")
        if not timeout < lease <= MAX_LEASE:
            raise ValidationError("lease", f"must be longer than the timeout ({timeout} s) and "
                                           f"at most {MAX_LEASE:g} s")
        if not 0 < poll_interval <= 5:
            raise ValidationError("poll_interval", "must be between 0 and 5 seconds")
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) \
                or max_in_flight < 1:
            raise ValidationError("max_in_flight", "must be a whole number of at least 1")
        self._db = db
        self._timeout = timeout
        self._lease = timedelta(seconds=lease)
        self._poll = poll_interval
        self._max_in_flight = max_in_flight
        self._allow_private = private_allowed() if allow_private is None else allow_private
        self._rng = rng or random.Random()
        self._tls = httpx.create_ssl_context()  # one for all endpoints: building one is slow
        self._endpoints: dict[int, _Endpoint] = {}
        self._live: set[int] = set()  # enabled endpoints as of the last refresh
        self._refreshed = float("-inf")
        self._results: queue.Queue[_Finished] = queue.Queue()

    # --- the loop ---------------------------------------------------------------------------
    def run(self, once: bool = False, stop: threading.Event | None = None) -> WebhookRunStats:
        """Deliver until ``stop`` is set (or, with ``once``, until nothing due is left).

        With ``once`` every delivery due when the run starts gets one attempt, then it
        returns; attempts it schedules for later are left for the next run.
        """
        stop = stop or threading.Event()
        stats = WebhookRunStats()
        cutoff = self._db.now() if once else None
        claimed_last: int | None = None  # None: no pass yet
        try:
            while True:
                if sum(e.in_flight for e in self._endpoints.values()):
                    finished = self._wait_for_results(self._poll)
                elif stop.is_set() or (once and claimed_last == 0):
                    break
                else:
                    finished = []
                    if claimed_last == 0:
                        stop.wait(self._poll)
                claimed_last = self._step(finished, stats, cutoff, claim=not stop.is_set())
        finally:
            self._shutdown(stats)
        return stats

    def _wait_for_results(self, timeout: float) -> list[_Finished]:
        """Wait up to ``timeout`` for a result; then, for up to ``BATCH_LINGER``, for enough
        others that some endpoint can claim a batch: their outcomes and the claims then share
        one transaction. An endpoint whose attempts hang does not hold the pass up longer."""
        try:
            finished = [self._results.get(timeout=timeout)]
        except queue.Empty:
            return []
        linger = time.monotonic() + BATCH_LINGER
        while not self._batch_ready(finished):
            left = linger - time.monotonic()
            try:
                finished.append(self._results.get(timeout=left) if left > 0
                                else self._results.get_nowait())
            except queue.Empty:
                break
        while True:
            try:
                finished.append(self._results.get_nowait())
            except queue.Empty:
                return finished

    def _batch_ready(self, finished: list[_Finished]) -> bool:
        """True when, with ``finished`` recorded, some endpoint has half its slots free."""
        done = Counter(item.claim.endpoint_id for item in finished)
        keep = self._max_in_flight - max(1, self._max_in_flight // 2)
        return any(e.in_flight - done[e.id] <= keep for e in self._endpoints.values())

    def _step(self, finished: list[_Finished], stats: WebhookRunStats, cutoff: datetime | None,
              claim: bool) -> int:
        """One transaction: record ``finished``, then claim for endpoints with free slots."""
        for item in finished:  # their slots are free for this pass's claims
            endpoint = self._endpoints.get(item.claim.endpoint_id)
            if endpoint is not None:
                endpoint.in_flight -= 1
        for tries in range(3):
            try:
                with self._db.transaction() as connection:
                    now = self._db.now()
                    self._record(connection, finished, now)
                    if claim and time.monotonic() - self._refreshed >= ENDPOINT_REFRESH:
                        self._refresh(connection, now)
                    claims = self._claim(connection, now, cutoff) if claim else []
                break
            except DBAPIError as error:  # a deadlock (e.g. with a remove): try again
                if tries == 2 or getattr(error.orig, "sqlstate", None) not in _RETRYABLE:
                    raise
                log.warning("webhook relay: retrying a pass after %s", type(error).__name__)
        for item in finished:
            stats.attempted += 1
            if item.result.succeeded:
                stats.succeeded += 1
            else:
                stats.failed += 1
        for item in claims:
            self._submit(item)
        return len(claims)

    # --- endpoints ----------------------------------------------------------------------------
    def _refresh(self, connection: sa.Connection, now: datetime) -> None:
        rows = connection.execute(
            sa.select(webhook_endpoints.c.id, webhook_endpoints.c.url)
            .where(webhook_endpoints.c.enabled)).all()
        keys = signing_secrets(connection, now)
        live = {row.id for row in rows}
        for endpoint_id in list(self._endpoints):
            if endpoint_id not in live and self._endpoints[endpoint_id].in_flight == 0:
                self._close(self._endpoints.pop(endpoint_id))
        for row in rows:
            known = self._endpoints.get(row.id)
            if known is None:
                self._endpoints[row.id] = _Endpoint(
                    id=row.id, url=row.url, secrets=keys.get(row.id, []),
                    pool=ThreadPoolExecutor(self._max_in_flight,
                                            thread_name_prefix=f"webhook-{row.id}"),
                    client=sender.new_client(self._timeout, self._max_in_flight, self._tls))
            else:
                known.url, known.secrets = row.url, keys.get(row.id, [])
        self._live = live
        self._refreshed = time.monotonic()

    # --- claims -------------------------------------------------------------------------------
    def _claim(self, connection: sa.Connection, now: datetime, cutoff: datetime | None
               ) -> list[_Claim]:
        claims: list[_Claim] = []
        half = max(1, self._max_in_flight // 2)
        for endpoint in self._endpoints.values():
            free = self._max_in_flight - endpoint.in_flight
            # claim in batches (half the slots) unless idle: fewer, larger transactions
            if endpoint.id not in self._live or not endpoint.secrets or free <= 0 or (
                    endpoint.in_flight and free < half):
                continue
            token = secrets.token_hex(16)
            rows = connection.execute(_CLAIM, {
                "k_endpoint": endpoint.id, "cutoff": cutoff or now, "n": free, "token": token,
                "lease_until": now + self._lease, "now": now,
            }).all()
            if not rows:
                continue
            events = {
                row.id: row for row in connection.execute(
                    sa.select(outbox_events.c.id, outbox_events.c.event_type,
                              outbox_events.c.payload, outbox_events.c.created_at)
                    .where(outbox_events.c.id.in_([r.event_id for r in rows])))
            }
            for row in sorted(rows, key=lambda r: r.id):
                event = events[row.event_id]
                claims.append(_Claim(row.id, endpoint.id, row.event_id, row.attempts, token,
                                     event.event_type, event.payload, event.created_at))
        return claims

    def _submit(self, claim: _Claim) -> None:
        endpoint = self._endpoints[claim.endpoint_id]
        endpoint.in_flight += 1
        url, keys, client = endpoint.url, list(endpoint.secrets), endpoint.client
        endpoint.pool.submit(self._attempt, claim, url, keys, client)

    def _attempt(self, claim: _Claim, url: str, keys: list[str], client: httpx.Client) -> None:
        """Worker thread: build, sign and send one message; always reports a result."""
        attempted_at = self._db.now()
        try:
            data = messages.body(claim.event_type, claim.created_at, claim.payload)
            headers = messages.headers(claim.event_id, attempted_at, data, keys)
            result = sender.send(client, url, data, headers, self._allow_private)
        except Exception as error:  # a bug must not lose the claim's result
            log.exception("webhook relay: attempt of delivery %s failed", claim.delivery_id)
            result = sender.AttemptResult(None, 0.0, f"{type(error).__name__}: {error}", None)
        self._results.put(_Finished(claim, attempted_at, result))

    # --- results ------------------------------------------------------------------------------
    def _record(self, connection: sa.Connection, finished: list[_Finished], now: datetime
                ) -> None:
        if not finished:
            return
        updates, attempts, gone = [], [], {}
        for item in finished:
            claim, result = item.claim, item.result
            if result.succeeded:
                status, next_at = "succeeded", None
            elif result.status_code == 410:
                status, next_at = "failed", None
                gone[claim.endpoint_id] = f"the endpoint answered 410 Gone at " \
                                          f"{messages.rfc3339(item.attempted_at)}"
            else:
                next_at = schedule.next_attempt(claim.attempts + 1, now, result.retry_after,
                                                self._rng)
                status = "pending" if next_at is not None else "failed"
            updates.append({
                "k_id": claim.delivery_id, "k_token": claim.token, "k_status": status,
                "k_next": next_at, "k_code": result.status_code, "k_error": result.error,
                "k_now": now,
            })
            attempts.append({
                "a_delivery": claim.delivery_id, "a_at": item.attempted_at,
                "a_code": result.status_code, "a_ms": result.duration_ms, "a_error": result.error,
                "a_excerpt": result.response_excerpt,
            })
        connection.execute(_RECORD, updates)
        connection.execute(_INSERT_ATTEMPT, attempts)
        for endpoint_id, reason in gone.items():
            connection.execute(webhook_endpoints.update()
                               .where(webhook_endpoints.c.id == endpoint_id)
                               .values(enabled=False, disabled_reason=reason))
            self._live.discard(endpoint_id)

    def _shutdown(self, stats: WebhookRunStats) -> None:
        """Wait for what is in flight (bounded by the timeout), record it, close the pools."""
        try:
            while sum(e.in_flight for e in self._endpoints.values()):
                finished = self._wait_for_results(self._timeout + 1)
                if not finished:
                    break
                self._step(finished, stats, None, claim=False)
        finally:
            for endpoint in self._endpoints.values():
                self._close(endpoint)
            self._endpoints.clear()

    @staticmethod
    def _close(endpoint: _Endpoint) -> None:
        endpoint.pool.shutdown(wait=False, cancel_futures=True)
        endpoint.client.close()
