"""An OpenFeature provider serving Kaiten flags (needs ``kaiten-analytics[openfeature]``).

>>> from openfeature import api
>>> from openfeature.evaluation_context import EvaluationContext
>>> from kaiten_analytics.openfeature import KaitenProvider
>>> api.set_provider(KaitenProvider(kaiten))                       # doctest: +SKIP
>>> client = api.get_client()                                      # doctest: +SKIP
>>> client.get_boolean_value("new-billing", False,
...                          EvaluationContext(targeting_key="acme-prod"))  # doctest: +SKIP

The evaluation context's targeting key is the instance slug; the instance's own context
(customer, license, zone, metadata) comes from the database. Kaiten's reasons are OpenFeature's
(``DISABLED``, ``TARGETING_MATCH``, ``SPLIT``, ``DEFAULT``, ``ERROR``) and failures map to its
error codes:

=====================================  ==========================
situation                              error code
=====================================  ==========================
no flag with that key                  ``FLAG_NOT_FOUND``
no targeting key                       ``TARGETING_KEY_MISSING``
no live instance with that slug        ``INVALID_CONTEXT``
flag of another type than requested    ``TYPE_MISMATCH``
malformed stored rule or default       ``PARSE_ERROR``
any other library error                ``GENERAL``
=====================================  ==========================

On an error the SDK hands the caller its own default value. The variant names what served
the value (``rules[1]`` or ``default``); ``flag_metadata`` carries the rule index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from kaiten_analytics.client import Kaiten
from kaiten_analytics.errors import KaitenError, NotFoundError
from kaiten_analytics.flags.rules import ERROR

__all__ = ["KaitenProvider"]


class KaitenProvider(AbstractProvider):
    """Resolve OpenFeature flag evaluations with a connected :class:`~kaiten_analytics.Kaiten`.

    Parameters
    ----------
    kaiten
        The handle :func:`kaiten_analytics.connect` returned.
    """

    def __init__(self, kaiten: Kaiten) -> None:
        super().__init__()
        self.kaiten = kaiten

    def get_metadata(self) -> Metadata:
        """Name the provider."""
        return Metadata(name="Kaiten Analytics")

    def resolve_boolean_details(self, flag_key: str, default_value: bool,
                                evaluation_context: EvaluationContext | None = None,
                                ) -> FlagResolutionDetails[bool]:
        """Resolve a ``boolean`` flag."""
        return self._resolve(flag_key, default_value, evaluation_context, "boolean", bool)

    def resolve_string_details(self, flag_key: str, default_value: str,
                               evaluation_context: EvaluationContext | None = None,
                               ) -> FlagResolutionDetails[str]:
        """Resolve a ``string`` flag."""
        return self._resolve(flag_key, default_value, evaluation_context, "string", str)

    def resolve_integer_details(self, flag_key: str, default_value: int,
                                evaluation_context: EvaluationContext | None = None,
                                ) -> FlagResolutionDetails[int]:
        """Resolve a ``number`` flag whose value is a whole number (5.0 counts as 5)."""
        return self._resolve(flag_key, default_value, evaluation_context, "number", _integer)

    def resolve_float_details(self, flag_key: str, default_value: float,
                              evaluation_context: EvaluationContext | None = None,
                              ) -> FlagResolutionDetails[float]:
        """Resolve a ``number`` flag as a float."""
        return self._resolve(flag_key, default_value, evaluation_context, "number", float)

    def resolve_object_details(
        self, flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        """Resolve a ``json`` flag (a JSON object or array)."""
        return self._resolve(flag_key, default_value, evaluation_context, "json", _json)

    def _resolve(self, flag_key: str, default_value: Any,
                 evaluation_context: EvaluationContext | None, flag_type: str,
                 convert: Any) -> FlagResolutionDetails[Any]:
        slug = evaluation_context.targeting_key if evaluation_context else None
        if not slug:
            return _failure(default_value, ErrorCode.TARGETING_KEY_MISSING,
                            "the targeting key must be the instance slug")
        try:
            flag = self.kaiten.flags.get(flag_key)
            if flag.type != flag_type:
                return _failure(default_value, ErrorCode.TYPE_MISMATCH,
                                f"flag {flag_key!r} is a {flag.type} flag, "
                                f"not a {flag_type} flag")
            result = self.kaiten.flags.evaluate(flag_key, slug)
        except NotFoundError as error:
            code = ErrorCode.FLAG_NOT_FOUND if error.entity == "flag" else (
                ErrorCode.INVALID_CONTEXT)
            return _failure(default_value, code, str(error))
        except KaitenError as error:
            return _failure(default_value, ErrorCode.GENERAL, str(error))
        if result.reason == ERROR:
            return _failure(default_value, ErrorCode.PARSE_ERROR, result.error)
        try:
            value = convert(result.value)
        except (TypeError, ValueError, OverflowError) as error:
            return _failure(default_value, ErrorCode.TYPE_MISMATCH, str(error))
        return FlagResolutionDetails(
            value=value,
            reason=Reason(result.reason),
            variant="default" if result.rule is None else f"rules[{result.rule}]",
            flag_metadata={} if result.rule is None else {"rule": result.rule},
        )


def _failure(default_value: Any, code: ErrorCode, message: str | None
             ) -> FlagResolutionDetails[Any]:
    return FlagResolutionDetails(value=default_value, reason=Reason.ERROR, error_code=code,
                                 error_message=message)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise TypeError(f"{value!r} is not a whole number; resolve it as a float")
    return int(value)


def _json(value: Any) -> Any:
    if not isinstance(value, dict | list):
        raise TypeError(f"{value!r} is not a JSON object or array")
    return value
