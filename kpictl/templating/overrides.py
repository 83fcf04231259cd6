"""A registry's template overrides: listed and read within bounds, never through a link.

The folder named by `templates:` in kpictl.yaml comes with the pull request: it is
walked only so deep and so wide, and each file is read only when it is a regular
file, small enough and UTF-8; anything else is refused (OverrideRefused), not read."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import BaseLoader, Environment, TemplateNotFound
from jinja2.exceptions import (
    TemplateError,
)

# Override files: how many, how large, how deep, how many folder entries to look at.
# kpictl ships about 20 templates, the largest 39 KB (map/page.html.j2); compiling is
# far costlier than reading, so both bounds stay a few times above those.
MAX_TEMPLATES = 100
MAX_TEMPLATE_BYTES = 200_000
MAX_DEPTH = 8
MAX_ENTRIES = 10_000


class OverrideRefused(TemplateError):
    """An override file kpictl will not read (a symlink, not UTF-8, too large)."""

    def __init__(self, message: str, filename: str | None = None) -> None:
        super().__init__(message)
        self.filename = filename


# --------------------------------------------------------------------------------------
# Override files
# --------------------------------------------------------------------------------------


@dataclass
class Listing:
    """The override folder's templates by name, and the files refused, with why."""

    folder: Path
    templates: dict[str, Path] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


def list_overrides(folder: Path) -> Listing:
    """The `*.j2` files below `folder`, without following a link and within the bounds.

    Hidden files and folders are skipped, as the registry loader does. A symlink is
    refused whatever it points at: following it could leave the registry.
    """
    listing = Listing(folder)
    pending: list[tuple[Path, str, int]] = [(folder, "", 0)]
    seen = 0
    while pending:
        where, prefix, depth = pending.pop()
        try:
            with os.scandir(where) as entries:
                batch = []
                for entry in entries:
                    seen += 1
                    if seen > MAX_ENTRIES:
                        listing.refused[prefix or "."] = (
                            f"the templates folder holds more than {MAX_ENTRIES:,} files "
                            "and folders; the rest were not read"
                        )
                        return listing
                    batch.append(entry)
        except OSError as exc:
            listing.refused[prefix or "."] = f"cannot be read ({exc.strerror or 'error'})"
            continue
        for entry in sorted(batch, key=lambda e: e.name):
            if entry.name.startswith("."):
                continue
            name = prefix + entry.name
            if entry.is_symlink():
                listing.refused[name] = (
                    "is a symbolic link: overrides must be regular files inside the "
                    "templates folder; put the file itself there"
                )
            elif entry.is_dir(follow_symlinks=False):
                if depth + 1 > MAX_DEPTH:
                    listing.refused[name] = f"is nested more than {MAX_DEPTH} folders deep"
                else:
                    pending.append((Path(entry.path), name + "/", depth + 1))
            elif entry.name.endswith(".j2"):
                if not entry.is_file(follow_symlinks=False):
                    listing.refused[name] = "is not a regular file"
                elif len(listing.templates) >= MAX_TEMPLATES:
                    listing.refused[name] = f"is past the first {MAX_TEMPLATES:,} templates"
                else:
                    listing.templates[name] = Path(entry.path)
    return listing


def read_override(path: Path) -> str:
    """One override's source: a regular file read without following a link, bounded."""
    from kpictl.fileio import FileTooLargeError, NotRegularFileError, read_regular

    try:
        data = read_regular(path, MAX_TEMPLATE_BYTES)
    except NotRegularFileError:
        raise OverrideRefused("is not a regular file") from None
    except FileTooLargeError:
        raise OverrideRefused(f"is larger than {MAX_TEMPLATE_BYTES:,} bytes") from None
    except OSError as exc:
        raise OverrideRefused(f"cannot be read ({exc.strerror or 'error'})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise OverrideRefused("is not UTF-8 text") from None


class OverrideLoader(BaseLoader):
    """Loads exactly the listed override files; every other name is not found here."""

    def __init__(self, listing: Listing) -> None:
        self.listing = listing

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = self.listing.templates.get(template)
        if path is None:
            reason = self.listing.refused.get(template)
            if reason is not None:
                raise OverrideRefused(f"{template} {reason}", str(self.listing.folder / template))
            raise TemplateNotFound(template)
        try:
            source = read_override(path)
        except OverrideRefused as exc:
            raise OverrideRefused(f"{template} {exc.message}", str(path)) from None
        # An environment lives for one run, and the files do not change meanwhile.
        return source, str(path), lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self.listing.templates)
