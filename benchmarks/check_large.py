"""Benchmark kpictl on large synthetic registries (stdlib only, Python 3.11+).

The script generates clean registries of N KPIs (plus people, teams, data sources,
escalation policies, campaigns and glossary terms scaled with N), then times whole
``kpictl`` processes against them: wall time (best and median of ``--repeat`` runs),
the child's own peak RSS (from ``os.wait4``) and files per second. It also times the
small example registry shipped in ``registry/``.

Run it from anywhere (paths are resolved relative to this file):

    python benchmarks/check_large.py                          # sizes 200,2000,20000, 3 runs each
    python benchmarks/check_large.py --sizes 200 --repeat 5
    python benchmarks/check_large.py --kpictl-cmd "python -m kpictl"
    python benchmarks/check_large.py --scenario check-example # only the example registry
    python benchmarks/check_large.py --sizes 2000 --keep /tmp/kpi-bench --generate-only
    python benchmarks/check_large.py --json results.json      # also write machine-readable results

Every timed command is a *scenario*: a label, a target ("generated" registries or the
"example" registry), an argv builder and the exit code it must return. To time another
command (``kpictl map --format html``, ``kpictl escalate --out DIR``, ``kpictl fmt --check``),
add a ``Scenario`` to ``SCENARIOS``; ``--scenario`` selects among them.

A run whose exit code differs from the expected one is reported on a ``WARNING`` line
together with the first lines of its output; the script then exits with status 1.

Sizes: N KPIs come with about N/7 people (nobody is primary owner of more than 8 KPIs),
N/84 teams, N/12 data sources, N/40 glossary terms, N/250 campaigns and 2 escalation
policies, one entity per file: N=2000 gives 2,544 files, about 1.7 MB. The registries are
clean under every rule of the format (no finding even with ``--fail-on info``). Generation
is mostly file creation; on a slow disk set ``TMPDIR=/dev/shm`` (or ``--keep`` a RAM disk).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXAMPLE = REPO_ROOT / "registry"
DEFAULT_SIZES = "200,2000,20000"
DEFAULT_AS_OF = "2026-11-20"
EXAMPLE_TARGET_SECONDS = 0.3
OWNER_KPI_LIMIT = 8
MARKER = ".generated-by-check_large"  # hidden, so kpictl ignores it

# --------------------------------------------------------------------------------------
# YAML scalars
# --------------------------------------------------------------------------------------

# Plain scalars that a YAML 1.1 or 1.2 loader would turn into something other than a string.
_NON_STRING = re.compile(
    r"""^(?:
        ~|null|Null|NULL|true|True|TRUE|false|False|FALSE
        |y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF
        |[-+]?(?:\d[\d_]*)?(?:\.[\d_]*)?(?:[eE][-+]?\d+)?
        |0[xob][0-9a-fA-F_]+
        |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
        |\d{4}-\d\d?-\d\d?(?:[Tt\s].*)?
        |[-+]?\d[\d_]*(?::[0-5]?\d)+(?:\.\d*)?
    )$""",
    re.VERBOSE,
)
_FLOW_CHARS = frozenset(",[]{}")


def scalar(text: str, *, flow: bool = False) -> str:
    """Render ``text`` as a YAML string: plain when that is unambiguous, else double-quoted."""
    plain = (
        text != ""
        and text == text.strip()
        and text[0] not in "-?:,[]{}#&*!|>'\"%@`"
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
        and "\n" not in text
        and not _NON_STRING.match(text)
        and not (flow and _FLOW_CHARS.intersection(text))
    )
    return text if plain else json.dumps(text, ensure_ascii=False)


def flow_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(scalar(item, flow=True) for item in items) + "]"


# --------------------------------------------------------------------------------------
# Vocabulary for realistic content
# --------------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "maria sam dana ken priya lars chloe omar ines tariq yuki elena marco nadia felix aisha"
    " jonas leila pablo grace hugo mei noah sofia arjun clara diego hannah ivan julia kofi"
    " lena mateo nora oscar petra rafael sara tomas vera"
)
LAST_NAMES = _words(
    "lopez chen whit ito sharma berg martin haddad costa rahman tanaka novak rossi petrov"
    " weber okafor lindqvist moreau garcia kim fischer wong silva patel dubois nowak ahmed"
    " jensen mendes schmidt kowalski brennan ferreira yilmaz nakamura olsen varga hughes"
    " keller santos"
)

REGIONS = ("emea", "na", "apac", "latam", "dach", "nordics", "uki", "anz")
# (id part, display name)
SEGMENTS = (
    ("ent", "Enterprise"),
    ("mm", "Mid-Market"),
    ("smb", "SMB"),
    ("strat", "Strategic"),
    ("pub", "Public Sector"),
    ("start", "Startup"),
)

# (slug, display name, function, member titles)
TEAM_KINDS = (
    ("demand-gen", "Demand Generation", "marketing", ("Campaign Manager", "Demand Gen Manager")),
    ("revops", "Revenue Operations", "analytics", ("RevOps Analyst", "Systems Admin")),
    ("sales-dev", "Sales Development", "sales", ("SDR Manager", "Account Executive")),
    ("content", "Content Marketing", "marketing", ("Content Strategist", "Editor")),
    ("lifecycle", "Lifecycle Marketing", "marketing", ("Lifecycle Manager", "CRM Specialist")),
    ("cs-ops", "Customer Success Ops", "customer-success", ("CSM", "Renewals Manager")),
    ("finance-bp", "Finance Business Partners", "finance", ("FP&A Analyst", "Controller")),
    ("growth", "Product Growth", "product", ("Growth PM", "Growth Engineer")),
    ("brand", "Brand and Comms", "marketing", ("Brand Manager", "PR Manager")),
    ("marketing-analytics", "Marketing Analytics", "analytics", ("Data Analyst", "BI Engineer")),
)

# (slug, system, display name, typical refresh)
RAW_SYSTEMS = (
    ("hubspot-contacts", "HubSpot", "HubSpot contacts", "hourly"),
    ("salesforce-opportunities", "Salesforce", "Salesforce opportunities", "hourly"),
    ("ga4-sessions", "Google Analytics 4", "GA4 web sessions", "daily"),
    ("google-ads-spend", "Google Ads", "Google Ads spend and clicks", "daily"),
    ("linkedin-ads", "LinkedIn Campaign Manager", "LinkedIn Ads performance", "daily"),
    ("stripe-billing", "Stripe", "Stripe invoices and subscriptions", "hourly"),
    ("zendesk-tickets", "Zendesk", "Zendesk support tickets", "hourly"),
    ("marketo-activities", "Marketo", "Marketo email activities", "hourly"),
    ("segment-events", "Segment", "Segment product events", "hourly"),
    ("gong-calls", "Gong", "Gong call records", "daily"),
)
DERIVED_MODELS = (
    ("dbt-funnel", "Snowflake", "dbt funnel model"),
    ("dbt-attribution", "Snowflake", "dbt multi-touch attribution"),
    ("dbt-revenue", "Snowflake", "dbt revenue facts"),
    ("dbt-retention", "Snowflake", "dbt retention cohorts"),
    ("looker-spend", "Looker", "Looker blended spend explore"),
    ("dbt-pipeline", "BigQuery", "dbt pipeline snapshots"),
)
MANUAL_SYSTEMS = (
    ("manual-lead-export", "Google Sheets", "Manual lead export"),
    ("finance-spend-sheet", "Excel", "Finance spend workbook"),
    ("csv-crm-backup", "S3", "Nightly CRM CSV backup"),
)


@dataclass(frozen=True, slots=True)
class KpiKind:
    slug: str
    name: str
    unit: Literal["count", "currency", "percent", "ratio", "days"]
    direction: Literal["increase", "decrease"]
    stage: Literal["awareness", "consideration", "conversion", "retention", "expansion"]
    indicator: Literal["leading", "lagging"]
    subject: str  # what it measures; the description adds the market
    formula: str  # {where} is replaced by the market's filter
    base: float  # a plausible quarterly target
    term: str = ""  # GLOSSARY_BASES slug of the term that defines it, if any


# fmt: off
KPI_KINDS = (
    KpiKind("mql", "Marketing Qualified Leads", "count", "increase", "consideration", "leading",
            "leads meeting the agreed MQL definition",
            "count(contacts where lifecycle_stage = 'MQL' and {where})", 1200, "mql"),
    KpiKind("pipeline-sourced", "Marketing-Sourced Pipeline", "currency", "increase",
            "conversion", "lagging", "new pipeline first touched by marketing",
            "sum(opportunities.amount where source = 'marketing' and {where})", 2_000_000,
            "sourced-pipeline"),
    KpiKind("cost-per-lead", "Cost per Lead", "currency", "decrease", "consideration", "leading",
            "paid media spend per new lead",
            "sum(ad_spend where {where}) / count(new_leads)", 85),
    KpiKind("mql-to-sql", "MQL to SQL Conversion", "percent", "increase", "conversion",
            "leading", "share of MQLs accepted by sales in 30 days",
            "100 * count(sql where {where}) / count(mql)", 32, "sql"),
    KpiKind("web-sessions", "Website Sessions", "count", "increase", "awareness", "leading",
            "web sessions from the market",
            "count(ga4_sessions where {where})", 150_000),
    KpiKind("sales-cycle", "Sales Cycle Length", "days", "decrease", "conversion", "lagging",
            "median days from opportunity to closed-won",
            "median(close_date - created_date where won and {where})", 64),
    KpiKind("roas", "Return on Ad Spend", "ratio", "increase", "conversion", "lagging",
            "attributed revenue per unit of paid media spend",
            "sum(attributed_revenue where {where}) / sum(ad_spend)", 4.2, "attributed-revenue"),
    KpiKind("logo-churn", "Logo Churn Rate", "percent", "decrease", "retention", "lagging",
            "share of customers that cancelled",
            "100 * count(churned where {where}) / count(customers_at_start)", 2.8, "churned-logo"),
    KpiKind("nrr", "Net Revenue Retention", "percent", "increase", "expansion", "lagging",
            "recurring revenue kept from existing customers",
            "100 * sum(arr_end where existing and {where}) / sum(arr_start)", 108),
    KpiKind("trial-activation", "Trial Activation Rate", "percent", "increase", "conversion",
            "leading", "share of new trials activated in 14 days",
            "100 * count(trials where activated and {where}) / count(trials)", 41, "activation"),
)
# fmt: on

# (id prefix, term, definition)
GLOSSARY_BASES = (
    ("mql", "Marketing Qualified Lead (MQL)",
     "A lead with fit score >= 60 and one high-intent action in the last 30 days."),
    ("sql", "Sales Qualified Lead (SQL)",
     "An MQL that a sales rep accepted after a discovery call and linked to an opportunity."),
    ("sourced-pipeline", "Marketing-sourced pipeline",
     "Opportunity amount whose first recorded touch was a marketing program."),
    ("activation", "Trial activation",
     "A trial account that invited a teammate and ran its first report."),
    ("churned-logo", "Churned logo",
     "A customer whose last paid subscription ended and was not renewed within 30 days."),
    ("attributed-revenue", "Attributed revenue",
     "Closed-won revenue credited to touches with the W-shaped attribution model."),
)  # fmt: skip

RATIONALES = (
    "Q3 actual +{g}%",
    "Plan growth {g}%",
    "Seasonal dip",
    "New headcount ramps",
    "FY2027 plan +{g}%",
    "Price change lands",
)


# --------------------------------------------------------------------------------------
# Registry generator
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """How many entities of each kind a registry of ``kpis`` KPIs gets."""

    kpis: int
    people: int
    teams: int
    sources: int
    glossary: int
    campaigns: int  # plus two escalation policies, whatever N

    @classmethod
    def for_kpis(cls, kpis: int) -> Plan:
        if kpis < 10:
            raise ValueError("a generated registry needs at least 10 KPIs")
        people = kpis // 7 + 8  # person 0 (the CMO) owns no KPI; the rest own <= 8 each
        return cls(
            kpis=kpis,
            people=people,
            teams=max(4, people // 12),
            sources=max(12, kpis // 12),
            glossary=max(len(GLOSSARY_BASES), kpis // 40),
            campaigns=max(3, kpis // 250),
        )


@dataclass(slots=True)
class GeneratedRegistry:
    path: Path
    kpis: int
    files: int
    bytes: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)


class _Writer:
    """Writes entity files below a root and keeps count of files and bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = 0
        self.bytes = 0
        self.counts: dict[str, int] = {}
        self._dirs: set[Path] = set()

    def write(self, kind: str, rel: str, text: str) -> None:
        path = self.root / rel
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        data = text.encode("utf-8")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)  # lighter than open()
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        self.files += 1
        self.bytes += len(data)
        self.counts[kind] = self.counts.get(kind, 0) + 1


def _person_ids(count: int) -> list[tuple[str, str]]:
    """``count`` unique (id, display name) pairs."""
    out: list[tuple[str, str]] = []
    nf, nl = len(FIRST_NAMES), len(LAST_NAMES)
    for i in range(count):
        first, last = FIRST_NAMES[i % nf], LAST_NAMES[(i // nf + i) % nl]
        round_ = i // (nf * nl)
        pid = f"{first}-{last}" + (f"-{round_ + 1}" if round_ else "")
        out.append((pid, f"{first.title()} {last.title()}"))
    return out


def _fmt_value(value: float, unit: str) -> str:
    if unit in ("count", "days"):
        return str(max(1, round(value)))
    if unit == "currency":
        return str(max(1, int(round(value, -2)) if value >= 1000 else round(value)))
    return f"{value:.1f}"


def generate_registry(root: Path, n_kpis: int) -> GeneratedRegistry:
    """Write a clean registry of ``n_kpis`` KPIs to ``root`` (which must be empty or absent).

    The content is a pure function of ``n_kpis``: the same N always gives the same files.
    """
    started = time.perf_counter()
    plan = Plan.for_kpis(n_kpis)
    w = _Writer(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(f"kpis={n_kpis}\n", encoding="utf-8")

    w.write(
        "root",
        "kpictl.yaml",
        "version: 1\n"
        f"organization: Benchmark Corp {n_kpis}\n"
        "timezone: Europe/Berlin\n"
        "fiscal_year_start_month: 1\n"
        f"owner_kpi_limit: {OWNER_KPI_LIMIT}\n",
    )

    # Teams: team 0 is the executive team led by the CMO (person 0); team t is led by person t.
    # Each entry: (id, name, function, member titles).
    teams: list[tuple[str, str, str, tuple[str, str]]] = [
        ("executive", "Executive", "executive", ("Chief Marketing Officer", "Chief of Staff"))
    ]
    for t in range(1, plan.teams):
        slug, name, function, titles = TEAM_KINDS[(t - 1) % len(TEAM_KINDS)]
        region = REGIONS[((t - 1) // len(TEAM_KINDS)) % len(REGIONS)]
        round_ = (t - 1) // (len(TEAM_KINDS) * len(REGIONS))
        tid = f"{slug}-{region}" + (f"-{round_ + 1}" if round_ else "")
        teams.append((tid, f"{name} {region.upper()}", function, titles))
    # TEAM_KINDS starts with demand-gen, revops, sales-dev: Plan gives at least those three.
    revops = next(tid for tid, *_ in teams if tid.startswith("revops-"))
    sales_team = next(tid for tid, _, function, _ in teams if function == "sales")
    mkt_team = next(tid for tid, _, function, _ in teams if function == "marketing")

    people = _person_ids(plan.people)
    pid = [p for p, _ in people]
    cmo = pid[0]
    manager_of: dict[str, str] = {}
    for p, (person, name) in enumerate(people):
        if p == 0:
            team, title, manager = teams[0][0], "Chief Marketing Officer", None
        elif p < plan.teams:
            team, title, manager = teams[p][0], teams[p][1] + " Lead", cmo
        else:
            t = 1 + (p % (plan.teams - 1))
            team, title, manager = teams[t][0], teams[t][3][p % 2], pid[t]
        lines = [
            "kind: person",
            f"id: {person}",
            f"name: {name}",
            f"email: {person.replace('-', '.', 1)}@benchmark-corp.example",
            f"team: {team}",
            f"title: {scalar(title)}",
        ]
        if manager:
            manager_of[person] = manager
            lines.append(f"manager: {manager}")
        lines.append("active: true")
        w.write("person", f"people/{person}.yaml", "\n".join(lines) + "\n")

    for t, (tid, name, function, _) in enumerate(teams):
        w.write(
            "team",
            f"teams/{tid}.yaml",
            f"kind: team\nid: {tid}\nname: {scalar(name)}\nfunction: {function}\nlead: {pid[t]}\n",
        )

    owners = pid[1:]  # everyone but the CMO has a manager, so `$owner.manager` always resolves

    # Data sources: manual exports (no fallback), raw systems, derived models in three layers.
    n_manual = max(2, plan.sources // 6)
    n_raw = max(4, plan.sources // 3)
    n_derived = plan.sources - n_manual - n_raw
    manual: list[str] = []
    raw: list[str] = []
    layers: list[list[str]] = [[], [], []]

    def write_source(
        sid: str, name: str, system: str, refresh: str, upstream: list[str], fallback: str | None
    ) -> None:
        owner = owners[w.counts.get("data_source", 0) * 5 % len(owners)]
        lines = [
            "kind: data_source",
            f"id: {sid}",
            f"name: {scalar(name)}",
            f"system: {scalar(system)}",
            f"owner: {owner}",
            f"refresh: {refresh}",
        ]
        if upstream:
            lines.append(f"upstream: {flow_list(upstream)}")
        if fallback:
            lines.append(f"fallback: {fallback}")
        w.write("data_source", f"sources/{sid}.yaml", "\n".join(lines) + "\n")

    for i in range(n_manual):
        slug, system, name = MANUAL_SYSTEMS[i % len(MANUAL_SYSTEMS)]
        sid = f"{slug}-{i + 1}"
        write_source(sid, f"{name} {i + 1}", system, "daily", [], None)
        manual.append(sid)
    for i in range(n_raw):
        slug, system, name, refresh = RAW_SYSTEMS[i % len(RAW_SYSTEMS)]
        region = REGIONS[(i // len(RAW_SYSTEMS)) % len(REGIONS)]
        sid = f"{slug}-{i + 1}"
        write_source(sid, f"{name} ({region.upper()})", system, refresh, [], manual[i % n_manual])
        raw.append(sid)
    for i in range(n_derived):
        slug, system, name = DERIVED_MODELS[i % len(DERIVED_MODELS)]
        layer = i % 3
        sid = f"{slug}-{i + 1}"
        # Upstream only points at raw sources or a lower layer: no cycle, depth <= 4.
        upstream = [raw[(i * 7) % n_raw]]
        if layer and layers[layer - 1]:
            lower = layers[layer - 1]
            upstream.insert(0, lower[(i // 3) % len(lower)])
        fallback = raw[(i * 3 + 1) % n_raw] if i % 4 == 0 else manual[i % n_manual]
        if fallback in upstream:
            fallback = manual[i % n_manual]
        write_source(sid, f"{name} {i + 1}", system, "daily", upstream, fallback)
        layers[layer].append(sid)
    # Sources with a fallback (and whose whole lineage has one) may feed business KPIs.
    business_sources = raw + [sid for layer in layers for sid in layer]

    standard, critical = "standard", "critical"
    for policy_id, policy_name, hours in (
        (standard, "Standard KPI escalation", ("24h", "72h", "5d")),
        (critical, "Critical KPI escalation", ("4h", "24h", "48h")),
    ):
        w.write(
            "escalation_policy",
            f"policies/{policy_id}.yaml",
            "kind: escalation_policy\n"
            f"id: {policy_id}\n"
            f"name: {policy_name}\n"
            "tiers:\n"
            "  - level: 1\n"
            "    name: Team review\n"
            "    deviation_pct: 5\n"
            f"    respond_within: {hours[0]}\n"
            "    notify: [$owner, $backup]\n"
            "    approver: $owner\n"
            "    actions: [Root-cause assessment, Plan adjustment]\n"
            "  - level: 2\n"
            "    name: Cross-functional check-in\n"
            "    deviation_pct: 15\n"
            f"    respond_within: {hours[1]}\n"
            f"    notify: [$owner, $backup, $owner.manager, $source.owner, {revops}]\n"
            "    approver: $owner.manager\n"
            "    actions: [Cross-functional review, Status update to leadership]\n"
            "    on_data_outage: true\n"
            "  - level: 3\n"
            "    name: Executive escalation\n"
            "    deviation_pct: 30\n"
            f"    respond_within: {hours[2]}\n"
            f"    notify: [$owner.manager, {cmo}]\n"
            f"    approver: {cmo}\n"
            "    actions: [Executive decision on budget or target]\n",
        )

    glossary: dict[str, list[str]] = {}  # GLOSSARY_BASES slug -> term ids
    for g in range(plan.glossary):
        slug, term, definition = GLOSSARY_BASES[g % len(GLOSSARY_BASES)]
        gid = f"{slug}-definition-{g + 1}"
        variant = REGIONS[g % len(REGIONS)].upper()
        w.write(
            "glossary_term",
            f"glossary/{gid}.yaml",
            "kind: glossary_term\n"
            f"id: {gid}\n"
            f"term: {scalar(f'{term} ({variant})')}\n"
            f"definition: {scalar(definition)}\n"
            f"owner: {owners[(g * 11) % len(owners)]}\n"
            f"agreed_by: {flow_list([mkt_team, sales_team])}\n",
        )
        glossary.setdefault(slug, []).append(gid)

    kpi_ids: list[str] = []
    kpi_targets: list[str] = []
    term_uses: dict[str, int] = {}
    n_owners = len(owners)

    def kpi_id(i: int) -> str:
        kind = KPI_KINDS[i % len(KPI_KINDS)]
        region = REGIONS[(i // len(KPI_KINDS)) % len(REGIONS)]
        seg = SEGMENTS[(i // (len(KPI_KINDS) * len(REGIONS))) % len(SEGMENTS)][0]
        return f"{kind.slug}-{region}-{seg}-{i + 1}"

    for i in range(n_kpis):
        kind = KPI_KINDS[i % len(KPI_KINDS)]
        region = REGIONS[(i // len(KPI_KINDS)) % len(REGIONS)]
        seg, seg_name = SEGMENTS[(i // (len(KPI_KINDS) * len(REGIONS))) % len(SEGMENTS)]
        kid = kpi_id(i)
        primary = owners[i % n_owners]
        backup = owners[(i + 1) % n_owners]
        internal = i % 9 == 8
        if internal:  # manual sources have no fallback: fine for internal KPIs (rule L003)
            sources = [manual[i % n_manual]]
        else:
            first = business_sources[i % len(business_sources)]
            second = business_sources[(i * 7 + 3) % len(business_sources)]
            sources = [first, second] if i % 3 == 0 and second != first else [first]
        market = f"{region.upper()} {seg_name}"
        where = f"market = '{region.upper()}-{seg.upper()}'"
        scale = 0.6 + (i % 17) / 10
        value = kind.base * (scale if kind.unit in ("count", "currency") else 1 + (i % 7) / 50)
        drift = 0.04 if kind.unit in ("count", "currency") else 0.01
        step = 1 + drift if kind.direction == "increase" else 1 - drift
        lines = [
            "kind: kpi",
            f"id: {kid}",
            f"name: {scalar(f'{kind.name} ({market})')}",
            f"description: {scalar(f'{kind.subject[0].upper()}{kind.subject[1:]} in {market}.')}",
        ]
        terms = glossary.get(kind.term, [])
        used = term_uses.get(kind.term, 0)
        if terms and (used < len(terms) or used % 3 == 0):  # every term gets used (rule G001)
            lines.append(f"definition: {terms[used % len(terms)]}")
        term_uses[kind.term] = used + 1
        lines += [
            f"formula: {scalar(kind.formula.format(where=where))}",
            f"unit: {kind.unit}",
            f"direction: {kind.direction}",
            f"stage: {kind.stage}",
            f"indicator: {kind.indicator}",
            f"audience: {'internal' if internal else 'business'}",
            "owners:",
            f"  primary: {primary}",
            f"  backup: {backup}",
            f"sources: {flow_list(sources)}",
            "cadence:",
            f"  refresh: {'weekly' if i % 6 == 5 else 'daily'}",  # sources are hourly or daily
            f"  review: {'monthly' if kind.indicator == 'lagging' else 'weekly'}",
            "targets:",
        ]
        for q, period in enumerate(("2026-Q4", "2027-Q1", "2027-Q2", "2027-Q3", "2027-Q4")):
            rationale = RATIONALES[(i + q) % len(RATIONALES)].format(g=3 + (i + q) % 9)
            target = _fmt_value(value * step**q, kind.unit)
            approval = f", approved_by: {manager_of[primary]}" if q == 0 and i % 4 == 1 else ""
            lines.append(
                f"  - {{period: {period}, value: {target}, "
                f"rationale: {scalar(rationale, flow=True)}{approval}}}"
            )
            if q == 0:
                kpi_targets.append(target)
        lines.append(f"escalation: {critical if i % 5 == 0 else standard}")
        # One KPI tree per market: each kind drives the next one of the same market.
        if (i + 1) % len(KPI_KINDS) and i + 1 < n_kpis:
            lines.append(f"drives: [{kpi_id(i + 1)}]")
        w.write("kpi", f"kpis/{kind.stage}/{kid}.yaml", "\n".join(lines) + "\n")
        kpi_ids.append(kid)

    themes = (
        ("abm-enterprise", "Enterprise ABM push"),
        ("pipeline-sprint", "Pipeline sprint"),
        ("webinar-series", "Webinar series"),
        ("partner-launch", "Partner co-marketing launch"),
    )
    for c in range(plan.campaigns):
        theme, theme_name = themes[c % len(themes)]
        cid = f"q4-{theme}-{c + 1}"
        k0 = (c * 37) % n_kpis
        secondary = [(k0 + 3) % n_kpis, (k0 + 7) % n_kpis]  # distinct for N >= 10
        driver = owners[(c * 13 + 2) % n_owners]
        approver = manager_of[driver]
        contributor = owners[(c * 13 + 5) % n_owners]
        if contributor == driver:
            contributor = owners[(c * 13 + 6) % n_owners]
        risk_owner = owners[(c * 17 + 1) % n_owners]
        sec_lines = "".join(
            f"  - {{kpi: {kpi_ids[k]}, target: {kpi_targets[k]}}}\n" for k in secondary
        )
        w.write(
            "campaign",
            f"campaigns/{cid}.yaml",
            "kind: campaign\n"
            f"id: {cid}\n"
            f"name: Q4 {theme_name} {c + 1}\n"
            "status: active\n"
            "context: Pipeline in the target segment is 20% behind plan after Q3.\n"
            "objective: Close the pipeline gap by the end of Q4 without raising cost per lead.\n"
            "strategies: [Intent-based targeting, Executive dinners, SDR follow-up in 24h]\n"
            "out_of_scope: [SMB segment, New logo pricing]\n"
            f"primary_kpi: {{kpi: {kpi_ids[k0]}, target: {kpi_targets[k0]}}}\n"
            f"secondary_kpis:\n{sec_lines}"
            "daci:\n"
            f"  driver: {driver}\n"
            f"  approver: {approver}\n"
            f"  contributors: [{contributor}, {revops}]\n"
            f"  informed: [{sales_team}]\n"
            "raci:\n"
            f"  - {{activity: Ad launch, responsible: [{contributor}], accountable: {driver}, "
            f"consulted: [], informed: [{revops}]}}\n"
            "governance: pod\n"
            "risks:\n"
            f"  - {{risk: Intent data coverage is thin, owner: {risk_owner}, "
            "mitigation: Add a second provider}\n"
            "timeline:\n"
            "  start: 2026-10-01\n"
            "  end: 2026-12-31\n"
            "  readouts: [30, 60, 90]\n"
            "sign_off:\n"
            f"  - {{by: {approver}, date: 2026-09-24}}\n",
        )

    unused = [t for b, ts in glossary.items() for t in ts[term_uses.get(b, 0) :]]
    if unused:  # cannot happen with Plan.for_kpis; guards future changes to the plan
        raise RuntimeError(f"glossary terms left unused: {unused[:5]}")

    return GeneratedRegistry(
        path=root,
        kpis=n_kpis,
        files=w.files,
        bytes=w.bytes,
        seconds=time.perf_counter() - started,
        counts=dict(w.counts),
    )


# --------------------------------------------------------------------------------------
# Measuring one process
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    wall: float  # seconds
    max_rss_kb: int  # the child's own peak resident set size
    exit_code: int
    cpu: float  # the child's user + system seconds: what a busy machine cannot inflate
    timed_out: bool
    output_head: list[str]


def run_measured(argv: Sequence[str], *, timeout: float, head_lines: int = 15) -> Run:
    """Run ``argv`` once; return its wall time, its own peak RSS and its exit code."""
    with tempfile.TemporaryFile() as out:
        env = {**os.environ, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("GITHUB_ACTIONS", None)  # keep the default text output
        timed_out = threading.Event()
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        )

        def kill() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        exit_code = os.waitstatus_to_exitcode(status)
        proc.returncode = exit_code  # already reaped: stop Popen from waiting again
        out.seek(0)
        head = out.read(64 * 1024).decode("utf-8", "replace").splitlines()[:head_lines]
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    rss_kb = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, rss_kb, exit_code, cpu, timed_out.is_set(), head)


# --------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A registry to run a scenario against."""

    label: str  # "N=2000" or "example"
    path: Path
    kpis: int | None
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Context:
    kpictl: tuple[str, ...]  # how to start kpictl, e.g. ("kpictl",) or ("python", "-m", "kpictl")
    as_of: str
    scratch: Path  # an empty folder a scenario may write to (e.g. `escalate --out`)


ArgvBuilder = Callable[[Context, Target], list[str]]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    target: Literal["generated", "example"]
    build: ArgvBuilder
    help: str
    expected_exit: int = 0
    # Timed in the same runs, interleaved, as a reference point (see IMPORT_FLOOR).
    baseline: ArgvBuilder | None = None


# What every kpictl process imports before kpictl's own code does anything: the
# interpreter, typer (with its pydantic-based option handling), pydantic and
# ruamel.yaml's C parser, under the settings kpictl's entry point applies. kpictl
# cannot start faster than this; the example scenario times it alongside.
IMPORT_FLOOR = """
import gc, os
gc.set_threshold(100_000, 50, 50)
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
import typer
try:
    import typer._adapters
except ImportError:
    pass
import pydantic.plugin._loader, ruamel.yaml, _ruamel_yaml
from pydantic import BaseModel
"""


def kpictl_python(kpictl: Sequence[str]) -> str:
    """The interpreter kpictl runs under: from `python -m kpictl`, or a script's #! line."""
    if tuple(kpictl[1:3]) == ("-m", "kpictl"):
        return shutil.which(kpictl[0]) or kpictl[0]
    try:
        first = Path(kpictl[0]).read_bytes()[:512].split(b"\n", 1)[0]
    except OSError:
        return sys.executable
    words = first[2:].decode(errors="replace").split() if first.startswith(b"#!") else []
    if words and Path(words[0]).name.startswith("python"):
        return words[0]
    return sys.executable


def _import_floor(ctx: Context, target: Target) -> list[str]:
    return [kpictl_python(ctx.kpictl), "-c", IMPORT_FLOOR]


def _check(ctx: Context, target: Target) -> list[str]:
    return [*ctx.kpictl, "check", str(target.path), "--as-of", ctx.as_of]


def _map_html(ctx: Context, target: Target) -> list[str]:
    output = ctx.scratch / f"map-{target.label.replace('=', '')}.html"
    return [
        *ctx.kpictl,
        *("map", str(target.path), "--format", "html", "--output", str(output)),
        *("--as-of", ctx.as_of),
    ]


_VALUE = re.compile(r"value: ([0-9]+(?:\.[0-9]+)?)")


def _git(repo: Path, *args: str) -> None:
    """Run git in ``repo`` with a fixed identity, so commits work on any machine."""
    subprocess.run(
        [
            *("git", "-C", str(repo)),
            *("-c", "user.name=kpictl bench", "-c", "user.email=bench@example.invalid"),
            *args,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _git_copy(target: Target, name: str) -> Path:
    """A copy of ``target`` committed as a fresh git repository (deleted at exit).

    The generated registry itself stays untouched, so scenarios do not affect each other.
    """
    import atexit

    folder = Path(tempfile.mkdtemp(prefix=f"kpictl-bench-{name}-"))
    atexit.register(shutil.rmtree, folder, True)
    repo = folder / "registry"
    shutil.copytree(target.path, repo)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "Generated registry")
    return repo


def _bump_targets(files: Sequence[Path]) -> None:
    """Raise the first target of each KPI file by 10% (a recalibration)."""
    for file in files:
        text = file.read_text(encoding="utf-8")
        match = _VALUE.search(text)
        if match is None:
            continue
        value = float(match[1]) * 1.1
        shown = str(round(value)) if "." not in match[1] else f"{value:.2f}"
        text = text[: match.start(1)] + shown + text[match.end(1) :]
        file.write_text(text, encoding="utf-8")


def _changed_since(ctx: Context, target: Target) -> list[str]:
    # Builders run once per scenario and target, before the timed runs: prepare here.
    repo = _git_copy(target, "changed-since")
    _bump_targets(sorted((repo / "kpis").rglob("*.yaml"))[:1])  # one uncommitted change
    return [*ctx.kpictl, "check", str(repo), "--changed-since", "HEAD", "--as-of", ctx.as_of]


def _diff(ctx: Context, target: Target) -> list[str]:
    repo = _git_copy(target, "diff")
    _bump_targets(sorted((repo / "kpis").rglob("*.yaml"))[::40][:50])  # 50 recalibrations
    _git(repo, "commit", "-q", "-a", "-m", "Recalibrate 50 targets")
    return [*ctx.kpictl, "diff", "HEAD~1", "HEAD", "--registry", str(repo)]


_KPI_ID = re.compile(r"^id: (\S+)$", re.MULTILINE)
_KPI_DIRECTION = re.compile(r"^direction: (increase|decrease)$", re.MULTILINE)


def breaching_actuals(target: Target, as_of: str) -> Path:
    """An actuals CSV in which every KPI of a generated registry misses by far (tier 3).

    Read back from the generated KPI files (whose layout this script controls) and written
    beside them as a hidden file: kpictl reads only YAML from a registry.
    """
    day = date.fromisoformat(as_of)
    period = f"{day.year}-Q{(day.month - 1) // 3 + 1}"  # generated registries: fiscal = calendar
    target_value = re.compile(rf"period: {re.escape(period)}, value: ([0-9.]+)")
    rows = ["kpi,period,value,as_of"]
    for file in sorted((target.path / "kpis").rglob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        kpi, direction = _KPI_ID.search(text), _KPI_DIRECTION.search(text)
        value = target_value.search(text)
        if kpi and direction and value:
            factor = 0.05 if direction[1] == "increase" else 5
            rows.append(f"{kpi[1]},{period},{float(value[1]) * factor:.2f},{as_of}")
    path = target.path / ".breaching-actuals.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _escalate(ctx: Context, target: Target) -> list[str]:
    actuals = breaching_actuals(target, ctx.as_of)
    out = str(ctx.scratch / "outbox")
    return [*ctx.kpictl, "escalate", str(target.path), "--out", out, "--actuals", str(actuals),
            "--as-of", ctx.as_of]  # fmt: skip


def _fmt_check(ctx: Context, target: Target) -> list[str]:
    # The generated registries are written in canonical form, so this must exit 0.
    return [*ctx.kpictl, "fmt", "--check", str(target.path)]


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("check", "generated", _check, "kpictl check on each generated registry"),
    Scenario(
        "fmt-check",
        "generated",
        _fmt_check,
        "kpictl fmt --check on each generated registry (target: < 20 s at N=2000)",
    ),
    Scenario(
        "changed-since",
        "generated",
        _changed_since,
        "kpictl check --changed-since HEAD with one KPI file changed in a git copy of each "
        "generated registry (target: < 1.5 s at N=2000)",
    ),
    Scenario(
        "diff",
        "generated",
        _diff,
        "kpictl diff HEAD~1 HEAD over 50 target changes in a git copy of each generated "
        "registry (target: < 5 s at N=2000)",
    ),
    Scenario(
        "check-example",
        "example",
        _check,
        f"kpictl check on the example registry (target: < {EXAMPLE_TARGET_SECONDS} s), "
        "with the import floor timed alongside",
        baseline=_import_floor,
    ),
    Scenario(
        "map-html",
        "generated",
        _map_html,
        "kpictl map --format html --output FILE on each generated registry (target: < 5 s "
        "at N=2000)",
    ),
    Scenario(
        "escalate",
        "generated",
        _escalate,
        "kpictl escalate --out DIR with every KPI breaching (target: < 10 s at N=2000)",
    ),
)
SCENARIO_NAMES = tuple(s.name for s in SCENARIOS)


@dataclass(slots=True)
class Result:
    scenario: str
    target: str
    kpis: int | None
    files: int
    megabytes: float
    runs: int
    best_s: float
    median_s: float
    peak_rss_mb: float
    files_per_s: float
    exit_codes: list[int]
    expected_exit: int
    ok: bool
    argv: list[str]
    baseline_best_s: float | None = None
    baseline_median_s: float | None = None


def measure(
    scenario: Scenario, target: Target, ctx: Context, *, repeat: int, warmup: int, timeout: float
) -> Result:
    argv = scenario.build(ctx, target)
    baseline = scenario.baseline(ctx, target) if scenario.baseline else None
    baseline_walls: list[float] = []
    runs: list[Run] = []
    for i in range(warmup + repeat):
        if baseline is not None:
            reference = run_measured(baseline, timeout=timeout)
            if reference.exit_code != 0:
                print(f"WARNING: the baseline of {scenario.name} failed: {shlex.join(baseline)}")
                for line in reference.output_head:
                    print(f"    | {line}", flush=True)
                baseline = None
            elif i >= warmup:
                baseline_walls.append(reference.wall)
        for child in ctx.scratch.iterdir():  # every run starts from an empty scratch folder
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        run = run_measured(argv, timeout=timeout)
        if i >= warmup:
            runs.append(run)
        if run.timed_out or run.exit_code != scenario.expected_exit:
            reason = f"timed out after {timeout:g} s" if run.timed_out else "exited"
            print(
                f"WARNING: {scenario.name} on {target.label} {reason} with code {run.exit_code}"
                f" (expected {scenario.expected_exit}): {shlex.join(argv)}",
                flush=True,
            )
            for line in run.output_head:
                print(f"    | {line}", flush=True)
            if i < warmup:
                runs.append(run)
            break  # a failing command is not worth timing again
    walls = [r.wall for r in runs]
    best = min(walls)
    return Result(
        scenario=scenario.name,
        target=target.label,
        kpis=target.kpis,
        files=target.files,
        megabytes=target.bytes / 1e6,
        runs=len(runs),
        best_s=best,
        median_s=statistics.median(walls),
        peak_rss_mb=max(r.max_rss_kb for r in runs) / 1024,
        files_per_s=target.files / best if best > 0 else 0.0,
        exit_codes=[r.exit_code for r in runs],
        expected_exit=scenario.expected_exit,
        ok=all(r.exit_code == scenario.expected_exit and not r.timed_out for r in runs),
        argv=list(argv),
        baseline_best_s=min(baseline_walls) if baseline_walls else None,
        baseline_median_s=statistics.median(baseline_walls) if baseline_walls else None,
    )


def print_table(results: Sequence[Result]) -> None:
    header = (
        "scenario",
        "target",
        "N KPIs",
        "files",
        "MB",
        "best s",
        "median s",
        "peak RSS MB",
        "files/s",
        "exit",
    )
    rows = [
        (
            r.scenario,
            r.target,
            "?" if r.kpis is None else f"{r.kpis:,}",
            f"{r.files:,}",
            f"{r.megabytes:.2f}",
            f"{r.best_s:.3f}",
            f"{r.median_s:.3f}",
            f"{r.peak_rss_mb:.1f}",
            f"{r.files_per_s:,.0f}",
            ",".join(map(str, sorted(set(r.exit_codes)))) + ("" if r.ok else " !"),
        )
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    left = {0, 1}
    for row in (header, *rows):
        cells = (
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        print("  ".join(cells))


# --------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------


_KPI_DOC = re.compile(rb"^kind:\s*['\"]?kpi['\"]?\s*(?:#.*)?$", re.MULTILINE)
_EXCLUDE_FLOW = re.compile(r"^exclude:\s*\[(?P<items>[^\]]*)\]", re.MULTILINE)
_EXCLUDE_BLOCK = re.compile(r"^exclude:\s*(?:#.*)?\n(?P<items>(?:[ \t]+-[^\n]*\n?)+)", re.MULTILINE)


def read_excludes(root_file: Path) -> list[str]:
    """The ``exclude`` globs of a ``kpictl.yaml``, read without a YAML parser.

    Handles the two usual spellings (a flow list, a block list of plain or quoted strings);
    that is enough to count the files kpictl reads for the report.
    """
    text = root_file.read_text(encoding="utf-8")
    if m := _EXCLUDE_FLOW.search(text):
        items = m["items"].split(",")
    elif m := _EXCLUDE_BLOCK.search(text):
        items = [line.strip()[1:] for line in m["items"].splitlines()]
    else:
        return []
    globs = (item.split(" #", 1)[0].strip().strip("'\"") for item in items)
    return [g for g in globs if g]


def describe_registry(path: Path, label: str) -> Target:
    """Count the YAML files kpictl reads below ``path`` and the KPI documents in them."""
    excludes = read_excludes(path / "kpictl.yaml")
    files = size = kpis = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith(".") or not name.endswith((".yaml", ".yml")):
                continue
            file = Path(dirpath) / name
            rel = file.relative_to(path).as_posix()
            if any(fnmatch.fnmatchcase(rel, glob) for glob in excludes):  # `*` crosses "/"
                continue
            data = file.read_bytes()
            files += 1
            size += len(data)
            kpis += len(_KPI_DOC.findall(data))
    return Target(label, path, kpis, files, size)


@contextmanager
def generated_target(n: int, keep: Path | None) -> Iterator[Target]:
    if keep is None:
        with tempfile.TemporaryDirectory(prefix=f"kpictl-bench-{n}-") as tmp:
            yield _generate(Path(tmp) / "registry", n)
        return
    root = keep / f"n{n}"
    if root.exists():
        if not (root / MARKER).exists():
            raise SystemExit(f"error: {root} exists and was not made by this script; not touching")
        shutil.rmtree(root)
    yield _generate(root, n)


def _generate(root: Path, n: int) -> Target:
    reg = generate_registry(root, n)
    counts = ", ".join(f"{k} {v:,}" for k, v in reg.counts.items())
    print(
        f"generated N={n:,}: {reg.files:,} files, {reg.bytes / 1e6:.2f} MB in {reg.seconds:.2f} s"
        f" at {root} ({counts})",
        flush=True,
    )
    return Target(f"N={n}", root, reg.kpis, reg.files, reg.bytes)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of integers: {text!r}"
        ) from None
    if not sizes or any(n < 10 for n in sizes):
        raise argparse.ArgumentTypeError("sizes must be integers >= 10")
    return sizes


def _scenarios(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in SCENARIO_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIO_NAMES)}"
        )
    return names


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    scenarios = "\n".join(f"  {s.name:<15} {s.help}" for s in SCENARIOS)
    parser = argparse.ArgumentParser(
        prog="check_large.py",
        description=(
            "Generate clean synthetic kpictl registries of N KPIs and time whole kpictl\n"
            "processes on them: best and median wall time, the child's own peak RSS and\n"
            "files/s. Also times the small example registry (target: under "
            f"{EXAMPLE_TARGET_SECONDS} s\n"
            "including interpreter start). Each command must exit 0; a run that does not\n"
            "is reported on a WARNING line with the first lines of its output, and the\n"
            "script then exits 1."
        ),
        epilog=(
            f"scenarios:\n{scenarios}\n\n"
            "sizes: N KPIs come with about N/7 people, N/84 teams, N/12 data sources,\n"
            "N/40 glossary terms, N/250 campaigns and 2 escalation policies, one entity\n"
            "per file; N=2000 gives 2,544 files and about 1.7 MB. Generation writes many\n"
            "small files: set TMPDIR=/dev/shm (or --keep a RAM disk) if the disk is slow.\n\n"
            "examples:\n"
            "  python benchmarks/check_large.py\n"
            "  python benchmarks/check_large.py --sizes 200 --repeat 5 --json bench.json\n"
            "  python benchmarks/check_large.py --kpictl-cmd 'python -m kpictl' --scenario check\n"
            "  python benchmarks/check_large.py --sizes 20000 --keep /tmp/kpi-bench --generate-only"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=_sizes(DEFAULT_SIZES),
        metavar="N,N,...",
        help=f"KPI counts of the generated registries, each >= 10 (default: {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--repeat",
        type=_positive_int,
        default=3,
        metavar="R",
        help="timed runs per scenario and registry; best and median are reported (default: 3)",
    )
    parser.add_argument(
        "--warmup",
        type=_non_negative_int,
        default=0,
        metavar="W",
        help="untimed runs before the timed ones (default: 0)",
    )
    parser.add_argument(
        "--kpictl-cmd",
        metavar="CMD",
        help="how to start kpictl, split like a shell would, e.g. 'python -m kpictl' "
        "(default: the kpictl executable on PATH)",
    )
    parser.add_argument(
        "--as-of",
        default=DEFAULT_AS_OF,
        metavar="YYYY-MM-DD",
        help=f"evaluation date passed to kpictl, so results are deterministic "
        f"(default: {DEFAULT_AS_OF})",
    )
    parser.add_argument(
        "--also-example",
        type=Path,
        default=DEFAULT_EXAMPLE,
        metavar="PATH",
        help="the example registry timed by the check-example scenario "
        "(default: the repository's registry/ folder); skipped with a warning when it holds "
        "no kpictl.yaml",
    )
    parser.add_argument(
        "--scenario",
        type=_scenarios,
        action="extend",
        metavar="NAME[,NAME]",
        help=f"run only these scenarios; repeatable (default: all of {', '.join(SCENARIO_NAMES)})",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="generate into DIR/n<N>/ and keep the registries; a DIR/n<N>/ left by an earlier "
        "run is replaced, any other is refused (default: a temporary folder, deleted after use)",
    )
    parser.add_argument(
        "--generate-only",
        action="store_true",
        help="only generate the registries and print their sizes; time nothing",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="kill a run after S seconds and report it (default: 600)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write the results (one object per scenario and registry) as JSON",
    )
    return parser


def resolve_kpictl(cmd: str | None) -> tuple[str, ...]:
    if cmd:
        argv = tuple(shlex.split(cmd))
        if not argv:
            raise SystemExit("error: --kpictl-cmd is empty")
        if shutil.which(argv[0]) is None:
            raise SystemExit(f"error: --kpictl-cmd: {argv[0]!r} is not an executable")
        return argv
    exe = shutil.which("kpictl")
    if exe is None:
        raise SystemExit(
            "error: no kpictl on PATH; install it (pip install -e .) or pass "
            "--kpictl-cmd 'python -m kpictl'"
        )
    return (exe,)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    selected = [s for s in SCENARIOS if args.scenario is None or s.name in args.scenario]
    wants_generated = any(s.target == "generated" for s in selected)
    wants_example = any(s.target == "example" for s in selected)

    if args.generate_only:
        for n in args.sizes:
            with generated_target(n, args.keep):
                pass
        return 0

    kpictl = resolve_kpictl(args.kpictl_cmd)
    print(f"kpictl: {shlex.join(kpictl)}   python: {sys.version.split()[0]}   as-of: {args.as_of}")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="kpictl-bench-scratch-") as scratch:
        ctx = Context(kpictl=kpictl, as_of=args.as_of, scratch=Path(scratch))

        def run(scenario: Scenario, target: Target) -> None:
            results.append(
                measure(
                    scenario,
                    target,
                    ctx,
                    repeat=args.repeat,
                    warmup=args.warmup,
                    timeout=args.timeout,
                )
            )

        if wants_example:
            example: Path = args.also_example.resolve()
            if (example / "kpictl.yaml").is_file():
                target = describe_registry(example, "example")
                for scenario in selected:
                    if scenario.target == "example":
                        run(scenario, target)
            else:
                print(f"WARNING: no kpictl.yaml in {example}; skipping the example scenarios")

        if wants_generated:
            for n in args.sizes:
                with generated_target(n, args.keep) as target:
                    for scenario in selected:
                        if scenario.target == "generated":
                            run(scenario, target)

    print()
    if not results:
        print("WARNING: nothing was measured")
        return 1
    print_table(results)
    for r in results:
        if r.baseline_best_s is not None and r.baseline_median_s is not None:
            print(
                f"{r.scenario}: the import floor (Python, typer, pydantic, ruamel.yaml) took "
                f"{r.baseline_best_s:.3f} s best, {r.baseline_median_s:.3f} s median in the same "
                f"runs; kpictl's own share of the best run: {r.best_s - r.baseline_best_s:.3f} s"
            )
    failed = [r for r in results if not r.ok]
    for r in results:
        if r.target == "example" and r.best_s > EXAMPLE_TARGET_SECONDS:
            print(
                f"WARNING: {r.scenario} best {r.best_s:.3f} s is over the "
                f"{EXAMPLE_TARGET_SECONDS} s target"
            )
    for r in failed:
        print(
            f"WARNING: {r.scenario} on {r.target} exit codes {r.exit_codes}, expected "
            f"{r.expected_exit}: {shlex.join(r.argv)}"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
