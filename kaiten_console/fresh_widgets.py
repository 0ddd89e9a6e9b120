"""Widgets that start afresh: a form empty again after a success, a table with no selection
once its rows changed under it.

A refused input must stay for the user to fix, so forms do not ``clear_on_submit``; and a
table's selection is a row *position*, which points at another row once rows come or go.
Dropping a widget's session state does not reset it: the browser sends back what it holds.
:func:`renew` gives the group's widgets new keys instead, which the browser draws as new.
"""

from __future__ import annotations

import streamlit as st

_GENERATION = "{group}__generation"


def key(group: str, field: str) -> str:
    """The widget key of ``field`` in ``group``: ``<group>_<field>`` until the first renewal,
    then ``<group>_<n>_<field>``."""
    generation = st.session_state.get(_GENERATION.format(group=group), 0)
    return f"{group}_{field}" if generation == 0 else f"{group}_{generation}_{field}"


def renew(group: str) -> None:
    """Start ``group``'s widgets afresh from the next run on (or later in this one)."""
    name = _GENERATION.format(group=group)
    st.session_state[name] = st.session_state.get(name, 0) + 1
