"""The examples in the library's docstrings run, on an in-memory SQLite database each.

Every module of the package whose source holds an example (``>>>``) is collected, so a new
example is run without anyone adding it here.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import kaiten_analytics as ka

PACKAGE_DIR = Path(ka.__file__).resolve().parent


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if ">>>" in path.read_text():
            parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
            names.append(".".join(parts).removesuffix(".__init__"))
    return names


MODULES = _modules_with_examples()


def test_the_examples_are_collected():
    assert {"kaiten_analytics", "kaiten_analytics.client",
            "kaiten_analytics.limit_status"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    globs = {**vars(module), "ka": ka}  # the module's own names, and ka
    tests = [test for test in finder.find(module, globs=globs) if test.examples]
    assert tests, f"{name} has no examples"
    for test in tests:
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0
    assert results.attempted >= len(tests)
