"""The console's cached library handle and shared settings. UI only; logic is in the library."""

from __future__ import annotations

import streamlit as st

import kaiten_analytics as ka
from kaiten_analytics.config import database_url


@st.cache_resource(show_spinner=False)
def _connect(url: str) -> ka.Kaiten:
    return ka.connect(url)


def kaiten() -> ka.Kaiten:
    """Return the connected library handle (one engine per database URL per server)."""
    return _connect(database_url())
