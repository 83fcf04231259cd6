"""The output formats of each command: the one list, which the `--format` options use.

Kept free of imports beyond `enum`: the CLI builds its `--format` options from these
before it knows which renderer it will need, and `kpictl check` must not load the
map or email code to list its choices. Typer lists the values in --help and rejects
any other value with click's usual "Invalid value for '-f' / '--format'" (exit 2).
"""

import enum


class CheckFormat(enum.StrEnum):
    text = "text"
    json = "json"
    github = "github"
    sarif = "sarif"
    junit = "junit"


class StatusFormat(enum.StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"
    csv = "csv"
    html = "html"


class MapFormat(enum.StrEnum):
    text = "text"
    markdown = "markdown"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"
    html = "html"


class WhoFormat(enum.StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class ExperimentsFormat(enum.StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class DiffFormat(enum.StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class ChangelogFormat(enum.StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class DrillFormat(enum.StrEnum):
    text = "text"
    json = "json"


class PullFormat(enum.StrEnum):
    text = "text"
    json = "json"
