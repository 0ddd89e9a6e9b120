"""Webhooks (admins only): endpoints, their recent deliveries and attempts, test and retry.

The page queues and changes; the relay (``kaiten webhooks run``) sends. A signing secret is
shown once, when the endpoint is added or its secret rotated.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import fresh_forms, session
from kaiten_console.refusals import show_refusal

ENDPOINTS_KEY = "webhooks_endpoints_table"
DELIVERIES_KEY = "webhooks_deliveries_table"
STATUS_KEY = "webhooks_status"
REMOVING_KEY = "webhooks_removing"  # the endpoint id whose removal is being confirmed
SECRET_KEY = "webhooks_secret"  # (what, secret) just made: shown on one run only
FLASH_KEY = "webhooks_flash"
RECENT = 50  # deliveries listed
FORM = "new_webhook"
LABELS = {"url": "URL", "events": "Events", "description": "Description"}
ENDPOINT_COLUMNS = {
    "id": st.column_config.NumberColumn("Id", format="%d"),
    "url": st.column_config.TextColumn("URL"),
    "events": st.column_config.TextColumn("Events"),
    "description": st.column_config.TextColumn("Description"),
    "state": st.column_config.TextColumn("State"),
    "created": st.column_config.TextColumn("Added"),
}
DELIVERY_COLUMNS = {
    "id": st.column_config.NumberColumn("Id", format="%d"),
    "event_type": st.column_config.TextColumn("Event"),
    "status": st.column_config.TextColumn("Status"),
    "last_status_code": st.column_config.NumberColumn("Response", format="%d",
                                                      help="The last attempt's HTTP status"),
    "attempts": st.column_config.NumberColumn("Attempts"),
    "last_error": st.column_config.TextColumn("Last error"),
    "next_attempt": st.column_config.TextColumn("Next attempt"),
    "created": st.column_config.TextColumn("Queued"),
    "url": st.column_config.TextColumn("Endpoint"),
    "event_id": st.column_config.TextColumn("webhook-id"),
}
ATTEMPT_COLUMNS = {
    "attempted": st.column_config.TextColumn("Attempted"),
    "status_code": st.column_config.NumberColumn("Response", format="%d"),
    "duration_ms": st.column_config.NumberColumn("Duration (ms)", format="%.0f"),
    "error": st.column_config.TextColumn("Error"),
    "response_excerpt": st.column_config.TextColumn("Response excerpt"),
}


def flash(message: str) -> None:
    """Say what happened on the next run, forget the selections, rerun."""
    st.session_state[FLASH_KEY] = message
    st.session_state.pop(DELIVERIES_KEY, None)
    st.rerun()


def render_secret() -> None:
    """Show the secret just made — this once: only its encryption is kept."""
    made = st.session_state.pop(SECRET_KEY, None)
    if made is None:
        return
    what, secret = made
    with st.container(border=True):
        st.success(what, icon=":material/check_circle:")
        st.warning("Copy the signing secret now: it is shown this once. Receivers verify "
                   "each message's `webhook-signature` with it (Standard Webhooks).",
                   icon=":material/content_copy:")
        st.code(secret, language=None)


def render_add() -> None:
    """Draw the Add endpoint form, with the library's error beside it."""
    form_col, error_col = st.columns([2, 1])
    with form_col, st.form(FORM, enter_to_submit=False):
        st.subheader("Add an endpoint")
        url = st.text_input("URL", key=fresh_forms.key(FORM, "url"),
                            placeholder="https://hooks.example.com/kaiten")
        events = st.multiselect("Events", ka.WEBHOOK_EVENT_TYPES,
                                key=fresh_forms.key(FORM, "events"), placeholder="Every event",
                                help="The event types to send; none chosen = every type.")
        description = st.text_input("Description", key=fresh_forms.key(FORM, "description"))
        submitted = st.form_submit_button("Add endpoint", type="primary")
    if not submitted:
        return
    try:
        added = session.kaiten().webhooks.add(url=url or "", events=events or None,
                                              description=description or "")
    except ka.KaitenError as error:
        show_refusal(error_col, error, heading="Could not add the endpoint.", labels=LABELS)
    else:
        st.session_state[SECRET_KEY] = (f"Added endpoint {added.id}: **{added.url}**.",
                                        added.secret)
        st.session_state.pop(ENDPOINTS_KEY, None)
        fresh_forms.renew(FORM)  # an empty form for the next endpoint
        st.rerun()


def endpoint_table(endpoints: pd.DataFrame) -> pd.DataFrame:
    """The endpoint list as shown (never a secret: the list has none)."""
    return pd.DataFrame({
        "id": endpoints["id"], "url": endpoints["url"],
        "events": ["every event" if types is None else ", ".join(types)
                   for types in endpoints["events"]],
        "description": endpoints["description"],
        "state": ["enabled" if enabled else f"disabled: {reason or 'by hand'}"
                  for enabled, reason in zip(endpoints["enabled"], endpoints["disabled_reason"],
                                             strict=True)],
        "created": [session.local_time(t) for t in endpoints["created_at"]],
    })


def render_endpoint_actions(endpoint: pd.Series) -> None:
    """The buttons acting on the selected endpoint."""
    kaiten = session.kaiten()
    endpoint_id = int(endpoint["id"])
    buttons = st.container(horizontal=True)
    try:
        if buttons.button("Send test event", icon=":material/send:"):
            event_id = kaiten.webhooks.send_test(endpoint=endpoint_id)
            flash(f"Queued a test event (`{event_id}`) to endpoint {endpoint_id}; the relay "
                  "(`kaiten webhooks run`) sends it.")
        if endpoint["enabled"]:
            if buttons.button("Disable", icon=":material/pause:"):
                kaiten.webhooks.disable(endpoint=endpoint_id)
                flash(f"Disabled endpoint {endpoint_id}.")
        elif buttons.button("Enable", icon=":material/play_arrow:"):
            kaiten.webhooks.enable(endpoint=endpoint_id)
            flash(f"Enabled endpoint {endpoint_id}: its waiting deliveries go out.")
        if buttons.button("Rotate secret", icon=":material/autorenew:"):
            secret = kaiten.webhooks.rotate_secret(endpoint=endpoint_id)
            st.session_state[SECRET_KEY] = (
                f"New signing secret for endpoint {endpoint_id}. The previous one keeps "
                "signing beside it for 24 hours.", secret)
            st.rerun()
    except ka.KaitenError as error:
        show_refusal(st, error)
    if buttons.button("Remove", icon=":material/delete:"):
        st.session_state[REMOVING_KEY] = endpoint_id


def render_remove(endpoint_id: int, url: str) -> None:
    """Ask for confirmation, then remove the endpoint."""
    with st.container(border=True):
        st.warning(f"Remove endpoint {endpoint_id} (**{url}**)? Its secrets, deliveries and "
                   "their attempts go with it.", icon=":material/warning:")
        confirm, cancel, _ = st.columns([1, 1, 4])
        if confirm.button("Remove endpoint", type="primary", key="confirm_remove"):
            try:
                session.kaiten().webhooks.remove(endpoint=endpoint_id)
            except ka.KaitenError as error:
                show_refusal(st, error)
            else:
                st.session_state.pop(REMOVING_KEY, None)
                st.session_state.pop(ENDPOINTS_KEY, None)
                flash(f"Removed endpoint {endpoint_id}.")
        if cancel.button("Cancel", key="cancel_remove"):
            st.session_state.pop(REMOVING_KEY, None)
            st.rerun()


def delivery_table(deliveries: pd.DataFrame) -> pd.DataFrame:
    """The delivery list as shown, in the viewer's time zone."""
    return pd.DataFrame({
        "id": deliveries["id"], "event_type": deliveries["event_type"],
        "status": deliveries["status"], "last_status_code": deliveries["last_status_code"],
        "attempts": deliveries["attempts"], "last_error": deliveries["last_error"].fillna("—"),
        "next_attempt": [session.local_time(t) if status in ("pending", "delivering") else "—"
                         for t, status in zip(deliveries["next_attempt_at"],
                                              deliveries["status"], strict=True)],
        "created": [session.local_time(t) for t in deliveries["created_at"]],
        "url": deliveries["url"], "event_id": deliveries["event_id"],
    })


def render_deliveries(endpoint: pd.Series | None) -> None:
    """The recent deliveries (of the selected endpoint, else all), one's attempts, Retry."""
    kaiten = session.kaiten()
    endpoint_id = None if endpoint is None else int(endpoint["id"])
    st.subheader("Recent deliveries" if endpoint is None
                 else f"Recent deliveries to endpoint {endpoint_id}")
    status = st.selectbox("Status", [None, *ka.WEBHOOK_DELIVERY_STATUSES], key=STATUS_KEY,
                          format_func=lambda s: "Any status" if s is None else s)
    deliveries = kaiten.webhooks.deliveries(endpoint=endpoint_id, status=status, limit=RECENT)
    if deliveries.empty:
        st.info("No deliveries yet: they are queued for each event written after an endpoint "
                "was added (or by Send test event).", icon=":material/info:")
        return
    st.caption(f"The {len(deliveries)} newest. Select one for its attempts.")
    event = st.dataframe(delivery_table(deliveries), column_config=DELIVERY_COLUMNS,
                         hide_index=True, width="stretch", key=DELIVERIES_KEY,
                         on_select="rerun", selection_mode="single-row")
    rows = event.selection.rows
    if not rows or rows[0] >= len(deliveries):
        return
    delivery = deliveries.iloc[rows[0]]
    delivery_id = int(delivery["id"])
    st.markdown(f"**Delivery {delivery_id}** · `{delivery['event_type']}` · "
                f"{delivery['status']} · webhook-id `{delivery['event_id']}`")
    attempts = kaiten.webhooks.attempts(delivery=delivery_id)
    if attempts.empty:
        st.caption("Not attempted yet.")
    else:
        shown = attempts.assign(attempted=[session.local_time(t)
                                           for t in attempts["attempted_at"]])
        st.dataframe(shown[list(ATTEMPT_COLUMNS)], column_config=ATTEMPT_COLUMNS,
                     hide_index=True, width="stretch")
    if st.button("Retry", icon=":material/replay:",
                 help="Make it due now: a failed delivery gets one more attempt, a "
                      "delivered one is sent again (same webhook-id)."):
        try:
            kaiten.webhooks.retry(delivery=delivery_id)
        except ka.KaitenError as error:
            show_refusal(st, error)
        else:
            flash(f"Delivery {delivery_id} is due now; the relay sends it.")


def main() -> None:
    """Draw the page."""
    st.title("Webhooks")
    st.caption("Endpoints that receive the domain events (instances created, updated, "
               "deleted; usage limits reached), signed per Standard Webhooks. The relay "
               "(`kaiten webhooks run`) delivers them.")
    if not session.can_write():
        st.info("Webhook endpoints are managed by admins.", icon=":material/lock:")
        return
    if message := st.session_state.pop(FLASH_KEY, None):
        st.success(message, icon=":material/check_circle:")
    render_secret()
    render_add()

    endpoints = session.kaiten().webhooks.list()
    st.subheader("Endpoints")
    selected = None
    if endpoints.empty:
        st.info("No endpoints yet: add one above.", icon=":material/info:")
    else:
        event = st.dataframe(endpoint_table(endpoints), column_config=ENDPOINT_COLUMNS,
                             hide_index=True, width="stretch", key=ENDPOINTS_KEY,
                             on_select="rerun", selection_mode="single-row")
        rows = event.selection.rows
        if rows and rows[0] < len(endpoints):
            selected = endpoints.iloc[rows[0]]
            render_endpoint_actions(selected)
        else:
            st.caption("Select an endpoint to send it a test event, disable or enable it, "
                       "rotate its secret, remove it, or see only its deliveries.")
        removing = st.session_state.get(REMOVING_KEY)
        live = dict(zip(endpoints["id"].astype(int), endpoints["url"], strict=True))
        if removing in live:
            render_remove(removing, live[removing])
    render_deliveries(selected)


main()
