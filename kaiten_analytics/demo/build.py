"""``kaiten demo``: the catalogue, the fleet, its flags and a realistic usage history."""

from __future__ import annotations

from datetime import timedelta

from kaiten_analytics.client import Kaiten
from kaiten_analytics.db.database import Database
from kaiten_analytics.demo.catalogue import create_catalogue
from kaiten_analytics.demo.flags import create_demo_flags
from kaiten_analytics.demo.history import write_history

#: the instance that ``--big-instance-events`` fills (the scale target: one instance with 1M events)
BIG_INSTANCE = "megacorp-prod"


def build_demo(db: Database, customers: int = 5, instances: int = 30, events: int = 20_000,
               big_instance_events: int = 0, days: int = 90, seed: int = 7,
               progress: bool = True) -> str:
    """Fill an empty database with demo data and return a one-line summary.

    The catalogue, fleet and flags are made through the public namespaces; the history is
    written through the metering ledger in large transactions (``kaiten.demo.build`` calls
    this).
    """
    kaiten = Kaiten(db)
    fleet = create_catalogue(kaiten, customers=customers, instances=instances, seed=seed)
    create_demo_flags(kaiten)
    big = None
    if big_instance_events:
        today = kaiten.today()
        kaiten.customers.create("megacorp", "MegaCorp")
        kaiten.instances.create("megacorp", "Production (busy)", BIG_INSTANCE, "enterprise",
                                description="The busiest instance of the fleet",
                                deployment_zone="eu-prod",
                                license_start=today - timedelta(days=days + 30),
                                license_end=today + timedelta(days=365),
                                metadata={"region": "eu", "environment": "prod", "nodes": 64})
        big = (BIG_INSTANCE, big_instance_events)
    written = write_history(db, fleet, events, days, seed=seed, big=big, progress=progress)
    return (f"demo data: {customers + bool(big)} customers, {len(fleet) + bool(big)} instances, "
            f"{written:,} audit events over {days} days")
