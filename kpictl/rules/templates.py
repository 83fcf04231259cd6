"""M001: template overrides render. Only runs when kpictl.yaml sets `templates:`.

Every `*.j2` file in the override folder is compiled; each one that replaces a
template kpictl renders (an email, a status table) is rendered with sample data
built from this registry, and a partial (a file the others include) is exercised
by rendering the templates beside it. A syntax error, an undefined variable or a
sandbox violation becomes a finding at the template's line.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kpictl.catalog import finding
from kpictl.findings import Finding, Location
from kpictl.registry import display_path
from kpictl.rules.base import Context

# What a user's template can raise while rendering, besides Jinja's own errors.
_RENDER_ERRORS: tuple[type[Exception], ...] = (
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
)


def _line(exc: BaseException, path: Path) -> int | None:
    """The line of `path` where `exc` happened, from Jinja's rewritten traceback."""
    lineno = getattr(exc, "lineno", None)
    filename = getattr(exc, "filename", None)
    if lineno and filename and Path(filename).resolve() == path:
        return int(lineno)
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == path and frame.lineno:
            found = frame.lineno
    return found


def template_error(ctx: Context) -> Iterator[Finding]:
    from kpictl.render import override_folder

    registry = ctx.registry
    folder = override_folder(registry)
    if folder is None:
        return
    # Jinja and the sample data cost ~100 ms to import: only when there are overrides.
    from jinja2 import TemplateError

    from kpictl.emails.env import environment_for
    from kpictl.emails.samples import sample_contexts

    cwd = Path.cwd()
    if not folder.is_dir():
        document = registry.root_document
        where = (
            document.location(("templates",))
            if document is not None
            else Location(display_path(registry.root / "kpictl.yaml", cwd))
        )
        yield finding(
            "M001",
            f"templates: '{registry.settings.templates}' is not a folder in the registry: "
            "create it, or remove the setting to use the shipped templates",
            where,
        )
        return
    files = sorted(path for path in folder.rglob("*.j2") if path.is_file())
    if not files:
        return
    env = environment_for(registry)
    samples = sample_contexts(registry, ctx.today)
    errors: tuple[type[Exception], ...] = (TemplateError, *_RENDER_ERRORS)
    for path in files:
        path = path.resolve()
        name = path.relative_to(folder).as_posix()
        shown = display_path(path, cwd)
        try:
            env.get_template(name)
        except errors as exc:
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
            except errors as exc:
                if target != name and _line(exc, path) is None:
                    continue  # the failure is the other template's own: reported there
                via = "" if target == name else f" (while rendering {target}, which uses it)"
                yield _finding(exc, path, shown, f"{name} fails with sample data{via}")
                break


def _finding(exc: BaseException, path: Path, shown: Path, what: str) -> Finding:
    line = _line(exc, path) or 1
    message: Any = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return finding(
        "M001",
        f"{what}: {type(exc).__name__}: {' '.join(str(message).split())}",
        Location(shown, line, 1),
    )


RULES = (template_error,)
