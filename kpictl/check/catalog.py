"""Every finding code kpictl can report, with its name and default severity, as data."""

from __future__ import annotations

from dataclasses import dataclass

from kpictl.check.findings import Finding, Location, Severity


@dataclass(frozen=True, slots=True)
class Rule:
    """A finding code: stable code, kebab-case name, default severity, one-line summary."""

    code: str
    name: str
    severity: Severity
    summary: str


E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("Y001", "yaml-syntax", E, "The file is not valid YAML."),
        Rule("Y002", "yaml-duplicate-key", E, "A mapping repeats a key."),
        Rule(
            "Y003",
            "yaml-forbidden-construct",
            E,
            "Tags, merge keys, alias bombs, or a document that is not a mapping.",
        ),
        Rule(
            "Y004",
            "file-unreadable",
            E,
            "A registry file, or what lies past a size limit, is not read.",
        ),
        Rule("Y005", "large-file", W, "A registry file is larger than 1 MB."),
        Rule("Y006", "empty-file", INFO, "A registry file holds no YAML document."),
        Rule("S001", "schema", E, "A field is missing, unknown, or of the wrong type or value."),
        Rule("R001", "duplicate-id", E, "Two entities share an id."),
        Rule("R002", "unknown-reference", E, "A reference names no entity of an allowed kind."),
        Rule("O001", "backup-is-primary", E, "A KPI's backup owner is its primary owner."),
        Rule(
            "O002",
            "inactive-owner",
            E,
            "A KPI, data source, escalation policy or experiment names a person who is not active.",
        ),
        Rule("O003", "team-without-lead", W, "A team has no lead, or its lead is not active."),
        Rule(
            "O004",
            "owner-overload",
            W,
            "A person is primary owner of more KPIs than owner_kpi_limit.",
        ),
        Rule(
            "O005",
            "owner-change-without-approval",
            E,
            "With --base, a KPI's new primary owner lacks owners.rationale and "
            "owners.approved_by, or the approver may not approve it.",
        ),
        Rule("L001", "lineage-cycle", E, "Data sources form a cycle through upstream."),
        Rule(
            "L002",
            "stale-source-for-cadence",
            W,
            "A data source refreshes less often than a KPI that uses it.",
        ),
        Rule(
            "L003",
            "source-without-fallback",
            INFO,
            "A data source feeding a business KPI has no fallback.",
        ),
        Rule("T001", "no-current-target", W, "A KPI has no target for the current period."),
        Rule("T002", "duplicate-target-period", E, "A KPI lists one target period twice."),
        Rule(
            "T003",
            "target-change-without-approval",
            E,
            "With --base, a changed target lacks rationale and approved_by, or the approver "
            "may not approve it.",
        ),
        Rule(
            "D001",
            "definition-change-without-approval",
            E,
            "With --base, a changed glossary definition or KPI formula or definition lacks "
            "change.rationale, or an approval for every team or function in agreed_by.",
        ),
        Rule(
            "E001",
            "tier-order",
            E,
            "Tier levels are not 1..n, or deviation_pct does not rise with level.",
        ),
        Rule(
            "E002",
            "tier-without-approver",
            E,
            "A tier has no approver, or its notify list resolves to nobody.",
        ),
        Rule(
            "C001",
            "charter-unsigned",
            E,
            "An approved, active or complete campaign has no sign-off by its DACI approver.",
        ),
        Rule(
            "C002",
            "readout-outside-timeline",
            E,
            "A readout falls after the campaign end, or the end is before the start.",
        ),
        Rule(
            "C003",
            "complete-without-retrospective",
            W,
            "A complete campaign has no retrospective.",
        ),
        Rule(
            "C004",
            "kpi-twice-in-charter",
            E,
            "A KPI is both primary and secondary in a charter, or listed twice.",
        ),
        Rule(
            "C005",
            "signoff-after-start",
            W,
            "A charter's sign-off is dated after the campaign's start.",
        ),
        Rule(
            "C006",
            "start-passed-unsigned",
            W,
            "A draft or approved campaign's start date has passed.",
        ),
        Rule(
            "C007",
            "commitment-outside-charter",
            W,
            "A team commits to a KPI that is not one of the charter's, without a rationale.",
        ),
        Rule("G001", "unused-glossary-term", INFO, "No KPI uses the glossary term."),
        Rule(
            "A001",
            "experiment-without-control",
            E,
            "A running or concluded experiment's control is blank or a placeholder.",
        ),
        Rule(
            "A002",
            "experiment-without-decision-rule",
            E,
            "A running or concluded experiment's decision rule is blank or a placeholder.",
        ),
        Rule(
            "A003",
            "concluded-without-result",
            E,
            "A concluded experiment has no result.",
        ),
        Rule(
            "A004",
            "result-before-end",
            E,
            "A result is recorded on a planned or running experiment, or before the timeline ends.",
        ),
        Rule(
            "A005",
            "experiment-ends-before-start",
            E,
            "An experiment's timeline ends before it starts.",
        ),
        Rule(
            "K001",
            "kpi-tree-cycle",
            E,
            "KPIs form a cycle through drives, or a KPI drives itself.",
        ),
        Rule(
            "M001",
            "template-error",
            E,
            "A template override does not compile or render with sample data.",
        ),
        Rule(
            "X001",
            "unused-ignore",
            W,
            "An ignore comment matches no finding, or its date has passed.",
        ),
    )
}

BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES.values()}


def lookup(code_or_name: str) -> Rule | None:
    """The rule for a code (`O004`, any case) or a name (`owner-overload`)."""
    text = code_or_name.strip()
    return RULES.get(text.upper()) or BY_NAME.get(text.lower())


def finding(
    code: str,
    message: str,
    location: Location,
    entity: str | None = None,
    related: tuple[Location, ...] = (),
) -> Finding:
    """A finding at its rule's default severity (settings may change it later).

    Line breaks in the message (a value quoted from the YAML) are shown as \\n, so
    every finding stays one line in every report.
    """
    if "\n" in message or "\r" in message:
        message = message.replace("\r", "\\r").replace("\n", "\\n")
    return Finding(code, RULES[code].severity, message, location, entity, related)
