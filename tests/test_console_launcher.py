"""``kaiten console`` is safe by default: loopback only without sign-in, the rest refused."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kaiten_analytics import cli_console

KAITEN = str(Path(sys.executable).parent / "kaiten")
AUTH = """
[auth]
redirect_uri = "https://console.example.com/oauth2callback"
cookie_secret = "{secret}"
client_id = "kaiten-console"
client_secret = "s3cret"
server_metadata_url = "https://id.example.com/.well-known/openid-configuration"
"""


@pytest.fixture
def start(tmp_path, monkeypatch) -> Path:
    """An empty start directory, and a home without ~/.streamlit."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("STREAMLIT_SERVER_ADDRESS", raising=False)
    directory = tmp_path / "start"
    directory.mkdir()
    return directory


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def command(start: Path, *streamlit_args: str, insecure_open: bool = False) -> list[str]:
    args = argparse.Namespace(port=8501, insecure_open=insecure_open, url=None)
    return cli_console.streamlit_command(args, list(streamlit_args), start)


def option(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_without_sign_in_it_serves_loopback_with_no_toolbar_or_statistics(start):
    cmd = command(start, "--", "--server.headless", "true")
    assert option(cmd, "--server.address") == "127.0.0.1"
    assert option(cmd, "--client.toolbarMode") == "viewer"
    assert option(cmd, "--browser.gatherUsageStats") == "false"
    assert cmd[-2:] == ["--server.headless", "true"] and "--" not in cmd


def test_binding_the_network_without_sign_in_exits_non_zero_saying_how(start):
    result = subprocess.run([KAITEN, "console", "--server.address", "0.0.0.0"], cwd=start,
                            capture_output=True, text=True, timeout=60, env=os.environ)
    assert result.returncode == 2
    assert "refusing to serve 0.0.0.0 without sign-in" in result.stderr
    assert str(start / ".streamlit" / "secrets.toml") in result.stderr
    assert "kaiten users add" in result.stderr and "--insecure-open" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("ask", [("--server.address=192.168.1.5",), ("--server.address", "::"),
                                 ("--server.address", "console.example.com")])
def test_every_non_loopback_address_is_refused_without_sign_in(start, ask):
    with pytest.raises(cli_console.ConsoleRefused, match="without sign-in"):
        command(start, *ask)


def test_an_address_from_config_toml_or_the_environment_is_checked_too(start, monkeypatch):
    write(start / ".streamlit" / "config.toml", '[server]\naddress = "0.0.0.0"\n')
    with pytest.raises(cli_console.ConsoleRefused):
        command(start)
    (start / ".streamlit" / "config.toml").unlink()
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "10.0.0.1")
    with pytest.raises(cli_console.ConsoleRefused):
        command(start)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_addresses_are_served_without_sign_in(start, address):
    assert option(command(start, "--server.address", address), "--server.address") == address


def test_insecure_open_overrides_loudly(start, capsys):
    cmd = command(start, "--server.address", "0.0.0.0", insecure_open=True)
    assert option(cmd, "--server.address") == "0.0.0.0"
    assert cmd.count("--server.address") == 1
    assert "NO SIGN-IN" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["start", "home"])
def test_with_sign_in_configured_the_network_may_be_served(start, where):
    secrets = (start if where == "start" else Path(os.environ["HOME"])) / ".streamlit"
    write(secrets / "secrets.toml", AUTH.format(secret="a" * 64))
    assert option(command(start, "--server.address", "0.0.0.0"), "--server.address") == "0.0.0.0"
    assert option(command(start), "--server.address") == "127.0.0.1"  # still the default


def test_a_short_cookie_secret_is_refused(start):
    write(start / ".streamlit" / "secrets.toml", AUTH.format(secret="tooshort"))
    with pytest.raises(cli_console.ConsoleRefused, match="cookie_secret of at least 32"):
        command(start)


def test_secrets_without_auth_are_no_sign_in(start):
    write(start / ".streamlit" / "secrets.toml", 'db_url = "sqlite:///x.db"\n')
    with pytest.raises(cli_console.ConsoleRefused):
        command(start, "--server.address", "0.0.0.0")


def test_malformed_secrets_are_reported(start):
    write(start / ".streamlit" / "secrets.toml", "[auth\n")
    with pytest.raises(cli_console.ConsoleRefused, match="not valid TOML"):
        command(start)
