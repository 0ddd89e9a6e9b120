"""The examples in the public docstrings run, on an in-memory SQLite database each."""

from __future__ import annotations

import doctest

import pytest

import kaiten_analytics as ka
from kaiten_analytics import client


@pytest.mark.parametrize("module", [ka, client], ids=lambda module: module.__name__)
def test_docstring_examples_run(module):
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [test for test in finder.find(module, globs={"ka": ka}) if test.examples]
    assert tests, f"{module.__name__} has no examples"
    for test in tests:
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0
    assert results.attempted >= len(tests)
