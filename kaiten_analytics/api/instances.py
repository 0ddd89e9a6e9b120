"""``/api/instances``: list, create, read, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

import kaiten_analytics as ka
from kaiten_analytics.api import auth, models
from kaiten_analytics.api.auth import Handle, check_customer, check_instance
from kaiten_analytics.api.problems import responses

router = APIRouter(prefix="/api/instances", tags=["instances"])
SlugPath = Annotated[str, Path(description="the instance's slug", examples=["acme-prod"])]


@router.get("", operation_id="listInstances", response_model=models.InstancePage,
            responses=responses(401, 403, 404, 422, 503))
def list_instances(kaiten: Handle, query: Annotated[models.InstanceListQuery, Query()],
                   key: auth.Reader) -> models.InstancePage:
    """List live instances (ordered by slug); a customer-bound key lists its own only."""
    return instance_page(kaiten, key, query.customer, query.limit, query.offset)


def instance_page(kaiten: ka.Kaiten, key: ka.ApiKey, customer: str | None, limit: int,
                  offset: int) -> models.InstancePage:
    """One page of the instances ``key`` sees, of ``customer`` (every visible one if None).

    The page and the total are the library's (paged and counted in the database); a
    customer-bound key sees its own customer's only, and nothing of another customer's.
    """
    if key.customer is not None:
        if customer is not None and customer != key.customer:
            return models.InstancePage(items=[], total=0, limit=limit, offset=offset)
        customer = key.customer
    frame = kaiten.instances.list(customer, limit=limit, offset=offset)
    return models.InstancePage(items=[models.Instance(**r) for r in models.records(frame)],
                               total=kaiten.instances.count(customer), limit=limit,
                               offset=offset)


@router.post("", operation_id="createInstance", status_code=201,
             response_model=models.Instance, responses=responses(401, 403, 404, 409, 422, 503))
def create_instance(kaiten: Handle, body: models.InstanceCreate, response: Response,
                    key: auth.Writer) -> models.Instance:
    """Create an instance; ``Location`` names it."""
    check_customer(key, body.customer)
    instance = kaiten.instances.create(**body.model_dump())
    response.headers["Location"] = f"/api/instances/{instance.slug}"
    return models.Instance.model_validate(instance)


@router.get("/{slug}", operation_id="getInstance", response_model=models.Instance,
            responses=responses(401, 403, 404, 422, 503))
def get_instance(kaiten: Handle, slug: SlugPath, key: auth.Reader
                 ) -> models.Instance:
    """Return one live instance."""
    check_instance(kaiten, key, slug)
    return models.Instance.model_validate(kaiten.instances.get(slug))


@router.put("/{slug}", operation_id="updateInstance", response_model=models.Instance,
            responses=responses(401, 403, 404, 409, 422, 503))
def update_instance(kaiten: Handle, slug: SlugPath, body: models.InstanceUpdate,
                    key: auth.Writer) -> models.Instance:
    """Change fields of an instance (a new ``slug`` too); omitted fields stay as they are."""
    check_instance(kaiten, key, slug)
    changes = body.model_dump(exclude_unset=True)
    check_customer(key, changes.get("customer"))
    return models.Instance.model_validate(kaiten.instances.update(slug, **changes))


@router.delete("/{slug}", operation_id="deleteInstance", status_code=204,
               response_class=Response, responses=responses(401, 403, 404, 422, 503))
def delete_instance(kaiten: Handle, slug: SlugPath, key: auth.Writer
                    ) -> Response:
    """Soft-delete an instance: afterwards it is 404; its history stays."""
    check_instance(kaiten, key, slug)
    kaiten.instances.delete(slug)
    return Response(status_code=204)
