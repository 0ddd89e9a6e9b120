"""Report usage: an admin reports a usage value for one instance's metered entitlement.

Deep-linkable as ``/report_usage?instance=<slug>&entitlement=<slug>``. The report goes through
``kaiten.usage.report``, the call the customer's software makes, so it meets the same
threshold check and lands in the same audit trail.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import kaiten_analytics as ka
from console import session
from console.usage_report import (
    describe_error,
    meterable,
    render_context,
    render_outcome,
    render_report_form,
    unit_of,
)

INSTANCE_PARAM, ENTITLEMENT_PARAM = "instance", "entitlement"
INSTANCE_KEY, ENTITLEMENT_KEY = "report_instance", "report_entitlement"
OUTCOME_KEY = "report_outcome"  # (UsageReport, unit) of the last accepted or rejected report
EMPTY = "No instances yet — create one on the Instances page, or run `kaiten demo`."


def follow_instance() -> None:
    """Put the picked instance in the URL; its entitlement choice no longer applies."""
    st.query_params.pop(ENTITLEMENT_PARAM, None)
    picked = st.session_state[INSTANCE_KEY]
    if picked is None:
        st.query_params.pop(INSTANCE_PARAM, None)
    else:
        st.query_params[INSTANCE_PARAM] = picked


def follow_entitlement() -> None:
    """Put the picked entitlement in the URL."""
    picked = st.session_state[ENTITLEMENT_KEY]
    if picked is None:  # cleared: the first entitlement again
        st.query_params.pop(ENTITLEMENT_PARAM, None)
    else:
        st.query_params[ENTITLEMENT_PARAM] = picked


def pick_instance() -> str | None:
    """Draw the instance picker; return the live instance ``?instance=`` names, if any.

    The URL is the source of truth (as on the instance page): the picker shows what it names
    and changing the picker changes it. A slug naming no live instance is reported.
    """
    requested = st.query_params.get(INSTANCE_PARAM)
    listed = session.instances()
    names = dict(zip(listed["slug"], listed["name"], strict=True))
    if requested and requested not in names:
        try:  # created since the list was cached, or gone?
            names[requested] = session.instance(requested).name
        except ka.NotFoundError as error:
            st.error(f"Cannot report usage for this instance: {error}. Pick another one.",
                     icon=":material/error:")
            requested = None
    if not names:
        st.info(EMPTY, icon=":material/info:")
        return None
    st.session_state[INSTANCE_KEY] = requested
    st.selectbox(
        "Instance", list(names), index=None, key=INSTANCE_KEY, on_change=follow_instance,
        placeholder="Choose an instance", format_func=lambda slug: f"{names[slug]} ({slug})",
    )
    return requested


def pick_entitlement(rows: pd.DataFrame) -> str:
    """Draw the entitlement picker over ``rows`` (meterable); ``?entitlement=`` or the first."""
    options = list(rows["entitlement"])
    labels = dict(zip(rows["entitlement"], rows["name"], strict=True))
    requested = st.query_params.get(ENTITLEMENT_PARAM)
    chosen = requested if requested in options else options[0]
    st.session_state[ENTITLEMENT_KEY] = chosen
    st.selectbox(
        "Entitlement", options, index=None, key=ENTITLEMENT_KEY, on_change=follow_entitlement,
        format_func=lambda slug: f"{labels[slug]} ({slug})",
        help="The NUMBER entitlements of the instance's license: the ones that take reports.",
    )
    return chosen


def submit(instance: str, entitlement: str, value: float | None, key: str | None,
           unit: str | None, error_area: DeltaGenerator) -> None:
    """Report through the library; keep the outcome and rerun, or show its error beside."""
    st.session_state.pop(OUTCOME_KEY, None)
    try:
        report = session.kaiten().usage.report(instance, entitlement, value,
                                               idempotency_key=key)
    except ka.KaitenError as error:
        error_area.error(f"Could not report usage.\n\n{describe_error(error)}",
                         icon=":material/error:")
        return
    session.clear_reads()  # the usage, the fleet views and the audit trail all changed
    st.session_state[OUTCOME_KEY] = (report, unit)
    st.rerun()


def main() -> None:
    """Draw the page."""
    st.title("Report usage")
    st.caption("Report a usage value for an instance, exactly as its software would: the "
               "report is checked against the license's threshold and recorded in the audit "
               "trail.")
    picker, _ = st.columns([2, 3])
    with picker:
        instance = pick_instance()
    if instance is None:
        return
    try:
        rows = meterable(instance)
    except ka.KaitenError as error:
        st.error(f"Cannot read this instance's entitlements: {error}.", icon=":material/error:")
        return
    if rows.empty:
        st.info(f"The license of `{instance}` has no NUMBER entitlements, so there is "
                "nothing to report for it.", icon=":material/info:")
        return
    with picker:
        entitlement = pick_entitlement(rows)
    row = rows.set_index("entitlement").loc[entitlement]
    unit = unit_of(row)
    render_context(row, session.instance(instance).license, session.timezone())

    form_col, side_col = st.columns([2, 3])
    with form_col:
        typed = render_report_form(unit)
    if typed is not None:
        submit(instance, entitlement, typed.value, typed.key_or_none(), unit, side_col)
    outcome = st.session_state.get(OUTCOME_KEY)
    if outcome and (outcome[0].instance, outcome[0].entitlement) == (instance, entitlement):
        with side_col:
            render_outcome(*outcome)


main()
