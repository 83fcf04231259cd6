"""R002: every reference names an entity of a kind the field allows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

from kpictl.check.findings import Finding, excerpt
from kpictl.check.rules.base import Context, in_record
from kpictl.registry.loader import KeyPath
from kpictl.registry.models import (
    Campaign,
    DataSource,
    Entity,
    EscalationPolicy,
    Experiment,
    Function,
    GlossaryTerm,
    Kpi,
    Person,
    Team,
)
from kpictl.registry.registry import Registry, has
from kpictl.registry.schema_errors import field_label, suggest

PERSON = ("person",)
PERSON_OR_TEAM = ("person", "team")
# Not an entity kind: a name under `connections:` in kpictl.yaml (`actual`, `freshness`).
CONNECTION = ("connection",)
FUNCTIONS: tuple[str, ...] = get_args(Function)

Reference = tuple[KeyPath, str, tuple[str, ...]]


def references(entity: Entity) -> Iterator[Reference]:
    """Every (path, id, allowed kinds) an entity refers to; roles like $owner excluded.

    Of a partial entity, only the fields that passed validation (`has`) are read.
    """
    if isinstance(entity, Person):
        if has(entity, "team"):
            yield ("team",), entity.team, ("team",)
        if has(entity, "manager") and entity.manager:
            yield ("manager",), entity.manager, PERSON
    elif isinstance(entity, Team):
        if has(entity, "lead") and entity.lead:
            yield ("lead",), entity.lead, PERSON
    elif isinstance(entity, DataSource):
        if has(entity, "owner"):
            yield ("owner",), entity.owner, PERSON
        for i, upstream in enumerate(entity.upstream if has(entity, "upstream") else ()):
            yield ("upstream", i), upstream, ("data_source",)
        if has(entity, "fallback") and entity.fallback:
            yield ("fallback",), entity.fallback, ("data_source",)
        if has(entity, "freshness") and entity.freshness is not None:
            yield ("freshness", "connection"), entity.freshness.connection, CONNECTION
    elif isinstance(entity, Kpi):
        yield from _kpi(entity)
    elif isinstance(entity, EscalationPolicy):
        for i, tier in enumerate(entity.tiers if has(entity, "tiers") else ()):
            for j, ref in enumerate(tier.notify):
                if not ref.startswith("$"):
                    yield ("tiers", i, "notify", j), ref, PERSON_OR_TEAM
            if tier.approver and not tier.approver.startswith("$"):
                yield ("tiers", i, "approver"), tier.approver, PERSON_OR_TEAM
    elif isinstance(entity, Campaign):
        yield from _campaign(entity)
    elif isinstance(entity, Experiment):
        if has(entity, "kpi"):
            yield ("kpi",), entity.kpi, ("kpi",)
        if has(entity, "campaign") and entity.campaign:
            yield ("campaign",), entity.campaign, ("campaign",)
        if has(entity, "owner"):
            yield ("owner",), entity.owner, PERSON
    elif isinstance(entity, GlossaryTerm):
        if has(entity, "owner"):
            yield ("owner",), entity.owner, PERSON_OR_TEAM
        for i, ref in enumerate(entity.agreed_by if has(entity, "agreed_by") else ()):
            if ref not in FUNCTIONS:
                yield ("agreed_by", i), ref, ("team",)
        yield from _change_approvers(entity)


def _kpi(kpi: Kpi) -> Iterator[Reference]:
    if has(kpi, "definition") and kpi.definition:
        yield ("definition",), kpi.definition, ("glossary_term",)
    if has(kpi, "owners"):
        yield ("owners", "primary"), kpi.owners.primary, PERSON
        yield ("owners", "backup"), kpi.owners.backup, PERSON
        if kpi.owners.approved_by:
            yield ("owners", "approved_by"), kpi.owners.approved_by, PERSON
    for i, source in enumerate(kpi.sources if has(kpi, "sources") else ()):
        yield ("sources", i), source, ("data_source",)
    for i, target in enumerate(kpi.targets if has(kpi, "targets") else ()):
        if target.approved_by:
            yield ("targets", i, "approved_by"), target.approved_by, PERSON
    if has(kpi, "escalation"):
        yield ("escalation",), kpi.escalation, ("escalation_policy",)
    for i, driven in enumerate(kpi.drives if has(kpi, "drives") else ()):
        yield ("drives", i), driven, ("kpi",)
    yield from _change_approvers(kpi)
    if has(kpi, "actual") and kpi.actual is not None:
        yield ("actual", "connection"), kpi.actual.connection, CONNECTION


def _change_approvers(entity: Kpi | GlossaryTerm) -> Iterator[Reference]:
    change = entity.change if has(entity, "change") else None
    for i, ref in enumerate(change.approved_by if change is not None else ()):
        yield ("change", "approved_by", i), ref, PERSON


def _campaign(campaign: Campaign) -> Iterator[Reference]:
    if has(campaign, "primary_kpi"):
        yield ("primary_kpi", "kpi"), campaign.primary_kpi.kpi, ("kpi",)
    for i, item in enumerate(campaign.secondary_kpis if has(campaign, "secondary_kpis") else ()):
        yield ("secondary_kpis", i, "kpi"), item.kpi, ("kpi",)
    if has(campaign, "daci"):
        daci = campaign.daci
        yield ("daci", "driver"), daci.driver, PERSON_OR_TEAM
        yield ("daci", "approver"), daci.approver, PERSON_OR_TEAM
        for role in ("contributors", "informed"):
            for i, ref in enumerate(getattr(daci, role)):
                yield ("daci", role, i), ref, PERSON_OR_TEAM
    for i, row in enumerate(campaign.raci if has(campaign, "raci") else ()):
        for role in ("responsible", "consulted", "informed"):
            for j, ref in enumerate(getattr(row, role)):
                yield ("raci", i, role, j), ref, PERSON_OR_TEAM
        if row.accountable:
            yield ("raci", i, "accountable"), row.accountable, PERSON_OR_TEAM
    for i, risk in enumerate(campaign.risks if has(campaign, "risks") else ()):
        if risk.owner:
            yield ("risks", i, "owner"), risk.owner, PERSON_OR_TEAM
    for i, sign in enumerate(campaign.sign_off if has(campaign, "sign_off") else ()):
        yield ("sign_off", i, "by"), sign.by, PERSON
    for i, commitment in enumerate(campaign.commitments if has(campaign, "commitments") else ()):
        yield ("commitments", i, "team"), commitment.team, ("team",)
        yield ("commitments", i, "kpi"), commitment.kpi, ("kpi",)
    retro = campaign.retrospective if has(campaign, "retrospective") else None
    for i, step in enumerate(retro.next_steps if retro is not None else ()):
        if step.owner:
            yield ("retrospective", "next_steps", i, "owner"), step.owner, PERSON


def _kind(kind: str) -> str:
    """A kind as a message says it: `data source`, `KPI`."""
    return "KPI" if kind == "kpi" else kind.replace("_", " ")


def _kinds(allowed: tuple[str, ...]) -> str:
    names = [_kind(kind) for kind in allowed]
    return " or ".join(f"a {name}" if name[0] not in "aeiou" else f"an {name}" for name in names)


def connection_names(registry: Registry) -> list[str]:
    """The names under `connections:` in kpictl.yaml, also when its settings failed to load.

    A schema error elsewhere in kpictl.yaml leaves the registry with default settings;
    the names written are still the ones a `connection:` may use, so S001 stays the one
    finding instead of an R002 on every query as well.
    """
    names = list(registry.settings.connections)
    data = registry.root_document.data if registry.root_document is not None else None
    written = data.get("connections") if isinstance(data, dict) else None
    if isinstance(written, dict):
        names.extend(str(name) for name in written if name not in names)
    return names


def _unknown_connection(label: str, ref: str, names: list[str]) -> str | None:
    """Why `ref` names no connection, or None when it does."""
    if ref in names:
        return None
    if not names:
        return (
            f"{label} names '{excerpt(ref)}', but kpictl.yaml defines no connections: "
            "add it under `connections:` with its SQLAlchemy URL"
        )
    close = suggest(ref, names)
    listed = ", ".join(excerpt(name) for name in sorted(names))
    tip = f"; did you mean '{excerpt(close)}'?" if close else f" (it has {listed})"
    return f"{label} names '{excerpt(ref)}', which is not a connection in kpictl.yaml{tip}"


def unknown_reference(ctx: Context) -> Iterator[Finding]:
    registry = ctx.registry
    candidates: dict[tuple[str, ...], list[str]] = {}
    connections: list[str] | None = None
    # Every copy of a duplicated id and every partial entity too: a typo inside one is
    # a typo all the same, and R001 or S001 would otherwise hide it.
    for record in registry.every_record():
        for path, ref, allowed in references(record.entity):
            if allowed is CONNECTION:
                if connections is None:
                    connections = connection_names(registry)
                problem = _unknown_connection(field_label(path), ref, connections)
                if problem is not None:
                    yield in_record("R002", record, path, problem)
                continue
            kind = registry.kind_of(ref)
            if kind in allowed:
                continue
            label = field_label(path)
            if kind is not None:
                message = (
                    f"{label} names '{ref}', which is a {_kind(kind)}; it must be {_kinds(allowed)}"
                )
            else:
                if allowed not in candidates:
                    candidates[allowed] = [
                        other.entity.id
                        for other in registry.records.values()
                        if other.entity.kind in allowed
                    ] + [key for key, doc in registry.broken.items() if doc.data["kind"] in allowed]
                close = suggest(ref, candidates[allowed])
                tip = f"; did you mean '{close}'?" if close else " in this registry"
                message = f"{label} names '{ref}', which is not {_kinds(allowed)}{tip}"
            yield in_record("R002", record, path, message)


RULES = {"R002": unknown_reference}
