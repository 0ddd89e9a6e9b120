"""How JSON columns are decoded: orjson, with the standard library where orjson would differ.

orjson decodes several times faster than :mod:`json`, which matters on the report path (a
usage value and a license value are decoded while the write lock is held). It decodes an
integer past 64 bits as a float, without an error, so text holding 19 or more digits in a row
is decoded by :mod:`json`, which keeps every integer exact; text orjson refuses (``NaN``, say,
which no input check lets in) gets the standard library's answer too.

Values are still encoded by :mod:`json` (SQLAlchemy's default): on SQLite the stored text is
what the audit log's search matches (``"value": 9``, the spacing PostgreSQL's ``jsonb`` text
has), and orjson writes only compact JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

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
