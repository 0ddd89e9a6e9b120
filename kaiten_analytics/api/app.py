"""The FastAPI application: lifespan (one ``Kaiten`` handle), routers, problems, OpenAPI."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

import kaiten_analytics as ka
from kaiten_analytics.api import graphql_api, health, instances, problems, usage
from kaiten_analytics.api import webhooks as webhook_routes

#: worker threads per process, and as many pooled database connections: a handler holds at
#: most one connection at a time, so a request never waits for the pool behind another
DEFAULT_THREADS = 16
#: how long a call waits for a pooled connection before the answer is 503
POOL_TIMEOUT = 5.0
THREADS_ENV = "KAITEN_API_THREADS"

DESCRIPTION = """\
The machine-facing half of Kaiten Analytics: instances, usage reports (single
and batch, with `Idempotency-Key`), an instance's entitlements and flags, its audit trail.

A read-only GraphQL endpoint at `/api/graphql` (its SDL at `/api/graphql/schema`) serves
instances, their entitlement usage and audit-trail pages under the same keys and rules.

Every `/api/...` request except `/api/health` carries `Authorization: Bearer <key>` (make
one with `kaiten keys create NAME --role admin|viewer|reporter [--customer SLUG]`). Errors
are RFC 9457 `application/problem+json` documents.
"""


def create_app(url: str | None = None, *, threads: int | None = None,
               clock: Callable[[], datetime] | None = None) -> FastAPI:
    """Return the API app for the database ``url`` (default ``$KAITEN_DATABASE_URL``).

    The lifespan migrates the database (when it can be reached; else the app starts and
    answers 503 until it can), makes the one ``Kaiten`` handle with a pool of ``threads``
    connections, and gives AnyIO's worker-thread limiter the same number of tokens.
    """
    threads = threads or int(os.environ.get(THREADS_ENV) or DEFAULT_THREADS)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        app.state.kaiten = await anyio.to_thread.run_sync(_connect, url, threads, clock)
        try:
            yield
        finally:
            app.state.kaiten.close()

    app = FastAPI(title="Kaiten Analytics API", version="1", description=DESCRIPTION,
                  lifespan=lifespan)
    problems.install(app)
    app.include_router(instances.router)
    app.include_router(usage.router)
    app.include_router(graphql_api.router)
    app.include_router(health.router)
    app.include_router(webhook_routes.router)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            app.openapi_schema = problems.problem_media_types(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _connect(url: str | None, threads: int, clock) -> ka.Kaiten:
    try:
        return ka.connect(url, clock, pool_size=threads, pool_timeout=POOL_TIMEOUT)
    except ka.UnavailableError:
        # start anyway: /api/health says 503 and calls answer 503 until the database is back
        return ka.connect(url, clock, migrate=False, pool_size=threads,
                          pool_timeout=POOL_TIMEOUT)


def app_from_environment() -> FastAPI:
    """The app for uvicorn's ``--factory`` (used with ``--workers``): all from the environment."""
    return create_app()
