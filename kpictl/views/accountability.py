"""The accountability map and `who` as plain data, built from a Registry. No I/O.

The map answers "who answers for this number, where does it come from, and who
hears about it when it goes wrong"; `who` answers the same question the other
way round, for one person or team. Both tolerate a registry with check errors:
a reference to a missing entity becomes a placeholder marked `known=False`, a
lineage cycle is cut where it closes, so the map shows everything it can.

Labels shown to people (what "approver" or "sources" mean in a sentence) live
in the templates; this module only carries ids, names and short codes. The views
themselves are in views/blocks.py, `who` in views/who.py.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from kpictl.display import result_change, value_in
from kpictl.registry.lineage import chain as upstream_chain
from kpictl.registry.models import (
    Campaign,
    DataSource,
    EscalationPolicy,
    Experiment,
    GlossaryTerm,
    Kpi,
    Person,
)
from kpictl.registry.registry import Registry
from kpictl.registry.resolve import resolve
from kpictl.registry.schema_errors import suggest
from kpictl.views.blocks import (
    STAGES,
    ExperimentView,
    Fallback,
    KpiLink,
    KpiView,
    LadderView,
    LineageNode,
    PersonView,
    SourceView,
    TargetView,
    TeamView,
    TermView,
    TierView,
    TreeRow,
    life_cycle,
)
from kpictl.views.heap import registry_frozen
from kpictl.views.lineage_trees import Node, Trees
from kpictl.views.tree import kpi_tree

GROUPINGS = ("kpi", "owner", "team", "stage")
# Teams whose function serves other teams rather than facing the business; a KPI
# reported to the business needs at least one owner outside these.
INTERNAL_FUNCTIONS = frozenset({"analytics", "other"})
TOP_OWNERS = 5


class UnknownId(ValueError):
    """An id given on the command line names nothing of the expected kind."""

    def __init__(self, what: str, value: str, suggestion: str | None) -> None:
        tip = f"; did you mean '{suggestion}'?" if suggestion else ""
        super().__init__(f"no {what} has the id '{value}'{tip}")
        self.value = value
        self.suggestion = suggestion


# --------------------------------------------------------------------------------------
# Health: views, not lint failures
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SameTeam:
    kpi: KpiView
    team: TeamView


@dataclass(frozen=True, slots=True)
class SinglePoint:
    """A primary owner nobody else can stand in for on one KPI."""

    person: PersonView
    kpi: KpiView
    # "sources": also owns every source the KPI reads; "approver": the only approver
    # on every tier of its escalation ladder.
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OwnerLoad:
    person: PersonView
    primary: int
    backup: int
    sources: int

    @property
    def total(self) -> int:
        return self.primary + self.backup + self.sources


@dataclass(frozen=True, slots=True)
class Health:
    same_team: tuple[SameTeam, ...]
    single_points: tuple[SinglePoint, ...]
    top_owners: tuple[OwnerLoad, ...]
    no_business_owner: tuple[KpiView, ...]

    @property
    def clean(self) -> bool:
        return not (self.same_team or self.single_points or self.no_business_owner)


@dataclass(frozen=True, slots=True)
class CheckSummary:
    """What `kpictl check` says about the registry the view was built from."""

    errors: int = 0
    warnings: int = 0
    infos: int = 0


@dataclass(frozen=True, slots=True)
class Group:
    key: str  # a person, team or stage id; "" for the single group of --by kpi
    label: str
    kpis: tuple[KpiView, ...]
    person: PersonView | None = None
    team: TeamView | None = None


@dataclass(frozen=True, slots=True)
class AccountabilityMap:
    organization: str | None
    grouped_by: str  # one of GROUPINGS
    kpi_filter: tuple[str, ...]
    owner_filter: tuple[str, ...]
    groups: tuple[Group, ...]
    kpis: tuple[KpiView, ...]  # sorted by id
    people: dict[str, PersonView]  # everyone the map names, by id
    sources: dict[str, SourceView]  # every source in the map's lineage and fallbacks
    health: Health
    check: CheckSummary
    total_kpis: int  # in the registry, before filters
    as_of: date | None = None  # the evaluation date: whose period's target is current
    # The KPI tree (`drives`) among the map's KPIs, from the roots (driven by none of
    # them) in funnel order; and the KPIs that neither drive nor are driven.
    tree: tuple[TreeRow, ...] = ()
    outside_tree: tuple[KpiLink, ...] = ()

    @property
    def filtered(self) -> bool:
        return bool(self.kpi_filter or self.owner_filter)

    @property
    def teams(self) -> dict[str, TeamView]:
        found = {p.team.id: p.team for p in self.people.values() if p.team is not None}
        return dict(sorted(found.items()))


# --------------------------------------------------------------------------------------
# Ids into views (with placeholders for what is missing); who a reference means is
# kpictl.registry.resolve's answer
# --------------------------------------------------------------------------------------


@dataclass
class _Views:
    registry: Registry
    as_of: date | None = None
    shown: frozenset[str] | None = None  # the KPIs the map draws; None: all of them
    _people: dict[str, PersonView] = field(default_factory=dict)
    _teams: dict[str, TeamView] = field(default_factory=dict)
    _sources: dict[str, SourceView] = field(default_factory=dict)
    _trees: Trees = field(init=False)
    _lineage: dict[int, tuple[Node, LineageNode]] = field(default_factory=dict)
    _fallbacks: dict[str, Fallback] = field(default_factory=dict)
    # Escalation tiers and ladders are shared by the KPIs whose entries resolve to the
    # same people, so each is built, converted and rendered once. A role ("$owner") is
    # resolved once per KPI rather than once per tier; a person or team id once per map.
    _named: dict[str, tuple[str, ...]] = field(default_factory=dict)  # person ids
    _tiers: dict[tuple[str, int, tuple[str, ...], tuple[str, ...]], TierView] = field(
        default_factory=dict
    )
    _ladders: dict[tuple[str, tuple[int, ...]], LadderView] = field(default_factory=dict)
    # The KPI tree the other way round, and each KPI's experiments: built on first use.
    _driven_by: dict[str, list[str]] | None = None
    _experiments: dict[str, list[Experiment]] | None = None

    def __post_init__(self) -> None:
        self._trees = Trees(self.registry)

    def link(self, kpi_id: str) -> KpiLink:
        kpi = self.registry.get(kpi_id)
        if isinstance(kpi, Kpi):
            on_map = self.shown is None or kpi.id in self.shown
            return KpiLink(kpi.id, kpi.name, kpi.stage, on_map=on_map)
        return KpiLink(kpi_id, kpi_id, None, known=False)

    def driven_by(self, kpi_id: str) -> tuple[KpiLink, ...]:
        """The KPIs whose `drives` name `kpi_id`, by id."""
        if self._driven_by is None:
            self._driven_by = {}
            for kpi in sorted(self.registry.kpis, key=lambda k: k.id):
                for driven in dict.fromkeys(kpi.drives):
                    self._driven_by.setdefault(driven, []).append(kpi.id)
        return tuple(map(self.link, self._driven_by.get(kpi_id, ())))

    def experiments_on(self, kpi_id: str) -> tuple[ExperimentView, ...]:
        """The experiments meant to move `kpi_id`, in life-cycle order."""
        if self._experiments is None:
            self._experiments = {}
            for experiment in sorted(self.registry.experiments, key=life_cycle):
                self._experiments.setdefault(experiment.kpi, []).append(experiment)
        return tuple(map(self.experiment, self._experiments.get(kpi_id, ())))

    def experiment(self, experiment: Experiment) -> ExperimentView:
        """One experiment as the views show it, its values in its KPI's unit."""
        kpi = self.registry.get(experiment.kpi)
        kpi = kpi if isinstance(kpi, Kpi) else None
        campaign = self.registry.get(experiment.campaign) if experiment.campaign else None
        baseline = experiment.baseline
        result = experiment.result
        change: tuple[str | None, bool | None] = (None, None)
        if baseline is not None and result is not None and result.value is not None:
            change = result_change(baseline.value, result.value, kpi)
        return ExperimentView(
            id=experiment.id,
            name=experiment.name,
            status=experiment.status,
            hypothesis=experiment.hypothesis,
            kpi_id=experiment.kpi,
            kpi_name=kpi.name if kpi else None,
            campaign_id=experiment.campaign,
            campaign_name=campaign.name if isinstance(campaign, Campaign) else None,
            owner=self.person(experiment.owner),
            control=experiment.control,
            decision_rule=experiment.decision_rule,
            start=experiment.timeline.start,
            end=experiment.timeline.end,
            baseline=value_in(baseline.value, kpi) if baseline else None,
            baseline_period=baseline.period if baseline else None,
            baseline_value=baseline.value if baseline else None,
            result=value_in(result.value, kpi) if result and result.value is not None else None,
            result_value=result.value if result else None,
            decision=result.decision if result else None,
            learnings=tuple(result.learnings) if result else (),
            change=change[0],
            better=change[1],
        )

    def team(self, team_id: str) -> TeamView:
        view = self._teams.get(team_id)
        if view is None:
            team = self.registry.team(team_id)
            view = (
                TeamView(team.id, team.name, team.function, team.lead)
                if team
                else TeamView(team_id, team_id, None, None, known=False)
            )
            self._teams[team_id] = view
        return view

    def person(self, person_id: str) -> PersonView:
        view = self._people.get(person_id)
        if view is None:
            person = self.registry.person(person_id)
            view = self._person_view(person) if person else self._unknown_person(person_id)
            self._people[person_id] = view
        return view

    def _person_view(self, person: Person) -> PersonView:
        return PersonView(
            person.id,
            person.name,
            person.title,
            person.email,
            self.team(person.team),
            person.manager,
            person.active,
        )

    @staticmethod
    def _unknown_person(person_id: str) -> PersonView:
        return PersonView(person_id, person_id, None, None, None, None, True, known=False)

    def people(self, entities: Iterable[Person]) -> tuple[PersonView, ...]:
        return tuple(self.person(p.id) for p in entities)

    def source(self, source_id: str) -> SourceView:
        view = self._sources.get(source_id)
        if view is None:
            source = self.registry.get(source_id)
            if isinstance(source, DataSource):
                view = SourceView(
                    source.id,
                    source.name,
                    source.system,
                    source.refresh,
                    self.person(source.owner),
                    tuple(source.upstream),
                    source.fallback,
                )
            else:
                view = SourceView(source_id, source_id, None, None, None, (), None, known=False)
            self._sources[source_id] = view
        return view

    def lineage(self, source_ids: Iterable[str]) -> tuple[LineageNode, ...]:
        """Lineage trees as kpictl.registry.lineage draws them, with views of each source."""
        return tuple(map(self._node, self._trees.lineage(source_ids)))

    def chain(self, source_ids: Iterable[str]) -> tuple[SourceView, ...]:
        """Every source `source_ids` are built from, each once, however deep."""
        return tuple(map(self.source, upstream_chain(self.registry, source_ids)))

    def _node(self, node: Node) -> LineageNode:
        # Trees shares a tree between the KPIs that read it: so do the views. A node is
        # kept beside its view so that its id() is not reused while cached. Children
        # are converted before their parents, without recursion: a tree is up to
        # MAX_LEVELS deep.
        todo = [node]
        while todo:
            current = todo[-1]
            if id(current) in self._lineage:
                todo.pop()
                continue
            missing = [child for child in current.upstream if id(child) not in self._lineage]
            if missing:
                todo.extend(missing)
                continue
            todo.pop()
            view = LineageNode(
                self.source(current.id),
                tuple(self._lineage[id(child)][1] for child in current.upstream),
                cycle=current.cycle,
                shown=current.shown,
                more=current.more,
            )
            self._lineage[id(current)] = (current, view)
        return self._lineage[id(node)][1]

    def ladder(self, kpi: Kpi) -> LadderView:
        """The KPI's escalation policy, each tier resolved to the people it names."""
        policy = self.registry.get(kpi.escalation)
        if not isinstance(policy, EscalationPolicy):
            missing = LadderView(kpi.escalation, kpi.escalation, (), known=False)
            return self._ladders.setdefault((kpi.escalation, ()), missing)
        roles: dict[str, tuple[str, ...]] = {}  # "$owner" and the like: for this KPI only

        def ids(ref: str) -> tuple[str, ...]:
            found = roles.get(ref, self._named.get(ref))
            if found is None:
                resolution = resolve(self.registry, ref, kpi)
                found = tuple(person.id for person in resolution.people)
                # Whoever stands in for an inactive person depends on the KPI.
                shared = not ref.startswith("$") and not resolution.stand_ins
                (self._named if shared and not resolution.left_out else roles)[ref] = found
            return found

        tiers = []
        for index, tier in enumerate(policy.tiers):
            notify = tuple(dict.fromkeys(itertools.chain.from_iterable(map(ids, tier.notify))))
            approvers = tuple(dict.fromkeys(ids(tier.approver))) if tier.approver else ()
            key = (policy.id, index, notify, approvers)
            view = self._tiers.get(key)
            if view is None:
                view = TierView(
                    tier.level,
                    tier.name,
                    tier.deviation_pct,
                    tier.respond_within,
                    tier.respond_hours,
                    tier.on_data_outage,
                    tuple(tier.actions),
                    tuple(self.person(person_id) for person_id in notify),
                    tuple(self.person(person_id) for person_id in approvers),
                    tuple(tier.notify),
                    tier.approver,
                )
                self._tiers[key] = view
            tiers.append(view)
        ladder = LadderView(policy.id, policy.name, tuple(tiers))
        return self._ladders.setdefault((policy.id, tuple(id(view) for view in tiers)), ladder)

    def fallback(self, source: SourceView, fallback_id: str) -> Fallback:
        """`source` and the source to read while it is down (one object per source)."""
        item = self._fallbacks.get(source.id)
        if item is None:
            item = Fallback(source, self.source(fallback_id))
            self._fallbacks[source.id] = item
        return item

    def kpi(self, kpi: Kpi) -> KpiView:
        lineage = self.lineage(kpi.sources)
        chain = self.chain(dict.fromkeys(kpi.sources))
        capture = tuple(s for s in chain if s.captures)
        fallbacks = tuple(self.fallback(s, s.fallback) for s in chain if s.fallback)
        return KpiView(
            id=kpi.id,
            name=kpi.name,
            description=kpi.description,
            stage=kpi.stage,
            indicator=kpi.indicator,
            audience=kpi.audience,
            unit=kpi.unit,
            direction=kpi.direction,
            definition=kpi.definition,
            primary=self.person(kpi.owners.primary),
            backup=self.person(kpi.owners.backup),
            lineage=lineage,
            chain=chain,
            capture=capture,
            fallbacks=fallbacks,
            refresh=kpi.cadence.refresh,
            review=kpi.cadence.review,
            escalation=self.ladder(kpi),
            formula=kpi.formula,
            term=self.term(kpi.definition) if kpi.definition else None,
            target=self.target(kpi),
            drives=tuple(map(self.link, dict.fromkeys(kpi.drives))),
            driven_by=self.driven_by(kpi.id),
            experiments=self.experiments_on(kpi.id),
        )

    def term(self, term_id: str) -> TermView:
        term = self.registry.get(term_id)
        if not isinstance(term, GlossaryTerm):
            return TermView(term_id, term_id, "", (), known=False)
        return TermView(term.id, term.term, term.definition, tuple(term.agreed_by))

    def target(self, kpi: Kpi) -> TargetView | None:
        """The target of the period holding the evaluation date, as `status` picks it."""
        from kpictl.display import number, period_label
        from kpictl.numbers.evaluate import current_target

        if self.as_of is None:
            return None
        fiscal = self.registry.settings.fiscal_year_start_month
        found = current_target(kpi, self.as_of, fiscal)
        if found is None:
            return None
        target, period = found
        return TargetView(
            target.period, period_label(period, fiscal), target.value, number(target.value, kpi)
        )


def lineage_sources(kpi: KpiView) -> list[SourceView]:
    """Every source a KPI depends on, from the ones it reads down to capture."""
    return list(kpi.chain)


# --------------------------------------------------------------------------------------
# The map
# --------------------------------------------------------------------------------------


def check_id(what: str, value: str, candidates: Iterable[str]) -> None:
    """Raise UnknownId (with the closest candidate) unless `value` is among `candidates`."""
    choices = list(candidates)
    if value in choices:
        return
    # `aisha` for `aisha-okafor`: a unique id that starts with the word given.
    starts = [c for c in choices if c.startswith(f"{value}-")]
    close = starts[0] if len(starts) == 1 else suggest(value, choices)
    raise UnknownId(what, value, close)


def select_kpis(
    registry: Registry, kpi_ids: Sequence[str] = (), owner_ids: Sequence[str] = ()
) -> list[Kpi]:
    """The KPIs a map shows: all, or those named by --kpi and/or owned by --owner.

    An owner may be a person (primary or backup) or a team (any member primary or
    backup). Both filters together mean KPIs that match both.
    """
    kpis = sorted(registry.kpis, key=lambda k: k.id)
    for kpi_id in kpi_ids:
        check_id("KPI", kpi_id, (k.id for k in kpis))
    people = {p.id for p in registry.people}
    teams = {t.id for t in registry.teams}
    owners: set[str] = set()
    for owner_id in owner_ids:
        check_id("person or team", owner_id, sorted(people | teams))
        if owner_id in people:
            owners.add(owner_id)
        else:
            owners.update(p.id for p in registry.people if p.team == owner_id)
    if kpi_ids:
        wanted = set(kpi_ids)
        kpis = [k for k in kpis if k.id in wanted]
    if owner_ids:
        kpis = [k for k in kpis if k.owners.primary in owners or k.owners.backup in owners]
    return kpis


def build_map(
    registry: Registry,
    *,
    by: str = "kpi",
    kpi_ids: Sequence[str] = (),
    owner_ids: Sequence[str] = (),
    check: CheckSummary | None = None,
    as_of: date | None = None,
) -> AccountabilityMap:
    """The accountability map of the registry (or of the KPIs the filters select).

    `as_of` picks each KPI's current target; without it the map shows none.
    """
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}")
    with registry_frozen():
        return _build_map(registry, by, kpi_ids, owner_ids, check, as_of)


def _build_map(
    registry: Registry,
    by: str,
    kpi_ids: Sequence[str],
    owner_ids: Sequence[str],
    check: CheckSummary | None,
    as_of: date | None,
) -> AccountabilityMap:
    selected = select_kpis(registry, kpi_ids, owner_ids)
    resolver = _Views(registry, as_of, frozenset(kpi.id for kpi in selected))
    kpis = tuple(resolver.kpi(kpi) for kpi in selected)
    tree, outside_tree = kpi_tree(kpis, resolver.link)

    people: dict[str, PersonView] = {}
    sources: dict[str, SourceView] = {}
    for kpi in kpis:
        people.setdefault(kpi.primary.id, kpi.primary)
        people.setdefault(kpi.backup.id, kpi.backup)
        for source in lineage_sources(kpi):
            sources.setdefault(source.id, source)
        for item in kpi.fallbacks:
            sources.setdefault(item.fallback.id, item.fallback)
        for tier in kpi.escalation.tiers:
            for person in (*tier.notify, *tier.approvers):
                people.setdefault(person.id, person)
    for source in sources.values():
        if source.owner is not None:
            people.setdefault(source.owner.id, source.owner)

    return AccountabilityMap(
        organization=registry.settings.organization,
        grouped_by=by,
        kpi_filter=tuple(kpi_ids),
        owner_filter=tuple(owner_ids),
        groups=_groups(kpis, by),
        kpis=kpis,
        people=dict(sorted(people.items())),
        sources=dict(sorted(sources.items())),
        health=health(kpis, sources.values()),
        check=check or CheckSummary(),
        total_kpis=len(registry.kpis),
        as_of=as_of,
        tree=tree,
        outside_tree=outside_tree,
    )


def _groups(kpis: tuple[KpiView, ...], by: str) -> tuple[Group, ...]:
    if by == "kpi":
        return (Group("", "", kpis),) if kpis else ()
    buckets: dict[str, list[KpiView]] = {}
    if by == "stage":
        for kpi in kpis:
            buckets.setdefault(kpi.stage, []).append(kpi)
        order = sorted(buckets, key=lambda s: (STAGES.index(s) if s in STAGES else 99, s))
        return tuple(Group(stage, stage, tuple(buckets[stage])) for stage in order)
    if by == "owner":
        people: dict[str, PersonView] = {}
        for kpi in kpis:
            people[kpi.primary.id] = kpi.primary
            buckets.setdefault(kpi.primary.id, []).append(kpi)
        order = sorted(buckets, key=lambda pid: (people[pid].name.casefold(), pid))
        return tuple(
            Group(pid, people[pid].name, tuple(buckets[pid]), person=people[pid]) for pid in order
        )
    teams: dict[str, TeamView | None] = {}
    for kpi in kpis:
        team = kpi.primary.team
        key = team.id if team else ""
        teams[key] = team
        buckets.setdefault(key, []).append(kpi)
    # KPIs whose primary owner has no known team come last.
    order = sorted(buckets, key=lambda t: (t == "", _team_name(teams[t]).casefold(), t))
    return tuple(
        Group(key, _team_name(teams[key]), tuple(buckets[key]), team=teams[key]) for key in order
    )


def _team_name(team: TeamView | None) -> str:
    return team.name if team else ""


def health(kpis: Sequence[KpiView], sources: Iterable[SourceView]) -> Health:
    """Where accountability is thin: shared teams, single points of failure, overload."""
    same_team = tuple(
        SameTeam(kpi, kpi.primary.team)
        for kpi in kpis
        if kpi.primary.team is not None
        and kpi.primary.team.known
        and kpi.backup.team is not None
        and kpi.primary.team.id == kpi.backup.team.id
    )

    single_points = []
    for kpi in kpis:
        if not kpi.primary.known:
            continue
        reasons = []
        read = [node.source for node in kpi.lineage]
        if read and all(s.owner is not None and s.owner.id == kpi.primary.id for s in read):
            reasons.append("sources")
        approvers = {p.id for tier in kpi.escalation.tiers for p in tier.approvers}
        if approvers == {kpi.primary.id}:
            reasons.append("approver")
        if reasons:
            single_points.append(SinglePoint(kpi.primary, kpi, tuple(reasons)))

    people: dict[str, PersonView] = {}
    primary: Counter[str] = Counter()
    backup: Counter[str] = Counter()
    owned: Counter[str] = Counter()
    for kpi in kpis:
        people.setdefault(kpi.primary.id, kpi.primary)
        people.setdefault(kpi.backup.id, kpi.backup)
        primary[kpi.primary.id] += 1
        backup[kpi.backup.id] += 1
    for source in sources:
        if source.owner is not None and source.known:
            people.setdefault(source.owner.id, source.owner)
            owned[source.owner.id] += 1
    loads = [
        OwnerLoad(person, primary[pid], backup[pid], owned[pid])
        for pid, person in people.items()
        if person.known
    ]
    loads.sort(key=lambda load: (-load.total, -load.primary, load.person.name.casefold()))

    no_business_owner = tuple(
        kpi
        for kpi in kpis
        if kpi.audience == "business" and not any(_business_facing(p) for p in _owners(kpi))
    )
    return Health(same_team, tuple(single_points), tuple(loads[:TOP_OWNERS]), no_business_owner)


def _owners(kpi: KpiView) -> tuple[PersonView, PersonView]:
    return kpi.primary, kpi.backup


def _business_facing(person: PersonView) -> bool:
    team = person.team
    return (
        person.known
        and person.active
        and team is not None
        and team.known
        and team.function not in INTERNAL_FUNCTIONS
    )


__all__ = [
    "GROUPINGS",
    "AccountabilityMap",
    "CheckSummary",
    "Group",
    "Health",
    "OwnerLoad",
    "SameTeam",
    "SinglePoint",
    "UnknownId",
    "build_map",
    "check_id",
    "health",
    "lineage_sources",
    "select_kpis",
]
