"""The public surface is what ``__all__`` says, and public reads document their columns."""

from __future__ import annotations

import inspect
import re

import kaiten_analytics as ka
from kaiten_analytics import analytics, client


def test_all_is_sorted_and_exported():
    # ruff's order (RUF022): CONSTANTS, then Classes, then functions, each alphabetical
    assert ka.__all__ == sorted(ka.__all__, key=lambda name: (
        0 if name.isupper() else 1 if name[0].isupper() else 2, name))
    for name in ka.__all__:
        assert hasattr(ka, name), name
    public = {n for n in dir(ka) if not n.startswith("_")}
    modules = {n for n in public if inspect.ismodule(getattr(ka, n))}
    assert public - modules == set(ka.__all__)


def _analytics_functions():
    import importlib
    import pkgutil

    for module_info in pkgutil.iter_modules(analytics.__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{analytics.__name__}.{module_info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                yield module.__name__, name, fn


def test_every_public_analytics_function_documents_its_dataframe_columns():
    for module, name, fn in _analytics_functions():
        doc = inspect.getdoc(fn) or ""
        assert doc, f"{module}.{name} has no docstring"
        if "DataFrame" in str(inspect.signature(fn).return_annotation):
            assert re.search(r"Returns\n-+\n\s*DataFrame\n", doc), f"{module}.{name}"


def test_every_namespace_method_has_a_docstring():
    for _, cls in inspect.getmembers(client, inspect.isclass):
        if cls.__module__ != client.__name__:
            continue
        for name, fn in inspect.getmembers(cls, inspect.isfunction):
            if not name.startswith("_"):
                assert inspect.getdoc(fn), f"{cls.__name__}.{name}"


def _namespace_methods():
    for _, cls in inspect.getmembers(client, inspect.isclass):
        if cls.__module__ == client.__name__ and issubclass(cls, client._Namespace):
            for name, fn in inspect.getmembers(cls, inspect.isfunction):
                if not name.startswith("_"):
                    yield f"{cls.__name__}.{name}", fn


NEVER_RAISE = {"Users.role_of"}  # any email has a role or none (the console asks it)


def test_namespace_methods_document_their_columns_and_errors():
    methods = dict(_namespace_methods())
    assert len(methods) > 40
    for name, fn in methods.items():
        doc = inspect.getdoc(fn) or ""
        if "DataFrame" in str(inspect.signature(fn).return_annotation):
            assert re.search(r"Returns\n-+\n\s*DataFrame\n\s+\w", doc), name
        if len(inspect.signature(fn).parameters) > 1 and name not in NEVER_RAISE:
            # takes input: says what it refuses
            assert re.search(r"Raises\n-+\n\s*\w+Error\n", doc), name


def test_namespace_methods_pass_arguments_by_keyword():
    import ast

    tree = ast.parse(inspect.getsource(client))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and node.args
             and ast.unparse(node.args[0]) == "self._db"]
    assert len(calls) > 40
    for call in calls:
        # the database, then keywords; a positional-only slug/key (its new value may be
        # one of **changes) is the one exception
        rest = call.args[1:]
        assert all(isinstance(arg, ast.Name) and arg.id in ("slug", "key") for arg in rest), (
            ast.unparse(call))
        assert len(rest) <= 1, ast.unparse(call)
