"""JSON columns decode with orjson where it is exact, and with the standard library elsewhere."""

from __future__ import annotations

import json

import pytest

from kaiten_analytics.db import json_text

HUGE = 2**70 + 1  # past 64 bits: orjson alone would answer a float


@pytest.mark.parametrize("text", [
    '{"type": "number", "value": 12.5, "event_count": 3}',
    '[1, 2.0, null, true, "é", {"a": []}]',
    f'{{"big": {HUGE}, "small": -{HUGE}}}',
    '"a string with 12345678901234567890 digits"',
    "NaN",
    "1e400",
])
@pytest.mark.parametrize("kind", [str, str.encode, lambda text: memoryview(text.encode())])
def test_loads_answers_what_the_standard_library_answers(text, kind):
    got, expected = json_text.loads(kind(text)), json.loads(text)
    assert repr(got) == repr(expected)  # repr: NaN == NaN, and 1 differs from 1.0


def test_integers_past_64_bits_stay_exact():
    assert json_text.loads(f"[{HUGE}]") == [HUGE]
    assert type(json_text.loads(f"[{HUGE}]")[0]) is int


def test_invalid_text_raises_value_error():
    with pytest.raises(ValueError):
        json_text.loads('{"unterminated": ')


def test_json_flag_values_round_trip_exactly(catalogue):
    """A stored JSON value reads back as written on both engines, big integers included."""
    value = {"limits": [HUGE, 2**53 + 1, 0.1, -3], "name": "é", "nested": {"ok": True}}
    catalogue.flags.create("tuning", "Tuning", "json", value)
    assert catalogue.flags.get("tuning").default_value == value


def test_a_search_finds_non_ascii_text_in_payloads_on_both_engines(catalogue):
    """Payloads are stored with non-ASCII characters as themselves, not as ``\\u`` escapes."""
    catalogue.licenses.create("intl", "International", {"support-tier": "Édition Première",
                                                        "api-calls": None})
    catalogue.instances.create("acme", "Lyon", "acme-lyon", "intl")
    catalogue.usage.get_value("acme-lyon", "support-tier")
    catalogue.usage.report("acme-lyon", "api-calls", 3, idempotency_key="clé-d'été")
    catalogue.usage.report("acme-lyon", "api-calls", 4)
    read = catalogue.audit.events("acme-lyon", search="Première")
    assert list(read["entitlement"]) == ["support-tier"]
    assert read["payload"].iloc[0]["value"] == "Édition Première"
    keyed = catalogue.audit.events("acme-lyon", search="d'été")
    assert list(keyed["payload"].map(lambda payload: payload["value"])) == [3]
    assert catalogue.audit.count("acme-lyon", search="è").count == 1  # the read, not the key
    assert json_text.dumps({"name": "é"}) == '{"name": "é"}' == json.dumps({"name": "é"},
                                                                          ensure_ascii=False)
