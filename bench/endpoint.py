"""Endpoint benchmark (run by hand): `.venv/bin/python bench/endpoint.py [--shape pinned|shared] [--duration 5]
[--repeat 5] [--conns 1,8,64]`.

wrk (Debian) sends single-row requests (logistic regression) at 1, 8 and 64 connections to one deployment
(our server, its workers, the endpoint's key) directly, and through its endpoint (one nginx, see
jupyter_mlops/endpoints/nginx.py) in the same run, interleaved in alternating order; each cell is the median
of the runs. Ratios are through the endpoint against direct. Beside them, CPU time per request: nginx's
(master and workers), the server's (all its workers), wrk's, and the whole machine's (every process, the
kernel's network work included), which is what the proxy really costs.

Two shapes:

- ``pinned`` (default): the server's workers have cores of their own (the upper half: one worker on core 1
  of a 2-core machine) and wrk and nginx share the rest. That is how an endpoint runs in production: the
  proxy in front (an ingress, a load balancer, a sidecar) does not take CPU from the model servers, and the
  clients are elsewhere. The ratio then says whether the proxy limits what the server delivers, and what it
  adds to latency. It does not say what the proxy costs in CPU: read that in the CPU columns (machine
  endpoint minus machine direct). On a small VM the pinned direct runs are also slowed by every request
  crossing cores (wrk on one, the server on the other), which nginx's kept-alive upstream connections partly
  hide: ratios above 1 at 8 and 64 connections are that, not the proxy making the server faster. The former
  two-nginx design also reached 1.0 in this shape.
- ``shared``: no pinning, as many server workers as cores, so wrk, nginx and the server compete for the same
  CPUs (the benchmark's only shape before). There every microsecond nginx spends is taken from the server:
  the ratio tends to (machine CPU per request direct) / (machine CPU per request through the endpoint),
  however well the proxy does its part; with a 5 us model a proxy hop is a third of the work.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from serve import cpu_seconds, wrk  # noqa: E402

import jupyter_mlops as mlops  # noqa: E402
from jupyter_mlops.endpoints.nginx import Nginx  # noqa: E402
from jupyter_mlops.store.schema import deployments  # noqa: E402
from tests.modelfactory import onnx_logreg  # noqa: E402

PARTS = ("nginx", "front", "router")  # front and router: an endpoint of the two-instance design, for comparisons


def nginx_pids(ws: mlops.Workspace, endpoint: str) -> list[int]:
    home = ws.state_dir / "endpoints" / endpoint
    return [pid for part in PARTS if (pid := Nginx(home / part).pid())]


def family(pid: int) -> list[int]:
    return [pid, *(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]


def pin(pids: list[int], cores: set[int]) -> None:
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), cores)


def machine_busy() -> float:
    """Seconds of CPU time the whole machine spent so far (all but idle and iowait)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=("pinned", "shared"), default="pinned")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--conns", default="1,8,64")
    parser.add_argument("--workers", type=int, help="server workers (default: its cores when pinned, else all)")
    args = parser.parse_args()
    conns = [int(c) for c in args.conns.split(",")]
    cores = sorted(os.sched_getaffinity(0))
    server_cores = set(cores[len(cores) // 2:]) if args.shape == "pinned" else set(cores)
    client_cores = set(cores[:len(cores) // 2]) if args.shape == "pinned" else set(cores)
    workers = args.workers or len(server_cores)
    work = Path(tempfile.mkdtemp(prefix="bench-endpoint-"))
    ws = mlops.Workspace.embedded(work / "ws", source="bench")
    model = mlops.register_model(onnx_logreg(work / "lr.onnx"), "lr", workspace=ws)
    image = mlops.build_image("svc", model, docker=False, progress=False, workspace=ws)
    ep = mlops.create_endpoint("bench", target="process", workspace=ws)
    try:
        dep = mlops.deploy("blue", image, endpoint="bench", workers=workers, workspace=ws)
        mlops.set_traffic("bench", {"blue": 100}, workspace=ws)
        with ws.metadata.read() as conn:
            server_pid = conn.execute(deployments.select().where(deployments.c.name == "blue")).one().handle["pid"]
        time.sleep(1.0)  # every worker up
        pin(family(server_pid), server_cores)
        pin([p for master in nginx_pids(ws, "bench") for p in family(master)], client_cores)
        os.sched_setaffinity(0, client_cores)  # wrk, started from here, too
        key = mlops.get_endpoint_keys("bench", workspace=ws)["primary"]
        body = '{"data": [[' + ", ".join(["0.1"] * 20) + "]]}"
        urls = {"direct": dep.scoring_uri, "endpoint": ep.scoring_uri}
        runs: dict[tuple[str, int], list[dict[str, float]]] = {}
        for i in range(args.repeat):
            for c in conns:
                order = list(urls.items())
                for name, url in order[::-1] if i % 2 else order:
                    nginx = nginx_pids(ws, "bench")  # cpu_seconds counts a master's workers with it
                    before = (cpu_seconds(server_pid), sum(map(cpu_seconds, nginx)), children_cpu(), machine_busy())
                    run = wrk(url, body, c, args.duration, key)
                    after = (cpu_seconds(server_pid), sum(map(cpu_seconds, nginx)), children_cpu(), machine_busy())
                    requests = max(run["rps"] * args.duration, 1)
                    for field, b, a in zip(("server_us", "nginx_us", "wrk_us", "machine_us"), before, after):
                        run[field] = (a - b) / requests * 1e6
                    runs.setdefault((name, c), []).append(run)
        fields = ("server_us", "nginx_us", "wrk_us", "machine_us")
        cell = {k: {**sorted(v, key=lambda r: r["rps"])[len(v) // 2],
                    **{f: statistics.median(r[f] for r in v) for f in fields}} for k, v in runs.items()}
        where = (f"server on core(s) {sorted(server_cores)}, wrk and nginx on {sorted(client_cores)}"
                 if args.shape == "pinned" else "wrk, nginx and the server sharing every core")
        print(f"\nrequests/s through the endpoint (one nginx) against the deployment direct; shape {args.shape}: "
              f"{where}; {workers} server worker(s); median of {args.repeat} interleaved {args.duration} s runs; "
              "CPU us per request (endpoint run, direct run in brackets)")
        print(f"{'conns':>5} {'direct':>8} {'endpoint':>8} {'ratio':>5} {'p99 direct':>10} {'p99 endp.':>9} "
              f"{'nginx':>6} {'server':>13} {'wrk':>11} {'machine':>13} {'errors':>6}")
        for c in conns:
            d, e = cell[("direct", c)], cell[("endpoint", c)]
            print(f"{c:>5} {d['rps']:>8.0f} {e['rps']:>8.0f} {e['rps'] / d['rps']:>5.2f} {d['p99']:>8.2f}ms "
                  f"{e['p99']:>7.2f}ms {e['nginx_us']:>6.1f} {e['server_us']:>6.1f} ({d['server_us']:>4.0f}) "
                  f"{e['wrk_us']:>5.1f} ({d['wrk_us']:>3.0f}) {e['machine_us']:>6.1f} ({d['machine_us']:>4.0f}) "
                  f"{d['errors'] + e['errors']:>6.0f}")
    finally:
        mlops.delete_endpoint("bench", workspace=ws)
    return 0


if __name__ == "__main__":
    sys.exit(main())
