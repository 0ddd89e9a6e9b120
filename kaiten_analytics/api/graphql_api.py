"""``/api/graphql``: a read-only GraphQL view (Strawberry) of instances, their entitlement
usage and their audit-trail pages, behind the same bearer keys and tenant rules as REST.

The resolvers are plain synchronous functions that call the same ``kaiten.*`` methods as the
REST handlers. The route itself is a plain ``def``: FastAPI runs it in the worker-thread pool
like every REST handler, and it executes the whole operation there (``execute_sync``), so a
resolver never runs on the event loop.

Field and argument names are the REST API's and the library's (``event_name``,
``deployment_zone``, ``created_at``), not camelCase, so a client maps them one to one.
Timestamps are ``DateTime`` text, RFC 3339 in UTC with microseconds as everywhere in the
API; ``after``/``before`` take RFC 3339 text, which the library parses and checks.

A key whose role may read (``admin``, ``viewer``) may query; a ``reporter`` key is 403.
A customer-bound key lists only its customer's instances, and ``instance(slug:)`` of any
other instance is ``null``, as for one that does not exist. A library error is a GraphQL
error whose ``extensions`` carry the problem the REST API would answer (``type``,
``status``, ``field``); a database that cannot serve the request is 503, as in REST.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any, NewType

import strawberry
from fastapi import APIRouter
from fastapi import Query as QueryParameter
from fastapi.responses import JSONResponse, PlainTextResponse
from graphql import GraphQLError
from pydantic import BaseModel, ConfigDict, Field
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter
from strawberry.scalars import JSON
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.utils.logging import StrawberryLogger

import kaiten_analytics as ka
from kaiten_analytics.api import auth, models
from kaiten_analytics.api.auth import Handle, check_instance
from kaiten_analytics.api.instances import instance_page
from kaiten_analytics.api.problems import (
    PROBLEM_BASE,
    ProblemError,
    library_problem,
    responses,
)

PATH = "/api/graphql"
#: bounds on one operation's size: aliases multiply resolver calls, tokens the parse
MAX_ALIASES, MAX_TOKENS = 20, 2_000

# RFC 3339 text: what a timestamp is written as, and what ``after``/``before`` take
Instant = NewType("Instant", str)
INSTANT = strawberry.scalar(
    name="DateTime", description="RFC 3339 date-time in UTC with microseconds "
    "(2026-03-20T12:00:00.000000Z); as an argument any RFC 3339 instant with an offset",
    serialize=lambda value: models.rfc3339(value) if isinstance(value, datetime) else value,
    parse_value=lambda value: value)


class Context:
    """What a resolver works with: the library handle and the calling key."""

    def __init__(self, kaiten: ka.Kaiten, key: ka.ApiKey) -> None:
        self.kaiten, self.key = kaiten, key


Info = strawberry.Info[Context, None]


@strawberry.type(description="One audit-trail event")
class AuditEvent:
    id: str
    event_name: str
    entitlement: str
    status: str
    payload: JSON
    created_at: Instant


@strawberry.type(description="One page of an instance's audit trail, newest first")
class AuditPage:
    items: list[AuditEvent]
    limit: int
    offset: int


@strawberry.type(description="One entitlement of the instance's license, with its usage")
class EntitlementUsage:
    entitlement: str
    name: str
    type: str
    aggregation_method: str | None
    unit: str | None
    granted: JSON | None = strawberry.field(
        description="the license value: a threshold (null = no limit), a boolean or a text")
    usage: float | None
    event_count: int
    percent_used: float | None
    updated_at: Instant | None


@strawberry.type(description="One deployment of the vendor's product for a customer")
class Instance:
    slug: str
    name: str
    customer: str
    license: str
    description: str
    deployment_zone: str | None
    license_start: date | None
    license_end: date | None
    metadata: JSON
    created_at: Instant
    updated_at: Instant

    @classmethod
    def of(cls, instance: models.Instance) -> Instance:
        return cls(**{name: getattr(instance, name) for name in models.Instance.model_fields})

    @strawberry.field(description="Every entitlement of the instance's license with its usage, "
                                  "ordered by slug")
    def entitlements(self, info: Info) -> list[EntitlementUsage]:
        rows = models.records(info.context.kaiten.usage.summary(self.slug))
        return [EntitlementUsage(**models.EntitlementUsage(**row).model_dump()) for row in rows]

    @strawberry.field(description="One page of the instance's audit trail, newest first "
                                  "(after inclusive, before exclusive)")
    def audit_trail(self, info: Info, event_name: str | None = None,
                    after: Instant | None = None, before: Instant | None = None,
                    limit: int = 50, offset: int = 0) -> AuditPage:
        events = info.context.kaiten.audit.trail_records(
            self.slug, event_name=event_name, after=after, before=before, limit=limit,
            offset=offset)
        items = [AuditEvent(**models.AuditEvent(**event).model_dump()) for event in events]
        return AuditPage(items=items, limit=limit, offset=offset)


@strawberry.type(description="One page of the live instances, ordered by slug")
class InstancePage:
    items: list[Instance]
    total: int = strawberry.field(description="live instances matching the filter")
    limit: int
    offset: int


@strawberry.type(description="Read-only queries; every one needs an admin or viewer key")
class Query:
    @strawberry.field(description="The live instances the key sees, one page (limit 1–200)")
    def instances(self, info: Info, customer: str | None = None, limit: int = 50,
                  offset: int = 0) -> InstancePage:
        page = instance_page(info.context.kaiten, info.context.key, customer, limit, offset)
        return InstancePage(items=[Instance.of(item) for item in page.items], total=page.total,
                            limit=page.limit, offset=page.offset)

    @strawberry.field(description="One live instance the key sees, else null")
    def instance(self, info: Info, slug: str) -> Instance | None:
        kaiten, key = info.context.kaiten, info.context.key
        try:
            check_instance(kaiten, key, slug)
            return Instance.of(models.Instance.model_validate(kaiten.instances.get(slug)))
        except ka.NotFoundError:
            return None


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context=None) -> None:
        """Log what went wrong in the server; a refusal of the caller's input is not that."""
        for error in errors:
            if _unexpected(error):
                StrawberryLogger.error(error, execution_context)


schema = _Schema(query=Query, config=StrawberryConfig(auto_camel_case=False,
                                                      scalar_map={Instant: INSTANT}),
                 extensions=[lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
                             lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS)])


def _unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, ka.KaitenError | GraphQLError)


def _formatted(error: GraphQLError) -> dict[str, Any]:
    """The error as GraphQL writes it; a library error's extensions name its problem."""
    out = error.formatted
    original = error.original_error
    if isinstance(original, ka.KaitenError):
        problem = library_problem(original)
        out["extensions"] = {"type": PROBLEM_BASE + problem.name, "status": problem.status,
                             **({"field": problem.field} if problem.field else {})}
    elif _unexpected(error):
        out["message"] = "the server failed to answer"
        out["extensions"] = {"type": PROBLEM_BASE + "internal-error", "status": 500}
    return out


# --- the HTTP face ----------------------------------------------------------------------------
class GraphQLRequest(BaseModel):
    """A GraphQL operation (GraphQL over HTTP)."""

    model_config = {"json_schema_extra": {"examples": [{
        "query": "query($slug: String!) { instance(slug: $slug) { name entitlements "
                 "{ entitlement usage granted } } }", "variables": {"slug": "acme-prod"}}]}}

    query: str = Field(min_length=1, description="the GraphQL document")
    variables: dict[str, Any] | None = None
    operationName: str | None = None  # GraphQL over HTTP's name


class GraphQLResponse(BaseModel):
    """The operation's result: ``data``, and ``errors`` when something was refused."""

    data: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | None = None


class GraphQLQuery(BaseModel):
    """A GraphQL operation in a GET query string; a parameter not listed here is refused (422),
    as by the REST GETs that take parameters."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, description="the GraphQL document")
    variables: str | None = Field(None, description="the variables: a JSON object")
    operationName: str | None = None  # GraphQL over HTTP's name
    extensions: str | None = Field(
        None, description="GraphQL over HTTP's extensions: a JSON object (accepted, not used)")


router = APIRouter(tags=["graphql"])
_RESPONSES = responses(401, 403, 422, 503)


@router.post(PATH, operation_id="graphql", response_model=GraphQLResponse,
             responses=_RESPONSES)
def graphql_post(kaiten: Handle, body: GraphQLRequest, key: auth.Reader) -> JSONResponse:
    """Run a read-only GraphQL operation. The schema (SDL) is at ``GET /api/graphql/schema``."""
    return execute(kaiten, key, body.query, body.variables, body.operationName)


@router.get(PATH, operation_id="graphqlGet", response_model=GraphQLResponse,
            responses=_RESPONSES)
def graphql_get(kaiten: Handle, key: auth.Reader,
                params: Annotated[GraphQLQuery, QueryParameter()]) -> JSONResponse:
    """The same as POST, with the operation in the query string."""
    variables = _json_object(params.variables, "variables")
    _json_object(params.extensions, "extensions")
    return execute(kaiten, key, params.query, variables, params.operationName)


def _json_object(text: str | None, field: str) -> dict[str, Any] | None:
    """The JSON object a GET parameter holds (None when absent); else a 422 naming ``field``."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProblemError(422, "validation-error", f"{field}: not JSON ({error.msg})",
                           field) from None
    if not isinstance(value, dict):
        raise ProblemError(422, "validation-error", f"{field}: must be a JSON object", field)
    return value


@router.get(PATH + "/schema", operation_id="graphqlSchema", response_class=PlainTextResponse,
            responses={**responses(401, 403), 200: {
                "description": "The schema in GraphQL SDL",
                "content": {"text/plain": {"schema": {"type": "string"}}}}})
def graphql_schema(key: auth.Reader) -> PlainTextResponse:
    """The GraphQL schema, as SDL text."""
    return PlainTextResponse(schema.as_str() + "\n")


def execute(kaiten: ka.Kaiten, key: ka.ApiKey, query: str, variables: dict[str, Any] | None,
            operation_name: str | None) -> JSONResponse:
    """Run the operation in this (worker) thread; 503 when the database could not serve it."""
    try:
        result = schema.execute_sync(query, variable_values=variables,
                                     context_value=Context(kaiten, key),
                                     operation_name=operation_name)
    except CannotGetOperationTypeError as error:  # no operation of that name, or no name
        raise ProblemError(422, "validation-error", error.as_http_error_reason(),
                           "operationName") from None
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        for error in result.errors:
            if isinstance(error.original_error, ka.UnavailableError):
                raise error.original_error
        body["errors"] = [_formatted(error) for error in result.errors]
    return JSONResponse(body)
