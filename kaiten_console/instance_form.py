"""The instance form the Instances page uses to create and to edit, and its field labels.

The form only collects what the user typed; every rule (slug shape, dates, metadata JSON) is
the library's, and its ``KaitenError`` message is what the user sees (``console.refusals``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import streamlit as st

import kaiten_analytics as ka

FIELD_LABELS = {
    "customer": "Customer",
    "name": "Name",
    "slug": "Slug",
    "description": "Description",
    "license": "License",
    "deployment_zone": "Deployment zone",
    "license_start": "License start",
    "license_end": "License end",
    "metadata": "Metadata",
}
SLUG_MAX = 63
# date_input's own default window is ten years around its value; licenses can be longer.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


@dataclass(frozen=True)
class InstanceInput:
    """What the form holds: the arguments of ``kaiten.instances.create`` as typed."""

    customer: str | None
    name: str
    slug: str
    description: str
    license: str | None
    deployment_zone: str | None
    license_start: date | None
    license_end: date | None
    metadata: str

    @classmethod
    def of(cls, instance: ka.Instance) -> InstanceInput:
        """Return the form's values for an existing instance."""
        return cls(
            customer=instance.customer, name=instance.name, slug=instance.slug,
            description=instance.description, license=instance.license,
            deployment_zone=instance.deployment_zone, license_start=instance.license_start,
            license_end=instance.license_end, metadata=metadata_text(instance.metadata),
        )

    def arguments(self) -> dict[str, Any]:
        """Return the keyword arguments for ``kaiten.instances.create``.

        An empty slug is filled from the name, as the form's help text promises.
        """
        values = asdict(self)
        values["slug"] = self.slug.strip() or suggest_slug(self.name)
        return values

    def changes(self, before: InstanceInput) -> dict[str, Any]:
        """Return the fields that differ from ``before`` (for ``kaiten.instances.update``)."""
        after, previous = self.arguments(), asdict(before)
        changed = {key: value for key, value in after.items() if value != previous[key]}
        if "metadata" in changed and _same_json(after["metadata"], previous["metadata"]):
            del changed["metadata"]  # reformatted, not changed
        return changed


def suggest_slug(name: str) -> str:
    """Return a URL-safe slug for ``name``: ``"Acme EU (prod)"`` → ``"acme-eu-prod"``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:SLUG_MAX].rstrip("-")


def metadata_text(metadata: dict[str, Any]) -> str:
    """Return metadata as the indented JSON text the form edits."""
    return json.dumps(metadata, indent=2, ensure_ascii=False) if metadata else "{}"


def _same_json(text: str, other: str) -> bool:
    try:
        return json.loads(text) == json.loads(other)
    except json.JSONDecodeError:
        return False


def render_instance_form(
    key: str,
    initial: InstanceInput,
    *,
    submit_label: str,
    customers: dict[str, str],
    licenses: dict[str, str],
    zones: dict[str, str],
    customer_fixed: bool = False,
) -> InstanceInput | None:
    """Draw the instance form; return what was typed when it is submitted, else None.

    ``customers``, ``licenses`` and ``zones`` map slug → name; ``customer_fixed`` shows the
    customer without letting it change (a customer's own Instances tab). Widget values are
    kept across reruns (the form does not clear on submit), so a refused input stays for the
    user to fix.
    """
    with st.form(key, enter_to_submit=False):
        left, right = st.columns(2)
        customer = left.selectbox(
            "Customer", list(customers), index=_index(list(customers), initial.customer),
            format_func=lambda slug: f"{customers[slug]} ({slug})", key=f"{key}_customer",
            disabled=customer_fixed,
        )
        name = right.text_input("Name", initial.name, key=f"{key}_name",
                                placeholder="e.g. Production")
        slug = left.text_input(
            "Slug", initial.slug, key=f"{key}_slug", placeholder="derived from the name",
            help="URL-safe: lowercase letters, digits and '-'. Leave empty to derive it from "
                 "the name.",
        )
        description = right.text_input("Description", initial.description,
                                        key=f"{key}_description")
        license = left.selectbox(
            "License", list(licenses), index=_index(list(licenses), initial.license),
            format_func=lambda slug: f"{licenses[slug]} ({slug})", key=f"{key}_license",
        )
        zone_options: list[str | None] = [None, *zones]
        deployment_zone = right.selectbox(
            "Deployment zone (optional)", zone_options,
            index=_index(zone_options, initial.deployment_zone) or 0,
            format_func=lambda slug: "— none —" if slug is None else f"{zones[slug]} ({slug})",
            key=f"{key}_zone",
        )
        license_start = left.date_input("License start", initial.license_start,
                                        min_value=EARLIEST, max_value=LATEST,
                                        key=f"{key}_start")
        license_end = right.date_input("License end", initial.license_end,
                                       min_value=EARLIEST, max_value=LATEST, key=f"{key}_end")
        metadata = st.text_area(
            "Metadata (JSON object)", initial.metadata, key=f"{key}_metadata", height=140,
            placeholder='{"region": "eu"}',
            help="Custom key-value data for this instance; feature-flag rules can target it "
                 "as instance.metadata.<key>.",
        )
        submitted = st.form_submit_button(submit_label, type="primary")
    if not submitted:
        return None
    return InstanceInput(
        customer=customer, name=name or "", slug=slug or "", description=description or "",
        license=license, deployment_zone=deployment_zone, license_start=license_start,
        license_end=license_end, metadata=metadata or "",
    )


def _index(options: list[Any], value: Any) -> int | None:
    return options.index(value) if value in options else None
