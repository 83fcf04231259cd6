"""Chat channels: Slack and Teams payloads, and posting them to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kpictl.emails.chat import (
    ChatMessage,
    ChatResult,
    Limits,
    post,
    post_all,
    retry_after,
    webhook_url,
)
from kpictl.emails.outbox import escalations, load_actuals, load_inputs
from kpictl.numbers.connections import ConnectError
from kpictl.registry.registry import load_registry
from tests.conftest import AS_OF, EXAMPLE, Run, assert_golden
from tests.test_smtp import Recorder, registry_with_smtp, smtp_server  # noqa: F401

ACTUALS = str(EXAMPLE / "actuals" / "2026-11-20.csv")
SECRET = "T000/B000/XXXXsecretTOKENxxxx"
CHAT = """\
chat:
  revops-room: {kind: slack, url: "${SLACK_REVOPS_WEBHOOK}"}
  exec-room: {kind: teams, url: "${TEAMS_EXEC_WEBHOOK}"}
links:
  map: https://kpi.northwind.example/map.html
"""
FAST = Limits(connect=1, read=0.5, attempts=3, backoff=0.01, max_wait=2, per_post=10, per_run=20)


def chat_registry(tmp_path: Path, root: Path | None = None) -> Path:
    """The example registry, its tier 3 posting to both channels and tier 1 to Slack."""
    if root is None:
        root = tmp_path / "registry"
        shutil.copytree(EXAMPLE, root)
    settings = root / "kpictl.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + CHAT, encoding="utf-8")
    critical = root / "policies" / "revenue-critical.yaml"
    text = critical.read_text(encoding="utf-8").replace(
        "    approver: marcus-webb\n",
        "    approver: marcus-webb\n    post_to: [exec-room, revops-room]\n",
    )
    critical.write_text(text, encoding="utf-8")
    standard = root / "policies" / "standard.yaml"
    text = standard.read_text(encoding="utf-8").replace(
        "    approver: $owner\n", "    approver: $owner\n    post_to: revops-room\n", 1
    )
    standard.write_text(text, encoding="utf-8")
    return root


# --- a webhook on 127.0.0.1 ----------------------------------------------------------------


class Hook:
    """What the server answers, one entry per request (the last one repeats), and what it got."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/{SECRET}"


@pytest.fixture
def webhook() -> Iterator[Callable[[list[str]], Hook]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answers: list[str]) -> Hook:
        hook = Hook(answers)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append((self.path, dict(self.headers), body))
                answer = hook.answers[min(len(hook.requests), len(hook.answers)) - 1]
                if answer == "slow":
                    time.sleep(1.5)
                    answer = "200"
                status = int(answer)
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                reply = {200: b"ok", 429: b"rate limited", 500: b"boom " + SECRET.encode()}
                data = reply.get(status, b"invalid_payload")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        hook.port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return hook

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent() -> Iterator[int]:
    """A socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held: list[socket.socket] = []
    done = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    done.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def messages(root: Path) -> list[ChatMessage]:
    """The chat messages `kpictl escalate` builds for the registry at `root`."""
    inputs = load_inputs(root, datetime(2026, 11, 20, 9, 0))
    loaded = load_actuals(inputs.registry, ACTUALS, inputs.moment.date())
    return escalations(inputs, loaded.actuals).chats


PAYLOAD = {"text": "hello", "blocks": []}


# --- payloads -----------------------------------------------------------------------------


def test_payloads_match_golden_files(tmp_path: Path, run: Run) -> None:
    root = chat_registry(tmp_path)
    out = tmp_path / "outbox"
    result = run("escalate", str(root), "--actuals", ACTUALS, "--as-of", AS_OF, "--out", str(out))
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == f"Wrote 3 chat messages to {out} (KPI.CHANNEL.json)."
    names = sorted(path.name for path in out.glob("*.json"))
    assert names == [
        "expansion-pipeline.exec-room.json",
        "expansion-pipeline.revops-room.json",
        "mql.revops-room.json",
    ]
    for name in names:
        assert_golden(f"chat/{name}", (out / name).read_text(encoding="utf-8"))


def test_dry_run_shows_the_payloads_and_posts_nothing(tmp_path: Path, run: Run) -> None:
    root = chat_registry(tmp_path)
    result = run("escalate", str(root), "--actuals", ACTUALS, "--as-of", AS_OF)
    assert result.code == 0, result.err
    assert "\nChat: 3 messages would be posted (dry run, nothing posted).\n" in result.out
    assert "\n--- expansion-pipeline to exec-room (teams) ---\n" in result.out
    assert "\n--- mql to revops-room (slack) ---\n" in result.out


def test_slack_message_shape(tmp_path: Path) -> None:
    slack = next(m for m in messages(chat_registry(tmp_path)) if m.kpi == "mql")
    blocks = slack.payload["blocks"]
    assert [block["type"] for block in blocks] == [
        "header",
        "section",
        "section",
        "actions",
        "context",
    ]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": "Escalation: Marketing Qualified Leads at level 1",
    }
    assert [field["text"] for field in blocks[1]["fields"]] == [
        "KPI: Marketing Qualified Leads (mql)",
        "Tier: Level 1 · Owner review",
        "Deviation: 7.9% behind the target to date (1,225 against 1,330)",
        "Respond by: Sat 21 Nov 2026, 09:00 CET",
        "Owner: Aisha Okafor",
        "Period: Q4 2026",
    ]
    assert blocks[3]["elements"][0]["url"] == "https://kpi.northwind.example/map.html"


def test_registry_text_cannot_mention_or_link(tmp_path: Path) -> None:
    root = chat_registry(tmp_path)
    kpi = root / "kpis" / "expansion-pipeline.yaml"
    kpi.write_text(
        kpi.read_text(encoding="utf-8").replace(
            "name: Expansion pipeline",
            'name: "<!channel> *MQL* [x](https://evil.example) <https://evil.example|y> & 1"',
        ),
        encoding="utf-8",
    )
    chats = messages(root)
    slack = next(m for m in chats if m.channel == "revops-room").payload
    # mrkdwn text is escaped; the rest is plain_text, which Slack never formats.
    assert slack["text"].startswith(
        "Escalation: &lt;!channel&gt; *MQL* [x](https://evil.example) "
        "&lt;https://evil.example|y&gt; &amp; 1 at level 3. "
    )
    assert slack["blocks"][0]["text"]["type"] == "plain_text"
    assert all(field["type"] == "plain_text" for field in slack["blocks"][1]["fields"])
    assert json.dumps(slack).count("https://kpi.northwind.example/map.html") == 1
    teams = next(m for m in chats if m.channel == "exec-room").payload
    assert teams["attachments"][0]["content"]["body"][0]["text"] == (
        "Escalation: \\<!channel\\> \\*MQL\\* \\[x\\](https://evil.example) "
        "\\<https://evil.example|y\\> & 1 at level 3"
    )


def test_teams_envelope(tmp_path: Path) -> None:
    teams = next(m for m in messages(chat_registry(tmp_path)) if m.channel == "exec-room").payload
    assert teams["type"] == "message"
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open the accountability map",
            "url": "https://kpi.northwind.example/map.html",
        }
    ]


# adaptivecards 2.x is CommonJS (3.x's ESM build does not load in Node 20's require).
NODE_PARSE = """
const AC = require("adaptivecards");
const errors = [];
for (const json of JSON.parse(require("fs").readFileSync(0, "utf8"))) {
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  card.parse(json, context);
  const found = [];
  for (let i = 0; i < context.eventCount; i++) found.push(context.getEventAt(i).message);
  for (const event of card.validateProperties().validationEvents) found.push(event.message);
  errors.push({found, items: card.getItemCount(), actions: card.getActionCount(),
               version: card.version.toString()});
}
console.log(JSON.stringify(errors));
"""
BROKEN_CARD = {
    "type": "AdaptiveCard",
    "version": "1.4",
    "body": [{"type": "TextBlock", "text": "x", "size": "Huge"}, {"type": "Bogus"}],
}


def test_adaptive_card_parses_with_the_adaptivecards_package(tmp_path: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to parse the card with the adaptivecards package")
    folder = tmp_path / "node"
    folder.mkdir()
    installed = subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", "adaptivecards@2"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if installed.returncode != 0:
        pytest.skip(f"npm could not install adaptivecards: {installed.stderr.strip()[:200]}")
    teams = next(m for m in messages(chat_registry(tmp_path)) if m.channel == "exec-room").payload
    card = teams["attachments"][0]["content"]
    parsed = subprocess.run(
        [node, "-e", NODE_PARSE],
        cwd=folder,
        input=json.dumps([card, BROKEN_CARD]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert parsed.returncode == 0, parsed.stderr
    assert json.loads(parsed.stdout) == [
        {"found": [], "items": 4, "actions": 1, "version": "1.4"},
        # The same parser does see what is wrong in a card.
        {
            "found": [
                'Invalid value "Huge" for property "size".',
                'Unknown element type "Bogus". Fallback will be used if present.',
            ],
            "items": 1,
            "actions": 0,
            "version": "1.4",
        },
    ]


# --- posting ------------------------------------------------------------------------------


def test_200(webhook: Callable[[list[str]], Hook]) -> None:
    hook = webhook(["200"])
    result = post("revops-room", hook.url, PAYLOAD, FAST)
    assert result == ChatResult("revops-room", True, 200, 1)
    ((path, headers, body),) = hook.requests
    assert path == f"/services/{SECRET}"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == PAYLOAD


def test_429_then_200_honours_retry_after(webhook: Callable[[list[str]], Hook]) -> None:
    hook = webhook(["429", "200"])
    waits: list[float] = []
    result = post("revops-room", hook.url, PAYLOAD, FAST, sleep=waits.append)
    assert result == ChatResult("revops-room", True, 200, 2)
    assert waits == [1.0]  # Retry-After: 1, over the 0.01 s backoff
    assert [json.loads(body) for _, _, body in hook.requests] == [PAYLOAD, PAYLOAD]


def test_500_always_gives_up_after_the_attempts(webhook: Callable[[list[str]], Hook]) -> None:
    hook = webhook(["500"])
    waits: list[float] = []
    result = post("revops-room", hook.url, PAYLOAD, FAST, sleep=waits.append)
    assert result == ChatResult(
        "revops-room",
        False,
        500,
        3,
        "chat channel 'revops-room': HTTP 500: boom *** after 3 attempts",
    )
    assert waits == [0.01, 0.02]  # exponential backoff
    assert len(hook.requests) == 3


def test_400_is_not_retried(webhook: Callable[[list[str]], Hook]) -> None:
    hook = webhook(["400"])
    result = post("revops-room", hook.url, PAYLOAD, FAST)
    assert result == ChatResult(
        "revops-room",
        False,
        400,
        1,
        "chat channel 'revops-room': HTTP 400: invalid_payload after 1 attempt",
    )


def test_slow_answer_is_a_read_timeout_and_not_posted_twice(
    webhook: Callable[[list[str]], Hook],
) -> None:
    hook = webhook(["slow"])
    result = post("revops-room", hook.url, PAYLOAD, FAST)
    assert result == ChatResult(
        "revops-room",
        False,
        None,
        1,
        "chat channel 'revops-room': no answer in time (read timeout; the message may have "
        "been posted) after 1 attempt",
    )
    assert len(hook.requests) == 1


def test_server_that_never_answers(silent: int) -> None:
    url = f"http://127.0.0.1:{silent}/services/{SECRET}"
    result = post("revops-room", url, PAYLOAD, FAST)
    assert (result.ok, result.status, result.attempts) == (False, None, 1)
    assert result.error is not None and "read timeout" in result.error
    assert SECRET not in result.error


def test_nobody_listening_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    waits: list[float] = []
    result = post(
        "revops-room", f"http://127.0.0.1:{port}/{SECRET}", PAYLOAD, FAST, sleep=waits.append
    )
    assert result == ChatResult(
        "revops-room",
        False,
        None,
        3,
        "chat channel 'revops-room': could not reach the service (ConnectError) after 3 attempts",
    )


def test_the_post_budget_bounds_the_retries(webhook: Callable[[list[str]], Hook]) -> None:
    hook = webhook(["429"])
    limits = Limits(connect=1, read=1, attempts=10, backoff=0.01, max_wait=30, per_post=0.5)
    result = post("revops-room", hook.url, PAYLOAD, limits)
    # Retry-After: 1 does not fit in a 0.5 s budget: one attempt, no sleep.
    assert (result.ok, result.status, result.attempts) == (False, 429, 1)
    assert len(hook.requests) == 1


def test_the_run_budget_stops_every_post(webhook: Callable[[list[str]], Hook]) -> None:
    hook = webhook(["200"])
    result = post("revops-room", hook.url, PAYLOAD, FAST, deadline=time.monotonic() - 1)
    assert result == ChatResult(
        "revops-room", False, None, 0, "chat channel 'revops-room': out of time after 0 attempts"
    )
    assert hook.requests == []


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1", 1.0),
        ("120", 120.0),
        ("Tue, 01 Dec 2026 09:00:30 GMT", 30.0),
        ("Tue, 01 Dec 2026 08:59:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert retry_after(header, now) == seconds


def test_retry_after_is_capped(webhook: Callable[[list[str]], Hook]) -> None:
    hook = webhook(["429", "200"])
    waits: list[float] = []
    limits = Limits(connect=1, read=1, attempts=3, backoff=0.01, max_wait=0.25, per_post=10)
    result = post("revops-room", hook.url, PAYLOAD, limits, sleep=waits.append)
    assert (result.ok, waits) == (True, [0.25])


def test_unset_webhook_variable_names_it(tmp_path: Path) -> None:
    root = chat_registry(tmp_path)
    registry, _ = load_registry(root)
    with pytest.raises(ConnectError) as info:
        webhook_url(registry.settings, "revops-room", registry.root, {})
    assert str(info.value) == (
        "chat channel 'revops-room' needs the environment variable SLACK_REVOPS_WEBHOOK, which "
        "is not set: set it (a CI secret, or `export SLACK_REVOPS_WEBHOOK=...` in your shell)"
    )
    chats = messages(root)
    results = post_all(
        registry, chats, registry.root, {"TEAMS_EXEC_WEBHOOK": "http://127.0.0.1:9/x"}, FAST
    )
    assert [(r.channel, r.attempts) for r in results] == [
        ("exec-room", 3),
        ("revops-room", 0),
        ("revops-room", 0),
    ]
    assert results[1].error == str(info.value)


def test_send_posts_and_never_prints_the_url(
    run: Run,
    tmp_path: Path,
    webhook: Callable[[list[str]], Hook],
    smtp_server: Callable[[Recorder], int],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack, teams = webhook(["200"]), webhook(["500"])
    root = chat_registry(tmp_path, registry_with_smtp(tmp_path, smtp_server(Recorder())))
    monkeypatch.setenv("SLACK_REVOPS_WEBHOOK", slack.url)
    monkeypatch.setenv("TEAMS_EXEC_WEBHOOK", teams.url)
    monkeypatch.setattr("kpictl.emails.chat.DEFAULT_LIMITS", FAST)
    result = run("escalate", str(root), "--actuals", ACTUALS, "--as-of", AS_OF, "--send")
    assert result.code == 1
    assert "Posted expansion-pipeline to revops-room (1 attempt).\n" in result.out
    assert "Posted mql to revops-room (1 attempt).\n" in result.out
    assert result.err == (
        "kpictl: expansion-pipeline: chat channel 'exec-room': HTTP 500: boom *** "
        "after 3 attempts\n"
    )
    assert len(slack.requests) == 2 and len(teams.requests) == 3
    for output in (result.out, result.err):
        assert SECRET not in output and str(slack.port) not in output


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("https://kpi.example/map.html", True),
        ("HTTP://kpi.example/", True),
        ("javascript:alert(1)", False),
        ("file:///etc/passwd", False),
        ("https://", False),
        ("kpi.example/map.html", False),
    ],
)
def test_links_map_takes_http_urls_only(tmp_path: Path, value: str, ok: bool) -> None:
    from tests.helpers import findings, make, messages

    make(tmp_path, settings=f'version: 1\nlinks:\n  map: "{value}"\n')
    if ok:
        assert findings(tmp_path) == []
    else:
        assert findings(tmp_path) == [("S001", "kpictl.yaml", 3)]
        assert messages(tmp_path, "S001") == ["links.map: must be an http:// or https:// URL"]
