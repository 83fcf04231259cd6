"""`who` as plain data: one person's or team's duties, built from a Registry. No I/O.

The accountability map the other way round: every KPI, source, escalation tier,
campaign role, experiment and glossary term a person or team answers for. Ids become views
through the same `_Views` the map uses, so both read a reference alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kpictl.registry.models import Campaign, EscalationPolicy, GlossaryTerm, Kpi
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import resolve
from kpictl.views.accountability import CheckSummary, _Views, check_id
from kpictl.views.blocks import ExperimentView, PersonView, SourceView, TeamView
from kpictl.views.experiments import experiment_views

# --------------------------------------------------------------------------------------
# who
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KpiRef:
    id: str
    name: str
    stage: str
    review: str


@dataclass(frozen=True, slots=True)
class KpiDuty:
    kpi: KpiRef
    person: PersonView  # for a team: the member who owns it


@dataclass(frozen=True, slots=True)
class SourceDuty:
    source: SourceView
    person: PersonView
    kpis: tuple[KpiRef, ...]  # the KPIs that read it, directly or further down the chain


@dataclass(frozen=True, slots=True)
class EscalationDuty:
    """One tier of one policy where someone is notified or approves, for some KPIs."""

    person: PersonView
    policy_id: str
    policy_name: str
    level: int
    tier_name: str
    respond_within: str
    notified: bool
    approves: bool
    via: tuple[str, ...]  # the entries that name them: "$owner", a team id, their own id
    kpis: tuple[KpiRef, ...]


@dataclass(frozen=True, slots=True)
class CampaignRole:
    campaign_id: str
    campaign_name: str
    status: str
    framework: Literal["DACI", "RACI"]
    role: str  # driver, approver, contributor, informed; responsible, accountable, ...
    activity: str | None  # RACI only
    person: PersonView | None  # None when the team itself is named
    via_team: TeamView | None  # set when a person holds the role through their team


@dataclass(frozen=True, slots=True)
class ExperimentDuty:
    """An experiment the subject owns: they run it and decide by its decision rule."""

    experiment: ExperimentView  # as `kpictl experiments` and the map show it
    person: PersonView | None  # None when the team itself is named
    via_team: TeamView | None


@dataclass(frozen=True, slots=True)
class TermDuty:
    id: str
    term: str
    person: PersonView | None  # None when the team itself owns it
    via_team: TeamView | None


@dataclass(frozen=True, slots=True)
class WhoView:
    kind: Literal["person", "team"]
    id: str
    name: str
    person: PersonView | None
    manager: PersonView | None
    team: TeamView | None  # the person's team, or the team itself
    lead: PersonView | None
    members: tuple[PersonView, ...]
    primary: tuple[KpiDuty, ...]
    backup: tuple[KpiDuty, ...]
    sources: tuple[SourceDuty, ...]
    escalations: tuple[EscalationDuty, ...]
    campaigns: tuple[CampaignRole, ...]
    experiments: tuple[ExperimentDuty, ...]
    glossary: tuple[TermDuty, ...]
    check: CheckSummary

    @property
    def empty(self) -> bool:
        return not (
            self.primary
            or self.backup
            or self.sources
            or self.escalations
            or self.campaigns
            or self.experiments
            or self.glossary
        )


def build_who(registry: Registry, subject: str, check: CheckSummary | None = None) -> WhoView:
    """Everything one person or team answers for. Raises UnknownId for other ids."""
    people = {p.id: p for p in registry.people}
    teams = {t.id: t for t in registry.teams}
    check_id("person or team", subject, sorted(people.keys() | teams.keys()))
    resolver = _Views(registry)
    person: PersonView | None
    manager: PersonView | None
    team: TeamView | None
    if subject in people:
        person = resolver.person(subject)
        members: tuple[PersonView, ...] = (person,)
        team = person.team if person.team and person.team.known else None
        team_ids = {team.id} if team else set()
        manager = resolver.person(person.manager) if person.manager else None
        lead = resolver.person(team.lead) if team and team.lead else None
        kind: Literal["person", "team"] = "person"
        name = person.name
    else:
        team = resolver.team(subject)
        roster = sorted(
            (p for p in people.values() if p.team == subject), key=lambda p: p.name.casefold()
        )
        members = tuple(resolver.person(p.id) for p in roster)
        team_ids = {subject}
        lead = resolver.person(team.lead) if team.lead else None
        person = None
        manager = None
        kind = "team"
        name = team.name
    member_ids = {m.id: m for m in members}
    if kind == "team" and lead is not None:
        # A lead from another team still answers for what is sent to this one.
        member_ids.setdefault(lead.id, lead)

    kpis = sorted(registry.kpis, key=lambda k: k.id)
    refs = {k.id: KpiRef(k.id, k.name, k.stage, k.cadence.review) for k in kpis}
    primary = tuple(
        KpiDuty(refs[k.id], member_ids[k.owners.primary])
        for k in kpis
        if k.owners.primary in member_ids
    )
    backup = tuple(
        KpiDuty(refs[k.id], member_ids[k.owners.backup])
        for k in kpis
        if k.owners.backup in member_ids
    )

    readers: dict[str, list[KpiRef]] = {}
    for kpi in kpis:
        for source in resolver.chain(dict.fromkeys(kpi.sources)):
            readers.setdefault(source.id, []).append(refs[kpi.id])
    sources = tuple(
        SourceDuty(resolver.source(s.id), member_ids[s.owner], tuple(readers.get(s.id, ())))
        for s in sorted(registry.sources, key=lambda s: s.id)
        if s.owner in member_ids
    )

    return WhoView(
        kind=kind,
        id=subject,
        name=name,
        person=person,
        manager=manager,
        team=team,
        lead=lead,
        members=members if kind == "team" else (),
        primary=primary,
        backup=backup,
        sources=sources,
        escalations=_escalation_duties(registry, resolver, kpis, refs, member_ids),
        campaigns=_campaign_roles(registry, resolver, member_ids, team_ids, kind),
        experiments=_experiment_duties(registry, resolver, member_ids, team_ids, kind),
        glossary=_term_duties(registry, resolver, member_ids, team_ids, kind),
        check=check or CheckSummary(),
    )


def _escalation_duties(
    registry: Registry,
    resolver: _Views,
    kpis: Sequence[Kpi],
    refs: dict[str, KpiRef],
    members: dict[str, PersonView],
) -> tuple[EscalationDuty, ...]:
    # (person, policy, level) -> [notified, approves, via entries, KPI ids]
    found: dict[tuple[str, str, int], tuple[set[str], dict[str, None], dict[str, None]]] = {}
    policies: dict[str, EscalationPolicy] = {}
    for kpi in kpis:
        policy = registry.get(kpi.escalation)
        if not isinstance(policy, EscalationPolicy):
            continue
        policies[policy.id] = policy
        for tier in policy.tiers:
            entries = [("notify", ref) for ref in tier.notify]
            if tier.approver:
                entries.append(("approve", tier.approver))
            for what, ref in entries:
                for person in resolve(registry, ref, kpi).people:
                    if person.id not in members:
                        continue
                    roles, via, named = found.setdefault(
                        (person.id, policy.id, tier.level), (set(), {}, {})
                    )
                    roles.add(what)
                    via.setdefault(ref, None)
                    named.setdefault(kpi.id, None)
    duties = []
    for (person_id, policy_id, level), (roles, via, named) in found.items():
        policy = policies[policy_id]
        tier = next(t for t in policy.tiers if t.level == level)
        duties.append(
            EscalationDuty(
                person=members[person_id],
                policy_id=policy_id,
                policy_name=policy.name,
                level=level,
                tier_name=tier.name,
                respond_within=tier.respond_within,
                notified="notify" in roles,
                approves="approve" in roles,
                via=tuple(via),
                kpis=tuple(refs[k] for k in named),
            )
        )
    duties.sort(key=lambda d: (d.person.name.casefold(), d.person.id, d.policy_id, d.level))
    return tuple(duties)


def _holders(
    ref: str,
    resolver: _Views,
    members: dict[str, PersonView],
    team_ids: set[str],
    kind: Literal["person", "team"],
) -> list[tuple[PersonView | None, TeamView | None]]:
    """Who among the subject holds a role given to `ref`: (person, through team)."""
    if ref in members:
        return [(members[ref], None)]
    if ref in team_ids:
        team = resolver.team(ref)
        if kind == "team":
            return [(None, None)]  # the team itself is named
        return [(person, team) for person in members.values()]
    return []


def _campaign_roles(
    registry: Registry,
    resolver: _Views,
    members: dict[str, PersonView],
    team_ids: set[str],
    kind: Literal["person", "team"],
) -> tuple[CampaignRole, ...]:
    roles = []
    for campaign in sorted(registry.of_kind(Campaign), key=lambda c: c.id):
        entries: list[tuple[Literal["DACI", "RACI"], str, str | None, str]] = []
        daci = campaign.daci
        entries.append(("DACI", "driver", None, daci.driver))
        entries.append(("DACI", "approver", None, daci.approver))
        entries.extend(("DACI", "contributor", None, ref) for ref in daci.contributors)
        entries.extend(("DACI", "informed", None, ref) for ref in daci.informed)
        for row in campaign.raci:
            entries.extend(("RACI", "responsible", row.activity, ref) for ref in row.responsible)
            if row.accountable:
                entries.append(("RACI", "accountable", row.activity, row.accountable))
            entries.extend(("RACI", "consulted", row.activity, ref) for ref in row.consulted)
            entries.extend(("RACI", "informed", row.activity, ref) for ref in row.informed)
        seen: set[tuple[str, str, str | None, str | None]] = set()
        for framework, role, activity, ref in entries:
            for person, via_team in _holders(ref, resolver, members, team_ids, kind):
                key = (framework, role, activity, person.id if person else None)
                if key in seen:
                    continue
                seen.add(key)
                roles.append(
                    CampaignRole(
                        campaign.id,
                        campaign.name,
                        campaign.status,
                        framework,
                        role,
                        activity,
                        person,
                        via_team,
                    )
                )
    return tuple(roles)


def _experiment_duties(
    registry: Registry,
    resolver: _Views,
    members: dict[str, PersonView],
    team_ids: set[str],
    kind: Literal["person", "team"],
) -> tuple[ExperimentDuty, ...]:
    """The experiments the subject owns, in life-cycle order (as `kpictl experiments`)."""
    experiments = registry.experiments
    holders = {
        ref: found
        for ref in dict.fromkeys(e.owner for e in experiments)
        if (found := _holders(ref, resolver, members, team_ids, kind))
    }
    owned = [e for e in experiments if e.owner in holders]
    return tuple(
        ExperimentDuty(view, person, via_team)
        for view in experiment_views(registry, owned, resolver)
        # A view's owner keeps the id as written, a person's or a team's.
        for person, via_team in holders[view.owner.id]
    )


def _term_duties(
    registry: Registry,
    resolver: _Views,
    members: dict[str, PersonView],
    team_ids: set[str],
    kind: Literal["person", "team"],
) -> tuple[TermDuty, ...]:
    duties = []
    for term in sorted(registry.of_kind(GlossaryTerm), key=lambda t: t.id):
        for person, via_team in _holders(term.owner, resolver, members, team_ids, kind):
            duties.append(TermDuty(term.id, term.term, person, via_team))
    return tuple(duties)


__all__ = [
    "CampaignRole",
    "EscalationDuty",
    "ExperimentDuty",
    "KpiDuty",
    "KpiRef",
    "SourceDuty",
    "TermDuty",
    "WhoView",
    "build_who",
]
