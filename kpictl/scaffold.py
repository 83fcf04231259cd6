"""`kpictl init`: a new registry that checks clean, ready for a repository of its own.

The files come from the templates under templates/init/ (a leading `dot-` in a
name stands for `.`, so the packaged templates have no hidden files). Besides
kpictl.yaml and one example of every kind, the scaffold holds the JSON Schemas
under .kpictl/schema/ with a .vscode/settings.json that maps them for the YAML
language server, a .pre-commit-config.yaml and a GitHub Actions workflow. Dates
(targets, the example campaign) are set from today, so the scaffold checks clean
on the day it is made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kpictl.authoring import FOLDERS
from kpictl.escaping import oneline
from kpictl.periods import fiscal_quarter, parse_period

SCHEMA_FOLDER = Path(".kpictl") / "schema"
TEMPLATE_FOLDER = "init"
IDS = {
    "manager": "jordan-lee",
    "owner": "alex-morgan",
    "backup": "sam-rivera",
    "team": "marketing",
    "source": "crm-contacts",
    "fallback": "lead-export",
    "kpi": "mql",
    "term": "mql-definition",
    "policy": "standard",
    "campaign": "",  # set from the date
}


class ScaffoldError(Exception):
    """The scaffold would overwrite something, or the folder already holds a registry."""


@dataclass(frozen=True, slots=True)
class Planned:
    path: Path  # relative to the new registry
    text: str


def _templates() -> Path:
    from kpictl.render import default_templates

    return default_templates() / TEMPLATE_FOLDER


def _target_path(template: Path) -> Path:
    parts = [
        part.replace("dot-", ".", 1) if part.startswith("dot-") else part for part in template.parts
    ]
    return Path(*parts).with_suffix("")  # drop .j2


def _quarters(today: date, fiscal_start_month: int, count: int) -> list[str]:
    out: list[str] = []
    day = today
    for _ in range(count):
        quarter = fiscal_quarter(day, fiscal_start_month)
        out.append(quarter)
        day = parse_period(quarter, fiscal_start_month).end + timedelta(days=1)
    return out


def context(
    organization: str, timezone: str, today: date, fiscal_start_month: int = 1
) -> dict[str, Any]:
    """What the templates are filled with."""
    from kpictl.cadence import slug

    quarters = _quarters(today, fiscal_start_month, 4)
    targets = [
        {
            "period": quarter,
            "value": 1000 + 100 * index,
            "rationale": "Starting point; replace with the agreed target"
            if index == 0
            else f"Plan growth of {10 * index}% on {quarters[0]}",
        }
        for index, quarter in enumerate(quarters)
    ]
    start = parse_period(quarters[1], fiscal_start_month).start
    ids = {**IDS, "campaign": f"{quarters[1].lower()}-webinar-series"}
    return {
        "organization": json.dumps(organization, ensure_ascii=False),
        "organization_text": oneline(organization),
        "timezone": timezone,
        "fiscal_year_start_month": fiscal_start_month,
        "domain": f"{slug(organization)}.example",
        "ids": ids,
        "targets": targets,
        "campaign": {
            "name": f"{quarters[1]} customer webinar series",
            "start": start.isoformat(),
            "end": (start + timedelta(days=90)).isoformat(),
            "target": 1200,
        },
        "folders": sorted(set(FOLDERS.values())),
    }


def plan(
    organization: str, timezone: str, today: date, fiscal_start_month: int = 1
) -> list[Planned]:
    """Every file of the scaffold and its text (schemas included)."""
    from kpictl import schema
    from kpictl.render import environment

    env = environment()
    values = context(organization, timezone, today, fiscal_start_month)
    folder = _templates()
    out = []
    for template in sorted(folder.rglob("*.j2")):
        relative = template.relative_to(folder)
        name = f"{TEMPLATE_FOLDER}/{relative.as_posix()}"
        out.append(Planned(_target_path(relative), env.get_template(name).render(**values)))
    for name, body in schema.schemas().items():
        out.append(Planned(SCHEMA_FOLDER / name, schema.render(body)))
    return out


def existing_registry(folder: Path) -> list[Path]:
    """What makes `folder` a registry already: kpictl.yaml, or YAML files kpictl would read."""
    from kpictl.loader import discover

    if not folder.is_dir():
        return []
    root_file = folder / "kpictl.yaml"
    found = [root_file] if root_file.exists() else []
    return found + discover(folder, [])[:5]


def write(folder: Path, files: list[Planned]) -> list[Path]:
    """Write the scaffold into `folder`, or nothing at all when any file exists."""
    from kpictl.fileio import write_atomic

    taken = existing_registry(folder)
    if taken:
        shown = ", ".join(str(path) for path in taken[:5])
        raise ScaffoldError(
            f"{folder} already holds a registry or YAML files ({shown}); kpictl init only "
            "starts a new registry, in an empty folder or one without YAML files"
        )
    clashes = [folder / item.path for item in files if (folder / item.path).exists()]
    if clashes:
        shown = ", ".join(str(path) for path in clashes)
        raise ScaffoldError(f"not overwriting existing files: {shown}")
    written = []
    for item in files:
        path = folder / item.path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, item.text)
        written.append(path)
    return written
