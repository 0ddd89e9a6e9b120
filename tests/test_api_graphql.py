"""The read-only GraphQL endpoint through a real server (``kaiten api`` in a subprocess) with
httpx, on SQLite and PostgreSQL: every role × customer binding, paging of instances and audit
trails against the library's own answers, an unknown instance, refused input, auth errors."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from api_support import ROLES, ApiServer, make_keys, seed
from conftest import ENGINES, fresh_database_url

import kaiten_analytics as ka
from kaiten_analytics.api.graphql_api import schema

PROBLEM = "application/problem+json"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

EVERYTHING = """
query ($slug: String!) {
  instances { total items { slug customer } }
  instance(slug: $slug) {
    slug name customer license deployment_zone license_start metadata created_at
    entitlements { entitlement type granted usage event_count percent_used updated_at }
    audit_trail(limit: 3) { limit offset items { id event_name entitlement status payload
                                                 created_at } }
  }
}
"""


@dataclass
class Served:
    server: ApiServer
    kaiten: ka.Kaiten
    keys: dict[str, str]

    def post(self, key: str | None, query: str, **variables):
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        with self.server.client() as client:
            return client.post("/api/graphql", headers=headers,
                               json={"query": query, "variables": variables})

    def data(self, query: str, key: str = "viewer", **variables) -> dict:
        response = self.post(key, query, **variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


@pytest.fixture(scope="module", params=ENGINES)
def served(request, tmp_path_factory):
    url, cleanup = fresh_database_url(request.param, tmp_path_factory.mktemp("graphql"))
    kaiten = ka.connect(url)
    seed(kaiten)
    for value in (3, 4, 5):
        kaiten.usage.report("acme-prod", "api-calls", value)
        kaiten.usage.report("globex-dev", "api-calls", value)
    kaiten.usage.report("acme-prod", "seats", 7)
    kaiten.usage.get_value("acme-prod", "seats")
    for n in range(4):
        kaiten.instances.create("acme", f"Extra {n}", f"acme-x{n}", "starter")
    keys = make_keys(kaiten)
    server = ApiServer(url, threads=4).wait()
    yield Served(server, kaiten, keys)
    server.stop()
    kaiten.close()
    cleanup()


def _library_entitlements(kaiten: ka.Kaiten, slug: str) -> list[tuple]:
    frame = kaiten.usage.summary(slug)
    return [(row.entitlement, row.event_count) for row in frame.itertuples()]


def test_every_role_and_customer_binding(served):
    every = list(served.kaiten.instances.list()["slug"])
    acme = list(served.kaiten.instances.list(customer="acme")["slug"])
    for name in served.keys:
        bound = name.startswith("acme-")
        role = name.removeprefix("acme-")
        for target in ("acme-prod", "globex-dev"):
            response = served.post(name, EVERYTHING, slug=target)
            if role == "reporter":  # GraphQL reads what only admin and viewer may read
                assert response.status_code == 403, (name, response.text)
                assert response.headers["content-type"] == PROBLEM
                continue
            assert response.status_code == 200, (name, response.text)
            body = response.json()
            assert "errors" not in body, body
            listed = body["data"]["instances"]
            expected = acme if bound else every
            assert [item["slug"] for item in listed["items"]] == expected
            assert listed["total"] == len(expected)
            instance = body["data"]["instance"]
            if bound and target == "globex-dev":
                assert instance is None, name  # another customer's: as if it did not exist
                continue
            library = served.kaiten.instances.get(target)
            assert (instance["slug"], instance["customer"], instance["license"]) == (
                library.slug, library.customer, library.license)
            assert RFC3339.match(instance["created_at"])
            assert [(e["entitlement"], e["event_count"]) for e in instance["entitlements"]] == \
                _library_entitlements(served.kaiten, target)
            trail = served.kaiten.audit.trail(target, limit=3)
            assert [e["id"] for e in instance["audit_trail"]["items"]] == list(trail["id"])
    assert set(ROLES) <= set(served.keys)


def test_instances_page_in_slug_order_with_the_total_on_every_page(served):
    query = "query ($l: Int!, $o: Int!, $c: String) { instances(limit: $l, offset: $o, " \
            "customer: $c) { total limit offset items { slug } } }"
    for key, customer in (("viewer", None), ("viewer", "acme"), ("acme-viewer", None)):
        library = list(served.kaiten.instances.list(customer="acme" if key != "viewer"
                                                    else customer)["slug"])
        pages = [served.data(query, key, l=3, o=o, c=customer)["instances"]
                 for o in range(0, len(library) + 3, 3)]
        assert [item["slug"] for page in pages for item in page["items"]] == library
        assert {page["total"] for page in pages} == {len(library)}
        assert pages[-1]["items"] == [] and pages[-1]["limit"] == 3
    other = served.data(query, "acme-viewer", l=5, o=0, c="globex")["instances"]
    assert other == {"total": 0, "limit": 5, "offset": 0, "items": []}


def test_audit_trail_pages_and_filters_equal_the_librarys(served):
    query = """query ($slug: String!, $name: String, $after: DateTime, $before: DateTime,
                      $limit: Int!, $offset: Int!) {
      instance(slug: $slug) { audit_trail(event_name: $name, after: $after, before: $before,
                                          limit: $limit, offset: $offset) {
        limit offset items { id event_name entitlement status payload created_at } } } }"""
    everything = served.kaiten.audit.trail("acme-prod", limit=ka.PAGE_MAX)
    assert len(everything) >= 5
    middle = everything["created_at"].iloc[2].isoformat()
    cases = [{}, {"limit": 2, "offset": 1}, {"name": ka.USAGE_ACCEPTED},
             {"name": ka.VALUE_GET}, {"after": middle}, {"before": middle},
             {"limit": 2, "offset": 50}]
    for case in cases:
        variables = {"limit": 50, "offset": 0, **case}
        page = served.data(query, "viewer", slug="acme-prod", **variables)
        page = page["instance"]["audit_trail"]
        library = served.kaiten.audit.trail(
            "acme-prod", event_name=case.get("name"), after=case.get("after"),
            before=case.get("before"), limit=variables["limit"], offset=variables["offset"])
        assert [item["id"] for item in page["items"]] == list(library["id"]), case
        assert (page["limit"], page["offset"]) == (variables["limit"], variables["offset"])
        for item, row in zip(page["items"], library.itertuples(), strict=True):
            assert (item["event_name"], item["entitlement"], item["status"], item["payload"]) \
                == (row.event_name, row.entitlement, row.status, row.payload)
            assert RFC3339.match(item["created_at"])
            assert item["created_at"] == row.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_an_unknown_instance_is_null_and_refused_input_names_its_field(served):
    for slug in ("no-such-instance", "Not A Slug!"):  # looked up, found nothing
        assert served.data(f'{{ instance(slug: "{slug}") {{ slug }} }}') == {"instance": None}
    response = served.post("viewer", '{ instance(slug: "") { slug } }')
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["extensions"]["status"] == 422 and error["extensions"]["field"] == "instance"
    assert error["extensions"]["type"].endswith("/validation-error")
    for query, field in (("{ instances(limit: 0) { total } }", "limit"),
                         ("{ instances(limit: 201) { total } }", "limit"),
                         ('{ instance(slug: "acme-prod") { audit_trail(offset: -1) '
                          "{ limit } } }", "offset"),
                         ('{ instance(slug: "acme-prod") { audit_trail(after: "yesterday") '
                          "{ limit } } }", "after"),
                         ('{ instance(slug: "acme-prod") { audit_trail(event_name: "nope") '
                          "{ limit } } }", "event_name")):
        body = served.post("viewer", query).json()
        assert [e["extensions"]["field"] for e in body["errors"]] == [field], (query, body)
        assert body["errors"][0]["message"]  # the library's message
    body = served.post("viewer", '{ instances(customer: "nobody") { total } }').json()
    assert body["errors"][0]["extensions"]["status"] == 404
    # not GraphQL, not in the schema, not a query: GraphQL errors, nothing answered
    for query in ("{ instances { ", "{ nothing }", 'mutation { instance(slug: "x") { slug } }'):
        body = served.post("admin", query).json()
        assert body["data"] is None and body["errors"][0]["message"], query


def test_keys_are_required_and_checked_like_rest(served):
    for headers in ({}, {"Authorization": "Bearer ka_not-a-key"}, {"Authorization": "Basic x"}):
        with served.server.client() as client:
            response = client.post("/api/graphql", headers=headers,
                                   json={"query": "{ instances { total } }"})
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == PROBLEM
    revoked = served.kaiten.keys.create("gql-revoked", "viewer").secret
    served.kaiten.keys.revoke("gql-revoked")
    with served.server.client(revoked) as client:
        assert client.post("/api/graphql", json={"query": "{ instances { total } }"}
                           ).status_code == 401
        assert client.get("/api/graphql/schema").status_code == 401


def test_get_runs_the_same_query_and_the_body_is_checked(served):
    with served.server.client(served.keys["acme-viewer"]) as client:
        query = "query ($s: String!) { instance(slug: $s) { slug } }"
        got = client.get("/api/graphql", params={"query": query,
                                                 "variables": json.dumps({"s": "acme-dev"})})
        assert got.json() == {"data": {"instance": {"slug": "acme-dev"}}}
        bad = client.get("/api/graphql", params={"query": query, "variables": "{not json"})
        assert bad.status_code == 422 and bad.json()["field"] == "variables"
        # GraphQL over HTTP's extensions are taken (a JSON object), an unknown parameter is not
        with_extensions = client.get("/api/graphql", params={
            "query": query, "variables": json.dumps({"s": "acme-dev"}), "extensions": "{}"})
        assert with_extensions.json() == got.json()
        for params, field in (({"extensions": "[1]"}, "extensions"),
                              ({"operation_name": "x"}, "operation_name")):
            refused = client.get("/api/graphql", params={"query": query, **params})
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == field
        malformed = client.post("/api/graphql", content=b"{nope",
                                headers={"Content-Type": "application/json"})
        assert malformed.status_code == 400
        assert malformed.headers["content-type"] == PROBLEM
        for name in ("", "nope"):
            unnamed = client.post("/api/graphql", json={"query": query, "operationName": name})
            assert unnamed.status_code == 422 and unnamed.json()["field"] == "operationName"
        missing = client.post("/api/graphql", json={"variables": {}})
        assert missing.status_code == 422 and missing.json()["field"] == "query"


def test_the_schema_is_served_as_sdl_and_declared_in_openapi(served):
    with served.server.client(served.keys["viewer"]) as client:
        sdl = client.get("/api/graphql/schema")
        operations = {op["operationId"] for path in client.get("/openapi.json").json()[
            "paths"].values() for op in path.values()}
    assert sdl.status_code == 200 and sdl.text == schema.as_str() + "\n"
    assert "audit_trail(event_name: String" in sdl.text
    assert {"graphql", "graphqlGet", "graphqlSchema"} <= operations
