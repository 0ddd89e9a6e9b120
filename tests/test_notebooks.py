"""The analyst notebooks run top to bottom on a demo database, on SQLite and on PostgreSQL.

Each notebook is executed with papermill (kernel ``python3`` from ipykernel) in a temporary
working directory, with the database URL and ``output_dir`` injected after its ``parameters``
cell; the assertions read the files its export step writes and compare them with the library.
The three notebooks only read, so they share one demo database per engine. The committed
notebooks carry no outputs, open with their parameters and use the public API only.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import papermill
import pytest
from conftest import ENGINES, fresh_database_url

import kaiten_analytics as ka

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOK_NAMES = ["01_instance_usage.ipynb", "02_threshold_forecast.ipynb",
                  "03_fleet_adoption.ipynb"]
DEMO_EVENTS = 3_000  # small: each notebook run should take seconds
PARAMETERS = {"database_url", "instance", "tz", "window_days", "output_dir"}
FORECAST_COLUMNS = ["instance", "customer", "license", "deployment_zone", "entitlement",
                    "aggregation_method", "usage", "threshold", "percent_used",
                    "slope_per_day", "days_of_data", "forecast_date", "days_to_limit", "reason"]
HORIZONS = ["at limit now", "within 30 days", "in 31–60 days", "in 61–90 days"]


@pytest.fixture(scope="module", params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    """The engine under test, once per module: the notebooks share its demo database."""
    return request.param


@pytest.fixture(scope="module")
def demo_url(engine_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database of the engine under test, filled by the demo builder."""
    url, cleanup = fresh_database_url(engine_name, tmp_path_factory.mktemp(engine_name))
    kaiten = ka.connect(url)
    kaiten.demo.build(events=DEMO_EVENTS, progress=False)
    kaiten.close()
    yield url
    cleanup()


@pytest.fixture(scope="module")
def demo(demo_url: str) -> Iterator[ka.Kaiten]:
    """The demo database, to compare what a notebook computed with the library."""
    kaiten = ka.connect(demo_url)
    yield kaiten
    kaiten.close()


def run_notebook(name: str, database_url: str, work_dir: Path, **parameters: Any) -> Path:
    """Execute ``notebooks/<name>`` in ``work_dir`` and return the folder it exported to.

    An error in any cell fails the test (papermill raises); so does anything the kernel
    printed to stderr, such as a pandas warning an analyst would see under a cell.
    """
    output_dir = work_dir / "exports"
    executed = papermill.execute_notebook(
        str(NOTEBOOKS / name), str(work_dir / name), kernel_name="python3",
        parameters={"database_url": database_url, "output_dir": str(output_dir), **parameters},
        cwd=str(work_dir), progress_bar=False, request_save_on_cell_execute=False,
    )
    stderr = [output["text"] for cell in executed.cells for output in cell.get("outputs", [])
              if output.get("name") == "stderr"]
    assert stderr == [], f"{name} printed to stderr"
    return output_dir


def busiest_instance(kaiten: ka.Kaiten) -> str:
    """The instance with the most accepted usage reports (what the notebooks default to)."""
    return str(kaiten.fleet.consumption().groupby("instance")["event_count"].sum().idxmax())


def test_instance_usage_notebook_exports_the_busiest_instance(demo, demo_url, tmp_path):
    exported = run_notebook("01_instance_usage.ipynb", demo_url, tmp_path,
                            tz="Europe/Berlin", window_days=14)
    instance = busiest_instance(demo)
    assert [path.name for path in exported.iterdir()] == [instance]
    folder = exported / instance

    summary = pd.read_csv(folder / "usage_summary.csv")
    expected = demo.usage.summary(instance)
    assert list(summary["entitlement"]) == list(expected["entitlement"])
    pd.testing.assert_series_equal(summary["usage"], expected["usage"])
    parquet_summary = pd.read_parquet(folder / "usage_summary.parquet")
    assert parquet_summary["updated_at"].dtype == expected["updated_at"].dtype  # aware UTC

    stats = pd.read_csv(folder / "audit_stats.csv").iloc[0]
    expected_stats = demo.audit.stats(instance)
    assert (stats["instance"], stats["total"], stats["accepted"], stats["rejected"]) == (
        instance, expected_stats.total, expected_stats.accepted, expected_stats.rejected)
    assert stats["total"] > 0

    timeline = pd.read_csv(folder / "timeline.csv")
    assert len(timeline) == 14 * 3
    assert set(timeline["category"]) == {"Read", "Accepted", "Rejected"}

    series = pd.read_parquet(folder / "value_over_time.parquet")
    assert list(series.columns) == ["created_at", "value", "threshold", "crossing",
                                    "period_start"]
    assert len(series) > 0

    latest = pd.read_parquet(folder / "latest_events.parquet")
    assert list(latest["id"]) == list(demo.audit.trail(instance, limit=20)["id"])


def test_threshold_forecast_notebook_lists_instances_reaching_limits(demo, demo_url, tmp_path):
    exported = run_notebook("02_threshold_forecast.ipynb", demo_url, tmp_path)

    forecast = pd.read_csv(exported / "forecast.csv")
    assert list(forecast.columns) == FORECAST_COLUMNS
    assert len(forecast) == len(demo.fleet.forecast(30))
    assert (forecast["reason"] == "forecast").any()

    upcoming = pd.read_csv(exported / "limits_next_90_days.csv")
    assert list(upcoming.columns) == [*FORECAST_COLUMNS, "horizon"]
    assert upcoming["instance"].nunique() >= 1
    assert upcoming["days_to_limit"].between(0, 90).all()
    assert set(upcoming["horizon"]) <= set(HORIZONS)
    assert ((upcoming["horizon"] == "at limit now") == (upcoming["days_to_limit"] == 0)).all()

    blocked = pd.read_csv(exported / "blocked_demand_by_customer.csv")
    assert list(blocked.columns) == ["customer", "license", "instances", "limits", "rejected",
                                     "accepted", "rejection_rate"]
    assert set(blocked["customer"]) <= set(demo.customers.list()["slug"])
    assert (blocked["rejected"] > 0).all()
    assert blocked["rejection_rate"].between(0, 1, inclusive="right").all()

    burn = pd.read_csv(exported / "burn_down.csv")
    assert len(burn) > 0
    assert set(burn["pace"]) <= {"ahead", "on pace", "behind"}


def test_fleet_adoption_notebook_covers_every_tier_and_flag(demo, demo_url, tmp_path):
    exported = run_notebook("03_fleet_adoption.ipynb", demo_url, tmp_path)
    pairs = len(demo.fleet.consumption())
    live_instances = len(demo.instances.list())

    by_license = pd.read_csv(exported / "adoption_by_license.csv")
    assert set(by_license["license"]) == set(demo.licenses.list()["slug"])
    assert by_license["pairs"].sum() == pairs
    for column in ("adopted_percent", "active_percent"):
        assert by_license[column].between(0, 100).all()
    by_zone = pd.read_csv(exported / "adoption_by_zone.csv")
    assert by_zone["pairs"].sum() == pairs
    by_customer = pd.read_csv(exported / "adoption_by_customer.csv")
    assert by_customer["instances"].sum() == live_instances

    silent = pd.read_csv(exported / "silent_metering.csv")
    assert set(silent["status"]) <= {"never reported", "silent"}

    exposure = pd.read_csv(exported / "flag_exposure_by_license.csv")
    assert set(exposure["flag"]) == set(demo.flags.list()["key"])
    assert (exposure.groupby("flag")["instances"].sum() == live_instances).all()
    shares = exposure.groupby(["flag", "license"])["share_percent"].sum()
    assert shares.round(6).eq(100).all()


# --- the committed notebooks ------------------------------------------------------------------

def read_notebook(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_every_notebook_is_tested():
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == NOTEBOOK_NAMES


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_is_committed_without_outputs(name):
    notebook = read_notebook(name)
    with_outputs = [cell.id for cell in code_cells(notebook)
                    if cell.outputs or cell.execution_count is not None]
    assert with_outputs == [], f"{name}: clear the outputs (Edit → Clear Outputs of All Cells)"
    assert "papermill" not in notebook.metadata, f"{name} was saved from a papermill run"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_opens_with_a_tagged_parameters_cell(name):
    first = code_cells(read_notebook(name))[0]
    assert "parameters" in first.metadata.get("tags", [])
    assigned = {target.id for node in ast.parse(first.source).body
                if isinstance(node, ast.Assign) for target in node.targets
                if isinstance(target, ast.Name)}
    assert assigned >= PARAMETERS
    assert 'os.environ.get("KAITEN_DATABASE_URL"' in first.source


SQL = re.compile(r"\bselect\b.+\bfrom\b|\binsert\s+into\b|\bupdate\b.+\bset\b",
                 re.IGNORECASE | re.DOTALL)
DATABASE_MODULES = {"sqlalchemy", "sqlite3", "psycopg", "psycopg2"}


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_uses_only_the_public_api(name):
    problems = []
    for cell in code_cells(read_notebook(name)):
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                modules = []
            for module in modules:
                root = module.split(".")[0]
                if root in DATABASE_MODULES or (
                        root == "kaiten_analytics"
                        and module not in {"kaiten_analytics", "kaiten_analytics.charts"}):
                    problems.append(f"{cell.id}: imports {module}")
            if isinstance(node, ast.Attribute) and node.attr in {"db", "engine"}:
                problems.append(f"{cell.id}: reaches into .{node.attr}")
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and SQL.search(node.value)):
                problems.append(f"{cell.id}: SQL in {node.value!r}")
    assert problems == []
