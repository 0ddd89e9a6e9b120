"""An instance's evaluation context: the attributes flag conditions can name.

The context is plain JSON, nested the way attributes are spelled::

    {"instance": {"slug": "acme-prod", "metadata": {"region": "eu", "limits": {"cpu": 8}}},
     "customer": {"slug": "acme"}, "license": {"slug": "pro"},
     "deployment_zone": {"slug": "eu-prod"}}

so ``instance.metadata.limits.cpu`` is 8. An instance without a zone has no
``deployment_zone.slug``: a condition on it is false, like any condition on a missing attribute.
"""

from __future__ import annotations

from typing import Any, Final

from kaiten_analytics.entities import Instance

#: The attributes a condition may name, besides ``instance.metadata.<key>[.<key>…]``.
ATTRIBUTES: Final = ("instance.slug", "customer.slug", "license.slug", "deployment_zone.slug")
METADATA_PREFIX: Final = "instance.metadata."


class _Missing:
    """The value of an attribute the context does not have."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def instance_context(instance: Instance) -> dict[str, Any]:
    """Return the evaluation context of ``instance``."""
    return context_of(instance.slug, instance.customer, instance.license,
                      instance.deployment_zone, instance.metadata)


def context_of(instance: str, customer: str, license: str, deployment_zone: str | None,
               metadata: dict[str, Any] | None) -> dict[str, Any]:
    """Return the evaluation context of an instance given by its slugs and metadata."""
    context: dict[str, Any] = {
        "instance": {"slug": instance, "metadata": metadata or {}},
        "customer": {"slug": customer},
        "license": {"slug": license},
    }
    if deployment_zone is not None:
        context["deployment_zone"] = {"slug": deployment_zone}
    return context


def attribute_problem(attribute: Any) -> str | None:
    """Return why ``attribute`` is not a context attribute (None when it is one)."""
    if not isinstance(attribute, str) or not attribute:
        return "must name a context attribute"
    if attribute in ATTRIBUTES:
        return None
    if attribute.startswith(METADATA_PREFIX) and all(
        attribute[len(METADATA_PREFIX):].split(".")
    ):
        return None
    return (f"{attribute!r} is not in the context; use one of {', '.join(ATTRIBUTES)} "
            f"or {METADATA_PREFIX}<key> (nested keys with dots)")


def resolve(context: Any, attribute: str) -> Any:
    """Return the value of ``attribute`` in ``context``, or :data:`MISSING`.

    Dots separate nested keys; a key that itself contains dots is found too (at each level the
    longest key present is taken), so metadata ``{"k8s.io": {"zone": "a"}}`` answers
    ``instance.metadata.k8s.io.zone``.
    """
    return _walk(context, attribute.split("."))


def instance_slug(context: Any) -> str | None:
    """Return the context's ``instance.slug`` if it is a non-empty string (rollouts need it)."""
    slug = resolve(context, "instance.slug")
    return slug if isinstance(slug, str) and slug else None


def _walk(node: Any, parts: list[str]) -> Any:
    if not parts:
        return node
    if not isinstance(node, dict):
        return MISSING
    for end in range(len(parts), 0, -1):
        key = ".".join(parts[:end])
        if key in node:  # the longest key present wins; no backtracking (stays linear)
            return _walk(node[key], parts[end:])
    return MISSING
