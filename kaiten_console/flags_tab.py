"""The instance detail page's Feature Flags tab: every flag's value for one instance, and why.

UI only: the values, reasons and explanations come from ``kaiten.flags.evaluate_all``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console.refusals import show_read_error

REASON_LABELS = {
    "TARGETING_MATCH": "Targeting match",
    "SPLIT": "Rollout (split)",
    "DEFAULT": "Default",
    "DISABLED": "Disabled",
    "ERROR": "Error",
}


def flags_table(evaluations: pd.DataFrame) -> pd.DataFrame:
    """Shape ``evaluate_all`` for display: values as JSON text, rules as ``rules[i]``."""
    return pd.DataFrame({
        "Flag": evaluations["name"],
        "Value": [ka.json_text(value) for value in evaluations["value"]],
        "Reason": [REASON_LABELS.get(reason, reason) for reason in evaluations["reason"]],
        "Rule": ["—" if pd.isna(rule) else f"rules[{rule}]" for rule in evaluations["rule"]],
        "Why": evaluations["explanation"],
        "Key": evaluations["key"],
        "Type": evaluations["type"],
    })


def render_flags_tab(kaiten: ka.Kaiten, instance_slug: str) -> None:
    """Draw every flag's value for the instance ``instance_slug``, the reason and the rule."""
    try:
        evaluations = kaiten.flags.evaluate_all(instance_slug)
    except ka.NotFoundError as error:
        show_read_error(st, "evaluate flags", error)
        return
    if evaluations.empty:
        st.info("No feature flags yet — create one on the Flags page.", icon=":material/flag:")
        return
    reasons = evaluations["reason"].value_counts()
    targeted = int(reasons.get("TARGETING_MATCH", 0) + reasons.get("SPLIT", 0))
    st.caption(
        f"{len(evaluations)} flag{'s' if len(evaluations) != 1 else ''} · {targeted} served by "
        f"a rule · {int(reasons.get('DISABLED', 0))} disabled · "
        f"{int(reasons.get('ERROR', 0))} misconfigured. Select a row to see its rules."
    )
    for row in evaluations[evaluations["reason"] == "ERROR"].itertuples():
        st.warning(f"**{row.name}** (`{row.key}`) is misconfigured and serves its default: "
                   f"{row.error}", icon=":material/warning:")
    event = st.dataframe(
        flags_table(evaluations), hide_index=True, width="stretch",
        key=f"flags_tab_{instance_slug}", on_select="rerun", selection_mode="single-row",
        column_config={"Why": st.column_config.TextColumn(width="large")},
    )
    rows = event.selection.rows if event else []
    if rows:
        _render_rules(kaiten, evaluations.iloc[rows[0]])


def _render_rules(kaiten: ka.Kaiten, evaluation: pd.Series) -> None:
    try:
        flag = kaiten.flags.get(evaluation["key"])
    except ka.NotFoundError:  # deleted since the table was drawn
        return
    st.subheader(f"{flag.name} — `{ka.json_text(evaluation['value'])}`")
    st.write(evaluation["explanation"])
    if flag.description:
        st.caption(flag.description)
    served = evaluation["rule"]
    for index, rule in enumerate(flag.rules if isinstance(flag.rules, list) else []):
        label = f"rules[{index}]" + (f" — {rule['description']}"
                                     if isinstance(rule, dict) and rule.get("description")
                                     else "")
        mark = ""
        if not pd.isna(served) and index == served:
            mark = (" ← malformed" if evaluation["reason"] == "ERROR"
                    else " ← served this instance")
        with st.expander(label + mark, expanded=bool(mark)):
            st.json(rule, expanded=True)
    st.caption(f"Default value: `{ka.json_text(flag.default_value)}`")
