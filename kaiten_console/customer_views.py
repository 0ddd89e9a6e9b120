"""How the Customers page and the customer detail say a customer's license mix."""

from __future__ import annotations


def license_mix(mix: dict[str, int], licenses: dict[str, str]) -> str:
    """Say a license mix by license name, e.g. ``Pro × 2 · Starter × 1`` (``—`` for none).

    ``mix`` is a ``kaiten.customers.summary()`` row's ``licenses`` (slug → live instances,
    most first); ``licenses`` maps slug → name.
    """
    return " · ".join(f"{licenses.get(slug, slug)} × {count}"
                      for slug, count in mix.items()) or "—"
