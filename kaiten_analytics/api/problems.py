"""RFC 9457 problem details: every error the API answers, in one place.

``type`` is a URI whose last path segment names the problem (``…/problems/not-found``);
``detail`` is the library's message and ``field`` the input at fault, when one is.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

import kaiten_analytics as ka

PROBLEM_BASE = "https://kaiten.example/problems/"
MEDIA_TYPE = "application/problem+json"
#: how long a client should wait before retrying a 503 (seconds)
RETRY_AFTER = 1

_TITLES = {
    "bad-request": "Bad request",
    "unauthorized": "Unauthorized",
    "forbidden": "Forbidden",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "conflict": "Conflict",
    "usage-rejected": "Usage rejected",
    "unsupported-media-type": "Unsupported media type",
    "validation-error": "Validation error",
    "idempotency-key-reused": "Idempotency key reused",
    "unavailable": "Service unavailable",
    "internal-error": "Internal server error",
}


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "type": PROBLEM_BASE + "not-found", "title": "Not found", "status": 404,
        "detail": "instance 'acme-prod' does not exist", "field": "instance",
    }]})

    type: str = Field(description="URI; its last path segment names the problem")
    title: str
    status: int
    detail: str = Field(description="what went wrong (the library's message)")
    field: str | None = Field(None, description="the input at fault, when one is")


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(self, status: int, name: str, detail: str, field: str | None = None,
                 headers: dict[str, str] | None = None, **members: Any) -> None:
        super().__init__(detail)
        self.status, self.name, self.detail, self.field = status, name, detail, field
        self.headers = headers or {}
        self.members = members


def problem_response(status: int, name: str, detail: str, field: str | None = None,
                     headers: dict[str, str] | None = None, **members: Any) -> JSONResponse:
    """Return the ``application/problem+json`` response for one problem."""
    body: dict[str, Any] = {"type": PROBLEM_BASE + name, "title": _TITLES[name],
                            "status": status, "detail": detail}
    if field is not None:
        body["field"] = field
    body.update(members)
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def library_problem(error: ka.KaitenError) -> ProblemError:
    """Map a library error to its problem.

    ``ValidationError`` → 422 ``validation-error``, ``NotFoundError`` → 404 ``not-found``,
    ``ConflictError`` → 409 ``conflict`` (an idempotency key reused for another request: 422
    ``idempotency-key-reused``), ``UnavailableError`` → 503 ``unavailable``; the problem's
    ``field`` is the error's.
    """
    field = getattr(error, "field", None)
    if isinstance(error, ka.ValidationError):
        return ProblemError(422, "validation-error", error.message, field)
    if isinstance(error, ka.NotFoundError):
        return ProblemError(404, "not-found", error.message, field)
    if isinstance(error, ka.ConflictError):
        if field == "idempotency_key":
            return ProblemError(422, "idempotency-key-reused", error.message, field)
        return ProblemError(409, "conflict", error.message, field)
    if isinstance(error, ka.UnavailableError):
        return ProblemError(503, "unavailable", error.message,
                            headers={"Retry-After": str(RETRY_AFTER)})
    return ProblemError(400, "bad-request", error.message, field)


def _field(loc: tuple | list) -> str | None:
    """``("body", "reports", 1, "instance")`` → ``reports[1].instance``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or None


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    @app.exception_handler(ProblemError)
    async def _problem(_request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(error.status, error.name, error.detail, error.field,
                                error.headers, **error.members)

    @app.exception_handler(ka.KaitenError)
    async def _library(_request: Request, error: ka.KaitenError) -> JSONResponse:
        problem = library_problem(error)
        return problem_response(problem.status, problem.name, problem.detail, problem.field,
                                problem.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = error.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
        if first.get("type") == "json_invalid":
            reason = (first.get("ctx") or {}).get("error", "malformed JSON")
            return problem_response(400, "bad-request", f"the body is not JSON: {reason}")
        field = _field(first.get("loc", ()))
        message = first.get("msg", "invalid")
        detail = f"{field}: {message}" if field else message
        return problem_response(422, "validation-error", detail, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        names = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
                 405: "method-not-allowed", 415: "unsupported-media-type"}
        name = names.get(error.status_code, "bad-request")
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        headers = dict(error.headers or {})
        if error.status_code == 404 and detail == "Not Found":
            detail = "no such resource"
        if error.status_code == 405:
            # Starlette names the methods of the first route on the path; list them all
            allowed = sorted({method.upper() for template, item in app.openapi()["paths"].items()
                              if compile_path(template)[0].match(request.url.path)
                              for method in item})
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        return problem_response(error.status_code, name, detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, _error: Exception) -> JSONResponse:
        return problem_response(500, "internal-error", "the server failed to answer")


def responses(*statuses: int, **models: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problem statuses a route can answer."""
    descriptions = {400: "Malformed request", 401: "Missing, unknown or revoked API key",
                    403: "The key's role may not do this", 404: "Not found",
                    409: "Conflict", 422: "Refused input", 503: "The database is unavailable"}
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({400, *statuses}):  # 400: a body that is not JSON, a bad header
        # (app.openapi moves the model's schema from application/json to MEDIA_TYPE)
        out[status] = {"description": descriptions[status],
                       "model": models.get(f"p{status}", Problem)}
    return out


def problem_media_types(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare every 4xx/5xx response body as ``application/problem+json`` in ``openapi``."""
    for path in openapi.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                # (whatever the route's own media type: a text/plain route's errors too)
                content = response.get("content", {})
                if status[0] in "45" and content:
                    schema = content.get("application/json") or next(iter(content.values()))
                    response["content"] = {MEDIA_TYPE: schema}
    return openapi
