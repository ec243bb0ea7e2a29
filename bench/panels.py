"""What the notebook panels' polling costs (run by hand): `.venv/bin/python bench/panels.py`.

A process deployment with collection on; each panel refreshes back to back for a few seconds:
- DeploymentPanel (every 2 s in use): the server's CPU time per refresh (from /proc, less the same
  server's idle CPU over the same wall time) and the kernel's CPU time per refresh;
- DeploymentList (every 5 s): the same, per listed deployment;
- LiveDashboard (every 5 s): the kernel's CPU time per refresh with nothing new (parsed objects
  are kept; an unchanged window is not redrawn), when records arrived (a redraw), and with every
  object re-read and redrawn (no cache), at two amounts of collected data. It sends the server
  nothing: it reads the artifact store.
Requests per minute a panel causes on the server follow from the interval: one GET /ready a refresh.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jupyter_mlops as mlops  # noqa: E402
from jupyter_mlops.widgets import DeploymentList, DeploymentPanel, LiveDashboard  # noqa: E402
from tests.modelfactory import onnx_logreg, training_data  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """utime + stime of a process and its children that were waited for, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICK


def server_pids(port: int) -> list[int]:
    """The server processes of a process deployment (found by the port on their command line's config)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "jupyter_mlops.serving" in cmd:
            cfg = cmd.split("--config", 1)[-1].strip()
            try:
                if f'"port": {port}' in Path(cfg).read_text():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def per_refresh(refresh, seconds: float, pids: list[int]) -> tuple[int, float, float]:  # type: ignore[no-untyped-def]
    """(refreshes, kernel CPU ms per refresh, server CPU ms per refresh beyond idle)."""
    idle0 = sum(cpu_s(p) for p in pids)
    time.sleep(seconds)
    idle = sum(cpu_s(p) for p in pids) - idle0
    server0, kernel0, n = sum(cpu_s(p) for p in pids), time.process_time(), 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        refresh()
        n += 1
    kernel = time.process_time() - kernel0
    server = sum(cpu_s(p) for p in pids) - server0 - idle
    return n, kernel / n * 1000, max(server, 0.0) / n * 1000


def traffic(dep: mlops.Deployment, rows: int) -> None:
    key = mlops.get_keys(dep.name)["primary"]
    data = training_data(20, rows=rows, seed=4)[0]
    with httpx.Client(headers={"authorization": f"Bearer {key}"}) as http:
        for i in range(0, rows, 10):  # ten rows a request
            assert http.post(dep.scoring_uri, json={"data": data[i:i + 10].tolist()}).status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-panels-"))
    mlops.use_workspace(root / "ws")
    train = pd.DataFrame(training_data(20, rows=1000)[0], columns=[f"f{i}" for i in range(20)])
    model = mlops.register_model(onnx_logreg(root / "lr.onnx"), "lr", baseline=train)
    dep = mlops.deploy("bench", mlops.build_image("lr-svc", model, docker=False), target="process", collect=True)
    try:
        pids = server_pids(int(dep.scoring_uri.rsplit(":", 1)[1].split("/")[0]))
        print(f"server processes: {pids}\n")
        print("| panel | refreshes | kernel CPU / refresh | server CPU / refresh | server requests / min in use |")
        print("|---|---|---|---|---|")
        panel = DeploymentPanel("bench", poll=False)
        n, kernel, server = per_refresh(panel.refresh, args.seconds, pids)
        print(f"| DeploymentPanel | {n} | {kernel:.1f} ms | {server:.2f} ms | {60 / DeploymentPanel.poll_interval:.0f} |")
        table = DeploymentList(poll=False).table
        n, kernel, server = per_refresh(table.refresh, args.seconds, pids)
        print(f"| DeploymentList (1 deployment) | {n} | {kernel:.1f} ms | {server:.2f} ms | {60 / table.poll_interval:.0f} |")
        for rows in (1_000, 10_000):
            traffic(dep, rows - (0 if rows == 1_000 else 1_000))
            board = LiveDashboard("bench", poll=False)
            deadline = time.monotonic() + 30
            while board.controls.requests * 10 < rows - 10 and time.monotonic() < deadline:
                time.sleep(0.5)
                board.refresh()
            n, kernel, server = per_refresh(board.refresh, args.seconds, pids)
            print(f"| LiveDashboard, {rows} rows, nothing new | {n} | {kernel:.1f} ms | {server:.2f} ms | 0 |")

            def redraw() -> None:  # as when records arrived since the last refresh
                board.controls._seen = ()
                board.refresh()

            n, kernel, server = per_refresh(redraw, args.seconds, pids)
            print(f"| LiveDashboard, {rows} rows, new records: redrawn | {n} | {kernel:.1f} ms | {server:.2f} ms | 0 |")

            def uncached() -> None:  # what each refresh cost without the kept objects and the check
                board.controls.cache.clear()
                redraw()

            n, kernel, server = per_refresh(uncached, args.seconds, pids)
            print(f"| LiveDashboard, {rows} rows, all re-read and redrawn | {n} | {kernel:.1f} ms | {server:.2f} ms | 0 |")
            board.close()
    finally:
        mlops.undeploy("bench")


if __name__ == "__main__":
    main()
