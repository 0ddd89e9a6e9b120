"""The request and response bodies of the REST API (Pydantic), with examples.

The constraints declared here describe the library's rules for the OpenAPI document (so a
client and a fuzzer know what is well formed); the library checks them again and is the
one that decides (its message is what a refusal says).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

import kaiten_analytics as ka

# the library's slug and name rules (kaiten_analytics' field checks), for the schema
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SLUG_MAX = 63
NAME_MAX = 200
TEXT_MAX = 10_000
PAGE_MAX = ka.PAGE_MAX
BATCH_MAX = 100
KEY_MAX = 200


def rfc3339(value: datetime) -> str:
    """``2026-03-20T12:00:00.000000Z``: UTC, microseconds, always that width."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame's rows as plain values: NaN/NaT/NA → None, Timestamps → datetimes."""
    # column by column (one conversion per column): several times faster than to_dict()
    columns = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            values = [None if value is pd.NaT else value
                      for value in column.dt.to_pydatetime().tolist()]
        else:
            values = [None if value is pd.NA or value is pd.NaT
                      or (isinstance(value, float) and math.isnan(value)) else value
                      for value in column.tolist()]
        columns.append(values)
    names = list(frame.columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def json_response(body: BaseModel, status_code: int = 200) -> Response:
    """``body`` (an instance of the route's response model) serialized once, as JSON.

    A route that returns its model lets FastAPI dump it, validate it again and serialize it;
    a page of audit events is the API's largest answer, and this skips the middle two.
    """
    return Response(body.__pydantic_serializer__.to_json(body), status_code=status_code,
                    media_type="application/json")


Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str),
                      Field(json_schema_extra={"format": "date-time"})]
# RFC 3339 date-time (the library parses it and names the field if it is not a real instant)
Instant = Annotated[str, Field(
    pattern=r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
    json_schema_extra={"format": "date-time"}, examples=["2026-03-20T12:00:00Z"])]
Slug = Annotated[str, Field(min_length=1, max_length=SLUG_MAX, pattern=SLUG_PATTERN,
                            examples=["acme-prod"])]
# a name must hold a character that is not blank (the library strips it)
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=r"[^\s\x1c-\x1f]",
                            examples=["Production"])]
Text = Annotated[str, Field(max_length=TEXT_MAX)]
Metadata = dict[str, Any]
# strict: true, false and "42" are not numbers (lax Pydantic would turn them into 1.0, 42.0)
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, examples=[42])]
# YYYY-MM-DD, passed to the library as text (it refuses 2026-02-30 and names the field)
Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", json_schema_extra={"format": "date"},
                           examples=["2026-01-01"])]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- instances ----------------------------------------------------------------------------------
class Instance(_Out):
    """One deployment of the vendor's product for a customer."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "slug": "acme-prod", "name": "Production", "customer": "acme", "license": "pro",
        "description": "", "deployment_zone": "eu-prod", "license_start": "2026-01-01",
        "license_end": None, "metadata": {"region": "eu"},
        "created_at": "2026-03-20T12:00:00.000000Z", "updated_at": "2026-03-20T12:00:00.000000Z",
    }]})

    slug: str
    name: str
    customer: str
    license: str
    description: str
    deployment_zone: str | None
    license_start: date | None
    license_end: date | None
    metadata: Metadata
    created_at: Timestamp
    updated_at: Timestamp


class InstancePage(BaseModel):
    """One page of the live instances, ordered by slug."""

    items: list[Instance]
    total: int = Field(description="live instances matching the filter, on every page")
    limit: int
    offset: int


class InstanceCreate(_In):
    """A new instance; customer, license and zone named by slug."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "customer": "acme", "name": "Production", "slug": "acme-prod", "license": "pro",
        "deployment_zone": "eu-prod", "license_start": "2026-01-01",
        "metadata": {"region": "eu"},
    }]})

    customer: Slug
    name: Name
    slug: Slug
    license: Slug
    description: Text = ""
    deployment_zone: Slug | None = None
    license_start: Day | None = None
    license_end: Day | None = None
    metadata: Metadata | None = None


class InstanceUpdate(_In):
    """Any of the create fields; omitted ones stay, ``null`` clears an optional one."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Production (EU)", "license_end": "2026-12-31",
    }]})

    customer: Slug = None  # type: ignore[assignment]  (optional, not nullable)
    name: Name = None  # type: ignore[assignment]
    slug: Slug = None  # type: ignore[assignment]
    license: Slug = None  # type: ignore[assignment]
    description: Text | None = None
    deployment_zone: Slug | None = None
    license_start: Day | None = None
    license_end: Day | None = None
    metadata: Metadata | None = None


class InstanceListQuery(_In):
    """Filters and paging of the instance list."""

    customer: Slug | None = None
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: int = Field(0, ge=0)


# --- usage ------------------------------------------------------------------------------------
class Usage(BaseModel):
    """The stored aggregate: the value so far and how many reports were accepted."""

    type: Literal["number"] = "number"
    value: float
    event_count: int


class UsageReportIn(_In):
    """A usage report."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"value": 42}]})

    value: Number


class UsageReport(BaseModel):
    """An accepted usage report."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "ACCEPTED", "usage": {"type": "number", "value": 162, "event_count": 3},
        "threshold": 1000, "reason": None, "event_id": "01JQ3Z6X4K2M8N5P7R9T1V3W5Y",
    }]})

    status: Literal["ACCEPTED", "REJECTED"]
    usage: Usage | None
    threshold: float | None
    reason: str | None
    event_id: str | None = Field(description="the audit event written; null for a dry run")


class UsageRejected(BaseModel):
    """A REJECTED report: an RFC 9457 problem that carries the report."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "type": "https://kaiten.example/problems/usage-rejected", "title": "Usage rejected",
        "status": 409, "detail": "exceeds the threshold", "outcome": "REJECTED",
        "usage": {"type": "number", "value": 990, "event_count": 12}, "threshold": 1000,
        "reason": "exceeds the threshold", "event_id": "01JQ3Z6X4K2M8N5P7R9T1V3W5Y",
    }]})

    type: str
    title: str
    status: int
    detail: str
    outcome: Literal["REJECTED"]
    usage: Usage | None
    threshold: float | None
    reason: str
    event_id: str | None = Field(description="the audit event written; null for a dry run")


class BatchItem(_In):
    """One report of a batch."""

    instance: Slug
    entitlement: Slug
    value: Number
    idempotency_key: Annotated[str, Field(min_length=1, max_length=KEY_MAX,
                                          pattern=r"[^\s\x1c-\x1f]")] | None = None


class BatchIn(_In):
    """1–100 reports applied in order in one transaction."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reports": [
        {"instance": "acme-prod", "entitlement": "api-calls", "value": 10},
        {"instance": "acme-prod", "entitlement": "seats", "value": 12,
         "idempotency_key": "9b2c…-seats-0420"},
    ]}]})

    reports: list[BatchItem] = Field(min_length=1, max_length=BATCH_MAX)


class BatchReport(UsageReport):
    """The outcome of one report of a batch (REJECTED is an answer here, not an error)."""

    instance: str
    entitlement: str


class BatchOut(BaseModel):
    """One outcome per report, in order."""

    results: list[BatchReport]


# --- entitlements, flags, audit -----------------------------------------------------------------
class EntitlementUsage(BaseModel):
    """One entitlement of the instance's license, with its usage."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "entitlement": "api-calls", "type": "NUMBER", "aggregation_method": "SUM",
        "granted": 1000, "usage": 162, "event_count": 3, "percent_used": 16.2,
        "updated_at": "2026-03-20T12:00:00.000000Z", "name": "API calls", "unit": "calls",
    }]})

    entitlement: str
    type: str
    aggregation_method: str | None
    granted: Any = Field(description="the license value: a threshold (null = no limit), a "
                                     "boolean or a text")
    usage: float | None
    event_count: int
    percent_used: float | None
    updated_at: Timestamp | None
    name: str
    unit: str | None


class EntitlementList(BaseModel):
    """Every entitlement of the instance's license, ordered by slug."""

    items: list[EntitlementUsage]


class EntitlementValue(_Out):
    """What the instance is granted for one entitlement, and its usage (the read is audited)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "entitlement": "api-calls", "type": "NUMBER", "value": 1000,
        "usage": {"type": "number", "value": 162, "event_count": 3},
    }]})

    entitlement: str
    type: str
    value: Any = Field(description="threshold (NUMBER; null = no limit), boolean or text")
    usage: Usage | None


class FlagEvaluation(BaseModel):
    """The value a flag serves the instance, and why (OpenFeature's reasons)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "key": "new-dashboard", "value": True, "reason": "TARGETING_MATCH", "rule": 0,
    }]})

    key: str
    value: Any
    reason: str
    rule: int | None


class FlagList(BaseModel):
    """Every flag evaluated for the instance, ordered by key."""

    items: list[FlagEvaluation]


class AuditEvent(BaseModel):
    """One audit-trail event."""

    id: str
    event_name: str
    entitlement: str
    status: str
    payload: dict[str, Any]
    created_at: Timestamp


class AuditPage(BaseModel):
    """One page of the audit trail, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [{
        "id": "01JQ3Z6X4K2M8N5P7R9T1V3W5Y", "event_name": ka.EVENT_NAMES[1],
        "entitlement": "api-calls", "status": "ACCEPTED", "payload": {"value": 42},
        "created_at": "2026-03-20T12:00:00.000000Z"}], "limit": 50, "offset": 0}]})

    items: list[AuditEvent]
    limit: int
    offset: int


class AuditQuery(_In):
    """Filters and paging of the audit trail (``after`` inclusive, ``before`` exclusive)."""

    event_name: Literal[ka.EVENT_NAMES] | None = None  # type: ignore[valid-type]
    after: Instant | None = None
    before: Instant | None = None
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: int = Field(0, ge=0)


class Health(BaseModel):
    """The server and its database answer."""

    status: Literal["ok"]
