"""The package tree shows the data's path: one folder per stage, few modules at the top,
and no module so long that a newcomer cannot find its parts (issue 11)."""

from __future__ import annotations

from tests.conftest import ROOT

PACKAGE = ROOT / "kpictl"
MAX_LINES = 700
# What stays at the top serves every stage: the entry point, the one error type, and
# the shared helpers (atomic files, workers, private APIs, how values read, formats, the
# ASCII stand-ins the entry point uses on a narrow terminal).
TOP = {
    "__init__.py",
    "__main__.py",
    "compat.py",
    "display.py",
    "errors.py",
    "fileio.py",
    "output_formats.py",
    "parallel.py",
}
STAGES = {
    "authoring",
    "check",
    "cli",
    "emails",
    "escalation",
    "history",
    "numbers",
    "registry",
    "templating",
    "views",
}


def test_no_module_passes_700_lines() -> None:
    long = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            long[path.relative_to(ROOT).as_posix()] = lines
    assert long == {}


def test_the_top_holds_the_stages_and_a_handful_of_shared_modules() -> None:
    modules = {path.name for path in PACKAGE.glob("*.py")}
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert (modules, folders) == (TOP, STAGES)


def test_each_stage_says_what_it_holds() -> None:
    silent = [
        name
        for name in sorted(STAGES)
        if not (PACKAGE / name / "__init__.py").read_text(encoding="utf-8").startswith('"""')
    ]
    assert silent == []
