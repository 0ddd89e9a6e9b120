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
from kaiten_console import session
from kaiten_console.instance_picker import pick_instance
from kaiten_console.refusals import show_read_error, show_refusal
from kaiten_console.usage_report import (
    FIELD_LABELS,
    PREVIEW,
    meterable,
    render_context,
    render_outcome,
    render_preview,
    render_report_form,
    unit_of,
)

ENTITLEMENT_PARAM = "entitlement"
INSTANCE_KEY, ENTITLEMENT_KEY = "report_instance", "report_entitlement"
OUTCOME_KEY = "report_outcome"  # (UsageReport, unit) of the last accepted or rejected report
PREVIEW_KEY = "report_preview"  # (UsageReport, unit) of the last dry run (usage.check)


def follow_entitlement() -> None:
    """Put the picked entitlement in the URL."""
    picked = st.session_state[ENTITLEMENT_KEY]
    if picked is None:  # cleared: the first entitlement again
        st.query_params.pop(ENTITLEMENT_PARAM, None)
    else:
        st.query_params[ENTITLEMENT_PARAM] = picked


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
    st.session_state.pop(PREVIEW_KEY, None)
    try:
        report = session.kaiten().usage.report(instance, entitlement, value,
                                               idempotency_key=key)
    except ka.KaitenError as error:
        show_refusal(error_area, error, heading="Could not report usage.",
                     labels=FIELD_LABELS)
        return
    session.clear_reads()  # the usage, the fleet views and the audit trail all changed
    st.session_state[OUTCOME_KEY] = (report, unit)
    st.rerun()


def preview(instance: str, entitlement: str, value: float | None, unit: str | None,
            error_area: DeltaGenerator) -> None:
    """Dry-run the report (``kaiten.usage.check``: nothing written); keep what it would do."""
    st.session_state.pop(PREVIEW_KEY, None)
    st.session_state.pop(OUTCOME_KEY, None)
    try:
        st.session_state[PREVIEW_KEY] = (
            session.kaiten().usage.check(instance, entitlement, value), unit)
    except ka.KaitenError as error:
        show_refusal(error_area, error, heading="Could not preview this report.",
                     labels=FIELD_LABELS)


def main() -> None:
    """Draw the page."""
    st.title("Report usage")
    st.caption("Report a usage value for an instance, exactly as its software would: the "
               "report is checked against the license's threshold and recorded in the audit "
               "trail.")
    picker, _ = st.columns([2, 3])
    with picker:
        instance = pick_instance(INSTANCE_KEY, "report usage for this instance",
                                 clears=(ENTITLEMENT_PARAM,))
    if instance is None:
        return
    try:
        rows = meterable(instance)
    except ka.KaitenError as error:
        show_read_error(st, "read this instance's entitlements", error)
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
    if not session.can_write():
        form_col.info("Reporting usage needs the admin role: you can see the usage, not "
                      "change it.", icon=":material/visibility:")
        return
    with form_col:
        typed = render_report_form(unit)
    if typed is not None:
        values, action = typed
        if action == PREVIEW:
            preview(instance, entitlement, values.value, unit, side_col)
        else:
            submit(instance, entitlement, values.value, values.key_or_none(), unit, side_col)
    previewed = st.session_state.get(PREVIEW_KEY)
    if previewed and (previewed[0].instance, previewed[0].entitlement) == (instance, entitlement):
        with side_col:
            render_preview(*previewed)
    outcome = st.session_state.get(OUTCOME_KEY)
    if outcome and (outcome[0].instance, outcome[0].entitlement) == (instance, entitlement):
        with side_col:
            render_outcome(*outcome)


main()
