"""kpictl escalate --send against a real SMTP server on 127.0.0.1 (aiosmtpd, in a thread)."""

from __future__ import annotations

import email.policy
import socket
import threading
from collections.abc import Callable, Iterator
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AS_OF, EXAMPLE, Result, Run

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402

ACTUALS = str(EXAMPLE / "actuals" / "2026-11-20.csv")


class Recorder:
    """Accepts everything, or refuses what `refuse` says (a recipient or the message)."""

    def __init__(
        self, refuse_rcpt: str | None = None, refuse_data_after: int | None = None
    ) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse_rcpt = refuse_rcpt
        self.refuse_data_after = refuse_data_after

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == self.refuse_rcpt:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data_after is not None and len(self.messages) >= self.refuse_data_after:
            return "554 5.6.0 message refused by policy"
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Callable[[Recorder], int]]:
    started: list[Controller] = []

    def start(handler: Recorder) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def registry_with_smtp(tmp_path: Path, port: int, extra: str = "starttls: false") -> Path:
    import shutil

    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    settings = (root / "kpictl.yaml").read_text(encoding="utf-8")
    settings = settings.replace(
        "    host: smtp.northwind.example\n    port: 587\n    starttls: true\n"
        "    username: kpi-desk\n",
        f"    host: 127.0.0.1\n    port: {port}\n    timeout: 2\n    {extra}\n",
    )
    (root / "kpictl.yaml").write_text(settings, encoding="utf-8")
    return root


def send(run: Run, root: Path) -> Result:
    return run("escalate", str(root), "--actuals", ACTUALS, "--as-of", AS_OF, "--send")


def test_send_delivers_every_escalation(
    run: Run, tmp_path: Path, smtp_server: Callable[[Recorder], int]
) -> None:
    handler = Recorder()
    root = registry_with_smtp(tmp_path, smtp_server(handler))
    result = send(run, root)
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out.splitlines()[-1] == "Sent 4 of 4 emails."
    assert "sent      mql  aisha.okafor@northwind.example" in result.out
    assert len(handler.messages) == 4
    rcpts, raw = next(m for m in handler.messages if b"Marketing Qualified Leads" in m[1])
    assert rcpts == ["aisha.okafor@northwind.example", "sofia.lindqvist@northwind.example"]
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert message["Subject"] == (
        "[Tier 1 · respond by Sat 21 Nov 09:00 CET] Marketing Qualified Leads 7.9% behind Q4 "
        "target to date"
    )
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and "THE PROBLEM" in text.get_content()
    assert html is not None and "<h2" in html.get_content()


def test_refused_recipient_stops_and_reports(
    run: Run, tmp_path: Path, smtp_server: Callable[[Recorder], int]
) -> None:
    # The second email (branded-search-clicks) goes to Tom, whom the server refuses.
    handler = Recorder(refuse_rcpt="tom.brennan@northwind.example")
    root = registry_with_smtp(tmp_path, smtp_server(handler))
    result = send(run, root)
    assert result.code == 1
    lines = result.out.splitlines()
    assert "sent      expansion-pipeline  aisha.okafor@northwind.example" in lines
    assert (
        "refused   branded-search-clicks  tom.brennan@northwind.example  "
        "(550 5.1.1 no such mailbox)"
    ) in lines
    assert "sent      branded-search-clicks  lucia.ferraro@northwind.example" in lines
    assert "not sent  sales-cycle-length  victor.almeida@northwind.example" in lines
    assert "not sent  mql  aisha.okafor@northwind.example" in lines
    assert lines[-1] == "Sent 1 of 4 emails."
    assert result.err == (
        "kpictl: sending stopped: the server refused some recipients of 'branded-search-clicks'; "
        "not sent: sales-cycle-length, mql; partly sent: branded-search-clicks; the next run "
        "retries what was not sent\n"
    )
    assert len(handler.messages) == 2  # nothing after the failure


def test_refused_message_sends_nothing_further(
    run: Run, tmp_path: Path, smtp_server: Callable[[Recorder], int]
) -> None:
    handler = Recorder(refuse_data_after=1)
    root = registry_with_smtp(tmp_path, smtp_server(handler))
    result = send(run, root)
    assert result.code == 1
    assert result.out.splitlines()[-1] == "Sent 1 of 4 emails."
    assert "not sent  branded-search-clicks  lucia.ferraro@northwind.example" in result.out
    assert "the server refused 'branded-search-clicks': 554 5.6.0 message refused by policy" in (
        result.err
    )
    assert len(handler.messages) == 1


def raw_server(behaviour: str) -> tuple[int, threading.Event]:
    """A socket server that greets and hangs up, or never answers at all."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        if behaviour == "drop":
            conn.sendall(b"220 hello\r\n")
            conn.recv(1024)  # EHLO
            conn.close()
        else:
            done.wait(10)
            conn.close()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1]), done


def test_dropped_connection_is_a_clear_error(run: Run, tmp_path: Path) -> None:
    port, _ = raw_server("drop")
    result = send(run, registry_with_smtp(tmp_path, port))
    assert result.code == 1
    assert (
        f"kpictl: sending stopped: the SMTP server at 127.0.0.1:{port} closed the connection "
        "before any email was sent"
    ) in result.err
    assert result.out.splitlines()[-1] == "Sent 0 of 4 emails."
    assert "sent   " not in result.out


def test_silent_server_times_out(run: Run, tmp_path: Path) -> None:
    port, done = raw_server("silent")
    root = registry_with_smtp(tmp_path, port, "starttls: false\n    timeout: 0.5")
    settings = (root / "kpictl.yaml").read_text(encoding="utf-8").replace("    timeout: 2\n", "")
    (root / "kpictl.yaml").write_text(settings, encoding="utf-8")
    result = send(run, root)
    done.set()
    assert result.code == 1
    assert f"the SMTP server at 127.0.0.1:{port} did not answer within 0.5 s" in result.err
    # Every recipient of every email: 15, the tier 3 email Cc'ing the KPI's owner.
    assert result.out.count("not sent") == 15


def test_connection_refused(run: Run, tmp_path: Path) -> None:
    port = free_port()  # nobody listens there
    result = send(run, registry_with_smtp(tmp_path, port))
    assert result.code == 1
    assert f"cannot connect to the SMTP server at 127.0.0.1:{port}" in result.err


def test_starttls_is_required_when_set(
    run: Run, tmp_path: Path, smtp_server: Callable[[Recorder], int]
) -> None:
    handler = Recorder()
    root = registry_with_smtp(tmp_path, smtp_server(handler), "starttls: true")
    result = send(run, root)
    assert result.code == 1
    assert "does not offer STARTTLS" in result.err
    assert handler.messages == []


def test_password_comes_from_the_environment(
    run: Run,
    tmp_path: Path,
    smtp_server: Callable[[Recorder], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = Recorder()
    root = registry_with_smtp(tmp_path, smtp_server(handler), "starttls: true\n    username: desk")
    monkeypatch.delenv("KPICTL_SMTP_PASSWORD", raising=False)
    result = send(run, root)
    assert result.code == 2
    assert "KPICTL_SMTP_PASSWORD is not set" in result.err
    assert handler.messages == []


def test_kickoff_can_be_sent(
    run: Run, tmp_path: Path, smtp_server: Callable[[Recorder], int]
) -> None:
    handler = Recorder()
    root = registry_with_smtp(tmp_path, smtp_server(handler))
    result = run("kickoff", "q4-legacy-bi-displacement", str(root), "--as-of", AS_OF, "--send")
    assert result.code == 0, result.err
    assert len(handler.messages) == 1
    rcpts = handler.messages[0][0]
    assert "elena.vogt@northwind.example" in rcpts  # informed: leadership means its lead
