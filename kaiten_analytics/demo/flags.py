"""The demo's feature flags: targeting by license, zone and metadata, a rollout, a kill switch."""

from __future__ import annotations

from typing import Any

from kaiten_analytics.client import Kaiten


def _when(attribute: str, operator: str, value: Any) -> dict[str, Any]:
    return {"attribute": attribute, "operator": operator, "value": value}


DEMO_FLAGS: list[dict[str, Any]] = [
    {
        "key": "new-billing-page", "name": "New billing page", "type": "boolean",
        "default_value": False,
        "description": "The redesigned billing page: Enterprise first, then a quarter of the rest.",
        "rules": [
            {"description": "Enterprise customers",
             "conditions": [_when("license.slug", "equals", "enterprise")], "value": True},
            {"description": "Gradual rollout", "conditions": [], "percentage": 25,
             "value": True},
        ],
    },
    {
        "key": "eu-data-residency-banner", "name": "EU data residency banner", "type": "boolean",
        "default_value": False,
        "description": "Tell EU-hosted tenants where their data lives.",
        "rules": [
            {"conditions": [_when("deployment_zone.slug", "equals", "eu-prod")], "value": True},
            {"conditions": [_when("instance.metadata.region", "equals", "eu")], "value": True},
        ],
    },
    {
        "key": "max-concurrent-exports", "name": "Max concurrent exports", "type": "number",
        "default_value": 2,
        "description": "How many export jobs may run at once.",
        "rules": [
            {"conditions": [_when("license.slug", "equals", "enterprise")], "value": 16},
            {"description": "Big clusters",
             "conditions": [_when("instance.metadata.nodes", "gte", 8)], "value": 8},
            {"conditions": [_when("license.slug", "in", ["pro"])], "value": 4},
        ],
    },
    {
        "key": "release-channel", "name": "Release channel", "type": "string",
        "default_value": "stable",
        "description": "Which agent builds an instance pulls.",
        "rules": [
            {"description": "Non-production environments",
             "conditions": [_when("instance.metadata.environment", "in", ["dev", "staging"])],
             "value": "beta"},
            {"description": "Canary for recent agents",
             "conditions": [_when("instance.metadata.version", "starts_with", "4.9")],
             "percentage": 10, "value": "canary"},
        ],
    },
    {
        "key": "dashboard-layout", "name": "Dashboard layout", "type": "json",
        "default_value": {"density": "comfortable", "widgets": ["usage", "alerts"]},
        "description": "Default dashboard for each tier.",
        "rules": [
            {"conditions": [_when("license.slug", "not_in", ["starter"]),
                            _when("instance.metadata.environment", "equals", "prod")],
             "value": {"density": "compact",
                       "widgets": ["usage", "alerts", "forecast", "audit"]}},
        ],
    },
    {
        "key": "legacy-api-v1", "name": "Legacy API v1", "type": "boolean",
        "default_value": True, "enabled": False,
        "description": "Kill switch: disabled, so every instance keeps the default.",
        "rules": [
            {"conditions": [_when("instance.metadata.environment", "equals", "dr")],
             "value": False},
        ],
    },
]


def create_demo_flags(kaiten: Kaiten) -> list[str]:
    """Create the demo flags (the catalogue must exist) and return their keys."""
    for flag in DEMO_FLAGS:
        kaiten.flags.create(**flag)
    return [flag["key"] for flag in DEMO_FLAGS]
