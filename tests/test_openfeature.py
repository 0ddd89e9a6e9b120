"""The OpenFeature provider, driven through the SDK's own client."""

from __future__ import annotations

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from kaiten_analytics.db.models import feature_flags
from kaiten_analytics.openfeature import KaitenProvider

ACME = EvaluationContext(targeting_key="acme-prod")
GLOBEX = EvaluationContext(targeting_key="globex-dev")


@pytest.fixture
def client(catalogue):
    """An OpenFeature client whose default provider is Kaiten, with one flag of each type."""
    pro = {"attribute": "license.slug", "operator": "equals", "value": "pro"}
    catalogue.flags.create("new-billing", "New billing", "boolean", False,
                           rules=[{"conditions": [pro], "value": True}])
    catalogue.flags.create("export-format", "Export format", "string", "csv",
                           rules=[{"conditions": [pro], "value": "parquet"}])
    catalogue.flags.create("max-jobs", "Max jobs", "number", 2,
                           rules=[{"conditions": [pro], "value": 8}])
    catalogue.flags.create("ratio", "Ratio", "number", 0.5)
    catalogue.flags.create("layout", "Layout", "json", {"density": "comfortable"},
                           rules=[{"conditions": [pro], "value": {"density": "compact"}}])
    catalogue.flags.create("everyone", "Everyone", "boolean", False,
                           rules=[{"conditions": [], "percentage": 100, "value": True}])
    catalogue.flags.create("off", "Switched off", "boolean", True, enabled=False)
    api.set_provider(KaitenProvider(catalogue))
    yield api.get_client()
    api.shutdown()


def test_provider_metadata(client):
    assert api.get_provider_metadata().name == "Kaiten Analytics"


def test_values_of_every_type_resolve_for_the_targeted_instance(client):
    assert client.get_boolean_value("new-billing", False, ACME) is True
    assert client.get_string_value("export-format", "x", ACME) == "parquet"
    assert client.get_integer_value("max-jobs", 0, ACME) == 8
    assert client.get_float_value("max-jobs", 0.0, ACME) == 8.0
    assert client.get_float_value("ratio", 0.0, ACME) == 0.5
    assert client.get_object_value("layout", {}, ACME) == {"density": "compact"}
    assert client.get_boolean_value("new-billing", True, GLOBEX) is False
    assert client.get_object_value("layout", {}, GLOBEX) == {"density": "comfortable"}


@pytest.mark.parametrize(("key", "context", "reason", "variant"), [
    ("new-billing", ACME, Reason.TARGETING_MATCH, "rules[0]"),
    ("new-billing", GLOBEX, Reason.DEFAULT, "default"),
    ("everyone", GLOBEX, Reason.SPLIT, "rules[0]"),
    ("off", ACME, Reason.DISABLED, "default"),
])
def test_reasons_and_variants(client, key, context, reason, variant):
    details = client.get_boolean_details(key, False, context)
    assert (details.reason, details.variant, details.error_code) == (reason, variant, None)
    if variant != "default":
        assert details.flag_metadata == {"rule": 0}


def test_disabled_flags_serve_their_own_default(client):
    assert client.get_boolean_value("off", False, ACME) is True


def test_an_unknown_flag_is_flag_not_found(client):
    details = client.get_boolean_details("ghost", False, ACME)
    assert (details.value, details.reason, details.error_code) == (False, Reason.ERROR,
                                                                   ErrorCode.FLAG_NOT_FOUND)
    assert "ghost" in details.error_message


@pytest.mark.parametrize(("resolve", "key", "default"), [
    ("get_string_details", "new-billing", "x"),
    ("get_boolean_details", "export-format", False),
    ("get_integer_details", "ratio", 7),
    ("get_object_details", "max-jobs", {}),
    ("get_float_details", "layout", 1.5),
])
def test_asking_for_another_type_is_type_mismatch(client, resolve, key, default):
    details = getattr(client, resolve)(key, default, ACME)
    assert (details.value, details.reason, details.error_code) == (default, Reason.ERROR,
                                                                   ErrorCode.TYPE_MISMATCH)


def test_the_targeting_key_is_required(client):
    for context in (None, EvaluationContext(attributes={"region": "eu"})):
        details = client.get_boolean_details("new-billing", False, context)
        assert details.error_code == ErrorCode.TARGETING_KEY_MISSING


def test_an_unknown_or_deleted_instance_is_an_invalid_context(client, catalogue):
    details = client.get_boolean_details("new-billing", False,
                                         EvaluationContext(targeting_key="ghost"))
    assert details.error_code == ErrorCode.INVALID_CONTEXT
    catalogue.instances.delete("acme-prod")
    assert client.get_boolean_details("new-billing", False, ACME).error_code == (
        ErrorCode.INVALID_CONTEXT)


def test_a_malformed_stored_rule_is_a_parse_error(client, catalogue):
    with catalogue.db.engine.begin() as connection:
        connection.execute(feature_flags.update().where(feature_flags.c.key == "new-billing")
                           .values(rules=[{"conditions": [], "value": "yes"}]))
    details = client.get_boolean_details("new-billing", False, ACME)
    assert (details.value, details.reason, details.error_code) == (False, Reason.ERROR,
                                                                   ErrorCode.PARSE_ERROR)
    assert "rules[0].value" in details.error_message


def test_the_client_context_and_invocation_context_merge(client):
    client.context = EvaluationContext(targeting_key="globex-dev")
    assert client.get_boolean_value("new-billing", True) is False
    assert client.get_boolean_value("new-billing", False, ACME) is True
