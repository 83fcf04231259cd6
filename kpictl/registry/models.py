"""The registry's entities as pydantic models. No I/O here.

Every model forbids unknown fields (a typo must never pass silently) except
`labels`, a free string map any entity may carry. References are plain ids;
`registry.py` resolves them.

Annotations here are real objects, not strings (no `from __future__ import
annotations`): pydantic would otherwise compile and evaluate each one at start-up.
"""

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kpictl.numbers.periods import PERIOD_HELP, PERIOD_PATTERN, parse_period
from kpictl.registry.bounds import (
    MAX_READOUT_DAY,
    MAX_RESPOND_HOURS,
    add_days,
    day_problem,
    value_problem,
)

ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")
ROLES = ("$owner", "$backup", "$owner.manager", "$source.owner")
DURATION_PATTERN = re.compile(r"([1-9][0-9]*)\s*([hd])\Z")
EMAIL_PATTERN = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+\Z")


def _check_id(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise PydanticCustomError(
            "kpictl_id",
            "'{value}' is not a valid id: use lowercase letters, digits and hyphens, "
            "starting with a letter or digit, at most 63 characters (e.g. '{hint}')",
            {"value": value, "hint": _slugify(value) or "maria-lopez"},
        )
    return value


def _slugify(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:63]


def _check_ref(value: str) -> str:
    if value.startswith("$"):
        if value not in ROLES:
            raise PydanticCustomError(
                "kpictl_role",
                "'{value}' is not a role: use {roles}, a person id or a team id",
                {"value": value, "roles": ", ".join(ROLES)},
            )
        return value
    return _check_id(value)


def _check_period(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not PERIOD_PATTERN.match(value):
        raise PydanticCustomError(
            "kpictl_period",
            "'{value}' is not a period: {help}",
            {"value": value, "help": PERIOD_HELP},
        )
    try:
        parse_period(value)  # cached: a registry names few periods, many times
    except ValueError as exc:
        raise PydanticCustomError("kpictl_period", str(exc)) from None
    return value


def _check_duration(value: str) -> str:
    match = DURATION_PATTERN.match(value.strip())
    if not match:
        raise PydanticCustomError(
            "kpictl_duration",
            "'{value}' is not a response time: write hours or days, like 24h or 3d",
            {"value": value},
        )
    # A respond-by is the evaluation moment plus this: bounded, it stays a date.
    if len(match[1]) > 6 or int(match[1]) * (24 if match[2] == "d" else 1) > MAX_RESPOND_HOURS:
        raise PydanticCustomError(
            "kpictl_duration",
            "'{value}' is longer than a year: write at most {days}d ({hours}h)",
            {"value": value.strip(), "days": MAX_RESPOND_HOURS // 24, "hours": MAX_RESPOND_HOURS},
        )
    return value.strip()


# Characters a one-line text never needs: C0/C1 controls (tab included), DEL, line and
# paragraph separators and bidirectional overrides. In a name they end up in email
# headers, terminal tables and CI annotations, where they break lines or reorder text.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# An RFC 2047 encoded word. The registry is UTF-8, so a name never needs one; mail
# software would decode it (into anything, line breaks included) instead of showing it.
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def _check_line(value: str) -> str:
    """One line of plain text: names, titles, terms, emails."""
    bad = _CONTROL.search(value)
    if bad:
        raise PydanticCustomError(
            "kpictl_control",
            "holds the control character U+{code} at position {at}: write it on one "
            "line without control characters",
            {"code": f"{ord(bad.group()):04X}", "at": bad.start() + 1},
        )
    word = _ENCODED_WORD.search(value)
    if word:
        raise PydanticCustomError(
            "kpictl_encoded_word",
            "holds the encoded word '{word}': write the text itself (the registry is "
            "UTF-8), not its email-header encoding",
            {"word": word.group()},
        )
    return value


# What a person's name never needs, and what makes one look like an address to a mail
# client or a person reading it (`Ann, x@evil.example`). Other punctuation stays
# allowed ("O'Brien, Jr.", `<`, `"`, `:`): address headers quote or encode it.
_ADDRESS_SIGN = "@"


# No person's name has a longer word; a longer one cannot be folded into RFC 5322's
# 78-character header lines without changing the name.
LONGEST_NAME_WORD = 60


def _check_person_name(value: str) -> str:
    """A line that can be an email display name: no address, no overlong word."""
    _check_line(value)
    at = value.find(_ADDRESS_SIGN)
    if at >= 0:
        raise PydanticCustomError(
            "kpictl_person_name",
            "holds '@' at position {at}: a name never needs one; write the address "
            "in email, and only the name here",
            {"at": at + 1},
        )
    longest = max(value.split(" "), key=len)
    if len(longest) > LONGEST_NAME_WORD:
        raise PydanticCustomError(
            "kpictl_person_name",
            "has a word of {length} characters: a name's words are at most {limit} "
            "long, so the name fits an email header",
            {"length": len(longest), "limit": LONGEST_NAME_WORD},
        )
    return value


def _check_amount(value: float) -> float:
    problem = value_problem(value)
    if problem is not None:
        raise PydanticCustomError("kpictl_value", "{problem}", {"problem": problem})
    return value


def _check_spend(value: float) -> float:
    """A sum a campaign may spend: a bounded amount, never below zero."""
    _check_amount(value)
    if value < 0:
        raise PydanticCustomError(
            "kpictl_spend",
            "{value} is below zero: a budget is what the campaign may spend",
            {"value": value},
        )
    return value


def _check_day(value: date) -> date:
    problem = day_problem(value)
    if problem is not None:
        raise PydanticCustomError("kpictl_date", "{problem}", {"problem": problem})
    return value


def _check_email(value: str) -> str:
    _check_line(value)
    if not EMAIL_PATTERN.match(value):
        raise PydanticCustomError(
            "kpictl_email",
            "'{value}' is not an email address: write it as name@example.com",
            {"value": value},
        )
    return value


# GitHub user names: letters, digits and single hyphens inside, at most 39 characters.
GITHUB_PATTERN = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}\Z")


CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")


def _check_currency(value: str) -> str:
    if not CURRENCY_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "kpictl_currency",
            "'{value}' is not an ISO 4217 currency code: three capital letters, such as EUR or USD",
            {"value": value},
        )
    return value


def _check_github(value: str) -> str:
    if value.startswith("@"):
        raise PydanticCustomError(
            "kpictl_github",
            "write the GitHub handle without the @: '{hint}'",
            {"hint": value.lstrip("@")},
        )
    if not GITHUB_PATTERN.match(value):
        raise PydanticCustomError(
            "kpictl_github",
            "'{value}' is not a GitHub user name: letters, digits and single hyphens, "
            "not starting or ending with a hyphen, at most 39 characters",
            {"value": value},
        )
    return value


def _listify(value: Any) -> Any:
    """Let a single id stand where a list of ids is expected."""
    return [value] if isinstance(value, str) else value


Id = Annotated[str, AfterValidator(_check_id)]
Ref = Annotated[str, AfterValidator(_check_id)]
Recipient = Annotated[str, AfterValidator(_check_ref)]
RefList = Annotated[list[Ref], BeforeValidator(_listify)]
TextList = Annotated[list[str], BeforeValidator(_listify)]
PeriodText = Annotated[str, BeforeValidator(_check_period)]
Duration = Annotated[str, AfterValidator(_check_duration)]
Email = Annotated[str, AfterValidator(_check_email)]
Line = Annotated[str, AfterValidator(_check_line)]
PersonName = Annotated[str, AfterValidator(_check_person_name)]
GithubHandle = Annotated[str, AfterValidator(_check_github)]
Currency = Annotated[str, AfterValidator(_check_currency)]
# A target value: finite and at most MAX_VALUE in size (see kpictl/registry/bounds.py).
Amount = Annotated[float, AfterValidator(_check_amount)]
Spend = Annotated[float, AfterValidator(_check_spend)]
Day = Annotated[date, AfterValidator(_check_day)]

Function = Literal[
    "marketing",
    "sales",
    "finance",
    "customer-success",
    "product",
    "analytics",
    "executive",
    "other",
]
Refresh = Literal["hourly", "daily", "weekly", "monthly"]
Review = Literal["daily", "weekly", "biweekly", "monthly", "quarterly"]
Unit = Literal["count", "currency", "percent", "ratio", "days"]
Direction = Literal["increase", "decrease"]
Pacing = Literal["linear", "flat"]
Stage = Literal["awareness", "consideration", "conversion", "retention", "expansion"]
Indicator = Literal["leading", "lagging"]
Audience = Literal["internal", "business"]
CampaignStatus = Literal["draft", "approved", "active", "complete", "cancelled"]
ExperimentStatus = Literal["planned", "running", "concluded", "abandoned"]
Decision = Literal["adopt", "reject", "inconclusive"]
Governance = Literal["central-office", "pod", "hybrid-coe", "sales-led"]

REFRESH_DAYS: dict[str, int] = {"hourly": 1, "daily": 1, "weekly": 7, "monthly": 31}
# Finer-grained order for comparing how often things refresh (hourly beats daily).
REFRESH_RANK: dict[str, int] = {"hourly": 0, "daily": 1, "weekly": 2, "monthly": 3}


# Defaults for list and dict fields. pydantic inspects a default factory's signature
# when it builds a model; for the builtins `list` and `dict` that means parsing their
# text signatures (tokenize and ast), about 2% of the start-up of `kpictl check`.
def new_list() -> list[Any]:
    return []


def new_dict() -> dict[str, Any]:
    return {}


class Model(BaseModel):
    # `.nan` and `.inf` are valid YAML floats but no KPI value, deviation or timeout.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, allow_inf_nan=False)


class Entity(Model):
    kind: str
    id: Id
    labels: dict[str, str] = Field(default_factory=new_dict)


class Person(Entity):
    kind: Literal["person"]
    name: PersonName
    email: Email
    team: Ref
    title: Line | None = None
    manager: Ref | None = None
    active: bool = True
    # Code-host handle (no @), for `kpictl codeowners`.
    github: GithubHandle | None = None


class Team(Entity):
    kind: Literal["team"]
    name: Line
    function: Function
    lead: Ref | None = None


class Query(Model):
    """SQL run in one of the connections named in kpictl.yaml (`kpictl pull`)."""

    connection: Line
    sql: Annotated[str, Field(min_length=1)]


class DataSource(Entity):
    kind: Literal["data_source"]
    name: Line
    system: Line
    owner: Ref
    refresh: Refresh
    upstream: RefList = Field(default_factory=new_list)
    fallback: Ref | None = None
    description: str | None = None
    freshness: Query | None = None


class Owners(Model):
    primary: Ref
    backup: Ref
    # Who approved the latest change of primary owner, and why (rule O005 with --base).
    rationale: str | None = None
    approved_by: Ref | None = None


class Cadence(Model):
    refresh: Refresh
    review: Review


class Target(Model):
    period: PeriodText
    value: Amount
    rationale: str | None = None
    approved_by: Ref | None = None


class DefinitionChange(Model):
    """Why a definition or formula changed and who approved it (rule D001 with --base).

    A person approves for their team and for their team's function.
    """

    rationale: str | None = None
    approved_by: RefList = Field(default_factory=new_list)


class Kpi(Entity):
    kind: Literal["kpi"]
    name: Line
    description: str
    definition: Ref | None = None
    formula: str
    change: DefinitionChange | None = None
    unit: Unit
    currency: Currency | None = None  # ISO 4217, for unit: currency
    direction: Direction
    pacing: Pacing | None = None
    stage: Stage
    indicator: Indicator
    audience: Audience
    owners: Owners
    sources: Annotated[RefList, Field(min_length=1)]
    cadence: Cadence
    targets: list[Target] = Field(default_factory=new_list)
    escalation: Ref
    actual: Query | None = None
    drives: RefList = Field(default_factory=new_list)

    @model_validator(mode="after")
    def _default_pacing(self) -> "Kpi":
        if self.pacing is None:
            self.pacing = "linear" if self.unit in ("count", "currency") else "flat"
        return self


class Tier(Model):
    level: int
    name: Line
    deviation_pct: Annotated[float, Field(ge=0)]
    respond_within: Duration
    notify: Annotated[list[Recipient], BeforeValidator(_listify)]
    approver: Recipient | None = None
    actions: TextList = Field(default_factory=new_list)
    on_data_outage: bool = False
    post_to: TextList = Field(default_factory=new_list)  # names under `chat:` in kpictl.yaml

    @property
    def respond_hours(self) -> int:
        match = DURATION_PATTERN.match(self.respond_within)
        assert match is not None  # validated on load
        return int(match[1]) * (24 if match[2] == "d" else 1)


class EscalationPolicy(Entity):
    kind: Literal["escalation_policy"]
    name: Line
    description: str | None = None
    tiers: Annotated[list[Tier], Field(min_length=1)]


class CharterKpi(Model):
    kpi: Ref
    target: Amount | None = None


class Daci(Model):
    driver: Ref
    approver: Ref
    contributors: RefList = Field(default_factory=new_list)
    informed: RefList = Field(default_factory=new_list)


class Raci(Model):
    activity: str
    responsible: RefList = Field(default_factory=new_list)
    accountable: Ref | None = None
    consulted: RefList = Field(default_factory=new_list)
    informed: RefList = Field(default_factory=new_list)


RiskStatus = Literal["open", "mitigated", "happened"]


class Risk(Model):
    risk: str
    owner: Ref | None = None
    mitigation: str | None = None
    # Readouts say where each risk stands; a risk is open until someone says otherwise.
    status: RiskStatus = "open"


class Budget(Model):
    """What the campaign may spend: the cost side of "cost per result"."""

    amount: Spend
    currency: Currency  # ISO 4217, like Kpi.currency


class Commitment(Model):
    """One team's share of the charter: its KPI and the number it signs up for."""

    team: Ref
    kpi: Ref
    target: Amount | None = None
    # Why a team commits to a KPI that is not one of the charter's (rule C007).
    rationale: str | None = None


class NextStep(Model):
    action: str
    owner: Ref | None = None  # a person; the recap asks the driver to name one
    due: Day | None = None


class Timeline(Model):
    start: Day
    end: Day
    readouts: list[Annotated[int, Field(ge=1, le=MAX_READOUT_DAY)]] = Field(
        default_factory=lambda: [30, 60, 90]
    )

    def readout_date(self, days: int) -> date:
        """The date of the readout `days` after the start (the last date there is, at most)."""
        return add_days(self.start, days)


class SignOff(Model):
    by: Ref
    date: Day


class Retrospective(Model):
    why: str | None = None
    worked: TextList = Field(default_factory=new_list)
    did_not_work: TextList = Field(default_factory=new_list)
    recommendations: TextList = Field(default_factory=new_list)
    decisions: TextList = Field(default_factory=new_list)  # what leadership must decide
    next_steps: list[NextStep] = Field(default_factory=new_list)


class Campaign(Entity):
    kind: Literal["campaign"]
    name: Line
    status: CampaignStatus
    context: str
    objective: str
    strategies: TextList = Field(default_factory=new_list)
    out_of_scope: TextList = Field(default_factory=new_list)
    segments: TextList = Field(default_factory=new_list)
    channels: TextList = Field(default_factory=new_list)
    budget: Budget | None = None
    primary_kpi: CharterKpi
    secondary_kpis: list[CharterKpi] = Field(default_factory=new_list)
    commitments: list[Commitment] = Field(default_factory=new_list)
    daci: Daci
    raci: list[Raci] = Field(default_factory=new_list)
    governance: Governance | None = None
    risks: list[Risk] = Field(default_factory=new_list)
    timeline: Timeline
    sign_off: list[SignOff] = Field(default_factory=new_list)
    retrospective: Retrospective | None = None


class GlossaryTerm(Entity):
    kind: Literal["glossary_term"]
    term: Line
    definition: str
    owner: Ref
    agreed_by: RefList = Field(default_factory=new_list)
    change: DefinitionChange | None = None


class Baseline(Model):
    value: Amount
    period: PeriodText | None = None


class ExperimentTimeline(Model):
    start: Day
    end: Day | None = None


class ExperimentResult(Model):
    value: Amount | None = None
    decision: Decision
    learnings: TextList = Field(default_factory=new_list)


class Experiment(Entity):
    kind: Literal["experiment"]
    name: Line
    status: ExperimentStatus
    hypothesis: str
    kpi: Ref
    campaign: Ref | None = None
    owner: Ref
    baseline: Baseline | None = None
    control: str
    decision_rule: str
    timeline: ExperimentTimeline
    result: ExperimentResult | None = None


KINDS: dict[str, type[Entity]] = {
    "person": Person,
    "team": Team,
    "data_source": DataSource,
    "kpi": Kpi,
    "escalation_policy": EscalationPolicy,
    "campaign": Campaign,
    "glossary_term": GlossaryTerm,
    "experiment": Experiment,
}
