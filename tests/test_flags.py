"""Feature flags through the public API, on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import table_counts

import kaiten_analytics as ka
from kaiten_analytics.db.models import feature_flags, outbox_events

REGION_EU = {"attribute": "instance.metadata.region", "operator": "equals", "value": "eu"}
PRO_OR_ENTERPRISE = {"attribute": "license.slug", "operator": "in",
                     "value": ["pro", "enterprise"]}


def outbox(kaiten, event_type: str | None = None) -> list[sa.Row]:
    query = sa.select(outbox_events).where(outbox_events.c.aggregate_type == "feature_flag")
    if event_type:
        query = query.where(outbox_events.c.event_type == event_type)
    with kaiten.db.engine.connect() as connection:
        return connection.execute(query.order_by(outbox_events.c.id)).all()


def store_rules_directly(kaiten, key: str, rules) -> None:
    """Write rules bypassing validation, as an older version (or a hand edit) could have."""
    with kaiten.db.engine.begin() as connection:
        connection.execute(feature_flags.update().where(feature_flags.c.key == key)
                           .values(rules=rules))


@pytest.fixture
def flagged(catalogue):
    """The catalogue with a boolean flag targeting EU instances, then a pro/enterprise rollout."""
    catalogue.flags.create(
        "new-billing", "New billing page", "boolean", False,
        rules=[{"conditions": [REGION_EU], "value": True, "description": "EU first"},
               {"conditions": [PRO_OR_ENTERPRISE], "percentage": 25, "value": True}],
        description="The redesigned billing page",
    )
    return catalogue


class TestCreate:
    def test_create_returns_and_stores_the_flag(self, catalogue, clock):
        flag = catalogue.flags.create("export-format", "Export format", "STRING", "csv",
                                      rules=[{"conditions": [PRO_OR_ENTERPRISE],
                                              "value": "parquet"}])
        assert (flag.key, flag.type, flag.default_value, flag.enabled) == (
            "export-format", "string", "csv", True)
        assert flag.created_at == clock.now
        assert catalogue.flags.get("export-format") == flag

    def test_create_writes_flag_created_in_the_outbox(self, flagged):
        [event] = outbox(flagged)
        assert (event.event_type, event.aggregate_id) == ("FEATURE_FLAG_CREATED", "new-billing")
        assert event.payload["flag"]["rules"][1]["percentage"] == 25
        assert event.payload["flag"]["default_value"] is False

    def test_rules_may_be_given_as_json_text(self, catalogue):
        flag = catalogue.flags.create("jobs", "Jobs", "number", 2,
                                      rules='[{"conditions": [], "value": 8}]')
        assert flag.rules == [{"conditions": [], "value": 8}]
        assert catalogue.flags.create("none", "None", "number", 2, rules=" ").rules == []

    def test_a_taken_key_is_a_conflict_and_writes_nothing(self, flagged):
        before = table_counts(flagged)
        with pytest.raises(ka.ConflictError) as caught:
            flagged.flags.create("new-billing", "Again", "boolean", True)
        assert caught.value.field == "key"
        assert table_counts(flagged) == before

    @pytest.mark.parametrize(("arguments", "field"), [
        ({"key": "New Billing"}, "key"),
        ({"key": ""}, "key"),
        ({"name": "  "}, "name"),
        ({"type": "colour"}, "type"),
        ({"default_value": "false"}, "default_value"),
        ({"default_value": None}, "default_value"),
        ({"enabled": "yes"}, "enabled"),
        ({"rules": "[{"}, "rules"),
        ({"rules": {"value": True}}, "rules"),
    ])
    def test_bad_fields_are_refused_and_nothing_is_written(self, catalogue, arguments, field):
        before = table_counts(catalogue)
        values = {"key": "f", "name": "F", "type": "boolean", "default_value": False}
        with pytest.raises(ka.ValidationError) as caught:
            catalogue.flags.create(**(values | arguments))
        assert caught.value.field == field
        assert table_counts(catalogue) == before

    @pytest.mark.parametrize(("bad_rule", "field"), [
        ({"conditions": [REGION_EU | {"operator": "eq"}], "value": True},
         "rules[1].conditions[0].operator"),
        ({"conditions": [], "value": "yes"}, "rules[1].value"),
        ({"conditions": [], "percentage": 101, "value": True}, "rules[1].percentage"),
        ({"conditions": [REGION_EU, REGION_EU | {"attribute": "customer.name"}], "value": True},
         "rules[1].conditions[1].attribute"),
        ({"conditions": [REGION_EU | {"operator": "gt", "value": True}], "value": True},
         "rules[1].conditions[0].value"),
    ])
    def test_a_malformed_rule_is_refused_naming_its_index_and_field(self, catalogue, bad_rule,
                                                                    field):
        before = table_counts(catalogue)
        with pytest.raises(ka.ValidationError) as caught:
            catalogue.flags.create("f", "F", "boolean", False,
                                   rules=[{"conditions": [REGION_EU], "value": True}, bad_rule])
        assert caught.value.field == field
        assert str(caught.value).startswith(f"{field}: ")
        assert table_counts(catalogue) == before


class TestUpdateAndDelete:
    def test_update_changes_fields_and_records_them(self, flagged, clock):
        clock.advance(minutes=5)
        flag = flagged.flags.update("new-billing", enabled=False, name="Billing v2")
        assert (flag.enabled, flag.name, flag.updated_at) == (False, "Billing v2", clock.now)
        assert flag.created_at < flag.updated_at
        [event] = outbox(flagged, "FEATURE_FLAG_UPDATED")
        assert event.payload["changes"] == {"name": {"from": "New billing page",
                                                     "to": "Billing v2"},
                                            "enabled": {"from": True, "to": False}}

    def test_an_update_changing_nothing_writes_no_event(self, flagged):
        flag = flagged.flags.get("new-billing")
        assert flagged.flags.update("new-billing", rules=flag.rules, enabled=True) == flag
        assert outbox(flagged, "FEATURE_FLAG_UPDATED") == []

    def test_a_new_type_needs_a_default_and_rules_of_that_type(self, flagged):
        before = table_counts(flagged)
        with pytest.raises(ka.ValidationError) as caught:
            flagged.flags.update("new-billing", type="string")
        assert caught.value.field == "default_value"
        with pytest.raises(ka.ValidationError) as caught:
            flagged.flags.update("new-billing", type="string", default_value="off")
        assert caught.value.field == "rules[0].value"
        assert table_counts(flagged) == before
        flag = flagged.flags.update("new-billing", type="string", default_value="off",
                                    rules=[{"value": "on"}])
        assert (flag.type, flag.default_value, flag.rules) == ("string", "off", [{"value": "on"}])

    def test_a_malformed_rule_in_an_update_writes_nothing(self, flagged):
        before, flag = table_counts(flagged), flagged.flags.get("new-billing")
        with pytest.raises(ka.ValidationError) as caught:
            flagged.flags.update("new-billing", rules=[*flag.rules, {"value": 1}])
        assert caught.value.field == "rules[2].value"
        assert table_counts(flagged) == before
        assert flagged.flags.get("new-billing") == flag

    @pytest.mark.parametrize("field", ["key", "created_at", "id"])
    def test_key_and_bookkeeping_cannot_change(self, flagged, field):
        with pytest.raises(ka.ValidationError) as caught:
            flagged.flags.update("new-billing", **{field: "x"})
        assert caught.value.field == field

    def test_delete_removes_the_flag_and_records_its_last_state(self, flagged):
        flagged.flags.delete("new-billing")
        with pytest.raises(ka.NotFoundError):
            flagged.flags.get("new-billing")
        [event] = outbox(flagged, "FEATURE_FLAG_DELETED")
        assert event.payload["flag"]["name"] == "New billing page"
        assert flagged.flags.list().empty
        flagged.flags.create("new-billing", "Reused key", "boolean", True)  # the key is free

    def test_unknown_flags_are_not_found(self, catalogue):
        for call in (lambda: catalogue.flags.update("ghost", enabled=False),
                     lambda: catalogue.flags.delete("ghost"),
                     lambda: catalogue.flags.get("ghost"),
                     lambda: catalogue.flags.evaluate("ghost", "acme-prod")):
            with pytest.raises(ka.NotFoundError) as caught:
                call()
            assert caught.value.entity == "flag"


class TestEvaluate:
    def test_targeting_by_metadata(self, flagged):
        result = flagged.flags.evaluate("new-billing", "acme-prod")
        assert (result.value, result.reason, result.rule, result.error) == (True,
                                                                            "TARGETING_MATCH",
                                                                            0, None)
        assert result.key == "new-billing"

    def test_a_starter_instance_outside_the_eu_gets_the_default(self, flagged):
        result = flagged.flags.evaluate("new-billing", "globex-dev")
        assert (result.value, result.reason, result.rule) == (False, "DEFAULT", None)

    def test_a_rollout_is_stable_for_an_instance(self, flagged):
        flagged.flags.update("new-billing", rules=[{"percentage": 50, "value": True}])
        answers = {flagged.flags.evaluate("new-billing", "acme-prod") for _ in range(5)}
        assert len(answers) == 1
        assert answers.pop().reason in ("SPLIT", "DEFAULT")

    def test_disabled_flags_serve_their_default(self, flagged):
        flagged.flags.update("new-billing", enabled=False)
        result = flagged.flags.evaluate("new-billing", "acme-prod")
        assert (result.value, result.reason) == (False, "DISABLED")

    def test_zone_and_customer_targeting(self, catalogue):
        catalogue.flags.create("banner", "Banner", "string", "none", rules=[
            {"conditions": [{"attribute": "deployment_zone.slug", "operator": "equals",
                             "value": "eu-prod"}], "value": "eu"},
            {"conditions": [{"attribute": "customer.slug", "operator": "starts_with",
                             "value": "glob"}], "value": "globex"},
        ])
        assert catalogue.flags.evaluate("banner", "acme-prod").value == "eu"
        assert catalogue.flags.evaluate("banner", "globex-dev").value == "globex"

    def test_metadata_changes_are_seen_at_once(self, flagged):
        flagged.instances.update("globex-dev", metadata={"region": "eu"})
        assert flagged.flags.evaluate("new-billing", "globex-dev").value is True

    def test_unknown_and_deleted_instances_are_not_found(self, flagged):
        with pytest.raises(ka.NotFoundError) as caught:
            flagged.flags.evaluate("new-billing", "ghost")
        assert caught.value.entity == "instance"
        flagged.instances.delete("globex-dev")
        with pytest.raises(ka.NotFoundError):
            flagged.flags.evaluate("new-billing", "globex-dev")

    def test_a_malformed_stored_rule_serves_the_default_with_error(self, flagged):
        store_rules_directly(flagged, "new-billing", [
            {"conditions": [REGION_EU | {"operator": "~="}], "value": True}])
        result = flagged.flags.evaluate("new-billing", "acme-prod")
        assert (result.value, result.reason, result.rule) == (False, "ERROR", 0)
        assert "rules[0].conditions[0].operator" in result.error
        row = flagged.flags.evaluate_all("acme-prod").iloc[0]
        assert (row.reason, row.rule) == ("ERROR", 0)
        assert "misconfigured" in row.explanation


class TestReads:
    def test_list_flags(self, flagged):
        flagged.flags.create("jobs", "Jobs", "number", 2, enabled=False)
        flags = flagged.flags.list()
        assert list(flags.columns) == ["key", "name", "type", "enabled", "default_value",
                                       "rules", "rule_count", "description", "created_at",
                                       "updated_at"]
        assert list(flags["key"]) == ["jobs", "new-billing"]
        assert list(flags["rule_count"]) == [0, 2]
        assert list(flags["enabled"]) == [False, True]
        assert flags["default_value"].tolist() == [2, False]
        assert str(flags["created_at"].dt.tz) == "UTC"

    def test_evaluate_all_lists_every_flag_with_value_reason_and_rule(self, flagged):
        flagged.flags.create("jobs", "Jobs", "number", 2, rules=[
            {"conditions": [{"attribute": "instance.metadata.tier", "operator": "gte",
                             "value": 2}], "value": 8}])
        flagged.flags.create("layout", "Layout", "json", {"density": "comfortable"})
        result = flagged.flags.evaluate_all("acme-prod")
        assert list(result.columns) == ["key", "name", "type", "value", "reason", "rule",
                                        "explanation", "error"]
        assert list(result["key"]) == ["jobs", "layout", "new-billing"]
        assert result["value"].tolist() == [8, {"density": "comfortable"}, True]
        assert list(result["reason"]) == ["TARGETING_MATCH", "DEFAULT", "TARGETING_MATCH"]
        assert result["rule"].tolist() == [0, pd.NA, 0]
        assert result["rule"].dtype == "Int64"
        assert result["explanation"][2].startswith("rules[0] (EU first) matched: ")
        assert result["error"].isna().all()

    def test_evaluate_all_of_an_instance_without_flags_is_empty(self, catalogue):
        assert catalogue.flags.evaluate_all("acme-prod").empty

    def test_exposure_evaluates_every_live_instance(self, flagged):
        flagged.instances.create("acme", "Staging", "acme-staging", "starter",
                                 metadata={"region": "us"})
        flagged.instances.create("acme", "Gone", "acme-gone", "pro")
        flagged.instances.delete("acme-gone")
        exposure = flagged.flags.exposure("new-billing")
        assert list(exposure.columns) == ["instance", "customer", "license", "deployment_zone",
                                          "value", "reason", "rule", "explanation"]
        assert list(exposure["instance"]) == ["acme-prod", "acme-staging", "globex-dev"]
        assert exposure["value"].tolist() == [True, False, False]
        for row in exposure.itertuples():
            assert flagged.flags.evaluate("new-billing", row.instance).value == row.value

    def test_exposure_summary_counts_instances_per_value(self, flagged):
        for n in range(8):
            flagged.instances.create("globex", f"Node {n}", f"globex-{n}", "pro")
        summary = flagged.flags.exposure_summary("new-billing")
        assert list(summary.columns) == ["value", "reason", "rule", "instances", "share"]
        assert summary["instances"].sum() == 10
        assert summary["share"].sum() == pytest.approx(100)
        assert summary["instances"].is_monotonic_decreasing
        eu = summary[summary["reason"] == "TARGETING_MATCH"]
        assert (eu["value"].tolist(), eu["instances"].tolist()) == ([True], [1])
        assert set(summary["reason"]) <= {"TARGETING_MATCH", "SPLIT", "DEFAULT"}


def test_demo_flags_target_by_license_zone_metadata_and_rollout(kaiten):
    from kaiten_analytics.demo.catalogue import create_catalogue
    from kaiten_analytics.demo.flags import create_demo_flags

    create_catalogue(kaiten, customers=3, instances=12)
    create_demo_flags(kaiten)
    flags = kaiten.flags.list()
    assert len(flags) >= 5
    attributes = {condition["attribute"] for rules in flags["rules"] for rule in rules
                  for condition in rule.get("conditions", [])}
    assert {"license.slug", "deployment_zone.slug"} <= attributes
    assert any(a.startswith("instance.metadata.") for a in attributes)
    assert any("percentage" in rule for rules in flags["rules"] for rule in rules)
    assert not flags["enabled"].all()  # a kill switch, switched off
    for key in flags["key"]:
        assert "ERROR" not in set(kaiten.flags.exposure(key)["reason"])
