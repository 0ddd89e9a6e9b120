"""The code base is ruff-clean, the library never imports Streamlit, the console builds no SQL,
and every face (console, notebooks, CLI, API) stands on the public surface only."""

from __future__ import annotations

import ast
import json
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


def test_library_does_not_import_streamlit_or_the_console():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "kaiten_analytics").rglob("*.py")
        if any(line.strip().startswith(("import streamlit", "from streamlit",
                                         "import kaiten_console", "from kaiten_console"))
               for line in path.read_text().splitlines())
    ]
    assert offenders == []


UI_FILES = [ROOT / "streamlit_app.py", *sorted((ROOT / "kaiten_console").rglob("*.py"))]
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
    served before ``st.navigation`` ever ran; the page scripts live in
    ``kaiten_console/app_pages/``, beside neither entry script (``streamlit_app.py`` of a
    checkout, ``kaiten_console/app.py`` installed)."""
    assert not (ROOT / "pages").exists()
    assert not (ROOT / "kaiten_console" / "pages").exists()
    assert (ROOT / "kaiten_console" / "app_pages" / "instance.py").exists()


# --- the faces stand on the public surface only --------------------------------------------
#
# The console, the notebooks, the CLI (``kaiten_analytics/cli.py`` and every
# ``kaiten_analytics/cli_<name>.py``) and the REST API (``kaiten_analytics/api/``) import
# ``kaiten_analytics`` (the names in its ``__all__``) and its documented public modules — never
# ``kaiten_analytics.service``, ``.db``, ``.analytics``, ``.config``, ``.flags``, ``.events`` … —
# and never reach into the handle's ``.db``. The faces may import one another (the CLI starts
# the API; the API's modules import each other).

PACKAGE = "kaiten_analytics"
PUBLIC_MODULES = {PACKAGE, f"{PACKAGE}.charts"}
FACE_MODULES = re.compile(rf"^{PACKAGE}\.(cli(_\w+)?|api(\.\w+)*)$")
CLI_FILE = re.compile(r"^cli(_\w+)?\.py$")  # cli.py, cli_keys.py, … (not client.py)
HINT = ("faces use `import kaiten_analytics as ka` (names in ka.__all__), the kaiten.* "
        "namespaces and kaiten_analytics.charts; give what is missing a public home there "
        "(an exported name in kaiten_analytics/__init__.py, or a kaiten.* method)")


def _public_names() -> set[str]:
    import kaiten_analytics

    modules = {module.rsplit(".", 1)[-1] for module in PUBLIC_MODULES - {PACKAGE}}
    return set(kaiten_analytics.__all__) | modules


def _allowed_module(module: str) -> bool:
    return module in PUBLIC_MODULES or bool(FACE_MODULES.match(module))


def _ours(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _module_of(path: Path) -> str | None:
    """The dotted name of a file inside the package (for relative imports), else None."""
    relative = path.relative_to(ROOT)
    if relative.parts[0] != PACKAGE:
        return None
    return ".".join(relative.with_suffix("").parts).removesuffix(".__init__")


def _absolute(node: ast.ImportFrom, module: str | None, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = (module or "").split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def public_surface_offences(source: str, where: str, module: str | None = None,
                            is_package: bool = False) -> list[str]:
    """Return a line per use of anything beyond the public surface in ``source``."""
    public = _public_names()
    offences: list[str] = []
    aliases: set[str] = set()  # names bound to the kaiten_analytics package itself

    def refuse(node: ast.AST, what: str) -> None:
        offences.append(f"{where}:{node.lineno}: {what}")

    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _ours(alias.name):
                    continue
                if not _allowed_module(alias.name):
                    refuse(node, f"`import {alias.name}` is internal")
                if alias.asname and alias.name == PACKAGE:
                    aliases.add(alias.asname)
                elif not alias.asname:
                    aliases.add(PACKAGE)  # `import kaiten_analytics.charts` binds the package
        elif isinstance(node, ast.ImportFrom):
            source_module = _absolute(node, module, is_package)
            if not _ours(source_module):
                continue
            if source_module == PACKAGE:
                for alias in node.names:
                    if alias.name not in public and not _allowed_module(
                            f"{PACKAGE}.{alias.name}"):
                        refuse(node, f"`from {PACKAGE} import {alias.name}`: "
                                     f"{alias.name!r} is not in kaiten_analytics.__all__")
            elif not _allowed_module(source_module):
                names = ", ".join(alias.name for alias in node.names)
                refuse(node, f"`from {source_module} import {names}` is internal")
        elif isinstance(node, ast.Attribute):
            if node.attr == "db":
                refuse(node, "touches `.db` of the handle (use a kaiten.* method)")
            elif (isinstance(node.value, ast.Name) and node.value.id in aliases
                  and node.attr not in public):
                refuse(node, f"`{node.value.id}.{node.attr}` is not in kaiten_analytics.__all__")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
              and getattr(node.func, "id", getattr(node.func, "attr", "")) == "getattr"
              and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
              and node.args[1].value == "db"):
            refuse(node, "touches `.db` of the handle through getattr")
    return offences


def _notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        # IPython magics and shell escapes are not Python
        lines.extend("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())
        lines.append("")
    return "\n".join(lines)


def face_sources() -> list[tuple[str, str, str | None, bool]]:
    """Every face's code: (where, source, dotted module or None, is a package ``__init__``)."""
    files = [ROOT / "streamlit_app.py", *sorted((ROOT / "kaiten_console").rglob("*.py")),
             *sorted(p for p in (ROOT / PACKAGE).glob("cli*.py") if CLI_FILE.match(p.name)),
             *sorted((ROOT / PACKAGE / "api").rglob("*.py"))]
    sources = [(str(path.relative_to(ROOT)), path.read_text(), _module_of(path),
                path.name == "__init__.py") for path in files]
    sources += [(str(path.relative_to(ROOT)), _notebook_code(path), None, False)
                for path in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    return sources


def test_the_faces_use_only_the_public_surface():
    sources = face_sources()
    covered = {where for where, *_ in sources}
    assert {"streamlit_app.py", "kaiten_analytics/cli.py",
            "notebooks/01_instance_usage.ipynb"} <= covered
    assert any(where.startswith("kaiten_console/app_pages/") for where in covered)
    assert not any(where.endswith("client.py") for where in covered)
    offences = [line for where, source, module, is_package in sources
                for line in public_surface_offences(source, where, module, is_package)]
    assert not offences, ("the faces reach past the public surface:\n  "
                          + "\n  ".join(offences) + f"\n{HINT}")


def test_the_public_surface_rule_catches_each_kind_of_reach():
    def caught(source: str, module: str | None = None) -> list[str]:
        return public_surface_offences(source, "example.py", module)

    assert caught("import kaiten_analytics as ka\nfrom kaiten_analytics import charts\n"
                  "from kaiten_analytics.charts import CATEGORY_COLOURS\n"
                  "ka.connect(); ka.ValidationError; ka.charts\n") == []
    assert caught("from kaiten_analytics.config import zone")
    assert caught("import kaiten_analytics.service.usage")
    assert caught("from kaiten_analytics import config")
    assert caught("import kaiten_analytics as ka\nka.config.zone('UTC')")
    assert caught("kaiten().db.now()")
    assert caught("getattr(kaiten, 'db')")
    # inside the package, relative imports resolve: the CLI may wire cli_*.py, not services
    assert caught("from . import cli_keys", "kaiten_analytics.cli") == []
    assert caught("from .service import usage", "kaiten_analytics.cli")
    assert caught("from .routes import router", "kaiten_analytics.api.app") == []
    assert caught("from ..service import usage", "kaiten_analytics.api.app")


# --- the layers below the public surface point one way --------------------------------------
#
# The reads (``kaiten_analytics/analytics/``) stand on the data layer (``kaiten_analytics/db/``)
# and the pure modules beside it, never on the write path (``kaiten_analytics.service``), nor
# the write path on the reads; the data layer imports neither.

LOWER_LAYERS = {
    "analytics": (f"{PACKAGE}.service", f"{PACKAGE}.client"),
    "service": (f"{PACKAGE}.analytics", f"{PACKAGE}.client"),
    "db": (f"{PACKAGE}.service", f"{PACKAGE}.analytics", f"{PACKAGE}.client"),
}


def imported_modules(source: str, module: str | None, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports, relative imports resolved (``from x import y`` counts
    both ``x`` and ``x.y``, since ``y`` may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def layer_offences(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    offences = []
    paths = sorted((ROOT / PACKAGE / layer).rglob("*.py"))
    assert paths, layer
    for path in paths:
        imported = imported_modules(path.read_text(), _module_of(path),
                                    path.name == "__init__.py")
        offences += [f"{path.relative_to(ROOT)}: imports {name}" for name in sorted(imported)
                     if any(name == bad or name.startswith(bad + ".") for bad in forbidden)]
    return offences


def test_the_reads_the_writes_and_the_data_layer_import_only_downwards():
    offences = [line for layer, forbidden in LOWER_LAYERS.items()
                for line in layer_offences(layer, forbidden)]
    assert not offences, ("a lower layer imports a higher one (move what it needs into "
                          "kaiten_analytics/db or a pure module):\n  " + "\n  ".join(offences))


def test_the_layer_rule_sees_each_kind_of_import():
    where = f"{PACKAGE}.analytics.example"
    assert f"{PACKAGE}.service.lookup" in imported_modules(
        "from kaiten_analytics.service.lookup import id_for", where)
    assert f"{PACKAGE}.service" in imported_modules("import kaiten_analytics.service", where)
    assert f"{PACKAGE}.service.usage" in imported_modules(
        "from kaiten_analytics.service import usage", where)
    assert f"{PACKAGE}.service.flags" in imported_modules("from ..service import flags", where)
    assert f"{PACKAGE}.analytics._frames" in imported_modules("from ._frames import frame", where)


def test_code_states_its_rules_instead_of_citing_files_outside_the_repository():
    """The contract and API notes are not in the repository: code says the rule itself."""
    cited = re.compile(r"SPEC\s*§|SPEC\.md|ECOSYSTEM-NOTES")
    paths = [path for path in ROOT.rglob("*.py")  # not hidden, not a build's copies
             if not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
             and path.relative_to(ROOT).parts[0] not in ("build", "dist")]
    assert len(paths) > 50
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for path in paths
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if cited.search(line) and path != Path(__file__)]
    assert offenders == []


def test_the_console_turns_a_kaiten_error_into_a_message_in_one_place():
    """Refused writes and failed reads are drawn by ``kaiten_console/refusals.py`` only."""
    offenders = [str(path.relative_to(ROOT)) for path in UI_FILES
                 if path.name != "refusals.py" and re.search(r"\.error\(", path.read_text())]
    assert offenders == []
