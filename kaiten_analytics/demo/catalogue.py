"""The demo catalogue and fleet: customers, licenses, entitlements of every kind, instances."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from kaiten_analytics.client import Kaiten

ENTITLEMENTS = [
    # slug, name, type, method, unit
    ("seats", "Seats", "NUMBER", "MAX", "seats"),
    ("api-calls", "API calls", "NUMBER", "SUM", "calls"),
    ("storage-gb", "Storage", "NUMBER", "LATEST", "GB"),
    ("exports", "Data exports", "NUMBER", "COUNT", "exports"),
    ("avg-latency-ms", "Average latency budget", "NUMBER", "AVERAGE", "ms"),
    ("min-replicas", "Minimum replicas", "NUMBER", "MIN", "replicas"),
    ("sso", "Single sign-on", "BOOLEAN", None, None),
    ("audit-log", "Audit log export", "BOOLEAN", None, None),
    ("support-tier", "Support tier", "STRING", None, None),
]

# API calls are metered per calendar month on Starter and Pro — with a soft limit (reports are
# accepted up to 10 % over the threshold) and warnings at 80 % and 90 % — and per contract on
# Enterprise, so the console shows periods, overage and warnings out of the box
MONTHLY_API_CALLS = {"period": "month", "overage_percent": 10, "warn_at": [80, 90]}
LICENSES = {
    "starter": ("Starter", {"seats": 10,
                            "api-calls": {"threshold": 50_000, **MONTHLY_API_CALLS},
                            "storage-gb": 50, "exports": 200,
                            "avg-latency-ms": 400, "sso": False, "audit-log": False,
                            "support-tier": "community"}),
    "pro": ("Pro", {"seats": 100, "api-calls": {"threshold": 500_000, **MONTHLY_API_CALLS},
                    "storage-gb": 500, "exports": 2_000,
                    "avg-latency-ms": 250, "min-replicas": None, "sso": True,
                    "audit-log": False, "support-tier": "business"}),
    "enterprise": ("Enterprise", {"seats": 1_000, "api-calls": 5_000_000, "storage-gb": 5_000,
                                  "exports": None, "avg-latency-ms": 150, "min-replicas": None,
                                  "sso": True, "audit-log": True, "support-tier": "premium"}),
}

ZONES = [("eu-prod", "EU production"), ("us-prod", "US production"),
         ("ap-south", "Asia Pacific (Mumbai)")]

COMPANIES = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Wonka", "Tyrell", "Cyberdyne", "Soylent", "Aperture", "Black Mesa", "Vandelay",
    "Pied Piper", "Massive Dynamic", "Oscorp", "Gringotts", "Monsters Inc", "Dunder Mifflin",
]
ENVIRONMENTS = [("prod", "Production"), ("staging", "Staging"), ("dev", "Development"),
                ("dr", "Disaster recovery"), ("eu", "EU tenant"), ("us", "US tenant")]


@dataclass(frozen=True)
class DemoInstance:
    """What the history generator needs to know of a demo instance."""

    slug: str
    license: str
    weight: float  # share of the fleet's traffic


def create_catalogue(kaiten: Kaiten, customers: int = 5, instances: int = 30,
                     seed: int = 7) -> list[DemoInstance]:
    """Create the demo catalogue and ``instances`` instances spread over ``customers``."""
    rng = random.Random(seed)
    for slug, name, type_, method, unit in ENTITLEMENTS:
        kaiten.entitlements.create(slug, name, type=type_, aggregation_method=method, unit=unit)
    for slug, (name, values) in LICENSES.items():
        kaiten.licenses.create(slug, name, values, description=f"The {name} tier")
    for slug, name in ZONES:
        kaiten.zones.create(slug, name)
    customer_slugs = []
    for n in range(customers):
        company = COMPANIES[n % len(COMPANIES)]
        suffix = "" if n < len(COMPANIES) else f"-{n // len(COMPANIES) + 1}"
        slug = company.lower().replace(" ", "-") + suffix
        kaiten.customers.create(slug, company + (f" {suffix[1:]}" if suffix else ""))
        customer_slugs.append(slug)
    today = kaiten.today()
    created = []
    for n in range(instances):
        customer = customer_slugs[n % customers]
        env_slug, env_name = ENVIRONMENTS[(n // customers) % len(ENVIRONMENTS)]
        round_ = n // (customers * len(ENVIRONMENTS))
        slug = f"{customer}-{env_slug}" + (f"-{round_ + 1}" if round_ else "")
        license_ = rng.choices(list(LICENSES), weights=[5, 3, 2])[0]
        start = today - timedelta(days=rng.randint(100, 300))
        kaiten.instances.create(
            customer, env_name, slug, license_,
            description=f"{env_name} deployment for {customer}",
            deployment_zone=rng.choice([z for z, _ in ZONES] + [None]),
            license_start=start, license_end=start + timedelta(days=365 * rng.choice([1, 2])),
            metadata={"region": rng.choice(["eu", "us", "apac"]),
                      "version": f"4.{rng.randint(0, 9)}.{rng.randint(0, 20)}",
                      "environment": env_slug, "nodes": rng.randint(1, 12)},
        )
        weight = (3.0 if env_slug == "prod" else 1.0) * rng.uniform(0.3, 1.7)
        created.append(DemoInstance(slug, license_, weight))
    return created
