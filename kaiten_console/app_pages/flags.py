"""Flags: create, edit, switch on and off and delete feature flags; see who gets which value.

UI only: every check (key, type, default value, each rule) is the library's, and its message is
shown beside the form with the user's input kept.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import session
from kaiten_console.flags_tab import REASON_LABELS
from kaiten_console.refusals import show_read_error, show_refusal
from kaiten_console.session import kaiten

NEW = ""  # the picker's "new flag" choice
PICKER = "flag"
ERROR = "flag_error"  # (form, KaitenError) of the last refused change
NOTICE = "flag_notice"  # what the last change did
CONFIRM = "flag_confirm_delete"  # the key of the flag whose deletion awaits confirmation
FIELDS = ("name", "description", "type", "default", "rules")
DEFAULT_EXAMPLES = {"boolean": "false", "string": '"stable"', "number": "10",
                    "json": '{"density": "compact"}'}
EXAMPLE_RULES = [
    {"description": "Enterprise customers",
     "conditions": [{"attribute": "license.slug", "operator": "in", "value": ["enterprise"]}],
     "value": True},
    {"description": "A quarter of EU instances",
     "conditions": [{"attribute": "instance.metadata.region", "operator": "equals",
                     "value": "eu"}],
     "percentage": 25, "value": True},
]


# --- callbacks: they run before the page, so they may set the picker ------------------------


def _changed(notice: str) -> None:
    st.session_state[ERROR] = None
    st.session_state[NOTICE] = notice
    st.cache_data.clear()  # console reads cached elsewhere may show flag values


def _forget(prefix: str) -> None:
    """Drop a form's widget values, so the next run fills it from the database again."""
    for field in (*FIELDS, "key", "enabled"):
        st.session_state.pop(prefix + field, None)


def _create() -> None:
    state = st.session_state
    try:
        default = ka.parse_json(state["new_default"], "default_value", state["new_type"])
        flag = kaiten().flags.create(
            state["new_key"], state["new_name"], state["new_type"], default,
            enabled=state["new_enabled"], rules=state["new_rules"],
            description=state["new_description"],
        )
    except ka.KaitenError as error:
        state[ERROR] = (NEW, error)
        return
    _changed(f"Created flag `{flag.key}`.")
    _forget("new_")
    state[PICKER] = flag.key


def _save(key: str) -> None:
    state, prefix = st.session_state, f"edit_{key}_"
    try:
        default = ka.parse_json(state[prefix + "default"], "default_value", state[prefix + "type"])
        kaiten().flags.update(
            key, name=state[prefix + "name"], description=state[prefix + "description"],
            type=state[prefix + "type"], default_value=default, rules=state[prefix + "rules"],
        )
    except ka.KaitenError as error:
        state[ERROR] = (key, error)
        return
    _changed(f"Saved flag `{key}`.")
    _forget(prefix)


def _switch(key: str, enabled: bool) -> None:
    try:
        kaiten().flags.update(key, enabled=enabled)
    except ka.KaitenError as error:
        st.session_state[ERROR] = (key, error)
        return
    _changed(f"{'Enabled' if enabled else 'Disabled'} flag `{key}`.")


def _delete(key: str) -> None:
    st.session_state.pop(CONFIRM, None)
    try:
        kaiten().flags.delete(key)
    except ka.KaitenError as error:
        st.session_state[ERROR] = (key, error)
        return
    _changed(f"Deleted flag `{key}`.")
    _forget(f"edit_{key}_")
    st.session_state[PICKER] = NEW


# --- drawing ------------------------------------------------------------------------------


def render_list(flags: pd.DataFrame) -> None:
    """Draw the table of every flag."""
    st.dataframe(
        pd.DataFrame({
            "Key": flags["key"], "Name": flags["name"], "Type": flags["type"],
            "Enabled": flags["enabled"],
            "Default": [ka.json_text(value) for value in flags["default_value"]],
            "Rules": flags["rule_count"], "Description": flags["description"],
            "Updated (UTC)": flags["updated_at"],
        }),
        hide_index=True, width="stretch",
        column_config={"Updated (UTC)": st.column_config.DatetimeColumn(
            format="YYYY-MM-DD HH:mm")},
    )


def render_rules_help() -> None:
    """Explain the rule format next to the form."""
    attributes = (", ".join(f"`{a}`" for a in ka.FLAG_ATTRIBUTES)
                  + f", `{ka.FLAG_METADATA_PREFIX}<key>`")
    operators = ", ".join(f"`{op}` ({words})" for op, words in ka.FLAG_OPERATORS.items())
    with st.expander("How rules work", icon=":material/help:"):
        st.markdown(
            "Rules are a JSON list; the first rule that applies serves its `value` "
            "(of the flag's type). A rule applies when all its `conditions` hold — an empty "
            "list always holds — and, with a `percentage` (0–100), when the instance falls in "
            "that stable share of the fleet. Conditions name an attribute, an operator and "
            "a value; a missing attribute, or one of another type, does not match.\n\n"
            f"**Attributes:** {attributes} (nested keys with dots).\n\n"
            f"**Operators:** {operators}."
        )
        st.code(json.dumps(EXAMPLE_RULES, indent=2), language="json")


def render_error(form: str) -> None:
    """Show the last refusal of ``form``, if any."""
    refused = st.session_state.get(ERROR)
    if refused and refused[0] == form:
        show_refusal(st, refused[1])


def render_new_form() -> None:
    """Draw the form creating a flag (form left, the library's message right)."""
    state = st.session_state
    for field, value in {"key": "", "name": "", "description": "", "type": "boolean",
                         "default": "false", "enabled": True, "rules": "[]"}.items():
        state.setdefault("new_" + field, value)
    form, side = st.columns([2, 1])
    with form, st.form("new_flag"):
        st.subheader("New flag")
        st.text_input("Key", key="new_key", placeholder="new-billing-page",
                      help="URL-safe and unique: lowercase letters, digits and '-'. "
                           "Applications ask for the flag by this key; it cannot change.")
        st.text_input("Name", key="new_name", placeholder="New billing page")
        st.text_area("Description", key="new_description", height=68)
        st.selectbox("Type", ka.FLAG_TYPES, key="new_type")
        st.text_input("Default value (JSON)", key="new_default",
                      help="Served when no rule applies. "
                           + ", ".join(f"{t}: {v}" for t, v in DEFAULT_EXAMPLES.items()))
        st.checkbox("Enabled", key="new_enabled")
        st.text_area("Rules (JSON)", key="new_rules", height=260)
        st.form_submit_button("Create flag", type="primary", on_click=_create)
    with side:
        render_error(NEW)
        render_rules_help()


def render_edit_form(flag: ka.Flag) -> None:
    """Draw the form editing ``flag`` (form left, the library's message right)."""
    state, prefix = st.session_state, f"edit_{flag.key}_"
    for field, value in {"name": flag.name, "description": flag.description, "type": flag.type,
                         "default": ka.json_text(flag.default_value),
                         "rules": json.dumps(flag.rules, indent=2, ensure_ascii=False)}.items():
        state.setdefault(prefix + field, value)
    form, side = st.columns([2, 1])
    with form, st.form(f"edit_{flag.key}"):
        st.text_input("Name", key=prefix + "name")
        st.text_area("Description", key=prefix + "description", height=68)
        st.selectbox("Type", ka.FLAG_TYPES, key=prefix + "type")
        st.text_input("Default value (JSON)", key=prefix + "default")
        st.text_area("Rules (JSON)", key=prefix + "rules", height=320)
        st.form_submit_button("Save changes", type="primary", on_click=_save, args=(flag.key,))
    with side:
        render_error(flag.key)
        render_rules_help()


def render_exposure(k: ka.Kaiten, key: str) -> None:
    """Draw which live instances get which value of the flag, and why."""
    summary = k.flags.exposure_summary(key)
    if summary.empty:
        st.info("There are no live instances to evaluate the flag for.")
        return
    st.dataframe(
        pd.DataFrame({
            "Value": [ka.json_text(value) for value in summary["value"]],
            "Reason": [REASON_LABELS.get(reason, reason) for reason in summary["reason"]],
            "Rule": ["—" if pd.isna(rule) else f"rules[{rule}]" for rule in summary["rule"]],
            "Instances": summary["instances"], "Share": summary["share"],
        }),
        hide_index=True, width="stretch",
        column_config={"Share": st.column_config.ProgressColumn(
            format="%.1f%%", min_value=0, max_value=100)},
    )
    exposure = k.flags.exposure(key)
    values = list(dict.fromkeys(ka.json_text(value) for value in summary["value"]))
    picker, _ = st.columns([2, 3])
    chosen = picker.selectbox("Which instances get", values, key=f"exposure_{key}_value")
    shown = exposure[[ka.json_text(value) == chosen for value in exposure["value"]]]
    st.dataframe(
        pd.DataFrame({
            "Instance": shown["instance"], "Customer": shown["customer"],
            "License": shown["license"], "Zone": shown["deployment_zone"],
            "Reason": [REASON_LABELS.get(reason, reason) for reason in shown["reason"]],
            "Rule": ["—" if pd.isna(rule) else f"rules[{rule}]" for rule in shown["rule"]],
            "Why": shown["explanation"],
        }),
        hide_index=True, width="stretch",
    )


def render_rules(flag: ka.Flag) -> None:
    """Show the flag's default value and rules, read only (what a viewer gets for Edit)."""
    st.markdown(f"**Default value:** `{ka.json_text(flag.default_value)}`")
    if flag.rules:
        st.json(flag.rules, expanded=True)
    else:
        st.caption("No rules: every instance gets the default value.")


def render_flag(k: ka.Kaiten, key: str, can_write: bool) -> None:
    """Draw one flag: its switches, its edit form (an admin's) and its exposure."""
    try:
        flag = k.flags.get(key)
    except ka.NotFoundError as error:
        show_read_error(st, "show this flag", error)
        return
    status = "enabled" if flag.enabled else "disabled — every instance gets the default"
    st.subheader(flag.name)
    st.caption(f"`{flag.key}` · {flag.type} · {status}"
               + (f" · {flag.description}" if flag.description else ""))
    if not can_write:
        render_error(flag.key)  # a write refused for the role, e.g. from a stale page
        rules, exposure = st.tabs(["Rules", "Exposure"], key="flag_tab", on_change="rerun")
        if rules.open:
            with rules:
                render_rules(flag)
        if exposure.open:
            with exposure:
                render_exposure(k, flag.key)
        return
    switch, delete, _ = st.columns([1, 1, 4])
    switch.button("Disable" if flag.enabled else "Enable", on_click=_switch,
                  args=(flag.key, not flag.enabled),
                  icon=":material/toggle_off:" if flag.enabled else ":material/toggle_on:")
    delete.button("Delete", on_click=lambda: st.session_state.update({CONFIRM: flag.key}),
                  icon=":material/delete:")
    if st.session_state.get(CONFIRM) == flag.key:
        with st.container(border=True):
            st.warning(f"Delete `{flag.key}`? Applications asking for it will get their own "
                       "default value.", icon=":material/warning:")
            yes, no, _ = st.columns([1, 1, 4])
            yes.button("Delete for good", type="primary", on_click=_delete, args=(flag.key,))
            no.button("Cancel", on_click=lambda: st.session_state.pop(CONFIRM, None))
    edit, exposure = st.tabs(["Edit", "Exposure"], key="flag_tab", on_change="rerun")
    if edit.open:
        with edit:
            render_edit_form(flag)
    if exposure.open:
        with exposure:
            render_exposure(k, flag.key)


def main() -> None:
    """Draw the page."""
    st.title("Flags")
    st.caption("Feature flags serve each instance a value chosen by ordered targeting rules "
               "and stable percentage rollouts.")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")
    k, can_write = kaiten(), session.can_write()
    flags = k.flags.list()
    names = dict(zip(flags["key"], flags["name"], strict=True))
    if flags.empty:
        st.info("No flags yet — create the first one below." if can_write else "No flags yet.",
                icon=":material/flag:")
        if not can_write:
            return
    else:
        render_list(flags)
    choices = [NEW, *names] if can_write else list(names)  # a viewer creates nothing
    if st.session_state.get(PICKER) not in choices:  # deleted elsewhere
        st.session_state[PICKER] = choices[0]
    picker, _ = st.columns([2, 3])
    choice = picker.selectbox(
        "Flag", choices, key=PICKER,
        format_func=lambda key: "+ New flag" if key == NEW else f"{names[key]} ({key})",
    )
    if choice == NEW:
        render_new_form()
    else:
        render_flag(k, choice, can_write)


main()
