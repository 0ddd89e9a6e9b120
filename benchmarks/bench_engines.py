"""What the benchmarks share about their databases: the engine options and PostgreSQL schemas."""

from __future__ import annotations

import argparse
import os

import sqlalchemy as sa

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_URL_ENV = "KAITEN_BENCH_POSTGRES_URL"


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--postgres-url`` and the exclusive ``--sqlite-only`` / ``--postgres-only``."""
    parser.add_argument("--postgres-url",
                        default=os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL),
                        help=f"PostgreSQL server (default ${POSTGRES_URL_ENV}, "
                             f"else {DEFAULT_POSTGRES_URL})")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    only.add_argument("--postgres-only", action="store_true", help="skip SQLite")


def schema_url(admin_url: str, schema: str) -> sa.URL:
    """Return ``admin_url`` with ``schema`` as its search path (where the library's tables go)."""
    return sa.make_url(admin_url).update_query_dict({"options": f"-csearch_path={schema}"})
