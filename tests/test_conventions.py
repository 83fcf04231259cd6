"""One convention for the user (issue 11): every command finds the registry, names its
outputs and treats an unknown id the same way."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kpictl.cli import COMMAND_MODULES
from tests.conftest import AS_OF, EXAMPLE, ROOT
from tests.gitrepo import Repo, git_env, requires_git  # noqa: F401 - git_env is a fixture
from tests.helpers import BASE, Run, write_registry

ACTUALS = str(EXAMPLE / "actuals" / "2026-11-20.csv")
USING = "kpictl: using registry at registry/\n"


def _repo(tmp_path: Path, *registries: str) -> Repo:
    """A repository with a registry in each of `registries` and one target change."""
    repo = Repo.init(tmp_path / "repo")
    for folder in registries:
        write_registry(repo.path / folder, BASE)
    repo.commit("Add the registry")
    for folder in registries:
        repo.replace(f"{folder}/kpi.yaml", "    value: 100\n", "    value: 110\n")
    repo.commit("Raise the Q4 MQL target")
    return repo


# --- 1. the registry is found the same way by every command ---------------------------------


@requires_git
@pytest.mark.usefixtures("git_env")
@pytest.mark.parametrize(
    "args",
    [
        ("check", "--as-of", AS_OF),
        ("map", "--format", "json"),
        ("who", "ann", "--format", "json"),
        ("drill", "mql", "--deviation", "10"),
        ("diff", "HEAD~1", "HEAD"),
        ("changelog", "mql"),
        ("codeowners", "--check"),
    ],
)
def test_commands_at_the_top_of_a_repository_find_the_tracked_registry(
    tmp_path: Path, run: Run, args: tuple[str, ...]
) -> None:
    repo = _repo(tmp_path, "registry")
    result = run(*args, cwd=repo.path)
    assert result.err.startswith(USING), result.err
    assert "no registry found" not in result.err
    assert result.code in (0, 1)  # codeowners --check: out of date, which is fine here


@requires_git
@pytest.mark.usefixtures("git_env")
def test_the_tracked_registry_is_the_same_as_naming_it(tmp_path: Path, run: Run) -> None:
    repo = _repo(tmp_path, "registry")
    found = run("check", "--as-of", AS_OF, "--format", "json", cwd=repo.path)
    named = run("check", "registry", "--as-of", AS_OF, "--format", "json", cwd=repo.path)
    assert (found.code, found.out, found.err) == (named.code, named.out, USING + named.err)


@requires_git
@pytest.mark.usefixtures("git_env")
def test_several_tracked_registries_are_listed(tmp_path: Path, run: Run) -> None:
    repo = _repo(tmp_path, "emea", "us")
    # A kpictl.yaml under a hidden folder (a fixture for a workflow) does not count.
    write_registry(repo.path / ".github" / "fixture", {})
    repo.commit("A hidden fixture")
    result = run("check", "--as-of", AS_OF, cwd=repo.path)
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        "kpictl: no kpictl.yaml in the current folder or above it, and this git repository "
        "tracks several below it (emea/, us/): pass the registry folder\n"
    )


@requires_git
@pytest.mark.usefixtures("git_env")
def test_an_untracked_registry_is_not_guessed(tmp_path: Path, run: Run) -> None:
    repo = Repo.init(tmp_path / "repo")
    write_registry(repo.path / "registry", BASE)
    result = run("check", "--as-of", AS_OF, cwd=repo.path)
    assert result.code == 2
    assert result.err.startswith("kpictl: no registry found: neither the current folder nor")


@requires_git
@pytest.mark.usefixtures("git_env")
@pytest.mark.parametrize(
    ("args", "refs"),
    [
        (("HEAD~1", "HEAD", "registry"), ("HEAD~1", "HEAD")),
        (("HEAD~1", "HEAD", "--registry", "registry"), ("HEAD~1", "HEAD")),
        (("HEAD~1", "HEAD", "registry/kpi.yaml"), ("HEAD~1", "HEAD")),
        (("HEAD~1", "registry"), ("HEAD~1",)),  # against the working tree
        (("--", "HEAD~1", "registry"), ("HEAD~1",)),
    ],
)
def test_diff_takes_the_registry_as_its_last_argument(
    tmp_path: Path, run: Run, args: tuple[str, ...], refs: tuple[str, ...]
) -> None:
    repo = _repo(tmp_path, "registry")
    expected = run("diff", *refs, "--registry", "registry", "-f", "json", cwd=repo.path)
    result = run("diff", "-f", "json", *args, cwd=repo.path)
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out == expected.out
    assert '"+10.0%"' in result.out


@requires_git
@pytest.mark.usefixtures("git_env")
def test_diff_with_only_a_path_compares_the_default_base(tmp_path: Path, run: Run) -> None:
    repo = _repo(tmp_path, "registry")
    repo.git("checkout", "-q", "-b", "topic")
    repo.replace("registry/kpi.yaml", "    value: 110\n", "    value: 120\n")
    result = run("diff", "registry", "-f", "json", cwd=repo.path)
    expected = run("diff", "--registry", "registry", "-f", "json", cwd=repo.path)
    assert result.code == 0, result.err
    assert result.out == expected.out
    assert "120" in result.out


@requires_git
@pytest.mark.usefixtures("git_env")
def test_changelog_takes_the_registry_as_path(tmp_path: Path, run: Run) -> None:
    repo = _repo(tmp_path, "registry")
    result = run("changelog", "mql", "registry", "-f", "json", cwd=repo.path)
    legacy = run("changelog", "mql", "--registry", "registry", "-f", "json", cwd=repo.path)
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out == legacy.out
    assert "Raise the Q4 MQL target" in result.out
    both = run("changelog", "mql", "registry", "--registry", "registry", cwd=repo.path)
    assert both.code == 2
    assert "give the registry once: as PATH, or with the older --registry" in both.err


@pytest.mark.parametrize("command", ["diff", "changelog"])
def test_registry_option_is_hidden(run: Run, command: str) -> None:
    result = run(command, "--help")
    assert result.code == 0
    assert "--registry" not in result.out
    assert "[PATH]" in result.out.splitlines()[0]


# --- 3. unknown ids exit 2 everywhere ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("who", "aisha-okafr", str(EXAMPLE)),
            "kpictl: no person or team has the id 'aisha-okafr'; did you mean 'aisha-okafor'?\n",
        ),
        (
            ("drill", "mq1", str(EXAMPLE), "--deviation", "10"),
            "kpictl: no KPI has the id 'mq1'; did you mean 'mql'?\n",
        ),
        (
            ("drill", "standard", str(EXAMPLE), "--outage"),
            "kpictl: 'standard' is an escalation_policy, not a KPI\n",
        ),
        (
            ("kickoff", "q4-legacy-bi-displacment", str(EXAMPLE), "--as-of", AS_OF),
            "kpictl: no campaign 'q4-legacy-bi-displacment' (did you mean "
            "'q4-legacy-bi-displacement'?); campaigns: data-leaders-webinars-2026, "
            "q1-2027-analytics-plus-upsell, q4-legacy-bi-displacement\n",
        ),
        (
            ("readout", "mql", str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF),
            "kpictl: 'mql' is a kpi, not a campaign\n",
        ),
        (
            ("recap", "data-leaders-webinar", str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF),
            "kpictl: no campaign 'data-leaders-webinar' (did you mean "
            "'data-leaders-webinars-2026'?); campaigns: data-leaders-webinars-2026, "
            "q1-2027-analytics-plus-upsell, q4-legacy-bi-displacement\n",
        ),
    ],
)
def test_unknown_ids_exit_2(run: Run, args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert (result.code, result.out, result.err) == (2, "", message)


def test_unknown_id_in_map_exits_2(run: Run) -> None:
    result = run("map", str(EXAMPLE), "--kpi", "mq1")
    assert result.code == 2
    assert result.out == ""
    assert "did you mean 'mql'?" in result.err


@requires_git
@pytest.mark.usefixtures("git_env")
def test_unknown_id_in_changelog_exits_2(tmp_path: Path, run: Run) -> None:
    repo = _repo(tmp_path, "registry")
    result = run("changelog", "nope", "registry", cwd=repo.path)
    assert result.code == 2
    assert result.err == (
        "kpictl: no KPI 'nope' in the history of registry: check the id (`kpictl map` lists them)\n"
    )


@pytest.mark.parametrize("command", ["kickoff", "readout", "recap"])
def test_campaign_command_without_the_id_says_it_is_missing(
    tmp_path: Path, run: Run, command: str
) -> None:
    # `kpictl recap registry -a today.csv`, from a folder outside any registry: the
    # registry folder landed where the campaign id goes.
    result = run(command, str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF, cwd=tmp_path)
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        f"kpictl: missing argument CAMPAIGN: '{EXAMPLE}' is a file or folder, not a campaign "
        f"id; usage: kpictl {command} CAMPAIGN [PATH]\n"
    )


def test_recap_without_the_id_inside_the_registry(run: Run) -> None:
    result = run("recap", ".", "-a", ACTUALS, "--as-of", AS_OF, cwd=EXAMPLE)
    assert result.code == 2
    assert result.err == (
        "kpictl: missing argument CAMPAIGN: '.' is a file or folder, not a campaign "
        "id; usage: kpictl recap CAMPAIGN [PATH]\n"
    )


# --- 2. -o/--output is one file, --out DIR is a folder -----------------------------------

COMMANDS = [name for names in COMMAND_MODULES.values() for name in names]


@pytest.mark.parametrize("command", COMMANDS)
def test_output_options_mean_the_same_in_every_command(run: Run, command: str) -> None:
    result = run(command, "--help")
    assert result.code == 0
    options = result.out.split("\nOptions:\n", 1)[1]
    for line in options.splitlines():
        words = line.split()
        if "-o," in words:
            assert words[:3] == ["-o,", "--output", "FILE"], line
        if words[:1] == ["--out"]:
            assert words[1] == "DIR", line
        assert words[:1] != ["--output"], line  # always with its short form


CALENDAR = ("calendar", str(EXAMPLE), "--from", "2026-11-20", "--to", "2026-12-31")


@pytest.mark.parametrize("option", ["-o", "--output", "--out"])
def test_calendar_writes_one_file_with_output(tmp_path: Path, run: Run, option: str) -> None:
    out = tmp_path / "cadence.ics"
    result = run(*CALENDAR, option, str(out))
    assert result.code == 0, result.err
    assert result.out == f"Wrote 12 events (2026-11-20 to 2026-12-31) to {out}.\n"
    assert out.read_bytes().decode("utf-8") == run(*CALENDAR).out


def test_calendar_output_given_twice_is_refused(tmp_path: Path, run: Run) -> None:
    result = run(*CALENDAR, "-o", str(tmp_path / "a.ics"), "--out", str(tmp_path / "b.ics"))
    assert result.code == 2
    assert "give --output once (not also as --out)" in result.err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("option", ["--out", "-o"])
def test_schema_writes_a_folder_with_out(tmp_path: Path, run: Run, option: str) -> None:
    result = run("schema", option, str(tmp_path / "schema"))
    assert result.code == 0, result.err
    assert result.out == f"Wrote 10 schemas to {tmp_path / 'schema'}.\n"
    assert (tmp_path / "schema" / "kpi.schema.json").is_file()


# --- 5. shell completion, at no cost to `check` ---------------------------------------------


def test_show_completion_prints_a_script(run: Run) -> None:
    result = run("--show-completion", "bash")
    assert result.code == 0
    assert result.out.startswith("_kpictl_completion() {\n")
    assert "_KPICTL_COMPLETE=complete_bash" in result.out
    assert "complete -o default -F _kpictl_completion kpictl" in result.out


def test_group_help_lists_the_completion_options(run: Run) -> None:
    result = run("--help")
    assert "  --install-completion  Install completion for the current shell.\n" in result.out
    assert "  --show-completion " in result.out
    # A command's own help does not (the options belong to `kpictl` itself).
    assert "--install-completion" not in run("check", "--help").out


def _subprocess(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        check=False,
        timeout=120,
    )


def test_the_shell_gets_candidates() -> None:
    run_main = "from kpictl.__main__ import main; raise SystemExit(main([]))"
    env = {"_KPICTL_COMPLETE": "complete_bash", "COMP_WORDS": "kpictl calendar --o"}
    result = _subprocess(run_main, {**env, "COMP_CWORD": "2"})
    assert (result.returncode, result.stdout) == (0, "--output\n")
    result = _subprocess(run_main, {**env, "COMP_WORDS": "kpictl ch", "COMP_CWORD": "1"})
    assert (result.returncode, result.stdout) == (0, "check\nchangelog\n")


def _modules(importtime: str) -> set[str]:
    lines = [line for line in importtime.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines[1:]}


def test_check_imports_nothing_for_completion() -> None:
    check = "from kpictl.__main__ import main; raise SystemExit(main(['check', 'registry/']))"
    without = (
        "import kpictl.cli as cli; cli._wants_completion = lambda args, group: False; " + check
    )
    wired, plain = _subprocess(check), _subprocess(without)
    assert wired.returncode == plain.returncode == 0, wired.stderr[-2000:]
    assert wired.stdout == plain.stdout
    assert _modules(wired.stderr) == _modules(plain.stderr)
    assert "kpictl.views" not in _modules(wired.stderr)  # the guard sees real imports


# --- 4. status fits an 80-column terminal ---------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STATUS = ("status", str(EXAMPLE), "-a", ACTUALS, "--as-of", AS_OF)


def _on_a_terminal(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("LINES", "50")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)


def test_status_on_an_80_column_terminal(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    _on_a_terminal(monkeypatch, 80)
    result = run(*STATUS)
    assert result.code == 0, result.err
    lines = [line.rstrip() for line in ANSI.sub("", result.out).splitlines()]
    assert max(len(line) for line in lines) <= 80
    assert lines[:6] == [
        "KPI status for Northwind Analytics, Fri 20 Nov 2026, 09:00 CET",
        "KPI                     As of    Deviation     State                Owner",
        "─" * 80,
        "expansion-pipeline      20 Nov   36% behind    tier 3 · Executive   Noah Fischer",
        "                                               escalation",
        "branded-search-clicks   14 Nov                 data outage (tier    Lucia",
    ]
    assert lines[-3:] == [
        # One value per KPI: no trend or change to show, only since when it is behind.
        "Not shown at this width: Period, Target, To date, Actual, Behind since, Respond",
        "by (widen the terminal, or use --format markdown or json).",
        "11 KPIs: 7 on track, 3 escalated, 1 in a data outage, 0 without a target.",
    ]


def test_status_on_a_wide_terminal_shows_every_column(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _on_a_terminal(monkeypatch, 250)
    lines = ANSI.sub("", run(*STATUS).out).splitlines()
    headers = ["KPI", "Period", "Target", "To date", "Actual", "As of", "Deviation", "State"]
    assert [h for h in [*headers, "Owner", "Respond by"] if h not in lines[1]] == []
    assert "Not shown" not in "\n".join(lines)
    assert lines[-1] == "11 KPIs: 7 on track, 3 escalated, 1 in a data outage, 0 without a target."


def test_status_piped_is_the_whole_text_table(run: Run) -> None:
    # Not a terminal: the template's table, every column, for scripts and goldens.
    result = run(*STATUS)
    assert result.out.splitlines()[2].split()[:3] == ["KPI", "Period", "Target"]
    assert max(len(line) for line in result.out.splitlines()) > 80


@pytest.mark.parametrize("width", [40, 80, 100])
def test_status_table_never_passes_the_console_width(width: int) -> None:
    from rich.console import Console

    from kpictl.views.scorecard_terminal import print_status

    text = {
        "target": "EUR 2,200,000,000",
        "target_to_date": "EUR 1,219,565,000",
        "actual": "EUR 785,000,000",
        "as_of": "20 Nov",
        "deviation": "36% behind",
        "state": "tier 3 · " + "Executive escalation " * 8,
        "owner": "Maximiliane Wolkenstein-Oberhausen",
        "respond_by": "Sat 21 Nov 09:00 CET",
    }
    rows = [{"kpi": "k" * 63, "period": "2026-Q4", "text": text}] * 3
    buffer = io.StringIO()
    console = Console(width=width, file=buffer, highlight=False, color_system=None)
    print_status(rows, "KPI status, Fri 20 Nov 2026, 09:00 CET", "3 KPIs", console)
    lines = buffer.getvalue().splitlines()
    assert lines and max(len(line) for line in lines) <= width
    assert "k" * 20 in buffer.getvalue()


# --- 6. `kpictl new kpi` asks for the current target and the currency ----------------------

NEW_KPI = [
    "name=Bookings",
    "description=New annual contract value signed in the period.",
    "formula=sum(acv where signed_date in period)",
    "unit=currency",
    "direction=increase",
    "stage=conversion",
    "indicator=lagging",
    "audience=business",
    "owners.primary=victor-almeida",
    "owners.backup=omar-haddad",
    "sources=wh-pipeline",
    "cadence.refresh=daily",
    "cadence.review=monthly",
    "escalation=standard",
]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _current_quarter(root: Path) -> str:
    from kpictl.check.check import registry_today
    from kpictl.numbers.periods import fiscal_quarter
    from kpictl.registry.registry import load_registry

    registry, _ = load_registry(root)
    return fiscal_quarter(registry_today(registry), registry.settings.fiscal_year_start_month)


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "registry"
    shutil.copytree(EXAMPLE, root)
    return root


def _fields(pairs: list[str]) -> list[str]:
    return [arg for pair in pairs for arg in ("--field", pair)]


def test_new_kpi_asks_for_the_current_target_and_the_currency(
    run: Run, example_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quarter = _current_quarter(example_copy)
    # Enter takes the current quarter; a bad value and a bad code are asked again.
    monkeypatch.setattr("sys.stdin", _Terminal("\nlots\n500000\neur\nEUR\n"))
    result = run("new", "kpi", "bookings", str(example_copy), *_fields(NEW_KPI), cwd=example_copy)
    assert result.code == 0, result.err
    assert result.out == (
        f"targets.0.period (YYYY-Qn, YYYY-MM or YYYY) [{quarter}]: "
        "targets.0.value (number): targets.0.value (number): "
        "currency (ISO 4217, e.g. EUR): currency (ISO 4217, e.g. EUR): "
        "Created kpis/bookings.yaml.\n"
    )
    assert result.err == (
        "  targets.0.value: 'lots' is not a number\n"
        "  currency: 'eur' is not an ISO 4217 currency code: three capital "
        "letters, such as EUR or USD\n"
    )
    text = (example_copy / "kpis" / "bookings.yaml").read_text(encoding="utf-8")
    assert "unit: currency\ncurrency: EUR\ndirection: increase\n" in text
    assert f"targets:\n  - period: {quarter}\n    value: 500000\n" in text
    check = run("check", str(example_copy), "--select", "T001,S001", cwd=example_copy)
    assert (check.code, check.out.splitlines()[-1]) == (0, "No findings in 31 files.")


def test_new_kpi_does_not_ask_again_for_what_is_given(
    run: Run, example_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _Terminal(""))
    quarter = _current_quarter(example_copy)
    given = [*NEW_KPI, f"targets.0.period={quarter}", "targets.0.value=9", "currency=USD"]
    result = run("new", "kpi", "bookings", str(example_copy), *_fields(given), cwd=example_copy)
    assert (result.code, result.out) == (0, "Created kpis/bookings.yaml.\n")


def test_new_kpi_without_a_terminal_asks_nothing(run: Run, example_copy: Path) -> None:
    # Scripts keep working: the target and currency stay optional, as the format says.
    result = run("new", "kpi", "bookings", str(example_copy), *_fields(NEW_KPI), cwd=example_copy)
    assert result.code == 0, result.err
    assert result.out.startswith("Created kpis/bookings.yaml.\n")
    assert " T001 [warning] " in result.out


def test_currency_is_an_iso_code_and_shows_in_amounts(run: Run, example_copy: Path) -> None:
    kpi = example_copy / "kpis" / "pipeline-sourced.yaml"
    text = kpi.read_text(encoding="utf-8")
    kpi.write_text(text.replace("unit: currency\n", "unit: currency\ncurrency: usd\n"), "utf-8")
    result = run("check", str(example_copy), "--select", "S001", "--as-of", AS_OF)
    assert result.code == 1
    assert "S001 [error] currency: 'usd' is not an ISO 4217 currency code" in result.out
    kpi.write_text(text.replace("unit: currency\n", "unit: currency\ncurrency: USD\n"), "utf-8")
    status = run("status", str(example_copy), "-a", ACTUALS, "--as-of", AS_OF, "-f", "csv")
    assert status.code == 0, status.err
    shown = run("status", str(example_copy), "-a", ACTUALS, "--as-of", AS_OF)
    row = next(line for line in shown.out.splitlines() if line.startswith("pipeline-sourced"))
    assert "USD 6,000,000" in row  # the field wins over labels.currency (EUR)
