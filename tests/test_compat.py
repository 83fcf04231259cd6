"""kpictl.compat: the library versions its private calls were written for, and each call.

A failure here after an upgrade names the call that broke; widen a range in
kpictl.compat.TESTED and pyproject.toml only once every test here passes with it.
"""

from __future__ import annotations

import io
import re
import sys
import tomllib
from datetime import UTC, datetime
from email.generator import BytesGenerator
from importlib.metadata import version
from typing import Any

import pytest
import typer
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import FoldedScalarString

from kpictl import compat
from kpictl.emails.compose import POLICY, address, compose
from tests.conftest import ROOT


def release(text: str) -> tuple[int, ...]:
    """`0.18.6` as (0, 18, 6); a pre-release or local tail is ignored."""
    found = re.match(r"\d+(?:\.\d+)*", text)
    assert found is not None, text
    return tuple(int(part) for part in found.group().split("."))


@pytest.mark.parametrize("distribution", sorted(compat.TESTED))
def test_installed_version_is_one_compat_was_written_for(distribution: str) -> None:
    lowest, untested = compat.TESTED[distribution]
    assert release(lowest) <= release(version(distribution)) < release(untested)


@pytest.mark.parametrize("distribution", sorted(compat.TESTED))
def test_pyproject_pins_the_tested_range(distribution: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lowest, untested = compat.TESTED[distribution]
    pins = [
        re.sub(r"\[[^]]*\]", "", requirement.split(";")[0]).replace(" ", "")
        for requirement in project["dependencies"]
    ]
    assert f"{distribution}>={lowest},<{untested}" in pins


def test_python_is_one_the_email_writer_was_read_in() -> None:
    lowest, untested = compat.PYTHON_TESTED
    assert lowest <= sys.version_info[:2] < untested


# --- typer --------------------------------------------------------------------------------


def test_typer_registry_can_be_read_narrowed_and_restored() -> None:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A group, as kpictl's app is."""

    @app.command()
    def first_one() -> None:
        """First."""

    @app.command(name="second")
    def second_one() -> None:
        """Second."""

    def built() -> list[str]:
        group = typer.main.get_command(app)
        assert isinstance(group, typer.core.TyperGroup)
        return list(group.commands)

    commands = compat.registered_commands(app)
    assert [compat.command_name(info) for info in commands] == ["first-one", "second"]
    compat.set_registered_commands(app, commands[1:])
    assert built() == ["second"]
    compat.set_registered_commands(app, commands)
    assert built() == ["first-one", "second"]


# --- email --------------------------------------------------------------------------------


def test_message_bytes_are_the_email_packages_own_bytes() -> None:
    assert hasattr(BytesGenerator, "_write_lines")
    assert compat._generator() is not BytesGenerator  # the fast writer is in use
    message = compose(
        sender=address("Kpi Desk", "kpictl@acme.example"),
        to=(address("Ann Lee", "ann@acme.example"),),
        subject="MQL is 12% behind",
        text="line one\nline two\r\nline three\rend",
        html="<p>Ünïcode &amp; more</p>",
        date=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        msgid="<kpictl.1@acme.example>",
    )
    data = compat.message_bytes(message, POLICY)
    assert data == message.as_bytes(policy=POLICY)
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF line ends only, as on the wire


# --- ruamel.yaml --------------------------------------------------------------------------


def yaml() -> YAML:
    out = YAML(typ="rt")
    out.Emitter = compat.fixed_emitter()
    out.indent(mapping=2, sequence=4, offset=2)
    return out


def dump(data: Any) -> str:
    stream = io.StringIO()
    yaml().dump(data, stream)
    return stream.getvalue()


def test_c_parser_gives_events_with_marks() -> None:
    parser = compat.c_parser("a: [1]\n")
    try:
        events = [parser.get_event() for _ in range(9)]
    finally:
        parser.dispose()
    assert [type(event).__name__ for event in events] == [
        "StreamStartEvent",
        "DocumentStartEvent",
        "MappingStartEvent",
        "ScalarEvent",
        "SequenceStartEvent",
        "ScalarEvent",
        "SequenceEndEvent",
        "MappingEndEvent",
        "DocumentEndEvent",
    ]
    assert (events[5].value, events[5].start_mark.line, events[5].start_mark.column) == ("1", 0, 4)


def test_fast_load_builds_round_trip_documents_with_positions() -> None:
    docs = compat.fast_load("a: 1\nb:\n  - x\n  - y\n---\n")
    assert docs == [{"a": 1, "b": ["x", "y"]}, None]
    assert isinstance(docs[0], CommentedMap)
    assert compat.positions(docs[0]) == {"a": [0, 0, 0, 3], "b": [1, 0, 2, 2]}
    assert compat.positions(docs[0]["b"]) == {0: [2, 4], 1: [3, 4]}


def test_fixed_emitter_ends_the_line_after_a_flow_items_comment() -> None:
    text = "items:  # the list\n  - {kpi: x}  # note\n  - kpi: y\n    owner: z\n"
    assert dump(yaml().load(text)) == text
    stock = YAML(typ="rt")
    stock.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    stock.dump(stock.load(text), stream)
    # The bug the fix is for: remove the fix when this stops failing.
    assert stream.getvalue() == "items:  # the list\n  - {kpi: x}  # note\n  - kpi: y owner: z\n"


def test_comments_are_read_cleared_and_placed() -> None:
    doc = yaml().load("# top\na: 1  # one\nb: >-  # kept\n  text\n")
    attached = [value for value in compat.attached_comments(doc) if value]
    assert [str(value) for value in attached] == [
        "[None, [CommentToken('# top\\n', line: 0, col: 0)]]",
        "[None, None, CommentToken('# one\\n', line: 1, col: 6), None]",
        "[None, None, None, ['  # kept']]",
    ]
    compat.clear_comments(doc)
    assert dump(doc) == "a: 1\nb: >-  # kept\n  text\n"

    doc = compat.fast_load("a: 1\nb:\n  - x\n  - y\n")[0]
    compat.set_header_comments(doc, ["# head", ""])
    compat.set_key_comments(doc, "b", ["# above b"], 0, (5, "# eol b"), is_item=False)
    compat.set_key_comments(doc["b"], 0, [], 2, (6, "# first"), is_item=True)
    compat.set_end_comments(doc, ["# the end"], 0)
    assert dump(doc) == "# head\n\na: 1\n# above b\nb:   # eol b\n  - x # first\n  - y\n# the end\n"


def test_fold_positions_break_folded_text_where_given() -> None:
    data = {"t": FoldedScalarString("one two three")}
    compat.set_fold_positions(data["t"], [3, 7])
    assert dump(data) == "t: >-\n  one\n  two\n  three\n"
