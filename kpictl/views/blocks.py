"""The building blocks of the accountability map and `who`: teams, people, sources,
lineage, escalation tiers and KPIs as views. Plain frozen data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import get_args

from kpictl.registry.models import Experiment, ExperimentStatus, Stage

STAGES: tuple[str, ...] = get_args(Stage)  # funnel order: awareness first
# Life-cycle order: planned, running, concluded, abandoned.
EXPERIMENT_STATUSES: tuple[str, ...] = get_args(ExperimentStatus)


def life_cycle(experiment: Experiment) -> tuple[int, date, str]:
    """The sort key every view lists experiments by: status in life-cycle order, then start
    and id, so the map, `who` and `kpictl experiments` agree on the order."""
    return EXPERIMENT_STATUSES.index(experiment.status), experiment.timeline.start, experiment.id


@dataclass(frozen=True, slots=True)
class TeamView:
    id: str
    name: str
    function: str | None
    lead: str | None  # person id
    known: bool = True


@dataclass(frozen=True, slots=True)
class PersonView:
    id: str
    name: str
    title: str | None
    email: str | None
    team: TeamView | None
    manager: str | None  # person id
    active: bool
    known: bool = True

    @property
    def status(self) -> str:
        """ "" for an active person in the registry, else "missing" or "inactive"."""
        if not self.known:
            return "missing"
        return "" if self.active else "inactive"


@dataclass(frozen=True, slots=True)
class SourceView:
    id: str
    name: str
    system: str | None
    refresh: str | None
    owner: PersonView | None
    upstream: tuple[str, ...]
    fallback: str | None  # source id
    known: bool = True

    @property
    def captures(self) -> bool:
        """A system of record: it captures the data rather than deriving it."""
        return self.known and not self.upstream

    @property
    def role(self) -> str:
        """ "capture", "derived", or "missing" for an id that names no source."""
        if not self.known:
            return "missing"
        return "derived" if self.upstream else "capture"


@dataclass(frozen=True, slots=True)
class LineageNode:
    """A source and the sources it is derived from, down to the capturing systems."""

    source: SourceView
    upstream: tuple[LineageNode, ...] = ()
    cycle: bool = False  # the source is already on this path: the chain stops here
    shown: bool = False  # its chain is drawn earlier in this KPI's lineage: a reference
    more: int = 0  # sources left out below this one: the lineage is deeper than drawn


@dataclass(frozen=True, slots=True)
class Fallback:
    source: SourceView
    fallback: SourceView


@dataclass(frozen=True, slots=True)
class TierView:
    level: int
    name: str
    deviation_pct: float
    respond_within: str
    respond_hours: int
    on_data_outage: bool
    actions: tuple[str, ...]
    notify: tuple[PersonView, ...]
    approvers: tuple[PersonView, ...]
    notify_as_written: tuple[str, ...]
    approver_as_written: str | None


@dataclass(frozen=True, slots=True)
class LadderView:
    id: str
    name: str
    tiers: tuple[TierView, ...]
    known: bool = True


@dataclass(frozen=True, slots=True)
class TermView:
    """The glossary term a KPI is defined by: what the number means, in words."""

    id: str
    term: str
    definition: str
    agreed_by: tuple[str, ...]  # team ids or functions
    known: bool = True


@dataclass(frozen=True, slots=True)
class ExperimentView:
    id: str
    name: str
    status: str
    hypothesis: str
    kpi_id: str
    kpi_name: str | None  # None: the id names no KPI
    campaign_id: str | None
    campaign_name: str | None  # None with an id: it names no campaign
    owner: PersonView
    control: str
    decision_rule: str
    start: date
    end: date | None
    baseline: str | None  # in the KPI's unit: `28%`, `EUR 785,000`
    baseline_period: str | None
    baseline_value: float | None  # as written, for JSON
    result: str | None
    result_value: float | None
    decision: str | None  # adopt | reject | inconclusive
    learnings: tuple[str, ...]
    # The result against the baseline, `+13 points` or `-4.2%`, and whether that is the
    # way the KPI wants to go (None when either is missing or they are equal).
    change: str | None
    better: bool | None


@dataclass(frozen=True, slots=True)
class KpiLink:
    """A KPI named in another's `drives`, or driving it."""

    id: str
    name: str
    stage: str | None
    known: bool = True
    # False when a filtered map leaves this KPI out: named, never linked, so no
    # `#kpi-…` anchor points at a section the page does not have.
    on_map: bool = True


@dataclass(frozen=True, slots=True)
class TargetView:
    """A KPI's target for the period holding the map's evaluation date."""

    period: str  # as written: "2026-Q4"
    label: str  # as said: "Q4 2026"
    value: float
    shown: str  # in the KPI's unit: "2,400", "EUR 1,800,000", "35%"


@dataclass(frozen=True, slots=True)
class TreeRow:
    """One line of the KPI tree: a KPI, how deep, and whether its branch is drawn here."""

    kpi: KpiLink
    depth: int  # 0: a root, driven by no KPI on the map
    shown: bool = False  # it drives KPIs drawn earlier in the tree: a reference
    cycle: bool = False  # already on this branch (K001): the branch stops
    more: bool = False  # deeper than the map draws: the branch stops


@dataclass(frozen=True, slots=True)
class KpiView:
    id: str
    name: str
    description: str
    stage: str
    indicator: str
    audience: str
    unit: str
    direction: str
    definition: str | None  # glossary term id
    primary: PersonView
    backup: PersonView
    lineage: tuple[LineageNode, ...]  # each chain drawn once, at most MAX_LEVELS deep
    chain: tuple[SourceView, ...]  # every source in the lineage, each once, depth first
    capture: tuple[SourceView, ...]  # the capturing systems at the end of the lineage
    fallbacks: tuple[Fallback, ...]
    refresh: str
    review: str
    escalation: LadderView
    formula: str = ""
    term: TermView | None = None  # None: the KPI names no glossary term
    target: TargetView | None = None  # None: no target covers the evaluation date
    drives: tuple[KpiLink, ...] = ()  # the KPIs this one feeds, as written
    driven_by: tuple[KpiLink, ...] = ()  # the KPIs that name this one in their drives
    experiments: tuple[ExperimentView, ...] = ()  # tests meant to move it

    @property
    def stage_rank(self) -> int:
        return STAGES.index(self.stage) if self.stage in STAGES else len(STAGES)

    @property
    def capture_systems(self) -> list[str]:
        """The names of the systems that capture this KPI's data, each once."""
        return list(dict.fromkeys(s.system for s in self.capture if s.system))

    @property
    def keywords(self) -> str:
        """Every id and name a search for this KPI should find, lowercased."""
        words = [self.id, self.name, self.stage, self.indicator, self.audience, self.review]
        for person in (self.primary, self.backup):
            words += [person.id, person.name, person.team.name if person.team else ""]
        words.append(self.escalation.name)
        for source in self.chain:
            words += [source.id, source.name, source.system or ""]
            # Whoever fixes the data is someone people look a KPI up by.
            if source.owner:
                words += [source.owner.id, source.owner.name]
        # Each word once: a source owner is often a KPI owner too, and a map of
        # thousands of KPIs carries this string on every row.
        return " ".join(dict.fromkeys(word for word in words if word)).lower()


__all__ = [
    "EXPERIMENT_STATUSES",
    "STAGES",
    "ExperimentView",
    "Fallback",
    "KpiLink",
    "KpiView",
    "LadderView",
    "LineageNode",
    "PersonView",
    "SourceView",
    "TargetView",
    "TeamView",
    "TermView",
    "TierView",
    "TreeRow",
    "life_cycle",
]
