"""What `kpictl check` loads: nothing it does not use (issue 11).

Each test starts a fresh interpreter, runs the CLI's main() in it on the example
registry and reads `sys.modules` at the end (tests.test_cli.loaded_by), so nothing
the test process imported earlier can hide an import (or make one look absent).
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from pydantic.plugin import _schema_validator

from kpictl import compat
from tests.conftest import EXAMPLE
from tests.test_cli import loaded_by

# Heavy libraries that only other commands need: SQL, HTTP, templates, tables, charts.
NEVER_ON_CHECK = (
    "sqlalchemy",
    "duckdb",
    "httpx",
    "jinja2",
    "rich.table",
    "psycopg",
    "matplotlib",
    "PIL",
)


def under(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def test_check_imports_no_heavy_library() -> None:
    code, modules = loaded_by("check", str(EXAMPLE))
    assert code == 0
    assert under(modules, NEVER_ON_CHECK) == []
    # The libraries a check does use are loaded, so the list above means something.
    assert under(modules, ("pydantic", "typer", "_ruamel_yaml", "kpictl.check.rules")) != []


def test_check_skips_pydantic_plugin_discovery() -> None:
    # Searching entry points imports importlib.metadata, the email package and more.
    _, modules = loaded_by("check", str(EXAMPLE))
    assert under(modules, ("importlib.metadata", "email")) == []
    assert compat.PLUGIN_LOADER in modules  # the stand-in answered pydantic


def test_pydantic_still_asks_the_loader_the_stand_in_replaces() -> None:
    # Pinned to pydantic's private call (see kpictl.compat.skip_plugin_discovery): if
    # pydantic stops asking there, the stand-in is bypassed and check starts slower.
    source = inspect.getsource(_schema_validator.create_schema_validator)
    assert "from ._loader import get_plugins" in source
    assert _schema_validator.__name__.rsplit(".", 1)[0] + "._loader" == compat.PLUGIN_LOADER


@pytest.mark.parametrize("value", ["__all__", "1", "true"])
def test_plugins_switched_off_by_the_user_skip_discovery_too(value: str) -> None:
    _, modules = loaded_by("check", str(EXAMPLE), env={"PYDANTIC_DISABLE_PLUGINS": value})
    assert under(modules, ("importlib.metadata",)) == []


def test_plugins_the_user_names_are_searched_by_pydantic_itself() -> None:
    # A list of plugin names disables only those: pydantic's loader must look.
    code, modules = loaded_by("check", str(EXAMPLE), env={"PYDANTIC_DISABLE_PLUGINS": "some"})
    assert code == 0
    assert "importlib.metadata" in modules


HAND_OVER = """
import os, sys
from kpictl import compat
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
compat.skip_plugin_discovery()
stand_in = sys.modules[compat.PLUGIN_LOADER]
first = list(stand_in.get_plugins())
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "nothing-by-this-name"
second = list(stand_in.get_plugins())
real = sys.modules[compat.PLUGIN_LOADER]
print(first, second, real is not stand_in, real.get_plugins.__module__)
"""


def test_the_stand_in_hands_over_when_plugins_are_switched_on() -> None:
    done = subprocess.run(
        [sys.executable, "-c", HAND_OVER],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=120,
        check=True,
    )
    assert done.stdout == "[] [] True pydantic.plugin._loader\n"
