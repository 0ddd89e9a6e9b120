"""The instance picker of the pages deep-linkable by ``?instance=<slug>``.

The URL is the source of truth: the picker shows the instance it names (so back/forward and
shared links work) and changing the picker changes it. A slug naming no live instance is
reported, not shown.
"""

from __future__ import annotations

import streamlit as st

import kaiten_analytics as ka
from kaiten_console import session
from kaiten_console.refusals import show_read_error

PARAM = "instance"  # the query parameter naming the instance
EMPTY = "No instances yet — create one on the Instances page, or run `kaiten demo`."


def _follow(key: str, clears: tuple[str, ...]) -> None:
    """Put the picked instance in the URL; drop the parameters that depended on the old one."""
    for name in clears:
        st.query_params.pop(name, None)
    picked = st.session_state[key]
    if picked is None:
        st.query_params.pop(PARAM, None)
    else:
        st.query_params[PARAM] = picked


def pick_instance(key: str, action: str, clears: tuple[str, ...] = ()) -> str | None:
    """Draw the instance picker; return the live instance ``?instance=`` names, if any.

    ``key`` is the picker's widget key, ``action`` completes the message for an unknown slug
    ("Cannot <action>: …") and ``clears`` names query parameters a new instance invalidates.
    """
    requested = st.query_params.get(PARAM)
    listed = session.instances()
    names = dict(zip(listed["slug"], listed["name"], strict=True))
    if requested and requested not in names:
        try:  # created since the list was cached, or gone?
            names[requested] = session.instance(requested).name
        except ka.NotFoundError as error:
            show_read_error(st, action, error, hint="Pick another one below.")
            requested = None
    if not names:
        st.info(EMPTY, icon=":material/info:")
        return None
    st.session_state[key] = requested
    st.selectbox(
        "Instance", list(names), index=None, key=key, on_change=_follow, args=(key, clears),
        placeholder="Choose an instance", format_func=lambda slug: f"{names[slug]} ({slug})",
    )
    return requested
