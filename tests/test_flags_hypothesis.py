"""Evaluation of arbitrary JSON rules and contexts never raises (Hypothesis).

Two kinds of input: any JSON at all, and near-misses of well-formed flags (values drawn from a
small pool, so conditions do match, rollouts do split, and one field at a time goes wrong).
"""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from kaiten_analytics.entities import Flag
from kaiten_analytics.errors import ValidationError
from kaiten_analytics.flags.context import ATTRIBUTES
from kaiten_analytics.flags.explain import explain
from kaiten_analytics.flags.operators import OPERATORS
from kaiten_analytics.flags.rules import REASONS, Evaluator, check_rules
from kaiten_analytics.flags.values import FLAG_TYPES

SCALARS = (st.none() | st.booleans() | st.integers() | st.text(max_size=8)
           | st.floats(allow_nan=False, allow_infinity=False))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)

POOL = st.sampled_from(["eu", "us", "pro", "e", "", 0, 1, 8, 2.5, 10**30, True, False, None])
SMALL = st.one_of(POOL, st.lists(POOL, max_size=3), st.dictionaries(st.sampled_from("ab"), POOL),
                  JSON)
KEYS = st.sampled_from(["region", "nodes", "a", "a.b", "b"])
ATTRIBUTE = st.one_of(
    st.sampled_from(ATTRIBUTES),
    st.lists(KEYS, min_size=1, max_size=3).map(lambda path: "instance.metadata." + ".".join(path)),
    st.lists(KEYS, min_size=1, max_size=3).map(lambda path: "instance.metadata." + ".".join(path)),
    st.sampled_from(["instance.metadata.", "customer.name", "slug"]) | JSON,
)
WELL_FORMED = st.fixed_dictionaries({"attribute": ATTRIBUTE, "operator": st.sampled_from(OPERATORS),
                                    "value": SMALL | st.lists(POOL, min_size=1, max_size=3)})
CONDITION = st.one_of(
    WELL_FORMED, WELL_FORMED, WELL_FORMED,
    st.fixed_dictionaries({"attribute": ATTRIBUTE, "operator": JSON, "value": JSON},
                          optional={"extra": JSON}),
    JSON,
)
VALUES = {
    "boolean": st.booleans(), "string": st.text(max_size=5),
    "number": st.integers() | st.floats(allow_nan=False, allow_infinity=False),
    "json": st.dictionaries(st.text(max_size=3), SCALARS, max_size=3) | st.lists(SCALARS),
}


def _mostly(strategy: st.SearchStrategy, otherwise: st.SearchStrategy = JSON
           ) -> st.SearchStrategy:
    """``strategy`` three times in four, else ``otherwise`` (Hypothesis picks branches evenly)."""
    return st.one_of(strategy, strategy, strategy, otherwise)


def rules_of(type_: str) -> st.SearchStrategy:
    rule = st.fixed_dictionaries(
        {"value": _mostly(VALUES[type_])},
        optional={"conditions": _mostly(st.lists(CONDITION, max_size=3)),
                  "percentage": _mostly(st.integers(0, 100),
                                       st.integers(-10, 110) | st.floats(-1, 101) | JSON),
                  "description": _mostly(st.text(max_size=5))},
    )
    return _mostly(st.lists(_mostly(rule), max_size=4))


NEAR_MISSES = st.sampled_from(FLAG_TYPES).flatmap(lambda type_: st.builds(
    Flag, key=st.sampled_from(["new-billing", "k"]), name=st.just("F"), type=st.just(type_),
    default_value=VALUES[type_], enabled=_mostly(st.just(True), st.just(False)),
    rules=rules_of(type_)))
FLAGS = _mostly(NEAR_MISSES, st.builds(  # or anything at all
    Flag, key=st.text(max_size=10), name=st.just("F"), type=st.text(max_size=8),
    default_value=JSON, enabled=st.booleans(), rules=JSON))
METADATA = st.dictionaries(KEYS | st.text(max_size=4), SMALL, max_size=5)
CONTEXT = st.one_of(
    st.fixed_dictionaries({}, optional={
        "instance": st.fixed_dictionaries({}, optional={"slug": POOL | st.text(max_size=8),
                                                        "metadata": METADATA | JSON}),
        "customer": st.fixed_dictionaries({"slug": POOL}),
        "license": st.fixed_dictionaries({"slug": POOL}),
        "deployment_zone": st.fixed_dictionaries({"slug": POOL}) | JSON,
    }),
    JSON,
)


@settings(max_examples=300, deadline=None)
@given(flag=FLAGS, context=CONTEXT)
def test_evaluation_of_arbitrary_rules_and_contexts_never_raises(flag, context):
    evaluator = Evaluator(flag)
    result = evaluator.evaluate(context)
    event(result.reason)
    assert result.reason in REASONS
    assert result.key == flag.key
    assert (result.error is not None) == (result.reason == "ERROR")
    if result.reason in ("DISABLED", "DEFAULT", "ERROR"):
        assert result.value is flag.default_value
        assert result.rule is None or result.reason == "ERROR"
    else:
        assert result.value is flag.rules[result.rule]["value"]
    assert isinstance(explain(evaluator, context, result), str)


@settings(max_examples=200, deadline=None)
@given(type_=st.sampled_from(FLAG_TYPES), data=st.data(), context=CONTEXT)
def test_saving_and_evaluating_agree_on_what_is_malformed(type_, data, context):
    rules = data.draw(rules_of(type_))
    default = {"boolean": False, "string": "", "number": 0, "json": {}}[type_]
    try:
        stored = check_rules(type_, rules)
    except ValidationError as error:
        result = Evaluator(Flag("k", "F", type_, default, rules=rules)).evaluate(context)
        assert (result.reason, result.error) == ("ERROR", str(error))
    else:
        result = Evaluator(Flag("k", "F", type_, default, rules=stored)).evaluate(context)
        event(f"well-formed: {result.reason}")
        assert result.reason != "ERROR"


STRINGS = st.sampled_from(["eu", "us", "pro", "e", ""])
NUMBERS = st.sampled_from([0, 1, 8, 2.5, 10**30])
SCALAR_POOL = STRINGS | NUMBERS | st.booleans()
OPERANDS = {
    "equals": POOL, "not_equals": POOL,
    "in": st.lists(SCALAR_POOL, min_size=1, max_size=3),
    "not_in": st.lists(SCALAR_POOL, min_size=1, max_size=3),
    "contains": SCALAR_POOL, "starts_with": STRINGS,
    "gt": STRINGS | NUMBERS, "gte": STRINGS | NUMBERS, "lt": STRINGS | NUMBERS,
    "lte": STRINGS | NUMBERS,
}
VALID_ATTRIBUTE = st.one_of(
    st.sampled_from(ATTRIBUTES),
    st.lists(KEYS, min_size=1, max_size=2).map(lambda path: "instance.metadata." + ".".join(path)),
)
VALID_CONDITION = st.sampled_from(OPERATORS).flatmap(lambda operator: st.fixed_dictionaries(
    {"attribute": VALID_ATTRIBUTE, "operator": st.just(operator), "value": OPERANDS[operator]}))


INSTANCE_CONTEXT = st.fixed_dictionaries({
    "instance": st.fixed_dictionaries({"slug": st.text(min_size=1, max_size=8),
                                       "metadata": METADATA}),
    "customer": st.fixed_dictionaries({"slug": STRINGS}),
    "license": st.fixed_dictionaries({"slug": STRINGS}),
}, optional={"deployment_zone": st.fixed_dictionaries({"slug": STRINGS})})


@settings(max_examples=200, deadline=None)
@given(type_=st.sampled_from(FLAG_TYPES), data=st.data(), context=INSTANCE_CONTEXT | CONTEXT)
def test_well_formed_rules_match_split_or_fall_through(type_, data, context):
    rule = st.fixed_dictionaries(
        {"conditions": st.lists(VALID_CONDITION, max_size=2), "value": VALUES[type_]},
        optional={"percentage": st.integers(0, 100)})
    rules = check_rules(type_, data.draw(st.lists(rule, min_size=1, max_size=3)))
    default = data.draw(VALUES[type_])
    evaluator = Evaluator(Flag("new-billing", "F", type_, default, rules=rules))
    result = evaluator.evaluate(context)
    event(result.reason)
    assert result.reason in ("TARGETING_MATCH", "SPLIT", "DEFAULT")
    outcomes = evaluator.outcomes(context)
    assert [o.index for o in outcomes] == list(range(len(outcomes)))
    if result.reason == "DEFAULT":
        assert not any(o.applied for o in outcomes) and len(outcomes) == len(rules)
    else:
        assert outcomes[-1].applied and outcomes[-1].index == result.rule
        assert (result.reason == "SPLIT") == ("percentage" in rules[result.rule])
    assert explain(evaluator, context, result).endswith(".")
