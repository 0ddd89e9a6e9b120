"""The ``Kaiten`` handle that :func:`connect` returns: one namespace per domain.

Each namespace method is a thin binding of a service (writes) or analytics (reads) function to
the connected database, so the console, notebooks, CLI and tests share one code path.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from kaiten_analytics.analytics import catalogue as catalogue_reads
from kaiten_analytics.analytics import flags as flag_reads
from kaiten_analytics.analytics.instances import list_instances
from kaiten_analytics.entities import (
    Customer,
    Entitlement,
    Flag,
    FlagEvaluation,
    Instance,
    License,
    Zone,
)
from kaiten_analytics.service import catalogue, instances
from kaiten_analytics.service import flags as flag_writes
from kaiten_analytics.service.database import Database


class _Namespace:
    def __init__(self, db: Database) -> None:
        self._db = db


class Customers(_Namespace):
    """``kaiten.customers``"""

    def create(self, slug: str, name: str) -> Customer:
        """Create a customer."""
        return catalogue.create_customer(self._db, slug, name)

    def list(self) -> pd.DataFrame:
        """List customers: slug, name, created_at."""
        return catalogue_reads.list_customers(self._db)


class Entitlements(_Namespace):
    """``kaiten.entitlements``"""

    def create(self, slug: str, name: str, type: str = "NUMBER",
               aggregation_method: str | None = "SUM", unit: str | None = None,
               description: str = "") -> Entitlement:
        """Create a catalogue entitlement."""
        return catalogue.create_entitlement(self._db, slug, name, type, aggregation_method,
                                            unit, description)

    def list(self, license: str | None = None) -> pd.DataFrame:
        """List entitlements (of one license, with its values)."""
        return catalogue_reads.list_entitlements(self._db, license)


class Licenses(_Namespace):
    """``kaiten.licenses``"""

    def create(self, slug: str, name: str, entitlements: dict[str, Any] | None = None,
               description: str = "") -> License:
        """Create a license tier with its entitlement values."""
        return catalogue.create_license(self._db, slug, name, entitlements, description)

    def list(self) -> pd.DataFrame:
        """List license tiers: slug, name, description."""
        return catalogue_reads.list_licenses(self._db)


class Zones(_Namespace):
    """``kaiten.zones``"""

    def create(self, slug: str, name: str) -> Zone:
        """Create a deployment zone."""
        return catalogue.create_zone(self._db, slug, name)

    def list(self) -> pd.DataFrame:
        """List deployment zones: slug, name."""
        return catalogue_reads.list_zones(self._db)


class Instances(_Namespace):
    """``kaiten.instances``"""

    def create(self, customer: str, name: str, slug: str, license: str, description: str = "",
               deployment_zone: str | None = None, license_start=None, license_end=None,
               metadata: dict[str, Any] | str | None = None) -> Instance:
        """Create an instance (writes ``INSTANCE_CREATED``)."""
        return instances.create_instance(self._db, customer, name, slug, license, description,
                                         deployment_zone, license_start, license_end, metadata)

    def update(self, slug: str, /, **changes: Any) -> Instance:
        """Change fields of an instance (writes ``INSTANCE_UPDATED``)."""
        return instances.update_instance(self._db, slug, **changes)

    def delete(self, slug: str) -> None:
        """Soft-delete an instance (writes ``INSTANCE_DELETED``)."""
        instances.delete_instance(self._db, slug)

    def get(self, slug: str, include_deleted: bool = False) -> Instance:
        """Return one instance."""
        return instances.get_instance(self._db, slug, include_deleted)

    def list(self, customer: str | None = None) -> pd.DataFrame:
        """List live instances; see :func:`kaiten_analytics.analytics.instances.list_instances`."""
        return list_instances(self._db, customer)


class Flags(_Namespace):
    """``kaiten.flags``"""

    def create(self, key: str, name: str, type: str, default_value: Any, enabled: bool = True,
               rules: Any = (), description: str = "") -> Flag:
        """Create a feature flag (writes ``FEATURE_FLAG_CREATED``); rules are validated."""
        return flag_writes.create_flag(self._db, key, name, type, default_value, enabled,
                                       rules, description)

    def update(self, key: str, /, **changes: Any) -> Flag:
        """Change fields of a flag (writes ``FEATURE_FLAG_UPDATED``); the key stays."""
        return flag_writes.update_flag(self._db, key, **changes)

    def delete(self, key: str) -> None:
        """Delete a flag (writes ``FEATURE_FLAG_DELETED``)."""
        flag_writes.delete_flag(self._db, key)

    def get(self, key: str) -> Flag:
        """Return one flag."""
        return flag_writes.get_flag(self._db, key)

    def list(self) -> pd.DataFrame:
        """List flags; see :func:`kaiten_analytics.analytics.flags.list_flags`."""
        return flag_reads.list_flags(self._db)

    def evaluate(self, key: str, instance: str) -> FlagEvaluation:
        """Return the value the flag serves the instance: value, reason, rule, error."""
        return flag_reads.evaluate_flag(self._db, key, instance)

    def evaluate_all(self, instance: str) -> pd.DataFrame:
        """Evaluate every flag for one instance; see ``analytics.flags.evaluate_all``."""
        return flag_reads.evaluate_all(self._db, instance)

    def exposure(self, key: str) -> pd.DataFrame:
        """Which live instance gets which value of one flag; ``analytics.flags.flag_exposure``."""
        return flag_reads.flag_exposure(self._db, key)

    def exposure_summary(self, key: str) -> pd.DataFrame:
        """Instances per value of one flag; see ``analytics.flags.exposure_summary``."""
        return flag_reads.exposure_summary(self._db, key)


class Kaiten:
    """A connected Kaiten Analytics database. Build it with :func:`kaiten_analytics.connect`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.customers = Customers(db)
        self.entitlements = Entitlements(db)
        self.licenses = Licenses(db)
        self.zones = Zones(db)
        self.instances = Instances(db)
        self.flags = Flags(db)

    @property
    def url(self) -> str:
        """The database URL (password hidden)."""
        return self.db.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the connection pool."""
        self.db.engine.dispose()

    def __repr__(self) -> str:
        return f"Kaiten({self.url!r})"
