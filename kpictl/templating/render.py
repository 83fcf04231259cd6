"""The one Jinja environment: sandboxed, strict, with registry overrides first.

All wording kpictl renders (maps, emails) lives in templates. A registry may
override any of them by placing a file of the same name in the folder named by
`templates:` in kpictl.yaml; those files come from whoever wrote the pull request,
so the folder must lie inside the registry, and every template runs in kpictl's
bounded sandbox (kpictl.templating.sandbox) where an undefined variable is an error, not a blank.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any

from kpictl.display import clean
from kpictl.errors import KpictlError

if TYPE_CHECKING:
    from jinja2 import Environment

    from kpictl.registry.registry import Registry


class TemplateFolderError(KpictlError):
    """`templates:` in kpictl.yaml names a folder kpictl will not read templates from."""

    def __init__(self, setting: str, problem: str) -> None:
        self.problem = problem
        shown = clean(setting)[:100]
        super().__init__(f"kpictl.yaml: templates: '{shown}' {problem}")


def default_templates() -> Path:
    """The shipped templates: inside the installed package, or at the top of a checkout."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


def override_folder(registry: Registry) -> Path | None:
    """The registry's own template folder, when kpictl.yaml names one (it may not exist).

    Raises TemplateFolderError when the setting leaves the registry: an absolute path,
    a `..`, or a symbolic link that resolves outside it.
    """
    setting = registry.settings.templates
    if not setting:
        return None
    inside = "name a folder inside the registry, such as templates/"
    if any(not char.isprintable() for char in setting):
        raise TemplateFolderError(setting, f"holds a control character: {inside}")
    windows = PureWindowsPath(setting)
    if PurePosixPath(setting).is_absolute() or windows.drive or windows.root:
        raise TemplateFolderError(setting, f"is an absolute path: {inside}")
    if ".." in PurePosixPath(setting).parts or ".." in windows.parts:
        raise TemplateFolderError(setting, f"goes up with '..': {inside}")
    try:
        root = registry.root.resolve()
        folder = (root / setting).resolve()
    except (OSError, RuntimeError):
        raise TemplateFolderError(
            setting, f"cannot be resolved (a symbolic link loop?): {inside}"
        ) from None
    if not folder.is_relative_to(root):
        raise TemplateFolderError(
            setting, f"leads outside the registry through a symbolic link: {inside}"
        )
    return folder


def _autoescape(name: str | None) -> bool:
    return bool(name) and any(
        part in ("html", "htm", "xml", "svg") for part in str(name).split(".")
    )


def registry_environment(registry: Registry) -> Environment:
    """The environment for a registry: its overrides first, limits sized to it."""
    return environment(override_folder(registry), len(registry.records))


def environment(overrides: Path | None = None, entities: int = 0) -> Environment:
    """A sandboxed environment that looks in `overrides` first, then the shipped templates.

    With overrides, renders are bounded (kpictl.templating.sandbox), more so for a small registry
    of `entities` entities than for a large one.
    """
    from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader

    from kpictl.templating.overrides import OverrideLoader, list_overrides
    from kpictl.templating.sandbox import BoundedSandbox

    loaders: list[BaseLoader] = [FileSystemLoader(str(default_templates()))]
    listing = list_overrides(overrides) if overrides is not None and overrides.is_dir() else None
    if listing is not None:
        # Only the listed files: an include can reach another override or a shipped
        # template, never any other file.
        loaders.insert(0, OverrideLoader(listing))
    env = BoundedSandbox(
        loader=ChoiceLoader(loaders),
        limited=bool(listing and (listing.templates or listing.refused)),
        entities=entities,
        autoescape=_autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from kpictl.display import plural
    from kpictl.templating.escaping import FILTERS

    # Escapes for the languages autoescape does not cover: md, mermaid, dot, plain...
    env.add_filters(FILTERS)
    # The one way every template says "1 day" and "3 days": plural(n, "day"), or
    # plural(n, "person", "people") where the plural is not the word plus s.
    env.globals["plural"] = plural
    return env


def render(env: Environment, name: str, **context: Any) -> str:
    """Render one template by name; a failing template is a TemplateFailure (a KpictlError).

    Output that is not HTML may be printed in a CI log, so no line of it can start a
    workflow command, whatever the registry's values or its template overrides hold.
    """
    from kpictl.templating.escaping import defuse

    text = env.get_template(name).render(**context)
    return text if _autoescape(name) else defuse(text)
