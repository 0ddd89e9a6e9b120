"""The webhook operations of the REST API through a real server (``kaiten api`` in a subprocess)
on SQLite and PostgreSQL: every operation × role × customer binding, an endpoint made over
HTTP receiving messages that verify with its secret, deliveries, attempts, retry, paging."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest
from api_support import ROOT, ApiServer, make_keys
from conftest import ENGINES, fresh_database_url
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook
from svix.webhooks import Webhook as SvixWebhook
from webhook_receiver import Receiver

import kaiten_analytics as ka

PROBLEM = "application/problem+json"


@dataclass
class Served:
    server: ApiServer
    kaiten: ka.Kaiten
    keys: dict[str, str]
    receiver: Receiver

    def client(self, key: str | None = "admin"):
        return self.server.client(self.keys[key] if key else None)


@pytest.fixture(scope="module", params=ENGINES)
def served(request, tmp_path_factory):
    url, cleanup = fresh_database_url(request.param, tmp_path_factory.mktemp("api-hooks"))
    env = {"KAITEN_WEBHOOKS_SECRET_KEY": Fernet.generate_key().decode(),
           "KAITEN_WEBHOOKS_ALLOW_PRIVATE": "1"}
    with pytest.MonkeyPatch.context() as patch, Receiver() as receiver:
        for name, value in env.items():  # the in-process relay reads the same key
            patch.setenv(name, value)
        kaiten = ka.connect(url)
        kaiten.customers.create("acme", "Acme Corp")
        keys = make_keys(kaiten)
        server = ApiServer(url, threads=4, env=env).wait()
        try:
            yield Served(server, kaiten, keys, receiver)
        finally:
            server.stop()
            kaiten.close()
            cleanup()


def _problem(response, status: int, name: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].rsplit("/", 1)[-1] == name and body["status"] == status
    return body


def verified(message, *secrets: str) -> dict:
    """The body, verified with each secret by both libraries (each raises if it fails)."""
    body = None
    for secret in secrets:
        SvixWebhook(secret).verify(message.body, message.headers)
        body = Webhook(secret).verify(message.body, message.headers)
    return body


# --- every operation × role × binding -----------------------------------------------------------
_fresh = itertools.count()


def _new_endpoint(served: Served) -> int:
    return served.kaiten.webhooks.add(f"http://hooks.example/{next(_fresh)}").id


def _queued_delivery(served: Served) -> int:
    endpoint = _new_endpoint(served)
    served.kaiten.webhooks.send_test(endpoint)
    return int(served.kaiten.webhooks.deliveries(endpoint=endpoint).iloc[0]["id"])


# (operationId, success status, request builder)
OPERATIONS = [
    ("listWebhookEndpoints", 200, lambda s: ("GET", "/api/webhook-endpoints", None)),
    ("createWebhookEndpoint", 201, lambda s: ("POST", "/api/webhook-endpoints",
                                              {"url": "https://hooks.example/new"})),
    ("getWebhookEndpoint", 200, lambda s: (
        "GET", f"/api/webhook-endpoints/{_new_endpoint(s)}", None)),
    ("deleteWebhookEndpoint", 204, lambda s: (
        "DELETE", f"/api/webhook-endpoints/{_new_endpoint(s)}", None)),
    ("rotateWebhookSecret", 200, lambda s: (
        "POST", f"/api/webhook-endpoints/{_new_endpoint(s)}/rotate-secret", None)),
    ("enableWebhookEndpoint", 200, lambda s: (
        "POST", f"/api/webhook-endpoints/{_new_endpoint(s)}/enable", None)),
    ("disableWebhookEndpoint", 200, lambda s: (
        "POST", f"/api/webhook-endpoints/{_new_endpoint(s)}/disable", None)),
    ("sendWebhookTest", 202, lambda s: (
        "POST", f"/api/webhook-endpoints/{_new_endpoint(s)}/test", None)),
    ("listWebhookDeliveries", 200, lambda s: ("GET", "/api/webhook-deliveries", None)),
    ("listWebhookAttempts", 200, lambda s: (
        "GET", f"/api/webhook-deliveries/{_queued_delivery(s)}/attempts", None)),
    ("retryWebhookDelivery", 202, lambda s: (
        "POST", f"/api/webhook-deliveries/{_queued_delivery(s)}/retry", None)),
]


def test_only_unbound_admin_keys_manage_webhooks(served):
    """viewer and reporter → 403; a customer-bound key → 403 even as admin (an endpoint
    receives every customer's events); no key → 401; the unbound admin → success."""
    failures = []
    for key_name in [*served.keys, None]:
        with served.client(key_name) as client:
            for operation, success, build in OPERATIONS:
                method, path, body = build(served)
                before = len(served.kaiten.webhooks.list())
                response = client.request(method, path, json=body)
                expected = (401 if key_name is None else
                            success if key_name == "admin" else 403)
                if response.status_code != expected:
                    failures.append((key_name, operation, response.status_code, expected,
                                     response.text[:200]))
                elif expected >= 400:
                    assert response.headers["content-type"] == PROBLEM
                    if operation in ("createWebhookEndpoint", "deleteWebhookEndpoint"):
                        # the refused call wrote nothing (the builder added one endpoint)
                        assert len(served.kaiten.webhooks.list()) == before
    assert failures == []
    with served.client("acme-admin") as client:
        detail = _problem(client.get("/api/webhook-endpoints"), 403, "forbidden")["detail"]
        assert "acme" in detail


# --- the life of an endpoint over HTTP ----------------------------------------------------------
def test_an_endpoint_made_over_http_receives_messages_signed_with_its_secret(served):
    receiver = served.receiver
    with served.client() as client:
        created = client.post("/api/webhook-endpoints", json={
            "url": receiver.url("/life"), "events": ["INSTANCE_CREATED"], "description": "ERP"})
        assert created.status_code == 201, created.text
        endpoint = created.json()
        secret = endpoint.pop("secret")
        assert secret.startswith("whsec_")
        assert created.headers["location"] == f"/api/webhook-endpoints/{endpoint['id']}"
        assert endpoint["events"] == ["INSTANCE_CREATED"] and endpoint["enabled"] is True
        path = f"/api/webhook-endpoints/{endpoint['id']}"
        # the secret is shown once: neither a read nor the list says it again
        assert client.get(path).json() == endpoint
        listed = client.get("/api/webhook-endpoints")
        assert endpoint in listed.json()["items"] and secret not in listed.text

        sent = client.post(f"{path}/test")
        assert sent.status_code == 202
        webhook_id = sent.json()["webhook_id"]
        assert served.kaiten.webhooks.run(once=True).succeeded >= 1
        [message] = receiver.at("/life")
        assert message.webhook_id == webhook_id
        assert verified(message, secret)["type"] == "WEBHOOK_TEST"

        [delivery] = client.get("/api/webhook-deliveries",
                                params={"endpoint": endpoint["id"]}).json()["items"]
        assert (delivery["event_id"], delivery["status"], delivery["attempts"],
                delivery["last_status_code"]) == (webhook_id, "succeeded", 1, 200)
        assert len(delivery["created_at"]) == 27 and delivery["next_attempt_at"] is None
        [attempt] = client.get(f"/api/webhook-deliveries/{delivery['id']}/attempts"
                               ).json()["items"]
        assert attempt["status_code"] == 200 and attempt["error"] is None
        assert attempt["response_excerpt"] == "ok" and attempt["duration_ms"] >= 0

        rotated = client.post(f"{path}/rotate-secret").json()
        assert rotated["endpoint"] == endpoint["id"]
        assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
        client.post(f"{path}/test")
        served.kaiten.webhooks.run(once=True)
        [_, after] = receiver.at("/life")
        verified(after, rotated["secret"], secret)  # both sign during the overlap

        assert client.delete(path).status_code == 204
        _problem(client.get(path), 404, "not-found")
        assert client.get("/api/webhook-deliveries",
                          params={"endpoint": endpoint["id"]}).json()["items"] == []


def test_failed_deliveries_filter_page_retry_and_disabled_endpoints(served):
    receiver = served.receiver
    receiver.on("/down", status=503, body=b"busy")
    with served.client() as client:
        endpoint = client.post("/api/webhook-endpoints",
                               json={"url": receiver.url("/down")}).json()
        path = f"/api/webhook-endpoints/{endpoint['id']}"
        ids = [client.post(f"{path}/test").json()["webhook_id"] for _ in range(3)]
        served.kaiten.webhooks.run(once=True)
        assert len(receiver.at("/down")) == 3

        query = {"endpoint": endpoint["id"], "status": "pending"}
        page = client.get("/api/webhook-deliveries", params=query).json()
        assert [d["event_id"] for d in page["items"]] == ids[::-1]  # newest first
        assert {(d["attempts"], d["last_status_code"], d["last_error"])
                for d in page["items"]} == {(1, 503, "HTTP 503")}
        assert all(d["next_attempt_at"] > d["updated_at"] for d in page["items"])
        second = client.get("/api/webhook-deliveries",
                            params={**query, "limit": 1, "offset": 1}).json()
        assert (second["limit"], second["offset"]) == (1, 1)
        assert [d["event_id"] for d in second["items"]] == [ids[1]]
        assert client.get("/api/webhook-deliveries",
                          params={**query, "status": "succeeded"}).json()["items"] == []
        delivery = page["items"][0]["id"]
        [attempt] = client.get(f"/api/webhook-deliveries/{delivery}/attempts").json()["items"]
        assert (attempt["status_code"], attempt["response_excerpt"]) == (503, "busy")

        # retry: due now, so the next pass tries it again (the others wait for 5 s)
        receiver.on("/down", status=204, body=b"")
        retried = client.post(f"/api/webhook-deliveries/{delivery}/retry")
        assert retried.status_code == 202
        assert retried.json() == {"delivery": delivery, "status": "pending"}
        served.kaiten.webhooks.run(once=True)
        assert [m.webhook_id for m in receiver.at("/down")][3:] == [ids[-1]]
        attempts = client.get(f"/api/webhook-deliveries/{delivery}/attempts").json()["items"]
        assert [a["status_code"] for a in attempts] == [503, 204]

        disabled = client.post(f"{path}/disable", json={"reason": "ERP maintenance"}).json()
        assert (disabled["enabled"], disabled["disabled_reason"]) == (False, "ERP maintenance")
        body = _problem(client.post(f"/api/webhook-deliveries/{delivery}/retry"), 409,
                        "conflict")
        assert "disabled" in body["detail"]
        enabled = client.post(f"{path}/enable").json()
        assert (enabled["enabled"], enabled["disabled_reason"]) == (True, None)
        assert client.post(f"/api/webhook-deliveries/{delivery}/retry").status_code == 202


def test_refusals_are_problem_documents_naming_the_field(served):
    with served.client() as client:
        for body, field in (({"url": "ftp://hooks.example/x"}, "url"),
                            ({"url": "http:///nohost"}, "url"),
                            ({"url": "https://ok.example", "events": ["NOPE"]}, "events[0]"),
                            ({"url": "https://ok.example", "events": []}, "events"),
                            ({"url": "https://ok.example", "secret": "mine"}, "secret")):
            before = len(served.kaiten.webhooks.list())
            assert _problem(client.post("/api/webhook-endpoints", json=body), 422,
                            "validation-error")["field"] == field
            assert len(served.kaiten.webhooks.list()) == before
        body = _problem(client.get("/api/webhook-endpoints/999999"), 404, "not-found")
        assert body["detail"] == "no webhook endpoint 999999"
        _problem(client.post("/api/webhook-endpoints/999999/test"), 404, "not-found")
        _problem(client.get("/api/webhook-deliveries/999999/attempts"), 404, "not-found")
        _problem(client.post("/api/webhook-deliveries/999999/retry"), 404, "not-found")
        _problem(client.get("/api/webhook-endpoints/0"), 422, "validation-error")
        _problem(client.get(f"/api/webhook-endpoints/{2**31}"), 422, "validation-error")
        for params, field in (({"status": "lost"}, "status"), ({"limit": 500}, "limit"),
                              ({"offset": -1}, "offset"), ({"endpoint": "x"}, "endpoint")):
            assert _problem(client.get("/api/webhook-deliveries", params=params), 422,
                            "validation-error")["field"] == field


def test_openapi_declares_the_webhook_operations(served):
    with served.server.client() as client:
        schema = client.get("/openapi.json").json()
    operations = {op["operationId"]: op for item in schema["paths"].values()
                  for op in item.values()}
    assert {name for name, *_ in OPERATIONS} <= set(operations)
    for name, *_ in OPERATIONS:
        op = operations[name]
        assert op["security"] == [{"bearer": []}] and op["tags"] == ["webhooks"], name
        assert {"401", "403"} <= set(op["responses"]), name
        for status, response in op["responses"].items():
            if status[0] in "45":
                assert list(response["content"]) == [PROBLEM], (name, status)
    created = operations["createWebhookEndpoint"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith(
        "/WebhookEndpointCreated")
    events = schema["components"]["schemas"]["WebhookEndpointCreate"]["properties"]["events"]
    [listed] = [branch for branch in events["anyOf"] if branch.get("type") == "array"]
    assert listed["items"]["enum"] == list(ka.WEBHOOK_EVENT_TYPES)


# --- the README stays true ---------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("curl") is None, reason="the examples need curl")
def test_the_readmes_webhook_curl_examples_work_as_written(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Webhooks")
    section = text[start:text.index("\n## ", start + 1)]
    commands = [c.strip() for b in re.findall(r"```bash\n(.*?)```", section, re.S)
                for c in b.replace("\\\n", "").splitlines() if c.startswith("curl ")]
    assert len(commands) >= 3 and any("/api/webhook-endpoints" in c for c in commands)
    url = f"sqlite:///{tmp_path / 'kaiten.db'}"
    env = {"KAITEN_WEBHOOKS_SECRET_KEY": Fernet.generate_key().decode()}
    monkeypatch.setenv("KAITEN_WEBHOOKS_SECRET_KEY", env["KAITEN_WEBHOOKS_SECRET_KEY"])
    kaiten = ka.connect(url)
    key = kaiten.keys.create("readme", "admin").secret
    try:
        with ApiServer(url, env=env) as server:
            for command in commands:
                run = command.replace("http://127.0.0.1:8000", server.base_url).replace(
                    "curl ", "curl -w '\\n%{http_code}' ", 1)
                done = subprocess.run(["bash", "-c", run], env={**os.environ, "KEY": key},
                                      capture_output=True, text=True, timeout=60)
                body, _, status = done.stdout.rpartition("\n")
                assert done.returncode == 0 and status.startswith("2"), (command, done.stdout)
                json.loads(body)
        assert len(kaiten.webhooks.list()) == 1
        assert len(kaiten.webhooks.deliveries()) == 1  # the test message
    finally:
        kaiten.close()
