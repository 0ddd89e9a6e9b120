"""The code base is ruff-clean and the library never imports Streamlit."""

from __future__ import annotations

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
