"""``kaiten console``: start the Streamlit console, safe by default on the network.

With no sign-in configured the console is open — anyone who reaches it is an admin — so it
serves ``127.0.0.1`` only, and serving another address is refused unless ``--insecure-open``
says so. Sign-in is configured the Streamlit way: an ``[auth]`` section in
``.streamlit/secrets.toml`` of the directory the command is started in, of the directory
beside the console's entry script, or ``~/.streamlit/secrets.toml`` — the files Streamlit
itself reads. Streamlit is started in the start directory, so those are the files it reads,
and ``sqlite:///kaiten.db`` (the default database) is a file there too.

This module runs Streamlit as a child process and never imports it.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import os
import subprocess
import sys
import tomllib
from pathlib import Path

LOOPBACK = "127.0.0.1"
#: Streamlit's own cookie-signing rule is only "set it"; a short one is guessable.
MIN_COOKIE_SECRET = 32
_ADDRESS_FLAG = "--server.address"
INSTALL_HINT = 'pip install "kaiten-analytics[console]"'


class ConsoleRefused(Exception):
    """The console will not start as asked; the message says what to do instead."""


def add_parser(commands: argparse._SubParsersAction, url_parent: argparse.ArgumentParser
               ) -> None:
    """Add ``kaiten console`` to the ``kaiten`` command's subcommands."""
    console = commands.add_parser(
        "console", parents=[url_parent], help="start the Streamlit console",
        description="Start the console. Options it does not know go to `streamlit run` "
                    "(e.g. --server.headless true). Without sign-in configured it serves "
                    "127.0.0.1 only.")
    console.add_argument("--port", type=int, default=8501)
    console.add_argument(
        "--insecure-open", action="store_true",
        help="serve a non-loopback --server.address with no sign-in configured: anyone "
             "who can reach it is an admin")


def entry_script() -> Path:
    """Return the console's entry script, ``kaiten_console/app.py`` of the installed package.

    Found without importing the console (the library never imports Streamlit); raises
    ``ConsoleRefused`` saying what to install when the console or Streamlit is missing.
    """
    console = importlib.util.find_spec("kaiten_console")
    if console is None or console.origin is None:
        raise ConsoleRefused(f"the console package is not installed: {INSTALL_HINT}")
    if importlib.util.find_spec("streamlit") is None:
        raise ConsoleRefused(f"the console needs Streamlit, which is not installed: {INSTALL_HINT}")
    return Path(console.origin).resolve().parent / "app.py"


def streamlit_dirs(start: Path, app: Path) -> list[Path]:
    """The ``.streamlit`` directories Streamlit reads, lowest precedence first."""
    dirs = [Path.home() / ".streamlit", start / ".streamlit", app.parent / ".streamlit"]
    return list(dict.fromkeys(path.resolve() for path in dirs))


def _read_toml(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConsoleRefused(f"{path} is not valid TOML: {error}") from error


def sign_in_section(start: Path, app: Path) -> tuple[Path, dict] | None:
    """Return (file, ``[auth]`` table) of the sign-in configuration Streamlit will use, or None.

    A ``cookie_secret`` shorter than 32 characters is refused: it signs the identity cookie
    and must be random (``python -c "import secrets; print(secrets.token_hex(32))"``).
    """
    found = None
    for directory in streamlit_dirs(start, app):
        path = directory / "secrets.toml"
        auth = _read_toml(path).get("auth")
        if isinstance(auth, dict):
            found = (path, auth)  # a later file wins, as in Streamlit
    if found is not None:
        path, auth = found
        if len(str(auth.get("cookie_secret", ""))) < MIN_COOKIE_SECRET:
            raise ConsoleRefused(
                f"[auth] in {path} needs a cookie_secret of at least {MIN_COOKIE_SECRET} random "
                'characters: python -c "import secrets; print(secrets.token_hex(32))"')
    return found


def requested_address(streamlit_args: list[str], start: Path, app: Path) -> str | None:
    """The address asked for: ``--server.address``, else ``$STREAMLIT_SERVER_ADDRESS``, else a
    ``config.toml``'s ``[server] address`` (Streamlit's order); None when nothing asks."""
    for index, arg in enumerate(streamlit_args):
        if arg == _ADDRESS_FLAG and index + 1 < len(streamlit_args):
            return streamlit_args[index + 1]
        if arg.startswith(_ADDRESS_FLAG + "="):
            return arg.split("=", 1)[1]
    if os.environ.get("STREAMLIT_SERVER_ADDRESS"):
        return os.environ["STREAMLIT_SERVER_ADDRESS"]
    address = None
    for directory in streamlit_dirs(start, app):
        server = _read_toml(directory / "config.toml").get("server", {})
        if isinstance(server, dict) and server.get("address"):
            address = str(server["address"])
    return address


def is_loopback(address: str) -> bool:
    """True for ``localhost`` and 127.0.0.0/8 or ``::1``; False for everything else."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def refusal(address: str, start: Path) -> str:
    """The message for serving ``address`` with no sign-in configured."""
    return (
        f"kaiten console: refusing to serve {address} without sign-in: with no sign-in "
        "configured anyone who can reach the console is an admin, so it serves this machine "
        f"only ({LOOPBACK}).\n"
        "To serve the network, configure sign-in first:\n"
        f"  1. add an [auth] section (OpenID Connect) to {start / '.streamlit' / 'secrets.toml'} "
        "or ~/.streamlit/secrets.toml — redirect_uri, cookie_secret (32+ random bytes), "
        "client_id, client_secret, server_metadata_url; see the README's \"Sign-in\" section;\n"
        "  2. give yourself a role: kaiten users add YOU@EXAMPLE.COM --role admin\n"
        "Or pass --insecure-open to serve it with no sign-in anyway (anyone who can reach it "
        "can change everything)."
    )


def streamlit_command(args: argparse.Namespace, streamlit_args: list[str],
                      start: Path | None = None) -> list[str]:
    """Return the ``streamlit run`` command for ``kaiten console``; raise ``ConsoleRefused``.

    The address is always passed explicitly (a command-line flag beats every config file),
    so nothing but what was checked here can open the console to the network.
    """
    start = start or Path.cwd()
    app = entry_script()
    if not app.exists():
        raise ConsoleRefused(f"the console's entry script {app} is missing")
    extra = [arg for arg in streamlit_args if arg != "--"]
    address = requested_address(extra, start, app) or LOOPBACK
    signed_in = sign_in_section(start, app) is not None
    if not signed_in and not is_loopback(address):
        if not args.insecure_open:
            raise ConsoleRefused(refusal(address, start))
        print("\n" + "!" * 78 + f"\n!! kaiten console --insecure-open: serving {address} with "
              "NO SIGN-IN.\n!! Anyone who can reach it is an admin and can change or delete "
              "everything.\n" + "!" * 78 + "\n", file=sys.stderr)
    without_address = []
    skip = False
    for arg in extra:
        if skip:
            skip = False
        elif arg == _ADDRESS_FLAG:
            skip = True
        elif not arg.startswith(_ADDRESS_FLAG + "="):
            without_address.append(arg)
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.port", str(args.port), _ADDRESS_FLAG, address,
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
        *without_address,
    ]


def run(args: argparse.Namespace, streamlit_args: list[str]) -> int:
    """Start the console in the current directory and wait for it; return its exit status."""
    try:
        command = streamlit_command(args, streamlit_args)
    except ConsoleRefused as refused:
        message = str(refused)
        print(message if message.startswith("kaiten") else f"kaiten console: {message}",
              file=sys.stderr)
        return 2
    env = dict(os.environ)
    if args.url:
        env["KAITEN_DATABASE_URL"] = args.url
    return subprocess.call(command, env=env)
