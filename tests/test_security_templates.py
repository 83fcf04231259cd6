"""Template overrides come from whoever wrote the pull request: they must not read
outside the registry, leak what they compute, hang, exhaust memory or crash a command.

Each test is an attack: the expected finding or error, exactly, and the secret nowhere
in any output format.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import AS_OF, EXAMPLE
from tests.helpers import deadline

ACTUALS = str(EXAMPLE / "actuals" / "2026-11-20.csv")
SECRET = "ghp_TOKEN0123456789"
FORMATS = ("text", "json", "github", "sarif", "junit")
# The line `templates:` is appended on, below the example's kpictl.yaml.
SETTING_LINE = len((EXAMPLE / "kpictl.yaml").read_text(encoding="utf-8").splitlines()) + 1
# The commands that render an override, the template each renders, and their arguments
# (before the registry path).
EMAIL_COMMANDS = [
    ("escalate", "email/escalation.txt.j2", []),
    ("kickoff", "email/kickoff.txt.j2", ["q4-legacy-bi-displacement"]),
    ("readout", "email/readout.txt.j2", ["q4-legacy-bi-displacement"]),
    ("recap", "email/recap.txt.j2", ["data-leaders-webinars-2026"]),
]


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    """A regression that makes a template run without end fails here, not in CI's timeout."""
    with deadline(60):
        yield


def checkout(tmp_path: Path, setting: str) -> Path:
    """A git checkout holding the example registry in registry/, its token in .git/config."""
    repo = tmp_path / "checkout"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_text(
        f'[remote "origin"]\n\turl = https://x-access-token:{SECRET}@github.com/acme/kpis\n',
        encoding="utf-8",
    )
    root = repo / "registry"
    shutil.copytree(EXAMPLE, root)
    with (root / "kpictl.yaml").open("a", encoding="utf-8") as handle:
        handle.write(f"templates: {setting}\n")
    return root


def override(root: Path, name: str, source: str, folder: str = "tpl") -> Path:
    path = root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    return path


def check_m001(run, root: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run("check", "registry", "--as-of", AS_OF, "--select", "M001", *extra, cwd=root.parent)


def assert_no_secret(run, root: Path, secret: str = SECRET) -> None:  # type: ignore[no-untyped-def]
    for output_format in FORMATS:
        result = check_m001(run, root, "--format", output_format)
        assert result.code == 1, (output_format, result.err)
        assert secret not in result.out + result.err, output_format


# --------------------------------------------------------------------------------------
# 1. The override folder stays inside the registry
# --------------------------------------------------------------------------------------


def test_parent_folder_cannot_include_the_checkout_token(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "'..'")
    # The attack: render the token into an error message, which check used to print.
    override(
        root.parent,
        "email/escalation.txt.j2",
        '{% set x %}{% include ".git/config" %}{% endset %}{{ {}[x] }}\n',
        folder=".",
    )
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        f"registry/kpictl.yaml:{SETTING_LINE}:12: M001 [error] templates: '..' goes up with "
        "'..': name a folder inside the registry, such as templates/",
    )
    assert_no_secret(run, root)
    result = run("escalate", "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out, result.err) == (
        2,
        "",
        "kpictl: kpictl.yaml: templates: '..' goes up with '..': name a folder inside the "
        "registry, such as templates/\n",
    )


@pytest.mark.parametrize(
    ("setting", "shown", "problem"),
    [
        ("/", "/", "is an absolute path"),
        ("/etc", "/etc", "is an absolute path"),
        ("'C:\\templates'", "C:\\templates", "is an absolute path"),
        ("../registry/tpl", "../registry/tpl", "goes up with '..'"),
        ("tpl/../..", "tpl/../..", "goes up with '..'"),
        ('"tpl\\e[2J"', "tpl [2J", "holds a control character"),
    ],
)
def test_a_folder_outside_the_registry_is_a_finding(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, setting: str, shown: str, problem: str
) -> None:
    root = checkout(tmp_path, setting)
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        f"registry/kpictl.yaml:{SETTING_LINE}:12: M001 [error] templates: '{shown}' {problem}"
        ": name a folder inside the registry, such as templates/",
    )


def test_a_folder_linked_outside_the_registry_is_a_finding(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    (root / "tpl").symlink_to(root.parent / ".git", target_is_directory=True)
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        f"registry/kpictl.yaml:{SETTING_LINE}:12: M001 [error] templates: 'tpl' leads outside "
        "the registry through a symbolic link: name a folder inside the registry, such as "
        "templates/",
    )
    assert_no_secret(run, root)


def test_a_linked_template_is_refused_everywhere(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    link = root / "tpl" / "email" / "escalation.txt.j2"
    link.parent.mkdir(parents=True)
    link.symlink_to(root.parent / ".git" / "config")
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        "registry/tpl/email/escalation.txt.j2:1:1: M001 [error] email/escalation.txt.j2 is a "
        "symbolic link: overrides must be regular files inside the templates folder; put the "
        "file itself there",
    )
    assert_no_secret(run, root)
    # The email that would have carried the token refuses to render, in one line.
    result = run("escalate", "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out, result.err) == (
        2,
        "",
        "kpictl: template registry/tpl/email/escalation.txt.j2 failed: OverrideRefused: "
        "email/escalation.txt.j2 is a symbolic link: overrides must be regular files inside "
        "the templates folder; put the file itself there\n",
    )


def test_a_linked_folder_inside_the_overrides_is_refused(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/ok.txt.j2", "fine\n")
    # A link back up would make a walk of the folder endless.
    (root / "tpl" / "email" / "loop").symlink_to(root / "tpl", target_is_directory=True)
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()) == (
        1,
        [
            "registry/tpl/email/loop:1:1: M001 [error] email/loop is a symbolic link: overrides "
            "must be regular files inside the templates folder; put the file itself there",
            "Found 1 error, 0 warnings, 0 info in 30 files (check failed, failing on error).",
        ],
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_template_is_refused_without_blocking(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    (root / "tpl" / "email").mkdir(parents=True)
    os.mkfifo(root / "tpl" / "email" / "escalation.txt.j2")
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        "registry/tpl/email/escalation.txt.j2:1:1: M001 [error] email/escalation.txt.j2 is not "
        "a regular file",
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"x" * 200_001, "is larger than 200,000 bytes"),
        (b"caf\xe9\n", "is not UTF-8 text"),
    ],
)
def test_an_unreadable_template_is_one_line(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, data: bytes, problem: str
) -> None:
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", "").write_bytes(data)
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        "registry/tpl/email/escalation.txt.j2:1:1: M001 [error] email/escalation.txt.j2 does "
        f"not compile: OverrideRefused: email/escalation.txt.j2 {problem}",
    )
    result = run("escalate", "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out, result.err) == (
        2,
        "",
        "kpictl: template registry/tpl/email/escalation.txt.j2 failed: OverrideRefused: "
        f"email/escalation.txt.j2 {problem}\n",
    )


@pytest.mark.parametrize(
    "include",
    [
        "kpictl.yaml",  # a registry file, but not a template
        "../.git/config",
        "/etc/passwd",
        "notes.txt",  # in the override folder, but not a template
        ".hidden.j2",  # hidden files are skipped, as the registry loader does
    ],
)
def test_include_reaches_only_templates(run, tmp_path: Path, include: str) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, ".")
    override(root, "notes.txt", f"{SECRET}\n", folder=".")
    override(root, ".hidden.j2", f"{SECRET}\n", folder=".")
    override(root, "email/escalation.txt.j2", f'Hi\n{{% include "{include}" %}}\n', folder=".")
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        "registry/email/escalation.txt.j2:2:1: M001 [error] email/escalation.txt.j2 fails with "
        "sample data: TemplateNotFound: an included, imported or extended template does not "
        "exist",
    )
    result = run("escalate", "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "kpictl: template registry/email/escalation.txt.j2:2 failed: TemplateNotFound: an "
        "included, imported or extended template does not exist\n"
    )


def test_include_reaches_other_overrides_and_shipped_templates(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/_greeting.j2", "Hello from the override\n")
    override(
        root,
        "email/recap.txt.j2",
        '{% import "email/_macros.j2" as shipped %}{% include "email/_greeting.j2" %}'
        "Recap: {{ subject }}\n",
    )
    result = check_m001(run, root)
    assert (result.code, result.out) == (0, "No findings in 30 files.\n")
    result = run(
        "recap", "data-leaders-webinars-2026", "registry", "-a", ACTUALS, "--as-of", AS_OF,
        cwd=root.parent,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "\n\nHello from the override\nRecap: " in result.out


# --------------------------------------------------------------------------------------
# 2. Error messages name the file, the line and the kind, never a computed value
# --------------------------------------------------------------------------------------

# The secret is computed, so it is nowhere in the template's source.
COMPUTED = '("ghp_TOK" ~ "EN0123456789")'


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        (f"{{% set x = {COMPUTED} %}}{{{{ {{}}[x] }}}}",
         "UndefinedError: dict object has no such key, index or attribute"),
        (f"{{{{ {{}} | attr({COMPUTED}) }}}}",
         "UndefinedError: dict object has no such attribute"),
        (f"{{{{ {COMPUTED} | int(foo) }}}}", "UndefinedError: 'foo' is undefined"),
        (f"{{{{ {COMPUTED}.__class__ }}}}",
         "SecurityError: access to an unsafe attribute of str object"),
        (f"{{{{ {COMPUTED}.format.__globals__ }}}}",
         "SecurityError: access to an unsafe attribute of function object"),
        ("{{ undefined_var.attr }}", "UndefinedError: 'undefined_var' is undefined"),
        ("{{ kpi.no_such_field }}",
         "UndefinedError: 'dict object' has no attribute 'no_such_field'"),
        (f"{{{{ {COMPUTED} / 0 }}}}",
         "TypeError: an operation on a value of the wrong type"),
        (f"{{{{ {COMPUTED} | int / 0 }}}}", "ZeroDivisionError: division by zero"),
        (f'{{{{ "%d" % {COMPUTED} }}}}', "TypeError: an operation on a value of the wrong type"),
        (f"{{{{ {COMPUTED}.encode('ascii').decode('utf-32') }}}}",
         "UnicodeDecodeError: a value that does not fit (a filter's or function's argument?)"),
        (f"{{% include {COMPUTED} %}}",
         "TemplateNotFound: an included, imported or extended template does not exist"),
        (f"{{% import {COMPUTED} as m %}}",
         "TemplateNotFound: an included, imported or extended template does not exist"),
        (f"{{{{ [1][{COMPUTED}] }}}}",
         "UndefinedError: list object has no such key, index or attribute"),
        (f"{{{{ dict(a=1)[{COMPUTED}] }}}}",
         "UndefinedError: dict object has no such key, index or attribute"),
    ],
)  # fmt: skip
def test_runtime_errors_quote_no_value(run, tmp_path: Path, source: str, detail: str) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", f"Hi\n{source}\n")
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        "registry/tpl/email/escalation.txt.j2:2:1: M001 [error] email/escalation.txt.j2 fails "
        f"with sample data: {detail}",
    )
    assert_no_secret(run, root)
    result = run("escalate", "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out, result.err) == (
        2,
        "",
        f"kpictl: template registry/tpl/email/escalation.txt.j2:2 failed: {detail}\n",
    )


def test_a_syntax_error_is_quoted_capped_and_on_one_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", "Hi\n{% " + "x" * 300 + " %}\n")
    result = check_m001(run, root)
    line = result.out.splitlines()[0]
    expected = (
        "registry/tpl/email/escalation.txt.j2:2:1: M001 [error] email/escalation.txt.j2 does "
        "not compile: TemplateSyntaxError: Encountered unknown tag '" + "x" * 174 + "…"
    )
    assert (result.code, line) == (1, expected)


def test_a_failing_partial_is_reported_at_its_own_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/_greeting.j2", f"Hello\n{{{{ {COMPUTED} | int(nope) }}}}\n")
    override(root, "email/recap.txt.j2", '{% include "email/_greeting.j2" %}\n')
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()) == (
        1,
        [
            "registry/tpl/email/_greeting.j2:2:1: M001 [error] email/_greeting.j2 fails with "
            "sample data (while rendering email/recap.txt.j2, which uses it): UndefinedError: "
            "'nope' is undefined",
            "registry/tpl/email/recap.txt.j2:1:1: M001 [error] email/recap.txt.j2 fails with "
            "sample data: UndefinedError: 'nope' is undefined",
            "Found 2 errors, 0 warnings, 0 info in 30 files (check failed, failing on error).",
        ],
    )
    assert_no_secret(run, root)


# --------------------------------------------------------------------------------------
# 3. No template hangs or fills the memory
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "limit"),
    [
        ("{{ 'a' * 10**9 }}",
         "a repeated string or list of more than 2,000,000 characters or items"),
        ("{{ 2 ** (10 ** 9) }}", "a number of more than 65,536 bits"),
        ("{{ (10 ** 16000) * (10 ** 16000) }}", "a number of more than 65,536 bits"),
        ("{{ range(10**9)|list }}", "a range of more than 100,000 numbers"),
        ("{{ range(10**5)|list * 10**5 }}",
         "a repeated string or list of more than 2,000,000 characters or items"),
        ("{% set ns = namespace(s='a') %}{% for i in range(64) %}"
         "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
         "a joined string of more than 2,000,000 characters or items"),
        ("{% set ns = namespace(s='a') %}{% for i in range(64) %}"
         "{% set ns.s = ns.s + ns.s %}{% endfor %}",
         "a joined string or list of more than 2,000,000 characters or items"),
        ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('a') }}",
         "a joined string of more than 2,000,000 characters or items"),
        ("{{ 'a' | center(10**9) }}", "center() with a width or count above 10,000"),
        ("{{ 'a'.ljust(10**9) }}", "ljust() with a width or count above 10,000"),
        ("{{ [1] | batch(10**9, 0) | list }}", "batch() with a width or count above 10,000"),
        ("{{ ('x' * 10**6) | replace('', 'y' * 100) }}",
         "replace() result of more than 2,000,000 characters or items"),
        ("{{ '%0999999999d' % 1 }}", "a format width above 10,000"),
        ("{{ '%*d' % (10**9, 1) }}", "a format width above 10,000"),
        ("{{ '{:>999999999}'.format(1) }}", "a format width above 10,000"),
        ("{{ '{:>{}}'.format(1, 10**9) }}", "a format width above 10,000"),
        ("{{ '%09999999d' | format(1) }}", "a format width above 10,000"),
        ("{% set s = 'x' * 10**6 %}{{ [s, s, s, s, s, s, s, s, s, s] * 3 }}",
         "a repeated string or list of more than 2,000,000 characters or items"),
        ("{% set s = 'x' * 10**6 %}{% set l = [s, s, s, s, s, s, s, s, s, s] %}"
         "{{ (l + l + l) | join }}", "a joined string of more than 2,000,000 characters or items"),
        ("{% set s = 'x' * 10**6 %}{% set l = [s, s, s, s, s, s, s, s, s, s] %}"
         "{{ l + l + l }}", "a printed value of more than 2,000,000 characters or items"),
        ("{% set s = 'x' * 10**6 %}{% set l = [s, s, s, s, s, s, s, s, s, s] %}"
         "{{ (l + l + l) ~ '' }}", "a joined string of more than 2,000,000 characters or items"),
        ("{% set s = 'x' * 10**6 %}{% set l = [s, s, s, s, s, s, s, s, s, s] %}"
         "{{ (l + l + l) | tojson }}",
         "the tojson filter's result of more than 2,000,000 characters or items"),
        ("{{ table([['x' * 10**5]] + [['y']] * 10**4) }}",
         "a table of more than 2,000,000 characters or items"),
        ("{{ table([range(10**4)|list] + [[1]] * 10**4) }}",
         "a table of more than 2,000,000 characters or items"),
        ("{% set x %}{% for i in range(10**5) %}{% for j in range(10**3) %}" + "y" * 1000
         + "{% endfor %}{% endfor %}{% endset %}",
         "output longer than 51,440,000 characters"),
    ],
)  # fmt: skip
def test_size_limits(run, tmp_path: Path, source: str, limit: str) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", f"Hi\n{source}\n")
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        "registry/tpl/email/escalation.txt.j2:2:1: M001 [error] email/escalation.txt.j2 fails "
        f"with sample data: TemplateLimitError: the template went past a limit: {limit}",
    )


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        # Each would run for hours: the step budget stops it.
        ("{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}",
         "TemplateLimitError: the template went past a limit: more than 200,000 steps (loop "
         "iterations and calls): a loop or a macro that does not end?"),
        ("{% for i in range(10**5) %}{% for j in range(10**5) %}x{% endfor %}{% endfor %}",
         "TemplateLimitError: the template went past a limit: more than 200,000 steps (loop "
         "iterations and calls): a loop or a macro that does not end?"),
        ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
         "{{ f(60) }}",
         "TemplateLimitError: the template went past a limit: more than 200,000 steps (loop "
         "iterations and calls): a loop or a macro that does not end?"),
        ("{% set l = range(10)|list %}{% for x in l recursive %}{% if loop.depth < 30 %}"
         "{{ loop(l) }}{% endif %}{% endfor %}",
         "TemplateLimitError: the template went past a limit: more than 200,000 steps (loop "
         "iterations and calls): a loop or a macro that does not end?"),
        ("{% set s = 'x' * 10**6 %}{% for i in range(10**5) %}{% if s|upper %}{% endif %}"
         "{% endfor %}",
         "TemplateLimitError: the template went past a limit: more than 200,000 steps (loop "
         "iterations and calls): a loop or a macro that does not end?"),
        # A long string gone through on every iteration: each costs its length.
        *[
            ("{% set s = 'x' * 10**6 %}{% for i in range(10**5) %}" + body + "{% endfor %}",
             "TemplateLimitError: the template went past a limit: more than 200,000 steps "
             "(loop iterations and calls): a loop or a macro that does not end?")
            for body in (
                "{% if 'zz' in s %}{% endif %}",
                "{% if s == s ~ '' %}{% endif %}",
                "{% if s.split('y') %}{% endif %}",
                "{% if s.upper() %}{% endif %}",
                "{% set t = s * 2 %}",
                "{% set t = s + 'y' %}",
                "{% set t = s[1:] %}",
                "{% set t = s | list %}",
                "{% if s is in(s) %}{% endif %}",
            )
        ],
        *[
            (source,
             "TemplateLimitError: the template went past a limit: more than 200,000 steps "
             "(loop iterations and calls): a loop or a macro that does not end?")
            for source in (
                "{% set s = 'x' * 10**6 %}{{ range(10**5) | map('string') | select('in', s) "
                "| list }}",
                "{% set s = 'x' * 10**5 %}{{ range(10**5) | map('replace', 'a', s) | list }}",
            )
        ],
        # Recursion without end: Python's own limit.
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
         "RecursionError: too deep recursion (a macro or recursive loop that does not end?)"),
        ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
         "RecursionError: too deep recursion (a macro or recursive loop that does not end?)"),
    ],
)  # fmt: skip
def test_step_limit(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, detail: str
) -> None:
    from kpictl.templating import limits

    # A small budget keeps the test quick; test_the_default_step_limit_stops_a_hang uses
    # the real one.
    monkeypatch.setattr(limits, "MAX_STEPS", 200_000)
    monkeypatch.setattr(limits, "STEPS_PER_ENTITY", 0)
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", f"Hi\n{source}\n")
    result = check_m001(run, root)
    assert (result.code, result.out.splitlines()[0]) == (
        1,
        "registry/tpl/email/escalation.txt.j2:2:1: M001 [error] email/escalation.txt.j2 fails "
        f"with sample data: {detail}",
    )


def test_the_default_step_limit_stops_a_hang(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpictl.templating import limits

    # The clock would stop it too, on a slow machine first: this test is about the steps.
    monkeypatch.setattr(limits, "MAX_SECONDS", 600.0)
    monkeypatch.setattr(limits, "MAX_RUN_SECONDS", 600.0)
    root = checkout(tmp_path, "tpl")
    loops = "{% for i in range(10**5) %}{% for j in range(10**5) %}{% endfor %}{% endfor %}"
    override(root, "email/escalation.txt.j2", f"Hi\n{loops}\n")
    result = run("escalate", "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out) == (2, "")
    # 5,000,000 steps plus 5,000 for each of the example's 72 entities.
    assert result.err == (
        "kpictl: template registry/tpl/email/escalation.txt.j2:2 failed: TemplateLimitError: "
        "the template went past a limit: more than 5,360,000 steps (loop iterations and "
        "calls): a loop or a macro that does not end?\n"
    )


def test_lipsum_is_gone(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(root, "email/escalation.txt.j2", "Hi\n{{ lipsum(n=10**9) }}\n")
    result = check_m001(run, root)
    assert result.out.splitlines()[0] == (
        "registry/tpl/email/escalation.txt.j2:2:1: M001 [error] email/escalation.txt.j2 fails "
        "with sample data: UndefinedError: 'lipsum' is undefined"
    )


def test_ordinary_templates_pass_the_limits(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = checkout(tmp_path, "tpl")
    override(
        root,
        "email/recap.txt.j2",
        "{% for i in range(3) %}{{ i }}{% endfor %} {{ '%5.1f' % 3.14159 }} "
        "{{ '{:,}'.format(2000000) }} {{ [1, 2] | join(', ') }} {{ range(3) | list }} "
        "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ 'x' | center(5) }}|\n",
    )
    result = check_m001(run, root)
    assert (result.code, result.out) == (0, "No findings in 30 files.\n")
    result = run(
        "recap", "data-leaders-webinars-2026", "registry", "-a", ACTUALS, "--as-of", AS_OF,
        cwd=root.parent,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "012   3.1 2,000,000 1, 2 [0, 1, 2] ababab 1024   x  |\n" in result.out


def test_jinja_version_the_sandbox_hooks_were_written_for() -> None:
    """The sandbox subclasses Jinja's code generator: pinned to the version it fits."""
    import jinja2

    from kpictl.templating.render import environment

    assert jinja2.__version__.startswith("3.1."), "review kpictl/templating/sandbox.py's _Generator"
    env = environment()
    code = env.compile("{% for i in x %}{{ i ~ 'a' }}{% endfor %}", raw=True)
    assert "environment.counted(" in code and "environment.joined(str_join, (" in code


# --------------------------------------------------------------------------------------
# 4. A failing override stops the email commands with one line, exit 2
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "template", "args"), EMAIL_COMMANDS)
def test_a_failing_override_is_one_line_exit_2(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, command: str, template: str, args: list[str]
) -> None:
    root = checkout(tmp_path, "tpl")
    override(root, template, "Hi\n{{ nope }}\n")
    result = run(command, *args, "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out, result.err) == (
        2,
        "",
        f"kpictl: template registry/tpl/{template}:2 failed: UndefinedError: 'nope' is undefined\n",
    )


@pytest.mark.parametrize(("command", "template", "args"), EMAIL_COMMANDS)
def test_an_override_that_does_not_compile_is_one_line_exit_2(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, command: str, template: str, args: list[str]
) -> None:
    root = checkout(tmp_path, "tpl")
    override(root, template, "Hi\n{% if %}\n")
    result = run(command, *args, "registry", "-a", ACTUALS, "--as-of", AS_OF, cwd=root.parent)
    assert (result.code, result.out, result.err) == (
        2,
        "",
        f"kpictl: template registry/tpl/{template}:2 failed: TemplateSyntaxError: Expected an "
        "expression, got 'end of statement block'\n",
    )
