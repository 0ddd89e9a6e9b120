"""The code base is ruff-clean, the library never imports Streamlit, the console builds no SQL."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is a test dependency"
    result = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_library_does_not_import_streamlit():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "kaiten_analytics").rglob("*.py")
        if any(line.strip().startswith(("import streamlit", "from streamlit"))
               for line in path.read_text().splitlines())
    ]
    assert offenders == []


UI_FILES = [ROOT / "streamlit_app.py", *sorted((ROOT / "app_pages").glob("*.py")),
            *sorted((ROOT / "console").glob("*.py"))]
QUERY_BUILDING = re.compile(
    r"(\bselect\(|SELECT |sa\.text\(|read_sql|\.execute\(|import sqlalchemy|from sqlalchemy)")


def test_the_console_calls_the_library_and_builds_no_queries():
    assert len(UI_FILES) > 5
    offenders = [str(path.relative_to(ROOT)) for path in UI_FILES
                 if QUERY_BUILDING.search(path.read_text())]
    assert offenders == []


def test_the_console_never_allows_html():
    offenders = [str(path.relative_to(ROOT)) for path in UI_FILES
                 if re.search(r"unsafe_allow_html\s*=\s*True", path.read_text())]
    assert offenders == []


def test_no_pages_directory_beside_the_entry_point():
    """A ``pages/`` directory switches Streamlit to its legacy multipage mode for a deep link
    served before ``st.navigation`` ever ran; the page scripts live in ``app_pages/``."""
    assert not (ROOT / "pages").exists()
    assert (ROOT / "app_pages" / "instance.py").exists()
