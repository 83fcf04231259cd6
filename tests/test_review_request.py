"""`kpictl review-request CAMPAIGN` (issue 14, item 5; seed 003): before the approver
signs, the approver and contributors review the charter's KPIs and targets.

To: the DACI approver and contributors (teams mean their leads); Cc: the driver, who gets
the replies. Only drafts: any other status is refused with exit 1 and the email to send
instead. Delivery is the one email flow (--out, --send, --sent-log), tested here against
a real SMTP server (aiosmtpd on 127.0.0.1).
"""

from __future__ import annotations

import email.policy
from collections.abc import Callable
from email.parser import BytesParser
from pathlib import Path

import pytest

from tests.conftest import AS_OF, EXAMPLE, Run, assert_golden
from tests.test_emails import check_message, parts, read_eml, readable

DRAFT = "q1-2027-analytics-plus-upsell"


def test_review_request_of_the_example_draft(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("review-request", DRAFT, str(EXAMPLE), "--as-of", AS_OF, "--out", str(out))
    assert (result.code, result.err) == (0, "")
    assert result.out == f"Wrote 1 email to {out} (index.md lists them).\n"
    message = read_eml(out / f"{DRAFT}-review-request.eml")
    check_message(message)
    # The approver and the contributors (Grace Liu named directly and as the lead of
    # customer-success: once), the driver in Cc; the informed are not asked yet.
    assert message["To"] == (
        "Jonas Keller <jonas.keller@northwind.example>, Grace Liu <grace.liu@northwind.example>, "
        "Sofia Lindqvist <sofia.lindqvist@northwind.example>"
    )
    assert message["Cc"] == "Noah Fischer <noah.fischer@northwind.example>"
    assert message["Reply-To"] == "Noah Fischer <noah.fischer@northwind.example>"
    assert message["Subject"] == (
        "Please review before sign-off: Q1 2027 Analytics Plus upsell "
        "(Mon 11 Jan 2027 to Wed 31 Mar 2027)"
    )
    assert_golden(f"email/{DRAFT}-review-request.txt", readable(message))
    assert_golden(f"email/{DRAFT}-review-request.html", parts(message)[1])


def test_dry_run_prints_the_email(run: Run) -> None:
    result = run("review-request", DRAFT, str(EXAMPLE), "--as-of", AS_OF)
    assert (result.code, result.err) == (0, "")
    lines = result.out.splitlines()
    assert lines[0] == f"Review request for {DRAFT}: dry run, nothing sent."
    assert "THE KPIS AND TARGETS TO AGREE ON" in lines
    assert "  Primary:   Expansion pipeline: EUR 900,000 from this campaign" in lines


@pytest.mark.parametrize(
    ("campaign", "message"),
    [
        (
            "q4-legacy-bi-displacement",
            "kpictl: 'q4-legacy-bi-displacement' is active, not a draft: a review request asks "
            "for agreement before sign-off; send a readout (kpictl readout "
            "q4-legacy-bi-displacement)\n",
        ),
        (
            "data-leaders-webinars-2026",
            "kpictl: 'data-leaders-webinars-2026' is complete, not a draft: a review request "
            "asks for agreement before sign-off; send the recap (kpictl recap "
            "data-leaders-webinars-2026)\n",
        ),
    ],
)
def test_only_drafts_are_sent_for_review(run: Run, campaign: str, message: str) -> None:
    result = run("review-request", campaign, str(EXAMPLE), "--as-of", AS_OF)
    assert (result.code, result.out, result.err) == (1, "", message)


@pytest.mark.parametrize(
    ("args", "code", "err"),
    [
        (
            ["q1-2027-analytics-plus-upsel"],
            2,
            "kpictl: no campaign 'q1-2027-analytics-plus-upsel' (did you mean "
            "'q1-2027-analytics-plus-upsell'?); campaigns: data-leaders-webinars-2026, "
            "q1-2027-analytics-plus-upsell, q4-legacy-bi-displacement\n",
        ),
        (["mql"], 2, "kpictl: 'mql' is a kpi, not a campaign\n"),
    ],
)
def test_unknown_campaign_is_exit_2(run: Run, args: list[str], code: int, err: str) -> None:
    result = run("review-request", *args, str(EXAMPLE), "--as-of", AS_OF)
    assert (result.code, result.err) == (code, err)


def test_registry_given_as_the_campaign_says_what_is_missing(run: Run, tmp_path: Path) -> None:
    result = run("review-request", str(EXAMPLE), cwd=tmp_path)
    assert result.code == 2
    assert result.err == (
        f"kpictl: missing argument CAMPAIGN: '{EXAMPLE}' is a file or folder, not a campaign "
        "id; usage: kpictl review-request CAMPAIGN [PATH]\n"
    )


def test_warns_when_the_start_has_passed(run: Run) -> None:
    result = run("review-request", DRAFT, str(EXAMPLE), "--as-of", "2027-01-13")
    assert result.code == 0
    assert result.err == (
        "kpictl: warning: 'q1-2027-analytics-plus-upsell' started on 2027-01-11, 2 days ago: "
        "this review request goes out after work started; send it before timeline.start "
        "next time\n"
    )
    assert (
        "(The charter says work starts on Mon 11 Jan 2027, which has come; the sooner we "
        "agree, the better.)"
    ) in result.out.splitlines()


aiosmtpd = pytest.importorskip("aiosmtpd")

from tests.test_smtp import Recorder, registry_with_smtp, smtp_server  # noqa: E402,F401


def test_send_through_a_real_smtp_server(
    run: Run,
    tmp_path: Path,
    smtp_server: Callable[[Recorder], int],  # noqa: F811
) -> None:
    handler = Recorder()
    root = registry_with_smtp(tmp_path, smtp_server(handler))
    log = tmp_path / "sent.jsonl"
    args = ("review-request", DRAFT, str(root), "--as-of", AS_OF, "--send", "--sent-log", str(log))
    result = run(*args)
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        f"sent      {DRAFT}-review-request  jonas.keller@northwind.example",
        f"sent      {DRAFT}-review-request  grace.liu@northwind.example",
        f"sent      {DRAFT}-review-request  sofia.lindqvist@northwind.example",
        f"sent      {DRAFT}-review-request  noah.fischer@northwind.example",
        "Sent 1 of 1 email.",
    ]
    ((rcpts, raw),) = handler.messages
    assert rcpts == [
        "jonas.keller@northwind.example",
        "grace.liu@northwind.example",
        "sofia.lindqvist@northwind.example",
        "noah.fischer@northwind.example",
    ]
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert message["Subject"] == (
        "Please review before sign-off: Q1 2027 Analytics Plus upsell "
        "(Mon 11 Jan 2027 to Wed 31 Mar 2027)"
    )
    text = message.get_body(("plain",))
    assert text is not None
    golden = (Path(__file__).parent / "golden" / "email" / f"{DRAFT}-review-request.txt").read_text(
        encoding="utf-8"
    )
    # On the wire every line ends in CRLF; the golden file holds the same lines.
    assert text.get_content().replace("\r\n", "\n") == golden.split("\n\n", 1)[1]
    # The sent log makes a rerun the same day send nothing twice.
    again = run(*args)
    assert again.code == 0
    assert (
        again.out.splitlines()[-1]
        == "Sent 0 of 1 email; 1 sent before, as " + str(log) + " records."
    )
    assert len(handler.messages) == 1
