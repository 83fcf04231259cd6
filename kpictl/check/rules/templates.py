"""M001: template overrides render. Only runs when kpictl.yaml sets `templates:`.

Every `*.j2` file in the override folder is compiled; each one that replaces a
template kpictl renders (an email, a status table) is rendered with sample data
built from this registry, and a partial (a file the others include) is exercised
by rendering the templates beside it. A syntax error, an undefined variable, a
sandbox violation or a limit passed (kpictl.templating.sandbox) becomes a finding at the
template's line; so does a `templates:` setting that leaves the registry, and a file
in the folder that kpictl will not read (a symlink, a FIFO). The message names the
kind of error, never a value the template computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from kpictl.check.catalog import finding
from kpictl.check.findings import Finding, Location
from kpictl.check.rules.base import Context
from kpictl.registry.registry import display_path

if TYPE_CHECKING:
    from kpictl.templating.sandbox import TemplateFailure


def _setting_location(ctx: Context, cwd: Path) -> Location:
    """Where `templates:` is written in kpictl.yaml."""
    document = ctx.registry.root_document
    if document is not None:
        return document.location(("templates",))
    return Location(display_path(ctx.registry.root / "kpictl.yaml", cwd))


def template_error(ctx: Context) -> Iterator[Finding]:
    from kpictl.templating.render import TemplateFolderError, override_folder

    registry = ctx.registry
    cwd = Path.cwd()
    try:
        folder = override_folder(registry)
    except TemplateFolderError as exc:
        yield finding("M001", str(exc).removeprefix("kpictl.yaml: "), _setting_location(ctx, cwd))
        return
    if folder is None:
        return
    if not folder.is_dir():
        yield finding(
            "M001",
            f"templates: '{registry.settings.templates}' is not a folder in the registry: "
            "create it, or remove the setting to use the shipped templates",
            _setting_location(ctx, cwd),
        )
        return
    # Jinja and the sample data cost ~100 ms to import: only when there are overrides.
    from kpictl.emails.env import environment_for
    from kpictl.emails.samples import sample_contexts
    from kpictl.templating.overrides import list_overrides
    from kpictl.templating.sandbox import TemplateFailure

    listing = list_overrides(folder)
    for name, reason in sorted(listing.refused.items()):
        where = Location(display_path(folder / name, cwd), 1, 1)
        yield finding("M001", f"{name} {reason}", where)
    if not listing.templates:
        return
    env = environment_for(registry)
    samples = sample_contexts(registry, ctx.today)
    for name, path in sorted(listing.templates.items()):
        shown = display_path(path, cwd)
        try:
            env.get_template(name)
        except TemplateFailure as exc:
            yield _finding(exc, path, shown, f"{name} does not compile")
            continue
        if name in samples:
            targets = [name]
        else:
            prefix = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
            targets = [n for n in samples if n.startswith(prefix) and "/" not in n[len(prefix) :]]
        for target in targets:
            try:
                env.get_template(target).render(samples[target])
            except TemplateFailure as exc:
                if target != name and not _in(exc, path):
                    continue  # the failure is the other template's own: reported there
                via = "" if target == name else f" (while rendering {target}, which uses it)"
                yield _finding(exc, path, shown, f"{name} fails with sample data{via}")
                break


def _in(exc: TemplateFailure, path: Path) -> bool:
    return exc.filename is not None and Path(exc.filename) == path


def _finding(exc: TemplateFailure, path: Path, shown: Path, what: str) -> Finding:
    # The kind and Jinja's words only: never a value the template computed (see
    # kpictl.templating.sandbox.describe), which could be a file's content or a secret.
    line = (exc.line or 1) if _in(exc, path) else 1
    return finding("M001", f"{what}: {exc.kind}: {exc.detail}", Location(shown, line, 1))


RULES = {"M001": template_error}
