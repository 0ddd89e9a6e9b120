"""``kaiten demo``: the catalogue, the fleet and (once metering exists) its history."""

from __future__ import annotations

from kaiten_analytics.client import Kaiten
from kaiten_analytics.demo.catalogue import create_catalogue
from kaiten_analytics.demo.flags import create_demo_flags


def build_demo(kaiten: Kaiten, customers: int = 5, instances: int = 30, events: int = 20_000,
               big_instance_events: int = 0, days: int = 90, seed: int = 7,
               progress: bool = True) -> str:
    """Fill an empty database with demo data and return a one-line summary."""
    fleet = create_catalogue(kaiten, customers=customers, instances=instances, seed=seed)
    create_demo_flags(kaiten)
    return f"demo data: {customers} customers, {len(fleet)} instances"
