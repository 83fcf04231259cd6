"""`--format sarif`: SARIF 2.1.0 as GitHub code scanning accepts it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kpictl import __version__
from kpictl.check.catalog import RULES
from kpictl.check.findings import Severity
from kpictl.check.formats import Report
from kpictl.templating.escaping import JSON_SHARP, defuse, visible

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
HELP_URI = "https://github.com/kpictl/kpictl#rules"
SRCROOT = "%SRCROOT%"
# v2: rule, file and entity (v1 hashed the message, which quoted other files' lines).
FINGERPRINT = "kpictlFinding/v2"


def _rule(code: str) -> dict[str, Any]:
    rule = RULES[code]
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.code} {rule.name}: {rule.summary}"},
        "helpUri": HELP_URI,
        "help": {"text": rule.summary},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": ["kpictl"]},
    }


def source_root(registry_root: Path) -> Path:
    """The folder SARIF URIs are relative to: the git top level, else the registry.

    Code scanning matches a URI against the checked-out repository, so it must not
    depend on the folder kpictl ran in. The top level is found by its `.git` entry
    (a folder, or a file in a worktree or submodule) without starting git.
    """
    root = Path(os.path.abspath(registry_root))  # noqa: PTH100 - keep symlinked folders as named
    for folder in (root, *root.parents):
        if (folder / ".git").exists():
            return folder
    return root


def relative_uri(path: Path, top: Path) -> str | None:
    """`path` (absolute, or relative to the current folder) as a URI relative to `top`."""
    absolute = os.path.abspath(path)  # noqa: PTH100
    relative = os.path.relpath(absolute, top)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    # The file name's own bytes: one that is not UTF-8 holds lone surrogates, which
    # quote() would try (and fail) to encode as UTF-8.
    return quote(os.fsencode(Path(relative).as_posix()))


def artifact(path: Path, top: Path) -> dict[str, str]:
    """A file under `top` is relative to %SRCROOT%; one elsewhere (never, in practice)
    is an absolute file URI."""
    uri = relative_uri(path, top)
    if uri is None:
        return {"uri": Path(os.path.abspath(path)).as_uri()}  # noqa: PTH100
    return {"uri": uri, "uriBaseId": SRCROOT}


def fingerprint(code: str, uri: str, entity: str | None) -> str:
    """What stays the same while a finding stays the same: its rule, file and entity.

    Not the message (it can quote another file's line) nor the line (an edit above
    moves it), so code scanning keeps one alert open instead of closing and reopening.
    """
    key = "\0".join((code, uri, entity or ""))
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def write(report: Report) -> str:
    codes = list(RULES)
    top = source_root(report.result.registry.root)
    results = []
    seen: dict[str, int] = {}
    for item in report.result.findings:
        loc = item.location
        where = artifact(loc.path, top)
        digest = fingerprint(item.code, where["uri"], item.entity)
        # Two findings of one rule on one entity (two bad fields) stay two alerts.
        seen[digest] = seen.get(digest, 0) + 1
        results.append(
            {
                "ruleId": item.code,
                "ruleIndex": codes.index(item.code),
                "level": _LEVEL[item.severity],
                "message": {"text": visible(item.message)},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": where,
                            "region": {"startLine": loc.line, "startColumn": loc.column},
                        }
                    }
                ],
                "partialFingerprints": {FINGERPRINT: f"{digest}:{seen[digest]}"},
            }
        )
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kpictl",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://github.com/kpictl/kpictl",
                        "rules": [_rule(code) for code in codes],
                    }
                },
                "originalUriBaseIds": {
                    SRCROOT: {
                        "description": {
                            "text": "The top level of the git repository holding the "
                            "registry (the registry folder when it is not in git)."
                        }
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return defuse(json.dumps(log, indent=2), JSON_SHARP) + "\n"
