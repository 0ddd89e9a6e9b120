"""Percentage rollouts: stable per flag and instance, well spread, monotonic in the percentage."""

from __future__ import annotations

from kaiten_analytics.entities import Flag
from kaiten_analytics.flags.context import context_of
from kaiten_analytics.flags.rollout import bucket, in_rollout
from kaiten_analytics.flags.rules import evaluate

FLEET = [f"synthetic-{n}" for n in range(10_000)]


def rollout_flag(percentage: float, key: str = "new-billing") -> Flag:
    return Flag(key, "Rollout", "boolean", False,
                rules=[{"conditions": [], "percentage": percentage, "value": True}])


def served(flag: Flag, slug: str):
    return evaluate(flag, context_of(slug, "acme", "pro", None, {}))


def test_the_same_instance_always_gets_the_same_answer():
    flag = rollout_flag(50)
    first = [served(flag, slug).value for slug in FLEET[:500]]
    assert [served(flag, slug).value for slug in FLEET[:500]] == first
    # SHA-256 of "key:slug", not Python's per-process hash(): these buckets hold in every run
    # and every release (changing them would reshuffle every live rollout)
    assert bucket("new-billing", "acme-prod") == 6155
    assert bucket("new-billing", "globex-dev") == 4743


def test_a_25_percent_rollout_serves_25_percent_of_10000_instances():
    share = sum(in_rollout("new-billing", slug, 25) for slug in FLEET) / len(FLEET)
    assert abs(share - 0.25) <= 0.015, share


def test_different_flags_split_the_fleet_independently():
    a = {slug for slug in FLEET if in_rollout("flag-a", slug, 50)}
    b = {slug for slug in FLEET if in_rollout("flag-b", slug, 50)}
    assert abs(len(a & b) / len(FLEET) - 0.25) <= 0.015


def test_raising_the_percentage_keeps_everyone_who_was_in():
    at_25 = {slug for slug in FLEET if served(rollout_flag(25), slug).value}
    at_50 = {slug for slug in FLEET if served(rollout_flag(50), slug).value}
    assert at_25 <= at_50
    assert abs(len(at_50) / len(FLEET) - 0.5) <= 0.015


def test_zero_serves_nobody_and_hundred_serves_everyone():
    assert not any(in_rollout("k", slug, 0) for slug in FLEET[:2000])
    assert all(in_rollout("k", slug, 100) for slug in FLEET[:2000])


def test_a_rollout_rule_reports_split_and_falls_through_when_out():
    flag = Flag("new-billing", "Rollout", "string", "off", rules=[
        {"conditions": [], "percentage": 30, "value": "rollout"},
        {"conditions": [], "value": "everyone-else"},
    ])
    reasons = {(r.value, r.reason, r.rule) for r in (served(flag, slug) for slug in FLEET[:300])}
    assert reasons == {("rollout", "SPLIT", 0), ("everyone-else", "TARGETING_MATCH", 1)}


def test_a_rollout_needs_the_conditions_too():
    flag = Flag("new-billing", "Rollout", "boolean", False, rules=[
        {"conditions": [{"attribute": "license.slug", "operator": "equals", "value": "starter"}],
         "percentage": 100, "value": True},
    ])
    assert served(flag, "acme-prod").reason == "DEFAULT"


def test_a_rollout_without_an_instance_slug_does_not_apply():
    assert evaluate(rollout_flag(100), {"license": {"slug": "pro"}}).reason == "DEFAULT"


# Instances whose bucket for "new-billing" sits on a boundary (asserted below, so a change to
# the hashing shows up here first).
BUCKET_0, BUCKET_2499, BUCKET_2500, BUCKET_9999 = (
    "instance-150", "instance-690", "instance-6029", "instance-788")


def test_the_boundary_buckets_are_what_the_cases_below_need():
    assert [bucket("new-billing", slug) for slug in
            (BUCKET_0, BUCKET_2499, BUCKET_2500, BUCKET_9999)] == [0, 2499, 2500, 9999]


def test_the_evaluator_serves_a_rollout_below_its_cut_off_and_not_at_it():
    """``bucket < percentage × 100``: a 0 % rule serves no one, not even bucket 0."""
    assert served(rollout_flag(0), BUCKET_0).reason == "DEFAULT"
    assert served(rollout_flag(0.01), BUCKET_0).reason == "SPLIT"
    assert served(rollout_flag(25), BUCKET_2499).reason == "SPLIT"
    assert served(rollout_flag(25), BUCKET_2500).reason == "DEFAULT"
    assert served(rollout_flag(100), BUCKET_9999).reason == "SPLIT"
    assert served(rollout_flag(99.99), BUCKET_9999).reason == "DEFAULT"


def test_the_explanation_and_the_evaluator_agree_at_the_cut_off():
    from kaiten_analytics.flags.explain import explain
    from kaiten_analytics.flags.rules import Evaluator

    context = context_of(BUCKET_2500, "acme", "pro", None, {})
    words = explain(Evaluator(rollout_flag(25)), context)
    assert "bucket 2,500 of 10,000 is not below 2,500" in words
    context = context_of(BUCKET_2499, "acme", "pro", None, {})
    assert "bucket 2,499 of 10,000 is below 2,500" in explain(Evaluator(rollout_flag(25)),
                                                              context)
