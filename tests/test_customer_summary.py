"""``kaiten.customers.summary``: live instance counts and license mix per customer (in SQL)."""

from __future__ import annotations

import pytest

import kaiten_analytics as ka


def test_summary_counts_live_instances_and_their_license_mix(catalogue):
    catalogue.customers.create("initech", "Initech")  # no instances at all
    catalogue.instances.create("acme", "Staging", "acme-staging", "pro")
    catalogue.instances.create("acme", "Edge", "acme-edge", "starter")
    catalogue.instances.create("acme", "Lab", "acme-lab", "starter")
    catalogue.instances.create("acme", "Old", "acme-old", "starter")
    catalogue.instances.delete("acme-old")  # deleted: not counted
    summary = catalogue.customers.summary()
    assert list(summary.columns) == ["slug", "name", "created_at", "instances", "licenses"]
    assert summary[["slug", "name", "instances"]].values.tolist() == [
        ["acme", "Acme Corp", 4], ["globex", "Globex", 1], ["initech", "Initech", 0]]
    # most instances first, ties by slug
    assert [list(mix.items()) for mix in summary["licenses"]] == [
        [("pro", 2), ("starter", 2)], [("starter", 1)], []]
    assert str(summary["instances"].dtype) == "int64"
    assert str(summary["created_at"].dt.tz) == "UTC"
    # the counts agree with the instance list
    listed = catalogue.instances.list()
    for row in summary.itertuples():
        mine = listed[listed["customer"] == row.slug]
        assert row.instances == len(mine)
        assert row.licenses == mine["license"].value_counts().to_dict()


def test_summary_of_one_customer_and_unknown_ones(catalogue):
    one = catalogue.customers.summary("globex")
    assert one[["slug", "instances"]].values.tolist() == [["globex", 1]]
    with pytest.raises(ka.NotFoundError):
        catalogue.customers.summary("nobody")
    with pytest.raises(ka.ValidationError):
        catalogue.customers.summary("")


def test_summary_of_an_empty_database(kaiten):
    empty = kaiten.customers.summary()
    assert empty.empty
    assert list(empty.columns) == ["slug", "name", "created_at", "instances", "licenses"]
