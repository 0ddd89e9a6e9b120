"""Who is calling: the bearer key, what its role may do, and which instances it sees.

Roles: ``admin`` may do everything; ``viewer`` every read; ``reporter`` what
customer software needs (report usage, read an instance's entitlements, evaluate its
flags). A key bound to a customer sees that customer's instances only: any other is
answered exactly as an instance that does not exist.

Two ways in, one rule: the admin routes (instances, webhooks, GraphQL) take the checked key
as a dependency (``Reader``, ``Writer``: looked up in a worker thread of its own before the
handler runs); the metering routes that customer software calls at volume take the request's
``Secret`` and call :func:`authorized` first thing in the handler, so a report costs one hop
into the thread pool instead of two. A request without a key is 401 either way, before its
body is validated; a wrong key or role on a metering route with an invalid body is 422.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import kaiten_analytics as ka
from kaiten_analytics.api.problems import ProblemError

bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="An API key made by `kaiten keys create NAME --role ROLE`")

#: action -> roles that may do it
PERMISSIONS = {
    "read": ("admin", "viewer"),                   # instance lists and reads, audit trails
    "write": ("admin",),                           # instance CRUD
    "report": ("admin", "reporter"),               # usage reports, single and batch
    "meter": ("admin", "viewer", "reporter"),      # an instance's entitlements and flags
}


async def handle(request: Request) -> ka.Kaiten:
    """The ``Kaiten`` handle the lifespan made."""
    return request.app.state.kaiten


Handle = Annotated[ka.Kaiten, Depends(handle)]


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


async def secret(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
                 ) -> str:
    """The bearer secret the request carries, or answer 401 when it carries none.

    Checked on the event loop, before the body is validated, so a request without a key is
    401 whatever its body; the key itself is looked up by :func:`authorized` in the
    handler's own worker thread (one hop into the thread pool per request, not two).
    """
    if credentials is None:
        raise _unauthorized("an API key is required: Authorization: Bearer <key>")
    return credentials.credentials


#: the bearer secret of a request (401 when missing); the handler calls :func:`authorized`
Secret = Annotated[str, Depends(secret)]


def authorized(kaiten: ka.Kaiten, secret: str, action: str) -> ka.ApiKey:
    """Return the key of ``secret`` if its role may do ``action``: else 401 or 403."""
    return permitted(caller(kaiten, secret), action)


def permitted(key: ka.ApiKey, action: str) -> ka.ApiKey:
    """Return ``key`` if its role may do ``action``, else answer 403."""
    roles = PERMISSIONS[action]
    if key.role not in roles:
        raise ProblemError(403, "forbidden",
                           f"the {key.role} role may not do this ({action}); "
                           f"allowed: {', '.join(roles)}")
    return key


def caller(kaiten: Handle, secret: Secret) -> ka.ApiKey:
    """Return the calling key, or answer 401 (missing, unknown or revoked)."""
    try:
        return kaiten.keys.authenticate(secret)
    except ka.NotFoundError as error:
        raise _unauthorized(error.message) from None


def allowed(action: str):
    """A dependency: the calling key, if its role may do ``action`` (else 403)."""
    async def check(key: Annotated[ka.ApiKey, Depends(caller)]) -> ka.ApiKey:
        return permitted(key, action)

    return Depends(check)


#: the calling key, checked for each kind of action
Reader = Annotated[ka.ApiKey, allowed("read")]
Writer = Annotated[ka.ApiKey, allowed("write")]


def may(key: ka.ApiKey, action: str) -> bool:
    """True when ``key``'s role may do ``action``."""
    return key.role in PERMISSIONS[action]


def check_instance(kaiten: ka.Kaiten, key: ka.ApiKey, slug: str) -> None:
    """Raise ``NotFoundError`` when ``key`` may not see the instance ``slug``.

    An unbound key sees every instance (the library then decides whether it exists); a key
    bound to a customer gets the same answer for another customer's instance as for none.
    """
    if key.customer is None:
        return
    try:
        instance = kaiten.instances.get(slug, include_deleted=True)
    except ka.NotFoundError:
        raise ka.NotFoundError("instance", slug) from None
    if instance.customer != key.customer:
        raise ka.NotFoundError("instance", slug)


def check_customer(key: ka.ApiKey, customer: str | None, field: str = "customer") -> None:
    """Raise ``NotFoundError`` when a bound ``key`` names another customer."""
    if key.customer is not None and customer is not None and customer != key.customer:
        error = ka.NotFoundError("customer", customer)
        error.field = field
        raise error
