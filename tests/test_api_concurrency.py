"""The API under concurrent clients and a database that goes away, through real processes."""

from __future__ import annotations

import multiprocessing
import time

import httpx
import pytest
import sqlalchemy as sa
from api_support import ApiServer, TcpProxy, report_over_http

import kaiten_analytics as ka

CLIENTS = 8
REPORTS_EACH = 15
THRESHOLD = 100  # < 8 × 15: some reports must be rejected


@pytest.mark.slow
def test_eight_client_processes_over_http_lose_and_double_count_nothing(database_url):
    kaiten = ka.connect(database_url)
    try:
        kaiten.customers.create("acme", "Acme")
        kaiten.entitlements.create("calls", "Calls", aggregation_method="SUM")
        kaiten.entitlements.create("keyed", "Keyed", aggregation_method="SUM")
        kaiten.licenses.create("tier", "Tier", {"calls": THRESHOLD, "keyed": 1000})
        kaiten.instances.create("acme", "Busy", "busy", "tier")
        secret = kaiten.keys.create("reporter", "reporter").secret
        with ApiServer(database_url, threads=CLIENTS) as server:
            context = multiprocessing.get_context("spawn")
            barrier, results = context.Barrier(CLIENTS), context.Queue()
            clients = [context.Process(target=report_over_http, args=(
                server.base_url, secret, "busy", "calls", REPORTS_EACH, "keyed", barrier,
                results)) for _ in range(CLIENTS)]
            for process in clients:
                process.start()
            answers = [results.get(timeout=180) for _ in clients]
            for process in clients:
                process.join(timeout=30)
                assert process.exitcode == 0
        statuses = [status for answer in answers for status in answer[0]]
        assert len(statuses) == CLIENTS * REPORTS_EACH
        assert set(statuses) <= {200, 409}
        accepted, rejected = statuses.count(200), statuses.count(409)
        assert accepted == THRESHOLD and accepted + rejected == CLIENTS * REPORTS_EACH
        # the stored aggregate equals a replay of the audit trail
        usage = kaiten.usage.summary("busy").set_index("entitlement")
        trail = kaiten.audit.events("busy", entitlement="calls", limit=200)
        replayed = sum(event["value"] for event in trail["payload"]
                       if event.get("reason") is None)
        assert usage.loc["calls", "usage"] == replayed == THRESHOLD
        assert (trail["status"] == "REJECTED").sum() == rejected
        from kaiten_analytics.db.models import outbox_events

        with kaiten.db.engine.connect() as connection:
            reached = connection.execute(sa.select(sa.func.count()).where(
                outbox_events.c.event_type == "INSTANCE_ENTITLEMENT_USAGE_REACHED")).scalar()
        assert reached == 1
        # one idempotency key sent from all 8 processes at once: one effect, one answer
        assert {answer[1] for answer in answers} == {200}
        assert len({answer[2] for answer in answers}) == 1
        assert [answer[3] for answer in answers].count("true") == CLIENTS - 1
        assert (usage.loc["keyed", "usage"], usage.loc["keyed", "event_count"]) == (1, 1)
    finally:
        kaiten.close()


def _wait_for(client: httpx.Client, path: str, status: int, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/unavailable")
    assert response.headers["retry-after"]


@pytest.mark.slow
def test_a_database_that_goes_away_is_503_and_the_server_recovers_postgresql_only(
        database_url):
    kaiten = ka.connect(database_url)
    kaiten.customers.create("acme", "Acme")
    secret = kaiten.keys.create("viewer", "viewer").secret
    direct = sa.make_url(database_url)
    proxy = TcpProxy((direct.host or "127.0.0.1", direct.port or 5432)).start()
    proxied = direct.set(port=proxy.port).render_as_string(hide_password=False)
    try:
        with ApiServer(proxied, threads=4) as server, server.client(secret) as client:
            assert client.get("/api/instances").status_code == 200
            proxy.stop()  # the database is gone for the server
            _assert_unavailable(_wait_for(client, "/api/health", 503))
            _assert_unavailable(client.get("/api/instances"))
            proxy.start()
            assert _wait_for(client, "/api/health", 200).json() == {"status": "ok"}
            assert _wait_for(client, "/api/instances", 200).status_code == 200
    finally:
        proxy.stop()
        kaiten.close()


@pytest.mark.slow
def test_a_database_that_cannot_be_opened_is_503_until_it_can_sqlite_only(tmp_path):
    missing = tmp_path / "not-yet" / "kaiten.db"
    url = f"sqlite:///{missing}"
    with ApiServer(url, threads=2) as server, server.client("ka_whatever") as client:
        _assert_unavailable(client.get("/api/health"))
        _assert_unavailable(client.get("/api/instances"))  # 503, not 401: keys are in it
        missing.parent.mkdir()
        kaiten = ka.connect(url)  # the database is back (created and migrated)
        try:
            secret = kaiten.keys.create("viewer", "viewer").secret
            assert _wait_for(client, "/api/health", 200).json() == {"status": "ok"}
            answer = client.get("/api/instances", headers={"Authorization": f"Bearer {secret}"})
            assert answer.status_code == 200 and answer.json()["total"] == 0
        finally:
            kaiten.close()
