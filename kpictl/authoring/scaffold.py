"""`kpictl init`: a new registry that checks clean, ready for a repository of its own.

The files come from the templates under templates/init/ (a leading `dot-` in a
name stands for `.`, so the packaged templates have no hidden files). Besides
kpictl.yaml and one example of every kind, the scaffold holds the JSON Schemas
under .kpictl/schema/ with a .vscode/settings.json that maps them for the YAML
language server, a .pre-commit-config.yaml and a GitHub Actions workflow. Dates
(targets, the example campaign) are set from today, so the scaffold checks clean
on the day it is made.

kpictl is not on PyPI, so the pre-commit config and the workflow install it from
its git repository at a pinned ref (`Install`): by default kpictl.REPOSITORY at
the tag of the running version, or what `kpictl init --kpictl-source/--kpictl-ref`
name. Both end up inside YAML and a shell command that CI runs, so they are
checked against a strict character set first, and a URL holding credentials is
refused rather than committed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kpictl import REPOSITORY, __version__
from kpictl.authoring.authoring import FOLDERS
from kpictl.numbers.periods import fiscal_quarter, parse_period
from kpictl.templating.escaping import oneline

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


# What a git URL and a ref may hold: enough for https/ssh/file URLs and tags, and
# nothing YAML, bash or a GitHub expression (`${{`) would read as syntax.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/@%+-]+")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}")
_SCHEMES = ("https", "http", "ssh", "git", "file")


@dataclass(frozen=True, slots=True)
class Install:
    """Where a new registry's pre-commit hooks and CI workflow install kpictl from."""

    repository: str  # a git URL, checked by `repository_url`
    ref: str  # a tag or commit in it, checked by `git_ref`

    @property
    def requirement(self) -> str:
        """The pip requirement: kpictl from the repository at the ref."""
        return f"kpictl @ git+{self.repository}@{self.ref}"


def default_install() -> Install:
    """kpictl's own repository at the tag of the running version."""
    return Install(REPOSITORY, f"v{__version__}")


def repository_url(value: str) -> str:
    """`value` if it is a git URL safe to write into the scaffold; ValueError says why not."""
    shown = oneline(value)
    example = "such as https://github.com/kpictl/kpictl or file:///srv/git/kpictl"
    if not _URL_CHARACTERS.fullmatch(value):
        raise ValueError(
            f"'{shown}' is not a git URL kpictl can write into the workflow: use a URL {example}"
            " (letters, digits and ._~:/@%+- only)"
        )
    parts = urlsplit(value)
    if parts.scheme not in _SCHEMES:
        raise ValueError(
            f"'{shown}' is not a git URL: use one starting with https://, ssh://, git:// or "
            f"file:///, {example}"
        )
    # The URL is committed to the registry's repository: a token in it would leak.
    if parts.password is not None or (parts.username is not None and parts.scheme != "ssh"):
        raise ValueError(
            f"'{parts.scheme}://...@{parts.hostname}' holds credentials, which would be "
            "committed with the scaffold: use a URL without them (and a credential helper)"
        )
    local = parts.scheme == "file"
    # file://localhost/ too: pip 23 refuses a git+file:/// requirement (no host).
    host_ok = parts.netloc in ("", "localhost") if local else bool(parts.netloc)
    if not host_ok or parts.path.strip("/") == "":
        where = "file:/// and an absolute path" if local else "a host and a path"
        raise ValueError(f"'{shown}' is not a git URL: it needs {where}, {example}")
    if "@" in parts.path:
        # pip reads the last @ in `git+URL@REF` as the start of the ref.
        raise ValueError(f"'{shown}' has an @ in its path, which pip would take for the ref")
    return value


def git_ref(value: str) -> str:
    """`value` if it is a tag, branch or commit name safe to write; ValueError says why not."""
    if (
        not _REF.fullmatch(value)
        or ".." in value
        or "//" in value
        or value.endswith((".", "/", ".lock"))
    ):
        raise ValueError(
            f"'{oneline(value)}' is not a git tag or commit kpictl can pin: use a tag such as "
            f"v{__version__} (letters, digits and ._/+- only)"
        )
    return value


@dataclass(frozen=True, slots=True)
class Planned:
    path: Path  # relative to the new registry
    text: str


def _templates() -> Path:
    from kpictl.templating.render import default_templates

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
    organization: str,
    timezone: str,
    today: date,
    fiscal_start_month: int = 1,
    install: Install | None = None,
) -> dict[str, Any]:
    """What the templates are filled with."""
    install = install or default_install()
    from kpictl.authoring.cadence import slug

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
        # Quoted: a ref such as 1.10 would otherwise be read back as a number.
        "kpictl": {
            "repository": json.dumps(install.repository),
            "ref": json.dumps(install.ref),
            "requirement": json.dumps(install.requirement),
        },
    }


def plan(
    organization: str,
    timezone: str,
    today: date,
    fiscal_start_month: int = 1,
    install: Install | None = None,
) -> list[Planned]:
    """Every file of the scaffold and its text (schemas included)."""
    from kpictl.authoring import schema
    from kpictl.templating.render import environment

    env = environment()
    values = context(organization, timezone, today, fiscal_start_month, install)
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
    from kpictl.registry.reading import discover

    if not folder.is_dir():
        return []
    root_file = folder / "kpictl.yaml"
    found = [root_file] if root_file.exists() else []
    return found + discover(folder, [])[:5]


def write(folder: Path, files: list[Planned]) -> list[Path]:
    """Write the scaffold into `folder`, or nothing at all when any file exists.

    An existing .gitignore (init in a repository that has one) is not a clash: the
    scaffold's lines that it lacks are added at its end.
    """
    from kpictl.fileio import make_folder, read_regular_text, write_atomic

    taken = existing_registry(folder)
    if taken:
        shown = ", ".join(str(path) for path in taken[:5])
        raise ScaffoldError(
            f"{folder} already holds a registry or YAML files ({shown}); kpictl init only "
            "starts a new registry, in an empty folder or one without YAML files"
        )
    clashes = [
        folder / item.path
        for item in files
        if item.path not in MERGED and (folder / item.path).exists()
    ]
    if clashes:
        shown = ", ".join(str(path) for path in clashes)
        raise ScaffoldError(f"not overwriting existing files: {shown}")
    written = []
    for item in files:
        path = folder / item.path
        make_folder(path.parent)
        text = item.text
        if item.path in MERGED:
            text = _merged(read_regular_text(path), text)
        write_atomic(path, text)
        written.append(path)
    return written


# Files a folder may already hold, which the scaffold adds its lines to.
MERGED = frozenset({Path(".gitignore")})


def _merged(existing: str | None, text: str) -> str:
    """`existing` with the lines of `text` it does not hold yet added at its end."""
    if existing is None:
        return text
    have = set(existing.splitlines())
    missing = [line for line in text.splitlines() if line not in have or line.startswith("#")]
    if all(line.startswith("#") for line in missing):
        return existing
    separator = "" if existing.endswith("\n") or not existing else "\n"
    return existing + separator + "\n".join(missing) + "\n"
