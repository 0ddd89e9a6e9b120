"""Instances: create, update, soft delete, list, and their outbox events."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from conftest import table_counts

import kaiten_analytics as ka
from kaiten_analytics.db.models import outbox_events


def outbox(kaiten, event_type=None):
    query = sa.select(outbox_events).order_by(outbox_events.c.id)
    if event_type:
        query = query.where(outbox_events.c.event_type == event_type)
    with kaiten.db.engine.connect() as connection:
        return connection.execute(query).all()


def test_create_returns_the_instance_and_writes_instance_created(catalogue):
    instance = catalogue.instances.create(
        "acme", "Staging", "acme-staging", "starter", description="pre-prod",
        deployment_zone="us-prod", license_start="2026-01-01", license_end=date(2026, 12, 31),
        metadata='{"region": "us", "nested": {"k": 1}}',
    )
    assert instance.license_start == date(2026, 1, 1)
    assert instance.metadata == {"region": "us", "nested": {"k": 1}}
    assert instance.deployment_zone == "us-prod"
    assert instance.created_at == catalogue.db.clock()
    events = outbox(catalogue, "INSTANCE_CREATED")
    assert [e.aggregate_id for e in events] == ["acme-prod", "globex-dev", "acme-staging"]
    assert events[-1].payload["instance"]["license"] == "starter"


def test_list_columns_and_customer_filter(catalogue):
    df = catalogue.instances.list()
    assert list(df.columns[:10]) == [
        "slug", "name", "customer", "license", "deployment_zone", "license_start",
        "license_end", "description", "metadata", "created_at",
    ]
    assert list(df["slug"]) == ["acme-prod", "globex-dev"]
    assert str(df["created_at"].dtype).startswith("datetime64") and df["created_at"].dt.tz
    assert list(catalogue.instances.list(customer="globex")["slug"]) == ["globex-dev"]
    with pytest.raises(ka.NotFoundError):
        catalogue.instances.list(customer="nobody")


def test_list_pages_in_slug_order_and_count_matches_every_page(catalogue):
    for n in range(5):
        catalogue.instances.create("acme", f"Extra {n}", f"acme-x{n}", "starter")
    catalogue.instances.delete("acme-x2")
    everything = list(catalogue.instances.list()["slug"])
    assert everything == sorted(everything) and "acme-x2" not in everything
    pages = [list(catalogue.instances.list(limit=2, offset=o)["slug"]) for o in range(0, 8, 2)]
    assert [slug for page in pages for slug in page] == everything
    assert [len(page) for page in pages] == [2, 2, 2, 0]
    assert catalogue.instances.count() == len(everything) == 6
    assert catalogue.instances.count(customer="acme") == 5
    acme = catalogue.instances.list(customer="acme", limit=3, offset=1)
    assert list(acme["slug"]) == [s for s in everything if s.startswith("acme")][1:4]
    for bad in ({"limit": 0}, {"limit": ka.PAGE_MAX + 1}, {"limit": True}, {"offset": -1},
                {"offset": 1.5}):
        with pytest.raises(ka.ValidationError) as refused:
            catalogue.instances.list(**bad)
        assert refused.value.field == next(iter(bad))
    with pytest.raises(ka.NotFoundError):
        catalogue.instances.count(customer="nobody")


def test_update_changes_fields_and_records_what_changed(catalogue, clock):
    clock.advance(minutes=5)
    updated = catalogue.instances.update(
        "acme-prod", name="Prod EU", license="starter", deployment_zone=None,
        slug="acme-eu", metadata={"region": "eu"},
    )
    assert (updated.slug, updated.name, updated.license) == ("acme-eu", "Prod EU", "starter")
    assert updated.deployment_zone is None
    assert updated.updated_at > updated.created_at
    event = outbox(catalogue, "INSTANCE_UPDATED")[-1]
    assert event.payload["previous_slug"] == "acme-prod"
    assert event.payload["changes"]["license"] == {"from": "pro", "to": "starter"}
    assert event.payload["changes"]["deployment_zone"] == {"from": "eu-prod", "to": None}
    assert "description" not in event.payload["changes"]
    with pytest.raises(ka.NotFoundError):
        catalogue.instances.get("acme-prod")


def test_delete_is_soft_keeps_the_slug_reserved_and_writes_instance_deleted(catalogue):
    catalogue.instances.delete("acme-prod")
    assert list(catalogue.instances.list()["slug"]) == ["globex-dev"]
    with pytest.raises(ka.NotFoundError):
        catalogue.instances.get("acme-prod")
    assert catalogue.instances.get("acme-prod", include_deleted=True).deleted_at is not None
    with pytest.raises(ka.NotFoundError):
        catalogue.instances.update("acme-prod", name="x")
    with pytest.raises(ka.NotFoundError):
        catalogue.instances.delete("acme-prod")
    with pytest.raises(ka.ConflictError):
        catalogue.instances.create("acme", "Again", "acme-prod", "pro")
    assert [e.aggregate_id for e in outbox(catalogue, "INSTANCE_DELETED")] == ["acme-prod"]


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"slug": "Acme Prod"}, ka.ValidationError, "slug"),
        ({"slug": ""}, ka.ValidationError, "slug"),
        ({"name": ""}, ka.ValidationError, "name"),
        ({"name": "x" * 201}, ka.ValidationError, "name"),
        ({"license_start": "2026-05-01", "license_end": "2026-04-30"},
         ka.ValidationError, "license_end"),
        ({"license_start": "01/05/2026"}, ka.ValidationError, "license_start"),
        ({"metadata": "[1, 2]"}, ka.ValidationError, "metadata"),
        ({"metadata": "{not json"}, ka.ValidationError, "metadata"),
        ({"metadata": ["a"]}, ka.ValidationError, "metadata"),
        ({"customer": "nobody"}, ka.NotFoundError, "customer"),
        ({"license": "platinum"}, ka.NotFoundError, "license"),
        ({"deployment_zone": "mars"}, ka.NotFoundError, "deployment_zone"),
        ({"slug": "acme-prod"}, ka.ConflictError, "slug"),
    ],
)
def test_invalid_instance_is_refused_and_writes_nothing(catalogue, kwargs, error, field):
    args = {"customer": "acme", "name": "New", "slug": "acme-new", "license": "pro", **kwargs}
    before = table_counts(catalogue)
    with pytest.raises(error) as info:
        catalogue.instances.create(**args)
    assert info.value.field == field
    assert table_counts(catalogue) == before


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"slug": "globex-dev"}, ka.ConflictError, "slug"),
        ({"license_end": "2020-01-01", "license_start": "2021-01-01"},
         ka.ValidationError, "license_end"),
        ({"metadata": 5}, ka.ValidationError, "metadata"),
        ({"license": None}, ka.ValidationError, "license"),
        ({"colour": "red"}, ka.ValidationError, "colour"),
        ({"license": "platinum"}, ka.NotFoundError, "license"),
    ],
)
def test_invalid_update_is_refused_and_writes_nothing(catalogue, changes, error, field):
    before = table_counts(catalogue)
    with pytest.raises(error) as info:
        catalogue.instances.update("acme-prod", **changes)
    assert info.value.field == field
    assert table_counts(catalogue) == before
    assert catalogue.instances.get("acme-prod").license == "pro"


def test_update_end_date_checked_against_stored_start(catalogue):
    catalogue.instances.update("acme-prod", license_start="2026-01-01")
    with pytest.raises(ka.ValidationError) as info:
        catalogue.instances.update("acme-prod", license_end="2025-12-31")
    assert info.value.field == "license_end"
