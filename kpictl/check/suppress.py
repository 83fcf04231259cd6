"""Inline ignores: `# kpictl: ignore[O004]` and `# kpictl: ignore[T001] until 2026-12-31`.

A comment applies to its own line, or, alone on a line, to the line below it.
Codes are required. An ignore that matches nothing, or whose date has passed, is
itself reported (X001), so suppressions cannot quietly outlive their reason.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kpictl.check.catalog import finding, lookup
from kpictl.check.findings import Finding, Location, excerpt
from kpictl.registry.loader import SourceFile

_COMMENT = re.compile(r"(?:^|\s)(#\s*kpictl\s*:\s*ignore\b(\[[^\]]*\])?(?:\s+until\s+(\S+))?)")


@dataclass
class Suppression:
    """One `# kpictl: ignore[...]` comment, and the codes it has silenced so far."""

    location: Location
    target_line: int
    codes: tuple[str, ...]
    until: date | None
    used: set[str] = field(default_factory=set)


def scan(source: SourceFile) -> tuple[list[Suppression], list[Finding]]:
    """Suppressions in one file, and X001 findings for malformed ones."""
    if "kpictl" not in source.text:
        return [], []
    suppressions: list[Suppression] = []
    problems: list[Finding] = []
    for number, line in enumerate(source.text.splitlines(), start=1):
        match = _COMMENT.search(line)
        if match is None:
            continue
        where = Location(source.path, number, match.start(1) + 1)
        bracket, until_text = match[2], match[3]
        codes: list[str] = []
        unknown: list[str] = []
        for word in (bracket or "[]")[1:-1].split(","):
            if word.strip():
                rule = lookup(word)
                (codes.append(rule.code) if rule else unknown.append(word.strip()))
        if not codes or unknown:
            what = f"unknown code {excerpt(', '.join(unknown))}" if unknown else "no code"
            problems.append(
                finding(
                    "X001",
                    f"ignore comment with {what}: write # kpictl: ignore[CODE], e.g. ignore[O004]",
                    where,
                )
            )
            if not codes:
                continue
        until = None
        if until_text is not None:
            try:
                until = date.fromisoformat(until_text)
            except ValueError:
                problems.append(
                    finding(
                        "X001",
                        f"'{excerpt(until_text)}' is not a date: write until YYYY-MM-DD",
                        where,
                    )
                )
                continue
        alone = line[: match.start(1)].strip() == ""
        suppressions.append(
            Suppression(where, number + 1 if alone else number, tuple(codes), until)
        )
    return suppressions, problems


def apply(
    findings: list[Finding],
    sources: list[SourceFile],
    today: date,
    not_run: Collection[str] = (),
) -> tuple[list[Finding], list[Finding]]:
    """(findings that remain, X001 findings about the ignore comments themselves).

    `not_run`: codes whose rules were skipped in this run; an ignore of one of them
    cannot be told unused, so it is not reported as such.
    """
    by_line: dict[tuple[Path, int], list[Suppression]] = {}
    problems: list[Finding] = []
    everything: list[Suppression] = []
    for source in sources:
        found, bad = scan(source)
        problems.extend(bad)
        everything.extend(found)
        for suppression in found:
            key = (suppression.location.path, suppression.target_line)
            by_line.setdefault(key, []).append(suppression)
    if not everything:
        return findings, problems

    kept: list[Finding] = []
    for item in findings:
        loc = item.location
        for suppression in by_line.get((loc.path, loc.line), ()):
            expired = suppression.until is not None and suppression.until < today
            if item.code in suppression.codes and not expired:
                suppression.used.add(item.code)
                break
        else:
            kept.append(item)

    for suppression in everything:
        for code in suppression.codes:
            if suppression.until is not None and suppression.until < today:
                problems.append(
                    finding(
                        "X001",
                        f"ignore[{code}] expired on {suppression.until}: the finding is "
                        "reported again; fix it, or extend the date with a reason",
                        suppression.location,
                    )
                )
            elif code not in suppression.used and code not in not_run:
                problems.append(
                    finding(
                        "X001",
                        f"ignore[{code}] matches no finding on line {suppression.target_line}: "
                        "remove the comment",
                        suppression.location,
                    )
                )
    return kept, problems
