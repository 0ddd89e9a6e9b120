"""The ``kaiten`` command: database upgrades, demo data, the console."""

from __future__ import annotations

import argparse
import sys
from contextlib import closing

import kaiten_analytics as ka
from kaiten_analytics import cli_api, cli_console, cli_keys, cli_users, cli_warehouse, cli_webhooks


def main(argv: list[str] | None = None) -> int:
    """Run the ``kaiten`` command line; return its exit status."""
    # --url is accepted before or after the command: `kaiten --url X demo` = `kaiten demo --url X`
    url = argparse.ArgumentParser(add_help=False)
    url.add_argument("--url", default=argparse.SUPPRESS,
                     help="database URL (default $KAITEN_DATABASE_URL, else sqlite:///kaiten.db)")
    parser = argparse.ArgumentParser(prog="kaiten", description=__doc__, parents=[url])
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="migrate the database to the newest schema",
                           parents=[url])
    purge = db_commands.add_parser("purge-keys", help="delete expired idempotency keys",
                                   parents=[url])
    purge.add_argument("--older-than-hours", type=float, default=None)

    demo = commands.add_parser("demo", help="fill the database with demo data", parents=[url])
    demo.add_argument("--customers", type=int, default=5)
    demo.add_argument("--instances", type=int, default=30)
    demo.add_argument("--events", type=int, default=20_000,
                      help="audit events of history to generate (default 20,000)")
    demo.add_argument("--big-instance-events", type=int, default=0,
                      help="events for one extra large instance (the scale target: 1,000,000)")
    demo.add_argument("--days", type=int, default=90, help="days of history (default 90)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--if-empty", action="store_true",
                      help="do nothing when the database already has customers")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")

    cli_users.add_parser(commands, url)
    cli_webhooks.add_parser(commands, url)

    cli_console.add_parser(commands, url)

    cli_keys.add_parser(commands, url)
    cli_api.add_parser(commands, url)
    cli_warehouse.add_parser(commands, url)

    # `kaiten console` hands the options it does not know to `streamlit run`
    args, unknown = parser.parse_known_args(argv)
    if unknown and args.command != "console":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.streamlit_args = unknown
    args.url = getattr(args, "url", None)
    try:
        return _run(args)
    except ka.KaitenError as error:
        print(f"kaiten: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "console":
        return cli_console.run(args, args.streamlit_args)
    if args.command == "api":
        return cli_api.run(args)
    if args.command == "warehouse":
        with closing(cli_warehouse.connect(args)) as kaiten:
            return cli_warehouse.run(args, kaiten)
    kaiten = ka.connect(args.url)
    try:
        return _run_with(kaiten, args)
    finally:
        kaiten.close()


def _run_with(kaiten: ka.Kaiten, args: argparse.Namespace) -> int:
    if args.command == "users":
        return cli_users.run(args, kaiten)
    if args.command == "keys":
        return cli_keys.run(args, kaiten)
    if args.command == "webhooks":
        return cli_webhooks.run(args, kaiten)
    if args.command == "db":
        if args.db_command == "upgrade":
            print(f"{kaiten.url}: at the newest schema")
        else:
            removed = kaiten.usage.purge_keys(older_than_hours=args.older_than_hours)
            print(f"removed {removed} expired idempotency keys")
        return 0
    if args.if_empty and len(kaiten.customers.list()):
        print(f"{kaiten.url} already has data; leaving it as it is")
        return 0
    summary = kaiten.demo.build(customers=args.customers, instances=args.instances,
                                events=args.events,
                                big_instance_events=args.big_instance_events, days=args.days,
                                seed=args.seed, progress=not args.quiet)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
