"""``kaiten warehouse …``: sync the ClickHouse mirror, verify it, show its state."""

from __future__ import annotations

import argparse
import sys
import time

import kaiten_analytics as ka


def add_parser(commands: argparse._SubParsersAction, url_parent: argparse.ArgumentParser
               ) -> None:
    """Add the ``warehouse`` command and its subcommands."""
    warehouse = commands.add_parser(
        "warehouse", help="the ClickHouse mirror of the audit trail ($KAITEN_WAREHOUSE_URL)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--warehouse-url", default=None,
                        help="clickhouse://user@host:8123/db or chdb:///path "
                             "(default $KAITEN_WAREHOUSE_URL)")
    sub = warehouse.add_subparsers(dest="warehouse_command", required=True)
    sync = sub.add_parser("sync", help="copy new audit events and usage rows (idempotent)",
                          parents=[url_parent, common])
    sync.add_argument("--once", action="store_true",
                      help="copy what is new and exit (default: keep syncing)")
    sync.add_argument("--interval", type=float, default=5.0,
                      help="seconds between continuous syncs (default 5)")
    sync.add_argument("--batch-rows", type=int, default=None,
                      help=f"events per batch (default {ka.WAREHOUSE_BATCH_ROWS:,})")
    sync.add_argument("--from-start", action="store_true",
                      help="re-read the whole trail (after a backfill with a past clock)")
    sync.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("verify", help="compare counts per instance × day with the system of "
                                  "record; exit 1 on any difference",
                   parents=[url_parent, common])
    sub.add_parser("upgrade", help="create or upgrade the warehouse schema",
                   parents=[url_parent, common])
    sub.add_parser("status", help="schema version and watermarks", parents=[url_parent, common])


def connect(args: argparse.Namespace) -> ka.Kaiten:
    """Connect to the system of record and the warehouse the arguments name."""

    return ka.connect(args.url, warehouse_url=args.warehouse_url)


def run(args: argparse.Namespace, kaiten: ka.Kaiten) -> int:
    """Run one ``kaiten warehouse`` subcommand; return the exit status."""
    command = args.warehouse_command
    if command == "upgrade":
        print(f"warehouse {kaiten.warehouse.status()['database']}: at schema version "
              f"{kaiten.warehouse.status()['schema_version']}")
        return 0
    if command == "status":
        for key, value in kaiten.warehouse.status().items():
            print(f"{key}: {value}")
        return 0
    if command == "verify":
        differences = kaiten.warehouse.verify()
        if differences.empty:
            print("warehouse agrees with the system of record")
            return 0
        print(differences.to_string(index=False))
        print(f"{len(differences)} difference(s)", file=sys.stderr)
        return 1
    options = {"from_start": args.from_start}
    if args.batch_rows is not None:
        options["batch_rows"] = args.batch_rows
    while True:
        result = kaiten.warehouse.sync(progress=not args.quiet, **options)
        print(f"copied {result.events:,} new events ({result.events_read:,} read), "
              f"{result.usage_rows:,} usage rows; watermark {result.watermark or '-'}",
              flush=True)
        if args.once:
            return 0
        options["from_start"] = False
        time.sleep(args.interval)
