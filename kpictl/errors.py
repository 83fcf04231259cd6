"""Errors that stop a command (as opposed to findings, which are reported)."""


class KpictlError(Exception):
    """A problem the user can fix; printed as one line on stderr, no traceback.

    Exit code 2 means kpictl could not run (no registry, bad arguments, an
    unreadable file outside the registry); commands may use 1 for a refusal
    that is the answer itself (an unknown KPI id, an unsigned charter).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
