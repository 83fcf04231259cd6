"""`--format sarif`: SARIF 2.1.0 as GitHub code scanning accepts it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kpictl import __version__
from kpictl.catalog import RULES
from kpictl.findings import Severity
from kpictl.formats import Report

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
HELP_URI = "https://github.com/kpictl/kpictl#rules"


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


def artifact(path: Path) -> dict[str, str]:
    """A relative path is relative to where kpictl ran (%SRCROOT%); others are file URIs."""
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": quote(path.as_posix()), "uriBaseId": "%SRCROOT%"}


def write(report: Report) -> str:
    codes = list(RULES)
    results = []
    for item in report.result.findings:
        loc = item.location
        results.append(
            {
                "ruleId": item.code,
                "ruleIndex": codes.index(item.code),
                "level": _LEVEL[item.severity],
                "message": {"text": item.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": artifact(loc.path),
                            "region": {"startLine": loc.line, "startColumn": loc.column},
                        }
                    }
                ],
                "partialFingerprints": {
                    "kpictlFinding/v1": f"{item.code}:{item.entity or ''}:{item.message}"
                },
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
                    "%SRCROOT%": {"description": {"text": "The directory kpictl ran in."}}
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
