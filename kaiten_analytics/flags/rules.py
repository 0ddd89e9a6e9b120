"""Targeting rules: validated when a flag is saved, evaluated defensively for an instance.

A rule is ``{"conditions": [{"attribute", "operator", "value"}, …], "value": …}`` with an
optional ``"percentage"`` (0–100) and ``"description"``. The first rule that applies serves its
value: all its conditions hold (an empty or absent list always holds) and, with a percentage,
the instance's stable bucket falls in it. :func:`check_rules` refuses a malformed rule with a
``ValidationError`` whose field names it (``rules[1].conditions[0].operator``);
:class:`Evaluator` never raises — a flag whose stored rules are malformed (written by an older
version, or by hand) serves its default with reason ``ERROR`` and says what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from kaiten_analytics.entities import Flag, FlagEvaluation
from kaiten_analytics.errors import ValidationError
from kaiten_analytics.flags.context import attribute_problem, instance_slug, resolve
from kaiten_analytics.flags.operators import OPERATORS, holds, kind, operand_problem
from kaiten_analytics.flags.rollout import bucket, covers
from kaiten_analytics.flags.values import finite_number, flag_type, flag_value

# OpenFeature's resolution reasons (openfeature.flag_evaluation.Reason)
DISABLED: Final = "DISABLED"
TARGETING_MATCH: Final = "TARGETING_MATCH"
SPLIT: Final = "SPLIT"
DEFAULT: Final = "DEFAULT"
ERROR: Final = "ERROR"
REASONS: Final = (DISABLED, TARGETING_MATCH, SPLIT, DEFAULT, ERROR)

RULE_KEYS: Final = ("description", "conditions", "percentage", "value")
CONDITION_KEYS: Final = ("attribute", "operator", "value")


def check_rules(type_: str, rules: Any) -> list[dict[str, Any]]:
    """Return ``rules`` as plain JSON if every rule is well formed for a flag of ``type_``.

    Raises ``ValidationError`` naming the first malformed rule and field, e.g.
    ``rules[1].conditions[0].operator``.
    """
    if rules is None:
        return []
    if not isinstance(rules, list | tuple):
        raise ValidationError("rules", f"must be a list of rules, got {kind(rules)}")
    for index, rule in enumerate(rules):
        check_rule(type_, rule, index)
    return json.loads(json.dumps(list(rules)))


def check_rule(type_: str, rule: Any, index: int) -> None:
    """Refuse rule number ``index`` (0-based) with a ``ValidationError`` if it is malformed."""
    where = f"rules[{index}]"
    if not isinstance(rule, dict):
        raise ValidationError(where, 'must be an object: {"conditions": [...], "value": ...}')
    for key in rule:
        if key not in RULE_KEYS:
            raise ValidationError(f"{where}.{key}",
                                  f"unknown key; a rule has {', '.join(RULE_KEYS)}")
    conditions = rule.get("conditions")
    if conditions is not None:
        if not isinstance(conditions, list | tuple):
            raise ValidationError(f"{where}.conditions", "must be a list of conditions")
        for position, condition in enumerate(conditions):
            _check_condition(condition, f"{where}.conditions[{position}]")
    if "percentage" in rule:
        percentage = rule["percentage"]
        if not finite_number(percentage) or not 0 <= percentage <= 100:
            raise ValidationError(f"{where}.percentage",
                                  f"must be a number from 0 to 100, got {percentage!r}")
    if not isinstance(rule.get("description", ""), str):
        raise ValidationError(f"{where}.description", "must be text")
    if "value" not in rule:
        raise ValidationError(f"{where}.value", "is required: the value the rule serves")
    flag_value(type_, rule["value"], f"{where}.value")


def _check_condition(condition: Any, where: str) -> None:
    if not isinstance(condition, dict):
        raise ValidationError(
            where, 'must be an object: {"attribute": ..., "operator": ..., "value": ...}'
        )
    for key in condition:
        if key not in CONDITION_KEYS:
            raise ValidationError(f"{where}.{key}",
                                  f"unknown key; a condition has {', '.join(CONDITION_KEYS)}")
    problem = attribute_problem(condition.get("attribute"))
    if problem:
        raise ValidationError(f"{where}.attribute", problem)
    operator = condition.get("operator")
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise ValidationError(f"{where}.operator",
                              f"unknown operator {operator!r}; use one of {', '.join(OPERATORS)}")
    if "value" not in condition:
        raise ValidationError(f"{where}.value", "is required")
    problem = operand_problem(operator, condition["value"])
    if problem:
        raise ValidationError(f"{where}.value", problem)


def in_documented_order(rules: Any) -> Any:
    """Return ``rules`` with each rule's and condition's keys in the documented order.

    PostgreSQL's JSONB stores object keys sorted by length; this puts ``conditions`` before
    ``value`` again for people reading the rules. Anything malformed is returned as it is.
    """
    if not isinstance(rules, list):
        return rules
    return [_ordered(rule, RULE_KEYS, conditions=True) for rule in rules]


def _ordered(item: Any, keys: tuple[str, ...], conditions: bool = False) -> Any:
    if not isinstance(item, dict):
        return item
    result = {key: item[key] for key in keys if key in item} | item
    if conditions and isinstance(result.get("conditions"), list):
        result["conditions"] = [_ordered(c, CONDITION_KEYS) for c in result["conditions"]]
    return result


@dataclass(frozen=True)
class RuleOutcome:
    """How one rule fared for one context.

    ``failed`` is the index of its first false condition (None when all held); ``actual`` is
    that condition's attribute value (the context's MISSING marker when absent); ``bucket`` is
    the instance's rollout bucket when the rule has a percentage and its conditions held
    (None without an instance slug).
    """

    index: int
    applied: bool
    failed: int | None = None
    actual: Any = None
    bucket: int | None = None


class Evaluator:
    """Evaluate one flag for any number of contexts (its rules are checked once).

    Evaluation never raises: a malformed flag — unknown type, a default of the wrong type, a
    malformed rule — serves its stored default with reason ``ERROR``.
    """

    def __init__(self, flag: Flag) -> None:
        self.flag = flag
        #: (rule index or None, message) when the stored flag is malformed
        self.problem = _problem(flag)

    def evaluate(self, context: Any) -> FlagEvaluation:
        """Return the value the flag serves in ``context``, with the reason and the rule."""
        flag = self.flag
        if not flag.enabled:
            return FlagEvaluation(flag.default_value, DISABLED, key=flag.key)
        if self.problem is not None:
            index, message = self.problem
            return FlagEvaluation(flag.default_value, ERROR, index, message, key=flag.key)
        for outcome in self.outcomes(context):
            if outcome.applied:
                rule = flag.rules[outcome.index]
                reason = SPLIT if "percentage" in rule else TARGETING_MATCH
                return FlagEvaluation(rule["value"], reason, outcome.index, key=flag.key)
        return FlagEvaluation(flag.default_value, DEFAULT, key=flag.key)

    def outcomes(self, context: Any) -> list[RuleOutcome]:
        """Return each rule's outcome, in order, up to the first that applies.

        Only meaningful for a well-formed flag (``problem`` is None); otherwise empty.
        """
        if self.problem is not None:
            return []
        found = []
        for index, rule in enumerate(self.flag.rules):
            outcome = self._outcome(index, rule, context)
            found.append(outcome)
            if outcome.applied:
                break
        return found

    def _outcome(self, index: int, rule: dict[str, Any], context: Any) -> RuleOutcome:
        for position, condition in enumerate(rule.get("conditions") or ()):
            actual = resolve(context, condition["attribute"])
            if not holds(condition["operator"], actual, condition["value"]):
                return RuleOutcome(index, False, failed=position, actual=actual)
        if "percentage" not in rule:
            return RuleOutcome(index, True)
        slug = instance_slug(context)
        if slug is None:
            return RuleOutcome(index, False)
        position = bucket(self.flag.key, slug)
        return RuleOutcome(index, covers(position, rule["percentage"]), bucket=position)


def evaluate(flag: Flag, context: Any) -> FlagEvaluation:
    """Return the value ``flag`` serves in ``context`` (never raises; see :class:`Evaluator`)."""
    return Evaluator(flag).evaluate(context)


def _problem(flag: Flag) -> tuple[int | None, str] | None:
    try:
        type_ = flag_type(flag.type)
        flag_value(type_, flag.default_value, "default_value")
    except ValidationError as error:
        return None, str(error)
    if not isinstance(flag.rules, list | tuple):
        return None, f"rules: must be a list of rules, got {kind(flag.rules)}"
    for index, rule in enumerate(flag.rules):
        try:
            check_rule(type_, rule, index)
        except ValidationError as error:
            return index, str(error)
    return None
