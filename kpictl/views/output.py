"""Renderers for the map and `who`: templates for words, json.dumps for JSON.

Every text format goes through a Jinja template in templates/map/ or templates/who/
(a registry may override any of them); JSON is built from the data model here, so
its shape is fixed by code and documented in docs/map-json.md.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from kpictl.templating.escaping import json_text
from kpictl.templating.render import render
from kpictl.views.accountability import AccountabilityMap
from kpictl.views.blocks import KpiView, LineageNode, PersonView, SourceView
from kpictl.views.experiments import ExperimentsView, ExperimentView
from kpictl.views.heap import registry_frozen
from kpictl.views.lineage_trees import MAX_LEVELS
from kpictl.views.who import (
    CampaignRole,
    EscalationDuty,
    ExperimentDuty,
    KpiDuty,
    KpiRef,
    SourceDuty,
    TermDuty,
    WhoView,
)

if TYPE_CHECKING:
    from jinja2 import Environment
    from jinja2.runtime import Macro

MAP_TEMPLATES = {
    "text": "map/text.txt.j2",
    "markdown": "map/markdown.md.j2",
    "mermaid": "map/mermaid.mmd.j2",
    "dot": "map/graph.dot.j2",
    "html": "map/page.html.j2",
}
WHO_TEMPLATES = {"text": "who/text.txt.j2", "markdown": "who/markdown.md.j2"}
EXPERIMENTS_TEMPLATES = {
    "text": "experiments/text.txt.j2",
    "markdown": "experiments/markdown.md.j2",
}
# The JSON shape's version: bumped only when a field changes meaning or goes away.
JSON_VERSION = 1
# Above this many KPIs the HTML page leaves the picture out: a graph of thousands of
# boxes is unreadable, and the table, search and filters still work.
GRAPH_LIMIT = 150


def render_map(view: AccountabilityMap, output_format: str, env: Environment) -> str:
    """The map in one of the formats of kpictl.output_formats.MapFormat."""
    with registry_frozen():
        return _render_map(view, output_format, env)


def _render_map(view: AccountabilityMap, output_format: str, env: Environment) -> str:
    if output_format == "json":
        return map_json(view)
    context: dict[str, Any] = {"view": view, "once": Once(), "lineage_levels": MAX_LEVELS}
    if output_format in ("html", "mermaid", "dot"):
        from kpictl.views.graph import build_graph, draw

        context["graph"] = build_graph(view)
        if output_format == "html":
            context["drawing"] = draw(view) if len(view.kpis) <= GRAPH_LIMIT else None
            context["graph_limit"] = GRAPH_LIMIT
    return render(env, MAP_TEMPLATES[output_format], **template_data(context))


def render_who(view: WhoView, output_format: str, env: Environment) -> str:
    """`who` in one of the formats of kpictl.output_formats.ReportFormat."""
    if output_format == "json":
        return who_json(view)
    return render(env, WHO_TEMPLATES[output_format], **template_data({"view": view}))


def render_experiments(view: ExperimentsView, output_format: str, env: Environment) -> str:
    """`experiments` in one of the formats of kpictl.output_formats.ReportFormat."""
    if output_format == "json":
        return experiments_json(view)
    return render(env, EXPERIMENTS_TEMPLATES[output_format], **template_data({"view": view}))


class Once:
    """`once(macro, value)` in a template: the macro's output for that value, rendered once.

    A map repeats the same pieces on every KPI: a data source's whole upstream chain,
    an owner, an escalation tier that KPIs with the same owners share. Rendering each
    piece once per page rather than once per KPI makes a page of thousands of KPIs
    several times faster. Pieces are keyed by identity: template_data() turns each
    shared view object into one shared dict. Only macros may be called this way, so
    the sandbox still vets everything that runs, and autoescape still applies inside
    the macro. One instance serves one rendering.
    """

    def __init__(self) -> None:
        from jinja2.runtime import Macro

        self._macro = Macro
        # (macro, value, output) by (id(macro), id(value)); holding the objects keeps
        # their ids from being reused while the page renders.
        self._done: dict[tuple[int, int], tuple[Macro, Any, Any]] = {}

    def __call__(self, macro: Macro, value: Any) -> Any:
        key = (id(macro), id(value))
        done = self._done.get(key)
        if done is None:
            if not isinstance(macro, self._macro):
                from jinja2.exceptions import SecurityError

                raise SecurityError("once() takes a macro defined in a template")
            done = (macro, value, macro(value))
            self._done[key] = done
        return done[2]


def template_data(value: Any) -> Any:
    """The view as plain dicts and lists, under the same names templates use.

    Templates run in Jinja's sandbox, which vets every attribute it reads from an
    object; reading a key from a dict is not vetted, and is about ten times faster.
    On a map of thousands of KPIs that is the difference between one second and
    several. Dataclass fields and properties become keys; shared objects (a person
    named on many KPIs) are converted once, into one shared dict.
    """
    return _convert(value, {})


_SCALARS = frozenset({str, int, float, bool, type(None)})
# For each class met: the keys its dicts get (dataclass fields, then properties); None
# for a class that is not a dataclass.
_KEYS: dict[type, tuple[str, ...] | None] = {}


def _keys_of(cls: type) -> tuple[str, ...] | None:
    if cls in _KEYS:
        return _KEYS[cls]
    keys = None
    if dataclasses.is_dataclass(cls) and not issubclass(cls, type):
        keys = tuple(item.name for item in dataclasses.fields(cls)) + tuple(
            name for name, member in vars(cls).items() if isinstance(member, property)
        )
    _KEYS[cls] = keys
    return keys


def _convert(value: Any, memo: dict[int, tuple[Any, dict[str, Any]]]) -> Any:
    # The memo holds each object with its dict, so no id is reused while it is running.
    # Scalars, the most common values by far, are passed on without a call.
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is tuple or cls is list:
        return [item if type(item) in _SCALARS else _convert(item, memo) for item in value]
    keys = _keys_of(cls)
    if keys is not None:
        done = memo.get(id(value))
        if done is not None:
            return done[1]
        data: dict[str, Any] = {}
        memo[id(value)] = (value, data)
        for name in keys:
            item = getattr(value, name)
            data[name] = item if type(item) in _SCALARS else _convert(item, memo)
        return data
    if isinstance(value, dict):
        return {key: _convert(item, memo) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_convert(item, memo) for item in value]
    return value


# --------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------


def _dump(data: dict[str, Any]) -> str:
    return json_text(data, indent=2, sort_keys=True) + "\n"


def _person(person: PersonView) -> dict[str, Any]:
    return {
        "name": person.name,
        "title": person.title,
        "email": person.email,
        "team": person.team.id if person.team else None,
        "manager": person.manager,
        "active": person.active,
        "known": person.known,
    }


def _source(source: SourceView) -> dict[str, Any]:
    return {
        "name": source.name,
        "system": source.system,
        "refresh": source.refresh,
        "owner": source.owner.id if source.owner else None,
        "upstream": list(source.upstream),
        "fallback": source.fallback,
        "captures": source.captures,
        "known": source.known,
    }


def _lineage(node: LineageNode) -> dict[str, Any]:
    # Recursion is bounded: a tree is at most MAX_LEVELS deep.
    data: dict[str, Any] = {
        "source": node.source.id,
        "upstream": [_lineage(child) for child in node.upstream],
        "cycle": node.cycle,
    }
    # Only where they apply, so a lineage without shared chains reads as before.
    if node.shown:
        data["shown_above"] = True
    if node.more:
        data["more_upstream"] = node.more
    return data


def _kpi(kpi: KpiView) -> dict[str, Any]:
    ladder = kpi.escalation
    return {
        "drives": [link.id for link in kpi.drives],
        "driven_by": [link.id for link in kpi.driven_by],
        "experiments": [
            {"id": e.id, "status": e.status, "decision": e.decision} for e in kpi.experiments
        ],
        "id": kpi.id,
        "name": kpi.name,
        "description": kpi.description,
        "stage": kpi.stage,
        "indicator": kpi.indicator,
        "audience": kpi.audience,
        "unit": kpi.unit,
        "direction": kpi.direction,
        "definition": kpi.definition,
        "formula": kpi.formula,
        "term": (
            {
                "id": kpi.term.id,
                "term": kpi.term.term,
                "definition": kpi.term.definition,
                "agreed_by": list(kpi.term.agreed_by),
                "known": kpi.term.known,
            }
            if kpi.term is not None
            else None
        ),
        "target": (
            {
                "period": kpi.target.period,
                "label": kpi.target.label,
                "value": kpi.target.value,
                "shown": kpi.target.shown,
            }
            if kpi.target is not None
            else None
        ),
        "owners": {"primary": kpi.primary.id, "backup": kpi.backup.id},
        "cadence": {"refresh": kpi.refresh, "review": kpi.review},
        "lineage": [_lineage(node) for node in kpi.lineage],
        "capture": [source.id for source in kpi.capture],
        "fallbacks": [
            {"source": item.source.id, "fallback": item.fallback.id} for item in kpi.fallbacks
        ],
        "escalation": {
            "policy": ladder.id,
            "name": ladder.name,
            "known": ladder.known,
            "tiers": [
                {
                    "level": tier.level,
                    "name": tier.name,
                    "deviation_pct": tier.deviation_pct,
                    "on_data_outage": tier.on_data_outage,
                    "respond_within": tier.respond_within,
                    "respond_hours": tier.respond_hours,
                    "notify": [p.id for p in tier.notify],
                    "approvers": [p.id for p in tier.approvers],
                    "notify_as_written": list(tier.notify_as_written),
                    "approver_as_written": tier.approver_as_written,
                    "actions": list(tier.actions),
                }
                for tier in ladder.tiers
            ],
        },
    }


def _check(view: AccountabilityMap | WhoView | ExperimentsView) -> dict[str, int]:
    return {
        "errors": view.check.errors,
        "warnings": view.check.warnings,
        "infos": view.check.infos,
    }


def map_json(view: AccountabilityMap) -> str:
    """The map as JSON: KPIs reference people, teams and sources by id."""
    health = view.health
    return _dump(
        {
            "kpictl_map": JSON_VERSION,
            "organization": view.organization,
            "grouped_by": view.grouped_by,
            "filters": {"kpi": list(view.kpi_filter), "owner": list(view.owner_filter)},
            "check": _check(view),
            "total_kpis": view.total_kpis,
            "as_of": view.as_of.isoformat() if view.as_of else None,
            "groups": [
                {"key": group.key, "label": group.label, "kpis": [k.id for k in group.kpis]}
                for group in view.groups
            ],
            "kpis": [_kpi(kpi) for kpi in view.kpis],
            "kpi_tree": {
                "rows": [
                    {
                        "kpi": row.kpi.id,
                        "depth": row.depth,
                        "shown_above": row.shown,
                        "cycle": row.cycle,
                        "cut": row.more,
                    }
                    for row in view.tree
                ],
                "outside": [link.id for link in view.outside_tree],
            },
            "people": {pid: _person(person) for pid, person in view.people.items()},
            "teams": {
                tid: {
                    "name": team.name,
                    "function": team.function,
                    "lead": team.lead,
                    "known": team.known,
                }
                for tid, team in view.teams.items()
            },
            "sources": {sid: _source(source) for sid, source in view.sources.items()},
            "health": {
                "same_team": [
                    {"kpi": item.kpi.id, "team": item.team.id} for item in health.same_team
                ],
                "single_points_of_failure": [
                    {"person": item.person.id, "kpi": item.kpi.id, "reasons": list(item.reasons)}
                    for item in health.single_points
                ],
                "most_ownership": [
                    {
                        "person": load.person.id,
                        "primary": load.primary,
                        "backup": load.backup,
                        "sources": load.sources,
                        "total": load.total,
                    }
                    for load in health.top_owners
                ],
                "no_business_facing_owner": [kpi.id for kpi in health.no_business_owner],
            },
        }
    )


def _ref(kpi: KpiRef) -> str:
    return kpi.id


def who_json(view: WhoView) -> str:
    """`who` as JSON: people by id, KPIs by id."""
    people: dict[str, PersonView] = {}
    for person in (view.person, view.manager, view.lead, *view.members):
        if person is not None:
            people[person.id] = person
    duties: list[KpiDuty | SourceDuty | EscalationDuty] = [
        *view.primary,
        *view.backup,
        *view.sources,
        *view.escalations,
    ]
    for duty in duties:
        people[duty.person.id] = duty.person
    roles: list[CampaignRole | ExperimentDuty | TermDuty] = [
        *view.campaigns,
        *view.experiments,
        *view.glossary,
    ]
    for item in roles:
        if item.person is not None:
            people[item.person.id] = item.person
    return _dump(
        {
            "kpictl_who": JSON_VERSION,
            "kind": view.kind,
            "id": view.id,
            "name": view.name,
            "team": view.team.id if view.team else None,
            "manager": view.manager.id if view.manager else None,
            "lead": view.lead.id if view.lead else None,
            "members": [m.id for m in view.members],
            "check": _check(view),
            "primary": [{"kpi": d.kpi.id, "person": d.person.id} for d in view.primary],
            "backup": [{"kpi": d.kpi.id, "person": d.person.id} for d in view.backup],
            "sources": [
                {
                    "source": d.source.id,
                    "person": d.person.id,
                    "kpis": [_ref(k) for k in d.kpis],
                }
                for d in view.sources
            ],
            "escalations": [
                {
                    "person": d.person.id,
                    "policy": d.policy_id,
                    "level": d.level,
                    "tier": d.tier_name,
                    "respond_within": d.respond_within,
                    "notified": d.notified,
                    "approves": d.approves,
                    "via": list(d.via),
                    "kpis": [_ref(k) for k in d.kpis],
                }
                for d in view.escalations
            ],
            "campaigns": [
                {
                    "campaign": r.campaign_id,
                    "status": r.status,
                    "framework": r.framework,
                    "role": r.role,
                    "activity": r.activity,
                    "person": r.person.id if r.person else None,
                    "via_team": r.via_team.id if r.via_team else None,
                }
                for r in view.campaigns
            ],
            "experiments": [
                {
                    "experiment": e.experiment.id,
                    "status": e.experiment.status,
                    "kpi": e.experiment.kpi_id,
                    "decision": e.experiment.decision,
                    "person": e.person.id if e.person else None,
                    "via_team": e.via_team.id if e.via_team else None,
                }
                for e in view.experiments
            ],
            "glossary": [
                {
                    "term": t.id,
                    "person": t.person.id if t.person else None,
                    "via_team": t.via_team.id if t.via_team else None,
                }
                for t in view.glossary
            ],
            "people": {pid: _person(p) for pid, p in sorted(people.items())},
        }
    )


def experiment_json(item: ExperimentView) -> dict[str, Any]:
    """One experiment as the registry holds it; `shown` is a value in its KPI's unit."""
    return {
        "id": item.id,
        "name": item.name,
        "status": item.status,
        "hypothesis": item.hypothesis,
        "kpi": item.kpi_id,
        "campaign": item.campaign_id,
        "owner": item.owner.id,
        "control": item.control,
        "decision_rule": item.decision_rule,
        "timeline": {
            "start": item.start.isoformat(),
            "end": item.end.isoformat() if item.end else None,
        },
        "baseline": (
            {"value": item.baseline_value, "period": item.baseline_period, "shown": item.baseline}
            if item.baseline
            else None
        ),
        "result": (
            {
                "value": item.result_value,
                "shown": item.result,
                "decision": item.decision,
                "learnings": list(item.learnings),
                "change": item.change,
                "better": item.better,
            }
            if item.decision
            else None
        ),
    }


def experiments_json(view: ExperimentsView) -> str:
    """`experiments` as JSON: every experiment by id, and the grouping by status and KPI."""
    return _dump(
        {
            "kpictl_experiments": JSON_VERSION,
            "organization": view.organization,
            "filters": {"status": list(view.status_filter), "kpi": list(view.kpi_filter)},
            "check": _check(view),
            "total_experiments": view.total,
            "groups": [
                {
                    "status": group.status,
                    "kpis": [
                        {"kpi": item.kpi_id, "experiments": [e.id for e in item.experiments]}
                        for item in group.kpis
                    ],
                }
                for group in view.groups
            ],
            "experiments": [experiment_json(item) for item in view.experiments],
        }
    )
