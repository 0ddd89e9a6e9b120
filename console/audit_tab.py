"""The instance page's Audit Trail tab: stats cards, activity timeline, value over time, log.

A placeholder until the audit analytics API exists (issue 8, second half).
"""

from __future__ import annotations

import streamlit as st

import kaiten_analytics as ka


def render_audit_tab(kaiten: ka.Kaiten, slug: str, tz: str) -> None:
    """Draw the Audit Trail tab of instance ``slug``, timestamps in the zone ``tz``."""
    st.info(
        "The audit trail (stats, activity timeline, value over time and the event log) will "
        "appear here once usage metering lands.",
        icon=":material/hourglass_empty:",
    )
