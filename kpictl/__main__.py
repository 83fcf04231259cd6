"""Entry point for `kpictl` and `python -m kpictl`: the one error boundary."""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import sys
from collections.abc import Iterator
from typing import NoReturn

STDOUT_CLOSED = (
    "cannot write the output: standard output is closed; redirect it to a file or /dev/null"
)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; known errors become one line on stderr, bugs a short crash report."""
    # kpictl uses no pydantic plugins; looking for them scans every installed
    # package's entry points on each start. A user who sets the variable wins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from kpictl.compat import skip_plugin_discovery

    skip_plugin_discovery()
    # Loading a registry allocates hundreds of thousands of small objects that live
    # until the end; at the default threshold each full collection walks them all
    # again (0.15-0.3 s of a 2 s check at 2,000 KPIs). mypy does the same.
    gc.set_threshold(100_000, 50, 50)
    from kpictl.cli import COMPLETE_VARIABLE, app, commands_for
    from kpictl.errors import KpictlError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    if sys.stdout is None:
        # Started with file descriptor 1 closed (`kpictl check >&-`): Python then has
        # no sys.stdout at all, and every print would fail as a bug.
        print(f"kpictl: {STDOUT_CLOSED}", file=sys.stderr)
        return 2
    from kpictl.templating.narrow import tolerate

    tolerate(sys.stdout)
    try:
        with commands_for(args), _debug_log(debug):
            result = app(args=args, prog_name="kpictl", standalone_mode=False)
    except KpictlError as exc:
        if debug:
            raise
        print(f"kpictl: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # Standard output that cannot be written (closed, or open read-only) fails
        # the first write that fills the buffer; that is the caller's set-up, not a bug.
        if exc.errno != errno.EBADF or debug:
            raise
        print(f"kpictl: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kpictl: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        # typer's shell-completion options and the shell's completion requests end
        # with sys.exit(); an exit code, like any other command's.
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        # Usage errors from the command-line library (typer's click) know how to show
        # themselves; matched by shape, since typer may vendor its own click.
        exit_code = getattr(exc, "exit_code", None)
        if hasattr(exc, "show") and isinstance(exit_code, int):
            exc.show()
            return exit_code
        if type(exc).__name__ == "Abort":
            print("kpictl: aborted", file=sys.stderr)
            return 1
        if COMPLETE_VARIABLE in os.environ and isinstance(exc, KeyError | ValueError):
            return 0  # a completion request whose COMP_* variables are malformed: no candidates
        if debug:
            raise
        print(
            f"kpictl: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in kpictl. Run again with --debug for the traceback and "
            "report it with that output.",
            file=sys.stderr,
        )
        return 2
    if isinstance(result, int):
        return result
    return 0


@contextlib.contextmanager
def _debug_log(debug: bool) -> Iterator[None]:
    """Under --debug, kpictl's debug log (such as why work ran in one process) on stderr."""
    if not debug:  # logging stays unimported: nothing below debug level is ever logged
        yield
        return
    import logging

    logger = logging.getLogger("kpictl")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("kpictl: debug: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:  # tests run main() many times in one process
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def run() -> NoReturn:
    """The `kpictl` console script: main(), then exit without tearing the heap down.

    A large registry leaves a few hundred thousand objects that the interpreter would
    free one by one on exit (0.1 s at 2,500 files); the operating system takes the
    whole process back at once. There is nothing to clean up by then: files are
    written and closed, and kpictl registers no exit handlers. Tests call main().
    """
    code = main()
    try:
        if sys.stdout is not None:  # main() reported a closed stdout already
            sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader stopped early (`kpictl map | head`): it has what it wanted
    except OSError as exc:
        # The report never reached its reader: findings or not, kpictl could not run.
        print(f"kpictl: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        code = 2
    with contextlib.suppress(OSError):  # nowhere left to report it
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
