"""The error tree: one base, fields named, pickling, and the IntegrityError translation."""

from __future__ import annotations

import pickle

import pytest
import sqlalchemy as sa

import kaiten_analytics as ka
from kaiten_analytics.db.errors import translate_integrity_error


@pytest.mark.parametrize(
    "error",
    [
        ka.ValidationError("slug", "must be URL-safe"),
        ka.NotFoundError("instance", "acme-prod"),
        ka.ConflictError("idempotency_key", "reused with a different request"),
    ],
)
def test_errors_derive_from_the_base_and_survive_pickling(error):
    assert isinstance(error, ka.KaitenError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.field == error.field


def test_unique_violation_is_translated_to_conflict_on_both_engines(kaiten):
    kaiten.customers.create("acme", "Acme")
    from kaiten_analytics.db.models import customers

    with pytest.raises(sa.exc.IntegrityError) as info, kaiten.db.engine.begin() as connection:
        connection.execute(customers.insert().values(slug="acme", name="Again",
                                                     created_at=kaiten.db.now()))
    translated = translate_integrity_error(info.value)
    assert isinstance(translated, ka.ConflictError)
    assert translated.field == "slug"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "value: is required: a finite number"),
        ("5", "value: must be a finite number, got str"),
        (float("nan"), "value: must be a finite number, got nan"),
        (True, "value: must be a finite number, got bool"),
    ],
)
def test_a_refused_usage_value_says_what_was_wrong(catalogue, value, message):
    with pytest.raises(ka.ValidationError) as info:
        catalogue.usage.report("acme-prod", "m-sum", value)
    assert (info.value.field, str(info.value)) == ("value", message)
