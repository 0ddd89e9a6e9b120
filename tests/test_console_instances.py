"""The console's Instances page (AppTest): list, filters, metadata dialog, create, edit, delete."""

from __future__ import annotations

import json
from datetime import date

import pytest
from conftest import table_counts
from console_support import (
    click,
    fill_form,
    reload,
    select_row,
    texts,
)
from streamlit.testing.v1 import AppTest

import kaiten_analytics as ka


@pytest.fixture
def app(catalogue, console_for):
    """The console on the catalogue's database, first run done (the Instances page)."""
    at = console_for(catalogue).run()
    assert not at.exception
    return at


def shown_slugs(at: AppTest) -> list[str]:
    return list(at.dataframe[0].value["slug"]) if at.dataframe else []


def test_instance_list_shows_the_library_list(app, catalogue):
    assert app.title[0].value == "Instances"
    shown = app.dataframe[0].value
    assert list(shown["slug"]) == list(catalogue.instances.list()["slug"])
    assert list(shown.columns) == ["name", "slug", "description", "customer_name", "license",
                                   "license_start", "license_end", "deployment_zone",
                                   "metadata"]
    assert shown.set_index("slug").loc["acme-prod", "customer_name"] == "Acme Corp"


def test_empty_database_shows_how_to_get_started(kaiten, console_for):
    at = console_for(kaiten).run()
    assert not at.exception
    assert "No instances yet — create one, or run `kaiten demo`." in texts(at.info)
    assert not at.dataframe


def test_customer_filter_shows_that_customers_instances(app, catalogue):
    catalogue.instances.create("globex", "Staging", "globex-staging", "pro")
    reload(app)
    app.selectbox(key="instances_customer").set_value("globex").run()
    assert shown_slugs(app) == list(catalogue.instances.list(customer="globex")["slug"])
    assert shown_slugs(app) == ["globex-dev", "globex-staging"]


def test_license_and_zone_filters_narrow_the_list(app, catalogue):
    catalogue.instances.create("globex", "EU", "globex-eu", "pro", deployment_zone="eu-prod")
    catalogue.instances.create("acme", "US", "acme-us", "starter", deployment_zone="us-prod")
    reload(app)
    app.multiselect(key="instances_license").set_value(["pro"]).run()
    assert shown_slugs(app) == ["acme-prod", "globex-eu"]
    app.multiselect(key="instances_zone").set_value(["eu-prod"]).run()
    assert shown_slugs(app) == ["acme-prod", "globex-eu"]
    app.multiselect(key="instances_license").set_value([]).run()
    app.multiselect(key="instances_zone").set_value(["(no zone)"]).run()
    assert shown_slugs(app) == ["globex-dev"]
    app.multiselect(key="instances_zone").set_value(["us-prod", "eu-prod"]).run()
    assert shown_slugs(app) == ["acme-prod", "acme-us", "globex-eu"]


def test_search_matches_name_slug_and_description(app, catalogue):
    catalogue.instances.create("acme", "Edge", "acme-edge", "starter",
                               description="Runs at the EDGE of the network")
    reload(app)
    for term, expected in [("production", ["acme-prod"]), ("GLOBEX", ["globex-dev"]),
                           ("network", ["acme-edge"]), ("acme", ["acme-edge", "acme-prod"])]:
        app.text_input(key="instances_search").input(term).run()
        assert shown_slugs(app) == expected, term
    app.text_input(key="instances_search").input("nothing like this").run()
    assert not app.dataframe
    assert "No instance matches these filters." in texts(app.info)


def test_metadata_dialog_shows_the_instance_metadata_as_json(app):
    select_row(app, "acme-prod")
    click(app, "View metadata")
    assert not app.exception
    assert [json.loads(element.value) for element in app.json] == [{"region": "eu", "tier": 2}]
    click(app, "Close")
    assert not app.json


def test_actions_are_disabled_until_a_row_is_selected(app):
    actions = {"View metadata", "Open details", "Edit", "Delete"}
    assert {b.label for b in app.button if b.label in actions and b.disabled} == actions
    select_row(app, "globex-dev")
    assert not [b.label for b in app.button if b.label in actions and b.disabled]


def test_create_writes_the_instance(app, catalogue, clock):
    click(app, "New instance")
    fill_form(app, "new_instance", customer="globex", name="EU Production", slug="globex-eu",
              description="Frankfurt", license="pro", zone="eu-prod",
              start=date(2026, 1, 1), end=date(2026, 12, 31),
              metadata='{"region": "eu", "nodes": 3}')
    click(app, "Create")
    assert not app.exception
    assert not app.error
    created = catalogue.instances.get("globex-eu")
    assert (created.customer, created.name, created.description, created.license,
            created.deployment_zone, created.license_start, created.license_end,
            created.metadata) == ("globex", "EU Production", "Frankfurt", "pro", "eu-prod",
                                  date(2026, 1, 1), date(2026, 12, 31),
                                  {"region": "eu", "nodes": 3})
    assert "globex-eu" in shown_slugs(app)
    assert any("Created instance" in message for message in texts(app.success))
    assert not [form for form in app.text_input if form.key == "new_instance_name"]


def test_create_derives_the_slug_from_the_name_when_left_empty(app, catalogue):
    click(app, "New instance")
    fill_form(app, "new_instance", customer="acme", name="Zürich Edge (beta)",
              license="starter")
    click(app, "Create")
    assert not app.error
    assert catalogue.instances.get("zurich-edge-beta").name == "Zürich Edge (beta)"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"slug": "Bad Slug!"}, "**Slug**: must be URL-safe"),
        ({"slug": "acme-prod"}, "**Slug**"),
        ({"start": date(2026, 6, 1), "end": date(2026, 5, 31)}, "**License end**: 2026-05-31 is "
                                                                 "before license_start"),
        ({"metadata": "[1]"}, "**Metadata**: must be a JSON object"),
        ({"metadata": "{bad"}, "**Metadata**: is not valid JSON"),
    ],
    ids=["bad-slug", "taken-slug", "end-before-start", "metadata-array", "metadata-unparsable"],
)
def test_invalid_create_shows_the_fields_message_writes_nothing_and_keeps_the_input(
        app, catalogue, values, message):
    click(app, "New instance")
    typed = {"customer": "acme", "name": "Staging", "slug": "acme-staging", "license": "pro",
             "metadata": '{"region": "eu"}', **values}
    fill_form(app, "new_instance", **typed)
    before = table_counts(catalogue)
    click(app, "Create")
    assert not app.exception
    errors = texts(app.error)
    assert len(errors) == 1 and "Could not create the instance." in errors[0], errors
    assert message in errors[0]
    assert table_counts(catalogue) == before
    assert app.text_input(key="new_instance_slug").value == typed["slug"]
    assert app.text_input(key="new_instance_name").value == "Staging"
    assert app.text_area(key="new_instance_metadata").value == typed["metadata"]


def test_edit_changes_fields_license_and_zone(app, catalogue):
    select_row(app, "globex-dev")
    click(app, "Edit")
    assert app.text_input(key=next(k for k in _keys(app) if k.endswith("_name"))).value == \
        "Development"
    key = _edit_form_key(app)
    fill_form(app, key, name="Dev (EU)", slug="globex-dev-eu", license="pro", zone="eu-prod",
              end=date(2027, 3, 1), metadata='{"region": "eu"}')
    click(app, "Save changes")
    assert not app.error
    assert not app.exception
    edited = catalogue.instances.get("globex-dev-eu")
    assert (edited.name, edited.license, edited.deployment_zone, edited.license_end,
            edited.metadata) == ("Dev (EU)", "pro", "eu-prod", date(2027, 3, 1), {"region": "eu"})
    assert shown_slugs(app) == ["acme-prod", "globex-dev-eu"]


def test_edit_can_clear_the_zone(app, catalogue):
    select_row(app, "acme-prod")
    click(app, "Edit")
    fill_form(app, _edit_form_key(app), zone=None)
    click(app, "Save changes")
    assert catalogue.instances.get("acme-prod").deployment_zone is None


def test_invalid_edit_shows_the_message_and_writes_nothing(app, catalogue):
    select_row(app, "acme-prod")
    click(app, "Edit")
    key = _edit_form_key(app)
    fill_form(app, key, name="Renamed", metadata='{"region": ')
    before = table_counts(catalogue)
    click(app, "Save changes")
    errors = texts(app.error)
    assert len(errors) == 1 and "**Metadata**: is not valid JSON" in errors[0]
    assert table_counts(catalogue) == before
    assert catalogue.instances.get("acme-prod").name == "Production"
    assert app.text_input(key=f"{key}_name").value == "Renamed"


def test_delete_asks_for_confirmation_first(app, catalogue):
    select_row(app, "globex-dev")
    before = table_counts(catalogue)
    click(app, "Delete")
    assert any("Delete **Development** (`globex-dev`)?" in w for w in texts(app.warning))
    assert table_counts(catalogue) == before
    click(app, "Cancel")
    assert not app.warning
    assert catalogue.instances.get("globex-dev").slug == "globex-dev"

    select_row(app, "globex-dev")
    click(app, "Delete")
    click(app, "Delete instance")
    assert not app.exception
    assert shown_slugs(app) == ["acme-prod"]
    with pytest.raises(ka.NotFoundError, match="was deleted"):
        catalogue.instances.get("globex-dev")


def test_open_details_goes_to_the_instance_page(app):
    select_row(app, "acme-prod")
    click(app, "Open details")
    assert not app.exception
    assert app.title[0].value == "Production"
    assert app.query_params["instance"] == "acme-prod"


def _keys(at: AppTest) -> list[str]:
    return [widget.key for widget in at.text_input if widget.key]


def _edit_form_key(at: AppTest) -> str:
    """The edit form's key names the instance and its version; find it."""
    name_key = next(k for k in _keys(at) if k.startswith("edit_") and k.endswith("_name"))
    return name_key.removesuffix("_name")
