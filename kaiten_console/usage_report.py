"""The Report usage page's glue: the meterable entitlements, the form and the outcome card.

UI only: the report is ``kaiten.usage.report`` — the call the customer's software makes — and
every rule (finite value, entitlement on the license, idempotency) is the library's. Its
``KaitenError`` message is what the user sees, beside the form (``console.refusals``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import page_paths, session

FORM_KEY = "report_usage_form"
VALUE_KEY = "report_value"
IDEMPOTENCY_KEY = "report_idempotency_key"
FIELD_LABELS = {
    "instance": "Instance",
    "entitlement": "Entitlement",
    "value": "Value",
    "idempotency_key": "Idempotency key",
}
# what each aggregation method does with a report, in the admin's words
METHOD_HELP = {
    "SUM": ("adds each value", "Each accepted report adds its value."),
    "COUNT": ("counts reports", "Each accepted report counts 1; the value is recorded in the "
                                "audit trail but not added."),
    "AVERAGE": ("running mean", "The mean of all accepted values."),
    "MAX": ("highest value", "The highest value reported."),
    "MIN": ("lowest value", "The lowest value reported."),
    "LATEST": ("last value", "The last value reported."),
}


@dataclass(frozen=True)
class ReportInput:
    """What the form holds: the arguments of ``kaiten.usage.report`` as typed."""

    value: float | None
    idempotency_key: str

    def key_or_none(self) -> str | None:
        """Return the idempotency key, or None when the field was left empty."""
        return self.idempotency_key if self.idempotency_key.strip() else None


@st.cache_data(show_spinner=False, ttl=session.READ_TTL)
def _summary(url: str, instance: str) -> pd.DataFrame:
    # ``url`` keys the cache per database; the handle is the session's (same URL)
    return session.kaiten().usage.summary(instance)


def meterable(instance: str) -> pd.DataFrame:
    """Return the NUMBER rows of ``kaiten.usage.summary(instance)`` (cached), by entitlement.

    Columns as the summary: entitlement, type, aggregation_method, granted (the threshold),
    usage, event_count, percent_used, updated_at, name, unit.
    """
    summary = _summary(ka.database_url(), instance)
    return summary[summary["type"] == "NUMBER"].reset_index(drop=True)


def amount(value: float | None, unit: str | None = None) -> str:
    """Format a usage amount for people: ``1,234``, ``2.5 calls``; ``—`` for none."""
    if value is None or pd.isna(value):
        return "—"
    number = float(value)
    text = f"{number:,.0f}" if number.is_integer() else f"{number:,.4f}".rstrip("0").rstrip(".")
    return f"{text} {unit}" if unit else text


def render_context(row: pd.Series, license: str, tz: str) -> None:
    """Show what a report will meet: method, threshold, current usage and accepted reports.

    ``row`` is the entitlement's row of :func:`meterable`; ``license`` the instance's.
    """
    unit = unit_of(row)
    threshold, percent = row["granted"], row["percent_used"]
    short, long = METHOD_HELP.get(row["aggregation_method"], ("", None))
    # every card carries a grey chip so all four are the same height
    chip = {"delta_color": "off", "delta_arrow": "off", "border": True}
    method, limit, current, reports = st.columns(4)
    method.metric("Aggregation", row["aggregation_method"], short, help=long, **chip)
    limit.metric("Threshold", "no limit" if pd.isna(threshold) else amount(threshold, unit),
                 f"{license} license", help="A report that would take the usage above it "
                                            "is rejected.", **chip)
    current.metric("Current usage", amount(row["usage"], unit),
                   "no report yet" if pd.isna(row["usage"]) else
                   "no limit" if pd.isna(percent) else f"{percent:.0f}% of threshold", **chip)
    reports.metric("Accepted reports", f"{int(row['event_count']):,}",
                   "never" if pd.isna(row["updated_at"]) else
                   f"last {session.local_time(row['updated_at'], tz)}", **chip)


def unit_of(row: pd.Series) -> str | None:
    """Return the entitlement's unit, or None when it has none."""
    return row["unit"] if isinstance(row["unit"], str) and row["unit"] else None


PREVIEW, REPORT = "preview", "report"


def render_report_form(unit: str | None) -> tuple[ReportInput, str] | None:
    """Draw the value and idempotency-key form; return (what was typed, PREVIEW or REPORT)
    when one of its buttons was pressed.

    The form does not clear on submit, so a refused input stays for the user to fix, and a
    previewed value stays to be reported.
    """
    with st.form(FORM_KEY, enter_to_submit=False):
        value = st.number_input(
            f"Value ({unit})" if unit else "Value", value=None, step=1.0, format="%.10g",
            key=VALUE_KEY, placeholder="e.g. 5",
            help="The usage to report; the entitlement's aggregation method decides what it "
                 "does to the stored usage.",
        )
        key = st.text_input(
            "Idempotency key (optional)", key=IDEMPOTENCY_KEY, placeholder="e.g. batch-0042",
            help="A retry with the same key returns the first outcome and writes nothing; "
                 "the same key with another instance, entitlement or value is refused.",
        )
        preview_col, report_col = st.columns(2)
        previewed = preview_col.form_submit_button(
            "Preview", icon=":material/preview:", width="stretch",
            help="What this report would do — accepted or rejected, the usage after — "
                 "without writing anything.")
        submitted = report_col.form_submit_button("Report usage", type="primary",
                                                  icon=":material/send:", width="stretch")
    if not (submitted or previewed):
        return None
    return ReportInput(value=value, idempotency_key=key or ""), REPORT if submitted else PREVIEW


def render_preview(preview: ka.UsageReport, unit: str | None) -> None:
    """Show what a report would do (``kaiten.usage.check``): nothing has been written."""
    before = preview.previous
    after = (preview.usage or {}).get("value")
    verdict = "would be **ACCEPTED**" if preview.accepted else "would be **REJECTED**"
    text = (f"Preview — {amount(preview.value, unit)} for `{preview.entitlement}` {verdict}: "
            f"usage {amount(before, unit)} → {amount(after, unit)}")
    percent = ka.percent_used(after, preview.threshold)
    if not pd.isna(percent):
        text += f" ({percent:.0f}% of the threshold {amount(preview.threshold, unit)})"
    if preview.period_start:
        text += f", in the period from {preview.period_start[:10]}"
    text += "."
    if not preview.accepted:
        text += f" Reason: {preview.reason}."
    if preview.reached:
        text += f" It would reach the threshold (a `{ka.USAGE_REACHED}` event)."
    st.info(text + " Nothing has been written; another report may change the usage first.",
            icon=":material/preview:")


def render_outcome(report: ka.UsageReport, unit: str | None) -> None:
    """Show a report's outcome: accepted or rejected (why), usage before → after, the event."""
    before = report.previous
    after = (report.usage or {}).get("value")
    threshold = report.threshold
    if report.replayed:
        st.info("This idempotency key was used before: below is the first report's outcome. "
                "Nothing was written again.", icon=":material/replay:")
    if report.accepted:
        st.success(f"**ACCEPTED** — {amount(report.value, unit)} reported for "
                   f"`{report.entitlement}` of `{report.instance}`.",
                   icon=":material/check_circle:")
    else:
        st.warning(f"**REJECTED** — {amount(report.value, unit)} for `{report.entitlement}` "
                   f"of `{report.instance}`: {report.reason}. The stored usage is unchanged.",
                   icon=":material/block:")
    if report.reached:
        st.info(f"**Threshold reached**: the usage is now at its limit, and the outbox has "
                f"a `{ka.USAGE_REACHED}` event.", icon=":material/flag:")
    usage, limit = st.columns(2)
    if report.accepted and before is not None:
        change = after - before
        usage.metric("Usage", amount(after, unit),
                     "no change" if change == 0 else
                     f"+{amount(change, unit)}" if change > 0 else amount(change, unit),
                     delta_color="off" if change == 0 else "normal",
                     delta_arrow="off" if change == 0 else "auto",
                     delta_description=f"from {amount(before, unit)}", border=True)
    elif report.accepted:
        usage.metric("Usage", amount(after, unit), "first report", delta_arrow="off",
                     border=True)
    else:
        usage.metric("Usage", amount(before, unit), "unchanged", delta_color="off",
                     delta_arrow="off", border=True)
    stored = after if report.accepted else before
    limit.metric("Threshold", "no limit" if pd.isna(threshold) else amount(threshold, unit),
                 _share(stored, threshold), delta_color="off", delta_arrow="off", border=True)
    st.caption(f"Usage {amount(before, unit)} → {amount(stored, unit)} · audit event "
               f"`{report.event_id}`")
    st.page_link(page_paths.INSTANCE, label="Open the instance's audit trail",
                 icon=":material/history:",
                 query_params={"instance": report.instance, "tab": "Audit Trail"})


def _share(usage: float | None, threshold: float | None) -> str | None:
    percent = ka.percent_used(usage, threshold)
    return None if pd.isna(percent) else f"{percent:.0f}% used"
