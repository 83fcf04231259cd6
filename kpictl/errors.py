"""Errors that stop kpictl from running at all (exit 2), as opposed to findings."""


class KpictlError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""

    exit_code = 2
