"""Issue 11: the email and status use cases return data and only the CLI prints; the
business arithmetic has one home in the evaluation code; one lineage walk, one number
printer."""

from __future__ import annotations

import ast
import functools
import shutil
from datetime import date, datetime, time
from pathlib import Path

import pytest

from kpictl.display import written
from kpictl.errors import KpictlError
from kpictl.numbers.evaluate import KpiStatus, Outlook, elapsed_days, needed_to_target, outlook
from kpictl.registry.lineage import Cycle, Node, Trees, cycles, walk
from kpictl.registry.models import Kpi
from kpictl.registry.registry import Registry
from tests.conftest import AS_OF, EXAMPLE, ROOT

ACTUALS = str(EXAMPLE / "actuals" / "2026-11-20.csv")
PACKAGE = ROOT / "kpictl"
# Modules allowed to write to the terminal: the CLI, the entry point, and the rich
# renderer the CLI hands a console to (it draws the map; it computes nothing).
PRINTERS = ("cli/", "__main__.py", "views/terminal.py")


# --- 1. the email and status flow: use cases return data ------------------------------


def _writes_to_terminal(tree: ast.AST) -> list[int]:
    """Lines that call print() or touch sys.stdout/sys.stderr other than to flush them."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "print":
            lines.append(node.lineno)
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("stdout", "stderr")
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        ):
            lines.append(node.lineno)
    flushes = {
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "flush"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr in ("stdout", "stderr")
    }
    return sorted(set(lines) - flushes)


def test_no_module_below_the_cli_prints() -> None:
    printing = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name.startswith(PRINTERS):
            continue
        lines = _writes_to_terminal(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            printing[name] = lines
    assert printing == {}


def test_the_cli_asks_no_rule_what_to_do() -> None:
    imports = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "kpictl.check.rules"
            ):
                imports.append((path.name, node.module))
    assert imports == []


def test_no_session_is_asserted_non_none() -> None:
    found = [
        path.relative_to(PACKAGE).as_posix()
        for path in sorted(PACKAGE.rglob("*.py"))
        if "assert session" in path.read_text(encoding="utf-8")
    ]
    assert found == []


def test_loading_returns_notes_instead_of_printing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kpictl.emails.outbox import load_actuals, load_inputs

    csv = tmp_path / "actuals.csv"
    csv.write_text(
        "kpi,period,value,as_of\nmql,2026-Q4,12x,2026-11-20\nsql,2026-Q4,448,2026-11-27\n",
        encoding="utf-8",
    )
    inputs = load_inputs(EXAMPLE, date.fromisoformat(AS_OF))
    loaded = load_actuals(inputs.registry, str(csv), inputs.moment.date())
    assert inputs.notes == []
    assert loaded.notes == [
        f"{csv}:2: value '12x' is not a number: write digits with a dot for decimals and no "
        "thousands separators or units (1225, 36.6); row skipped",
        f"{csv}:3: measured 2026-11-27, after the evaluation date 2026-11-20: not used",
    ]
    assert capsys.readouterr() == ("", "")


def test_a_broken_registry_is_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kpictl.emails.outbox import load_inputs

    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    (root / "kpis" / "broken.yaml").write_text("kind: [kpi\n", encoding="utf-8")
    inputs = load_inputs(root, date.fromisoformat(AS_OF))
    assert inputs.notes == [
        "kpictl: warning: the registry has 1 error; entities that failed to load are left "
        "out (run `kpictl check`)"
    ]
    assert capsys.readouterr() == ("", "")


def test_escalations_use_case_returns_the_outbox(capsys: pytest.CaptureFixture[str]) -> None:
    from kpictl.emails.outbox import escalations, load_actuals, load_inputs

    inputs = load_inputs(EXAMPLE, date.fromisoformat(AS_OF))
    outbox = escalations(inputs, load_actuals(inputs.registry, ACTUALS, date(2026, 11, 20)).actuals)
    assert outbox.title == "Escalations for Fri 20 Nov 2026, 09:00 CET"
    assert [email.key for email in outbox.emails] == [
        "expansion-pipeline",
        "branded-search-clicks",
        "sales-cycle-length",
        "mql",
    ]
    assert outbox.warnings == []
    assert capsys.readouterr() == ("", "")


def test_kickoff_use_case_decides_the_sign_off() -> None:
    from kpictl.emails.outbox import kickoff, load_inputs

    inputs = load_inputs(EXAMPLE, date.fromisoformat(AS_OF))
    with pytest.raises(KpictlError) as refused:
        kickoff(inputs, "q1-2027-analytics-plus-upsell", None)
    assert refused.value.exit_code == 1
    assert str(refused.value) == (
        "'q1-2027-analytics-plus-upsell' is not signed off by its approver jonas-keller: add "
        "sign_off: [{by: jonas-keller, date: YYYY-MM-DD}] to the charter before the kickoff "
        "email goes out"
    )
    outbox = kickoff(inputs, "q4-legacy-bi-displacement", None)
    assert [email.key for email in outbox.emails] == ["q4-legacy-bi-displacement-kickoff"]
    assert outbox.title == "Kickoff for q4-legacy-bi-displacement"


def test_recap_use_case_returns_its_warnings() -> None:
    from kpictl.emails.outbox import load_actuals, load_inputs, recap, running_charter

    inputs = load_inputs(EXAMPLE, date.fromisoformat(AS_OF))
    actuals = load_actuals(inputs.registry, ACTUALS, date(2026, 11, 20)).actuals
    charter = running_charter(inputs.registry, "q4-legacy-bi-displacement", "is a draft")
    outbox = recap(inputs, charter, actuals)
    assert outbox.warnings == [
        "'q4-legacy-bi-displacement' is active: the recap shows results to date"
    ]
    assert outbox.title == "Recap of q4-legacy-bi-displacement"


def test_delivery_report_is_data_and_the_lines_are_exact() -> None:
    from kpictl.emails.outbox import Delivery, delivery_failure, delivery_lines
    from kpictl.emails.smtp import Delivery as Sent
    from kpictl.emails.smtp import SendReport

    report = SendReport(
        deliveries=[
            Sent("mql", accepted=["a@x.example"], already=["b@x.example"]),
            Sent("sql", refused={"c@x.example": "550 no such user"}, not_sent=["d@x.example"]),
        ],
        error="550 no such user",
    )
    delivery = Delivery(report, 3, Path("sent.jsonl"))
    assert not delivery.ok
    assert delivery_lines(delivery) == [
        "was sent  mql  b@x.example",
        "sent      mql  a@x.example",
        "refused   sql  c@x.example  (550 no such user)",
        "not sent  sql  d@x.example",
        "Sent 1 of 3 emails.",
    ]
    assert delivery_failure(delivery) == "sending stopped: 550 no such user; not sent: sql"


# --- 2. business arithmetic lives in the evaluation code ------------------------------


@functools.cache
def _example_kpi() -> Kpi:
    from kpictl.registry.registry import load_registry

    kpi = load_registry(EXAMPLE)[0].get("mql")
    assert isinstance(kpi, Kpi)
    return kpi


def _status(pacing: str, direction: str, actual: float | None, day: date) -> KpiStatus:
    """A KPI with a 100 target over February 2026 (28 days), evaluated at `day`."""
    from kpictl.numbers.actuals import Actual
    from kpictl.numbers.evaluate import State
    from kpictl.numbers.periods import Period

    kpi = _example_kpi().model_copy(update={"pacing": pacing, "direction": direction})
    period = Period("2026-02", date(2026, 2, 1), date(2026, 2, 28))
    share = period.elapsed_share(day)
    return KpiStatus(
        kpi,
        None,
        datetime.combine(day, time(9)),
        State.TIER,
        period=period,
        target=100.0,
        target_to_date=100.0 * share,
        share=share,
        actual=None if actual is None else Actual(kpi.id, period.text, actual, day, 2),
    )


@pytest.mark.parametrize(
    ("pacing", "direction", "actual", "day", "expected"),
    [
        # Half way, 40 of 100: ends at 80, 20 (20%) short; 60 more in 14 days is 30 a week.
        ("linear", "increase", 40.0, date(2026, 2, 14), Outlook(80.0, 20.0, 20.0, 60.0, 30.0)),
        # Ahead of pace: no shortfall, still 40 to gain.
        ("linear", "increase", 60.0, date(2026, 2, 14), Outlook(120.0, None, None, 40.0, 20.0)),
        # Target already reached: nothing needed.
        ("linear", "increase", 110.0, date(2026, 2, 14), Outlook(220.0)),
        # Last day: still short, but no week left to spread it over.
        ("linear", "increase", 90.0, date(2026, 2, 28), Outlook(90.0, 10.0, 10.0, 10.0, None)),
        # Decrease: the projection overshoots; headroom is what is left below the target.
        (
            "linear",
            "decrease",
            70.0,
            date(2026, 2, 14),
            Outlook(140.0, 40.0, 40.0, None, None, 30.0),
        ),
        (
            "linear",
            "decrease",
            130.0,
            date(2026, 2, 14),
            Outlook(260.0, 160.0, 160.0, None, None, 0),
        ),
        # Flat pacing does not accrue: nothing to project.
        ("flat", "increase", 40.0, date(2026, 2, 14), Outlook()),
        # No value, or nothing elapsed yet: nothing to project.
        ("linear", "increase", None, date(2026, 2, 14), Outlook()),
        ("linear", "increase", 5.0, date(2026, 1, 31), Outlook()),
    ],
)
def test_outlook_arithmetic(
    pacing: str, direction: str, actual: float | None, day: date, expected: Outlook
) -> None:
    assert outlook(_status(pacing, direction, actual, day)) == expected


@pytest.mark.parametrize(
    ("target", "actual", "direction", "days_left", "expected"),
    [
        (100.0, 40.0, "increase", 14, (60.0, 30.0)),
        (100.0, 40.0, "increase", 1, (60.0, 420.0)),
        (100.0, 40.0, "increase", 0, (60.0, None)),
        (100.0, 100.0, "increase", 14, (None, None)),
        (100.0, 40.0, "decrease", 14, (None, None)),
    ],
)
def test_needed_to_target(
    target: float,
    actual: float,
    direction: str,
    days_left: int,
    expected: tuple[float | None, float | None],
) -> None:
    assert needed_to_target(target, actual, direction, days_left) == expected


@pytest.mark.parametrize(
    ("day", "elapsed"),
    [
        (date(2026, 1, 31), 0),
        (date(2026, 2, 1), 1),
        (date(2026, 2, 14), 14),
        (date(2026, 3, 5), 28),
    ],
)
def test_elapsed_days(day: date, elapsed: int) -> None:
    from kpictl.numbers.periods import Period

    assert elapsed_days(Period("2026-02", date(2026, 2, 1), date(2026, 2, 28)), day) == elapsed


def test_the_example_escalation_numbers() -> None:
    # The figures tests/golden/email/mql.txt prints: about 2,210, 190 (7.9%) short,
    # 1,175 more, about 201 a week (51 of Q4's 92 days elapsed on 20 Nov).
    from kpictl.emails.outbox import load_actuals, load_inputs
    from kpictl.numbers.evaluate import evaluate

    inputs = load_inputs(EXAMPLE, date.fromisoformat(AS_OF))
    actuals = load_actuals(inputs.registry, ACTUALS, inputs.moment.date()).actuals
    mql = next(s for s in evaluate(inputs.registry, actuals, inputs.moment) if s.kpi.id == "mql")
    assert outlook(mql) == Outlook(
        projection=1225 / (51 / 92),
        shortfall=2400 - 1225 / (51 / 92),
        shortfall_pct=(2400 - 1225 / (51 / 92)) / 2400 * 100,
        needed=1175.0,
        needed_per_week=1175 / (41 / 7),
    )


# --- 3. one lineage walk, one way to write a number -----------------------------------

SOURCE = "kind: data_source\nid: {id}\nname: {id}\nsystem: X\nowner: p\nrefresh: daily\n"
PEOPLE = {
    "people.yaml": "kind: person\nid: p\nname: P\nemail: p@x.example\nteam: t\n",
    "teams.yaml": "kind: team\nid: t\nname: T\nfunction: marketing\nlead: p\n",
}


def _sources(tmp_path: Path, upstream: dict[str, list[str]]) -> Path:
    from tests.conftest import write_registry

    docs = [
        SOURCE.format(id=sid) + f"upstream: [{', '.join(ups)}]\n" for sid, ups in upstream.items()
    ]
    return write_registry(tmp_path / "registry", {**PEOPLE, "sources.yaml": "---\n".join(docs)})


def _registry(root: Path) -> Registry:
    from kpictl.registry.registry import load_registry

    return load_registry(root)[0]


def test_walk_is_breadth_first_each_source_once(tmp_path: Path) -> None:
    # d is reached through b and c; e closes a cycle back to a; x names nothing.
    root = _sources(
        tmp_path, {"a": ["b", "c", "x"], "b": ["d"], "c": ["d", "e"], "d": [], "e": ["a"]}
    )
    steps = walk(_registry(root), ["a", "c"])
    assert [(s.source.id, s.depth, s.feeds.id if s.feeds else None) for s in steps] == [
        ("a", 0, None),
        ("c", 0, None),
        ("b", 1, "a"),
        ("d", 1, "c"),
        ("e", 1, "c"),
    ]


def test_walk_of_the_example_kpi() -> None:
    registry = _registry(EXAMPLE)
    kpi = registry.get("mql")
    assert isinstance(kpi, Kpi)
    assert [(s.source.id, s.depth) for s in walk(registry, kpi.sources)] == [
        ("wh-lead-funnel", 0),
        ("hubspot-crm", 1),
        ("salesforce-crm", 1),
    ]


def test_trees_cut_a_cycle_where_it_closes(tmp_path: Path) -> None:
    root = _sources(tmp_path, {"a": ["b", "b"], "b": ["c", "x"], "c": ["a"]})

    def shape(node: Node) -> object:
        mark = "!" if node.cycle else ("?" if node.source is None else "")
        return (node.id + mark, [shape(child) for child in node.upstream])

    assert shape(Trees(_registry(root)).lineage(["a"])[0]) == (
        "a",
        [("b", [("c", [("a!", [])]), ("x?", [])])],
    )


def test_trees_share_a_tree_between_kpis_that_read_it(tmp_path: Path) -> None:
    root = _sources(tmp_path, {"a": ["c"], "b": ["c"], "c": ["d"], "d": []})
    trees = Trees(_registry(root))
    (first,) = trees.lineage(["a"])
    assert trees.lineage(["a", "a"]) == (first,)
    assert trees.lineage(["a"])[0] is first
    # Once b has drawn c's chain, a's tree refers to it: that tree is not the shared one.
    b, a = trees.lineage(["b", "a"])
    assert (b.upstream[0].shown, a.upstream[0].shown, a.upstream[0].upstream) == (False, True, ())


def test_cycles_are_found_once_from_their_smallest_id(tmp_path: Path) -> None:
    root = _sources(tmp_path, {"c": ["d", "a"], "a": ["b"], "b": ["c"], "d": ["d"], "e": ["a"]})
    # Depth first from a: a → b → c → d meets d's loop first, then c → a closes a → b → c.
    assert cycles(_registry(root)) == [Cycle(("d",), 0, 0), Cycle(("a", "b", "c"), 0, 1)]


def test_check_walks_a_ladder_of_diamonds_in_linear_time(tmp_path: Path) -> None:
    # s0 reads a0 and b0, both read s1, and so on: 2^40 paths, 121 sources. L001 used to
    # follow every path from every source.
    from tests.helpers import deadline, findings

    n = 40
    ladder: dict[str, list[str]] = {f"s{n}": []}
    for i in range(n):
        ladder |= {f"s{i}": [f"a{i}", f"b{i}"], f"a{i}": [f"s{i + 1}"], f"b{i}": [f"s{i + 1}"]}
    ladder[f"s{n}"] = ["s0"]  # and s40 → s0 closes 2^40 cycles
    root = _sources(tmp_path, ladder)
    with deadline(20):
        found = findings(root)
    # The walk meets two: through a0 (upstream of a0, line 23) and, back at s0, through
    # b0 (from its smallest id a1, line 47); fixing those shows the next.
    assert found == [("L001", "sources.yaml", 23), ("L001", "sources.yaml", 47)]


@pytest.mark.parametrize(
    ("value", "plain", "grouped"),
    [
        (2400.0, "2400", "2,400"),
        (0.35, "0.35", "0.35"),
        (-1500000.0, "-1500000", "-1,500,000"),
        (1234.5, "1234.5", "1,234.5"),
        (1234567.5, "1.23457e+06", "1.23457e+06"),
        (0.0, "0", "0"),
    ],
)
def test_written_numbers(value: float, plain: str, grouped: str) -> None:
    assert (written(value), written(value, grouped=True)) == (plain, grouped)


def test_the_copies_are_gone() -> None:
    sources = {
        path.relative_to(PACKAGE).as_posix(): path.read_text(encoding="utf-8")
        for path in PACKAGE.rglob("*.py")
    }
    assert [name for name, text in sources.items() if "def format_number" in text] == []
    assert [name for name, text in sources.items() if "queue.pop(0)" in text] == []
    assert [name for name, text in sources.items() if "on_path.index" in text] == []
