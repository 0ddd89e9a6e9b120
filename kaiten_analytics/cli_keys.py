"""``kaiten keys create|list|revoke``: API keys of the REST API."""

from __future__ import annotations

import argparse

import kaiten_analytics as ka


def add_parser(commands, url_parent: argparse.ArgumentParser) -> None:
    """Add ``keys`` and its subcommands to the ``kaiten`` parser."""
    keys = commands.add_parser("keys", help="API keys of the REST API")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    create = sub.add_parser("create", parents=[url_parent],
                            help="create a key; prints the key alone, once")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=ka.API_KEY_ROLES)
    create.add_argument("--customer", default=None,
                        help="slug of the only customer the key sees (default: all)")
    sub.add_parser("list", parents=[url_parent], help="list keys (never their secrets)")
    revoke = sub.add_parser("revoke", parents=[url_parent], help="revoke a key at once")
    revoke.add_argument("name")


def run(args: argparse.Namespace, kaiten: ka.Kaiten) -> int:
    """Run a ``keys`` subcommand; return the exit status."""
    if args.keys_command == "create":
        key = kaiten.keys.create(args.name, args.role, customer=args.customer)
        print(key.secret)  # alone on stdout, so `KEY=$(kaiten keys create …)` works
        return 0
    if args.keys_command == "list":
        frame = kaiten.keys.list()
        if frame.empty:
            print("no API keys")
        else:
            print(frame.to_string(index=False))
        return 0
    key = kaiten.keys.revoke(args.name)
    print(f"revoked {key.name} ({key.prefix}…)")
    return 0
