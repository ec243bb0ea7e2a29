"""Deployment benchmark (run by hand): `.venv/bin/python bench/deploy.py [--clients 8]`.

For the process and docker targets: seconds from deploy() to the first successful score, next to a
baseline measured in the same run (a bare server start: `python -m jupyter_mlops.serving` for
process, `docker run` of the same image for docker, each until its first score); and, with
--clients threads scoring in a loop on 127.0.0.1, the requests that failed during an update.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jupyter_mlops as mlops  # noqa: E402
from jupyter_mlops.appdir import write_app_dir  # noqa: E402
from jupyter_mlops.images.smoke import run_container  # noqa: E402
from jupyter_mlops.local_server import free_port, start_process, stop_process  # noqa: E402
from tests.modelfactory import onnx_logreg  # noqa: E402
from tests.services import ensure_base_image  # noqa: E402

BODY = {"data": [[0.1] * 20]}


def first_score(url: str, key: str | None = None, timeout: float = 120) -> float:
    start, deadline = time.monotonic(), time.monotonic() + timeout
    headers = {"authorization": f"Bearer {key}"} if key else {}
    while time.monotonic() < deadline:
        try:
            if httpx.post(url, json=BODY, headers=headers, timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise TimeoutError(url)


def load(url: str, clients: int, stop: threading.Event) -> dict[str, int]:
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()

    def worker() -> None:
        deadline = time.monotonic() + 120
        with httpx.Client(timeout=10) as c:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    ok = c.post(url, json=BODY).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    counts["ok" if ok else "failed"] += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    stop.wait()
    for t in threads:
        t.join()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-deploy-"))
    mlops.use_workspace(work / "ws")
    ws = mlops.get_workspace()
    ws.base_image = ensure_base_image()
    m1 = mlops.register_model(onnx_logreg(work / "a.onnx", seed=0), "lr")
    m2 = mlops.register_model(onnx_logreg(work / "b.onnx", seed=1), "lr")
    images = [mlops.build_image("lr-svc", m, progress=False) for m in (m1, m2)]
    rows = []
    for target in ("process", "docker"):
        # baseline: the bare server, started by hand
        port = free_port()
        if target == "process":
            app = work / f"bare-{port}"
            write_app_dir(ws, [m1], app, port=port, workers=1)
            t0 = time.monotonic()
            proc = start_process(app, app / "log")
            first_score(f"http://127.0.0.1:{port}/score")
            base = time.monotonic() - t0
            stop_process(proc.pid)
        else:
            t0 = time.monotonic()
            container = run_container(images[0], port, env={"MLOPS_WORKERS": "1"})
            first_score(f"http://127.0.0.1:{port}/score")
            base = time.monotonic() - t0
            container.remove(force=True)
        t0 = time.monotonic()
        dep = mlops.deploy(f"bench-{target}", images[0], target=target, auth=False)
        first_score(dep.scoring_uri)
        ours = time.monotonic() - t0
        stop = threading.Event()
        result: dict[str, dict[str, int]] = {}
        loader = threading.Thread(target=lambda: result.setdefault("c", load(dep.scoring_uri, args.clients, stop)))
        loader.start()
        time.sleep(1.0)
        t0 = time.monotonic()
        mlops.update_deployment(f"bench-{target}", images[1])
        update_s = time.monotonic() - t0
        time.sleep(1.0)
        stop.set()
        loader.join()
        mlops.undeploy(f"bench-{target}")
        rows.append((target, ours, base, update_s, result["c"]))
    print(f"{'target':<8} {'deploy->first score s':>22} {'bare start s':>13} {'ratio':>7} {'update s':>9} "
          f"{'requests during update':>23} {'failed':>7}")
    for target, ours, base, update_s, c in rows:
        print(f"{target:<8} {ours:>22.2f} {base:>13.2f} {ours / base:>6.2f}x {update_s:>9.2f} {c['ok'] + c['failed']:>23,} {c['failed']:>7}")


if __name__ == "__main__":
    main()
