"""The README's REST API section stays true: its ``curl`` examples run as written (with curl)
against a real ``kaiten api`` on the demo database, and its GraphQL SDL is the served schema."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from api_support import ROOT, ApiServer
from graphql import build_schema

from kaiten_analytics.api.graphql_api import schema

README = ROOT / "README.md"
#: where the README's examples send their requests (``make api``'s address)
README_BASE = "http://127.0.0.1:8000"


def rest_api_section() -> str:
    """The README's ``## REST API`` section."""
    text = README.read_text()
    start = text.index("\n## REST API\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def blocks(section: str, language: str) -> list[str]:
    """The fenced code blocks of ``language`` in ``section``."""
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def shell_commands(block: str) -> list[str]:
    """A bash block's commands, continuation lines joined."""
    commands, current = [], ""
    for line in block.splitlines():
        current += line
        if current.endswith("\\"):
            current = current[:-1]
            continue
        if current.strip():
            commands.append(current.strip())
        current = ""
    return commands


def test_the_readme_has_curl_examples_of_rest_and_graphql():
    commands = [c for b in blocks(rest_api_section(), "bash") for c in shell_commands(b)]
    curls = [c for c in commands if c.startswith("curl ")]
    assert len(curls) >= 7
    assert any("/api/graphql" in c for c in curls)
    assert any(c.startswith("KEY=$(") for c in commands)


def test_the_readmes_graphql_sdl_is_the_served_schema():
    (sdl,) = blocks(rest_api_section(), "graphql")
    scalars = "scalar Date\nscalar DateTime\nscalar JSON\n"
    written, served = build_schema(scalars + sdl), build_schema(schema.as_str())

    def shape(graphql_schema):
        out = {}
        for name, graphql_type in graphql_schema.type_map.items():
            if name.startswith("__") or not hasattr(graphql_type, "fields"):
                continue
            out[name] = {field: (str(definition.type),
                                 {arg: (str(a.type), a.default_value)
                                  for arg, a in definition.args.items()})
                         for field, definition in graphql_type.fields.items()}
        return out

    assert shape(written) == shape(served)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the examples need curl")
def test_the_readmes_curl_examples_work_as_written_on_the_demo_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'kaiten.db'}"
    env = {**os.environ, "KAITEN_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "kaiten_analytics.cli", "demo", "--quiet"], env=env,
                   cwd=ROOT, check=True, capture_output=True)
    commands = [c for b in blocks(rest_api_section(), "bash") for c in shell_commands(b)]
    # the README's `.venv/bin/kaiten` is this interpreter's; its port 8000 the test server's
    kaiten = str(os.path.join(os.path.dirname(sys.executable), "kaiten"))
    with ApiServer(url) as server:
        def as_here(command: str) -> str:
            return command.replace(".venv/bin/kaiten", kaiten).replace(README_BASE,
                                                                       server.base_url)

        (make_key,) = [c for c in commands if c.startswith("KEY=$(")]
        key = subprocess.run(["bash", "-c", as_here(make_key) + '\nprintf %s "$KEY"'],
                             env=env, cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout
        assert key.startswith("ka_")
        curls = [c for c in commands if c.startswith("curl ")]
        assert curls
        for command in curls:
            # the status code after the body, on a line of its own
            run = as_here(command).replace("curl ", "curl -w '\\n%{http_code}' ", 1)
            done = subprocess.run(["bash", "-c", run], env={**env, "KEY": key}, cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
            body, _, status = done.stdout.rpartition("\n")
            assert done.returncode == 0 and status.startswith("2"), (command, done.stdout,
                                                                     done.stderr)
            if command.rstrip().split("#")[0].rstrip().endswith("/api/graphql/schema"):
                assert body == schema.as_str() + "\n"
                continue
            answer = json.loads(body)
            assert "errors" not in answer, (command, answer)
            if "/api/graphql" in command:
                assert answer["data"] and all(answer["data"].values()), (command, answer)
