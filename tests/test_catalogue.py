"""Customers, entitlements, licenses and zones: creation and the rules on their fields."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import table_counts

import kaiten_analytics as ka


def test_catalogue_round_trip(catalogue):
    assert list(catalogue.customers.list()["slug"]) == ["acme", "globex"]
    assert list(catalogue.zones.list()["slug"]) == ["eu-prod", "us-prod"]
    pro = catalogue.entitlements.list(license="pro").set_index("slug")
    assert pro.loc["seats", "value"] == 50
    assert pro.loc["sso", "value"] is True
    assert pro.loc["support-tier", "value"] == "business"
    assert pro.loc["api-calls", "value"] is None
    assert pro.loc["seats", "aggregation_method"] == "MAX"
    assert pd.isna(pro.loc["sso", "aggregation_method"])


def test_entitlements_of_an_unknown_license_is_not_found(catalogue):
    with pytest.raises(ka.NotFoundError) as caught:
        catalogue.entitlements.list(license="platinum")
    assert caught.value.entity == "license"
    assert "platinum" in str(caught.value)
    assert len(catalogue.entitlements.list()) == 10  # the whole catalogue still lists


def test_non_number_entitlement_defaults_to_no_aggregation(kaiten):
    flag = kaiten.entitlements.create("sso", "SSO", type="BOOLEAN")
    assert flag.aggregation_method is None


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda k: k.customers.create("Not A Slug", "x"), "slug"),
        (lambda k: k.customers.create("a--b", "x"), "slug"),
        (lambda k: k.customers.create("x" * 64, "x"), "slug"),
        (lambda k: k.customers.create("ok", "   "), "name"),
        (lambda k: k.customers.create("ok", "n" * 201), "name"),
        (lambda k: k.zones.create("eu_prod", "EU"), "slug"),
        (lambda k: k.entitlements.create("e", "E", type="DATE"), "type"),
        (lambda k: k.entitlements.create("e", "E", aggregation_method="MEDIAN"),
         "aggregation_method"),
        (lambda k: k.entitlements.create("e", "E", type="BOOLEAN", aggregation_method="MAX"),
         "aggregation_method"),
        (lambda k: k.licenses.create("l", "L", {"seats": "ten"}), "entitlements.seats"),
        (lambda k: k.licenses.create("l", "L", {"seats": -1}), "entitlements.seats"),
        (lambda k: k.licenses.create("l", "L", {"seats": float("nan")}), "entitlements.seats"),
        (lambda k: k.licenses.create("l", "L", {"sso": "yes"}), "entitlements.sso"),
        (lambda k: k.licenses.create("l", "L", {"support-tier": 3}),
         "entitlements.support-tier"),
    ],
)
def test_invalid_catalogue_input_is_refused_and_writes_nothing(catalogue, call, field):
    before = table_counts(catalogue)
    with pytest.raises(ka.ValidationError) as info:
        call(catalogue)
    assert info.value.field == field
    assert field in str(info.value)
    assert table_counts(catalogue) == before


def test_license_with_unknown_entitlement_is_not_found_and_writes_nothing(catalogue):
    before = table_counts(catalogue)
    with pytest.raises(ka.NotFoundError) as info:
        catalogue.licenses.create("gold", "Gold", {"seats": 1, "no-such-thing": 3})
    assert info.value.entity == "entitlement"
    assert table_counts(catalogue) == before


@pytest.mark.parametrize(
    "call",
    [
        lambda k: k.customers.create("acme", "Again"),
        lambda k: k.zones.create("eu-prod", "Again"),
        lambda k: k.licenses.create("pro", "Again"),
        lambda k: k.entitlements.create("seats", "Again"),
    ],
)
def test_duplicate_slug_is_a_conflict_and_writes_nothing(catalogue, call):
    before = table_counts(catalogue)
    with pytest.raises(ka.ConflictError) as info:
        call(catalogue)
    assert info.value.field == "slug"
    assert table_counts(catalogue) == before
