"""The one Jinja environment: sandboxed, strict, with registry overrides first.

All wording kpictl renders (maps, emails) lives in templates. A registry may
override any of them by placing a file of the same name in the folder named by
`templates:` in kpictl.yaml; those files come from users, so every template runs
in Jinja's immutable sandbox and an undefined variable is an error, not a blank.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

    from kpictl.registry import Registry


def default_templates() -> Path:
    """The shipped templates: inside the installed package, or at the top of a checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "templates"
    return installed if installed.is_dir() else here.parent / "templates"


def override_folder(registry: Registry) -> Path | None:
    """The registry's own template folder, when kpictl.yaml names one."""
    if not registry.settings.templates:
        return None
    return (registry.root / registry.settings.templates).resolve()


def _autoescape(name: str | None) -> bool:
    return bool(name) and any(
        part in ("html", "htm", "xml", "svg") for part in str(name).split(".")
    )


def environment(overrides: Path | None = None) -> Environment:
    """A sandboxed environment that looks in `overrides` first, then the shipped templates."""
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    loaders = [FileSystemLoader(str(default_templates()))]
    if overrides is not None:
        loaders.insert(0, FileSystemLoader(str(overrides)))
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=_autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from kpictl.escaping import FILTERS

    # Escapes for the languages autoescape does not cover: md, mermaid, dot, plain...
    env.filters.update(FILTERS)
    return env


def render(env: Environment, name: str, **context: Any) -> str:
    """Render one template by name."""
    return env.get_template(name).render(**context)
