"""Webhooks: endpoints, signed messages to a real loopback receiver, retries, safety.

The relay runs in-process (``kaiten.webhooks.run(once=True)``) against a receiver on
127.0.0.1; time is moved with the injected clock, never slept. The clock starts at the real
time so that the receivers' libraries accept the ``webhook-timestamp`` (5 minutes' tolerance).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from conftest import FakeClock, table_counts
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook
from svix.webhooks import Webhook as SvixWebhook
from webhook_receiver import Receiver

import kaiten_analytics as ka


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))


@pytest.fixture(autouse=True)
def webhook_env(monkeypatch):
    monkeypatch.setenv("KAITEN_WEBHOOKS_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("KAITEN_WEBHOOKS_ALLOW_PRIVATE", "1")


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def shop(kaiten):
    kaiten.customers.create("acme", "Acme")
    kaiten.entitlements.create("seats", "Seats", aggregation_method="MAX")
    kaiten.licenses.create("pro", "Pro", {"seats": 10})
    return kaiten


def verified(message, secret: str) -> dict:
    """The body, verified by both libraries (each raises on a bad signature)."""
    SvixWebhook(secret).verify(message.body, message.headers)
    return Webhook(secret).verify(message.body, message.headers)


def outbox_ids(kaiten, event_type: str) -> list[str]:
    from kaiten_analytics.db.models import outbox_events

    with kaiten.db.engine.connect() as connection:
        return list(connection.execute(
            sa.select(outbox_events.c.id).where(outbox_events.c.event_type == event_type)
            .order_by(outbox_events.c.id)).scalars())


# --- endpoints ----------------------------------------------------------------------------------
def test_add_returns_a_whsec_secret_once_and_nothing_shows_it_again(kaiten, capsys):
    endpoint = kaiten.webhooks.add("https://hooks.example.com/kaiten", description="ERP")
    assert endpoint.secret.startswith("whsec_")
    assert len(base64.b64decode(endpoint.secret.removeprefix("whsec_"))) >= 24
    assert endpoint.secret not in repr(endpoint)
    listed = kaiten.webhooks.list()
    assert list(listed.columns) == ["id", "url", "events", "description", "enabled",
                                    "disabled_reason", "created_at"]
    assert listed.iloc[0].to_dict()["url"] == "https://hooks.example.com/kaiten"
    assert endpoint.secret not in listed.to_string()
    assert kaiten.webhooks.get(endpoint.id).secret is None
    with kaiten.db.engine.connect() as connection:  # stored encrypted, not in the clear
        stored = connection.exec_driver_sql("SELECT secret_encrypted FROM webhook_secrets").all()
    assert stored and endpoint.secret not in stored[0][0]
    assert kaiten.webhooks.add("http://a.example/x").secret != endpoint.secret


@pytest.mark.parametrize(("url", "events"), [
    ("ftp://hooks.example.com/x", None), ("hooks.example.com/x", None), ("", None),
    ("http:///nohost", None), ("https://ok.example/x", ["INSTANCE_CREATD"]),
    ("https://ok.example/x", []),
    # control characters (NUL: PostgreSQL stores none) after the stripped ends, in host or path
    ("\rhttp://\x00\x12\U000f6ffd\x14\r", None), ("https://ok.example/a\x00b", None),
    ("https://ok.example/\x7f", None), ("https://ok\ud800.example/", None),
])
def test_add_refuses_bad_urls_and_unknown_event_types_writing_nothing(kaiten, url, events):
    before = table_counts(kaiten)
    with pytest.raises(ka.ValidationError) as info:
        kaiten.webhooks.add(url, events=events)
    assert info.value.field == ("url" if events is None else "events")
    assert table_counts(kaiten) == before


def test_unknown_endpoint_and_delivery_are_not_found(kaiten):
    for call in (kaiten.webhooks.remove, kaiten.webhooks.rotate_secret, kaiten.webhooks.send_test,
                 kaiten.webhooks.get):
        with pytest.raises(ka.NotFoundError):
            call(999)
    with pytest.raises(ka.NotFoundError):
        kaiten.webhooks.retry(999)


# --- messages -----------------------------------------------------------------------------------
def test_messages_verify_with_standardwebhooks_and_svix_and_carry_the_outbox_event(
        shop, receiver):
    endpoint = shop.webhooks.add(receiver.url())
    shop.instances.create("acme", "Production", "acme-prod", "pro", metadata={"tier": 2})
    stats = shop.webhooks.run(once=True)
    assert (stats.attempted, stats.succeeded) == (1, 1)
    [message] = receiver.received
    body = verified(message, endpoint.secret)
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "INSTANCE_CREATED"
    assert message.webhook_id == outbox_ids(shop, "INSTANCE_CREATED")[0]
    assert body["data"]["instance"]["slug"] == "acme-prod"
    assert body["data"]["instance"]["customer"] == "acme"
    assert abs(int(message.headers["webhook-timestamp"]) - time.time()) < 60
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    with pytest.raises(Exception, match="signature"):
        Webhook(shop.webhooks.add("http://x.example/").secret).verify(message.body,
                                                                      message.headers)
    delivery = shop.webhooks.deliveries().iloc[0]
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)


def test_an_endpoint_receives_only_events_written_after_it_was_added(shop, receiver):
    shop.instances.create("acme", "Before", "before", "pro")
    shop.webhooks.add(receiver.url())
    shop.instances.create("acme", "After", "after", "pro")
    shop.webhooks.run(once=True)
    types = [json.loads(m.body)["data"]["instance"]["slug"] for m in receiver.received]
    assert types == ["after"]


def test_event_filters_deliver_only_the_subscribed_types(shop, receiver):
    shop.webhooks.add(receiver.url("/all"))
    shop.webhooks.add(receiver.url("/deletes"), events="INSTANCE_DELETED")
    shop.webhooks.add(receiver.url("/limits"), events=["INSTANCE_ENTITLEMENT_USAGE_REACHED"])
    shop.instances.create("acme", "Production", "acme-prod", "pro")
    shop.instances.update("acme-prod", name="Prod")
    shop.usage.report("acme-prod", "seats", 10)
    shop.instances.delete("acme-prod")
    shop.webhooks.run(once=True)

    def types(path):
        return [json.loads(m.body)["type"] for m in receiver.at(path)]

    assert sorted(types("/all")) == sorted(["INSTANCE_CREATED", "INSTANCE_UPDATED",
                                            "INSTANCE_ENTITLEMENT_USAGE_REACHED",
                                            "INSTANCE_DELETED"])
    assert types("/deletes") == ["INSTANCE_DELETED"]
    assert types("/limits") == ["INSTANCE_ENTITLEMENT_USAGE_REACHED"]


def test_payloads_let_a_receiver_act_without_a_second_call(shop, receiver):
    shop.zones.create("eu", "EU")
    shop.webhooks.add(receiver.url())
    shop.instances.create("acme", "Production", "acme-prod", "pro", deployment_zone="eu")
    shop.instances.update("acme-prod", slug="acme-main", license_end="2027-01-31")
    shop.usage.report("acme-main", "seats", 12)  # over the threshold: rejected, no event
    shop.usage.report("acme-main", "seats", 10)  # reaches it
    shop.instances.delete("acme-main")
    shop.webhooks.run(once=True)
    data = {json.loads(m.body)["type"]: json.loads(m.body)["data"] for m in receiver.received}
    created = data["INSTANCE_CREATED"]
    assert created["instance"]["slug"] == "acme-prod"
    assert created["instance"]["deployment_zone"] == "eu"
    updated = data["INSTANCE_UPDATED"]
    assert (updated["instance"], updated["previous_slug"]) == ("acme-main", "acme-prod")
    assert updated["changes"]["license_end"] == {"from": None, "to": "2027-01-31"}
    assert updated["customer"] == "acme" and updated["license"] == "pro"
    reached = data["INSTANCE_ENTITLEMENT_USAGE_REACHED"]
    assert reached["instance"] == "acme-main" and reached["entitlement"] == "seats"
    assert (reached["value"], reached["threshold"]) == (10, 10)
    assert reached["customer"] == "acme" and reached["aggregation_method"] == "MAX"
    deleted = data["INSTANCE_DELETED"]
    assert deleted["instance"] == "acme-main" and deleted["customer"] == "acme"
    assert deleted["license"] == "pro"


# --- retries ------------------------------------------------------------------------------------
def test_a_failing_receiver_is_retried_on_the_schedule_with_the_same_webhook_id(
        shop, receiver, clock):
    receiver.on("/hook", status=500, body=b"down for maintenance")
    shop.webhooks.add(receiver.url())
    shop.instances.create("acme", "Production", "acme-prod", "pro")
    shop.webhooks.run(once=True)
    assert len(receiver.received) == 1
    shop.webhooks.run(once=True)  # not due yet: nothing is sent
    assert len(receiver.received) == 1
    delivery = shop.webhooks.deliveries().iloc[0]
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    wait = (delivery.next_attempt_at - clock.now).total_seconds()
    assert 5 <= wait <= 5.5 + 0.01
    # the schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (each stretched by ≤ 10 %)
    for step in (5, 300, 1800, 7200, 18000, 36000, 36000):
        clock.advance(seconds=step * 1.1 + 1)
        shop.webhooks.run(once=True)
    assert len(receiver.received) == 8
    assert len({m.webhook_id for m in receiver.received}) == 1
    delivery = shop.webhooks.deliveries().iloc[0]
    assert (delivery.status, delivery.attempts) == ("failed", 8)
    clock.advance(days=2)
    shop.webhooks.run(once=True)
    assert len(receiver.received) == 8  # failed stays failed …
    attempts = shop.webhooks.attempts(int(delivery.id))
    assert len(attempts) == 8
    assert set(attempts.status_code) == {500}
    assert attempts.response_excerpt.iloc[0] == "down for maintenance"
    receiver.on("/hook", status=204, body=b"")
    shop.webhooks.retry(int(delivery.id))  # … until retried by hand
    shop.webhooks.run(once=True)
    assert len(receiver.received) == 9
    assert shop.webhooks.deliveries().iloc[0].status == "succeeded"


def test_retry_after_is_honoured(shop, receiver, clock):
    receiver.on("/hook", status=429, headers={"Retry-After": "120"})
    shop.webhooks.add(receiver.url())
    shop.instances.create("acme", "Production", "acme-prod", "pro")
    shop.webhooks.run(once=True)
    delivery = shop.webhooks.deliveries().iloc[0]
    assert (delivery.next_attempt_at - clock.now).total_seconds() == pytest.approx(120, abs=1)


def test_410_gone_disables_the_endpoint(shop, receiver):
    receiver.on("/gone", status=410)
    gone = shop.webhooks.add(receiver.url("/gone"))
    shop.webhooks.add(receiver.url("/ok"))
    shop.instances.create("acme", "Production", "acme-prod", "pro")
    shop.webhooks.run(once=True)
    endpoints = shop.webhooks.list().set_index("id")
    assert not endpoints.loc[gone.id, "enabled"]
    assert "410" in endpoints.loc[gone.id, "disabled_reason"]
    shop.instances.update("acme-prod", name="Prod")
    shop.webhooks.run(once=True)
    assert len(receiver.at("/gone")) == 1 and len(receiver.at("/ok")) == 2
    assert shop.webhooks.deliveries(endpoint=gone.id).status.tolist() == ["failed"]
    with pytest.raises(ka.ConflictError):
        shop.webhooks.retry(int(shop.webhooks.deliveries(endpoint=gone.id).id.iloc[0]))


def test_a_timeout_is_recorded_as_a_failed_attempt_and_retried(shop, receiver):
    receiver.on("/slow", delay=1.5)
    shop.webhooks.add(receiver.url("/slow"))
    shop.instances.create("acme", "Production", "acme-prod", "pro")
    shop.webhooks.run(once=True, timeout=0.3, lease=5)
    delivery = shop.webhooks.deliveries().iloc[0]
    assert delivery.status == "pending"
    assert "timed out" in delivery.last_error
    attempt = shop.webhooks.attempts(int(delivery.id)).iloc[0]
    assert pd_isna(attempt.status_code) and 250 <= attempt.duration_ms < 1400


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_a_dead_endpoint_never_delays_a_healthy_one(shop, receiver):
    receiver.on("/dead", delay=6)
    shop.webhooks.add(receiver.url("/dead"))
    shop.webhooks.add(receiver.url("/ok"))
    for n in range(12):
        shop.instances.create("acme", f"I{n}", f"i-{n}", "pro")
    stop = threading.Event()
    relay = threading.Thread(target=shop.webhooks.run,
                             kwargs={"stop": stop, "timeout": 3, "lease": 5,
                                     "max_in_flight": 4})
    relay.start()
    try:
        assert receiver.wait_for(12, "/ok", timeout=10)
    finally:
        stop.set()
        relay.join(10)
    assert not relay.is_alive()
    # every healthy message arrived while the dead endpoint's first attempts were still
    # waiting out their 3 s timeout
    first_dead = min(m.at for m in receiver.at("/dead"))
    assert max(m.at for m in receiver.at("/ok")) < first_dead + 3
    assert len(receiver.at("/dead")) == 4  # its own in-flight limit, nothing more


# --- safety -------------------------------------------------------------------------------------
def test_private_addresses_are_refused_at_delivery_unless_allowed(shop, receiver, clock,
                                                                  monkeypatch):
    monkeypatch.delenv("KAITEN_WEBHOOKS_ALLOW_PRIVATE")
    shop.webhooks.add(receiver.url("/ip"))
    shop.webhooks.add(receiver.url("/name", host="localhost"))
    shop.instances.create("acme", "Production", "acme-prod", "pro")
    shop.webhooks.run(once=True)
    assert receiver.received == []
    deliveries = shop.webhooks.deliveries()
    assert set(deliveries.status) == {"pending"}  # retried on the same schedule
    assert all("loopback" in e and "KAITEN_WEBHOOKS_ALLOW_PRIVATE" in e
               for e in deliveries.last_error)
    attempts = shop.webhooks.attempts(int(deliveries.id.iloc[0]))
    assert len(attempts) == 1 and "refused" in attempts.error.iloc[0]
    monkeypatch.setenv("KAITEN_WEBHOOKS_ALLOW_PRIVATE", "1")
    clock.advance(seconds=10)
    shop.webhooks.run(once=True)
    assert len(receiver.received) == 2
    assert set(shop.webhooks.deliveries().status) == {"succeeded"}


def test_redirects_are_not_followed(shop, receiver):
    receiver.on("/moved", status=307, headers={"Location": receiver.url("/elsewhere")})
    shop.webhooks.add(receiver.url("/moved"))
    shop.instances.create("acme", "Production", "acme-prod", "pro")
    shop.webhooks.run(once=True)
    assert receiver.at("/elsewhere") == []
    delivery = shop.webhooks.deliveries().iloc[0]
    assert (delivery.status, delivery.last_status_code) == ("pending", 307)


# --- secrets, tests, removal --------------------------------------------------------------------
def test_a_rotated_secret_signs_beside_the_new_one_for_24_hours(shop, receiver, clock):
    endpoint = shop.webhooks.add(receiver.url())
    new = shop.webhooks.rotate_secret(endpoint.id)
    assert new != endpoint.secret and new.startswith("whsec_")
    shop.instances.create("acme", "Production", "acme-prod", "pro")
    shop.webhooks.run(once=True)
    message = receiver.received[-1]
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    verified(message, endpoint.secret)
    verified(message, new)
    clock.advance(hours=24, seconds=1)
    shop.instances.update("acme-prod", name="Prod")
    shop.webhooks.run(once=True)
    message = receiver.received[-1]
    assert len(message.headers["webhook-signature"].split(" ")) == 1
    assert message.headers["webhook-signature"] == Webhook(new).sign(
        message.webhook_id, datetime.fromtimestamp(int(message.headers["webhook-timestamp"]),
                                                   UTC), message.body.decode())


def test_send_test_reaches_only_that_endpoint(shop, receiver):
    one = shop.webhooks.add(receiver.url("/one"))
    shop.webhooks.add(receiver.url("/two"))
    event_id = shop.webhooks.send_test(one.id)
    shop.webhooks.run(once=True)
    assert receiver.at("/two") == []
    [message] = receiver.at("/one")
    assert message.webhook_id == event_id
    assert verified(message, one.secret)["type"] == "WEBHOOK_TEST"


def test_remove_deletes_the_endpoint_and_its_deliveries(shop, receiver):
    endpoint = shop.webhooks.add(receiver.url())
    shop.instances.create("acme", "Production", "acme-prod", "pro")
    shop.webhooks.remove(endpoint.id)
    assert shop.webhooks.list().empty and shop.webhooks.deliveries().empty
    shop.webhooks.run(once=True)
    assert receiver.received == []
    assert outbox_ids(shop, "INSTANCE_CREATED")  # the outbox itself is untouched


# --- several relays -----------------------------------------------------------------------------
def test_two_relays_at_once_deliver_each_event_once_postgresql_only(shop, receiver,
                                                                    database_url):
    shop.webhooks.add(receiver.url())
    shop.usage.report_many  # noqa: B018 - the catalogue is ready
    for n in range(60):
        shop.instances.create("acme", f"I{n}", f"i-{n}", "pro")
    second = ka.connect(database_url, clock=shop.db.clock)
    stop = threading.Event()
    relays = [threading.Thread(target=k.webhooks.run,
                               kwargs={"stop": stop, "max_in_flight": 2, "poll_interval": 0.05})
              for k in (shop, second)]
    for relay in relays:
        relay.start()
    try:
        assert receiver.wait_for(60, timeout=20)
        time.sleep(0.5)  # a duplicate would arrive now
    finally:
        stop.set()
        for relay in relays:
            relay.join(10)
        second.close()
    ids = [m.webhook_id for m in receiver.received]
    assert len(ids) == 60 == len(set(ids))
    assert set(shop.webhooks.deliveries(limit=100).status) == {"succeeded"}


def test_a_disabled_endpoint_gets_nothing_until_enabled_and_deliveries_page(shop, receiver):
    endpoint = shop.webhooks.add(receiver.url())
    for n in range(3):
        shop.instances.create("acme", f"I{n}", f"i-{n}", "pro")
    shop.webhooks.disable(endpoint.id, reason="ERP maintenance")
    assert shop.webhooks.get(endpoint.id).disabled_reason == "ERP maintenance"
    shop.instances.create("acme", "While disabled", "while-disabled", "pro")
    assert shop.webhooks.run(once=True).attempted == 0 and receiver.received == []
    ids = list(shop.webhooks.deliveries().id)
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)  # none for the 4th event
    assert list(shop.webhooks.deliveries(limit=2, offset=1).id) == ids[1:]
    with pytest.raises(ka.ValidationError) as info:
        shop.webhooks.deliveries(offset=-1)
    assert info.value.field == "offset"
    shop.webhooks.enable(endpoint.id)
    assert shop.webhooks.run(once=True).succeeded == 3
    slugs = {json.loads(m.body)["data"]["instance"]["slug"] for m in receiver.received}
    assert slugs == {"i-0", "i-1", "i-2"}


def test_a_read_only_handle_refuses_secrets_before_creating_a_key_file(shop, monkeypatch,
                                                                       tmp_path):
    endpoint = shop.webhooks.add("http://127.0.0.1:9/hook")
    monkeypatch.delenv("KAITEN_WEBHOOKS_SECRET_KEY")
    key_file = tmp_path / "webhooks.key"
    monkeypatch.setenv("KAITEN_WEBHOOKS_KEY_FILE", str(key_file))
    reader = shop.read_only()
    before = table_counts(shop)
    with pytest.raises(ka.ReadOnlyError):
        reader.webhooks.add("http://127.0.0.1:9/other")
    with pytest.raises(ka.ReadOnlyError):
        reader.webhooks.rotate_secret(endpoint.id)
    assert not key_file.exists()
    assert table_counts(shop) == before
