"""Stable percentage rollouts.

Each (flag key, instance slug) pair falls in one of 10,000 buckets, taken from a SHA-256 hash
(well distributed and the same in every process and release, unlike Python's ``hash()``). An
instance is in a rollout of ``p`` percent when its bucket is below ``p × 100``
(:func:`cut_off`), so raising the percentage only ever adds instances, 0 % serves no bucket
(not even bucket 0), 100 % serves every one, and each flag splits the fleet independently.
The evaluator and the explanations both decide by :func:`covers`.
"""

from __future__ import annotations

import hashlib
from typing import Final

BUCKETS: Final = 10_000


def bucket(flag_key: str, instance_slug: str) -> int:
    """Return the instance's bucket for the flag, 0 to 9,999."""
    digest = hashlib.sha256(f"{flag_key}:{instance_slug}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def cut_off(percentage: float) -> int:
    """Return the first bucket outside a rollout of ``percentage`` (0–100, to 0.01).

    Buckets ``0 … cut_off - 1`` are in: 25 % → 2,500, so buckets 0 to 2,499.
    """
    return round(percentage * (BUCKETS // 100))


def covers(position: int, percentage: float) -> bool:
    """Return True when bucket ``position`` is in a rollout of ``percentage``."""
    return position < cut_off(percentage)


def in_rollout(flag_key: str, instance_slug: str, percentage: float) -> bool:
    """Return True when the instance falls in ``percentage`` (0–100, to 0.01) of the flag."""
    return covers(bucket(flag_key, instance_slug), percentage)
