"""``kaiten webhooks …``: endpoints, deliveries, retry, send-test and the relay (``run``)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import kaiten_analytics as ka


def add_parser(commands: argparse._SubParsersAction, url_parent: argparse.ArgumentParser
               ) -> None:
    """Register ``kaiten webhooks`` and its subcommands."""
    webhooks = commands.add_parser("webhooks", help="webhook endpoints and the relay")
    sub = webhooks.add_subparsers(dest="webhooks_command", required=True)
    add = sub.add_parser("add", parents=[url_parent],
                         help="add an endpoint; prints its signing secret alone, once")
    add.add_argument("endpoint_url", metavar="URL")
    add.add_argument("--events", default=None,
                     help="comma-separated event types (default: every type)")
    add.add_argument("--description", default="")
    sub.add_parser("list", parents=[url_parent], help="list endpoints (never their secrets)")
    for name, text in (("remove", "remove an endpoint and its deliveries"),
                       ("rotate-secret", "print a new secret; the old one signs for 24 h more"),
                       ("enable", "enable an endpoint a 410 disabled"),
                       ("send-test", "queue a WEBHOOK_TEST message to the endpoint")):
        command = sub.add_parser(name, parents=[url_parent], help=text)
        command.add_argument("endpoint", type=int, metavar="ID")
    deliveries = sub.add_parser("deliveries", parents=[url_parent], help="recent deliveries")
    deliveries.add_argument("--endpoint", type=int, default=None)
    deliveries.add_argument("--status", default=None)
    deliveries.add_argument("--limit", type=int, default=50)
    retry = sub.add_parser("retry", parents=[url_parent], help="make a delivery due now")
    retry.add_argument("delivery", type=int, metavar="DELIVERY_ID")
    run_ = sub.add_parser("run", parents=[url_parent],
                          help="deliver until stopped (Ctrl-C / SIGTERM)")
    run_.add_argument("--once", action="store_true",
                      help="one attempt at every delivery due now, then exit")
    run_.add_argument("--timeout", type=float, default=15.0, help="seconds per attempt")
    run_.add_argument("--max-in-flight", type=int, default=8,
                      help="concurrent attempts per endpoint (default 8)")
    run_.add_argument("--lease", type=float, default=30.0,
                      help="seconds a claimed delivery is held before another relay may take "
                           "it (longer than --timeout, at most 30; default 30)")
    run_.add_argument("--poll-interval", type=float, default=0.2,
                      help="seconds between looks for new deliveries when idle (default 0.2)")


def run(args: argparse.Namespace, kaiten: ka.Kaiten) -> int:
    """Carry out ``kaiten webhooks …``; return the exit status."""
    hooks = kaiten.webhooks
    command = args.webhooks_command
    if command == "add":
        endpoint = hooks.add(args.endpoint_url, events=args.events, description=args.description)
        print(endpoint.secret)
        print(f"endpoint {endpoint.id} added: {endpoint.url}", file=sys.stderr)
    elif command == "list":
        endpoints = hooks.list()
        if endpoints.empty:
            print("no webhook endpoints")
        for row in endpoints.itertuples():
            events = "all events" if row.events is None else ",".join(row.events)
            state = "enabled" if row.enabled else f"disabled ({row.disabled_reason})"
            print(f"{row.id}\t{row.url}\t{events}\t{state}\t{row.description}")
    elif command == "remove":
        hooks.remove(args.endpoint)
        print(f"endpoint {args.endpoint} removed")
    elif command == "rotate-secret":
        print(hooks.rotate_secret(args.endpoint))
    elif command == "enable":
        hooks.enable(args.endpoint)
        print(f"endpoint {args.endpoint} enabled")
    elif command == "send-test":
        print(hooks.send_test(args.endpoint))
    elif command == "deliveries":
        frame = hooks.deliveries(endpoint=args.endpoint, status=args.status, limit=args.limit)
        columns = ["id", "endpoint_id", "event_id", "event_type", "status", "attempts",
                   "last_status_code", "last_error"]
        print(frame[columns].to_string(index=False) if len(frame) else "no deliveries")
    elif command == "retry":
        hooks.retry(args.delivery)
        print(f"delivery {args.delivery} is due now")
    else:
        return _run_relay(args, kaiten)
    return 0


def _run_relay(args: argparse.Namespace, kaiten: ka.Kaiten) -> int:
    stop = threading.Event()
    if not args.once:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        print(f"delivering webhooks from {kaiten.url} (Ctrl-C to stop)", file=sys.stderr)
    stats = kaiten.webhooks.run(once=args.once, stop=stop, timeout=args.timeout,
                                lease=args.lease, poll_interval=args.poll_interval,
                                max_in_flight=args.max_in_flight)
    print(f"{stats.attempted} attempts: {stats.succeeded} succeeded, {stats.failed} failed",
          file=sys.stderr)
    return 0
