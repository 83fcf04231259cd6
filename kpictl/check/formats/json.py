"""`--format json`: one object per finding, stable keys, for scripts and dashboards."""

from __future__ import annotations

import json
from typing import Any

from kpictl.check.catalog import RULES
from kpictl.check.findings import Finding
from kpictl.check.formats import Report
from kpictl.templating.escaping import JSON_SHARP, defuse


def as_dict(item: Finding) -> dict[str, Any]:
    loc = item.location
    return {
        "code": item.code,
        "name": RULES[item.code].name,
        "severity": item.severity.label,
        "path": loc.path.as_posix(),
        "line": loc.line,
        "column": loc.column,
        "message": item.message,
        "entity": item.entity,
        "related": [
            {"path": rel.path.as_posix(), "line": rel.line, "column": rel.column}
            for rel in item.related
        ],
    }


def write(report: Report) -> str:
    text = json.dumps([as_dict(item) for item in report.result.findings], indent=2)
    return defuse(text, JSON_SHARP) + "\n"
