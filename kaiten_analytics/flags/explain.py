"""Why an instance gets a flag's value, in words (for the console and notebooks)."""

from __future__ import annotations

from typing import Any, Final

from kaiten_analytics.entities import FlagEvaluation
from kaiten_analytics.flags.context import MISSING, resolve
from kaiten_analytics.flags.operators import kind
from kaiten_analytics.flags.rollout import BUCKETS, cut_off
from kaiten_analytics.flags.rules import DEFAULT, DISABLED, ERROR, SPLIT, Evaluator, RuleOutcome
from kaiten_analytics.flags.values import json_text

OPERATOR_WORDS: Final = {
    "equals": "equals", "not_equals": "does not equal", "in": "is one of",
    "not_in": "is not one of", "contains": "contains", "starts_with": "starts with",
    "gt": "is greater than", "gte": "is at least", "lt": "is less than", "lte": "is at most",
}

# operators whose attribute must be of the value's own kind
_SAME_KIND: Final = ("equals", "not_equals", "starts_with", "gt", "gte", "lt", "lte")


def explain(evaluator: Evaluator, context: Any, evaluation: FlagEvaluation | None = None) -> str:
    """Return one or two sentences saying why ``context`` gets the flag's value.

    ``evaluation`` is ``evaluator.evaluate(context)`` if the caller already has it.
    """
    evaluation = evaluation or evaluator.evaluate(context)
    if evaluation.reason == DISABLED:
        return "The flag is disabled, so every instance gets its default value."
    if evaluation.reason == ERROR:
        return f"The flag is misconfigured, so its default value is served — {evaluation.error}"
    outcomes = evaluator.outcomes(context)
    if evaluation.reason == DEFAULT:
        if not outcomes:
            return "The flag has no rules, so its default value is served."
        misses = "; ".join(_miss(evaluator, outcome) for outcome in outcomes)
        return f"No rule applied, so the default value is served: {misses}."
    return _hit(evaluator, outcomes[-1], context, evaluation.reason == SPLIT) + "."


def _label(evaluator: Evaluator, index: int) -> str:
    description = evaluator.flag.rules[index].get("description")
    return f"rules[{index}] ({description})" if description else f"rules[{index}]"


def _condition(condition: dict[str, Any]) -> str:
    words = OPERATOR_WORDS[condition["operator"]]
    return f"{condition['attribute']} {words} {json_text(condition['value'])}"


def _hit(evaluator: Evaluator, outcome: RuleOutcome, context: Any, split: bool) -> str:
    rule = evaluator.flag.rules[outcome.index]
    label = _label(evaluator, outcome.index)
    held = " and ".join(
        f"{_condition(c)} (it is {json_text(resolve(context, c['attribute']))})"
        for c in rule.get("conditions") or ()
    )
    if not split:
        if not held:
            return f"{label} has no conditions, so it applies to every instance"
        return f"{label} matched: {held}"
    share = f"{rule['percentage']:g}%"
    bucket_words = f"bucket {outcome.bucket:,} of {BUCKETS:,} is below {_cut(rule):,}"
    if not held:
        return f"{label} rolls out to {share} of instances and this one is in ({bucket_words})"
    return f"{label} matched: {held}, and the instance is in its {share} rollout ({bucket_words})"


def _miss(evaluator: Evaluator, outcome: RuleOutcome) -> str:
    rule = evaluator.flag.rules[outcome.index]
    label = _label(evaluator, outcome.index)
    if outcome.failed is not None:
        condition = rule["conditions"][outcome.failed]
        attribute = condition["attribute"]
        if outcome.actual is MISSING:
            return f"{label} needs {_condition(condition)} but {attribute} is not set"
        actual_kind, wanted_kind = kind(outcome.actual), kind(condition["value"])
        why = ""
        if condition["operator"] in _SAME_KIND and actual_kind != wanted_kind:
            why = f" ({_a(actual_kind)} does not compare with {_a(wanted_kind)})"
        return (f"{label} needs {_condition(condition)} but {attribute} is "
                f"{json_text(outcome.actual)}{why}")
    if outcome.bucket is None:
        return f"{label} rolls out by instance slug, and there is none"
    return (f"{label}: the instance is outside its {rule['percentage']:g}% rollout (bucket "
            f"{outcome.bucket:,} of {BUCKETS:,} is not below {_cut(rule):,})")


def _a(kind_name: str) -> str:
    return f"an {kind_name}" if kind_name[0] in "aeiou" else f"a {kind_name}"


def _cut(rule: dict[str, Any]) -> int:
    return cut_off(rule["percentage"])
