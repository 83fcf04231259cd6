"""An escalation whose period ended: it closes on the next `escalate --send`, and until
then `escalations` says so and `ack` leaves it alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Result, Run
from tests.escalation_fixtures import (
    ANN,
    DANA,
    KPI,
    Recorder,
    actuals,
    kpi_like_mql,
    make_registry,
    parse,
    rows,
    smtp,
)
from tests.pg import PgServer
from tests.test_store_read_only import snapshot

__all__ = ["smtp"]  # a fixture, used by name

Q3_AND_Q4 = KPI.replace(
    "targets: [{period: 2026-Q4, value: 100}]",
    "targets: [{period: 2026-Q3, value: 100}, {period: 2026-Q4, value: 100}]",
)
ESCALATIONS = "SELECT kpi, period, open_key, tier, closed_at FROM escalations ORDER BY id"
STEPS = (
    "SELECT escalation_id, step, channel, tier, recipients, delivered_at FROM escalation_steps "
    "ORDER BY rowid"
)
CLOSES = (
    "mql  → closes        2026-Q3 ended on Wed 30 Sep 2026: its tier-1 escalation closes "
    "unresolved, nobody is notified; the next period counts on its own"
)


def escalate_on(run: Run, root: Path, tmp_path: Path, when: str, row: str, *more: str) -> Result:
    csv_file = actuals(tmp_path, f"{when}.csv", row + "\n")
    return run("escalate", str(root), "-a", csv_file, "--as-of", when, *more)


def q3_escalation_in_store(run: Run, tmp_path: Path, smtp: Recorder) -> Path:
    """Tier 1 opened for 2026-Q3 on 25 September (10% behind), never resolved."""
    root = make_registry(tmp_path / "r", smtp.port, Q3_AND_Q4)  # type: ignore[attr-defined]
    result = escalate_on(run, root, tmp_path, "2026-09-25", "mql,2026-Q3,90,2026-09-25", "--send")
    assert (result.code, result.err) == (0, "")
    assert len(smtp.messages) == 1
    return root


def q3_escalation(run: Run, tmp_path: Path, smtp: Recorder) -> Path:
    """The same in the registry's own SQLite store."""
    root = q3_escalation_in_store(run, tmp_path, smtp)
    assert rows(root, ESCALATIONS) == [("mql", "2026-Q3", "mql/2026-Q3", 1, None)]
    return root


def test_the_dry_run_says_the_ended_period_closes_and_changes_nothing(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    before = snapshot(root / ".kpictl")
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,98,2026-10-05")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[0] == CLOSES
    assert snapshot(root / ".kpictl") == before
    assert len(smtp.messages) == 1


def test_an_ended_period_closes_its_escalation_without_a_message(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    # Q4 is on track (98 of 100): only the Q3 escalation has something to say.
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,98,2026-10-05", "--send")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        CLOSES,
        "closed    mql  2026-Q3 (its period ended)",
        "Sent 0 of 0 emails.",
    ]
    assert len(smtp.messages) == 1  # no resolved note: the KPI never got back on track
    assert rows(root, ESCALATIONS) == [("mql", "2026-Q3", None, 1, "2026-10-05 07:00:00.000000")]
    assert rows(root, STEPS)[1:] == [
        (1, "period-ended", "-", None, None, "2026-10-05 07:00:00.000000")
    ]
    assert run("escalations", str(root), "--as-of", "2026-10-05").out == (
        "No escalation is open.\n"
    )
    # The next run finds nothing open and closes nothing twice.
    again = escalate_on(run, root, tmp_path, "2026-10-06", "mql,2026-Q4,99,2026-10-06", "--send")
    assert again.out.splitlines() == ["Nothing fires and nothing is open.", "Sent 0 of 0 emails."]
    assert len(rows(root, STEPS)) == 2


def test_a_miss_in_the_new_period_opens_a_fresh_escalation(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    # Q4 is 20% behind: tier 2 fires as new, not as a move up from Q3's tier 1.
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,80,2026-10-05", "--send")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        "mql  → tier-2        new: tier 2",
        CLOSES,
        "closed    mql  2026-Q3 (its period ended)",
        f"sent      mql  {ANN}",
        f"sent      mql  {DANA}",
        "Sent 1 of 1 email.",
    ]
    assert len(smtp.messages) == 2
    message = parse(smtp.messages[1][1])
    assert message["Subject"] == (
        "[Tier 2 · respond by Thu 8 Oct 09:00 CEST] MQLs 20% behind Q4 target"
    )
    assert message["In-Reply-To"] is None  # a new thread: Q3's is over
    assert rows(root, ESCALATIONS) == [
        ("mql", "2026-Q3", None, 1, "2026-10-05 07:00:00.000000"),
        ("mql", "2026-Q4", "mql/2026-Q4", 2, None),
    ]


def test_two_runs_closing_one_ended_escalation_close_it_once(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    from datetime import UTC, datetime

    from kpictl.escalation import memory
    from kpictl.numbers.connections import DatabaseUrl
    from kpictl.numbers.store import open_store

    root = q3_escalation(run, tmp_path, smtp)
    at = datetime(2026, 10, 5, 7, tzinfo=UTC)
    url = DatabaseUrl("store", f"sqlite:///{root}/.kpictl/store.db", ())
    with open_store(url) as first, open_store(url) as second:
        # Both read the escalation as open, then both try to close it.
        assert [r.id for r in memory.open_escalations(second).values()] == [1]
        assert memory.close_ended(first, [1], "run-a", at) == {1}
        assert memory.close_ended(second, [1], "run-b", at) == set()
    assert rows(root, "SELECT claimed_by FROM escalation_steps WHERE step = 'period-ended'") == [
        ("run-a",)
    ]


def test_closing_an_ended_escalation_is_once_on_postgresql_too(postgres: PgServer) -> None:
    from datetime import UTC, datetime

    from kpictl.escalation import memory
    from kpictl.numbers.connections import DatabaseUrl
    from kpictl.numbers.store import open_store

    url = DatabaseUrl("store", postgres.url(postgres.create_database()), ())
    opened = datetime(2026, 9, 25, 7, tzinfo=UTC)
    at = datetime(2026, 10, 5, 7, tzinfo=UTC)
    with open_store(url) as first, open_store(url) as second:
        made = memory.open_many(first, [("mql", "2026-Q3", opened, 1, at, 10.0)])
        escalation = made[("mql", "2026-Q3")].id
        assert memory.close_ended(first, [escalation], "run-a", at) == {escalation}
        assert memory.close_ended(second, [escalation], "run-b", at) == set()
        assert memory.open_escalations(second) == {}


# --- until the next run: listed as ending, never overdue, not acknowledged ------------------


def with_q4_open(root: Path) -> None:
    """Open a tier-2 escalation of mql for 2026-Q4 beside the Q3 one, as a run would."""
    from datetime import UTC, datetime

    from kpictl.escalation import memory
    from kpictl.numbers.connections import DatabaseUrl
    from kpictl.numbers.store import open_store

    url = DatabaseUrl("store", f"sqlite:///{root}/.kpictl/store.db", ())
    opened = datetime(2026, 10, 1, 7, tzinfo=UTC)
    due = datetime(2026, 10, 2, 7, tzinfo=UTC)
    with open_store(url) as store:
        memory.open_many(store, [("mql", "2026-Q4", opened, 2, due, 20.0)])


def test_escalations_says_an_ended_period_closes_on_the_next_send_and_is_never_overdue(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    # Past its respond-by and unacknowledged, yet not overdue: nobody is asked anything.
    result = run("escalations", str(root), "--as-of", "2026-10-05")
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        "KPI  Period   Tier  Since                  Respond by                                  "
        "      Acknowledged\n"
        "---  -------  ----  ---------------------  ------------------------------------------"
        "------  ------------\n"
        "mql  2026-Q3     1  Fri 25 Sep 09:00 CEST  period ended: closes on the next escalate "
        "--send  no\n"
        "\n"
        "1 open escalation, 0 overdue, 1 for a period that ended.\n"
    )


def test_escalations_lists_the_live_period_first_and_json_marks_the_ended_one(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    import json

    root = q3_escalation(run, tmp_path, smtp)
    with_q4_open(root)
    text = run("escalations", str(root), "--as-of", "2026-10-05")
    assert text.out.splitlines()[2:] == [
        "mql  2026-Q4     2  Thu 1 Oct 09:00 CEST   Fri 2 Oct 09:00 CEST (overdue)                "
        "    no",
        "mql  2026-Q3     1  Fri 25 Sep 09:00 CEST  period ended: closes on the next escalate "
        "--send  no",
        "",
        "2 open escalations, 1 overdue, 1 for a period that ended.",
    ]
    data = json.loads(run("escalations", str(root), "--as-of", "2026-10-05", "-f", "json").out)
    assert [(r["period"], r["overdue"], r["ending"]) for r in data] == [
        ("2026-Q4", True, None),
        ("2026-Q3", False, "period-ended"),
    ]


def test_ack_refuses_an_escalation_whose_period_ended(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    result = run("ack", "mql", str(root), "--by", "ann", "--at", "2026-10-05")
    assert (result.code, result.out, result.err) == (
        1,
        "",
        "kpictl: no escalation of mql is open for the current period: its 2026-Q3 escalation "
        "belongs to a period that ended and closes on the next `kpictl escalate --send`; there "
        "is nothing to acknowledge\n",
    )
    assert rows(root, "SELECT period, ack_by, ack_at FROM escalations") == [("2026-Q3", None, None)]
    # On the period's last day it is still current, and ack takes it on.
    last_day = run("ack", "mql", str(root), "--by", "ann", "--at", "2026-09-30")
    assert (last_day.code, last_day.err) == (0, "")
    assert rows(root, "SELECT period, ack_by FROM escalations") == [("2026-Q3", "ann")]


def test_ack_takes_on_the_current_period_and_leaves_the_ended_one(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = q3_escalation(run, tmp_path, smtp)
    with_q4_open(root)
    result = run("ack", "mql", str(root), "--by", "ann", "--at", "2026-10-05")
    assert (result.code, result.err) == (0, "")
    assert result.out == "Acknowledged: mql 2026-Q4, tier 2, by ann on Mon 5 Oct 09:00 CEST.\n"
    assert rows(root, "SELECT period, ack_by FROM escalations ORDER BY id") == [
        ("2026-Q3", None),
        ("2026-Q4", "ann"),
    ]


def test_the_plan_says_when_nobody_ever_heard_of_the_miss(run: Run, tmp_path: Path) -> None:
    from tests.test_smtp import free_port

    # No SMTP server listens: tier 1 opens for Q3 but is never delivered.
    root = make_registry(tmp_path / "r", free_port(), Q3_AND_Q4)
    failed = escalate_on(run, root, tmp_path, "2026-09-25", "mql,2026-Q3,90,2026-09-25", "--send")
    assert failed.code == 1
    assert rows(root, "SELECT count(*) FROM escalation_steps") == [(0,)]
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,98,2026-10-05")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[0] == (
        "mql  → closes        2026-Q3 ended on Wed 30 Sep 2026: its tier-1 escalation closes "
        "unresolved, nobody is notified; no tier of it was ever delivered, so nobody heard of "
        "this miss; the next period counts on its own"
    )


# --- closing never overwrites another close; its failure is reported as what it is ----------


def test_closing_an_ended_period_leaves_a_close_made_in_between_as_it_is(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    from datetime import UTC, datetime

    from kpictl.escalation import memory
    from kpictl.numbers.connections import DatabaseUrl
    from kpictl.numbers.store import open_store

    root = q3_escalation(run, tmp_path, smtp)
    url = DatabaseUrl("store", f"sqlite:///{root}/.kpictl/store.db", ())
    resolved_at = datetime(2026, 9, 29, 7, tzinfo=UTC)
    with open_store(url) as store:
        assert [r.id for r in memory.open_escalations(store).values()] == [1]
        # Another path closes it after this run read it as open: its resolved note went.
        assert memory.claim(store, 1, "resolved", "email", "run-a", resolved_at)
        memory.delivered(
            store,
            "run-a",
            memory.Delivered(1, "resolved", "email", 1, (ANN,), "<r@x>", resolved_at, close=True),
        )
        assert (
            memory.close_ended(store, [1], "run-b", datetime(2026, 10, 5, 7, tzinfo=UTC)) == set()
        )
    assert rows(root, ESCALATIONS) == [("mql", "2026-Q3", None, 1, "2026-09-29 07:00:00.000000")]
    assert rows(root, "SELECT step, claimed_by FROM escalation_steps ORDER BY rowid")[1:] == [
        ("resolved", "run-a")
    ]


# A role that may read and record but not make one kind of write, as a full disk or a
# revoked grant would refuse it: the store's shape stays kpictl's own (a trigger would
# make it a store kpictl did not make).
LIMITED = """
CREATE ROLE {role} LOGIN PASSWORD 'limited-pw';
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
GRANT TEMPORARY ON DATABASE "{database}" TO {role};
"""


def q3_escalation_on_postgresql(
    run: Run, tmp_path: Path, smtp: Recorder, postgres: PgServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str, str]:
    """q3_escalation in a PostgreSQL store; the registry, the database and a role for it."""
    database = postgres.create_database()
    monkeypatch.setenv("KPICTL_STORE", postgres.url(database))
    root = q3_escalation_in_store(run, tmp_path, smtp)
    role = f"limited_{database}"
    with postgres.connect(database) as connection:
        for statement in LIMITED.format(role=role, database=database).strip().split(";\n"):
            connection.execute(statement.rstrip(";"))
    return root, database, role


def as_role(postgres: PgServer, database: str, role: str) -> str:
    return postgres.url(database).replace(
        f"{postgres.user}:{postgres.password}@", f"{role}:limited-pw@"
    )


def test_a_failed_close_says_nothing_was_sent_and_nothing_closed(
    run: Run, tmp_path: Path, smtp: Recorder, postgres: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, database, role = q3_escalation_on_postgresql(run, tmp_path, smtp, postgres, monkeypatch)
    with postgres.connect(database) as connection:
        connection.execute(f"REVOKE UPDATE ON escalations FROM {role}")
    monkeypatch.setenv("KPICTL_STORE", as_role(postgres, database, role))
    # Q4 is 20% behind: tier 2 would go out, but the run stops before sending anything.
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,80,2026-10-05", "--send")
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("kpictl: could not close the escalations whose periods ended: ")
    assert "permission denied for table escalations" in result.err
    assert result.err.endswith("; nothing was sent and nothing closed, the next run tries again\n")
    assert "limited-pw" not in result.err
    assert len(smtp.messages) == 1
    with postgres.connect(database) as connection:
        assert connection.execute("SELECT closed_at FROM escalations").fetchall() == [(None,)]
        assert connection.execute("SELECT count(*) FROM escalation_steps").fetchall() == [(1,)]


def test_a_failed_claim_says_nothing_was_sent(
    run: Run, tmp_path: Path, smtp: Recorder, postgres: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, database, role = q3_escalation_on_postgresql(run, tmp_path, smtp, postgres, monkeypatch)
    with postgres.connect(database) as connection:
        # Every step may be recorded but tier 2's: its claim is refused, as a full disk would.
        connection.execute("ALTER TABLE escalation_steps ENABLE ROW LEVEL SECURITY")
        connection.execute(
            f"CREATE POLICY seen ON escalation_steps FOR SELECT TO {role} USING (true)"
        )
        connection.execute(
            f"CREATE POLICY changed ON escalation_steps FOR UPDATE TO {role} USING (true)"
        )
        connection.execute(
            f"CREATE POLICY claimed ON escalation_steps FOR INSERT TO {role} "
            "WITH CHECK (step <> 'tier-2')"
        )
    monkeypatch.setenv("KPICTL_STORE", as_role(postgres, database, role))
    result = escalate_on(run, root, tmp_path, "2026-10-05", "mql,2026-Q4,80,2026-10-05", "--send")
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("kpictl: cannot use the store postgresql+psycopg://")
    assert "row-level security policy" in result.err
    assert result.err.endswith("; nothing was sent, the next run tries again\n")
    assert len(smtp.messages) == 1
    with postgres.connect(database) as connection:
        steps = connection.execute("SELECT step FROM escalation_steps ORDER BY step")
        assert steps.fetchall() == [("period-ended",), ("tier-1",)]


# --- one helper says whether a store remembers escalations ---------------------------------


def test_one_helper_says_whether_a_store_holds_escalations(tmp_path: Path) -> None:
    from kpictl.escalation import memory
    from kpictl.numbers import store_schema
    from kpictl.numbers.connections import DatabaseUrl
    from kpictl.numbers.store import open_store
    from tests.test_store_read_only import older_store

    # Derived from the steps: the version made by the step that creates the tables.
    assert store_schema.ESCALATIONS_SINCE == 3
    assert store_schema.since(store_schema._create_escalations) == 3
    root = older_store(tmp_path, 2)
    url = DatabaseUrl("store", f"sqlite:///{root}/.kpictl/store.db", ())
    with open_store(url, read_only=True) as store:
        assert (store.version, memory.remembers(store)) == (2, False)
        assert (memory.open_escalations(store), memory.last_run(store)) == ({}, None)
    with open_store(url) as store:  # a writer upgrades it
        assert (store.version, memory.remembers(store)) == (3, True)


# --- a KPI that left the registry ----------------------------------------------------------

MQL_AND_SQL = KPI + "---\n" + kpi_like_mql("sql", "SQLs")


def test_an_escalation_whose_kpi_left_the_registry_closes_on_the_next_send(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = make_registry(tmp_path / "r", smtp.port, MQL_AND_SQL)  # type: ignore[attr-defined]
    opened = escalate_on(
        run,
        root,
        tmp_path,
        "2026-11-20",
        "mql,2026-Q4,50,2026-11-20\nsql,2026-Q4,100,2026-11-20",
        "--send",
    )
    assert (opened.code, opened.err) == (0, "")
    assert rows(root, ESCALATIONS) == [("mql", "2026-Q4", "mql/2026-Q4", 3, None)]
    sent = len(smtp.messages)
    (root / "kpis.yaml").write_text(kpi_like_mql("sql", "SQLs"), encoding="utf-8")

    ledger = run("escalations", str(root), "--as-of", "2026-11-21")
    assert ledger.out.splitlines()[2:] == [
        "mql  2026-Q4     3  Fri 20 Nov 09:00 CET  KPI left the registry: closes on the next "
        "escalate --send  no",
        "",
        "1 open escalation, 0 overdue, 1 whose KPI left the registry.",
    ]
    data = json.loads(run("escalations", str(root), "--as-of", "2026-11-21", "-f", "json").out)
    assert [(r["kpi"], r["overdue"], r["ending"]) for r in data] == [("mql", False, "kpi-removed")]

    result = escalate_on(run, root, tmp_path, "2026-11-21", "sql,2026-Q4,100,2026-11-21", "--send")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        "mql  → closes        mql is no longer in the registry: its tier-3 escalation for 2026-Q4 "
        "closes unresolved, nobody is notified",
        "closed    mql  2026-Q4 (its KPI left the registry)",
        "Sent 0 of 0 emails.",
    ]
    assert len(smtp.messages) == sent
    assert rows(root, ESCALATIONS) == [("mql", "2026-Q4", None, 3, "2026-11-21 08:00:00.000000")]
    assert rows(root, STEPS)[-1][1:3] == ("kpi-removed", "-")
    assert run("escalations", str(root), "--as-of", "2026-11-21").out == "No escalation is open.\n"


def test_a_kpi_broken_by_a_typo_keeps_its_escalation_open(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = make_registry(tmp_path / "r", smtp.port, MQL_AND_SQL)  # type: ignore[attr-defined]
    escalate_on(
        run,
        root,
        tmp_path,
        "2026-11-20",
        "mql,2026-Q4,50,2026-11-20\nsql,2026-Q4,100,2026-11-20",
        "--send",
    )
    broken = KPI.replace("direction: ", "direction: sideways # was ") + "---\n"
    (root / "kpis.yaml").write_text(broken + kpi_like_mql("sql", "SQLs"), encoding="utf-8")

    result = escalate_on(run, root, tmp_path, "2026-11-21", "sql,2026-Q4,100,2026-11-21", "--send")
    assert result.code == 0
    assert "closes" not in result.out
    assert rows(root, ESCALATIONS) == [("mql", "2026-Q4", "mql/2026-Q4", 3, None)]
