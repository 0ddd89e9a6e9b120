"""Flag rules without a database: operators, rule order, reasons, validation, words."""

from __future__ import annotations

import pytest

from kaiten_analytics.entities import Flag
from kaiten_analytics.errors import ValidationError
from kaiten_analytics.flags.context import MISSING, context_of, resolve
from kaiten_analytics.flags.explain import explain
from kaiten_analytics.flags.operators import OPERATORS
from kaiten_analytics.flags.rules import Evaluator, check_rules, evaluate

CONTEXT = context_of(
    "acme-prod", "acme", "pro", "eu-prod",
    {"region": "eu", "nodes": 8, "ratio": 0.5, "beta": True, "tags": ["gpu", "ssd", 3],
     "version": "4.9.1", "since": "2025-06-01", "owner": None,
     "limits": {"cpu": 16, "deep": {"tier": "gold"}}, "k8s.io": {"zone": "a"}},
)


def when(attribute: str, operator: str, value) -> Flag:
    """A boolean flag, default False, serving True when the one condition holds."""
    rule = {"conditions": [{"attribute": attribute, "operator": operator, "value": value}],
            "value": True}
    return Flag("f", "F", "boolean", False, rules=[rule])


def holds(attribute: str, operator: str, value) -> bool:
    result = evaluate(when(attribute, operator, value), CONTEXT)
    assert result.reason in ("TARGETING_MATCH", "DEFAULT"), result
    return result.value


# (operator, matching value, non-matching value, a value the attribute's kind does not compare to)
CASES = {
    "equals": ("instance.metadata.region", "eu", "us", 1),
    "not_equals": ("instance.metadata.region", "us", "eu", 1),
    "in": ("license.slug", ["pro", "enterprise"], ["starter"], [1, 2]),
    "not_in": ("license.slug", ["starter"], ["pro", "enterprise"], [1, True]),
    "contains": ("instance.metadata.version", ".9.", "5.", 9),
    "starts_with": ("instance.metadata.version", "4.9", "5", "4.9"),
    "gt": ("instance.metadata.nodes", 4, 8, "4"),
    "gte": ("instance.metadata.nodes", 8, 9, "8"),
    "lt": ("instance.metadata.nodes", 9, 8, "9"),
    "lte": ("instance.metadata.nodes", 8, 7.5, "8"),
}


def test_every_operator_has_cases():
    assert set(CASES) == set(OPERATORS)


@pytest.mark.parametrize("operator", OPERATORS)
def test_operator_holds_on_a_matching_attribute(operator):
    attribute, matching, _, _ = CASES[operator]
    assert holds(attribute, operator, matching) is True


@pytest.mark.parametrize("operator", OPERATORS)
def test_operator_fails_on_a_non_matching_attribute(operator):
    attribute, _, other, _ = CASES[operator]
    assert holds(attribute, operator, other) is False


@pytest.mark.parametrize("operator", OPERATORS)
def test_operator_is_false_on_a_missing_attribute(operator):
    _, matching, other, _ = CASES[operator]
    for value in (matching, other):  # the negative operators too
        assert holds("instance.metadata.absent", operator, value) is False
        assert holds("instance.metadata.limits.absent", operator, value) is False


@pytest.mark.parametrize("operator", OPERATORS)
def test_operator_is_false_when_types_do_not_compare(operator):
    attribute, _, _, wrong = CASES[operator]
    if operator == "starts_with":
        attribute = "instance.metadata.nodes"  # a number never starts with anything
    assert holds(attribute, operator, wrong) is False


def test_a_zone_less_instance_has_no_zone_attribute():
    context = context_of("globex-dev", "globex", "starter", None, {})
    assert resolve(context, "deployment_zone.slug") is MISSING
    for operator, value in (("equals", "eu-prod"), ("not_equals", "eu-prod"),
                            ("not_in", ["eu-prod"])):
        assert evaluate(when("deployment_zone.slug", operator, value), context).value is False


@pytest.mark.parametrize(("attribute", "operator", "value", "expected"), [
    ("instance.metadata.beta", "equals", True, True),
    ("instance.metadata.beta", "equals", 1, False),  # a boolean is not the number 1
    ("instance.metadata.nodes", "equals", 8.0, True),  # 8 and 8.0 are the same number
    ("instance.metadata.nodes", "in", [True, 8], True),
    ("instance.metadata.beta", "in", [1], False),
    ("instance.metadata.owner", "equals", None, True),  # set to null is not missing
    ("instance.metadata.owner", "not_equals", "bob", False),  # null does not compare with text
    ("instance.metadata.tags", "contains", "gpu", True),  # lists: an element
    ("instance.metadata.tags", "contains", 3, True),
    ("instance.metadata.tags", "contains", "gp", False),  # not a substring of an element
    ("instance.metadata.region", "contains", "U", False),  # case-sensitive
    ("instance.metadata.limits", "equals", {"cpu": 16, "deep": {"tier": "gold"}}, True),
    ("instance.metadata.tags", "equals", ["gpu", "ssd", 3], True),
    ("instance.metadata.since", "gte", "2025-01-01", True),  # ISO dates order as strings
    ("instance.metadata.version", "gt", 4, False),  # no coercion of "4.9.1" to a number
    ("instance.metadata.ratio", "lt", 1, True),
    ("instance.metadata.tags", "gt", 1, False),
    ("instance.slug", "starts_with", "acme-", True),
    ("customer.slug", "equals", "acme", True),
    ("deployment_zone.slug", "in", ["eu-prod", "us-prod"], True),
])
def test_operator_semantics(attribute, operator, value, expected):
    assert holds(attribute, operator, value) is expected


@pytest.mark.parametrize(("attribute", "expected"), [
    ("instance.metadata.limits.cpu", 16),
    ("instance.metadata.limits.deep.tier", "gold"),
    ("instance.metadata.k8s.io.zone", "a"),  # a key with a dot in it
    ("instance.metadata.region.more", MISSING),  # below a string
    ("instance.metadata.tags.0", MISSING),  # lists are not indexed
])
def test_nested_metadata_keys(attribute, expected):
    assert resolve(CONTEXT, attribute) == expected
    if expected is not MISSING:
        assert holds(attribute, "equals", expected) is True


def test_first_applicable_rule_wins():
    rules = [
        {"conditions": [{"attribute": "license.slug", "operator": "equals", "value": "starter"}],
         "value": "a"},
        {"conditions": [{"attribute": "license.slug", "operator": "equals", "value": "pro"}],
         "value": "b"},
        {"conditions": [], "value": "c"},
    ]
    result = evaluate(Flag("f", "F", "string", "z", rules=rules), CONTEXT)
    assert (result.value, result.reason, result.rule) == ("b", "TARGETING_MATCH", 1)
    result = evaluate(Flag("f", "F", "string", "z", rules=[rules[2], rules[1]]), CONTEXT)
    assert (result.value, result.rule) == ("c", 0)


def test_all_conditions_of_a_rule_must_hold():
    rule = {"conditions": [
        {"attribute": "license.slug", "operator": "equals", "value": "pro"},
        {"attribute": "instance.metadata.region", "operator": "equals", "value": "us"},
    ], "value": True}
    assert evaluate(Flag("f", "F", "boolean", False, rules=[rule]), CONTEXT).reason == "DEFAULT"


@pytest.mark.parametrize("rule", [{"conditions": [], "value": 7}, {"value": 7},
                                  {"conditions": None, "value": 7}])
def test_empty_or_absent_conditions_always_hold(rule):
    result = evaluate(Flag("f", "F", "number", 1, rules=[rule]), CONTEXT)
    assert (result.value, result.reason, result.rule) == (7, "TARGETING_MATCH", 0)


def test_no_rule_applies_serves_the_default():
    result = evaluate(when("license.slug", "equals", "starter"), CONTEXT)
    assert (result.value, result.reason, result.rule, result.error) == (False, "DEFAULT", None,
                                                                       None)
    assert evaluate(Flag("f", "F", "boolean", True), CONTEXT).reason == "DEFAULT"


def test_a_disabled_flag_serves_its_default_whatever_the_rules():
    flag = Flag("f", "F", "boolean", False, enabled=False, rules=[{"value": True}])
    result = evaluate(flag, CONTEXT)
    assert (result.value, result.reason, result.rule) == (False, "DISABLED", None)
    broken = Flag("f", "F", "boolean", False, enabled=False, rules=[{"value": "x"}])
    assert evaluate(broken, CONTEXT).reason == "DISABLED"


@pytest.mark.parametrize(("rules", "index", "field"), [
    ([{"value": True}, {"conditions": [{"attribute": "license.slug", "operator": "eq",
                                        "value": "pro"}], "value": True}],
     1, "rules[1].conditions[0].operator"),
    ([{"value": "yes"}], 0, "rules[0].value"),
    ([{"conditions": [], "percentage": 150, "value": True}], 0, "rules[0].percentage"),
    ([{"conditions": [{"attribute": "customer.name", "operator": "equals", "value": "x"}],
       "value": True}], 0, "rules[0].conditions[0].attribute"),
    ([{"conditions": [{"attribute": "license.slug", "operator": "in", "value": "pro"}],
       "value": True}], 0, "rules[0].conditions[0].value"),
    (["not a rule"], 0, "rules[0]"),
    ({"value": True}, None, "rules"),
])
def test_a_malformed_stored_rule_serves_the_default_with_error(rules, index, field):
    result = evaluate(Flag("f", "F", "boolean", False, rules=rules), CONTEXT)
    assert (result.value, result.reason, result.rule) == (False, "ERROR", index)
    assert result.error.startswith(f"{field}:")


def test_a_malformed_rule_is_an_error_even_after_a_matching_rule():
    # a broken flag is broken for every instance, not only for those that reach the bad rule
    rules = [{"value": True}, {"value": 3}]
    assert evaluate(Flag("f", "F", "boolean", False, rules=rules), CONTEXT).reason == "ERROR"


def test_a_malformed_default_or_type_is_an_error():
    result = evaluate(Flag("f", "F", "boolean", "no"), CONTEXT)
    assert (result.reason, result.rule) == ("ERROR", None)
    assert result.error.startswith("default_value:")
    assert evaluate(Flag("f", "F", "colour", "red"), CONTEXT).error.startswith("type:")


@pytest.mark.parametrize(("type_", "value"), [
    ("boolean", True), ("string", "csv"), ("number", 2.5), ("number", -3),
    ("json", {"a": [1, 2]}), ("json", [1, "x"]),
])
def test_rule_values_of_the_flag_type_are_accepted(type_, value):
    assert check_rules(type_, [{"value": value}]) == [{"value": value}]


@pytest.mark.parametrize(("type_", "value"), [
    ("boolean", 1), ("boolean", "true"), ("string", 5), ("number", True), ("number", "5"),
    ("number", float("nan")), ("json", "text"), ("json", 3), ("string", None),
])
def test_rule_values_of_another_type_are_refused(type_, value):
    with pytest.raises(ValidationError) as caught:
        check_rules(type_, [{"value": value}])
    assert caught.value.field == "rules[0].value"


@pytest.mark.parametrize(("rule", "field", "words"), [
    ({"conditions": [{"attribute": "license.slug", "operator": "like", "value": "p"}],
      "value": True}, "rules[0].conditions[0].operator", "unknown operator 'like'"),
    ({"conditions": [{"attribute": "license.slug", "operator": "equals"}], "value": True},
     "rules[0].conditions[0].value", "is required"),
    ({"conditions": [{"attribute": "license.name", "operator": "equals", "value": "p"}],
      "value": True}, "rules[0].conditions[0].attribute", "not in the context"),
    ({"conditions": [{"attribute": "instance.metadata.", "operator": "equals", "value": "p"}],
      "value": True}, "rules[0].conditions[0].attribute", "not in the context"),
    ({"conditions": [{"attribute": "license.slug", "operator": "in", "value": []}],
      "value": True}, "rules[0].conditions[0].value", "non-empty list"),
    ({"conditions": [{"attribute": "license.slug", "operator": "gt", "value": [1]}],
      "value": True}, "rules[0].conditions[0].value", "number or a string"),
    ({"conditions": [{"attribute": "license.slug", "operator": "starts_with", "value": 1}],
      "value": True}, "rules[0].conditions[0].value", "takes a string"),
    ({"conditions": [{"attribute": "license.slug", "operator": "equals", "value": "p",
                      "negate": True}], "value": True}, "rules[0].conditions[0].negate",
     "unknown key"),
    ({"conditions": ["license.slug == pro"], "value": True}, "rules[0].conditions[0]",
     "must be an object"),
    ({"conditions": {"attribute": "license.slug"}, "value": True}, "rules[0].conditions",
     "list of conditions"),
    ({"conditions": [], "percentage": -1, "value": True}, "rules[0].percentage", "0 to 100"),
    ({"conditions": [], "percentage": "50", "value": True}, "rules[0].percentage", "0 to 100"),
    ({"conditions": [], "percentage": True, "value": True}, "rules[0].percentage", "0 to 100"),
    ({"conditions": []}, "rules[0].value", "is required"),
    ({"condition": [], "value": True}, "rules[0].condition", "unknown key"),
    ({"description": 5, "value": True}, "rules[0].description", "text"),
])
def test_check_rules_names_the_rule_and_field(rule, field, words):
    with pytest.raises(ValidationError) as caught:
        check_rules("boolean", [{"value": False}, rule])
    field = field.replace("rules[0]", "rules[1]")
    assert caught.value.field == field
    assert words in str(caught.value)


def test_check_rules_accepts_percentages_at_the_bounds_and_returns_plain_json():
    rules = ({"conditions": (), "percentage": 0, "value": True},
             {"percentage": 100, "value": True, "description": "everyone"},
             {"percentage": 12.5, "value": True})
    assert check_rules("boolean", rules) == [
        {"conditions": [], "percentage": 0, "value": True},
        {"percentage": 100, "value": True, "description": "everyone"},
        {"percentage": 12.5, "value": True},
    ]
    assert check_rules("boolean", None) == []
    with pytest.raises(ValidationError) as caught:
        check_rules("boolean", {"value": True})
    assert caught.value.field == "rules"


class TestExplanation:
    """Why an instance gets its value, in words."""

    def words(self, flag: Flag, context=CONTEXT) -> str:
        return explain(Evaluator(flag), context)

    def test_match_names_the_rule_and_the_attribute_value(self):
        flag = when("license.slug", "in", ["pro", "enterprise"])
        assert self.words(flag) == ('rules[0] matched: license.slug is one of '
                                    '["pro", "enterprise"] (it is "pro").')

    def test_default_says_why_each_rule_missed(self):
        rules = [
            {"description": "US only", "conditions": [
                {"attribute": "instance.metadata.region", "operator": "equals", "value": "us"}],
             "value": True},
            {"conditions": [{"attribute": "instance.metadata.team", "operator": "equals",
                             "value": "core"}], "value": True},
            {"conditions": [{"attribute": "instance.metadata.nodes", "operator": "gt",
                             "value": "4"}], "value": True},
        ]
        words = self.words(Flag("f", "F", "boolean", False, rules=rules))
        assert words.startswith("No rule applied, so the default value is served: ")
        assert 'rules[0] (US only) needs instance.metadata.region equals "us" but ' \
               'instance.metadata.region is "eu"' in words
        assert "instance.metadata.team is not set" in words
        assert "(a number does not compare with a string)" in words

    def test_rollouts_give_the_bucket(self):
        inside = Flag("f", "F", "boolean", False, rules=[{"percentage": 100, "value": True}])
        assert "rolls out to 100% of instances and this one is in (bucket" in self.words(inside)
        outside = Flag("f", "F", "boolean", False, rules=[{"percentage": 0, "value": True}])
        assert "outside its 0% rollout" in self.words(outside)

    def test_disabled_error_and_no_rules(self):
        assert "disabled" in self.words(Flag("f", "F", "boolean", False, enabled=False))
        assert self.words(Flag("f", "F", "boolean", False)) == (
            "The flag has no rules, so its default value is served.")
        broken = Flag("f", "F", "boolean", False, rules=[{"value": 1}])
        assert "misconfigured" in self.words(broken) and "rules[0].value" in self.words(broken)

    def test_empty_conditions(self):
        flag = Flag("f", "F", "boolean", False, rules=[{"value": True}])
        assert self.words(flag) == ("rules[0] has no conditions, so it applies to every "
                                    "instance.")
