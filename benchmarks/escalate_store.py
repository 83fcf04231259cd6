"""Benchmark `kpictl escalate --send` against the store: 2,000 KPIs, 2,000 open escalations.

Generates a clean registry of N KPIs (check_large.py's generator) whose every KPI misses
its target, points email.smtp at a local SMTP server (a minimal one in a thread of
this process, counting messages and connections), and times whole kpictl processes:

1. `escalate --send` with an empty store: N new escalations, N emails;
2. the same run an hour later, nothing changed: N open escalations, zero emails;
3. every KPI back on track: N open escalations closed, N resolved notes.

Prints wall time, messages and SMTP connections of each.

    python benchmarks/escalate_store.py                 # N=2000
    python benchmarks/escalate_store.py --kpis 200

Targets: a sending run under 15 s on one SMTP connection; the rerun under 3 s, no email.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    import check_large
finally:
    sys.path.pop(0)

AS_OF = "2026-11-20"


class Counter:
    """A minimal SMTP server on 127.0.0.1 (a thread per connection) that accepts every
    message and counts messages and connections.

    Not aiosmtpd: its asyncio parsing takes 3-4 ms a message, which would time the
    server rather than kpictl.
    """

    def __init__(self) -> None:
        self.messages = 0
        self.connections = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = int(self.listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            stream.write(b"220 bench\r\n")
            stream.flush()
            while line := stream.readline():
                verb = line[:4].upper()
                if verb == b"DATA":
                    stream.write(b"354 go\r\n")
                    stream.flush()
                    while stream.readline() not in (b".\r\n", b""):
                        pass
                    self.messages += 1
                    stream.write(b"250 accepted\r\n")
                elif verb == b"QUIT":
                    stream.write(b"221 bye\r\n")
                    stream.flush()
                    return
                elif verb == b"EHLO":
                    stream.write(b"250-bench\r\n250 8BITMIME\r\n")
                else:
                    stream.write(b"250 ok\r\n")
                stream.flush()

    def stop(self) -> None:
        self.listener.close()


def values(root: Path, factor_increase: float, factor_decrease: float, name: str) -> Path:
    """An actuals CSV: every KPI's Q4 target times a factor (by its direction)."""
    rows = ["kpi,period,value,as_of"]
    target = re.compile(r"period: 2026-Q4, value: ([0-9.]+)")
    for file in sorted((root / "kpis").rglob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        kpi, direction = check_large._KPI_ID.search(text), check_large._KPI_DIRECTION.search(text)
        value = target.search(text)
        if kpi and direction and value:
            factor = factor_increase if direction[1] == "increase" else factor_decrease
            rows.append(f"{kpi[1]},2026-Q4,{float(value[1]) * factor:.2f},{AS_OF}")
    path = root.parent / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def timed(args: list[str], handler: Counter) -> tuple[float, int, int, str]:
    before = (handler.messages, handler.connections)
    env = {k: v for k, v in os.environ.items() if k != "KPICTL_STORE"}
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
    return (wall, handler.messages - before[0], handler.connections - before[1], last)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kpis", type=int, default=2000)
    options = parser.parse_args()
    handler = Counter()
    port = handler.port
    folder = Path(tempfile.mkdtemp(prefix="kpictl-escalate-bench-"))
    try:
        root = folder / "registry"
        check_large.generate_registry(root, options.kpis)
        settings = root / "kpictl.yaml"
        text = re.sub(r"(?ms)^email:.*?(?=^\S|\Z)", "", settings.read_text(encoding="utf-8"))
        settings.write_text(
            text + 'email:\n  from: "KPI Desk <desk@bench.example>"\n'
            f"  smtp: {{host: 127.0.0.1, port: {port}, starttls: false, timeout: 30}}\n",
            encoding="utf-8",
        )
        missing = values(root, 0.5, 1.5, "missing.csv")
        back = values(root, 1.2, 0.8, "back.csv")
        kpictl = [sys.executable, "-m", "kpictl", "escalate", str(root), "--send"]
        runs = [
            ("send: N new escalations", [*kpictl, "-a", str(missing), "--as-of", AS_OF]),
            ("rerun, nothing changed", [*kpictl, "-a", str(missing), "--as-of", f"{AS_OF}T10:00"]),
            ("send: N resolved (N open)", [*kpictl, "-a", str(back), "--as-of", f"{AS_OF}T11:00"]),
        ]
        print(f"kpictl escalate --send, N={options.kpis} KPIs, store {root}/.kpictl/store.db")
        print(f"{'run':<28} {'wall s':>7} {'emails':>7} {'SMTP connections':>17}  last line")
        for label, args in runs:
            wall, sent, connections, last = timed(args, handler)
            print(f"{label:<28} {wall:7.2f} {sent:7d} {connections:17d}  {last[:60]}")
    finally:
        handler.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
