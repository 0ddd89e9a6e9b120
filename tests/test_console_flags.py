"""The console's Flags admin page and the instance's Feature Flags tab (AppTest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from conftest import table_counts
from streamlit.testing.v1 import AppTest

import kaiten_analytics as ka
from kaiten_analytics.db.models import feature_flags
from kaiten_console import page_paths

ROOT = Path(__file__).resolve().parents[1]
PRO = {"attribute": "license.slug", "operator": "equals", "value": "pro"}


@pytest.fixture
def flagged(catalogue):
    """The catalogue with two flags: one targeting pro instances, one of type json."""
    catalogue.flags.create("new-billing", "New billing", "boolean", False,
                           rules=[{"description": "Pro first", "conditions": [PRO],
                                   "value": True}])
    catalogue.flags.create("layout", "Layout", "json", {"density": "comfortable"})
    return catalogue


def connect_console_to(kaiten, database_url, monkeypatch) -> None:
    """Make the console's cached connection the test's handle (its database and clock)."""
    monkeypatch.setenv("KAITEN_DATABASE_URL", database_url)
    monkeypatch.setattr(ka, "connect", lambda url=None, clock=None, migrate=True: kaiten)
    st.cache_data.clear()
    st.cache_resource.clear()


# --- the Feature Flags tab --------------------------------------------------------------------


def tab_script(kaiten, slug):
    from kaiten_console.flags_tab import render_flags_tab

    render_flags_tab(kaiten, slug)


def run_tab(kaiten, slug: str) -> AppTest:
    return AppTest.from_function(tab_script, args=(kaiten, slug), default_timeout=30).run()


def test_tab_lists_every_flag_with_value_reason_rule_and_why(flagged):
    at = run_tab(flagged, "acme-prod")
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns) == ["Flag", "Value", "Reason", "Rule", "Why", "Key", "Type"]
    assert list(table["Key"]) == ["layout", "new-billing"]
    assert list(table["Value"]) == ['{"density": "comfortable"}', "true"]
    assert list(table["Reason"]) == ["Default", "Targeting match"]
    assert list(table["Rule"]) == ["—", "rules[0]"]
    assert table["Why"][1] == ('rules[0] (Pro first) matched: license.slug equals "pro" '
                               '(it is "pro").')
    assert "2 flags · 1 served by a rule · 0 disabled · 0 misconfigured" in at.caption[0].value


def test_tab_explains_why_an_instance_gets_the_default(flagged):
    table = run_tab(flagged, "globex-dev").dataframe[0].value
    assert table["Value"][1] == "false"
    assert 'license.slug is "starter"' in table["Why"][1]


def test_tab_shows_the_rules_of_the_selected_flag(flagged):
    at = run_tab(flagged, "acme-prod")
    at.session_state["flags_tab_acme-prod"] = {
        "selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.subheader[0].value == "New billing — `true`"
    assert [e.label for e in at.expander] == ["rules[0] — Pro first ← served this instance"]
    assert json.loads(at.json[0].value) == {"description": "Pro first", "conditions": [PRO],
                                            "value": True}


def test_tab_warns_about_a_misconfigured_flag(flagged):
    with flagged.db.engine.begin() as connection:
        connection.execute(feature_flags.update().where(feature_flags.c.key == "layout")
                           .values(rules=[{"conditions": [PRO | {"operator": "=="}],
                                           "value": {}}]))
    at = run_tab(flagged, "acme-prod")
    assert not at.exception
    assert "rules[0].conditions[0].operator" in at.warning[0].value
    assert at.dataframe[0].value["Reason"][0] == "Error"


def test_tab_without_flags_says_so(catalogue):
    at = run_tab(catalogue, "acme-prod")
    assert "No feature flags yet" in at.info[0].value


def test_tab_of_an_unknown_instance_shows_the_error(flagged):
    at = run_tab(flagged, "ghost")
    assert not at.exception
    assert "instance 'ghost' does not exist" in at.error[0].value


# --- the Flags admin page ---------------------------------------------------------------------


@pytest.fixture
def page(catalogue, database_url, monkeypatch):
    """The Flags page as its own script, on the catalogue's database, not yet run."""
    connect_console_to(catalogue, database_url, monkeypatch)
    yield AppTest.from_file(page_paths.FLAGS, default_timeout=30)
    st.cache_data.clear()
    st.cache_resource.clear()


def click(at: AppTest, label: str) -> AppTest:
    [button] = [b for b in at.button if b.label == label]
    button.click()
    return at.run()


def fill_new_flag(at: AppTest, rules: str, default: str = "false") -> AppTest:
    at.text_input(key="new_key").input("dark-mode")
    at.text_input(key="new_name").input("Dark mode")
    at.selectbox(key="new_type").select("boolean")
    at.text_input(key="new_default").input(default)
    at.text_area(key="new_rules").input(rules)
    return at


def test_page_is_in_the_console_navigation(catalogue, console_for):
    at = console_for(catalogue).run()
    at.switch_page(page_paths.FLAGS).run()
    assert not at.exception
    assert at.title[0].value == "Flags"


def test_an_empty_catalogue_offers_the_new_flag_form(page):
    page.run()
    assert not page.exception
    assert "No flags yet" in page.info[0].value
    assert page.selectbox(key="flag").value == ""
    assert page.text_area(key="new_rules").value == "[]"


def test_creating_a_flag(page, catalogue):
    page.run()
    rules = json.dumps([{"conditions": [PRO], "value": True}])
    click(fill_new_flag(page, rules), "Create flag")
    assert not page.exception
    assert "Created flag `dark-mode`." in page.success[0].value
    flag = catalogue.flags.get("dark-mode")
    assert (flag.name, flag.type, flag.default_value, flag.enabled, flag.rules) == (
        "Dark mode", "boolean", False, True, [{"conditions": [PRO], "value": True}])
    assert page.selectbox(key="flag").value == "dark-mode"  # now showing the new flag
    assert page.dataframe[0].value["Key"].tolist() == ["dark-mode"]


def test_a_malformed_rule_is_shown_beside_the_form_and_the_input_kept(page, catalogue):
    page.run()
    before = table_counts(catalogue)
    rules = json.dumps([{"value": True}, {"conditions": [PRO | {"operator": "eq"}],
                                          "value": True}])
    click(fill_new_flag(page, rules), "Create flag")
    assert not page.exception
    [error] = page.error
    assert error.value.startswith("rules[1].conditions[0].operator: unknown operator 'eq'")
    assert page.text_area(key="new_rules").value == rules
    assert page.text_input(key="new_key").value == "dark-mode"
    assert table_counts(catalogue) == before
    # fixing the rule and submitting again creates the flag
    page.text_area(key="new_rules").input(rules.replace('"eq"', '"equals"'))
    click(page, "Create flag")
    assert not page.error
    assert catalogue.flags.get("dark-mode").rules[1]["conditions"][0]["operator"] == "equals"


def test_a_default_that_is_not_json_is_refused(page, catalogue):
    page.run()
    click(fill_new_flag(page, "[]", default="nope"), "Create flag")
    assert page.error[0].value.startswith("default_value: is not valid JSON")
    assert catalogue.flags.list().empty


def test_a_taken_key_is_refused(page, catalogue):
    catalogue.flags.create("dark-mode", "Dark mode", "boolean", False)
    page.run()
    page.selectbox(key="flag").select("").run()
    click(fill_new_flag(page, ""), "Create flag")
    assert page.error[0].value == "key: key is already taken"


def test_editing_rules_shows_the_refusal_then_saves(page, flagged):
    page.run()
    page.selectbox(key="flag").select("new-billing").run()
    rules_box = page.text_area(key="edit_new-billing_rules")
    assert json.loads(rules_box.value) == flagged.flags.get("new-billing").rules
    bad = json.dumps([{"conditions": [PRO], "value": "yes"}])
    rules_box.input(bad)
    click(page, "Save changes")
    assert page.error[0].value.startswith("rules[0].value: a boolean flag takes true or false")
    assert page.text_area(key="edit_new-billing_rules").value == bad
    assert flagged.flags.get("new-billing").rules[0]["value"] is True
    page.text_area(key="edit_new-billing_rules").input(bad.replace('"yes"', "false"))
    page.text_input(key="edit_new-billing_name").input("Billing v2")
    click(page, "Save changes")
    assert not page.error
    flag = flagged.flags.get("new-billing")
    assert (flag.name, flag.rules) == ("Billing v2", [{"conditions": [PRO], "value": False}])
    assert "Saved flag `new-billing`." in page.success[0].value


def test_disabling_and_enabling_a_flag(page, flagged):
    page.run()
    page.selectbox(key="flag").select("new-billing").run()
    click(page, "Disable")
    assert flagged.flags.get("new-billing").enabled is False
    assert flagged.flags.evaluate("new-billing", "acme-prod").reason == "DISABLED"
    click(page, "Enable")
    assert flagged.flags.get("new-billing").enabled is True


def test_deleting_a_flag_asks_first(page, flagged):
    page.run()
    page.selectbox(key="flag").select("layout").run()
    click(page, "Delete")
    assert "Delete `layout`?" in page.warning[0].value
    click(page, "Cancel")
    assert not page.warning
    click(page, "Delete")
    click(page, "Delete for good")
    assert not page.exception
    assert flagged.flags.list()["key"].tolist() == ["new-billing"]
    assert page.selectbox(key="flag").value == ""
    assert "Deleted flag `layout`." in page.success[0].value


def test_exposure_shows_which_instances_get_each_value(page, flagged):
    page.run()
    page.selectbox(key="flag").select("new-billing").run()
    page.session_state["flag_tab"] = "Exposure"
    page.run()
    assert not page.exception
    summary = page.dataframe[1].value
    assert summary[["Value", "Reason", "Rule", "Instances"]].values.tolist() == [
        ["false", "Default", "—", 1], ["true", "Targeting match", "rules[0]", 1]]
    assert list(page.dataframe[2].value["Instance"]) == ["globex-dev"]
    page.selectbox(key="exposure_new-billing_value").select("true").run()
    who = page.dataframe[2].value
    assert list(who["Instance"]) == ["acme-prod"]
    assert who["Why"][0].startswith("rules[0] (Pro first) matched")
