"""``/api/webhook-endpoints`` and ``/api/webhook-deliveries``: where the outbox is delivered.

Admin keys only. A key bound to a customer is refused (403) even with the admin role: an
endpoint receives the events of every customer, so managing one is the vendor's business,
not one customer's. Every handler calls one ``kaiten.webhooks`` method; the signing secret is
in the answers of ``createWebhookEndpoint`` and ``rotateWebhookSecret`` only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

import kaiten_analytics as ka
from kaiten_analytics.api import auth, models
from kaiten_analytics.api.auth import Handle
from kaiten_analytics.api.problems import ProblemError, responses

router = APIRouter(tags=["webhooks"])

# the library's rules, for the schema (the library checks them again and decides)
ID_MAX = 2**31 - 1
URL_MAX = 2000
DESCRIPTION_MAX = 1000
EventType = Literal[ka.WEBHOOK_EVENT_TYPES]  # type: ignore[valid-type]
DeliveryStatus = Literal[ka.WEBHOOK_DELIVERY_STATUSES]  # type: ignore[valid-type]
EndpointPath = Annotated[int, Path(ge=1, le=ID_MAX, description="the endpoint's id",
                                   examples=[1])]
DeliveryPath = Annotated[int, Path(ge=1, le=ID_MAX, description="the delivery's id",
                                   examples=[1])]
_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
_ENDPOINT_EXAMPLE = {
    "id": 1, "url": "https://erp.example.com/hooks/kaiten",
    "events": ["INSTANCE_CREATED", ka.USAGE_REACHED], "description": "ERP", "enabled": True,
    "disabled_reason": None, "created_at": "2026-03-20T12:00:00.000000Z",
}


async def admin_key(key: Annotated[ka.ApiKey, Depends(auth.caller)]) -> ka.ApiKey:
    """The calling key if it is an admin key bound to no customer; else 403."""
    if key.role != "admin":
        raise ProblemError(403, "forbidden", f"the {key.role} role may not manage webhooks; "
                                             "allowed: admin")
    if key.customer is not None:
        raise ProblemError(403, "forbidden",
                           f"a key bound to customer {key.customer!r} may not manage webhooks: "
                           "an endpoint receives every customer's events")
    return key


Admin = Annotated[ka.ApiKey, Depends(admin_key)]


# --- bodies ---------------------------------------------------------------------------------
class WebhookEndpoint(BaseModel):
    """An endpoint the relay delivers outbox events to (never its secret)."""

    model_config = ConfigDict(from_attributes=True,
                              json_schema_extra={"examples": [_ENDPOINT_EXAMPLE]})

    id: int
    url: str
    events: list[str] | None = Field(description="the event types it receives; null = every "
                                                 "type")
    description: str
    enabled: bool
    disabled_reason: str | None = Field(description="why it is disabled (a 410 answer, or "
                                                    "by hand)")
    created_at: models.Timestamp


class WebhookEndpointCreated(WebhookEndpoint):
    """A new endpoint, with its signing secret: shown in this answer only."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [
        {**_ENDPOINT_EXAMPLE, "secret": _SECRET}]})

    secret: str = Field(description="`whsec_` + base64; verify messages with it (Standard "
                                    "Webhooks / Svix libraries). It is not shown again.")


class WebhookEndpointList(BaseModel):
    """Every endpoint, oldest first."""

    items: list[WebhookEndpoint]


class WebhookEndpointCreate(BaseModel):
    """A new endpoint: an http(s) URL and, optionally, the event types it receives."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "url": "https://erp.example.com/hooks/kaiten",
        "events": ["INSTANCE_CREATED", ka.USAGE_REACHED], "description": "ERP",
    }]})

    url: str = Field(min_length=1, max_length=URL_MAX, pattern=r"^\s*[Hh][Tt][Tt][Pp][Ss]?://",
                     description="http:// or https://; loopback and private addresses are "
                                 "refused at delivery unless the relay allows them")
    events: list[EventType] | None = Field(None, min_length=1,
                                           description="omit (or null) for every type")
    description: str = Field("", max_length=DESCRIPTION_MAX)


class WebhookDisable(BaseModel):
    """Why the endpoint is disabled (optional)."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"reason": "ERP maintenance"}]})

    reason: str = Field("disabled by hand", max_length=DESCRIPTION_MAX)


class WebhookSecret(BaseModel):
    """A new signing secret; the previous one keeps signing beside it for 24 hours."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"endpoint": 1,
                                                               "secret": _SECRET}]})

    endpoint: int
    secret: str = Field(description="shown in this answer only")


class WebhookTestSent(BaseModel):
    """A ``WEBHOOK_TEST`` message queued for one endpoint."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "endpoint": 1, "webhook_id": "01JQ3Z6X4K2M8N5P7R9T1V3W5Y"}]})

    endpoint: int
    webhook_id: str = Field(description="the message's `webhook-id` header")


class WebhookDelivery(BaseModel):
    """One event's delivery to one endpoint."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 7, "endpoint_id": 1, "url": "https://erp.example.com/hooks/kaiten",
        "event_id": "01JQ3Z6X4K2M8N5P7R9T1V3W5Y", "event_type": "INSTANCE_CREATED",
        "status": "pending", "attempts": 1, "last_status_code": 503,
        "last_error": "HTTP 503", "next_attempt_at": "2026-03-20T12:00:05.000000Z",
        "created_at": "2026-03-20T12:00:00.000000Z",
        "updated_at": "2026-03-20T12:00:00.200000Z",
    }]})

    id: int
    endpoint_id: int
    url: str
    event_id: str = Field(description="the outbox event's id: the `webhook-id` of every "
                                      "attempt")
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: models.Timestamp | None = Field(
        description="when it is due (while delivering: when the relay's lease ends)")
    created_at: models.Timestamp
    updated_at: models.Timestamp


class WebhookDeliveryPage(BaseModel):
    """One page of deliveries, newest first."""

    items: list[WebhookDelivery]
    limit: int
    offset: int


class WebhookDeliveryQuery(BaseModel):
    """Filters and paging of the deliveries."""

    model_config = ConfigDict(extra="forbid")

    endpoint: int | None = Field(None, ge=1, le=ID_MAX)
    status: DeliveryStatus | None = None
    limit: int = Field(50, ge=1, le=models.PAGE_MAX)
    offset: int = Field(0, ge=0, le=ID_MAX)


class WebhookAttempt(BaseModel):
    """One HTTP attempt of a delivery."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "delivery_id": 7, "attempted_at": "2026-03-20T12:00:00.100000Z",
        "status_code": 503, "duration_ms": 12.5, "error": "HTTP 503",
        "response_excerpt": "busy",
    }]})

    id: int
    delivery_id: int
    attempted_at: models.Timestamp
    status_code: int | None = Field(description="null when no response came (timeout, "
                                                "refused address, connection error)")
    duration_ms: float
    error: str | None
    response_excerpt: str | None = Field(description="at most 1 KiB of the response body")


class WebhookAttemptList(BaseModel):
    """A delivery's attempts, oldest first."""

    items: list[WebhookAttempt]


class WebhookRetried(BaseModel):
    """The delivery is due now; the relay makes its next attempt."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"delivery": 7,
                                                               "status": "pending"}]})

    delivery: int
    status: Literal["pending"]


def _endpoint(endpoint: ka.WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint(id=endpoint.id, url=endpoint.url,
                           events=None if endpoint.events is None else list(endpoint.events),
                           description=endpoint.description, enabled=endpoint.enabled,
                           disabled_reason=endpoint.disabled_reason,
                           created_at=endpoint.created_at)


# --- endpoints ------------------------------------------------------------------------------
@router.get("/api/webhook-endpoints", operation_id="listWebhookEndpoints",
            response_model=WebhookEndpointList, responses=responses(401, 403, 503))
def list_endpoints(kaiten: Handle, key: Admin) -> WebhookEndpointList:
    """Every webhook endpoint, oldest first (never their secrets)."""
    rows = models.records(kaiten.webhooks.list())
    return WebhookEndpointList(items=[WebhookEndpoint(**row) for row in rows])


@router.post("/api/webhook-endpoints", operation_id="createWebhookEndpoint", status_code=201,
             response_model=WebhookEndpointCreated, responses=responses(401, 403, 422, 503))
def create_endpoint(kaiten: Handle, body: WebhookEndpointCreate, response: Response,
                    key: Admin) -> WebhookEndpointCreated:
    """Add an endpoint; the answer carries its signing secret, shown this once.

    It receives the events written from now on (of the listed types, or every type).
    """
    endpoint = kaiten.webhooks.add(body.url, events=body.events, description=body.description)
    response.headers["Location"] = f"/api/webhook-endpoints/{endpoint.id}"
    return WebhookEndpointCreated(**_endpoint(endpoint).model_dump(), secret=endpoint.secret)


@router.get("/api/webhook-endpoints/{endpoint}", operation_id="getWebhookEndpoint",
            response_model=WebhookEndpoint, responses=responses(401, 403, 404, 422, 503))
def get_endpoint(kaiten: Handle, endpoint: EndpointPath, key: Admin) -> WebhookEndpoint:
    """One endpoint (never its secret)."""
    return _endpoint(kaiten.webhooks.get(endpoint))


@router.delete("/api/webhook-endpoints/{endpoint}", operation_id="deleteWebhookEndpoint",
               status_code=204, response_class=Response,
               responses=responses(401, 403, 404, 422, 503))
def delete_endpoint(kaiten: Handle, endpoint: EndpointPath, key: Admin) -> Response:
    """Remove an endpoint with its secrets, deliveries and their attempts."""
    kaiten.webhooks.remove(endpoint)
    return Response(status_code=204)


@router.post("/api/webhook-endpoints/{endpoint}/rotate-secret",
             operation_id="rotateWebhookSecret", response_model=WebhookSecret,
             responses=responses(401, 403, 404, 422, 503))
def rotate_secret(kaiten: Handle, endpoint: EndpointPath, key: Admin) -> WebhookSecret:
    """A new signing secret (shown this once); the old one signs beside it for 24 hours."""
    return WebhookSecret(endpoint=endpoint, secret=kaiten.webhooks.rotate_secret(endpoint))


@router.post("/api/webhook-endpoints/{endpoint}/enable", operation_id="enableWebhookEndpoint",
             response_model=WebhookEndpoint, responses=responses(401, 403, 404, 422, 503))
def enable_endpoint(kaiten: Handle, endpoint: EndpointPath, key: Admin) -> WebhookEndpoint:
    """Enable an endpoint (after a 410 or a disable); its waiting deliveries go out."""
    kaiten.webhooks.enable(endpoint)
    return _endpoint(kaiten.webhooks.get(endpoint))


@router.post("/api/webhook-endpoints/{endpoint}/disable",
             operation_id="disableWebhookEndpoint", response_model=WebhookEndpoint,
             responses=responses(401, 403, 404, 422, 503))
def disable_endpoint(kaiten: Handle, endpoint: EndpointPath, key: Admin,
                     body: Annotated[WebhookDisable | None, Body()] = None) -> WebhookEndpoint:
    """Stop sending to an endpoint until it is enabled.

    Its queued deliveries wait and go out once it is enabled; events written while it is
    disabled are not delivered to it.
    """
    kaiten.webhooks.disable(endpoint, reason=(body or WebhookDisable()).reason)
    return _endpoint(kaiten.webhooks.get(endpoint))


@router.post("/api/webhook-endpoints/{endpoint}/test", operation_id="sendWebhookTest",
             status_code=202, response_model=WebhookTestSent,
             responses=responses(401, 403, 404, 422, 503))
def send_test(kaiten: Handle, endpoint: EndpointPath, key: Admin) -> WebhookTestSent:
    """Queue a ``WEBHOOK_TEST`` message for this endpoint alone (the relay sends it)."""
    return WebhookTestSent(endpoint=endpoint, webhook_id=kaiten.webhooks.send_test(endpoint))


# --- deliveries -----------------------------------------------------------------------------
@router.get("/api/webhook-deliveries", operation_id="listWebhookDeliveries",
            response_model=WebhookDeliveryPage, responses=responses(401, 403, 422, 503))
def list_deliveries(kaiten: Handle, query: Annotated[WebhookDeliveryQuery, Query()],
                    key: Admin) -> WebhookDeliveryPage:
    """Deliveries, newest first, of one endpoint and/or in one status."""
    frame = kaiten.webhooks.deliveries(endpoint=query.endpoint, status=query.status,
                                       limit=query.limit, offset=query.offset)
    return WebhookDeliveryPage(items=[WebhookDelivery(**row) for row in models.records(frame)],
                               limit=query.limit, offset=query.offset)


@router.get("/api/webhook-deliveries/{delivery}/attempts",
            operation_id="listWebhookAttempts", response_model=WebhookAttemptList,
            responses=responses(401, 403, 404, 422, 503))
def list_attempts(kaiten: Handle, delivery: DeliveryPath, key: Admin) -> WebhookAttemptList:
    """A delivery's attempts, oldest first: time, status code, duration, error, excerpt."""
    rows = models.records(kaiten.webhooks.attempts(delivery))
    return WebhookAttemptList(items=[WebhookAttempt(**row) for row in rows])


@router.post("/api/webhook-deliveries/{delivery}/retry", operation_id="retryWebhookDelivery",
             status_code=202, response_model=WebhookRetried,
             responses=responses(401, 403, 404, 409, 422, 503))
def retry_delivery(kaiten: Handle, delivery: DeliveryPath, key: Admin) -> WebhookRetried:
    """Make a delivery due now: a failed one gets another attempt, a succeeded one is re-sent.

    409 while it is being attempted, or while its endpoint is disabled.
    """
    kaiten.webhooks.retry(delivery)
    return WebhookRetried(delivery=delivery, status="pending")
