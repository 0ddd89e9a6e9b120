"""API keys (admins only): create a REST API key (its secret shown once), list, revoke."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import fresh_widgets, session
from kaiten_console.refusals import show_refusal

TABLE = "api_keys"  # the key table's widget group (fresh_widgets)
REVOKING_KEY = "api_keys_revoking"  # the name of the key whose revocation is being confirmed
CREATED_KEY = "api_keys_created"  # (name, secret) of the key just created: shown on one run
FLASH_KEY = "api_keys_flash"
FORM = "new_api_key"
LABELS = {"name": "Name", "role": "Role", "customer": "Customer"}
ROLE_HELP = {
    "admin": "everything, every customer's instances and the webhooks",
    "viewer": "every read, no write",
    "reporter": "usage reports, and reading an instance's entitlements and flags",
}
COLUMNS = {
    "name": st.column_config.TextColumn("Name"),
    "role": st.column_config.TextColumn("Role"),
    "customer": st.column_config.TextColumn("Customer", help="The one customer whose "
                                                             "instances the key sees"),
    "prefix": st.column_config.TextColumn("Key starts with"),
    "created": st.column_config.TextColumn("Created"),
    "last_used": st.column_config.TextColumn("Last used", help="Noted at most once a minute"),
    "state": st.column_config.TextColumn("State"),
}


def render_created() -> None:
    """Show the key just created — this once: the secret is not stored, only its hash."""
    created = st.session_state.pop(CREATED_KEY, None)
    if created is None:
        return
    name, secret = created
    with st.container(border=True):
        st.success(f"Created API key **{name}**.", icon=":material/check_circle:")
        st.warning("Copy the key now: it is shown this once and cannot be shown again "
                   "(only its hash is kept). Lost it? Revoke it and create another.",
                   icon=":material/content_copy:")
        st.code(secret, language=None)
        st.caption("Send it as `Authorization: Bearer <key>` to `kaiten api`.")


def render_create(customers: dict[str, str]) -> None:
    """Draw the New key form, with the library's error beside it."""
    form_col, error_col = st.columns([2, 1])
    with form_col, st.form(FORM, enter_to_submit=False):
        st.subheader("New API key")
        name_col, role_col, customer_col = st.columns(3)
        name = name_col.text_input("Name", key=fresh_widgets.key(FORM, "name"),
                                   placeholder="e.g. billing-sync",
                                   help="A slug naming the key; names are never reused.")
        role = role_col.selectbox("Role", ka.API_KEY_ROLES,
                                  key=fresh_widgets.key(FORM, "role"),
                                  help="  \n".join(f"**{r}**: {ROLE_HELP.get(r, r)}"
                                                   for r in ka.API_KEY_ROLES))
        customer = customer_col.selectbox(
            "Customer", [None, *customers], key=fresh_widgets.key(FORM, "customer"),
            format_func=lambda slug: "Every customer" if slug is None
            else f"{customers[slug]} ({slug})",
        )
        submitted = st.form_submit_button("Create key", type="primary")
    if not submitted:
        return
    try:
        created = session.kaiten().keys.create(name=name or "", role=role, customer=customer)
    except ka.KaitenError as error:
        show_refusal(error_col, error, heading="Could not create the key.", labels=LABELS)
    else:
        st.session_state[CREATED_KEY] = (created.name, created.secret)
        fresh_widgets.renew(FORM)  # an empty form for the next key
        fresh_widgets.renew(TABLE)  # the new key took its place by name: rows moved
        st.rerun()


def render_revoke(name: str) -> None:
    """Ask for confirmation, then revoke the key ``name``."""
    with st.container(border=True):
        st.warning(f"Revoke **{name}**? It stops authenticating at once, for good; its name "
                   "stays taken.", icon=":material/warning:")
        confirm, cancel, _ = st.columns([1, 1, 4])
        if confirm.button("Revoke key", type="primary", key="confirm_revoke"):
            try:
                session.kaiten().keys.revoke(name=name)
            except ka.KaitenError as error:
                show_refusal(st, error)
            else:
                st.session_state.pop(REVOKING_KEY, None)
                st.session_state[FLASH_KEY] = f"Revoked API key **{name}**."
                st.rerun()
        if cancel.button("Cancel", key="cancel_revoke"):
            st.session_state.pop(REVOKING_KEY, None)
            st.rerun()


def key_table(listed: pd.DataFrame) -> pd.DataFrame:
    """The key list as shown: local times, a state, never a secret (the list has none)."""
    return pd.DataFrame({
        "name": listed["name"], "role": listed["role"],
        "customer": listed["customer"].fillna("every customer"),
        "prefix": listed["prefix"] + "…",
        "created": [session.local_time(t) for t in listed["created_at"]],
        "last_used": [session.local_time(t) if pd.notna(t) else "never"
                      for t in listed["last_used_at"]],
        "state": ["active" if active else f"revoked {session.local_time(revoked)}"
                  for active, revoked in zip(listed["active"], listed["revoked_at"],
                                             strict=True)],
    })


def main() -> None:
    """Draw the page."""
    st.title("API keys")
    st.caption("Keys for the REST API (`kaiten api`): each has a role and may be bound to one "
               "customer. The console shows a key's secret once, when it is created.")
    if not session.can_write():
        st.info("API keys are managed by admins.", icon=":material/lock:")
        return
    if message := st.session_state.pop(FLASH_KEY, None):
        st.success(message, icon=":material/check_circle:")
    render_created()
    kaiten = session.kaiten()
    render_create(session.names(session.customers()))

    listed = kaiten.keys.list()
    st.subheader("Keys")
    if listed.empty:
        st.info("No API keys yet.", icon=":material/info:")
        return
    st.caption(f"{int(listed['active'].sum())} active, {int((~listed['active']).sum())} "
               "revoked")
    event = st.dataframe(key_table(listed), column_config=COLUMNS, hide_index=True,
                         width="stretch", key=fresh_widgets.key(TABLE, "table"), on_select="rerun",
                         selection_mode="single-row")
    rows = event.selection.rows
    selected = listed.iloc[rows[0]] if rows and rows[0] < len(listed) else None
    if selected is None:
        st.caption("Select a key to revoke it.")
    if st.button("Revoke", icon=":material/block:",
                 disabled=selected is None or not selected["active"]):
        st.session_state[REVOKING_KEY] = selected["name"]
    revoking = st.session_state.get(REVOKING_KEY)
    if revoking in set(listed.loc[listed["active"], "name"]):
        render_revoke(revoking)


main()
