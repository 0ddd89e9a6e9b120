"""The plain records the library returns (frozen dataclasses; no database behind them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Customer:
    """A vendor's customer."""

    slug: str
    name: str
    created_at: datetime
    id: int = field(repr=False, default=0)


@dataclass(frozen=True)
class Entitlement:
    """A catalogue entry: what a license can grant or limit."""

    slug: str
    name: str
    type: str
    aggregation_method: str | None
    unit: str | None
    description: str
    id: int = field(repr=False, default=0)


@dataclass(frozen=True)
class License:
    """A license tier and its entitlement values (thresholds for NUMBER; None = no limit)."""

    slug: str
    name: str
    description: str
    entitlements: dict[str, Any]
    id: int = field(repr=False, default=0)


@dataclass(frozen=True)
class Zone:
    """A deployment zone (a logical environment such as ``eu-prod``)."""

    slug: str
    name: str
    id: int = field(repr=False, default=0)


@dataclass(frozen=True)
class Instance:
    """One deployment of the vendor's product for a customer."""

    slug: str
    name: str
    customer: str
    license: str
    deployment_zone: str | None
    description: str
    license_start: date | None
    license_end: date | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    id: int = field(repr=False, default=0)


@dataclass(frozen=True)
class UsageReport:
    """The outcome of one usage report.

    ``usage`` is the stored value after the report, ``{"type": "number", "value": …,
    "event_count": …}`` — the current period's under a policy with a period (None when
    nothing was accepted in it); ``reason`` says why a report was rejected (None when
    accepted); ``period_start`` is the start of the period the report counted in (RFC 3339,
    None for a limit that never restarts); ``event_id`` is None for a dry run
    (``usage.check``). ``replayed`` is True when an idempotency key had already
    been used for this report: the outcome is the first one's and nothing was written (it
    does not take part in ``==``: a replay equals the first outcome).
    """

    status: str
    usage: dict[str, Any] | None
    threshold: float | None
    reason: str | None
    event_id: str | None
    instance: str = ""
    entitlement: str = ""
    value: float | None = None
    previous: float | None = None
    reached: bool = False
    period_start: str | None = None
    replayed: bool = field(default=False, compare=False)

    @property
    def accepted(self) -> bool:
        """True when the report was accepted."""
        return self.status == "ACCEPTED"


@dataclass(frozen=True)
class EntitlementValue:
    """What an instance is granted for one entitlement, and its current usage.

    ``value`` is the license value (the threshold for NUMBER), ``policy`` the license's whole
    policy object when it has one (``{"threshold", "period", "overage_percent", "warn_at"}``,
    None for a plain threshold), ``usage`` the current period's.
    """

    entitlement: str
    type: str
    value: Any
    usage: dict[str, Any] | None
    event_id: str
    policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class AuditStats:
    """The four stats cards of the Audit Trail tab."""

    total: int
    accepted: int
    rejected: int
    today: int


@dataclass(frozen=True)
class Flag:
    """A feature flag: a typed default value and ordered targeting rules (stored as JSON).

    ``rules`` is a list of ``{"conditions": [{"attribute", "operator", "value"}, …], "value": …,
    "percentage": 0–100 (optional), "description": "…" (optional)}``; the first rule that
    applies serves its value.
    """

    key: str
    name: str
    type: str
    default_value: Any
    enabled: bool = True
    rules: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    id: int = field(repr=False, default=0)


@dataclass(frozen=True)
class FlagEvaluation:
    """The value a flag serves one instance, and why, in OpenFeature's vocabulary.

    ``reason`` is ``DISABLED``, ``TARGETING_MATCH``, ``SPLIT``, ``DEFAULT`` or ``ERROR``;
    ``rule`` is the index of the rule that served the value (or, with ``ERROR``, of the
    malformed rule), None otherwise; ``error`` says what is malformed (None unless ``ERROR``).
    """

    value: Any
    reason: str
    rule: int | None = None
    error: str | None = None
    key: str = ""


@dataclass(frozen=True)
class ConsoleUser:
    """Someone who may sign in to the console, and their role (``admin`` or ``viewer``)."""

    email: str
    role: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ApiKey:
    """An API key of the REST API: a name, a role and, optionally, the one customer it sees.

    ``secret`` is set only on the key that ``kaiten.keys.create`` returns — the one time it
    is shown; the database holds only a keyed hash of it. ``prefix`` is its first characters
    (to tell keys apart). ``role`` is ``admin``, ``viewer`` or ``reporter``; ``customer`` is
    None for a key that sees every customer.
    """

    name: str
    role: str
    customer: str | None
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    secret: str | None = field(default=None, repr=False)
    id: int = field(repr=False, default=0)


@dataclass(frozen=True)
class WebhookEndpoint:
    """A webhook endpoint: where the relay delivers the outbox events it subscribes to.

    ``events`` is None for every event type. ``secret`` is set only on the value returned by
    ``kaiten.webhooks.add`` (shown once; it is never in a repr).
    """

    id: int
    url: str
    events: tuple[str, ...] | None
    description: str
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    secret: str | None = field(default=None, repr=False, compare=False)


@dataclass
class WebhookRunStats:
    """What one run of the webhook relay did: attempts made, of which succeeded and failed."""

    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
