"""How the console shows a ``KaitenError``: a refused write beside its form, a failed read
where its content would be.

Every form (instances, usage reports, flags) and every write button calls the library and, on
a ``KaitenError``, shows it with :func:`show_refusal` next to where the input was typed. Forms
are not cleared on submit, so the input stays for the user to fix; the rule that refused it is
the library's, and the console never re-implements it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kaiten_analytics as ka

ICON = ":material/error:"


def refusal_text(error: ka.KaitenError, labels: Mapping[str, str] | None = None) -> str:
    """Return what to say about ``error``.

    With ``labels`` (field → the form's label), the field the error names is shown by its
    label in bold, e.g. ``**Slug**: must be URL-safe …`` (a field without a label by its own
    name); without, the library's own message, e.g. ``rules[1].value: …``.
    """
    if labels is None:
        return str(error)
    field = getattr(error, "field", None)
    label = labels.get(field, field)
    reason = getattr(error, "reason", None) or error.message
    return f"**{label}**: {reason}" if label else reason


def show_refusal(area: Any, error: ka.KaitenError, *, heading: str | None = None,
                 labels: Mapping[str, str] | None = None) -> None:
    """Draw ``error`` as an error box in ``area`` (a column, a container, or ``st``).

    ``heading`` (e.g. "Could not save the changes.") goes on its own line above the message.
    """
    text = refusal_text(error, labels)
    area.error(f"{heading}\n\n{text}" if heading else text, icon=ICON)


def show_read_error(area: Any, what: str, error: ka.KaitenError, *,
                    hint: str | None = None) -> None:
    """Draw a read that failed: ``Cannot <what>: <the library's message>.`` in ``area``.

    ``hint`` (e.g. "Pick another one below.") follows the message.
    """
    text = f"Cannot {what}: {str(error).rstrip('.')}."
    area.error(f"{text} {hint}" if hint else text, icon=ICON)
