"""The instance page's Entitlements tab: usage against thresholds, history, recent events.

A placeholder until the usage analytics API exists (issue 8, second half).
"""

from __future__ import annotations

import streamlit as st

import kaiten_analytics as ka


def render_entitlements_tab(kaiten: ka.Kaiten, slug: str) -> None:
    """Draw the Entitlements tab of instance ``slug``."""
    st.info(
        "Entitlement usage (current consumption against thresholds and its history) will "
        "appear here once usage metering lands.",
        icon=":material/hourglass_empty:",
    )
