"""Every row of the lifecycle table (REGISTRY.md, "Escalation lifecycle") through
`kpictl escalate --send` against a real SMTP server, with exact recipients, subjects,
counts and store contents; the dry run and --out change nothing; the bad inputs."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result, Run
from tests.escalation_fixtures import (
    ANN,
    BOB,
    CAROL,
    DANA,
    Recorder,
    actuals,
    make_registry,
    parse,
    rows,
    smtp,
    text_of,
)
from tests.helpers import kpi_doc
from tests.test_chat import FAST, Hook, webhook

__all__ = ["smtp", "webhook"]  # fixtures, used by name

T1_SUBJECT = "[Tier 1 · respond by Sat 21 Nov 09:00 CET] MQLs 10% behind Q4 target"
STEPS = "SELECT step, channel, tier, recipients, delivered_at FROM escalation_steps ORDER BY rowid"
OPEN = (
    "SELECT kpi, period, open_key, tier, respond_by, deviation_pct, ack_by, closed_at "
    "FROM escalations"
)


def escalate(run: Run, root: Path, csv: str, when: str, *more: str) -> Result:
    return run("escalate", str(root), "-a", csv, "--as-of", when, *more)


def first_run(run: Run, tmp_path: Path, handler: Recorder) -> tuple[Path, str]:
    """Tier 1 fires with nothing open: the registry and the first step's Message-ID."""
    root = make_registry(tmp_path / "r", handler.port)  # type: ignore[attr-defined]
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    result = escalate(run, root, csv, "2026-11-20", "--send")
    assert result.code == 0, result.err
    return root, parse(handler.messages[0][1])["Message-ID"]


def test_new_tier_goes_to_its_notify_list_and_is_remembered(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    result = escalate(run, root, csv, "2026-11-20", "--send")
    assert (result.code, result.err) == (0, "")
    store = f"sqlite:///{root}/.kpictl/store.db"
    assert result.out.splitlines() == [
        f"note: the store {store} holds no escalation history (a new store, or one lost or "
        "replaced since the last run): every tier that fires counts as new, and what earlier "
        "runs delivered is not known",
        "mql  → tier-1        new: tier 1",
        f"sent      mql  {ANN}",
        "Sent 1 of 1 email.",
    ]
    assert len(smtp.messages) == 1
    rcpts, raw = smtp.messages[0]
    assert rcpts == [ANN]
    message = parse(raw)
    assert message["Subject"] == T1_SUBJECT
    assert message["In-Reply-To"] is None
    assert rows(root, OPEN) == [
        ("mql", "2026-Q4", "mql/2026-Q4", 1, "2026-11-21 08:00:00.000000", 10.0, None, None)
    ]
    assert rows(root, STEPS) == [("tier-1", "email", 1, ANN, "2026-11-20 08:00:00.000000")]
    assert rows(root, "SELECT thread_id FROM escalations") == [(message["Message-ID"],)]


def test_same_tier_before_respond_by_sends_nothing(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root, _ = first_run(run, tmp_path, smtp)
    csv = actuals(tmp_path, "b.csv", "mql,2026-Q4,91,2026-11-20\n")
    result = escalate(run, root, csv, "2026-11-20T18:00", "--send")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        "mql  → nothing       unchanged: tier 1 open until Sat 21 Nov 09:00 CET",
        "Sent 0 of 0 emails.",
    ]
    assert len(smtp.messages) == 1
    assert rows(root, "SELECT tier, deviation_pct FROM escalations") == [(1, 9.0)]
    assert len(rows(root, STEPS)) == 1


def test_respond_by_passed_moves_to_the_next_tier_in_the_same_thread(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root, first_id = first_run(run, tmp_path, smtp)
    csv = actuals(tmp_path, "b.csv", "mql,2026-Q4,90,2026-11-21\n")
    result = escalate(run, root, csv, "2026-11-21T10:00", "--send")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[0] == (
        "mql  → tier-2        timed out: tier 1 got no response since Fri 20 Nov 09:00 CET → tier 2"
    )
    assert len(smtp.messages) == 2
    rcpts, raw = smtp.messages[1]
    assert rcpts == [ANN, DANA]
    message = parse(raw)
    assert message["Subject"] == (
        "[Tier 2 · respond by Tue 24 Nov 10:00 CET] MQLs 10% behind Q4 target"
    )
    assert message["In-Reply-To"] == first_id
    assert message["References"] == first_id
    assert (
        "SO FAR\n  - Tier 1 went out on Fri 20 Nov 09:00 CET; no response since then.\n"
        in text_of(message)
    )
    assert rows(root, "SELECT tier, respond_by, thread_id FROM escalations") == [
        (2, "2026-11-24 09:00:00.000000", first_id)
    ]
    assert [row[:4] for row in rows(root, STEPS)] == [
        ("tier-1", "email", 1, ANN),
        ("tier-2", "email", 2, f"{ANN}\n{DANA}"),
    ]
    again = escalate(run, root, csv, "2026-11-21T11:00", "--send")
    assert again.out.splitlines()[-1] == "Sent 0 of 0 emails."
    assert len(smtp.messages) == 2


def test_acknowledged_escalation_does_not_move_up_by_time_only_when_worse(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root, first_id = first_run(run, tmp_path, smtp)
    acked = run(
        "ack", "mql", str(root), "--by", "ann", "--note", "on it", "--at", "2026-11-20T10:00"
    )
    assert (acked.code, acked.err) == (0, "")
    late = actuals(tmp_path, "b.csv", "mql,2026-Q4,90,2026-11-22\n")
    result = escalate(run, root, late, "2026-11-22", "--send")
    assert result.out.splitlines() == [
        "mql  → nothing       tier 1 acknowledged by ann: moves up only when worse",
        "Sent 0 of 0 emails.",
    ]
    assert len(smtp.messages) == 1
    worse = actuals(tmp_path, "c.csv", "mql,2026-Q4,80,2026-11-22\n")
    result = escalate(run, root, worse, "2026-11-22T12:00", "--send")
    assert result.out.splitlines()[0] == "mql  → tier-2        worse: tier 1 → tier 2"
    rcpts, raw = smtp.messages[1]
    assert rcpts == [ANN, DANA]
    message = parse(raw)
    assert message["In-Reply-To"] == first_id
    assert (
        "  - Tier 1 went out on Fri 20 Nov 09:00 CET; acknowledged by Ann Lee on Fri 20 Nov "
        "10:00 CET: on it.\n" in text_of(message)
    )


def test_worse_tier_goes_out_at_once_and_reaches_the_owner(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root, first_id = first_run(run, tmp_path, smtp)
    csv = actuals(tmp_path, "b.csv", "mql,2026-Q4,60,2026-11-20\n")
    result = escalate(run, root, csv, "2026-11-20T12:00", "--send")
    assert result.out.splitlines() == [
        "mql  → tier-3        worse: tier 1 → tier 3",
        f"sent      mql  {CAROL}",
        f"sent      mql  {ANN}",
        "Sent 1 of 1 email.",
    ]
    _, raw = smtp.messages[1]
    message = parse(raw)
    # Tier 3 notifies only the CMO; the KPI's owner is on every step (Cc).
    assert [a.addr_spec for a in message["To"].addresses] == [CAROL]
    assert [a.addr_spec for a in message["Cc"].addresses] == [ANN]
    assert message["Subject"] == (
        "[Tier 3 · respond by Sat 21 Nov 12:00 CET] MQLs 40% behind Q4 target"
    )
    assert message["In-Reply-To"] == first_id
    assert rows(root, "SELECT tier, respond_by, deviation_pct FROM escalations") == [
        (3, "2026-11-21 11:00:00.000000", 40.0)
    ]


def test_outage_while_a_miss_is_open_states_the_last_known_deviation(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root, first_id = first_run(run, tmp_path, smtp)
    stale = actuals(tmp_path, "b.csv", "mql,2026-Q4,90,2026-11-20\n")
    result = escalate(run, root, stale, "2026-11-24", "--send")
    assert result.out.splitlines()[0] == (
        "mql  → outage        data outage while the tier-1 miss is open (last known deviation "
        "10%); the miss stays open"
    )
    rcpts, raw = smtp.messages[1]
    assert rcpts == [ANN, DANA, BOB]  # tier 2's list and the source's owner
    message = parse(raw)
    assert message["Subject"] == (
        "[Tier 2 · respond by Fri 27 Nov 09:00 CET] Data outage: MQLs cannot be trusted "
        "(last value 20 Nov)"
    )
    assert message["In-Reply-To"] == first_id
    # And since when, up to the one value (90 on 20 November): no day after it has one.
    assert (
        "Before the data went away it was 10% behind its target: that miss is still open at "
        "tier 1. It was off track at its last value, on Fri 20 Nov 2026, its only value this "
        "period.\n" in text_of(message)
    )
    assert rows(root, "SELECT tier, deviation_pct, closed_at FROM escalations") == [(1, 10.0, None)]
    assert [row[0] for row in rows(root, STEPS)] == ["tier-1", "outage"]
    again = escalate(run, root, stale, "2026-11-24T12:00", "--send")
    assert again.out.splitlines()[0] == "mql  → nothing       outage already reported; tier 1 open"
    assert len(smtp.messages) == 2


def test_back_on_track_sends_a_resolved_note_to_the_last_tier_and_closes(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root, first_id = first_run(run, tmp_path, smtp)
    csv = actuals(tmp_path, "b.csv", "mql,2026-Q4,99,2026-11-21\n")
    result = escalate(run, root, csv, "2026-11-21", "--send")
    assert result.out.splitlines() == [
        "mql  → resolved      back on track: the tier-1 escalation closes",
        f"sent      mql  {ANN}",
        "Sent 1 of 1 email.",
    ]
    rcpts, raw = smtp.messages[1]
    assert rcpts == [ANN]
    message = parse(raw)
    assert message["Subject"] == "[Resolved] MQLs is back on track for Q4"
    assert message["In-Reply-To"] == first_id
    assert text_of(message).startswith(
        "Hi Ann,\n\nMQLs is back on track for Q4 2026: 99 against 100 expected by now. The "
        "tier 1 escalation opened on Fri 20 Nov 09:00 CET is closed; nothing more is needed.\n"
    )
    assert rows(root, "SELECT open_key, closed_at FROM escalations") == [
        (None, "2026-11-21 08:00:00.000000")
    ]
    assert run("escalations", str(root), "--as-of", "2026-11-21").out == "No escalation is open.\n"
    # Off track again later: a new escalation, a new thread.
    again = actuals(tmp_path, "c.csv", "mql,2026-Q4,90,2026-11-23\n")
    assert escalate(run, root, again, "2026-11-23", "--send").code == 0
    assert len(smtp.messages) == 3
    assert parse(smtp.messages[2][1])["In-Reply-To"] is None
    assert rows(root, "SELECT count(*) FROM escalations") == [(2,)]


def test_dry_run_and_out_show_what_would_go_and_change_nothing(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root, _ = first_run(run, tmp_path, smtp)
    store = root / ".kpictl" / "store.db"
    before = store.read_bytes()
    csv = actuals(tmp_path, "b.csv", "mql,2026-Q4,90,2026-11-21\n")
    result = escalate(run, root, csv, "2026-11-21T10:00")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == (
        "mql  → tier-2        timed out: tier 1 got no response since Fri 20 Nov 09:00 CET → tier 2"
    )
    assert "Escalations for Sat 21 Nov 2026, 10:00 CET: dry run, nothing sent." in lines
    assert "In-Reply-To" not in result.out  # the preview shows the headers people read
    out = tmp_path / "out"
    written = escalate(run, root, csv, "2026-11-21T10:00", "--out", str(out))
    assert written.out == f"Wrote 1 email to {out} (index.md lists them).\n"
    assert parse((out / "mql.eml").read_bytes())["Subject"].startswith("[Tier 2 ")
    assert store.read_bytes() == before
    assert len(smtp.messages) == 1


def test_dry_run_without_a_store_creates_none(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    result = escalate(run, root, csv, "2026-11-20")
    assert result.out.splitlines()[:2] == [
        "note: there is no store yet: no escalation is remembered, so every tier that fires "
        "counts as new (--send creates the store)",
        "mql  → tier-1        new: tier 1",
    ]
    assert not (root / ".kpictl").exists()


# --- bad input ------------------------------------------------------------------------------


def test_read_only_store_is_refused_before_anything_is_sent(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes read-only files")
    root, _ = first_run(run, tmp_path, smtp)
    folder = root / ".kpictl"
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)
    try:
        csv = actuals(tmp_path, "b.csv", "mql,2026-Q4,60,2026-11-20\n")
        result = escalate(run, root, csv, "2026-11-20T12:00", "--send")
    finally:
        folder.chmod(0o755)
    assert result.code == 2
    assert "nothing was sent" in result.err
    assert len(smtp.messages) == 1


def test_a_lost_store_says_history_is_gone_then_acts_as_a_first_run(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root, _ = first_run(run, tmp_path, smtp)
    for path in (root / ".kpictl").iterdir():
        path.unlink()
    csv = actuals(tmp_path, "b.csv", "mql,2026-Q4,90,2026-11-20\n")
    result = escalate(run, root, csv, "2026-11-20T12:00", "--send")
    assert result.code == 0
    assert result.out.splitlines()[0].startswith("note: the store sqlite:///")
    assert "holds no escalation history (a new store, or one lost" in result.out
    assert result.out.splitlines()[1] == "mql  → tier-1        new: tier 1"
    assert len(smtp.messages) == 2


def test_the_clock_going_backwards_is_refused(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root, _ = first_run(run, tmp_path, smtp)
    csv = actuals(tmp_path, "b.csv", "mql,2026-Q4,60,2026-11-19\n")
    result = escalate(run, root, csv, "2026-11-19", "--send")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"kpictl: the store sqlite:///{root}/.kpictl/store.db last escalated at Fri 20 Nov "
        "2026, 09:00 CET, after Thu 19 Nov 2026, 09:00 CET: refusing to run with the clock "
        "going backwards (it would resend or reopen what later runs decided); pass a later "
        "--as-of, or none for now\n"
    )
    assert len(smtp.messages) == 1
    assert rows(root, "SELECT count(*) FROM escalation_runs") == [(1,)]


def dropping_server(accept: int) -> tuple[int, list[bytes]]:
    """An SMTP server that takes `accept` messages, then drops the connection at DATA."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = int(listener.getsockname()[1])
    got: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as stream:
                stream.write(b"220 test\r\n")
                stream.flush()
                while True:
                    line = stream.readline()
                    if not line:
                        break
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        if len(got) >= accept:
                            break  # drop the connection
                        stream.write(b"354 go\r\n")
                        stream.flush()
                        body = b""
                        while (part := stream.readline()) not in (b".\r\n", b""):
                            body += part
                        got.append(body)
                        stream.write(b"250 ok\r\n")
                    elif verb == b"QUIT":
                        stream.write(b"221 bye\r\n")
                        stream.flush()
                        break
                    elif verb in (b"EHLO", b"HELO"):
                        stream.write(b"250 test\r\n")
                    else:
                        stream.write(b"250 ok\r\n")
                    stream.flush()

    threading.Thread(target=serve, daemon=True).start()
    return port, got


def sales_kpi(kpi_id: str, name: str) -> str:
    return "---\n" + kpi_doc(
        kpi_id, name, "Sales-qualified leads.", "count(sql)", escalation="tiers"
    )


def test_a_dropped_connection_records_what_went_and_the_next_run_sends_the_rest(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    from tests.escalation_fixtures import KPI

    kpis = KPI + sales_kpi("sql", "SQLs") + sales_kpi("opp", "Opps")
    port, got = dropping_server(accept=1)
    root = make_registry(tmp_path / "r", port, kpis)
    csv = actuals(
        tmp_path,
        "a.csv",
        "mql,2026-Q4,60,2026-11-20\nsql,2026-Q4,80,2026-11-20\nopp,2026-Q4,90,2026-11-20\n",
    )
    first = escalate(run, root, csv, "2026-11-20", "--send")
    assert first.code == 1
    assert len(got) == 1
    assert first.err.startswith("kpictl: sending stopped: the connection to 127.0.0.1:")
    assert first.err.endswith("; not sent: sql, opp; the next run retries what was not sent\n")
    assert rows(
        root,
        "SELECT e.kpi, s.step FROM escalation_steps s JOIN escalations e ON e.id = s.escalation_id",
    ) == [("mql", "tier-3")]
    # The next run goes to a server that works, and sends only the other two.
    settings = (root / "kpictl.yaml").read_text().replace(str(port), str(smtp.port))  # type: ignore[attr-defined]
    (root / "kpictl.yaml").write_text(settings)
    second = escalate(run, root, csv, "2026-11-20T09:30", "--send")
    assert (second.code, second.err) == (0, "")
    assert second.out.splitlines() == [
        "mql  → nothing       unchanged: tier 3 open until Sat 21 Nov 09:00 CET",
        "sql  → tier-2        new: tier 2 (retried: not delivered before)",
        "opp  → tier-1        new: tier 1 (retried: not delivered before)",
        f"sent      sql  {ANN}",
        f"sent      sql  {DANA}",
        f"sent      opp  {ANN}",
        "Sent 2 of 2 emails.",
    ]
    assert [parse(raw)["Subject"].split("] ")[1] for _, raw in smtp.messages] == [
        "SQLs 20% behind Q4 target",
        "Opps 10% behind Q4 target",
    ]
    third = escalate(run, root, csv, "2026-11-20T10:00", "--send")
    assert third.out.splitlines()[-1] == "Sent 0 of 0 emails."
    assert len(smtp.messages) == 2


def test_sent_log_is_deprecated_for_escalate(run: Run, tmp_path: Path, smtp: Recorder) -> None:
    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    log = tmp_path / "sent.jsonl"
    result = escalate(run, root, csv, "2026-11-20", "--send", "--sent-log", str(log))
    assert result.code == 0
    assert result.err == (
        "kpictl: warning: --sent-log is deprecated for escalate and ignored: the store "
        "remembers every step delivered, so a rerun sends only what did not go out\n"
    )
    assert not log.exists()
    assert len(smtp.messages) == 1


VERSION_2 = """
CREATE TABLE kpictl_store (version INTEGER NOT NULL);
CREATE TABLE observations (
    kpi VARCHAR(63) NOT NULL, period VARCHAR(63) NOT NULL, as_of DATE NOT NULL,
    value FLOAT NOT NULL, source TEXT NOT NULL, recorded_at DATETIME NOT NULL,
    CONSTRAINT observations_key PRIMARY KEY (kpi, period, as_of)
);
CREATE INDEX observations_by_period ON observations (period, kpi, as_of, value);
INSERT INTO kpictl_store VALUES (2);
INSERT INTO observations VALUES ('mql', '2026-Q4', '2026-11-20', 90.0, 'pull',
    '2026-11-20 08:00:00.000000');
"""


def test_a_version_2_store_gains_the_escalation_tables_keeping_its_rows(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    (root / ".kpictl").mkdir()
    connection = sqlite3.connect(root / ".kpictl" / "store.db")
    connection.executescript(VERSION_2)
    connection.commit()
    connection.close()
    # No --actuals: the value comes from the upgraded store.
    result = run("escalate", str(root), "--as-of", "2026-11-20", "--send")
    assert result.code == 0, result.err
    assert result.out.splitlines()[1:] == [
        "mql  → tier-1        new: tier 1",
        f"sent      mql  {ANN}",
        "Sent 1 of 1 email.",
    ]
    assert rows(root, "SELECT version FROM kpictl_store") == [(3,)]
    assert rows(root, "SELECT kpi, period, as_of, value, source FROM observations") == [
        ("mql", "2026-Q4", "2026-11-20", 90.0, "pull")
    ]
    assert rows(root, "SELECT step FROM escalation_steps") == [("tier-1",)]


def test_overrides_of_the_new_wording_are_checked_and_used(
    run: Run, tmp_path: Path, smtp: Recorder
) -> None:
    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    settings = (root / "kpictl.yaml").read_text(encoding="utf-8")
    (root / "kpictl.yaml").write_text(settings + "templates: tpl\n", encoding="utf-8")
    folder = root / "tpl" / "email"
    folder.mkdir(parents=True)
    (folder / "resolved.subject.j2").write_text("Done: {{ kpi.nme }}\n", encoding="utf-8")
    (folder / "escalation.txt.j2").write_text(
        "{% for line in story %}* {{ line }}\n{% endfor %}{{ story | length }}\n", encoding="utf-8"
    )
    result = run("check", str(root), "--select", "M001", "--as-of", "2026-11-20")
    assert result.code == 1
    assert "tpl/email/resolved.subject.j2:1:" in result.out
    assert "escalation.txt.j2" not in result.out
    (folder / "resolved.subject.j2").write_text("Done: {{ kpi.name }}\n", encoding="utf-8")
    assert run("check", str(root), "--select", "M001", "--as-of", "2026-11-20").code == 0
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    assert run("escalate", str(root), "-a", csv, "--as-of", "2026-11-20", "--send").code == 0
    back = actuals(tmp_path, "b.csv", "mql,2026-Q4,100,2026-11-21\n")
    assert run("escalate", str(root), "-a", back, "--as-of", "2026-11-21", "--send").code == 0
    assert text_of(parse(smtp.messages[0][1])) == "0\n"
    assert parse(smtp.messages[1][1])["Subject"] == "Done: MQLs"


def test_chat_posts_are_steps_of_their_own_delivered_once(
    run: Run,
    tmp_path: Path,
    smtp: Recorder,
    webhook: Callable[[list[str]], Hook],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook = webhook(["500"])
    root = make_registry(tmp_path / "r", smtp.port)  # type: ignore[attr-defined]
    settings = root / "kpictl.yaml"
    settings.write_text(
        settings.read_text(encoding="utf-8")
        + 'chat:\n  room: {kind: slack, url: "${ROOM_WEBHOOK}"}\n',
        encoding="utf-8",
    )
    policy = root / "policy.yaml"
    policy.write_text(
        policy.read_text(encoding="utf-8").replace(
            "    approver: $owner\n", "    approver: $owner\n    post_to: [room]\n"
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("ROOM_WEBHOOK", hook.url)
    monkeypatch.setattr("kpictl.emails.chat.DEFAULT_LIMITS", FAST)
    csv = actuals(tmp_path, "a.csv", "mql,2026-Q4,90,2026-11-20\n")
    first = escalate(run, root, csv, "2026-11-20", "--send")
    assert first.code == 1
    assert first.err == "kpictl: mql: chat channel 'room': HTTP 500: boom *** after 3 attempts\n"
    assert (len(smtp.messages), len(hook.requests)) == (1, 3)
    assert [row[:2] for row in rows(root, STEPS)] == [("tier-1", "email")]
    hook.answers = ["200"]
    second = escalate(run, root, csv, "2026-11-20T10:00", "--send")
    assert (second.code, second.err) == (0, "")
    assert second.out.splitlines()[-2:] == [
        "Sent 0 of 0 emails.",
        "Posted mql to room (1 attempt).",
    ]
    assert (len(smtp.messages), len(hook.requests)) == (1, 4)  # no second email
    assert [row[:4] for row in rows(root, STEPS)] == [
        ("tier-1", "email", 1, ANN),
        ("tier-1", "room", 1, "room"),
    ]
    third = escalate(run, root, csv, "2026-11-20T11:00", "--send")
    assert third.out.splitlines()[-1] == "Sent 0 of 0 emails."
    assert (len(smtp.messages), len(hook.requests)) == (1, 4)
