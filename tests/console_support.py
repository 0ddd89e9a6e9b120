"""Helpers for the console's AppTest tests: an app wired to the test's database and clock."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

import kaiten_analytics as ka
from kaiten_console import page_paths

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
INSTANCE_PAGE = page_paths.INSTANCE


def console_app(kaiten: ka.Kaiten, database_url: str, monkeypatch) -> AppTest:
    """Return an AppTest of the console that uses ``kaiten`` (the test's database and clock).

    The console connects with ``ka.connect(url)``; handing it the test's handle gives it the
    test's fake clock too, so "days remaining" and timestamps are predictable. The caches are
    emptied so nothing leaks from one test's database into another's.
    """
    monkeypatch.setenv("KAITEN_DATABASE_URL", database_url)
    monkeypatch.delenv("KAITEN_TIMEZONE", raising=False)
    monkeypatch.setattr(ka, "connect", lambda url=None, clock=None, migrate=True: kaiten)
    clear_console_caches()
    return AppTest.from_file(APP, default_timeout=30)


def clear_console_caches() -> None:
    """Forget the console's cached handle and reads (between tests)."""
    st.cache_data.clear()
    st.cache_resource.clear()


def reload(at: AppTest) -> AppTest:
    """Rerun with fresh reads, as the sidebar's Reload data button does.

    AppTest drops the entry script's sidebar from its element tree on every run after the
    first when the app uses ``st.navigation`` (the browser keeps it), so the button itself
    cannot be clicked from here after that first run.
    """
    st.cache_data.clear()
    return at.run()


def select_row(at: AppTest, slug: str, key: str | None = None, table: int = 0,
               column: str = "slug") -> AppTest:
    """Select the row showing ``slug`` in ``column`` of the ``table``-th table (AppTest cannot
    click a row); ``key`` is the table's widget key, by default the one it was drawn with."""
    frame = at.dataframe[table]
    values = list(frame.value[column])
    at.session_state[key or frame.key] = {
        "selection": {"rows": [values.index(slug)], "columns": [], "cells": []}
    }
    return at.run()


def fill_form(at: AppTest, key: str, **values) -> AppTest:
    """Type ``values`` into the instance form ``key`` (without submitting)."""
    for field, value in values.items():
        if field in ("customer", "license", "zone"):
            box = at.selectbox(key=f"{key}_{field}")
            # AppTest reads a None value as "no change"; the "— none —" zone is option 0
            if value is None:
                box.select_index(0)
            else:
                box.set_value(value)
        elif field in ("start", "end"):
            at.date_input(key=f"{key}_{field}").set_value(value)
        elif field == "metadata":
            at.text_area(key=f"{key}_metadata").input(value)
        else:
            at.text_input(key=f"{key}_{field}").input(value)
    return at


def click(at: AppTest, label: str) -> AppTest:
    """Click the (only) button labelled ``label`` and rerun."""
    matches = [button for button in at.button if button.label == label]
    assert len(matches) == 1, f"{len(matches)} buttons labelled {label!r}"
    matches[0].click()
    return at.run()


def open_instance(at: AppTest, slug: str) -> AppTest:
    """Open the detail page as a deep link ``/instance?instance=<slug>`` would."""
    at.run()
    at.query_params["instance"] = slug
    return at.switch_page(INSTANCE_PAGE).run()


def open_page(at: AppTest, page: str, **query: str) -> AppTest:
    """Run the console, then open ``page`` with the query parameters ``query``; no exception."""
    at.run()
    for name, value in query.items():
        at.query_params[name] = value
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_tab(at: AppTest, slug: str, tab: str, tz: str | None = None) -> AppTest:
    """Open ``/instance?instance=<slug>`` on ``tab`` (in the zone ``tz``); no exception."""
    open_instance(at, slug)
    if tz:
        at.session_state["timezone"] = tz
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> list[str]:
    """Return the text of every element of an AppTest element list."""
    return [element.value for element in elements]
