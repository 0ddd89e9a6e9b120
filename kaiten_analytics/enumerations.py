"""The closed vocabularies of the catalogue and of flags, defined once.

Validation (:mod:`kaiten_analytics.service.fields`, :mod:`kaiten_analytics.flags.values`), the
tables' CHECK constraints (:mod:`kaiten_analytics.db.models`) and the faces' pickers all read
these tuples, so a new member is added here and nowhere else (plus a migration that widens the
stored constraint: the shipped migrations keep the lists they were written with).
"""

from __future__ import annotations

from typing import Final

#: what an entitlement is: a metered number, an on/off feature, or a granted text value
ENTITLEMENT_TYPES: Final = ("NUMBER", "BOOLEAN", "STRING")
#: how a NUMBER entitlement folds its accepted reports into one aggregate
AGGREGATION_METHODS: Final = ("SUM", "COUNT", "AVERAGE", "MAX", "MIN", "LATEST")
#: the value types a feature flag serves
FLAG_TYPES: Final = ("boolean", "string", "number", "json")
#: what a signed-in console user may do: everything, or look at everything and change nothing
CONSOLE_ROLES: Final = ("admin", "viewer")
#: what a REST API key may do: everything, every read, or report usage (and read its instance)
API_KEY_ROLES: Final = ("admin", "viewer", "reporter")
