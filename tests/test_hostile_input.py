"""The classes of hostile input a fuzzer found, each refused at the door as a KaitenError.

A non-string slug is a ``ValidationError``; a string that is not slug-shaped (a NUL byte, a
lone surrogate, upper case, too long) names nothing: ``NotFoundError``, without a query. Text
with NUL or other control characters, over-long or path-like time zones, numbers beyond a
float or a database integer: ``ValidationError``. Nothing is written by any of them.
"""

from __future__ import annotations

import pytest
from conftest import table_counts

import kaiten_analytics as ka

NOT_SLUGS = ["acme-prod\x00", "\x00", "acme\ud800", "ACME-PROD", "acme prod", "acme-prod\n",
             "a" * 64]
NOT_STRINGS = [{"a": 1}, ["acme-prod"], b"acme-prod", 3, 2.5, True, None]

LOOKUPS = {
    "instances.get": lambda k, v: k.instances.get(v),
    "instances.list": lambda k, v: k.instances.list(customer=v),
    "instances.delete": lambda k, v: k.instances.delete(v),
    "usage.report": lambda k, v: k.usage.report("acme-prod", v, 1),
    "usage.get_value": lambda k, v: k.usage.get_value(v, "seats"),
    "usage.summary": lambda k, v: k.usage.summary(v),
    "audit.stats": lambda k, v: k.audit.stats("acme-prod", entitlement=v),
    "audit.value_over_time": lambda k, v: k.audit.value_over_time("acme-prod", v),
    "flags.get": lambda k, v: k.flags.get(v),
    "flags.evaluate_all": lambda k, v: k.flags.evaluate_all(v),
    "fleet.consumption": lambda k, v: k.fleet.consumption(license=v),
    "entitlements.list": lambda k, v: k.entitlements.list(license=v),
    "keys.revoke": lambda k, v: k.keys.revoke(v),
    "usage.at(instance)": lambda k, v: k.usage.at(v, "seats", "2026-01-01T00:00:00Z"),
    "usage.at(entitlement)": lambda k, v: k.usage.at("acme-prod", v, "2026-01-01T00:00:00Z"),
    "usage.check": lambda k, v: k.usage.check("acme-prod", v, 1),
    "usage.get_value(entitlement)": lambda k, v: k.usage.get_value("acme-prod", v),
    "audit.trail": lambda k, v: k.audit.trail(v),
    "audit.events": lambda k, v: k.audit.events(v),
    "audit.count": lambda k, v: k.audit.count("acme-prod", entitlement=v),
    "audit.timeline": lambda k, v: k.audit.timeline(v),
    "audit.value_over_time(instance)": lambda k, v: k.audit.value_over_time(v, "seats"),
    "instances.update": lambda k, v: k.instances.update(v, name="x"),
    "flags.evaluate(key)": lambda k, v: k.flags.evaluate(v, "acme-prod"),
    "flags.exposure": lambda k, v: k.flags.exposure(v),
    "fleet.burn_down": lambda k, v: k.fleet.burn_down(license=v),
    "customers.summary": lambda k, v: k.customers.summary(v),
}


NONE_IS_NO_FILTER = {"instances.list", "fleet.consumption", "entitlements.list", "audit.stats",
                     "audit.count", "fleet.burn_down", "customers.summary"}


def test_a_lookup_of_a_string_that_is_not_a_slug_is_not_found(catalogue):
    before = table_counts(catalogue)
    for name, call in LOOKUPS.items():
        for value in NOT_SLUGS:
            with pytest.raises(ka.NotFoundError) as info:
                call(catalogue, value)
            assert len(str(info.value)) < 120, f"{name}: the message shows a shortened value"
    assert table_counts(catalogue) == before


def test_a_lookup_of_a_non_string_is_a_validation_error(catalogue):
    before = table_counts(catalogue)
    for name, call in LOOKUPS.items():
        for value in NOT_STRINGS:
            if value is None and name in NONE_IS_NO_FILTER:
                continue
            with pytest.raises(ka.ValidationError):
                call(catalogue, value)
    assert table_counts(catalogue) == before


def test_a_batch_with_an_unhashable_slug_is_refused_before_hashing(catalogue):
    with pytest.raises(ka.ValidationError) as info:
        catalogue.usage.report_many([("acme-prod", "seats", 1), ({"a": 1}, "seats", 1)])
    assert info.value.field == "reports[1].instance"
    with pytest.raises(ka.ValidationError) as info:
        catalogue.usage.report_many(None)
    assert info.value.field == "reports"


def test_names_and_descriptions_refuse_nul_control_characters_and_surrogates(catalogue):
    before = table_counts(catalogue)
    for text in ["Acme\x00", "Acme\x1b[31m", "Acme\ud800", "Acme\x7f", "Ac\x85me"]:
        with pytest.raises(ka.ValidationError) as info:
            catalogue.customers.create("new-co", text)
        assert info.value.field == "name"
        with pytest.raises(ka.ValidationError) as info:
            catalogue.instances.create("acme", "Fine", "new-inst", "pro", description=text)
        assert info.value.field == "description"
    assert table_counts(catalogue) == before


def test_json_values_refuse_nul_and_surrogates(catalogue):
    """JSON escapes other control characters; NUL (PostgreSQL's jsonb) and surrogates not."""
    before = table_counts(catalogue)
    for text in ["Acme\x00", "Acme\ud800", "\udfffAcme\ud800"]:
        with pytest.raises(ka.ValidationError) as info:
            catalogue.instances.create("acme", "Fine", "new-inst", "pro", metadata={"k": text})
        assert info.value.field == "metadata"
        with pytest.raises(ka.ValidationError) as info:
            catalogue.instances.create("acme", "Fine", "new-inst", "pro", metadata={text: 1})
        assert info.value.field == "metadata"
        with pytest.raises(ka.ValidationError) as info:
            catalogue.flags.create("new-flag", "Fine", "string", text)
        assert info.value.field == "default_value"
    assert table_counts(catalogue) == before
    flag = catalogue.flags.create("new-flag", "Fine", "string", "bell\x07")
    assert catalogue.flags.get("new-flag").default_value == flag.default_value == "bell\x07"


def test_free_text_keeps_tabs_and_line_breaks(catalogue):
    instance = catalogue.instances.create("acme", "Fine", "new-inst", "pro",
                                          description="line one\n\tline two\r\n")
    assert instance.description == "line one\n\tline two\r\n"


def test_a_slug_with_a_trailing_line_break_is_refused(kaiten):
    with pytest.raises(ka.ValidationError) as info:
        kaiten.customers.create("acme\n", "Acme")
    assert info.value.field == "slug"


def test_odd_time_zones_are_refused_before_zoneinfo(catalogue):
    for tz in ["a" * 300, "Europe/" + "B" * 100, "America", "../etc/passwd", "/etc/localtime",
               "Europe/Berlin\x00", "Etc/../UTC", "Europe//Berlin", 3, None, ["UTC"]]:
        with pytest.raises(ka.ValidationError) as info:
            catalogue.audit.stats("acme-prod", tz=tz)
        assert info.value.field == "tz"
        with pytest.raises(ka.ValidationError):
            catalogue.today(tz)
    assert catalogue.audit.stats("acme-prod", tz="America/Argentina/ComodRivadavia").total == 0


HOSTILE_NUMBERS = [
    lambda k: k.webhooks.get(2**40),
    lambda k: k.webhooks.attempts(2**64),
    lambda k: k.webhooks.enable("²"),
    lambda k: k.webhooks.get("\u0663"),
    lambda k: k.audit.trail("acme-prod", offset=2**63),
    lambda k: k.usage.report("acme-prod", "seats", 10**400),
    lambda k: k.usage.purge_keys(older_than_hours=[]),
    lambda k: k.usage.purge_keys(older_than_hours=float("nan")),
    lambda k: k.keys.create("new-key", ["admin"]),
]


def test_numbers_beyond_range_and_wrong_types_are_validation_errors(catalogue):
    for call in HOSTILE_NUMBERS:
        with pytest.raises(ka.ValidationError):
            call(catalogue)


def test_a_report_beyond_the_largest_exact_number_is_refused(catalogue):
    """Two reports of 1e308 would sum to infinity, which no stored aggregate can be."""
    before = table_counts(catalogue)
    for value in (1e308, -1e308, 2.0**53 + 2, 10**16):
        with pytest.raises(ka.ValidationError) as info:
            catalogue.usage.report("acme-prod", "api-calls", value)
        assert info.value.field == "value"
    assert table_counts(catalogue) == before
    assert catalogue.usage.report("acme-prod", "api-calls", 2**53).status == "ACCEPTED"


def test_a_huge_purge_age_keeps_every_key(catalogue):
    catalogue.usage.report("acme-prod", "seats", 1, idempotency_key="k1")
    assert catalogue.usage.purge_keys(older_than_hours=1e300) == 0


def test_a_secret_with_nul_or_surrogates_is_simply_unknown(catalogue):
    for secret in ["ka_\x00", "ka_\ud800" * 3, "ka_" + "é" * 32]:
        with pytest.raises(ka.NotFoundError):
            catalogue.keys.authenticate(secret)


def test_emails_with_control_characters_have_no_role_and_cannot_be_added(catalogue):
    assert catalogue.users.role_of("ada\x00@example.com") is None
    with pytest.raises(ka.ValidationError):
        catalogue.users.add("ada\ud800@example.com", "admin")
