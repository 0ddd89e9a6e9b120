"""The console's instance list (AppTest)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


def test_instance_list_shows_the_library_list(catalogue, database_url, monkeypatch):
    monkeypatch.setenv("KAITEN_DATABASE_URL", database_url)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.title[0].value == "Instances"
    shown = at.dataframe[0].value
    assert list(shown["slug"]) == list(catalogue.instances.list()["slug"])
