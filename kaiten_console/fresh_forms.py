"""Forms that start empty again after a success, and keep the input after a refusal.

A refused input must stay for the user to fix, so these forms do not ``clear_on_submit``;
after a success, :func:`renew` gives the form's widgets new keys, which the browser draws as
new, empty widgets (dropping the old keys' state alone does not clear what the browser holds).
"""

from __future__ import annotations

import streamlit as st

_GENERATION = "{form}__generation"


def key(form: str, field: str) -> str:
    """The widget key of ``field`` in ``form``: ``<form>_<field>`` until the first renewal,
    then ``<form>_<n>_<field>``."""
    generation = st.session_state.get(_GENERATION.format(form=form), 0)
    return f"{form}_{field}" if generation == 0 else f"{form}_{generation}_{field}"


def renew(form: str) -> None:
    """Start ``form`` afresh on the next run (call it after a successful submit)."""
    name = _GENERATION.format(form=form)
    st.session_state[name] = st.session_state.get(name, 0) + 1
