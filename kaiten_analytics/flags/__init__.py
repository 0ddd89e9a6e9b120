"""Feature flags without a database: values, evaluation contexts, rules, rollouts, words.

* :mod:`~kaiten_analytics.flags.values` — the four flag types and their values;
* :mod:`~kaiten_analytics.flags.context` — an instance's evaluation context and its attributes;
* :mod:`~kaiten_analytics.flags.operators` — the ten condition operators;
* :mod:`~kaiten_analytics.flags.rollout` — stable percentage buckets;
* :mod:`~kaiten_analytics.flags.rules` — rule validation (at save) and evaluation (never raises);
* :mod:`~kaiten_analytics.flags.explain` — why an instance gets its value, in words.

The service (:mod:`kaiten_analytics.service.flags`) stores flags; the analytics module
(:mod:`kaiten_analytics.analytics.flags`) evaluates them for instances read from the database.
"""
