"""Console users and roles (``kaiten.users``, ``kaiten users``) and the read-only handle."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import table_counts
from cryptography.fernet import Fernet

import kaiten_analytics as ka
from kaiten_analytics.cli import main


def test_add_normalises_the_email_and_role_of_finds_it_in_any_case(kaiten):
    user = kaiten.users.add("  Ada.Lovelace@Example.COM ", "Admin")
    assert (user.email, user.role) == ("ada.lovelace@example.com", "admin")
    assert kaiten.users.role_of("ADA.LOVELACE@example.com") == "admin"
    assert kaiten.users.role_of("someone@example.com") is None
    assert kaiten.users.role_of(None) is None
    assert kaiten.users.role_of("not an email") is None


def test_adding_again_changes_the_role_and_keeps_one_row(kaiten, clock):
    first = kaiten.users.add("bob@example.com", "admin")
    clock.advance(minutes=5)
    second = kaiten.users.add("BOB@example.com", "viewer")
    assert kaiten.users.role_of("bob@example.com") == "viewer"
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    listed = kaiten.users.list()
    assert list(listed.columns) == ["email", "role", "created_at", "updated_at"]
    assert listed[["email", "role"]].values.tolist() == [["bob@example.com", "viewer"]]
    assert isinstance(listed["created_at"].dtype, pd.DatetimeTZDtype)


@pytest.mark.parametrize(("email", "role", "field"), [
    ("", "admin", "email"), ("no-at-sign", "admin", "email"), ("a@b", "admin", "email"),
    ("two@@example.com", "admin", "email"), ("sp ace@example.com", "viewer", "email"),
    ("x" * 250 + "@example.com", "admin", "email"), (None, "admin", "email"),
    ("ok@example.com", "owner", "role"), ("ok@example.com", None, "role"),
])
def test_bad_email_or_role_is_a_validation_error_and_writes_nothing(kaiten, email, role,
                                                                     field):
    with pytest.raises(ka.ValidationError) as info:
        kaiten.users.add(email, role)
    assert info.value.field == field
    assert kaiten.users.list().empty


def test_remove_takes_the_role_away_and_unknown_is_not_found(kaiten):
    kaiten.users.add("carol@example.com", "viewer")
    kaiten.users.remove("Carol@Example.com")
    assert kaiten.users.role_of("carol@example.com") is None
    with pytest.raises(ka.NotFoundError):
        kaiten.users.remove("carol@example.com")


def test_a_read_only_handle_reads_but_refuses_every_write(kaiten, catalogue):
    viewer = kaiten.read_only()
    before = kaiten.instances.list()
    assert viewer.instances.list().equals(before)
    assert viewer.instances.get("acme-prod").license == "pro"
    writes = [
        lambda: viewer.customers.create("newco", "New Co"),
        lambda: viewer.instances.create("acme", "New", "acme-new", "starter"),
        lambda: viewer.instances.update("acme-prod", name="Renamed"),
        lambda: viewer.instances.delete("globex-dev"),
        lambda: viewer.flags.create("dark-mode", "Dark mode", "boolean", False),
        lambda: viewer.users.add("eve@example.com", "admin"),
        lambda: viewer.usage.report("acme-prod", "seats", 3),
    ]
    for write in writes:
        with pytest.raises(ka.ReadOnlyError):
            write()
    assert kaiten.instances.list().equals(before)
    assert kaiten.customers.list()["slug"].tolist() == ["acme", "globex"]
    assert kaiten.flags.list().empty and kaiten.users.list().empty
    assert kaiten.audit.count("acme-prod").count == 0
    # the writable handle still writes
    kaiten.usage.report("acme-prod", "seats", 3)
    assert kaiten.audit.count("acme-prod").count == 1


def test_a_read_only_handle_refuses_key_and_webhook_writes(kaiten, catalogue, monkeypatch):
    monkeypatch.setenv("KAITEN_WEBHOOKS_SECRET_KEY", Fernet.generate_key().decode())
    kaiten.keys.create("ops", "admin")
    endpoint = kaiten.webhooks.add("https://hooks.example.com/kaiten").id
    kaiten.webhooks.send_test(endpoint)
    delivery = int(kaiten.webhooks.deliveries(endpoint)["id"].iloc[0])
    before = table_counts(kaiten)
    keys_before, endpoints_before = kaiten.keys.list(), kaiten.webhooks.list()
    deliveries_before = kaiten.webhooks.deliveries()
    viewer = kaiten.read_only()
    assert viewer.keys.list().equals(keys_before)
    assert viewer.webhooks.list().equals(endpoints_before)
    assert viewer.webhooks.deliveries().equals(deliveries_before)
    assert len(viewer.webhooks.attempts(delivery)) == 0
    writes = [
        lambda: viewer.keys.create("intruder", "admin"),
        lambda: viewer.keys.revoke("ops"),
        lambda: viewer.webhooks.add("https://evil.example.com/"),
        lambda: viewer.webhooks.remove(endpoint),
        lambda: viewer.webhooks.disable(endpoint),
        lambda: viewer.webhooks.enable(endpoint),
        lambda: viewer.webhooks.rotate_secret(endpoint),
        lambda: viewer.webhooks.send_test(endpoint),
        lambda: viewer.webhooks.retry(delivery),
    ]
    for write in writes:
        with pytest.raises(ka.ReadOnlyError):
            write()
    assert table_counts(kaiten) == before
    assert kaiten.keys.list().equals(keys_before)
    assert kaiten.webhooks.list().equals(endpoints_before)
    assert kaiten.webhooks.deliveries().equals(deliveries_before)


def test_kaiten_users_commands(database_url, capsys):
    assert main(["--url", database_url, "users", "add", "Dana@Example.com",
                 "--role", "admin"]) == 0
    assert "dana@example.com is a console admin" in capsys.readouterr().out
    assert main(["users", "list", "--url", database_url]) == 0
    assert "dana@example.com\tadmin" in capsys.readouterr().out
    assert main(["--url", database_url, "users", "remove", "dana@example.com"]) == 0
    capsys.readouterr()
    assert main(["--url", database_url, "users", "remove", "dana@example.com"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["--url", database_url, "users", "add", "nope", "--role", "viewer"]) == 2
    assert "email:" in capsys.readouterr().err
    assert main(["--url", database_url, "users", "list"]) == 0
    assert "kaiten users add EMAIL --role admin" in capsys.readouterr().out
