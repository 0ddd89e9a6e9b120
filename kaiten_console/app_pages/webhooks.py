"""Webhooks (admins only): endpoints, their recent deliveries and attempts, test and retry.

The page queues and changes; the relay (``kaiten webhooks run``) sends. A signing secret is
shown once, when the endpoint is added or its secret rotated.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import fresh_widgets, session
from kaiten_console.refusals import show_refusal

ENDPOINTS = "webhooks_endpoints"  # the endpoint table's widget group (fresh_widgets)
DELIVERIES = "webhooks_deliveries"  # the delivery table's
STATUS_KEY = "webhooks_status"
REMOVING_KEY = "webhooks_removing"  # the endpoint id whose removal is being confirmed
SECRET_KEY = "webhooks_secret"  # (what, secret) just made: shown on one run only
FLASH_KEY = "webhooks_flash"
REFUSED_KEY = "webhooks_refused"  # (where, KaitenError) of the last click, shown beside it
DELIVERIES_FOR = "webhooks_deliveries_for"  # (endpoint, status) the selection was made in
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
        url = st.text_input("URL", key=fresh_widgets.key(FORM, "url"),
                            placeholder="https://hooks.example.com/kaiten")
        events = st.multiselect("Events", ka.WEBHOOK_EVENT_TYPES,
                                key=fresh_widgets.key(FORM, "events"), placeholder="Every event",
                                help="The event types to send; none chosen = every type.")
        description = st.text_input("Description", key=fresh_widgets.key(FORM, "description"))
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
        fresh_widgets.renew(FORM)  # an empty form for the next endpoint
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


def act(action: str, target: int) -> None:
    """Do one button's write on ``target`` (an endpoint id, or a delivery id for retry).

    A button's callback, so it acts on the row that was on screen when it was clicked, even
    if the lists changed since (new deliveries come first). What happened is kept for the run
    that follows: a message, a secret to show once, or the library's refusal.
    """
    kaiten = session.kaiten()
    try:
        if action == "test":
            event_id = kaiten.webhooks.send_test(endpoint=target)
            message = (f"Queued a test event (`{event_id}`) to endpoint {target}; the relay "
                       "(`kaiten webhooks run`) sends it.")
            fresh_widgets.renew(DELIVERIES)  # the new delivery comes first: rows moved
        elif action == "disable":
            kaiten.webhooks.disable(endpoint=target)
            message = f"Disabled endpoint {target}."
        elif action == "enable":
            kaiten.webhooks.enable(endpoint=target)
            message = f"Enabled endpoint {target}: its waiting deliveries go out."
        elif action == "rotate":
            secret = kaiten.webhooks.rotate_secret(endpoint=target)
            st.session_state[SECRET_KEY] = (
                f"New signing secret for endpoint {target}. The previous one keeps signing "
                "beside it for 24 hours.", secret)
            return
        else:
            kaiten.webhooks.retry(delivery=target)
            message = f"Delivery {target} is due now; the relay sends it."
    except ka.KaitenError as error:
        st.session_state[REFUSED_KEY] = ("delivery" if action == "retry" else "endpoint",
                                         error)
    else:
        st.session_state[FLASH_KEY] = message


def show_refused(where: str) -> None:
    """Show the refusal of the last click, if it was made ``where`` (endpoint / delivery)."""
    refused = st.session_state.get(REFUSED_KEY)
    if refused is not None and refused[0] == where:
        del st.session_state[REFUSED_KEY]
        show_refusal(st, refused[1])


def render_endpoint_actions(endpoint: pd.Series) -> None:
    """The buttons acting on the selected endpoint."""
    endpoint_id = int(endpoint["id"])
    buttons = st.container(horizontal=True)
    buttons.button("Send test event", icon=":material/send:", on_click=act,
                   args=("test", endpoint_id))
    if endpoint["enabled"]:
        buttons.button("Disable", icon=":material/pause:", on_click=act,
                       args=("disable", endpoint_id))
    else:
        buttons.button("Enable", icon=":material/play_arrow:", on_click=act,
                       args=("enable", endpoint_id))
    buttons.button("Rotate secret", icon=":material/autorenew:", on_click=act,
                   args=("rotate", endpoint_id))
    if buttons.button("Remove", icon=":material/delete:"):
        st.session_state[REMOVING_KEY] = endpoint_id
    show_refused("endpoint")


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
                fresh_widgets.renew(ENDPOINTS)  # the rows moved: no row selected
                st.session_state[FLASH_KEY] = f"Removed endpoint {endpoint_id}."
                st.rerun()
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
    if st.session_state.get(DELIVERIES_FOR) != (endpoint_id, status):
        fresh_widgets.renew(DELIVERIES)  # a selection made in another list means nothing here
        st.session_state[DELIVERIES_FOR] = (endpoint_id, status)
    deliveries = kaiten.webhooks.deliveries(endpoint=endpoint_id, status=status, limit=RECENT)
    if deliveries.empty:
        st.info("No deliveries yet: they are queued for each event written after an endpoint "
                "was added (or by Send test event).", icon=":material/info:")
        return
    st.caption(f"The {len(deliveries)} newest. Select one for its attempts.")
    event = st.dataframe(delivery_table(deliveries), column_config=DELIVERY_COLUMNS,
                         hide_index=True, width="stretch",
                         key=fresh_widgets.key(DELIVERIES, "table"),
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
    st.button("Retry", icon=":material/replay:", on_click=act, args=("retry", delivery_id),
              help="Make it due now: a failed delivery gets one more attempt, a delivered "
                   "one is sent again (same webhook-id).")
    show_refused("delivery")


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
                             hide_index=True, width="stretch",
                             key=fresh_widgets.key(ENDPOINTS, "table"),
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
