"""Endpoint benchmark (run by hand): `.venv/bin/python bench/endpoint.py [--duration 5] [--repeat 5]`.

wrk (Debian) sends single-row requests at 1, 8 and 64 connections to one deployment (our server,
its workers, the endpoint's key) directly, and through its endpoint (nginx: front and router, see
jupyter_mlops/endpoints/nginx.py) in the same run, interleaved in alternating order; each cell is the
median of the runs. Ratios are through the endpoint against direct. Beside them: nginx's CPU time per
request (both instances, masters and workers) and the server's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from serve import cpu_seconds, wrk  # noqa: E402

import jupyter_mlops as mlops  # noqa: E402
from jupyter_mlops.endpoints.nginx import Nginx  # noqa: E402
from jupyter_mlops.store.schema import deployments  # noqa: E402
from tests.modelfactory import onnx_logreg  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", os.cpu_count() or 1))


def nginx_cpu(ws: mlops.Workspace, endpoint: str) -> float:
    home = ws.state_dir / "endpoints" / endpoint
    return sum(cpu_seconds(pid) for part in ("front", "router") if (pid := Nginx(home / part).pid()))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--conns", default="1,8,64")
    args = parser.parse_args()
    conns = [int(c) for c in args.conns.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-endpoint-"))
    ws = mlops.Workspace.embedded(work / "ws", source="bench")
    model = mlops.register_model(onnx_logreg(work / "lr.onnx"), "lr", workspace=ws)
    image = mlops.build_image("svc", model, docker=False, progress=False, workspace=ws)
    ep = mlops.create_endpoint("bench", target="process", workspace=ws)
    try:
        dep = mlops.deploy("blue", image, endpoint="bench", workers=WORKERS, workspace=ws)
        mlops.set_traffic("bench", {"blue": 100}, workspace=ws)
        with ws.metadata.read() as conn:
            server_pid = conn.execute(deployments.select().where(deployments.c.name == "blue")).one().handle["pid"]
        key = mlops.get_endpoint_keys("bench", workspace=ws)["primary"]
        body = '{"data": [[' + ", ".join(["0.1"] * 20) + "]]}"
        urls = {"direct": dep.scoring_uri, "endpoint": ep.scoring_uri}
        runs: dict[tuple[str, int], list[dict[str, float]]] = {}
        for i in range(args.repeat):
            for c in conns:
                order = list(urls.items())
                for name, url in order[::-1] if i % 2 else order:
                    server_before, nginx_before = cpu_seconds(server_pid), nginx_cpu(ws, "bench")
                    run = wrk(url, body, c, args.duration, key)
                    requests = max(run["rps"] * args.duration, 1)
                    run["server_us"] = (cpu_seconds(server_pid) - server_before) / requests * 1e6
                    run["nginx_us"] = (nginx_cpu(ws, "bench") - nginx_before) / requests * 1e6
                    runs.setdefault((name, c), []).append(run)
        cell = {k: {**sorted(v, key=lambda r: r["rps"])[len(v) // 2],
                    "server_us": statistics.median(r["server_us"] for r in v),
                    "nginx_us": statistics.median(r["nginx_us"] for r in v)} for k, v in runs.items()}
        print(f"\nrequests/s through the endpoint (nginx front + router) against the deployment direct; {WORKERS} "
              f"server worker(s), median of {args.repeat} interleaved {args.duration} s runs")
        print(f"{'conns':>5} {'direct':>9} {'endpoint':>9} {'ratio':>6} {'p99 direct':>11} {'p99 endpoint':>13} "
              f"{'nginx us/req':>13} {'server us/req':>14} {'errors':>7}")
        for c in conns:
            d, e = cell[("direct", c)], cell[("endpoint", c)]
            errors = d["errors"] + e["errors"]
            print(f"{c:>5} {d['rps']:>9.0f} {e['rps']:>9.0f} {e['rps'] / d['rps']:>6.2f} {d['p99']:>9.2f}ms "
                  f"{e['p99']:>11.2f}ms {e['nginx_us']:>13.1f} {e['server_us']:>14.1f} {errors:>7.0f}")
    finally:
        mlops.delete_endpoint("bench", workspace=ws)
    return 0


if __name__ == "__main__":
    sys.exit(main())
