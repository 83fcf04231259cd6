"""`kpictl init`: a new registry that checks clean, with editor, pre-commit and CI set-up."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from kpictl.authoring.scaffold import plan
from kpictl.authoring.schema import render, schemas
from kpictl.check.check import check
from kpictl.registry.loader import parse_text
from kpictl.registry.models import KINDS
from kpictl.registry.reading import read_file
from tests.conftest import Run

EXPECTED = [
    ".github/workflows/kpictl.yml",
    ".gitignore",
    ".kpictl/schema/campaign.schema.json",
    ".kpictl/schema/data_source.schema.json",
    ".kpictl/schema/entity.schema.json",
    ".kpictl/schema/escalation_policy.schema.json",
    ".kpictl/schema/experiment.schema.json",
    ".kpictl/schema/glossary_term.schema.json",
    ".kpictl/schema/kpi.schema.json",
    ".kpictl/schema/kpictl.schema.json",
    ".kpictl/schema/person.schema.json",
    ".kpictl/schema/team.schema.json",
    ".pre-commit-config.yaml",
    ".vscode/settings.json",
    "campaigns/campaign.yaml",
    "experiments/experiment.yaml",
    "glossary/terms.yaml",
    "kpictl.yaml",
    "kpis/mql.yaml",
    "people/people.yaml",
    "policies/standard.yaml",
    "sources/sources.yaml",
    "teams/teams.yaml",
]


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_init_scaffolds_a_registry_that_checks_clean(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "kpis-repo"
    result = run("init", str(root), "--organization", "Acme & Sons", "--timezone", "Europe/Berlin")
    assert result.code == 0, result.err
    assert result.out.startswith(f"Created a kpictl registry in {root} (23 files).\n")
    assert files(root) == EXPECTED
    clean = run("check", str(root), "--fail-on", "info")
    assert clean.code == 0, clean.out
    assert clean.out == "No findings in 9 files.\n"
    formatted = run("fmt", "--check", str(root))
    assert formatted.code == 0, formatted.out
    kinds = {
        document.data["kind"]
        for path in root.rglob("*.yaml")
        if path.parent.name not in (".", "workflows")
        and path.name != "kpictl.yaml"
        and not path.name.startswith(".")
        for document in read_file(path, path).documents
    }
    assert kinds == set(KINDS)
    settings = (root / "kpictl.yaml").read_text()
    assert 'organization: "Acme & Sons"' in settings
    assert "timezone: Europe/Berlin" in settings


@pytest.mark.parametrize("today", [date(2026, 1, 1), date(2026, 3, 31), date(2027, 12, 31)])
@pytest.mark.parametrize("fiscal", [1, 7])
def test_scaffold_checks_clean_whatever_the_day(tmp_path: Path, today: date, fiscal: int) -> None:
    root = tmp_path / "reg"
    for item in plan("Example Co", "UTC", today, fiscal):
        path = root / item.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(item.text)
    result = check(root, today=today)
    assert [f"{f.code} {f.message}" for f in result.findings] == []


def test_editor_settings_map_the_schemas(tmp_path: Path) -> None:
    written = {item.path.as_posix(): item.text for item in plan("X", "UTC", date(2026, 11, 22))}
    settings = json.loads(written[".vscode/settings.json"])
    mapping = settings["yaml.schemas"]
    assert mapping["./.kpictl/schema/kpictl.schema.json"] == ["kpictl.yaml"]
    assert "kpis/**/*.yaml" in mapping["./.kpictl/schema/entity.schema.json"]
    for schema_path in mapping:
        assert schema_path.removeprefix("./") in written
    assert written[".kpictl/schema/entity.schema.json"] == render(schemas()["entity.schema.json"])
    # The scaffold's own entities validate against the schema it ships.
    validator = Draft202012Validator(json.loads(written[".kpictl/schema/entity.schema.json"]))
    for name, text in written.items():
        if name.endswith(".yaml") and "/" in name and not name.startswith("."):
            for document in parse_text(Path(name), text)[0]:
                assert list(validator.iter_errors(document.data)) == [], name


def test_ci_and_pre_commit(tmp_path: Path) -> None:
    written = {item.path.as_posix(): item.text for item in plan("X", "UTC", date(2026, 11, 22))}
    workflow = written[".github/workflows/kpictl.yml"]
    # kpictl is not on PyPI: the workflow installs it from its repository
    # (tests/test_security_init.py checks the exact step).
    assert 'python -m pip install "$KPICTL_REQUIREMENT"' in workflow
    assert "kpictl check --format github" in workflow
    assert "kpictl fmt --check" in workflow
    hooks = written[".pre-commit-config.yaml"]
    for hook in ("id: kpictl-fmt", "id: kpictl-check", "id: kpictl-schema"):
        assert hook in hooks
    for name in (".github/workflows/kpictl.yml", ".pre-commit-config.yaml"):
        assert parse_text(Path(name), written[name])[1] == []


def test_init_refuses_an_existing_registry(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "reg"
    assert run("init", str(root)).code == 0
    before = {name: (root / name).read_bytes() for name in files(root)}
    again = run("init", str(root))
    assert again.code == 1
    assert "already holds a registry" in again.err
    assert {name: (root / name).read_bytes() for name in files(root)} == before


def test_init_refuses_yaml_files_and_never_overwrites(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "reg"
    (root / "kpis").mkdir(parents=True)
    (root / "kpis" / "old.yaml").write_text("kind: kpi\n")
    result = run("init", str(root))
    assert result.code == 1
    assert "old.yaml" in result.err
    assert files(root) == ["kpis/old.yaml"]

    other = tmp_path / "other"
    (other / ".vscode").mkdir(parents=True)
    (other / ".vscode" / "settings.json").write_text("{}")
    (other / "README.md").write_text("# KPIs\n")
    result = run("init", str(other))
    assert result.code == 1
    assert "not overwriting existing files" in result.err
    assert files(other) == [".vscode/settings.json", "README.md"]


def test_init_into_a_folder_with_other_files(run: Run, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "README.md").write_text("# KPIs\n")
    assert run("init", str(root), "--timezone", "America/New_York").code == 0
    assert (root / "README.md").read_text() == "# KPIs\n"


def test_init_rejects_an_unknown_time_zone(run: Run, tmp_path: Path) -> None:
    result = run("init", str(tmp_path / "reg"), "--timezone", "Mars/Olympus")
    assert result.code == 2
    assert not (tmp_path / "reg").exists()
