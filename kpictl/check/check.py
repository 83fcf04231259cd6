"""`kpictl check` as a function: load, run the rules, apply settings and ignores."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from kpictl.check import suppress
from kpictl.check.findings import MAX_SAME_FINDINGS, Finding, Severity
from kpictl.check.rules import RULE_FUNCTIONS, Context, run_rules
from kpictl.registry.registry import Registry, load_registry


@dataclass
class CheckResult:
    registry: Registry
    findings: list[Finding]
    today: date

    @property
    def files(self) -> int:
        return len(self.registry.files)

    def count(self, severity: Severity) -> int:
        return sum(1 for item in self.findings if item.severity == severity)

    def failed(self, fail_on: Severity) -> bool:
        return any(item.severity >= fail_on for item in self.findings)


def registry_today(registry: Registry) -> date:
    """Today in the registry's time zone."""
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(registry.settings.timezone)).date()


def _enabled(
    code: str, rules: Mapping[str, str], select: Collection[str], ignore: Collection[str]
) -> bool:
    """Whether findings of `code` are wanted in this run (--select, --ignore, kpictl.yaml)."""
    if (select and code not in select) or code in ignore:
        return False
    return rules.get(code) != "off"


def _configure(
    findings: list[Finding],
    rules: Mapping[str, str],
    select: Collection[str],
    ignore: Collection[str],
) -> list[Finding]:
    out = []
    for item in findings:
        if not _enabled(item.code, rules, select, ignore):
            continue
        setting = rules.get(item.code)
        if setting is not None:
            item = Finding(
                item.code,
                Severity.parse(setting),
                item.message,
                item.location,
                item.entity,
                item.related,
            )
        out.append(item)
    return out


def check(
    root: Path,
    today: date | None = None,
    select: Collection[str] = (),
    ignore: Collection[str] = (),
    cwd: Path | None = None,
    base: Registry | None = None,
) -> CheckResult:
    """Check the registry at `root`. `select`/`ignore` hold rule codes.

    `base` is the registry at the `--base` commit: given, the rules that compare
    against it (T003, O005, D001) run too.
    """
    registry, findings = load_registry(root, cwd)
    return check_loaded(registry, findings, today, select, ignore, base)


def check_loaded(
    registry: Registry,
    findings: list[Finding],
    today: date | None = None,
    select: Collection[str] = (),
    ignore: Collection[str] = (),
    base: Registry | None = None,
) -> CheckResult:
    """The rest of `check` for a registry already loaded (from disk, or from git)."""
    today = today or registry_today(registry)
    settings = registry.settings.rules
    # A rule whose findings would be dropped is not run at all: a run with
    # --select O004 costs O004, not every rule.
    skipped = {code for code in RULE_FUNCTIONS if not _enabled(code, settings, select, ignore)}
    ran = RULE_FUNCTIONS.keys() - skipped
    findings = [*findings, *run_rules(Context(registry, today, base), ran)]
    findings, about_ignores = suppress.apply(findings, registry.files, today, skipped)
    findings = _configure(findings + about_ignores, settings, select, ignore)
    findings.sort(key=lambda item: item.sort_key)
    return CheckResult(registry, _cap(findings), today)


def _cap(findings: list[Finding]) -> list[Finding]:
    """The first MAX_SAME_FINDINGS findings (sorted) of each rule in each file, then one
    finding in their place that says how many more there are."""
    seen: Counter[tuple[str, str]] = Counter()
    dropped: dict[tuple[str, str], Finding] = {}
    out = []
    for item in findings:
        key = (item.location.path.as_posix(), item.code)
        seen[key] += 1
        if seen[key] <= MAX_SAME_FINDINGS:
            out.append(item)
        elif key not in dropped:
            dropped[key] = item
    if not dropped:
        return findings
    for key, first in dropped.items():
        more = seen[key] - MAX_SAME_FINDINGS
        out.append(
            Finding(
                first.code,
                first.severity,
                f"{more:,} more {first.code} finding{'s' if more > 1 else ''} in this file "
                f"not shown (at most {MAX_SAME_FINDINGS} per rule and file): fix the ones "
                "above and check again",
                first.location,
            )
        )
    out.sort(key=lambda item: item.sort_key)
    return out
