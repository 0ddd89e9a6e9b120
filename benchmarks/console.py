"""Console benchmark: the Audit Trail tab of a busy instance against a near-empty one.

Run it from the repository root::

    .venv/bin/python benchmarks/console.py                       # builds its own databases
    .venv/bin/python benchmarks/console.py --big-instance-events 1000000   # the full-scale instance
    .venv/bin/python benchmarks/console.py --big-url sqlite:////data/spec9.db

What is measured: an AppTest run of the instance detail page (``app_pages/instance.py`` through
``streamlit_app.py``) opened as ``/instance?instance=megacorp-prod&tab=Audit Trail`` — the
stats cards, the 30-day timeline, value over time, the first page of the event log and its
count, all read live from the database (the tab caches nothing) — on two databases:

* **big**: ``--big-url``, a database holding the busy instance ``megacorp-prod`` (at full
  scale 1,000,000 of its 10,000,000 events; ``kaiten --url URL demo --big-instance-events 1000000``
  builds one). Without ``--big-url`` the script builds
  ``benchmarks/.data/console-big-<N>.db`` with ``kaiten demo --big-instance-events N``
  (``--big-instance-events``, default 200,000, so the run takes minutes, not tens of them);
* **near-empty**: ``kaiten demo --events 200 --big-instance-events 200`` — the same catalogue,
  instance and page with 200 events (``benchmarks/.data/console-near-empty.db``).

Each database is measured in its own process (a fresh interpreter, as a console server is):
one cold run (first imports, connection, rollups read for the first time), then ``--runs``
warm runs of ``at.run()``; the process's peak resident memory (``ru_maxrss``) is taken at the
end. The two databases alternate for ``--rounds`` rounds and the table shows medians.

Targets: the warm run on the big instance within 1.5× the near-empty one (the tab's cost must
not follow the number of events), and the console process under 300 MB. Absolute times move
with the machine's load; the ratio is measured in the same run, alternately, under the same
load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kaiten_console import page_paths

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = Path(__file__).resolve().parent / ".data"
KAITEN = str(Path(sys.executable).parent / "kaiten")
INSTANCE = "megacorp-prod"  # kaiten_analytics.demo.build.BIG_INSTANCE
TAB = "Audit Trail"
NEAR_EMPTY_EVENTS = 200
TARGET_RATIO = 1.5
TARGET_RSS_MB = 300


@dataclass
class Sample:
    """One measuring process: its cold run, warm runs (seconds) and peak RSS (MB)."""

    cold: float
    warm: list[float]
    rss_mb: float
    events: int


# --- the measuring process ------------------------------------------------------------------


def measure(url: str, runs: int) -> dict:
    """Run the Audit Trail tab in AppTest ``runs`` times on ``url``; return the figures."""
    os.environ["KAITEN_DATABASE_URL"] = url
    os.environ["KAITEN_TIMEZONE"] = "UTC"
    from streamlit.testing.v1 import AppTest

    import kaiten_analytics as ka

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.run()  # the Instances page: the frame, not what is measured
    at.query_params["instance"] = INSTANCE
    at.query_params["tab"] = TAB
    at.switch_page(page_paths.INSTANCE)
    started = time.perf_counter()
    at.run()
    cold = time.perf_counter() - started
    check(at)
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - started)
        check(at)
    kaiten = ka.connect(url)
    events = kaiten.audit.stats(INSTANCE).total
    kaiten.close()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {"cold": cold, "warm": warm, "rss_mb": rss_kb / 1024, "events": events}


def check(at) -> None:
    """Fail loudly unless the tab drew its four cards, two charts and the log."""
    if at.exception:
        raise RuntimeError(f"the tab raised: {[e.value for e in at.exception]}")
    labels = [metric.label for metric in at.metric]
    charts = len(at.get("vega_lite_chart"))
    if labels != ["Total Events", "Accepted", "Rejected", "Today"] or charts < 2 \
            or not at.dataframe:
        raise RuntimeError(f"the tab is incomplete: cards {labels}, {charts} charts, "
                           f"{len(at.dataframe)} tables")


def sample(url: str, runs: int) -> Sample:
    """Measure ``url`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, __file__, "--measure", url, "--runs", str(runs)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"measuring {url} failed:\n{result.stderr[-3000:]}")
    return Sample(**json.loads(result.stdout.strip().splitlines()[-1]))


# --- databases ------------------------------------------------------------------------------


def demo_database(path: Path, events: int, big_events: int, rebuild: bool) -> str:
    """Return the URL of a ``kaiten demo`` SQLite database at ``path``, building it if needed."""
    url = f"sqlite:///{path}"
    if path.exists() and not rebuild:
        print(f"reusing {path} (--rebuild to build it again)")
        return url
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f"{path.name}*"):
        leftover.unlink()
    print(f"building {path}: demo --events {events:,} --big-instance-events {big_events:,} …",
          flush=True)
    started = time.perf_counter()
    subprocess.run([KAITEN, "--url", url, "demo", "--quiet", "--events", str(events),
                    "--big-instance-events", str(big_events)], check=True)
    print(f"  built in {time.perf_counter() - started:.0f} s")
    return url


# --- the report -----------------------------------------------------------------------------


def report(big: list[Sample], small: list[Sample]) -> bool:
    """Print the table; return True when both targets hold."""
    def row(name: str, samples: list[Sample]) -> tuple[float, float]:
        warm = statistics.median(t for s in samples for t in s.warm)
        cold = statistics.median(s.cold for s in samples)
        rss = max(s.rss_mb for s in samples)
        fastest = min(t for s in samples for t in s.warm)
        print(f"| {name:<10} | {samples[0].events:>15,} | {cold:>10.2f} | {warm:>13.3f} | "
              f"{fastest:>10.3f} | {rss:>13.0f} |")
        return warm, rss

    print()
    print("| database   | instance events | cold run s | warm median s | warm min s | "
          "peak RSS (MB) |")
    print("|------------|----------------:|-----------:|--------------:|-----------:|"
          "--------------:|")
    big_warm, big_rss = row("big", big)
    small_warm, small_rss = row("near-empty", small)
    ratio = big_warm / small_warm
    peak = max(big_rss, small_rss)
    ratio_ok, rss_ok = ratio <= TARGET_RATIO, peak < TARGET_RSS_MB
    print()
    print(f"warm run, big / near-empty: {ratio:.2f}× (target ≤ {TARGET_RATIO}×) "
          f"{'OK' if ratio_ok else 'MISSED'}")
    print(f"peak RSS of the console process: {peak:.0f} MB (target < {TARGET_RSS_MB} MB) "
          f"{'OK' if rss_ok else 'MISSED'}")
    return ratio_ok and rss_ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big-url", help="a database holding the busy instance megacorp-prod "
                                          "(default: build one under --data-dir)")
    parser.add_argument("--near-empty-url", help="a database whose megacorp-prod has a few "
                                                 "hundred events (default: build one)")
    parser.add_argument("--big-instance-events", type=int, default=200_000,
                        help="events of megacorp-prod when building the big database "
                             "(full scale: 1,000,000; default 200,000)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="where built databases go (default benchmarks/.data/, ignored "
                             "by git)")
    parser.add_argument("--rebuild", action="store_true", help="build the databases again")
    parser.add_argument("--runs", type=int, default=5, help="warm runs per process")
    parser.add_argument("--rounds", type=int, default=3,
                        help="processes per database, alternating big and near-empty")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build or take the two databases, measure them alternately and print the table."""
    args = parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.runs)))
        return 0
    big_url = args.big_url or demo_database(
        args.data_dir / f"console-big-{args.big_instance_events}.db", 20_000,
        args.big_instance_events, args.rebuild)
    small_url = args.near_empty_url or demo_database(
        args.data_dir / "console-near-empty.db", NEAR_EMPTY_EVENTS, NEAR_EMPTY_EVENTS,
        args.rebuild)
    print(f"Audit Trail tab of {INSTANCE}: {args.rounds} rounds × (1 cold + {args.runs} warm) "
          "AppTest runs per database, each round a fresh process per database")
    big, small = [], []
    for round_ in range(1, args.rounds + 1):
        small.append(sample(small_url, args.runs))
        big.append(sample(big_url, args.runs))
        print(f"  round {round_}: big warm median {statistics.median(big[-1].warm):.3f} s, "
              f"near-empty {statistics.median(small[-1].warm):.3f} s", flush=True)
    return 0 if report(big, small) else 1


if __name__ == "__main__":
    sys.exit(main())
