"""Count the instructions `kpictl check` spends on a registry, with valgrind's callgrind.

Wall time on a shared machine swings by a third; instruction counts move by a few
per cent (hash seeds, addresses), so the script runs callgrind several times and
prints every count with the median and the lowest. Compare two installs in one call
(`--python A --python B`): their runs are interleaved, so a busy minute hits both.

Measure a regular install (`pip install .`, not -e), from a folder outside the
repository, with bytecode compiled: the script runs each interpreter once untimed,
with PYTHONDONTWRITEBYTECODE removed, so the compiled files exist before counting.

    python benchmarks/check_instructions.py --python /path/to/venv/bin/python
    python benchmarks/check_instructions.py --python OLD/bin/python --python NEW/bin/python \
        --runs 7 registry/
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_COLLECTED = re.compile(r"Collected : (\d+)")


def count(python: str, registry: Path, scratch: Path, env: dict[str, str]) -> int:
    """Instructions of one `python -m kpictl check REGISTRY` under callgrind."""
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={scratch / 'callgrind.out'}",
            python,
            "-m",
            "kpictl",
            "check",
            str(registry),
        ],
        cwd=scratch,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = _COLLECTED.search(done.stderr)
    if found is None or done.returncode not in (0, 1):
        raise SystemExit(f"error: callgrind run of {python} failed:\n{done.stderr[-2000:]}")
    return int(found[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("registry", nargs="?", type=Path, default=REPO_ROOT / "registry")
    parser.add_argument(
        "--python",
        action="append",
        required=True,
        metavar="PYTHON",
        help="the interpreter of an install to measure; repeat to compare installs",
    )
    parser.add_argument("--runs", type=int, default=5, help="callgrind runs per install")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("error: valgrind is not installed (apt-get install valgrind)")
    registry = args.registry.resolve()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    counts: dict[str, list[int]] = {python: [] for python in args.python}
    with tempfile.TemporaryDirectory(prefix="kpictl-instructions-") as folder:
        scratch = Path(folder)
        for python in args.python:  # compiles the bytecode, untimed
            subprocess.run(
                [python, "-m", "kpictl", "check", str(registry)],
                cwd=scratch,
                env=env,
                capture_output=True,
                check=False,
            )
        for _ in range(args.runs):
            for python in args.python:
                counts[python].append(count(python, registry, scratch, env))
    for python, found in counts.items():
        listed = ", ".join(f"{n / 1e6:.1f}M" for n in found)
        print(
            f"{python}: median {statistics.median(found) / 1e6:.1f}M, "
            f"lowest {min(found) / 1e6:.1f}M ({listed})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
