"""The template environment for status tables and emails: the one sandboxed environment,
the registry's override folder first, and the helpers the shipped templates call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kpictl.display import text_table
from kpictl.templating.limits import checked_table
from kpictl.templating.render import environment, registry_environment

if TYPE_CHECKING:
    from jinja2 import Environment

    from kpictl.registry.registry import Registry


def environment_for(registry: Registry | None) -> Environment:
    env = registry_environment(registry) if registry is not None else environment()
    # Rows padded to the widest cell: bounded when the environment has overrides.
    env.globals["table"] = checked_table(text_table)
    # One run renders the same templates thousands of times and they do not change
    # meanwhile: skip the modification-time check of every template (and every import).
    env.auto_reload = False
    return env
