"""``kaiten api``: serve the REST API with uvicorn (needs the ``api`` extra)."""

from __future__ import annotations

import argparse
import os


def add_parser(commands, url_parent: argparse.ArgumentParser) -> None:
    """Add ``api`` to the ``kaiten`` parser."""
    api = commands.add_parser("api", parents=[url_parent],
                              help="serve the REST API (FastAPI on uvicorn)")
    api.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (loopback only)")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    api.add_argument("--threads", type=int, default=None,
                     help="worker threads and pooled database connections per process "
                          "(default 16, or $KAITEN_API_THREADS)")


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; return the exit status."""
    import uvicorn

    # worker processes build the app from the environment (uvicorn's factory import string)
    if args.url:
        os.environ["KAITEN_DATABASE_URL"] = args.url
    if args.threads:
        os.environ["KAITEN_API_THREADS"] = str(args.threads)
    uvicorn.run("kaiten_analytics.api.app:app_from_environment", factory=True,
                host=args.host, port=args.port, workers=args.workers, log_level="info",
                access_log=False)
    return 0
