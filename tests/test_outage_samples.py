"""`kpictl check` renders an outage template override with an outage that has a history:
values that stopped, then today without one (`history.missing_today`)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from tests.conftest import AS_OF, EXAMPLE, Run


def test_the_outage_sample_has_values_that_stopped_and_today_without_one() -> None:
    from kpictl.check.check import check
    from kpictl.emails.samples import sample_contexts

    samples = sample_contexts(check(EXAMPLE).registry, date.fromisoformat(AS_OF))
    values = samples["email/outage.txt.j2"]
    assert values["outage"]["stale"] is True
    history = values["history"]
    assert [(p["day"], p["value"], p["miss"]) for p in history["points"]] == [
        ("10 Nov", "3,800", True),
        ("17 Nov", "3,800", True),
    ]
    assert history["missing_today"] == {"day": "20 Nov", "expected": "21,065", "expected_pct": 100}
    assert (history["behind_since"], history["last_day"], history["behind_days_to_last"]) == (
        "Tue 10 Nov 2026",
        "Tue 17 Nov 2026",
        7,
    )
    # The HTML part sees the same history.
    assert samples["email/outage.html.j2"]["history"] == history


def test_check_flags_an_outage_override_that_breaks_only_on_the_missing_day(
    run: Run, tmp_path: Path
) -> None:
    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".kpictl"))
    with (root / "kpictl.yaml").open("a", encoding="utf-8") as settings:
        settings.write("templates: overrides/\n")
    override = root / "overrides" / "email" / "outage.txt.j2"
    override.parent.mkdir(parents=True)
    override.write_text(
        "{% if history and history.missing_today %}\n"
        "{{ history.missing_today.day }}: {{ history.missing_today.expected }}\n"
        "{% endif %}\n",
        encoding="utf-8",
    )
    result = run("check", str(root), "--as-of", AS_OF, "--select", "M001", cwd=tmp_path)
    assert (result.code, result.out) == (0, "No findings in 30 files.\n")
    override.write_text(
        "{% if history and history.missing_today %}\n"
        "{{ history.missing_today.nope.x }}\n"
        "{% endif %}\n",
        encoding="utf-8",
    )
    result = run("check", str(root), "--as-of", AS_OF, "--select", "M001", cwd=tmp_path)
    assert result.code == 1
    assert result.out.splitlines()[0] == (
        "registry/overrides/email/outage.txt.j2:2:1: M001 [error] email/outage.txt.j2 fails "
        "with sample data: UndefinedError: 'dict object' has no attribute 'nope'"
    )
