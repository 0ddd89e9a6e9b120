"""How JSON columns are encoded and decoded (every engine, the bulk writers, the warehouse).

orjson decodes several times faster than :mod:`json`, which matters on the report path (a
usage value and a license value are decoded while the write lock is held). It decodes an
integer past 64 bits as a float, without an error, so text holding 19 or more digits in a row
is decoded by :mod:`json`, which keeps every integer exact; text orjson refuses (``NaN``, say,
which no input check lets in) gets the standard library's answer too.

Values are encoded by :mod:`json`, not orjson: on SQLite the stored text is what the audit
log's search matches, so it is written as PostgreSQL's ``jsonb`` shows its text —
``"value": 9`` (orjson writes only compact JSON) and non-ASCII characters as themselves, not
as ``\\u`` escapes (a search for ``Première`` finds a license value ``Édition Première`` on
both engines). Every input that reaches a JSON column is checked for lone surrogates and NUL
first (:mod:`kaiten_analytics.fields`), so the text always encodes as UTF-8.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

#: ``json.dumps`` keeps one default encoder; an encoder with other options is built per call
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_BYTES = re.compile(rb"\d{19}")


def loads(text: str | bytes | bytearray | memoryview) -> Any:
    """Return the value of JSON ``text``; invalid JSON raises ``ValueError``."""
    if isinstance(text, memoryview):
        text = bytes(text)
    long_digits = _LONG_DIGITS if isinstance(text, str) else _LONG_DIGITS_BYTES
    if long_digits.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # what only the standard library reads, or truly invalid text
    return json.loads(text)


def dumps(value: Any) -> str:
    """Return ``value`` as the JSON text a JSON column stores (non-ASCII kept as it is)."""
    return _ENCODER.encode(value)
