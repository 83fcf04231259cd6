"""`kpictl experiments` as plain data: the team's knowledge base of tests. No I/O.

Experiments grouped by status (in their life-cycle order) and, within a status, by
the KPI they mean to move. A concluded experiment carries its decision, its result
against the baseline and what was learned: the part that outlives the test. The map
and the campaign recap show the same `ExperimentView`s (`experiment_views`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kpictl.registry.models import Experiment
from kpictl.registry.registry import Registry
from kpictl.views.accountability import CheckSummary, _Views, check_id
from kpictl.views.blocks import EXPERIMENT_STATUSES as STATUSES
from kpictl.views.blocks import ExperimentView, life_cycle


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


def experiment_views(
    registry: Registry, experiments: Iterable[Experiment], views: _Views | None = None
) -> tuple[ExperimentView, ...]:
    """`experiments` as views, in life-cycle order (planned … abandoned), then by start and id."""
    views = views or _Views(registry)
    return tuple(map(views.experiment, sorted(experiments, key=life_cycle)))


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
            raise UnknownStatus(
                f"'{status}' is not an experiment status: use {', '.join(STATUSES)}"
            )
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
    "experiment_views",
]
