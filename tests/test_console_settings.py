"""The admin pages (AppTest): API keys and Webhooks — secrets shown once, revoke, endpoints,
deliveries with their status and response code, Send test event and Retry.

A real receiver on loopback answers the relay (``kaiten.webhooks.run(once=True)``, run by the
test between clicks), and the secret the page showed verifies the message it signed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import FakeClock, table_counts
from console_support import click, open_page, reload, select_row, texts
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook
from streamlit.testing.v1 import AppTest
from webhook_receiver import Receiver

import kaiten_analytics as ka
from kaiten_console import page_paths


@pytest.fixture
def clock() -> FakeClock:
    # signatures carry the clock's time and receivers refuse one minutes away from theirs
    return FakeClock(datetime.now(UTC))


@pytest.fixture(autouse=True)
def webhook_key(monkeypatch):
    monkeypatch.setenv("KAITEN_WEBHOOKS_SECRET_KEY", Fernet.generate_key().decode())


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def everything_shown(at: AppTest) -> str:
    """Every text the run drew, widgets' values and tables included."""
    parts = [e.value for kind in ("markdown", "caption", "success", "warning", "info", "error",
                                  "code", "title", "subheader")
             for e in getattr(at, kind)]
    parts += [str(w.value) for w in at.text_input]
    parts += [frame.value.to_csv() for frame in at.dataframe]
    return "\n".join(str(part) for part in parts)


def delivery_rows(at: AppTest) -> list[dict]:
    table = at.dataframe[1].value
    return table[["event_type", "status", "last_status_code", "attempts"]].to_dict("records")


# --- API keys ------------------------------------------------------------------------------


def test_created_key_is_shown_once_then_never_and_revoke_stops_it(catalogue, console_for):
    at = open_page(console_for(catalogue), page_paths.API_KEYS)
    at.text_input(key="new_api_key_name").input("billing-sync")
    at.selectbox(key="new_api_key_role").set_value("reporter")
    at.selectbox(key="new_api_key_customer").set_value("acme")
    click(at, "Create key")
    assert not at.exception and not at.error
    [secret] = [code.value for code in at.code]
    assert secret.startswith("ka_")
    assert catalogue.keys.authenticate(secret).name == "billing-sync"
    assert any("shown this once" in warning for warning in texts(at.warning))
    listed = at.dataframe[0].value
    assert listed[["name", "role", "customer", "state"]].values.tolist() == [
        ["billing-sync", "reporter", "acme", "active"]]
    assert secret not in listed.to_csv()
    assert at.text_input(key="new_api_key_1_name").value == ""  # a fresh form for the next

    at.run()  # any later run: the secret is gone for good
    assert not at.code and secret not in everything_shown(at)
    prefix = catalogue.keys.list()["prefix"].iloc[0]
    assert secret.startswith(prefix) and len(prefix) < len(secret) // 2
    assert at.dataframe[0].value["prefix"].tolist() == [f"{prefix}…"]  # identifies it

    select_row(at, "billing-sync", column="name")
    click(at, "Revoke")
    assert any("Revoke **billing-sync**?" in warning for warning in texts(at.warning))
    assert catalogue.keys.list()["active"].tolist() == [True]  # not before the confirmation
    click(at, "Revoke key")
    assert not at.exception and not at.error
    assert catalogue.keys.list()["active"].tolist() == [False]
    with pytest.raises(ka.NotFoundError):
        catalogue.keys.authenticate(secret)
    assert at.dataframe[0].value["state"].iloc[0].startswith("revoked ")
    assert any("Revoked API key" in message for message in texts(at.success))


def test_an_invalid_key_shows_the_message_beside_the_form_and_keeps_it_sqlite_only(
        catalogue, console_for):
    catalogue.keys.create("ops", "admin")
    at = open_page(console_for(catalogue), page_paths.API_KEYS)
    for name, message in [("Not A Slug", "**Name**"), ("ops", "**Name**")]:
        at.text_input(key="new_api_key_name").input(name)
        click(at, "Create key")
        errors = texts(at.error)
        assert len(errors) == 1 and "Could not create the key." in errors[0], errors
        assert message in errors[0]
        assert at.text_input(key="new_api_key_name").value == name
        assert not at.code
    assert catalogue.keys.list()["name"].tolist() == ["ops"]


# --- Webhooks ------------------------------------------------------------------------------


def test_add_send_test_and_retry_show_the_delivery_its_status_and_response_code(
        catalogue, console_for, receiver):
    receiver.on("/hook", status=500, body=b"try later")
    at = open_page(console_for(catalogue), page_paths.WEBHOOKS)
    at.text_input(key="new_webhook_url").input(receiver.url("/hook"))
    at.multiselect(key="new_webhook_events").set_value(["INSTANCE_CREATED"])
    at.text_input(key="new_webhook_description").input("billing")
    click(at, "Add endpoint")
    assert not at.exception and not at.error
    [secret] = [code.value for code in at.code]
    assert secret.startswith("whsec_")
    [endpoint] = catalogue.webhooks.list().itertuples()
    assert (endpoint.url, endpoint.events, endpoint.description) == (
        receiver.url("/hook"), ["INSTANCE_CREATED"], "billing")
    assert at.text_input(key="new_webhook_1_url").value == ""  # a fresh form for the next
    at.run()
    assert not at.code and secret not in everything_shown(at)

    select_row(at, receiver.url("/hook"), column="url")
    click(at, "Send test event")
    assert not at.exception and not at.error
    assert delivery_rows(at) == [{"event_type": "WEBHOOK_TEST", "status": "pending",
                                  "last_status_code": None, "attempts": 0}]

    catalogue.webhooks.run(once=True, allow_private=True)  # the receiver answers 500
    reload(at)
    assert delivery_rows(at) == [{"event_type": "WEBHOOK_TEST", "status": "pending",
                                  "last_status_code": 500, "attempts": 1}]
    [delivery] = catalogue.webhooks.deliveries()["id"].tolist()
    select_row(at, "WEBHOOK_TEST", table=1, column="event_type")
    assert at.dataframe[2].value[["status_code", "response_excerpt"]].values.tolist() == [
        [500, "try later"]]
    # not due again for a while: the relay leaves it, until Retry makes it due now
    assert catalogue.webhooks.run(once=True, allow_private=True).attempted == 0
    receiver.on("/hook", status=204)
    click(at, "Retry")
    assert not at.exception and not at.error
    catalogue.webhooks.run(once=True, allow_private=True)
    reload(at)
    assert delivery_rows(at) == [{"event_type": "WEBHOOK_TEST", "status": "succeeded",
                                  "last_status_code": 204, "attempts": 2}]
    assert catalogue.webhooks.attempts(delivery)["status_code"].tolist() == [500, 204]
    # the same message twice (same webhook-id), signed with the secret the page showed
    first, second = receiver.at("/hook")
    assert first.webhook_id == second.webhook_id
    assert Webhook(secret).verify(second.body, second.headers)["type"] == "WEBHOOK_TEST"


def test_disable_enable_rotate_and_remove_an_endpoint_sqlite_only(catalogue, console_for,
                                                                 receiver):
    added = catalogue.webhooks.add(receiver.url("/a"))
    at = open_page(console_for(catalogue), page_paths.WEBHOOKS)
    select_row(at, receiver.url("/a"), column="url")
    click(at, "Disable")
    assert catalogue.webhooks.get(added.id).enabled is False
    assert at.dataframe[0].value["state"].iloc[0].startswith("disabled")
    click(at, "Enable")
    assert catalogue.webhooks.get(added.id).enabled is True

    click(at, "Rotate secret")
    [rotated] = [code.value for code in at.code]
    assert rotated.startswith("whsec_") and rotated != added.secret
    at.run()
    assert not at.code

    before = table_counts(catalogue)
    click(at, "Remove")
    assert any("Remove endpoint" in warning for warning in texts(at.warning))
    assert table_counts(catalogue) == before
    click(at, "Remove endpoint")
    assert not at.exception and not at.error
    assert catalogue.webhooks.list().empty
    assert "No endpoints yet: add one above." in texts(at.info)


def test_an_invalid_endpoint_shows_the_message_beside_the_form_and_keeps_it_sqlite_only(
        catalogue, console_for):
    at = open_page(console_for(catalogue), page_paths.WEBHOOKS)
    at.text_input(key="new_webhook_url").input("ftp://files.example.com/")
    click(at, "Add endpoint")
    errors = texts(at.error)
    assert len(errors) == 1 and "Could not add the endpoint." in errors[0], errors
    assert "**URL**" in errors[0]
    assert at.text_input(key="new_webhook_url").value == "ftp://files.example.com/"
    assert catalogue.webhooks.list().empty and not at.code


def test_a_demoted_admins_stale_webhook_and_key_buttons_write_nothing_sqlite_only(
        catalogue, console_for):
    from test_console_access import ADMIN, AUTH

    catalogue.users.add(ADMIN, "admin")
    catalogue.keys.create("ops", "admin")
    endpoint = catalogue.webhooks.add("https://hooks.example.com/kaiten").id
    for page, select, first, label in [
            (page_paths.WEBHOOKS, ("https://hooks.example.com/kaiten", "url"), None,
             "Send test event"),
            (page_paths.API_KEYS, ("ops", "name"), "Revoke", "Revoke key")]:
        catalogue.users.add(ADMIN, "admin")
        at = console_for(catalogue)
        at.secrets["auth"] = dict(AUTH)
        at.user = {"is_logged_in": True, "email": ADMIN, "email_verified": True}
        open_page(at, page)
        value, column = select
        select_row(at, value, column=column)
        if first:
            click(at, first)
        button = next(b for b in at.button if b.label == label)
        catalogue.users.add(ADMIN, "viewer")  # demoted while the page is open
        before = table_counts(catalogue)
        button.click()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert table_counts(catalogue) == before, page
        assert label not in texts(at.button)
    assert catalogue.webhooks.deliveries(endpoint).empty
    assert catalogue.keys.list()["active"].tolist() == [True]


def test_retry_acts_on_the_delivery_on_screen_when_a_newer_one_came_first_sqlite_only(
        catalogue, console_for, receiver, clock):
    receiver.on("/hook", status=503)
    endpoint = catalogue.webhooks.add(receiver.url("/hook")).id
    catalogue.webhooks.send_test(endpoint)
    catalogue.webhooks.run(once=True, allow_private=True)  # 503: due again in a while
    [failed] = catalogue.webhooks.deliveries()["id"].tolist()
    at = open_page(console_for(catalogue), page_paths.WEBHOOKS)
    select_row(at, "WEBHOOK_TEST", table=1, column="event_type")
    assert any(f"**Delivery {failed}**" in text for text in texts(at.markdown))
    clock.advance(seconds=1)
    catalogue.webhooks.send_test(endpoint)  # meanwhile: a newer delivery takes row 0
    click(at, "Retry")
    assert not at.exception and not at.error
    deliveries = catalogue.webhooks.deliveries().set_index("id")
    assert deliveries.loc[failed, "next_attempt_at"] == clock.now  # the one on screen
    assert any(f"Delivery {failed} is due now" in text for text in texts(at.success))


def test_send_test_event_clears_the_delivery_selection_sqlite_only(catalogue, console_for):
    endpoint = catalogue.webhooks.add("https://hooks.example.com/kaiten").id
    catalogue.webhooks.send_test(endpoint)
    at = open_page(console_for(catalogue), page_paths.WEBHOOKS)
    select_row(at, "https://hooks.example.com/kaiten", column="url")
    select_row(at, "WEBHOOK_TEST", table=1, column="event_type")
    assert any(b.label == "Retry" for b in at.button)
    click(at, "Send test event")
    assert len(at.dataframe[1].value) == 2
    assert not any(b.label == "Retry" for b in at.button)  # no delivery selected now
