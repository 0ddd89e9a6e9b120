"""The Customers page and the customer detail (AppTest): counts, license mix, the deep link,
and the customer's Instances tab (the Instances page's list and forms, customer fixed)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from conftest import table_counts
from console_support import click, fill_form, open_page, select_row, texts
from streamlit.testing.v1 import AppTest

import kaiten_analytics as ka
from kaiten_console import page_paths


@pytest.fixture
def shop(catalogue):
    """The catalogue, plus a second acme instance (starter) and initech without instances."""
    catalogue.instances.create("acme", "Edge", "acme-edge", "starter")
    catalogue.customers.create("initech", "Initech")
    return catalogue


def customers_page(console_for, kaiten) -> AppTest:
    return open_page(console_for(kaiten), page_paths.CUSTOMERS)


def customer_detail(console_for, kaiten, slug: str) -> AppTest:
    return open_page(console_for(kaiten), page_paths.CUSTOMER, customer=slug)


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_customers_page_shows_instance_counts_and_license_mix(shop, console_for):
    at = customers_page(console_for, shop)
    assert texts(at.title) == ["Customers"]
    shown = at.dataframe[0].value
    assert list(shown.columns) == ["name", "slug", "instances", "license_mix", "created"]
    assert shown[["slug", "instances", "license_mix"]].values.tolist() == [
        ["acme", 2, "Pro × 1 · Starter × 1"], ["globex", 1, "Starter × 1"],
        ["initech", 0, "—"]]
    # the counts are the library's instance list's
    listed = shop.instances.list()
    assert list(shown["instances"]) == [len(listed[listed["customer"] == slug])
                                        for slug in shown["slug"]]
    assert metrics(at) == {"Customers": "3", "Live instances": "3",
                           "Customers without instances": "1"}


def test_search_and_open_customer_goes_to_its_detail_sqlite_only(shop, console_for):
    at = customers_page(console_for, shop)
    at.text_input(key="customers_search").input("GLOB").run()
    assert list(at.dataframe[0].value["slug"]) == ["globex"]
    select_row(at, "globex")  # the table drawn after the search (a fresh key)
    click(at, "Open customer")
    assert not at.exception
    assert texts(at.title) == ["Globex"]
    assert at.query_params["customer"] == "globex"
    assert list(at.dataframe[0].value["slug"]) == ["globex-dev"]


def test_deep_link_shows_the_customers_instances_and_counts(shop, console_for):
    at = customer_detail(console_for, shop, "acme")
    assert texts(at.title) == ["Acme Corp"]
    assert [tab.label for tab in at.tabs] == ["Instances"]
    shown = at.dataframe[0].value
    assert list(shown["slug"]) == list(shop.instances.list(customer="acme")["slug"])
    assert list(shown["slug"]) == ["acme-edge", "acme-prod"]
    assert "customer_name" not in shown.columns  # one customer: no customer column
    assert metrics(at) == {"Live instances": "2", "License mix": "Pro × 1 · Starter × 1"}
    assert at.selectbox(key="customer_picker").value == "acme"


def test_deep_link_to_an_unknown_customer_says_so_sqlite_only(shop, console_for):
    at = customer_detail(console_for, shop, "nobody")
    assert any("Cannot show this customer" in error and "nobody" in error
               for error in texts(at.error))
    assert not at.dataframe
    at.selectbox(key="customer_picker").set_value("initech").run()
    assert texts(at.title) == ["Initech"]
    assert at.query_params["customer"] == "initech"
    assert "This customer has no instances yet." in texts(at.info)


def test_create_from_the_customer_detail_lands_under_that_customer(shop, console_for):
    at = customer_detail(console_for, shop, "globex")
    click(at, "New instance")
    customer = at.selectbox(key="customer_new_instance_customer")
    assert (customer.value, customer.disabled) == ("globex", True)
    fill_form(at, "customer_new_instance", name="EU Production", slug="globex-eu",
              license="pro", zone="eu-prod", start=date(2026, 1, 1), end=date(2026, 12, 31))
    click(at, "Create")
    assert not at.exception and not at.error
    created = shop.instances.get("globex-eu")
    assert (created.customer, created.license, created.deployment_zone) == (
        "globex", "pro", "eu-prod")
    assert list(at.dataframe[0].value["slug"]) == ["globex-dev", "globex-eu"]
    assert metrics(at)["Live instances"] == "2"
    assert any("Created instance" in message for message in texts(at.success))


def test_invalid_create_on_the_customer_detail_shows_the_message_and_keeps_the_input(
        shop, console_for):
    at = customer_detail(console_for, shop, "globex")
    click(at, "New instance")
    fill_form(at, "customer_new_instance", name="Staging", slug="Bad Slug!", license="pro",
              metadata='{"region": "eu"}')
    before = table_counts(shop)
    click(at, "Create")
    errors = texts(at.error)
    assert len(errors) == 1 and "Could not create the instance." in errors[0], errors
    assert "**Slug**: must be URL-safe" in errors[0]
    assert table_counts(shop) == before
    assert at.text_input(key="customer_new_instance_slug").value == "Bad Slug!"
    assert at.text_input(key="customer_new_instance_name").value == "Staging"
    assert at.text_area(key="customer_new_instance_metadata").value == '{"region": "eu"}'


def test_edit_delete_and_open_details_from_the_customer_detail_sqlite_only(shop, console_for):
    at = customer_detail(console_for, shop, "acme")
    select_row(at, "acme-edge")
    click(at, "Edit")
    name_key = next(w.key for w in at.text_input
                    if w.key and w.key.startswith("customer_edit_") and w.key.endswith("_name"))
    key = name_key.removesuffix("_name")
    assert at.selectbox(key=f"{key}_customer").disabled
    fill_form(at, key, name="Edge (EU)", zone="eu-prod")
    click(at, "Save changes")
    assert not at.error
    edited = shop.instances.get("acme-edge")
    assert (edited.name, edited.deployment_zone, edited.customer) == ("Edge (EU)", "eu-prod",
                                                                      "acme")
    select_row(at, "acme-edge")
    click(at, "Delete")
    click(at, "Delete instance")
    assert not at.exception
    assert list(at.dataframe[0].value["slug"]) == ["acme-prod"]
    with pytest.raises(ka.NotFoundError):
        shop.instances.get("acme-edge")
    select_row(at, "acme-prod")
    click(at, "Open details")
    assert texts(at.title) == ["Production"]
    assert at.query_params["instance"] == "acme-prod"


def test_new_customer_form_creates_and_refuses_with_the_input_kept_sqlite_only(
        shop, console_for):
    at = customers_page(console_for, shop)
    click(at, "New customer")
    at.text_input(key="new_customer_name").input("Umbrella")
    at.text_input(key="new_customer_slug").input("Umbrella Corp")
    click(at, "Create customer")
    errors = texts(at.error)
    assert len(errors) == 1 and "**Slug**" in errors[0], errors
    assert at.text_input(key="new_customer_slug").value == "Umbrella Corp"
    assert list(shop.customers.list()["slug"]) == ["acme", "globex", "initech"]
    at.text_input(key="new_customer_slug").input("umbrella")
    click(at, "Create customer")
    assert not at.error
    assert list(shop.customers.list()["slug"]) == ["acme", "globex", "initech", "umbrella"]
    assert "umbrella" in list(at.dataframe[0].value["slug"])


def test_the_instance_detail_links_to_its_customer_sqlite_only(shop, console_for):
    at = open_page(console_for(shop), page_paths.INSTANCE, instance="acme-edge")
    [link] = [e.proto for e in at.get("page_link") if e.proto.label.endswith("'s instances")]
    assert link.label == "Acme Corp's instances"
    assert link.query_string == "customer=acme"


def test_metadata_dialog_on_the_customer_detail_sqlite_only(shop, console_for):
    at = customer_detail(console_for, shop, "acme")
    select_row(at, "acme-prod")
    click(at, "View metadata")
    assert [json.loads(element.value) for element in at.json] == [{"region": "eu", "tier": 2}]
    click(at, "Close")
    assert not at.json
