"""Write the example registry's warehouse: small CSV files under registry/warehouse/.

    python tools/make_example_warehouse.py [REGISTRY]

Standard library only and a fixed seed, so anyone can rerun it and get the same bytes.
The files stand in for the dbt models the example's data sources describe, as the
warehouse held them on the morning of Friday 20 November 2026 (09:00 Europe/Berlin,
the time all `loaded_at` values are in). Nightly models load day D during the night
after it, so on 20 November the warehouse knows everything up to the 19th; the weekly
models (finance's programme spend, the MQL cohorts, the closed deals confirmed in the
Monday forecast call) last loaded on Monday 16 November; finance closed October's ARR
on 6 November; the Search Console feed stopped loading after 14 November.

The numbers are drawn at random around a story (MQLs slowing through November,
expansion pipeline falling behind from mid-October when the add-on it was planned on
slipped, web traffic steady) and then nudged so that the example's SQL, evaluated for
2026-Q4 as of 2026-11-20, gives exactly the values in registry/actuals/2026-11-20.csv.
tests/test_example_warehouse.py holds the SQL to those values.
"""

from __future__ import annotations

import csv
import itertools
import math
import random
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

SEED = 20261120
SNAPSHOT = datetime(2026, 11, 20, 9, 0)  # the warehouse as the example sees it
LAST_DAY = date(2026, 11, 19)  # the last day the nightly loads have covered
FUNNEL_START = date(2026, 6, 1)  # web, search, spend and leads: June on (the summer webinars)
OPPORTUNITY_START = date(2026, 3, 1)  # deals closing in Q3 and Q4 were opened from spring
Q4 = date(2026, 10, 1)
NOVEMBER = date(2026, 11, 1)

# What registry/actuals/2026-11-20.csv says for 2026-Q4; the data is made to give these.
WEBSITE_SESSIONS = 121_400
BRANDED_CLICKS = 18_400
MQLS = 1225
SQLS = 448
MQL_TO_SQL_RATE = 36.6
PIPELINE_SOURCED = 3_460_000
COST_PER_OPPORTUNITY = 2310
SALES_CYCLE_DAYS = 90
PIPELINE_COVERAGE = 3.2
NRR = 113.4
EXPANSION_PIPELINE = 785_000

SEARCH_FEED_LAST_LOAD = date(2026, 11, 14)  # the Search Console connector broke after this
MQL_COHORT_WINDOW = timedelta(days=30)
# A build on a Monday holds MQL days up to the Sunday of the week before.
COHORT_MIN_AGE = timedelta(days=8)

rng = random.Random(SEED)


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def at(day: date, hour: int, minute: int | None = None) -> datetime:
    """A moment on `day`; the minute is drawn when not given, so loads do not all tick at :00."""
    return datetime.combine(day, time(hour, rng.randrange(60) if minute is None else minute))


def nightly(moment: datetime | date, hour: int = 2) -> datetime:
    """When a nightly model picks up what happened at `moment`: the following night."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return at(day + timedelta(days=1), hour)


def next_monday(day: date, hour: int) -> datetime:
    """When a weekly Monday load picks up `day`: the Monday after its week."""
    return at(day + timedelta(days=7 - day.weekday()), hour)


def working_day(month_start: date, n: int) -> date:
    """The `n`th working day (Monday to Friday) of the month starting `month_start`."""
    day = month_start
    seen = 0
    while True:
        if day.weekday() < 5:
            seen += 1
            if seen == n:
                return day
        day += timedelta(days=1)


def weekday_factor(day: date, weekend: float) -> float:
    return weekend if day.weekday() >= 5 else 1.0


def noisy(mean: float, spread: float = 0.12) -> int:
    return max(0, round(rng.gauss(mean, mean * spread)))


def shape(day: date, points: list[tuple[date, float]]) -> float:
    """A level that moves linearly between dated points (flat before the first, after the last)."""
    if day <= points[0][0]:
        return points[0][1]
    for (d0, v0), (d1, v1) in itertools.pairwise(points):
        if day <= d1:
            return v0 + (v1 - v0) * (day - d0).days / (d1 - d0).days
    return points[-1][1]


def nudge_total(counts: dict[date, int], window: list[date], total: int) -> None:
    """Add or take single units on random days of `window` until it sums to `total`."""
    diff = total - sum(counts[day] for day in window)
    step = 1 if diff > 0 else -1
    while diff:
        day = rng.choice(window)
        if counts[day] + step >= 0:
            counts[day] += step
            diff -= step


def stamp(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.isoformat()


def q4_known(day: date) -> bool:
    return Q4 <= day <= LAST_DAY


# --- web and search ------------------------------------------------------------------------

WEB_CHANNELS = {  # share of sessions; internal traffic is counted apart and excluded
    "organic-search": 0.41,
    "direct": 0.22,
    "paid-search": 0.14,
    "referral": 0.09,
    "paid-social": 0.08,
    "email": 0.06,
}


def web_sessions() -> list[dict[str, object]]:
    """Sessions per day and channel: steady, a little above the Q4 pace, lower at weekends."""
    window = list(days(Q4, LAST_DAY))
    totals = {
        d: noisy(
            shape(d, [(FUNNEL_START, 2050), (Q4, 2420), (LAST_DAY, 2440)])
            * weekday_factor(d, 0.55),
            0.06,
        )
        for d in days(FUNNEL_START, LAST_DAY)
    }
    scale = WEBSITE_SESSIONS / sum(totals[d] for d in window)
    for d in window:
        totals[d] = round(totals[d] * scale)
    nudge_total(totals, window, WEBSITE_SESSIONS)
    rows = []
    for day, total in totals.items():
        loaded = at(day + timedelta(days=1), 4)  # the GA4 daily export lands at about 04:00
        shares = {name: total * share for name, share in WEB_CHANNELS.items()}
        parts = {name: math.floor(value) for name, value in shares.items()}
        parts["organic-search"] += total - sum(parts.values())
        for name, sessions in parts.items():
            rows.append({"day": day, "channel": name, "sessions": sessions, "loaded_at": loaded})
        internal = noisy(60 * weekday_factor(day, 0.1), 0.3)
        rows.append({"day": day, "channel": "internal", "sessions": internal, "loaded_at": loaded})
    return rows


def search_clicks() -> list[dict[str, object]]:
    """Organic clicks per day and query group; Search Console reports a day two days late."""
    window = list(days(Q4, SEARCH_FEED_LAST_LOAD - timedelta(days=2)))
    brand = {
        d: noisy(
            shape(
                d,
                [
                    (FUNNEL_START, 330),
                    (date(2026, 9, 25), 380),
                    (date(2026, 10, 8), 470),
                    (LAST_DAY, 400),
                ],
            )
            * weekday_factor(d, 0.5),
            0.08,
        )
        for d in days(FUNNEL_START, LAST_DAY)
    }
    scale = BRANDED_CLICKS / sum(brand[d] for d in window)
    for d in window:
        brand[d] = round(brand[d] * scale)
    nudge_total(brand, window, BRANDED_CLICKS)
    rows = []
    for day, clicks in brand.items():
        loaded = at(day + timedelta(days=2), 5)
        if loaded.date() > SEARCH_FEED_LAST_LOAD:
            continue  # the feed stopped: these days never arrived
        product = round(clicks * rng.uniform(0.25, 0.3))
        groups = {"brand": clicks - product, "brand-product": product}
        groups["brand-support-login"] = noisy(clicks * 0.35, 0.1)  # customers, not prospects
        for group, value in groups.items():
            rows.append({"day": day, "query_group": group, "clicks": value, "loaded_at": loaded})
    return rows


# --- leads: contacts, MQLs, SQLs, cohorts --------------------------------------------------

LEAD_CHANNELS = {
    "paid-search": 0.2,
    "paid-social": 0.16,
    "organic-search": 0.2,
    "webinar": 0.14,
    "events": 0.08,
    "referral": 0.07,
    "partner": 0.06,
    "direct": 0.09,
}


@dataclass
class Contact:
    contact_id: str
    created_at: datetime
    channel: str
    mql_at: datetime | None = None
    sql_at: datetime | None = None
    campaign: str = ""  # the campaign the contact is attributed to, if any


def pick(weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def business_moment(day: date) -> datetime:
    return datetime.combine(day, time(rng.randint(8, 18), rng.randrange(60), rng.randrange(60)))


def mql_pace(day: date) -> float:
    """MQLs a weekday: a summer low, a strong October, then slipping through November."""
    level = shape(
        day,
        [
            (FUNNEL_START, 22),
            (date(2026, 9, 1), 25),
            (Q4, 31.5),
            (date(2026, 10, 20), 30),
            (LAST_DAY, 21),
        ],
    )
    return level * weekday_factor(day, 0.35) * 7 / 5.7


def funnel() -> list[Contact]:
    q4_days = list(days(Q4, LAST_DAY))
    mqls = {d: noisy(mql_pace(d), 0.15) for d in days(FUNNEL_START, LAST_DAY)}
    nudge_total(mqls, q4_days, MQLS)
    contacts: list[Contact] = []
    for day, count in mqls.items():
        for _ in range(count):
            mql_at = business_moment(day)
            created = business_moment(day - timedelta(days=min(int(rng.expovariate(1 / 6)), 40)))
            created = min(created, mql_at - timedelta(minutes=5))
            contact = Contact("", created, pick(LEAD_CHANNELS), mql_at)
            if rng.random() < 0.38:
                delay = rng.expovariate(1 / 2.5) if rng.random() < 0.96 else rng.uniform(31, 45)
                contact.sql_at = mql_at + timedelta(days=1 + delay)
            contacts.append(contact)
        for _ in range(noisy(count * 0.8, 0.2)):  # leads that never (yet) became MQLs
            contacts.append(Contact("", business_moment(day), pick(LEAD_CHANNELS)))
    for contact in contacts:
        if contact.sql_at is not None and contact.sql_at.date() > LAST_DAY:
            contact.sql_at = None  # accepted after the snapshot: unknown yet
    calibrate_funnel(contacts)
    contacts.sort(key=lambda c: c.created_at)
    for number, contact in enumerate(contacts, 1):
        contact.contact_id = f"c{number:05d}"
    return contacts


def cohort_counts(contacts: list[Contact], built: date, first: date) -> tuple[int, int]:
    """MQLs from `first` up to the youngest cohort a build on `built` holds, and those
    of them accepted within 30 days by then."""
    cutoff = datetime.combine(built, time())
    mqls = accepted = 0
    for c in contacts:
        if c.mql_at is None or not (first <= c.mql_at.date() <= built - COHORT_MIN_AGE):
            continue
        mqls += 1
        if c.sql_at is not None and c.sql_at < cutoff and c.sql_at - c.mql_at <= MQL_COHORT_WINDOW:
            accepted += 1
    return mqls, accepted


def calibrate_funnel(contacts: list[Contact]) -> None:
    """Accept or un-accept a few MQLs so the Q4 rate and SQL count are the example's."""
    build = date(2026, 11, 16)
    mqls, accepted = cohort_counts(contacts, build, Q4)
    wanted = min(
        range(mqls + 1), key=lambda n: (abs(round(100 * n / mqls, 1) - MQL_TO_SQL_RATE), n)
    )
    early = [c for c in contacts if c.mql_at and Q4 <= c.mql_at.date() <= date(2026, 11, 5)]
    while accepted != wanted:
        c = rng.choice(early)
        assert c.mql_at is not None
        counted = c.sql_at is not None and c.sql_at - c.mql_at <= MQL_COHORT_WINDOW
        if accepted < wanted and c.sql_at is None:
            c.sql_at = c.mql_at + timedelta(days=2, hours=3)
            accepted += 1
        elif accepted > wanted and counted:
            c.sql_at = None
            accepted -= 1
    # The quarter's SQLs also hold acceptances no Q4 cohort of the 16 November build
    # counts (September MQLs accepted in October, MQLs too young for that build,
    # acceptances from 16 November on, and those after 30 days): the SQL count is
    # matched through those alone.
    cutoff = datetime.combine(build, time())

    def outside_cohorts(c: Contact) -> bool:
        assert c.mql_at is not None and c.sql_at is not None
        young = c.mql_at.date() > build - COHORT_MIN_AGE
        return (
            c.mql_at.date() < Q4
            or young
            or c.sql_at >= cutoff
            or c.sql_at - c.mql_at > MQL_COHORT_WINDOW
        )

    september = [c for c in contacts if c.mql_at and date(2026, 9, 22) <= c.mql_at.date() < Q4]
    sqls = sum(1 for c in contacts if c.sql_at and q4_known(c.sql_at.date()))
    while sqls < SQLS:
        c = rng.choice(september)
        if c.sql_at is None:
            c.sql_at = datetime.combine(Q4 + timedelta(days=rng.randint(0, 6)), time(11, 30))
            sqls += 1
    spare = [c for c in contacts if c.sql_at and q4_known(c.sql_at.date()) and outside_cohorts(c)]
    rng.shuffle(spare)
    while sqls > SQLS:
        spare.pop().sql_at = None
        sqls -= 1


def contact_rows(contacts: list[Contact]) -> list[dict[str, object]]:
    rows = []
    for c in contacts:
        if nightly(c.created_at) > SNAPSHOT:
            continue
        rows.append(
            {
                "contact_id": c.contact_id,
                "channel": c.channel,
                "created_at": c.created_at,
                "loaded_at": nightly(c.created_at),
                "became_mql_at": c.mql_at,
                "mql_loaded_at": nightly(c.mql_at) if c.mql_at else None,
                "became_sql_at": c.sql_at,
                "sql_loaded_at": nightly(c.sql_at) if c.sql_at else None,
                "campaign": c.campaign,
            }
        )
    return rows


def cohort_rows(contacts: list[Contact]) -> list[dict[str, object]]:
    """The weekly MQL cohort model: rebuilt every Monday, each build kept (a snapshot table).

    A build holds, per MQL day of the last 120 days, the MQLs and those accepted as SQL
    within 30 days as far as was known then. Cohorts younger than a week are left out:
    most acceptances come in the first days, so a younger cohort would read low.
    """
    by_day: dict[date, list[Contact]] = {}
    for c in contacts:
        if c.mql_at is not None:
            by_day.setdefault(c.mql_at.date(), []).append(c)
    rows: list[dict[str, object]] = []
    built = date(2026, 6, 8)
    while built <= SNAPSHOT.date():
        cutoff = datetime.combine(built, time())
        loaded = at(built, 6)
        for day in days(max(FUNNEL_START, built - timedelta(days=120)), built - COHORT_MIN_AGE):
            cohort = by_day.get(day, [])
            accepted = sum(
                1
                for c in cohort
                if c.sql_at is not None
                and c.mql_at is not None
                and c.sql_at < cutoff
                and c.sql_at - c.mql_at <= MQL_COHORT_WINDOW
            )
            rows.append(
                {
                    "built_on": built,
                    "mql_date": day,
                    "mqls": len(cohort),
                    "accepted_within_30_days": accepted,
                    "loaded_at": loaded,
                }
            )
        built += timedelta(days=7)
    return rows


# --- opportunities, closed deals, bookings plan --------------------------------------------

OPPORTUNITY_CHANNELS = {
    "paid-search": 0.22,
    "paid-social": 0.18,
    "webinar": 0.17,
    "events": 0.13,
    "organic-search": 0.16,
    "partner": 0.14,
}


@dataclass
class Opportunity:
    opportunity_id: str
    type: str  # new business | upsell | cross-sell
    source: str  # marketing | sales | customer-success
    channel: str
    arr_eur: int  # first-year ARR (new business) or incremental ARR (expansion)
    created_at: datetime
    expected_close_on: date
    closed_at: datetime | None = None
    outcome: str = ""  # won | lost, empty while open
    campaign: str = ""  # the campaign the opportunity is attributed to, if any


def amount(mean: float) -> int:
    return max(3000, round(rng.lognormvariate(math.log(mean), 0.45) / 100) * 100)


def expansion_pace(day: date) -> float:
    """Expansion ARR created a weekday: on plan until the add-on slipped in mid-October."""
    level = shape(
        day,
        [
            (OPPORTUNITY_START, 19_000),
            (Q4, 27_500),
            (date(2026, 10, 14), 27_500),
            (date(2026, 10, 21), 12_500),
            (LAST_DAY, 11_500),
        ],
    )
    return level * weekday_factor(day, 0.1) * 7 / 5.2


def opportunities() -> list[Opportunity]:
    opps: list[Opportunity] = []
    for day in days(OPPORTUNITY_START, LAST_DAY):
        weekday = day.weekday() < 5
        for source, mean in (
            ("marketing", 3.9 if weekday else 0.5),
            ("sales", 1.2 if weekday else 0.1),
        ):
            for _ in range(noisy(mean, 0.35)):
                opps.append(new_business(day, source))
        budget = expansion_pace(day) * rng.uniform(0.7, 1.3)
        while budget > 4000:
            arr = min(amount(17_000), int(round(budget, -2)))
            budget -= arr
            kind = "upsell" if rng.random() < 0.65 else "cross-sell"
            source = "customer-success" if rng.random() < 0.6 else "marketing"
            opps.append(expansion(day, kind, source, arr))
    calibrate_opportunities(opps)
    opps.sort(key=lambda o: o.created_at)
    for number, opp in enumerate(opps, 1):
        opp.opportunity_id = f"o{number:05d}"
    return opps


def new_business(day: date, source: str) -> Opportunity:
    created = business_moment(day)
    opp = Opportunity(
        "",
        "new business",
        source,
        pick(OPPORTUNITY_CHANNELS),
        amount(23_000),
        created,
        day + timedelta(days=rng.randint(70, 130)),
    )
    draw = rng.random()
    if draw < 0.3:
        # Cycles grew through 2026 as the enterprise share rose.
        mean = shape(day, [(OPPORTUNITY_START, 74), (date(2026, 8, 1), 92)])
        close_in = min(max(rng.gauss(mean, 16), 50), 170)
        opp.outcome, opp.closed_at = "won", created + timedelta(days=close_in)
    elif draw < 0.75:
        opp.outcome, opp.closed_at = "lost", created + timedelta(days=rng.uniform(12, 120))
    if opp.closed_at is not None and opp.closed_at.date() > LAST_DAY:
        opp.outcome, opp.closed_at = "", None  # still open on the snapshot
    return opp


def expansion(day: date, kind: str, source: str, arr: int) -> Opportunity:
    created = business_moment(day)
    opp = Opportunity(
        "", kind, source, "customer-base", arr, created, day + timedelta(days=rng.randint(30, 75))
    )
    if rng.random() < 0.55:
        outcome = "won" if rng.random() < 0.6 else "lost"
        closed = created + timedelta(days=rng.uniform(14, 70))
        if closed.date() <= LAST_DAY:
            opp.outcome, opp.closed_at = outcome, closed
    return opp


def set_total(opps: list[Opportunity], total: int) -> None:
    """Spread the gap to `total` over the opportunities' amounts, in hundreds."""
    diff = total - sum(o.arr_eur for o in opps)
    while diff:
        opp = rng.choice(opps)
        step = max(min(diff, 5000), -5000, 3000 - opp.arr_eur)
        step = round(step, -2) if abs(step) >= 100 else step
        opp.arr_eur += step
        diff -= step


def calibrate_opportunities(opps: list[Opportunity]) -> None:
    created_q4 = [o for o in opps if q4_known(o.created_at.date())]
    sourced = [o for o in created_q4 if o.type == "new business" and o.source == "marketing"]
    set_total(sourced, PIPELINE_SOURCED)
    set_total([o for o in created_q4 if o.type != "new business"], EXPANSION_PIPELINE)
    # The median cycle of new business won in Q4 up to the last weekly confirmation (Sunday
    # 15 November): shift those deals' creation dates alike, which keeps their spread,
    # until the median is the example's.
    won = [
        o
        for o in opps
        if o.type == "new business"
        and o.outcome == "won"
        and o.closed_at is not None
        and Q4 <= o.closed_at.date() <= date(2026, 11, 15)
    ]
    while (median := statistics.median(cycle_days(o) for o in won)) != SALES_CYCLE_DAYS:
        if median != int(median):  # two middle deals a day apart: bring the longer one in
            ranked = sorted(won, key=lambda o: (cycle_days(o), o.created_at))
            move(ranked[len(won) // 2], -1)
            continue
        for opp in won:
            move(opp, SALES_CYCLE_DAYS - int(median))


def move(opp: Opportunity, longer: int) -> None:
    """Make `opp`'s cycle `longer` days longer by moving its creation."""
    opp.created_at -= timedelta(days=longer)


def cycle_days(opp: Opportunity) -> int:
    assert opp.closed_at is not None
    return (opp.closed_at.date() - opp.created_at.date()).days


def opportunity_rows(opps: list[Opportunity]) -> list[dict[str, object]]:
    return [
        {
            "opportunity_id": o.opportunity_id,
            "type": o.type,
            "source": o.source,
            "channel": o.channel,
            "arr_eur": o.arr_eur,
            "created_at": o.created_at,
            "expected_close_on": o.expected_close_on,
            "loaded_at": nightly(o.created_at),
            "outcome": o.outcome,
            "closed_at": o.closed_at,
            "closed_loaded_at": nightly(o.closed_at) if o.closed_at else None,
            "campaign": o.campaign,
        }
        for o in opps
    ]


def closed_deal_rows(opps: list[Opportunity]) -> list[dict[str, object]]:
    """Won deals as RevOps confirms them in the Monday forecast call, loaded that morning."""
    rows: list[dict[str, object]] = []
    for o in opps:
        if o.outcome != "won" or o.closed_at is None:
            continue
        loaded = next_monday(o.closed_at.date(), 11)
        if loaded > SNAPSHOT:
            continue
        rows.append(
            {
                "opportunity_id": o.opportunity_id,
                "type": o.type,
                "created_on": o.created_at.date(),
                "closed_won_on": o.closed_at.date(),
                "arr_eur": o.arr_eur,
                "loaded_at": loaded,
            }
        )
    rows.sort(key=lambda row: (str(row["loaded_at"]), str(row["opportunity_id"])))
    return rows


QUARTERS = [date(2026, m, 1) for m in (1, 4, 7, 10)] + [date(2027, m, 1) for m in (1, 4)]


def bookings_plan_rows(opps: list[Opportunity]) -> list[dict[str, object]]:
    """New-business bookings plan per quarter; 2027-Q1 is sized so Q4 coverage is the example's."""
    as_of = date(2026, 11, 20)
    open_eur = booked = 0
    horizon = date(2027, 4, 1)
    for o in opps:
        if o.type != "new business" or o.created_at.date() >= as_of:
            continue
        if o.outcome == "won" and o.closed_at and Q4 <= o.closed_at.date() < as_of:
            booked += o.arr_eur
        if (
            o.closed_at is None or o.closed_at.date() >= as_of
        ) and Q4 <= o.expected_close_on < horizon:
            open_eur += o.arr_eur
    # Q4 and 2027-Q1 together must need what makes the coverage the example's; the
    # other quarters follow the same 5% a quarter growth.
    needed = round((open_eur / PIPELINE_COVERAGE + booked) / 1000) * 1000
    q4_plan = round(needed / 2.05 / 1000) * 1000
    plan = {q: round(q4_plan * 1.05 ** (i - 3) / 1000) * 1000 for i, q in enumerate(QUARTERS)}
    plan[date(2027, 1, 1)] = needed - q4_plan
    coverage = open_eur / (plan[Q4] + plan[date(2027, 1, 1)] - booked)
    assert round(coverage, 2) == PIPELINE_COVERAGE, coverage
    return [
        {
            "quarter": f"{q.year}-Q{(q.month - 1) // 3 + 1}",
            "quarter_start": q,
            "plan_eur": value,
            # the 2026 plan, with the first half of 2027 as its outlook
            "loaded_at": datetime(2026, 1, 14, 16, 30),
        }
        for q, value in plan.items()
    ]


# --- marketing spend -----------------------------------------------------------------------

# channel: (feed that loads it, EUR a weekday). The ad platforms load every night; the
# programme spend finance tracks (events, agencies, sponsorships) arrives each Monday
# morning for the week before.
SPEND = {
    "paid-search": ("google-ads", 2600),
    "display": ("google-ads", 650),
    "paid-social": ("linkedin-ads", 2300),
    "events": ("finance-sheet", 1500),
    "content-agency": ("finance-sheet", 650),
    "sponsorships": ("finance-sheet", 500),
}


def spend_rows(opps: list[Opportunity]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for day in days(FUNNEL_START, LAST_DAY):
        for channel, (feed, mean) in SPEND.items():
            loaded = next_monday(day, 7) if feed == "finance-sheet" else nightly(day, 3)
            if loaded > SNAPSHOT:
                continue
            weekend = 0.6 if feed != "finance-sheet" else 0.2
            value = round(mean * weekday_factor(day, weekend) * rng.uniform(0.8, 1.2), 2)
            rows.append(
                {
                    "day": day,
                    "channel": channel,
                    "feed": feed,
                    "spend_eur": value,
                    "loaded_at": loaded,
                }
            )
    # Q4 spend known on 20 November over the marketing-sourced opportunities created by
    # then is the example's cost per opportunity: scale the quarter's rows to it.
    sourced = sum(
        1
        for o in opps
        if o.type == "new business" and o.source == "marketing" and q4_known(o.created_at.date())
    )
    q4 = [row for row in rows if Q4 <= row["day"] <= LAST_DAY]  # type: ignore[operator]
    wanted = COST_PER_OPPORTUNITY * sourced
    scale = wanted / sum(float(str(row["spend_eur"])) for row in q4)
    for row in q4:
        row["spend_eur"] = round(float(str(row["spend_eur"])) * scale, 2)
    gap = round(wanted - sum(float(str(row["spend_eur"])) for row in q4), 2)
    q4[0]["spend_eur"] = round(float(str(q4[0]["spend_eur"])) + gap, 2)
    return rows


# --- ARR ------------------------------------------------------------------------------------

# June 2025 to October 2026: NRR looks back twelve months from each closed month.
ARR_MONTHS = [date(2025 + (5 + i) // 12, (5 + i) % 12 + 1, 1) for i in range(17)]


def arr_rows() -> list[dict[str, object]]:
    """Month-end ARR per customer, as finance closes each month on its fifth working day."""
    customers: dict[str, dict[date, int]] = {}
    number = 0
    for month in ARR_MONTHS:
        joining = 260 if month == ARR_MONTHS[0] else noisy(9, 0.3)
        for _ in range(joining):
            number += 1
            customers[f"cu{number:04d}"] = {month: amount(38_000)}
    for history in customers.values():
        months = sorted(history)
        arr = history[months[0]]
        for month in ARR_MONTHS:
            if month <= months[0]:
                continue
            draw = rng.random()
            if draw < 0.006:
                break  # churned
            if draw < 0.09:
                arr = int(
                    round(arr * rng.uniform(1.1, 1.45), -2)
                )  # expansion at renewal or mid-term
            elif draw < 0.113:
                arr = int(round(arr * rng.uniform(0.7, 0.95), -2))  # seats given back
            history[month] = arr
    calibrate_nrr(customers)
    rows: list[dict[str, object]] = []
    for month in ARR_MONTHS:
        next_month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        loaded = datetime.combine(working_day(next_month, 5), time(17, 15))
        for customer, history in customers.items():
            if month in history:
                rows.append(
                    {
                        "month": month,
                        "customer_id": customer,
                        "arr_eur": history[month],
                        "loaded_at": loaded,
                    }
                )
    return rows


def calibrate_nrr(customers: dict[str, dict[date, int]]) -> None:
    """Set the largest retained customer's October ARR so trailing NRR is the example's."""
    now, before = ARR_MONTHS[-1], ARR_MONTHS[-13]
    cohort = {c: h for c, h in customers.items() if h.get(before, 0) > 0}
    base = sum(h[before] for h in cohort.values())
    anchor = max((c for c in cohort if now in cohort[c]), key=lambda c: cohort[c][now])
    others = sum(h.get(now, 0) for c, h in cohort.items() if c != anchor)
    cohort[anchor][now] = round(NRR / 100 * base) - others
    assert round(100 * sum(h.get(now, 0) for h in cohort.values()) / base, 1) == NRR


# --- campaign attribution -------------------------------------------------------------------

# What registry/actuals/2026-11-20.csv says each campaign produced. The attribution is
# drawn from its own seed after everything else, so the rows and every target-period
# value stay what they were before campaigns were attributed.
WEBINARS = "data-leaders-webinars-2026"  # 1 June to 31 August; its values as of 1 September
WEBINAR_DAYS = (FUNNEL_START, date(2026, 8, 31))
WEBINAR_MQLS, WEBINAR_SQLS, WEBINAR_CLICKS = 962, 271, 6350
LEGACY = "q4-legacy-bi-displacement"  # from 1 October; values as of 30 October and 20 November
# Nothing is attributed to Friday 30 October, so the day-30 readout (Saturday 31 October)
# reads what the actuals file says as of 30 October.
LEGACY_GAP = date(2026, 10, 30)
LEGACY_PIPELINE = (520_000, 1_010_000)
LEGACY_SQLS = (58, 101)
LEGACY_COST = (2480, 2540)

attribution = random.Random(SEED + 12)


def attribute_contacts(contacts: list[Contact]) -> None:
    """Webinar MQLs (some accepted as SQL in the series) and the Q4 campaign's SQLs."""
    first, last = WEBINAR_DAYS
    summer = [c for c in contacts if c.mql_at and first <= c.mql_at.date() <= last]
    accepted = [c for c in summer if c.sql_at and first <= c.sql_at.date() <= last]
    others = [c for c in summer if c not in accepted]
    for c in attribution.sample(accepted, WEBINAR_SQLS):
        c.campaign = WEBINARS
    for c in attribution.sample(others, WEBINAR_MQLS - WEBINAR_SQLS):
        c.campaign = WEBINARS
    free = [c for c in contacts if c.sql_at and not c.campaign]
    october = [c for c in free if Q4 <= c.sql_at.date() < LEGACY_GAP]  # type: ignore[union-attr]
    later = [c for c in free if LEGACY_GAP < c.sql_at.date() <= LAST_DAY]  # type: ignore[union-attr]
    first_count, total = LEGACY_SQLS
    for c in [
        *attribution.sample(october, first_count),
        *attribution.sample(later, total - first_count),
    ]:
        c.campaign = LEGACY


def attribute_opportunities(opps: list[Opportunity]) -> tuple[int, int]:
    """The Q4 campaign's sourced opportunities: how many by 30 October, how many in all."""
    sourced = [o for o in opps if o.type == "new business" and o.source == "marketing"]
    october = [o for o in sourced if Q4 <= o.created_at.date() < LEGACY_GAP]
    later = [o for o in sourced if LEGACY_GAP < o.created_at.date() <= LAST_DAY]
    first = pick_sum(october, LEGACY_PIPELINE[0])
    rest = pick_sum(later, LEGACY_PIPELINE[1] - LEGACY_PIPELINE[0])
    for o in [*first, *rest]:
        o.campaign = LEGACY
    return len(first), len(first) + len(rest)


def pick_sum(opps: list[Opportunity], total: int) -> list[Opportunity]:
    """Opportunities whose ARR adds up to `total` exactly (random fill, then one swap)."""
    for _ in range(500):
        pool = opps[:]
        attribution.shuffle(pool)
        chosen: list[Opportunity] = []
        for o in pool:
            if sum(c.arr_eur for c in chosen) + o.arr_eur <= total:
                chosen.append(o)
        gap = total - sum(c.arr_eur for c in chosen)
        if gap == 0:
            return chosen
        for inside in chosen:
            for outside in pool:
                if outside not in chosen and outside.arr_eur - inside.arr_eur == gap:
                    return [c for c in chosen if c is not inside] + [outside]
    raise AssertionError(f"no opportunities add up to {total}")


def split(
    rows: list[dict[str, object]], key: str, parts: dict[int, float]
) -> list[dict[str, object]]:
    """The rows with a campaign column; row i gives `parts[i]` of its `key` to LEGACY/WEBINARS."""
    out: list[dict[str, object]] = []
    for i, row in enumerate(rows):
        share = parts.get(i)
        if not share:
            out.append({**row, "campaign": ""})
            continue
        campaign = WEBINARS if row["day"] < Q4 else LEGACY  # type: ignore[operator]
        value = row[key]
        rest = (
            round(float(str(value)) - share, 2)
            if isinstance(value, float)
            else int(str(value)) - int(share)
        )
        out.append({**row, key: rest, "campaign": ""})
        out.append({**row, key: share, "campaign": campaign})
    return out


def spread(values: dict[int, float], total: float, whole: bool) -> dict[int, float]:
    """Shares of `values` (in proportion) that add up to `total` exactly."""
    scale = total / sum(values.values())
    assert scale < 1, scale
    parts = {i: (round(v * scale) if whole else round(v * scale, 2)) for i, v in values.items()}
    keys = sorted(parts)
    gap = round(total - sum(parts.values()), 2)
    while gap:
        i = attribution.choice(keys)
        step = (1 if gap > 0 else -1) if whole else gap
        if 0 <= parts[i] + step <= values[i]:
            parts[i] = round(parts[i] + step, 2)
            gap = round(gap - step, 2)
    return parts


def attribute_clicks(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Brand searches in the webinar series' wake: a share of each day's brand clicks."""
    first, last = WEBINAR_DAYS
    known = date(2026, 9, 1)  # Search Console: a day arrives two days late
    window = {
        i: float(str(row["clicks"]))
        for i, row in enumerate(rows)
        if row["query_group"] == "brand"
        and first <= row["day"] <= last  # type: ignore[operator]
        and row["loaded_at"] < datetime.combine(known + timedelta(days=1), time())  # type: ignore[operator]
    }
    return split(rows, "clicks", spread(window, WEBINAR_CLICKS, whole=True))


def attribute_spend(
    rows: list[dict[str, object]], counts: tuple[int, int]
) -> list[dict[str, object]]:
    """The Q4 campaign's share of each day's spend: its ABM ads (LinkedIn and display)
    from the start, and from November its round tables (events, which finance loads on
    Mondays, so the 30 October figure holds only the nightly media spend)."""

    def share(first: date, last: date, channels: tuple[str, ...]) -> dict[int, float]:
        return {
            i: float(str(row["spend_eur"]))
            for i, row in enumerate(rows)
            if row["channel"] in channels and first <= row["day"] <= last  # type: ignore[operator]
        }

    by_october = round(LEGACY_COST[0] * counts[0], 2)
    later = round(LEGACY_COST[1] * counts[1] - by_october, 2)
    ads = ("paid-social", "display")
    parts = spread(share(Q4, LEGACY_GAP - timedelta(days=1), ads), by_october, whole=False)
    november = share(LEGACY_GAP + timedelta(days=1), LAST_DAY, (*ads, "events"))
    parts |= spread(november, later, whole=False)
    return split(rows, "spend_eur", parts)


# --- writing ----------------------------------------------------------------------------------


def write(folder: Path, name: str, rows: list[dict[str, object]]) -> None:
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: stamp(v) if isinstance(v, (date, type(None))) else v for k, v in row.items()}
            )


def main(argv: list[str]) -> int:
    registry = (
        Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "registry"
    )
    folder = registry / "warehouse"
    folder.mkdir(parents=True, exist_ok=True)
    contacts = funnel()
    opps = opportunities()
    attribute_contacts(contacts)
    counts = attribute_opportunities(opps)
    tables: dict[str, Callable[[], list[dict[str, object]]]] = {
        "web_sessions.csv": web_sessions,
        "search_clicks.csv": lambda: attribute_clicks(search_clicks()),
        "contacts.csv": lambda: contact_rows(contacts),
        "mql_cohorts.csv": lambda: cohort_rows(contacts),
        "opportunities.csv": lambda: opportunity_rows(opps),
        "closed_deals.csv": lambda: closed_deal_rows(opps),
        "bookings_plan.csv": lambda: bookings_plan_rows(opps),
        "marketing_spend.csv": lambda: attribute_spend(spend_rows(opps), counts),
        "arr_snapshots.csv": arr_rows,
    }
    for name, make in tables.items():
        write(folder, name, make())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
