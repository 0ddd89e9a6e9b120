"""A text search folds the case of every letter on both engines, not only ASCII's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kaiten_analytics.db.text_match import contains_folded

COLUMN = sa.column("payload", sa.Text)


@pytest.fixture
def lyon(catalogue):
    catalogue.licenses.create("intl", "International", {"support-tier": "Édition Première",
                                                        "api-calls": None})
    catalogue.instances.create("acme", "Lyon", "acme-lyon", "intl")
    catalogue.usage.get_value("acme-lyon", "support-tier")
    catalogue.usage.report("acme-lyon", "api-calls", 3)
    return catalogue


@pytest.mark.parametrize("search", ["Première", "première", "PREMIÈRE", "ÉDITION PREMIÈRE",
                                    "édition"])
def test_non_ascii_letters_match_in_any_case(lyon, search):
    found = lyon.audit.events("acme-lyon", search=search)
    assert list(found["entitlement"]) == ["support-tier"]
    assert lyon.audit.count("acme-lyon", search=search).count == 1


@pytest.mark.parametrize("search", ["premiere", "Édition%", "Édition_Première", "Ème\\"])
def test_accents_wildcards_and_escapes_are_taken_literally(lyon, search):
    assert lyon.audit.events("acme-lyon", search=search).empty
    assert lyon.audit.count("acme-lyon", search=search).count == 0


def test_ascii_search_still_folds_case(lyon):
    found = lyon.audit.events("acme-lyon", search="API-CALLS")
    assert list(found["entitlement"]) == ["api-calls"]


def test_only_a_non_ascii_search_uses_the_folding_function():
    def sql(search, dialect):
        return str(contains_folded(COLUMN, search).compile(dialect=dialect))

    assert "ILIKE" in sql("calls", postgresql.dialect())
    assert "kaiten_lower" not in sql("calls", sqlite.dialect())
    assert sql("é", sqlite.dialect()).startswith("kaiten_lower(payload) LIKE")
    assert sql("é", postgresql.dialect()).startswith("lower(payload) LIKE")
