"""Every use of a library's private API, in one place, pinned to the versions tested.

kpictl reaches past four libraries' public interfaces, each for a reason given where
it does: typer's command registry and pydantic's plugin loader (start-up time), the
email package's line writer (composing time) and ruamel.yaml's round-trip internals
(fmt keeps comments where people wrote them, fast). An upgrade can change any of these
without notice, so pyproject.toml holds each library to the range below, and
tests/test_compat.py checks the installed versions against it and exercises every call
here: a new version that breaks one fails there, by name, not as a lost comment in a
file (or, for pydantic's loader, as a slower start).

The libraries are imported inside the functions: typer's part runs on every start,
and `kpictl check` needs neither the email package nor ruamel's round-trip code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from email.message import EmailMessage
    from email.policy import Policy

    import typer
    from typer.models import CommandInfo

# Distribution -> [lowest, first untested) version: keep in step with pyproject.toml.
TESTED: dict[str, tuple[str, str]] = {
    "typer": ("0.12", "0.30"),
    "pydantic": ("2.6", "3"),
    "ruamel.yaml": ("0.18.6", "0.20"),
    "ruamel.yaml.clib": ("0.2.7", "0.3"),
}
# The email package ships with Python: the versions its line writer was read in.
PYTHON_TESTED = ((3, 11), (3, 14))


# --- typer: the command registry ---------------------------------------------------------
# typer has no public way to register commands lazily, so kpictl.cli edits the list
# typer builds the click group from (see kpictl.cli.commands_for).


def registered_commands(app: typer.Typer) -> list[CommandInfo]:
    """The commands registered on `app`, in registration order."""
    return list(app.registered_commands)


def set_registered_commands(app: typer.Typer, commands: Sequence[CommandInfo]) -> None:
    """Make `commands` the ones typer builds for `app`."""
    app.registered_commands = list(commands)


def command_name(info: CommandInfo) -> str:
    """The name a registered command is invoked by (typer's rule: dashes for underscores)."""
    if info.name:
        return info.name
    assert info.callback is not None
    return info.callback.__name__.replace("_", "-")


# --- pydantic: plugin discovery --------------------------------------------------------
# pydantic imports its plugin loader when it builds the first model, and the loader
# imports importlib.metadata (and with it the email package, zipfile and csv) to find
# plugins in entry points: about 50M instructions, 6% of `kpictl check`, spent even
# when PYDANTIC_DISABLE_PLUGINS says there are none to find (kpictl.__main__ sets it).

PLUGIN_LOADER = "pydantic.plugin._loader"
# The values of PYDANTIC_DISABLE_PLUGINS that pydantic reads as "no plugins at all".
PLUGINS_OFF = ("__all__", "1", "true")


def skip_plugin_discovery() -> None:
    """While plugins are off, answer pydantic's question for plugins without its loader.

    Call before pydantic builds a model. The stand-in answers what the loader would
    (no plugins); if the variable is changed later, it hands over to the real loader.
    """
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") not in PLUGINS_OFF:
        return
    if PLUGIN_LOADER in sys.modules:
        return
    import types

    stand_in = types.ModuleType(PLUGIN_LOADER)
    stand_in.__doc__ = "kpictl.compat's stand-in while PYDANTIC_DISABLE_PLUGINS is set"
    vars(stand_in)["get_plugins"] = _get_plugins
    sys.modules[PLUGIN_LOADER] = stand_in


def _get_plugins() -> Iterable[Any]:
    """pydantic.plugin._loader.get_plugins, as long as plugins stay off."""
    if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in PLUGINS_OFF:
        return ()
    import importlib

    if getattr(sys.modules.get(PLUGIN_LOADER), "get_plugins", None) is _get_plugins:
        del sys.modules[PLUGIN_LOADER]
    plugins: Iterable[Any] = importlib.import_module(PLUGIN_LOADER).get_plugins()
    return plugins


# --- email: the generator's line writer --------------------------------------------------

_GENERATOR: type[Any] | None = None


def message_bytes(msg: EmailMessage, policy: Policy) -> bytes:
    """The bytes of `msg` under `policy`: what msg.as_bytes(policy=policy) gives, faster.

    BytesGenerator's private _write_lines writes every line and every line end
    separately (hundreds of calls per part); joining the same lines with the same line
    end in one write gives the same bytes. Without it (a newer Python), the stock
    generator writes them.
    """
    from io import BytesIO

    stream = BytesIO()
    _generator()(stream, mangle_from_=False, policy=policy).flatten(msg, unixfrom=False)
    return stream.getvalue()


def _generator() -> type[Any]:
    global _GENERATOR
    if _GENERATOR is None:
        import re
        from email.generator import BytesGenerator

        if not hasattr(BytesGenerator, "_write_lines"):  # pragma: no cover - untested Python
            _GENERATOR = BytesGenerator
            return _GENERATOR
        line_end = re.compile(r"\r\n|\r|\n")  # email.generator.NLCRE

        class Generator(BytesGenerator):
            def _write_lines(self, lines: str) -> None:
                if lines:
                    assert self.policy is not None  # flatten() sets it
                    self.write(self.policy.linesep.join(line_end.split(lines)))

        _GENERATOR = Generator
    return _GENERATOR


# --- ruamel.yaml: fmt's round trip -------------------------------------------------------
# fmt loads with libyaml's C parser (the private _ruamel_yaml module) under ruamel's
# round-trip constructor, places every comment itself in ruamel's comment slots, and
# writes through ruamel's emitter with one bug fixed.


def c_parser(text: str) -> Any:
    """libyaml's event parser over `text` (call .dispose() when done)."""
    from _ruamel_yaml import CParser

    return CParser(text)


_LOADER: type[Any] | None = None


def fast_load(text: str) -> list[Any]:
    """Round-trip documents of `text` (None for empty ones), built from C parser events.

    ruamel offers the C parser only with its safe constructor; this joins it to the
    round-trip one the way ruamel's own loaders are put together.
    """
    loader = _loader()(text)
    try:
        docs = []
        while loader.check_data():
            docs.append(loader.get_data())
    finally:
        loader.dispose()
    return docs


def _loader() -> type[Any]:
    global _LOADER
    if _LOADER is None:
        from _ruamel_yaml import CParser
        from ruamel.yaml.constructor import RoundTripConstructor
        from ruamel.yaml.resolver import VersionedResolver

        class Loader(CParser, RoundTripConstructor, VersionedResolver):  # type: ignore[misc]
            comment_handling = None

            def __init__(self, stream: str) -> None:
                CParser.__init__(self, stream)
                self._parser = self._composer = self
                RoundTripConstructor.__init__(self, preserve_quotes=True, loader=self)
                VersionedResolver.__init__(self, version=(1, 2), loader=self)

        _LOADER = Loader
    return _LOADER


_EMITTER: type[Any] | None = None


def fixed_emitter() -> type[Any]:
    """ruamel's round-trip emitter, with one line-break bug fixed.

    After an end-of-line comment that follows a flow collection (`- {kpi: x}  # note`),
    ruamel keeps a "no line break yet" flag set, so in a list whose key also has an
    end-of-line comment the next block item's second key lands on the first key's line.
    The comment ends the line, so the flag is cleared.
    """
    global _EMITTER
    if _EMITTER is None:
        from ruamel.yaml.emitter import RoundTripEmitter
        from ruamel.yaml.events import MappingEndEvent, SequenceEndEvent

        class Emitter(RoundTripEmitter):
            def write_post_comment(self, event: Any) -> bool:
                written = bool(super().write_post_comment(event))
                if written and isinstance(event, MappingEndEvent | SequenceEndEvent):
                    self.no_newline = False
                return written

        _EMITTER = Emitter
    return _EMITTER


def positions(node: Any) -> dict[Any, list[int]]:
    """Where each key (mapping) or item (list) of a loaded `node` is, 0-based.

    A mapping's entries are [key line, key column, value line, value column]; a list's
    [line, column].
    """
    data: dict[Any, list[int]] = node.lc.data
    return data


def set_fold_positions(value: Any, offsets: list[int]) -> None:
    """Make a folded scalar (`>`) break its lines at `offsets` into its text when written."""
    value.fold_pos = offsets


def attached_comments(node: Any) -> Iterable[Any]:
    """What ruamel attached to `node` itself: comment tokens, strings and lists of them."""
    ca = node.ca
    yield ca.comment
    yield from ca.items.values()
    yield ca.end


def clear_comments(node: Any) -> None:
    """Drop the comments attached to `node` itself, keeping block scalar header comments."""
    ca = node.ca
    ca.comment = None
    ca.end = []
    kept = {}
    for key, value in ca.items.items():
        # A block scalar's header comment (`key: >-  # note`) sits in slot 3 as plain
        # strings, and ruamel writes it back itself; slot 3 may also hold tokens.
        header = value[3] if isinstance(value, list) and len(value) > 3 else None
        if header and all(isinstance(item, str) for item in header):
            kept[key] = [None, None, None, header]
    ca.items.clear()
    ca.items.update(kept)


def comment_tokens(texts: Sequence[str], column: int) -> list[Any]:
    """Comment lines (a "" is a blank line) as ruamel writes them, at `column`."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    return [
        CommentToken(f"{text}\n" if text else "\n", CommentMark(column if text else 0))
        for text in texts
    ]


def set_key_comments(
    container: Any,
    key: Any,
    before: list[str],
    column: int,
    eol: tuple[int, str] | None,
    is_item: bool,
) -> None:
    """Comment lines above an entry of `container`, and one at the end of its line."""
    slots = container.ca.items.setdefault(key, [None, None, None, None])
    if before:
        slots[1] = comment_tokens(before, column)
    if eol is not None:
        from ruamel.yaml.error import CommentMark
        from ruamel.yaml.tokens import CommentToken

        slots[0 if is_item else 2] = CommentToken(eol[1] + "\n", CommentMark(eol[0]))


def set_header_comments(doc: Any, texts: list[str]) -> None:
    """Comment lines at the top of a document."""
    doc.ca.comment = [None, comment_tokens(texts, 0)]


def set_end_comments(node: Any, texts: list[str], column: int) -> None:
    """Comment lines after the last entry of a collection."""
    # ruamel only writes end comments of a collection that has a comment list.
    if node.ca.comment is None:
        node.ca.comment = [None, None]
    node.ca.end = comment_tokens(texts, column)
