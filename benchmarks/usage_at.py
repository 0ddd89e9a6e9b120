"""``kaiten.usage.at`` on a busy instance, against replaying its trail up to the same moment.

Run it from the repository root on a database with a big instance, e.g. one built with
``kaiten demo --big-instance-events 1000000`` (the scale target: 1M events on one instance)::

    .venv/bin/kaiten demo --url sqlite:////tmp/big.db --customers 2 --instances 3 \\
        --events 2000 --big-instance-events 1000000
    .venv/bin/python benchmarks/usage_at.py --url sqlite:////tmp/big.db

What is measured: the busiest instance × NUMBER entitlement (most accepted reports, from the
daily rollup), ``--moments`` random instants over its history (seeded), each answered by

* **library**: ``kaiten.usage.at(instance, entitlement, when)`` — the rollups find the
  15-minute bucket holding the last accepted report up to ``when``, and only that bucket's
  events are read;
* **replay**: the naive answer, counting the accepted reports up to ``when`` in
  ``feature_audit_trail`` (one indexed range scan, growing with the trail).

Both run in the same process, the library's pass over every moment first, then the replays
(whose scans would otherwise evict the pages the library reads); the line gives the median and
95th percentile in ms (wall time, and the library's CPU time in this process: on a loaded
machine the wall time's tail is mostly waiting for a core) and replay / library. The
library's event count must equal the replay's count wherever the entitlement's limit never
restarts (the demo's licenses have no period): the run checks it. Target: the library's
median ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

import kaiten_analytics as ka

TARGET_MS = 5.0


def busiest(kaiten: ka.Kaiten) -> tuple[str, str, int, datetime, datetime]:
    """The instance × entitlement with most accepted reports, and its first and last day."""
    with kaiten.db.engine.connect() as connection:
        row = connection.execute(sa.text(
            "SELECT i.slug, e.slug, sum(r.accepted), min(r.day), max(r.day), i.id, e.id"
            " FROM audit_rollup_day r JOIN instances i ON i.id = r.instance_id"
            " JOIN entitlements e ON e.id = r.entitlement_id"
            " GROUP BY i.slug, e.slug, i.id, e.id ORDER BY sum(r.accepted) DESC LIMIT 1")).one()
        events = connection.execute(sa.text(
            "SELECT count(*) FROM feature_audit_trail WHERE instance_id = :i"),
            {"i": row[5]}).scalar()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    print(f"{row[0]} × {row[1]}: {row[2]:,} accepted reports, {events:,} events on the "
          "instance", file=sys.stderr)
    return (row[0], row[1], int(row[2]), epoch + timedelta(days=row[3]),
            epoch + timedelta(days=row[4] + 1))


def replay(kaiten: ka.Kaiten, instance: str, entitlement: str, when: datetime) -> int:
    """The number of accepted reports up to ``when``, counted in the raw trail."""
    with kaiten.db.engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT count(*) FROM feature_audit_trail t"
            " JOIN instances i ON i.id = t.instance_id"
            " JOIN entitlements e ON e.id = t.entitlement_id"
            " WHERE i.slug = :i AND e.slug = :e AND t.event_name = :name"
            " AND t.created_at <= :when"),
            {"i": instance, "e": entitlement, "name": ka.USAGE_ACCEPTED,
             "when": when if kaiten.db.dialect == "postgresql"
             else when.replace(tzinfo=None).isoformat(sep=" ")}).scalar()


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table; return 1 when the answers disagree."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the database (SQLAlchemy URL)")
    parser.add_argument("--moments", type=int, default=200)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    kaiten = ka.connect(args.url, migrate=False)
    instance, entitlement, _, first, last = busiest(kaiten)
    rng = random.Random(args.seed)
    span = (last - first).total_seconds()
    moments = [first + timedelta(seconds=rng.uniform(0, span)) for _ in range(args.moments)]
    library_ms, library_cpu_ms, replay_ms, disagreements = [], [], [], 0
    kaiten.usage.at(instance, entitlement, moments[0])  # warm-up
    answers = []
    for when in moments:  # the library's pass first: the replays' scans would evict its pages
        start, cpu = time.perf_counter(), time.process_time()
        answers.append(kaiten.usage.at(instance, entitlement, when))
        library_ms.append((time.perf_counter() - start) * 1000)
        library_cpu_ms.append((time.process_time() - cpu) * 1000)
    for when, usage in zip(moments, answers, strict=True):
        start = time.perf_counter()
        counted = replay(kaiten, instance, entitlement, when)
        replay_ms.append((time.perf_counter() - start) * 1000)
        if (usage["event_count"] if usage else 0) != counted:
            disagreements += 1
    kaiten.close()

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1]

    lib_median, lib_p95 = statistics.median(library_ms), p95(library_ms)
    rep_median, rep_p95 = statistics.median(replay_ms), p95(replay_ms)
    print(f"usage.at on {sa.make_url(args.url).get_backend_name()}, {args.moments} moments "
          f"(ms): library median {lib_median:.2f}, p95 {lib_p95:.2f}, max {max(library_ms):.2f}"
          f" (CPU median {statistics.median(library_cpu_ms):.2f}, p95 {p95(library_cpu_ms):.2f})"
          f" | replay median {rep_median:.1f}, p95 {rep_p95:.1f} | replay / library "
          f"{rep_median / lib_median:.0f}× | target median <= {TARGET_MS:g} ms: "
          f"{'met' if lib_median <= TARGET_MS else 'NOT met'} | answers "
          f"{'agree' if not disagreements else f'DISAGREE at {disagreements} moments'}")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
