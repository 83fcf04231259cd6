"""`kpictl experiments` as plain data: the team's knowledge base of tests. No I/O.

Experiments grouped by status (in their life-cycle order) and, within a status, by
the KPI they mean to move. A concluded experiment carries its decision, its result
against the baseline and what was learned: the part that outlives the test. The map
and the campaign recap show the same `ExperimentView`s (`experiment_views`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import get_args

from kpictl.display import number, written
from kpictl.registry.models import Campaign, Experiment, ExperimentStatus, Kpi
from kpictl.registry.registry import Registry
from kpictl.views.accountability import CheckSummary, _Views, check_id
from kpictl.views.blocks import PersonView

STATUSES: tuple[str, ...] = get_args(ExperimentStatus)  # planned, running, concluded, abandoned


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
    result: str | None
    decision: str | None  # adopt | reject | inconclusive
    learnings: tuple[str, ...]
    # The result against the baseline, `+13 points` or `-4.2%`, and whether that is the
    # way the KPI wants to go (None when either is missing or they are equal).
    change: str | None
    better: bool | None


@dataclass(frozen=True, slots=True)
class KpiExperiments:
    kpi_id: str
    kpi_name: str | None
    experiments: tuple[ExperimentView, ...]


@dataclass(frozen=True, slots=True)
class StatusGroup:
    status: str
    count: int
    kpis: tuple[KpiExperiments, ...]


@dataclass(frozen=True, slots=True)
class ExperimentsView:
    organization: str | None
    status_filter: tuple[str, ...]
    kpi_filter: tuple[str, ...]
    groups: tuple[StatusGroup, ...]  # only statuses that have experiments
    experiments: tuple[ExperimentView, ...]  # every one shown, by id
    total: int  # in the registry, before filters
    check: CheckSummary

    @property
    def filtered(self) -> bool:
        return bool(self.status_filter or self.kpi_filter)


class UnknownStatus(ValueError):
    """A --status that is not an experiment status."""


def _value(value: float, kpi: Kpi | None) -> str:
    return number(value, kpi) if kpi is not None else written(value, grouped=True)


def _change(baseline: float, result: float, kpi: Kpi | None) -> tuple[str | None, bool | None]:
    delta = result - baseline
    if delta == 0:
        return "no change", None
    sign = "+" if delta > 0 else "-"
    if kpi is not None and kpi.unit == "percent":
        text = f"{sign}{written(round(abs(delta), 1))} points"
    elif baseline != 0:
        text = f"{sign}{written(round(abs(delta) / abs(baseline) * 100, 1))}%"
    else:
        text = f"{sign}{_value(abs(delta), kpi)}"
    better = None if kpi is None else (delta > 0) == (kpi.direction == "increase")
    return text, better


def experiment_view(registry: Registry, views: _Views, experiment: Experiment) -> ExperimentView:
    """One experiment as the views show it, its values in its KPI's unit."""
    kpi = registry.get(experiment.kpi)
    kpi = kpi if isinstance(kpi, Kpi) else None
    campaign = registry.get(experiment.campaign) if experiment.campaign else None
    baseline = experiment.baseline
    result = experiment.result
    change: tuple[str | None, bool | None] = (None, None)
    if baseline is not None and result is not None and result.value is not None:
        change = _change(baseline.value, result.value, kpi)
    return ExperimentView(
        id=experiment.id,
        name=experiment.name,
        status=experiment.status,
        hypothesis=experiment.hypothesis,
        kpi_id=experiment.kpi,
        kpi_name=kpi.name if kpi else None,
        campaign_id=experiment.campaign,
        campaign_name=campaign.name if isinstance(campaign, Campaign) else None,
        owner=views.person(experiment.owner),
        control=experiment.control,
        decision_rule=experiment.decision_rule,
        start=experiment.timeline.start,
        end=experiment.timeline.end,
        baseline=_value(baseline.value, kpi) if baseline else None,
        baseline_period=baseline.period if baseline else None,
        result=_value(result.value, kpi) if result and result.value is not None else None,
        decision=result.decision if result else None,
        learnings=tuple(result.learnings) if result else (),
        change=change[0],
        better=change[1],
    )


def experiment_views(
    registry: Registry, experiments: Iterable[Experiment], views: _Views | None = None
) -> tuple[ExperimentView, ...]:
    """`experiments` as views, in life-cycle order (planned … abandoned), then by start and id."""
    views = views or _Views(registry)
    ordered = sorted(
        experiments, key=lambda e: (STATUSES.index(e.status), e.timeline.start, e.id)
    )
    return tuple(experiment_view(registry, views, e) for e in ordered)


def by_kpi(registry: Registry) -> dict[str, list[Experiment]]:
    """Every experiment, by the id of the KPI it means to move."""
    found: dict[str, list[Experiment]] = {}
    for experiment in registry.experiments:
        found.setdefault(experiment.kpi, []).append(experiment)
    return found


def build_experiments(
    registry: Registry,
    *,
    statuses: Sequence[str] = (),
    kpi_ids: Sequence[str] = (),
    check: CheckSummary | None = None,
) -> ExperimentsView:
    """The experiments of the registry, or those with a status in `statuses` and a KPI
    in `kpi_ids`. Raises UnknownId for a KPI id that names no KPI, UnknownStatus for a
    status that is not one."""
    for status in statuses:
        if status not in STATUSES:
            raise UnknownStatus(f"'{status}' is not an experiment status: use {', '.join(STATUSES)}")
    for kpi_id in kpi_ids:
        check_id("KPI", kpi_id, sorted(k.id for k in registry.kpis))
    every = registry.experiments
    chosen = [
        e
        for e in every
        if (not statuses or e.status in statuses) and (not kpi_ids or e.kpi in kpi_ids)
    ]
    shown = experiment_views(registry, chosen)
    groups = []
    for status in STATUSES:
        in_status = [view for view in shown if view.status == status]
        if not in_status:
            continue
        kpis: dict[str, list[ExperimentView]] = {}
        for view in in_status:
            kpis.setdefault(view.kpi_id, []).append(view)
        groups.append(
            StatusGroup(
                status,
                len(in_status),
                tuple(
                    KpiExperiments(kpi_id, items[0].kpi_name, tuple(items))
                    for kpi_id, items in sorted(kpis.items())
                ),
            )
        )
    return ExperimentsView(
        organization=registry.settings.organization,
        status_filter=tuple(statuses),
        kpi_filter=tuple(kpi_ids),
        groups=tuple(groups),
        experiments=tuple(sorted(shown, key=lambda view: view.id)),
        total=len(every),
        check=check or CheckSummary(),
    )


__all__ = [
    "STATUSES",
    "ExperimentView",
    "ExperimentsView",
    "KpiExperiments",
    "StatusGroup",
    "UnknownStatus",
    "build_experiments",
    "by_kpi",
    "experiment_view",
    "experiment_views",
]
