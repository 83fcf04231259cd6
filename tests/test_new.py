"""`kpictl new`: a new entity file where its kind lives, that checks clean."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from kpictl.registry.reading import read_file
from tests.conftest import EXAMPLE, Run, write_registry

KPI_FIELDS = [
    "name=Win rate",
    "description=Share of closed opportunities that were won.",
    "formula=count(won) / count(closed) * 100",
    "unit=percent",
    "direction=increase",
    "stage=conversion",
    "indicator=lagging",
    "audience=business",
    "owners.primary=victor-almeida",
    "owners.backup=omar-haddad",
    "sources=wh-pipeline",
    "cadence.refresh=daily",
    "cadence.review=monthly",
    "targets.0.period=2026-Q4",
    "targets.0.value=24.5",
    "targets.1.period=2027",
    "targets.1.value=26",
    "targets.1.rationale=Plan, with the new pricing",
    "escalation=standard",
    "labels.board=yes",
]


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    return root


def fields(*pairs: str) -> list[str]:
    return [arg for pair in pairs for arg in ("--field", pair)]


def test_new_kpi_in_the_kpi_folder(run: Run, registry: Path) -> None:
    result = run("new", "kpi", "win-rate", str(registry), *fields(*KPI_FIELDS), cwd=registry)
    assert result.code == 0, result.err
    assert result.out == "Created kpis/win-rate.yaml.\n"
    text = (registry / "kpis" / "win-rate.yaml").read_text()
    assert text == (
        "kind: kpi\n"
        "id: win-rate\n"
        "name: Win rate\n"
        "description: Share of closed opportunities that were won.\n"
        "formula: count(won) / count(closed) * 100\n"
        "unit: percent\n"
        "direction: increase\n"
        "stage: conversion\n"
        "indicator: lagging\n"
        "audience: business\n"
        "owners:\n"
        "  primary: victor-almeida\n"
        "  backup: omar-haddad\n"
        "sources: [wh-pipeline]\n"
        "cadence:\n"
        "  refresh: daily\n"
        "  review: monthly\n"
        "targets:\n"
        "  - period: 2026-Q4\n"
        "    value: 24.5\n"
        "  - period: '2027'\n"
        "    value: 26\n"
        "    rationale: Plan, with the new pricing\n"
        "escalation: standard\n"
        "labels:\n"
        "  board: yes\n"
    )
    assert run("check", str(registry), "--as-of", "2026-11-20", "--fail-on", "info").code == 0
    assert run("fmt", "--check", str(registry / "kpis" / "win-rate.yaml")).code == 0


@pytest.mark.parametrize(
    ("kind", "folder", "pairs"),
    [
        ("person", "people", ["name=Ida Berg", "email=ida.berg@northwind.example", "team=revops"]),
        ("team", "teams", ["name=Partner marketing", "function=marketing", "lead=noah-fischer"]),
        (
            "glossary-term",
            "glossary",
            [
                "term=Win rate",
                "definition=Won over closed.",
                "owner=omar-haddad",
                "agreed_by=sales",
            ],
        ),
        (
            "data-source",
            "sources",
            [
                "name=Gong calls",
                "system=Gong",
                "owner=omar-haddad",
                "refresh=daily",
                "fallback=salesforce-crm",
            ],
        ),
        (
            "policy",
            "policies",
            [
                "name=Quiet",
                "tiers.0.level=1",
                "tiers.0.name=Owner",
                "tiers.0.deviation_pct=10",
                "tiers.0.respond_within=2d",
                "tiers.0.notify=$owner,$backup",
                "tiers.0.approver=$owner",
            ],
        ),
        (
            "campaign",
            "campaigns",
            [
                "name=Spring webinars",
                "status=draft",
                "context=Inbound is flat.",
                "objective=Grow MQLs.",
                "primary_kpi.kpi=mql",
                "primary_kpi.target=900",
                "daci.driver=lucia-ferraro",
                "daci.approver=jonas-keller",
                "timeline.start=2027-03-01",
                "timeline.end=2027-05-31",
            ],
        ),
    ],
)
def test_every_kind_lands_where_its_kind_lives(
    run: Run, registry: Path, kind: str, folder: str, pairs: list[str]
) -> None:
    result = run("new", kind, "fresh-one", str(registry), *fields(*pairs), cwd=registry)
    assert result.code == 0, result.err + result.out
    path = registry / folder / "fresh-one.yaml"
    assert result.out.startswith(f"Created {folder}/fresh-one.yaml.\n")
    if kind == "glossary-term":  # nothing uses it yet: said, but not an error
        assert "G001 [info]" in result.out
    (document,) = read_file(path, path).documents
    assert document.data["id"] == "fresh-one"
    checked = run("check", str(registry), "--as-of", "2026-11-20")
    assert checked.code == 0, checked.out


def test_folder_is_where_most_of_the_kind_live(run: Run, tmp_path: Path) -> None:
    root = write_registry(
        tmp_path / "reg",
        {
            "org/a.yaml": "kind: team\nid: a\nname: A\nfunction: sales\n",
            "org/b.yaml": "kind: team\nid: b\nname: B\nfunction: sales\n",
            "misc/c.yaml": "kind: team\nid: c\nname: C\nfunction: sales\n",
        },
    )
    result = run("new", "team", "d", str(root), *fields("name=D", "function=sales"), cwd=root)
    assert result.code == 0
    assert (root / "org" / "d.yaml").exists()
    result = run(
        "new",
        "person",
        "ann",
        str(root),
        *fields("name=Ann", "email=ann@x.example", "team=a"),
        cwd=root,
    )
    assert result.code == 0
    assert (root / "people" / "ann.yaml").exists()  # no person yet: the usual folder


def test_missing_fields_without_a_terminal(run: Run, registry: Path) -> None:
    result = run("new", "person", "ida-berg", str(registry), "--field", "name=Ida", cwd=registry)
    assert result.code == 2
    assert result.err == (
        "kpictl: missing required fields for a person (no terminal to ask on):\n"
        "  --field email=...\n"
        "  --field team=...\n"
    )
    assert not (registry / "people" / "ida-berg.yaml").exists()


def test_prompts_for_missing_fields_on_a_terminal(
    run: Run, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("ida.berg@\nida.berg@northwind.example\nrevops\n"))
    result = run(
        "new", "person", "ida-berg", str(registry), "--field", "name=Ida Berg", cwd=registry
    )
    assert result.code == 0, result.err
    assert result.out == "email: email: team: Created people/ida-berg.yaml.\n"
    assert "is not an email address" in result.err
    text = (registry / "people" / "ida-berg.yaml").read_text()
    assert text == (
        "kind: person\nid: ida-berg\nname: Ida Berg\n"
        "email: ida.berg@northwind.example\nteam: revops\n"
    )


def test_a_reference_that_does_not_exist_yet_is_reported(run: Run, registry: Path) -> None:
    result = run(
        "new",
        "person",
        "ida-berg",
        str(registry),
        *fields("name=Ida", "email=ida@x.example", "team=revopz"),
        cwd=registry,
    )
    assert result.code == 1
    assert result.out.splitlines()[0] == "Created people/ida-berg.yaml."
    assert "people/ida-berg.yaml:5:7: R002 [error]" in result.out
    assert "did you mean 'revops'?" in result.out


def test_an_existing_id_is_refused_with_its_file(run: Run, registry: Path) -> None:
    result = run(
        "new", "team", "mql", str(registry), *fields("name=X", "function=sales"), cwd=registry
    )
    assert result.code == 1
    assert result.err == (
        "kpictl: the id 'mql' is already used by the kpi in kpis/mql.yaml:1; "
        "ids are unique across the registry\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["persn", "x"], "did you mean 'person'?"),
        (["person", "Ida"], "not a valid id"),
        (["person", "x", "--field", "nmae=Ida"], "unknown field 'nmae' (did you mean 'name'?)"),
        (["person", "x", "--field", "name"], "is not key=value"),
        (["kpi", "x", "--field", "unit=counts"], "did you mean 'count'?"),
        (["kpi", "x", "--field", "targets.period=2026"], "pick an item by number"),
        (["kpi", "x", "--field", "targets.0.value=lots"], "is not a number"),
        (["campaign", "x", "--field", "timeline.start=soon"], "is not a date"),
        (["person", "x", *fields("name=I", "email=nope", "team=t")], "not an email address"),
    ],
)
def test_bad_arguments(run: Run, registry: Path, args: list[str], message: str) -> None:
    result = run("new", args[0], args[1], str(registry), *args[2:], cwd=registry)
    assert result.code == 2
    assert message in result.err
