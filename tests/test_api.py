"""The REST API through a real server (``kaiten api`` in a subprocess) with httpx, on SQLite
and PostgreSQL: every endpoint × role × customer binding, problem documents, idempotency,
batches, the OpenAPI document."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pandas as pd
import pytest
from api_support import ApiServer, make_keys, seed
from conftest import ENGINES, fresh_database_url

import kaiten_analytics as ka
from kaiten_analytics.cli import main

PROBLEM = "application/problem+json"


@dataclass
class Served:
    server: ApiServer
    kaiten: ka.Kaiten
    keys: dict[str, str]

    def client(self, key: str | None = "admin"):
        return self.server.client(self.keys[key] if key else None)


@pytest.fixture(scope="module", params=ENGINES)
def served(request, tmp_path_factory):
    url, cleanup = fresh_database_url(request.param, tmp_path_factory.mktemp("api"))
    kaiten = ka.connect(url)
    seed(kaiten)
    keys = make_keys(kaiten)
    server = ApiServer(url, threads=4).wait()
    yield Served(server, kaiten, keys)
    server.stop()
    kaiten.close()
    cleanup()


# --- every endpoint × role × binding --------------------------------------------------------------
_fresh = itertools.count()

# (operation, action it needs, success status, request builder(kaiten, target instance))
ENDPOINTS = [
    ("listInstances", "read", 200, lambda k, s: ("GET", "/api/instances", None)),
    ("createInstance", "write", 201, lambda k, s: (
        "POST", "/api/instances", {"customer": k.instances.get(s).customer,
                                   "name": "New", "slug": f"new-{next(_fresh)}",
                                   "license": "starter"})),
    ("getInstance", "read", 200, lambda k, s: ("GET", f"/api/instances/{s}", None)),
    ("updateInstance", "write", 200, lambda k, s: ("PUT", f"/api/instances/{s}",
                                                    {"description": "changed"})),
    ("deleteInstance", "write", 204, lambda k, s: (
        "DELETE", f"/api/instances/{_doomed(k, s)}", None)),
    ("reportUsage", "report", 200, lambda k, s: (
        "POST", f"/api/instances/{s}/entitlements/seats/usage", {"value": 1})),
    ("reportUsage dry run", "report", 200, lambda k, s: (
        "POST", f"/api/instances/{s}/entitlements/seats/usage?dry_run=true", {"value": 1})),
    ("reportUsageBatch", "report", 200, lambda k, s: (
        "POST", "/api/usage/batch", {"reports": [{"instance": s, "entitlement": "seats",
                                                  "value": 1}]})),
    ("listAuditTrail", "read", 200, lambda k, s: ("GET", f"/api/instances/{s}/audit-trails",
                                                   None)),
    ("listEntitlements", "meter", 200, lambda k, s: (
        "GET", f"/api/instances/{s}/entitlements", None)),
    ("getEntitlement", "meter", 200, lambda k, s: (
        "GET", f"/api/instances/{s}/entitlements/seats", None)),
    ("evaluateFlags", "meter", 200, lambda k, s: ("GET", f"/api/instances/{s}/flags", None)),
    ("evaluateFlag", "meter", 200, lambda k, s: ("GET", f"/api/instances/{s}/flags/new-ui",
                                                  None)),
]
MAY = {"read": {"admin", "viewer"}, "write": {"admin"}, "report": {"admin", "reporter"},
       "meter": {"admin", "viewer", "reporter"}}


def _doomed(kaiten: ka.Kaiten, like: str) -> str:
    """A fresh instance of ``like``'s customer, to be deleted."""
    slug = f"doomed-{next(_fresh)}"
    kaiten.instances.create(kaiten.instances.get(like).customer, "Doomed", slug, "starter")
    return slug


def test_every_endpoint_by_role_and_customer_binding(served):
    failures = []
    for key_name in served.keys:
        bound = key_name.startswith("acme-")
        role = key_name.removeprefix("acme-")
        with served.client(key_name) as client:
            for (operation, action, success, build), target in itertools.product(
                    ENDPOINTS, ("acme-prod", "globex-dev")):
                method, path, body = build(served.kaiten, target)
                response = client.request(method, path, json=body)
                if role not in MAY[action]:
                    expected = 403
                elif bound and target == "globex-dev" and operation != "listInstances":
                    expected = 404  # another customer's instance: as if it did not exist
                else:
                    expected = success
                if response.status_code != expected:
                    failures.append((key_name, operation, target, response.status_code,
                                     expected, response.text[:200]))
                elif expected >= 400:
                    assert response.headers["content-type"] == PROBLEM
    assert failures == []


def test_a_bound_key_lists_and_sees_only_its_customers_instances(served):
    with served.client("acme-viewer") as client:
        slugs = {item["slug"] for item in client.get("/api/instances").json()["items"]}
        assert slugs and all(served.kaiten.instances.get(s).customer == "acme" for s in slugs)
        assert client.get("/api/instances", params={"customer": "globex"}).json()["total"] == 0
        other = client.get("/api/instances/globex-dev").json()
        missing = client.get("/api/instances/no-such-instance").json()
        # the same answer as for an instance that does not exist (its existence is not said)
        assert other["detail"].replace("globex-dev", "X") == missing["detail"].replace(
            "no-such-instance", "X")
    with served.client("admin") as client:
        page = client.get("/api/instances", params={"customer": "globex"}).json()
        assert "globex-dev" in {i["slug"] for i in page["items"]}
        assert {i["customer"] for i in page["items"]} == {"globex"}
    with served.client("acme-admin") as client:
        refused = client.post("/api/instances", json={"customer": "globex", "name": "X",
                                                      "slug": "sneaky", "license": "starter"})
        assert refused.status_code == 404 and refused.json()["field"] == "customer"
        moved = client.put("/api/instances/acme-dev", json={"customer": "globex"})
        assert moved.status_code == 404
    assert served.kaiten.instances.get("acme-dev").customer == "acme"


def test_the_instance_list_pages_with_the_total_on_every_page(served):
    expected = list(served.kaiten.instances.list()["slug"])
    acme = list(served.kaiten.instances.list(customer="acme")["slug"])
    for key, slugs in (("viewer", expected), ("acme-viewer", acme)):
        with served.client(key) as client:
            pages = [client.get("/api/instances", params={"limit": 2, "offset": offset}).json()
                     for offset in range(0, len(slugs) + 2, 2)]
        assert [item["slug"] for page in pages for item in page["items"]] == slugs
        assert {page["total"] for page in pages} == {len(slugs)}
        assert pages[-1]["items"] == [] and pages[-1]["offset"] >= len(slugs)
    with served.client("viewer") as client:
        refused = client.get("/api/instances", params={"limit": ka.PAGE_MAX + 1})
    assert refused.status_code == 422 and refused.json()["field"] == "limit"


def test_missing_unknown_or_revoked_keys_are_401_with_www_authenticate(served):
    revoked = served.kaiten.keys.create("k-revoked", "admin").secret
    served.kaiten.keys.revoke("k-revoked")
    for headers in ({}, {"Authorization": "Bearer ka_not-a-real-key"},
                    {"Authorization": f"Bearer {revoked}"}, {"Authorization": "Basic eDp5"}):
        with served.server.client() as client:
            for operation, _, _, build in ENDPOINTS:
                method, path, body = build(served.kaiten, "acme-prod")
                response = client.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (operation, headers)
                assert response.headers["www-authenticate"] == "Bearer"
                assert response.headers["content-type"] == PROBLEM
                assert response.json()["type"].endswith("/unauthorized")
    with served.server.client() as client:  # the one open door
        assert client.get("/api/health").json() == {"status": "ok"}


def test_a_request_without_a_key_is_401_before_its_body_is_validated(served):
    """The metering routes look the key up in the handler's thread (one pool hop), but a
    missing key is still answered first; a known key's role is checked after the body."""
    path = "/api/instances/acme-prod/entitlements/seats/usage"
    bad = {"value": "many"}
    before = served.kaiten.audit.count("acme-prod")
    with served.server.client() as client:  # no key
        assert client.post(path, json=bad).status_code == 401
        assert client.post("/api/usage/batch", json={"reports": "x"}).status_code == 401
    with served.server.client("ka_not-a-real-key") as client:
        assert client.post(path, json={"value": 1}).status_code == 401
    with served.client("viewer") as client:  # may not report
        assert client.post(path, json={"value": 1}).status_code == 403
        refused = client.post(path, json=bad)
        assert refused.status_code == 422 and refused.json()["field"] == "value"
    assert served.kaiten.audit.count("acme-prod") == before  # none of them wrote anything


def test_last_used_is_shown_and_secrets_never_are(served):
    with served.client("viewer") as client:
        assert client.get("/api/instances").status_code == 200
    keys = served.kaiten.keys.list().set_index("name")
    assert pd.notna(keys.loc["k-viewer", "last_used_at"])
    listed = keys.to_string()
    assert all(secret not in listed for secret in served.keys.values())


# --- problem documents -------------------------------------------------------------------------
def _problem(response, status: int, name: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].rsplit("/", 1)[-1] == name
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_errors_are_problem_documents_with_the_librarys_message_and_field(served):
    with served.client() as client:
        body = _problem(client.post("/api/instances", json={
            "customer": "acme", "name": "X", "slug": "acme-prod", "license": "starter"}),
            409, "conflict")
        assert body["field"] == "slug"
        body = _problem(client.post("/api/instances", json={
            "customer": "acme", "name": "X", "slug": "dated", "license": "starter",
            "license_start": "2026-05-01", "license_end": "2026-04-01"}), 422,
            "validation-error")
        assert body["field"] == "license_end"
        body = _problem(client.get("/api/instances/nobody"), 404, "not-found")
        assert body["detail"] == "instance 'nobody' does not exist"
        body = _problem(client.post("/api/instances/acme-prod/entitlements/sso/usage",
                                    json={"value": 1}), 422, "validation-error")
        assert body["field"] == "entitlement" and "BOOLEAN" in body["detail"]
        body = _problem(client.post("/api/instances/acme-prod/entitlements/seats/usage",
                                    json={"value": "many"}), 422, "validation-error")
        assert body["field"] == "value"
        _problem(client.post("/api/instances/acme-prod/entitlements/seats/usage",
                             content=b'{"value": ', headers={"content-type": "application/json"}),
                 400, "bad-request")
        wrong_type = client.post("/api/instances/acme-prod/entitlements/seats/usage",
                                 content=b"value=1", headers={"content-type": "text/plain"})
        assert wrong_type.status_code in (400, 415, 422)
        assert wrong_type.headers["content-type"] == PROBLEM
        body = _problem(client.get("/api/instances", params={"limit": 500}), 422,
                        "validation-error")
        assert body["field"] == "limit"
        _problem(client.get("/api/no/such/route"), 404, "not-found")
        response = client.delete("/api/health")
        _problem(response, 405, "method-not-allowed")
        assert "GET" in response.headers["allow"]
        with served.client("viewer") as viewer:
            _problem(viewer.delete("/api/instances/acme-prod"), 403, "forbidden")


def test_a_rejected_report_is_409_usage_rejected_with_the_report(served):
    served.kaiten.instances.create("acme", "Limited", "limited", "starter")
    with served.client("reporter") as client:
        accepted = client.post("/api/instances/limited/entitlements/api-calls/usage",
                               json={"value": 999})
        assert accepted.status_code == 200
        assert accepted.json()["usage"] == {"type": "number", "value": 999, "event_count": 1}
        body = _problem(client.post("/api/instances/limited/entitlements/api-calls/usage",
                                    json={"value": 2}), 409, "usage-rejected")
    assert body["outcome"] == "REJECTED" and body["threshold"] == 1000
    assert body["usage"] == {"type": "number", "value": 999, "event_count": 1}
    assert body["reason"] == body["detail"] and body["event_id"]
    trail = served.kaiten.audit.trail("limited", limit=1)
    assert trail.iloc[0]["id"] == body["event_id"] and trail.iloc[0]["status"] == "REJECTED"


def test_a_dry_run_answers_what_the_report_would_get_and_writes_nothing(served):
    served.kaiten.instances.create("acme", "Dry", "dry", "starter")
    url = "/api/instances/dry/entitlements/api-calls/usage"
    with served.client("reporter") as client:
        client.post(url, json={"value": 400})
        before = served.kaiten.audit.trail("dry", limit=50)
        dry = client.post(url, params={"dry_run": "true"}, json={"value": 500})
        assert dry.status_code == 200 and dry.json()["event_id"] is None
        assert dry.json()["usage"] == {"type": "number", "value": 900, "event_count": 2}
        over = client.post(url, params={"dry_run": "true"}, json={"value": 601})
        body = _problem(over, 409, "usage-rejected")
        assert body["event_id"] is None and body["reason"] == body["detail"]
        assert body["usage"] == {"type": "number", "value": 400, "event_count": 1}
        # nothing was written: the same trail and usage as before both dry runs
        assert served.kaiten.audit.trail("dry", limit=50).equals(before)
        usage = served.kaiten.usage.summary("dry").set_index("entitlement").loc["api-calls"]
        assert (usage["usage"], usage["event_count"]) == (400, 1)
        # the real report then gets what the dry run said
        real = client.post(url, json={"value": 500}).json()
        assert {k: v for k, v in real.items() if k != "event_id"} == {
            k: v for k, v in dry.json().items() if k != "event_id"}
        keyed = client.post(url, params={"dry_run": "true"}, json={"value": 1},
                            headers={"Idempotency-Key": "dry-1"})
        assert _problem(keyed, 422, "validation-error")["field"] == "Idempotency-Key"
        assert client.post(url, params={"dry_run": "maybe"}, json={"value": 1}
                           ).status_code == 422
    assert served.kaiten.audit.count("dry").count == 2


def test_idempotency_key_replays_the_first_response_and_refuses_another_body(served):
    served.kaiten.instances.create("acme", "Keyed", "keyed", "starter")
    url = "/api/instances/keyed/entitlements/api-calls/usage"
    with served.client("reporter") as client:
        first = client.post(url, json={"value": 600}, headers={"Idempotency-Key": "key-1"})
        again = client.post(url, json={"value": 600}, headers={"Idempotency-Key": "key-1"})
        assert first.status_code == again.status_code == 200
        assert "idempotent-replayed" not in first.headers
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        _problem(client.post(url, json={"value": 7}, headers={"Idempotency-Key": "key-1"}),
                 422, "idempotency-key-reused")
        # a rejected report replays as the same 409
        rejected = client.post(url, json={"value": 900}, headers={"Idempotency-Key": "key-2"})
        replay = client.post(url, json={"value": 900}, headers={"Idempotency-Key": "key-2"})
        assert rejected.status_code == replay.status_code == 409
        assert replay.json() == rejected.json()
        assert replay.headers["idempotent-replayed"] == "true"
    assert served.kaiten.audit.count("keyed").count == 2  # one accepted, one rejected
    usage = served.kaiten.usage.summary("keyed").set_index("entitlement").loc["api-calls"]
    assert (usage["usage"], usage["event_count"]) == (600, 1)


def test_a_batch_applies_in_order_in_one_transaction(served):
    served.kaiten.instances.create("acme", "Batch", "batched", "starter")
    with served.client("reporter") as client:
        response = client.post("/api/usage/batch", json={"reports": [
            {"instance": "batched", "entitlement": "api-calls", "value": 600},
            {"instance": "batched", "entitlement": "api-calls", "value": 600},
            {"instance": "batched", "entitlement": "seats", "value": 3,
             "idempotency_key": "batch-seats"},
        ]})
        assert response.status_code == 200
        results = response.json()["results"]
        assert [r["status"] for r in results] == ["ACCEPTED", "REJECTED", "ACCEPTED"]
        assert [r["instance"] for r in results] == ["batched"] * 3
        before = served.kaiten.audit.count("batched").count
        refused = _problem(client.post("/api/usage/batch", json={"reports": [
            {"instance": "batched", "entitlement": "seats", "value": 1},
            {"instance": "nowhere", "entitlement": "seats", "value": 1},
        ]}), 404, "not-found")
        assert refused["field"] == "reports[1].instance"
        assert served.kaiten.audit.count("batched").count == before  # nothing written
        refused = _problem(client.post("/api/usage/batch", json={"reports": [
            {"instance": "batched", "entitlement": "seats", "value": "x"}]}), 422,
            "validation-error")
        assert refused["field"] == "reports[0].value"
        _problem(client.post("/api/usage/batch", json={"reports": []}), 422,
                 "validation-error")
        too_many = [{"instance": "batched", "entitlement": "seats", "value": 1}] * 101
        _problem(client.post("/api/usage/batch", json={"reports": too_many}), 422,
                 "validation-error")
    with served.client("acme-reporter") as bound:
        refused = _problem(bound.post("/api/usage/batch", json={"reports": [
            {"instance": "batched", "entitlement": "seats", "value": 1},
            {"instance": "globex-dev", "entitlement": "seats", "value": 1}]}), 404,
            "not-found")
        assert refused["field"] == "reports[1].instance"


def test_reads_of_entitlements_flags_and_the_audit_trail(served):
    served.kaiten.instances.create("acme", "Reads", "reads", "pro")
    with served.client("admin") as client:
        client.post("/api/instances/reads/entitlements/seats/usage", json={"value": 12})
        value = client.get("/api/instances/reads/entitlements/seats").json()
        assert value == {"entitlement": "seats", "type": "NUMBER", "value": 50,
                         "usage": {"type": "number", "value": 12, "event_count": 1}}
        items = client.get("/api/instances/reads/entitlements").json()["items"]
        assert [i["entitlement"] for i in items] == ["api-calls", "seats", "sso"]
        assert items[1]["usage"] == 12 and items[0]["granted"] is None
        assert items[2]["usage"] is None and items[2]["granted"] is True
        trail = client.get("/api/instances/reads/audit-trails").json()
        assert [e["event_name"] for e in trail["items"]] == [ka.EVENT_NAMES[0],
                                                              ka.EVENT_NAMES[1]]
        stamp = trail["items"][0]["created_at"]
        assert len(stamp) == 27 and stamp.endswith("Z")  # 2026-03-20T12:00:00.000000Z
        only_reads = client.get("/api/instances/reads/audit-trails",
                                params={"event_name": ka.EVENT_NAMES[0], "limit": 1,
                                        "after": "2000-01-01T00:00:00Z"}).json()
        assert [e["event_name"] for e in only_reads["items"]] == [ka.EVENT_NAMES[0]]
        assert client.get("/api/instances/reads/audit-trails",
                          params={"before": "2000-01-01T00:00:00+00:00"}).json()["items"] == []
        assert client.get("/api/instances/reads/flags/new-ui").json() == {
            "key": "new-ui", "value": True, "reason": "TARGETING_MATCH", "rule": 0}
        flags = client.get("/api/instances/reads/flags").json()["items"]
        assert [f["key"] for f in flags] == ["new-ui"]
        created = client.post("/api/instances", json={
            "customer": "globex", "name": "Made", "slug": "made", "license": "pro",
            "metadata": {"tier": 2}, "license_start": "2026-01-01"})
        assert created.status_code == 201 and created.headers["location"] == "/api/instances/made"
        changed = client.put("/api/instances/made", json={"slug": "renamed",
                                                          "license_start": None}).json()
        assert (changed["slug"], changed["license_start"], changed["metadata"]) == (
            "renamed", None, {"tier": 2})
        assert client.delete("/api/instances/renamed").status_code == 204
        assert client.get("/api/instances/renamed").status_code == 404


# --- the contract --------------------------------------------------------------------------------
def test_openapi_declares_operations_problems_and_bearer_security(served):
    with served.server.client() as client:
        schema = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    operations = {op["operationId"]: (method, path, op)
                  for path, item in schema["paths"].items() for method, op in item.items()}
    assert {name.split()[0] for name, *_ in ENDPOINTS} | {"health"} <= set(operations)
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for name, (_method, path, op) in operations.items():
        for status, response in op["responses"].items():
            if status[0] in "45":
                assert list(response.get("content", {})) == [PROBLEM], (name, status)
        if path != "/api/health" and path.startswith("/api/"):
            assert op.get("security") == [{"bearer": []}], name
            assert "401" in op["responses"] and "403" in op["responses"], name
    assert operations["reportUsage"][2]["responses"]["409"]["content"][PROBLEM]["schema"][
        "$ref"].endswith("/UsageRejected")


def test_kaiten_keys_cli_prints_the_key_alone_and_lists_without_secrets(database_url, capsys):
    def kaiten(*args: str) -> tuple[int, str]:
        status = main([*args, "--url", database_url])
        return status, capsys.readouterr().out

    kaiten("db", "upgrade")
    handle = ka.connect(database_url)
    try:
        handle.customers.create("acme", "Acme")
        status, out = kaiten("keys", "create", "ci-bot", "--role", "reporter",
                             "--customer", "acme")
        secret = out.strip()
        assert status == 0 and out == secret + "\n" and secret.startswith("ka_")
        assert len(secret) >= 3 + 22  # at least 128 bits of URL-safe base64
        key = handle.keys.authenticate(secret)
        assert (key.name, key.role, key.customer) == ("ci-bot", "reporter", "acme")
        status, out = kaiten("keys", "list")
        assert "ci-bot" in out and secret not in out
        assert kaiten("keys", "revoke", "ci-bot")[0] == 0
        with pytest.raises(ka.NotFoundError):
            handle.keys.authenticate(secret)
        assert kaiten("keys", "create", "other", "--role", "viewer", "--customer",
                      "nobody")[0] == 2
        with pytest.raises(SystemExit):
            kaiten("keys", "create", "bad", "--role", "root")
    finally:
        handle.close()
