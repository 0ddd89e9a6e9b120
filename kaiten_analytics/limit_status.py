"""How full a limit is: the percentage used and the status band, in one place.

Every face and every view says "nearing", "at limit" and "in overage" by these functions —
``kaiten.usage.summary``, ``kaiten.fleet.consumption``, the consumption chart, the console's
tables and help texts — so a band changes here and nowhere else. "in overage" is an aggregate
above its threshold: what a soft limit (a policy's ``overage_percent``) accepts, or what is
left after a license edit lowered the threshold.

Both functions take numbers (``None`` or NaN for "none") or array-likes (numpy arrays, pandas
Series) of them, and return a scalar or an array accordingly.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

#: a limit is "nearing" from this share of its threshold (percent) until it is "at limit"
NEARING_PERCENT: Final = 80.0
#: a limit is "at limit" from this share of its threshold (percent): no report may pass it
AT_LIMIT_PERCENT: Final = 100.0

NO_LIMIT: Final = "no limit"
UNUSED: Final = "unused"
OK: Final = "ok"
NEARING: Final = "nearing"
AT_LIMIT: Final = "at limit"
IN_OVERAGE: Final = "in overage"
#: every status :func:`limit_status` returns, from the emptiest to the fullest
LIMIT_STATUSES: Final = (NO_LIMIT, UNUSED, OK, NEARING, AT_LIMIT, IN_OVERAGE)
#: the statuses of a limit that is reached: no report below the threshold is left
REACHED_STATUSES: Final = (AT_LIMIT, IN_OVERAGE)
#: the utilisation bands of :func:`utilisation_band` (a fleet heatmap's columns), in order
UTILISATION_BANDS: Final = ("0–20%", "20–40%", "40–60%", "60–80%", "80–100%", AT_LIMIT)
_BAND_WIDTH: Final = 20.0


def percent_used(usage: Any, threshold: Any) -> Any:
    """Return the share of ``threshold`` that ``usage`` takes, in percent (0–100 and beyond).

    NaN without a threshold (no limit) or without usage (no accepted report yet). A zero
    threshold is 100 % used by any usage of zero or more (nothing more may be reported) and
    0 % by a negative one.

    >>> percent_used(40, 50), percent_used(0, 0), percent_used(None, 10)
    (80.0, 100.0, nan)
    """
    usage_, threshold_ = _floats(usage), _floats(threshold)
    with np.errstate(divide="ignore", invalid="ignore"):
        percent = usage_ / threshold_ * 100.0
    zero = threshold_ == 0
    percent = np.where(zero & ~np.isnan(usage_), np.where(usage_ >= 0, 100.0, 0.0), percent)
    return _like(percent, usage, threshold)


def limit_status(usage: Any, threshold: Any) -> Any:
    """Return the status band of a limit: no limit, unused, ok, nearing, at limit, in overage.

    ``no limit`` without a threshold; ``unused`` before the first accepted report (of the
    current period); ``in overage`` above the threshold; ``at limit`` from
    :data:`AT_LIMIT_PERCENT` of it; ``nearing`` from :data:`NEARING_PERCENT`; ``ok`` below (see
    :func:`percent_used` for a zero threshold).

    >>> limit_status(79, 100), limit_status(80, 100), limit_status(0, 0), limit_status(5, None)
    ('ok', 'nearing', 'at limit', 'no limit')
    >>> limit_status(100, 100), limit_status(101, 100)
    ('at limit', 'in overage')
    """
    usage_, threshold_ = _floats(usage), _floats(threshold)
    percent = _floats(percent_used(usage_, threshold_))
    with np.errstate(invalid="ignore"):
        over = usage_ > threshold_
    status = np.select(
        [np.isnan(threshold_), np.isnan(usage_), over, percent >= AT_LIMIT_PERCENT,
         percent >= NEARING_PERCENT],
        [NO_LIMIT, UNUSED, IN_OVERAGE, AT_LIMIT, NEARING], default=OK,
    ).astype(object)
    return _like(status, usage, threshold)


def utilisation_band(percent: float | None) -> str | None:
    """Return the band of :data:`UTILISATION_BANDS` that ``percent`` used falls in.

    Fifths of the threshold up to :data:`AT_LIMIT_PERCENT` (each band holds its lower bound),
    then ``at limit``; None without a percentage (None or NaN).

    >>> utilisation_band(0), utilisation_band(79.9), utilisation_band(100), utilisation_band(None)
    ('0–20%', '60–80%', 'at limit', None)
    """
    if percent is None or math.isnan(percent):
        return None
    if percent >= AT_LIMIT_PERCENT:
        return UTILISATION_BANDS[-1]
    return UTILISATION_BANDS[min(int(percent // _BAND_WIDTH), len(UTILISATION_BANDS) - 2)]


def _floats(value: Any) -> np.ndarray:
    """``value`` as a float array; None (alone or in a list or an object Series) is NaN."""
    if value is None:
        return np.array(np.nan)
    array = np.asarray(value, dtype=object if not hasattr(value, "dtype") else None)
    if array.dtype == object:
        array = np.array([np.nan if v is None else v for v in array.ravel()],
                         dtype=float).reshape(array.shape)
    return array.astype(float)


def _like(result: np.ndarray, *inputs: Any) -> Any:
    """Return a scalar for scalars, a Series indexed like a Series input, else ``result``."""
    for value in inputs:
        if hasattr(value, "index") and hasattr(value, "to_numpy"):
            return type(value)(result, index=value.index)
    if np.ndim(result) == 0:
        item = result.item() if hasattr(result, "item") else result
        return float(item) if isinstance(item, float | np.floating) else item
    return result
