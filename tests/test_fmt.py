"""`kpictl fmt`: canonical form, every comment kept, idempotent, never touching a broken file."""

from __future__ import annotations

import os
import random
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpictl.authoring import fmt, yamlscan
from kpictl.authoring.yamlfmt import FormatError, format_text
from kpictl.registry.loader import parse_text
from kpictl.registry.reading import discover
from tests.conftest import EXAMPLE, ROOT, Run, assert_golden, write_registry

EXAMPLES = int(os.environ.get("KPICTL_FUZZ", "150"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def data_of(text: str) -> list[Any]:
    documents, findings = parse_text(Path("x.yaml"), text)
    assert findings == []
    return [document.data for document in documents if document.data is not None]


def comments_of(text: str) -> Counter[str]:
    return yamlscan.scan_text(text).comments()


def assert_formats(text: str, root_file: bool = False) -> str:
    """fmt's result keeps data and comments, and a second round changes nothing."""
    once = format_text(text, root_file=root_file)
    assert data_of(once) == data_of(text)
    assert comments_of(once) == comments_of(text)
    assert format_text(once, root_file=root_file) == once, "fmt is not idempotent"
    assert format_text(text, root_file=root_file, pure_loader=True) == once
    return once


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# --- canonical form, one case per golden file ---------------------------------------------

CASES = {
    "key-order": """
        id: mql
        escalation: standard
        labels: {dashboard: Looker}
        kind: kpi
        name: MQLs
        owners:
          backup: sam
          primary: ann
        targets:
        - value: 1200
          approved_by: dana
          period: 2026-Q4
        """,
    "odd-comments": """
        # The file's header: stays on top.

        id: mql        # end-of-line comment on a key that moves down
        kind: kpi
        # above owners, with a blank line before it
        owners:   # on the owners line
          # above backup, which moves below primary
          backup: sam   # the backup
          primary: ann
            # deeper than the next key: stays at the end of owners
        targets:
        # at column 0, above the first item
          - value: 1   # the value
            period: 2026-Q4
            # the last line of the first target
          - {value: 2, period: 2027-Q1}  # a flow item
        name: MQLs
        # the very end
        """,
    "blank-lines": """
        kind: person
        id: ann



        name: Ann Lee

        # one blank line is kept, three become one
        email: ann@acme.example
        team: demand-gen
        """,
    "multi-document": """
        # About the file.
        ---
        # First person.
        id: ann
        kind: person
        name: Ann
        ...
        --- # on the marker
        kind: person
        name: Bob
        id: bob
        ---
        # a document holding only comments
        ---
        kind: team
        id: sales
        name: Sales
        function: sales
        # after the last document
        """,
    "flow-and-quotes": """
        kind: campaign
        id: q4
        name: 'Q4 push'
        status: "active"
        strategies: [Intent ads,   Dinners]
        primary_kpi: {target: 2000000, kpi: pipeline}
        secondary_kpis:
            - {target: 400, kpi: mql}
        daci: {approver: dana, driver: ann}
        context: >-
          Enterprise pipeline is behind plan, and the
          gap grows every week.

          A second paragraph.
        objective: |
          Add pipeline.
          Keep costs flat.
        timeline:
            end: 2026-12-31
            start: 2026-10-01
        """,
    "indentation": """
        kind: escalation_policy
        id: standard
        name: Standard
        tiers:
        -   level: 1
            name: Owner review
            notify:
            - $owner
            - $backup
            respond_within: 24h
            deviation_pct: 5
            approver: $owner
        """,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_canonical_form(name: str) -> None:
    assert_golden(f"fmt/{name}.yaml", assert_formats(dedent(CASES[name])))


def test_root_file_follows_the_settings_order() -> None:
    text = dedent(
        """
        timezone: Europe/Berlin  # where "today" is
        version: 1
        email:
          smtp: {port: 587, host: localhost}
          from: Desk <desk@acme.example>
          # the password is never stored here
        organization: Acme
        """
    )
    assert_golden("fmt/root-file.yaml", assert_formats(text, root_file=True))


def test_unknown_keys_stay_after_known_ones_and_labels_go_last() -> None:
    text = "labels: {a: b}\nzeta: 1\nkind: team\nalpha: 2\nid: t\n"
    assert format_text(text) == "kind: team\nid: t\nzeta: 1\nalpha: 2\nlabels: {a: b}\n"


def test_documents_without_kind_keep_their_key_order() -> None:
    assert format_text("b: 1\na:\n    - x\n") == "b: 1\na:\n  - x\n"


def test_crlf_and_bom_become_lf_without_bom() -> None:
    assert format_text("\ufeffkind: team\r\nid: t\r\n") == "kind: team\nid: t\n"


def test_a_file_of_comments_only_is_left_as_it_is() -> None:
    assert format_text("# nothing here yet\n\n# more\n") == "# nothing here yet\n\n# more\n"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("kind: kpi\nid: [unclosed\n", 2, "invalid YAML"),
        ("kind: kpi\nid: a\nid: b\n", 3, "duplicate key"),
        ("kind: !!python/object:os.system kpi\n", 1, "tags are not allowed"),
        ("base: &b {a: 1}\nother:\n  <<: *b\n", 3, "merge keys"),
        ("kind: team\nsources: [a,\n  # inside the list\n  b]\n", 3, "flow list"),
        ("%YAML 1.2\n---\nkind: team\n", 1, "directives"),
    ],
)
def test_what_fmt_refuses(text: str, line: int, words: str) -> None:
    with pytest.raises(FormatError) as caught:
        format_text(text)
    assert caught.value.line == line
    assert words in caught.value.message


# --- the example registry and generated registries ----------------------------------------


def example_files() -> list[Path]:
    return [EXAMPLE / "kpictl.yaml", *discover(EXAMPLE, [])]


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.relative_to(EXAMPLE).as_posix())
def test_example_registry_files_format_safely(path: Path) -> None:
    assert_formats(path.read_text(encoding="utf-8"), root_file=path.name == "kpictl.yaml")


def test_the_example_registry_is_canonical() -> None:
    # The shipped registry is what people copy: fmt must have nothing to change in it.
    for path in example_files():
        text = path.read_text(encoding="utf-8")
        assert format_text(text, root_file=path.name == "kpictl.yaml") == text, path


def generated_registry(root: Path, kpis: int) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import check_large
    finally:
        sys.path.pop(0)
    check_large.generate_registry(root, kpis)
    return root


def test_generated_registries_are_canonical(run: Run, tmp_path: Path) -> None:
    root = generated_registry(tmp_path / "reg", 30)
    result = run("fmt", "--check", str(root))
    assert result.code == 0, result.out
    assert "0 files would be reformatted" in result.out


def test_parallel_formatting_gives_the_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = generated_registry(tmp_path / "reg", 20)
    (root / "kpis" / "messy.yaml").write_text("id: messy\nkind: team\n", encoding="utf-8")
    files = fmt.collect([root], tmp_path)
    serial = fmt.format_files(files, write=False, jobs=1)
    monkeypatch.setattr(fmt, "PARALLEL_THRESHOLD", 1)
    parallel = fmt.format_files(files, write=False, jobs=2)
    assert parallel == serial
    assert [o.display.name for o in serial if o.status == "changed"] == ["messy.yaml"]


# --- property: generated YAML in many shapes ----------------------------------------------

WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma"]
KINDS = ("person", "team", "kpi", "escalation_policy", "campaign")


def _entity(rng: random.Random, kind: str, number: int) -> dict[str, Any]:
    word = rng.choice(WORDS)
    if kind == "person":
        data: dict[str, Any] = {
            "name": f"{word.title()} Lee",
            "email": f"{word}@acme.example",
            "team": "sales",
            "manager": "boss",
        }
    elif kind == "team":
        data = {"name": word.title(), "function": "sales", "lead": "boss"}
    elif kind == "kpi":
        data = {
            "name": f"{word.title()} rate",
            "unit": "percent",
            "owners": {"primary": "ann", "backup": "bob"},
            "sources": ["crm", "web"][: rng.randint(1, 2)],
            "cadence": {"refresh": "daily", "review": "weekly"},
            "targets": [
                {"period": f"2026-Q{q}", "value": 10 * q, "rationale": f"{word} {q}"}
                for q in range(1, rng.randint(1, 4))
            ],
            "escalation": "standard",
        }
    elif kind == "escalation_policy":
        data = {
            "name": "Standard",
            "tiers": [
                {
                    "level": level,
                    "name": f"Tier {level}",
                    "deviation_pct": 5 * level,
                    "respond_within": "24h",
                    "notify": ["$owner", "$backup"],
                    "actions": [f"{word} {level}"],
                }
                for level in range(1, rng.randint(2, 4))
            ],
        }
    else:
        data = {
            "name": f"{word} push",
            "status": "draft",
            "primary_kpi": {"kpi": "mql", "target": 100},
            "daci": {"driver": "ann", "approver": "bob", "contributors": ["cat"]},
            "timeline": {"start": "2026-10-01", "end": "2026-12-31"},
        }
    if rng.random() < 0.3:
        data["labels"] = {"tier": word}
    if rng.random() < 0.4:
        data["description"] = Block(
            rng.choice(">|") + rng.choice(["", "-", "+"]),
            [f"{word} line one", f"and {word} two", "", f"a {word} paragraph"][: rng.randint(1, 4)],
        )
    if rng.random() < 0.2:
        data["title"] = None  # `title:` with nothing after it
    data = {"kind": kind, "id": f"{kind.replace('_', '-')}-{number}", **data}
    shuffled: dict[str, Any] = _shuffled(rng, data)
    return shuffled


def _shuffled(rng: random.Random, value: Any) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _shuffled(rng, value[key]) for key in keys}
    if isinstance(value, list):
        return [_shuffled(rng, item) for item in value]
    return value


class Block(str):
    """Text to write as a block scalar: `style` is its header (`>-`, `|`, ...)."""

    style: str
    lines: list[str]

    def __new__(cls, style: str, lines: list[str]) -> Block:
        block = super().__new__(cls, "\n".join(lines))
        block.style, block.lines = style, lines
        return block


class _Writer:
    """Writes data as YAML with random (valid) indentation, styles, comments and blanks."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lines: list[str] = []
        self.count = 0

    def comment(self) -> str:
        self.count += 1
        return f"# note {self.count} {self.rng.choice(WORDS)}"

    def before(self, indent: int) -> None:
        roll = self.rng.random()
        if roll < 0.15:
            self.lines.append("")
        if roll < 0.3:
            shift = self.rng.choice([0, indent, indent + 2])
            self.lines.append(" " * shift + self.comment())

    def eol(self) -> str:
        return f"  {self.comment()}" if self.rng.random() < 0.25 else ""

    def scalar(self, value: Any) -> str:
        if isinstance(value, str) and (value.startswith("$") or " " in value):
            return self.rng.choice([value, f"'{value}'", f'"{value}"'])
        return str(value)

    def flow(self, value: Any) -> str:
        if isinstance(value, list):
            return "[" + ", ".join(self.flow(item) for item in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}: {self.flow(v)}" for k, v in value.items()) + "}"
        return self.scalar(value)

    def mapping(self, data: dict[str, Any], indent: int, first_prefix: str | None = None) -> None:
        for index, (key, value) in enumerate(data.items()):
            prefix = first_prefix if (index == 0 and first_prefix is not None) else " " * indent
            if index > 0 or first_prefix is None:
                self.before(indent)
            self.entry(prefix, key, value, indent)

    def entry(self, prefix: str, key: str, value: Any, indent: int) -> None:
        flow = self.rng.random() < 0.4
        if isinstance(value, Block):
            header = f" {self.comment()}" if self.rng.random() < 0.2 else ""
            self.lines.append(f"{prefix}{key}: {value.style}{header}")
            step = self.rng.choice([2, 4])
            self.lines.extend(" " * (indent + step) + line if line else "" for line in value.lines)
            return
        if value is None:
            self.lines.append(f"{prefix}{key}:{self.eol()}")
            return
        if isinstance(value, dict) and value and self.rng.random() < 0.1:
            # An anchor and an alias (ruamel's own loader takes these files).
            self.lines.append(f"{prefix}{key}: &{key}{self.count} {self.flow(value)}")
            self.lines.append(f"{prefix}x-copy-{key}: *{key}{self.count}")
            return
        if isinstance(value, dict | list) and value and not flow:
            self.lines.append(f"{prefix}{key}:{self.eol()}")
            step = self.rng.choice([2, 4])
            if isinstance(value, dict):
                self.mapping(value, indent + step)
            else:
                dash = indent + self.rng.choice([0, 2])
                for item in value:
                    self.before(dash)
                    if isinstance(item, dict) and self.rng.random() < 0.7:
                        self.mapping(item, dash + 2, first_prefix=" " * dash + "- ")
                    else:
                        self.lines.append(f"{' ' * dash}- {self.flow(item)}{self.eol()}")
        else:
            self.lines.append(f"{prefix}{key}: {self.flow(value)}{self.eol()}")


@st.composite
def messy_files(draw: st.DrawFn) -> str:
    rng = draw(st.randoms(use_true_random=False))
    writer = _Writer(rng)
    documents = rng.randint(1, 3)
    if rng.random() < 0.3:
        writer.lines.append(writer.comment())
    for number in range(documents):
        if number or rng.random() < 0.2:
            writer.lines.append("---")
        writer.before(0)
        writer.mapping(_entity(rng, rng.choice(KINDS), number), 0)
    if rng.random() < 0.3:
        writer.lines.append(writer.comment())
    return "\n".join(writer.lines) + "\n"


@PROPERTY
@given(messy_files())
def test_fmt_is_idempotent_and_keeps_data_and_comments(text: str) -> None:
    assert_formats(text)


# --- the command ---------------------------------------------------------------------------

MESSY = "id: ann\nkind: person\nname: Ann\nemail: ann@acme.example\nteam: sales\n"
BROKEN = "kind: person\nid: [bob\n"


def small_registry(root: Path) -> Path:
    return write_registry(
        root,
        {
            "people/ann.yaml": MESSY,
            "people/bob.yaml": BROKEN,
            "teams/sales.yaml": "kind: team\nid: sales\nname: Sales\nfunction: sales\n",
        },
    )


def test_check_lists_files_and_changes_nothing(run: Run, tmp_path: Path) -> None:
    root = small_registry(tmp_path / "reg")
    before = {p: p.read_bytes() for p in root.rglob("*.yaml")}
    result = run("fmt", "--check", str(root), cwd=tmp_path)
    assert result.code == 1
    assert result.out == (
        "would reformat reg/people/ann.yaml\n"
        "reg/people/bob.yaml:2:5: cannot format (left untouched): invalid YAML, while parsing "
        "a flow sequence: did not find expected ',' or ']'\n"
        "1 file would be reformatted, 2 already formatted, 1 left untouched because of errors.\n"
    )
    assert {p: p.read_bytes() for p in root.rglob("*.yaml")} == before


def test_fmt_rewrites_what_parses_and_leaves_the_broken_file(run: Run, tmp_path: Path) -> None:
    root = small_registry(tmp_path / "reg")
    broken = root / "people" / "bob.yaml"
    stamp = broken.stat().st_mtime_ns
    result = run("fmt", str(root), cwd=tmp_path)
    assert result.code == 1
    assert "reg/people/bob.yaml:2:5: cannot format (left untouched): invalid YAML" in result.out
    assert "reformatted reg/people/ann.yaml" in result.out
    assert (root / "people" / "ann.yaml").read_text() == (
        "kind: person\nid: ann\nname: Ann\nemail: ann@acme.example\nteam: sales\n"
    )
    assert broken.read_text() == BROKEN
    assert broken.stat().st_mtime_ns == stamp
    broken.write_text("kind: person\nid: bob\nname: Bob\nemail: bob@acme.example\nteam: sales\n")
    again = run("fmt", "--check", str(root), cwd=tmp_path)
    assert again.code == 0, again.out
    assert again.out == "0 files would be reformatted, 4 already formatted.\n"


def test_fmt_leaves_no_temporary_files(run: Run, tmp_path: Path) -> None:
    root = small_registry(tmp_path / "reg")
    run("fmt", str(root), cwd=tmp_path)
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == [
        "ann.yaml",
        "bob.yaml",
        "kpictl.yaml",
        "sales.yaml",
    ]


def test_diff_shows_the_change(run: Run, tmp_path: Path) -> None:
    write_registry(tmp_path / "reg", {"people/ann.yaml": MESSY})
    result = run("fmt", "--check", "--diff", "reg/people/ann.yaml", cwd=tmp_path)
    assert result.code == 1
    assert "--- a/reg/people/ann.yaml\n+++ b/reg/people/ann.yaml\n" in result.out
    assert "+kind: person\n id: ann\n-kind: person\n name: Ann\n" in result.out


def test_default_is_the_registry_around_the_current_folder(run: Run, tmp_path: Path) -> None:
    root = write_registry(
        tmp_path / "reg",
        {"people/ann.yaml": MESSY, "drafts/x.yaml": "id: x\nkind: team\n"},
        settings="version: 1\nexclude: [drafts/**]\n",
    )
    result = run("fmt", "--check", cwd=root / "people")
    assert result.code == 1
    assert result.out.splitlines()[0] == "would reformat ann.yaml"
    assert "1 already formatted" in result.out  # kpictl.yaml; drafts/ is excluded


def test_missing_path(run: Run, tmp_path: Path) -> None:
    result = run("fmt", str(tmp_path / "nope.yaml"))
    assert result.code == 2
    assert "no such file or folder" in result.err
