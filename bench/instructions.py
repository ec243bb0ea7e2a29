"""Instructions per request (run by hand; needs Debian's valgrind): `.venv/bin/python bench/instructions.py
[--requests 1000] [--baseline-src DIR] [--payloads "1 row"] [--model lr]`.

On a shared 2-vCPU VM two starts of one server read up to 1.2x apart in requests/s, so a cost of a
few per cent (collection's, or a change to the request path) cannot be told from noise by timing.
This counts instead what a worker of our server executes per request, under valgrind's callgrind
with its cache simulation: with collection off and on, and with --baseline-src the same for another
checkout. One worker process runs under callgrind (the worker of a one-worker server, started as the
supervisor would, without it); after a warm-up its counts are dumped at the end of each phase: idle,
N requests on one keep-alive connection, idle again. Work done per second of wall time (the metrics
snapshot, 4 a second; uvicorn's tick) goes on while requests are served, and under valgrind a request
takes ~50x as long, so that work would land on each request 50x over: the idle phases give its rate,
and what it did during the requests is taken off. The same setting reads within 1 % run to run
(five runs with collection off: 0.3 %; four on: 0.7 %).

Columns: instructions; L1 misses (instruction and data) and last-level misses; and an estimate of
cycles from them, 1 per L1 hit, 5 per last-level hit and 35 per miss there (the model of the iai
benchmark crate: a ranking aid, not a measured time). What it cannot show: the kernel's work (system
calls, the network stack, page faults), what other processes cost through shared caches, and
collection's uploads: its writer seals once an hour here, so they wait for the server to stop
(in reality, once a second, 0.4-0.5 us of CPU a request on another thread). Busy polling after a lone
client's answer, which spins for wall time, is off."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serve import KEY, ours_config, request_payloads  # noqa: E402
from tests.modelfactory import onnx_logreg, onnx_mlp  # noqa: E402
from tests.services import free_port  # noqa: E402

EVENTS = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")
START_S = 900  # a server's start-up under valgrind (imports, onnxruntime's session): minutes on a busy machine
WARM_UP = 100  # requests before counting: first-time work (caches filled, code specialised)
# One worker serving on its own socket, as the supervisor's fork would run it (server.py)
WORKER = ("import sys; from jupyter_mlops.serving.config import ServerConfig; "
          "from jupyter_mlops.serving.server import bind_socket, run_worker; "
          "c = ServerConfig.load(sys.argv[1]); run_worker(c, bind_socket(c.host, c.port))")


MODELS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "lr": ("logistic regression", onnx_logreg),
    "mlp": ("MLP 20-2048-2048-2", lambda path: onnx_mlp(path, hidden=2048)),  # bench/serve.py's
}


def totals(path: Path) -> dict[str, int]:
    """A callgrind dump's totals, by event name (callgrind leaves out trailing zeros)."""
    text = path.read_text()
    events = re.search(r"^events: (.*)$", text, re.M).group(1).split()
    counts = re.search(r"^(?:summary|totals): (.*)$", text, re.M).group(1).split()
    return {**dict.fromkeys(events, 0), **dict(zip(events, map(int, counts)))}


def per_request(busy: dict[str, int], busy_s: float, idle: list[tuple[dict[str, int], float]],
                requests: int) -> dict[str, float]:
    """One request's share of each event: ``busy``'s counts over ``busy_s`` seconds of ``requests``
    requests, less what the ``idle`` phases' (counts, seconds) say went on per second meanwhile;
    and the estimated cycles."""
    idle_s = sum(s for _, s in idle)
    each = {e: (busy[e] - busy_s * sum(c[e] for c, _ in idle) / idle_s) / requests for e in EVENTS}
    l1 = each["I1mr"] + each["D1mr"] + each["D1mw"]
    last = each["ILmr"] + each["DLmr"] + each["DLmw"]
    hits = each["Ir"] + each["Dr"] + each["Dw"] - l1
    return {**each, "l1_misses": l1, "ll_misses": last, "cycles": hits + 5 * (l1 - last) + 35 * last}


def count_phases(pid: int, out: Path, send: Callable[[int], None], requests: int, idle_s: float) -> dict[str, float]:
    """Per-request counts of the callgrind-run process ``pid`` (writing its dumps as ``out``.1,
    .2, ...), ``send(n)`` sending it n requests and returning once they are answered."""
    send(WARM_UP)
    seconds = []
    _dump(pid)
    for phase in ("idle", "busy", "idle"):
        start = time.monotonic()
        if phase == "idle":
            time.sleep(idle_s)
        else:
            send(requests)
        _dump(pid)
        seconds.append(time.monotonic() - start)
    idle1, busy, idle2 = (totals(out.with_name(f"{out.name}.{i}")) for i in (2, 3, 4))
    return per_request(busy, seconds[1], [(idle1, seconds[0]), (idle2, seconds[2])], requests)


def _dump(pid: int) -> None:
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True, timeout=START_S)


def counted_server(model: Path, work: Path, payload: tuple[str, str | bytes, dict[str, str] | None], src: str | None,
                   settings: dict[str, object], requests: int, idle_s: float) -> dict[str, float]:
    port = free_port()
    config = ours_config(model, work, port, busy_poll_us=0, **settings)
    out = config.parent / "callgrind"
    env = {**os.environ, "MLOPS_AUTH_KEYS": KEY, "OPENBLAS_NUM_THREADS": "1",  # (no BLAS pool spinning under valgrind)
           **({"PYTHONPATH": src} if src else {})}
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--cache-sim=yes", f"--callgrind-out-file={out}",
                             sys.executable, "-c", WORKER, str(config)], env=env, cwd=src or ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, proc, "bench/instructions.py")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=START_S)
        path, body, headers = payload
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}", **(headers or {})}

        def send(n: int) -> None:
            for _ in range(n):
                if (answered := status(conn, "POST", path, body, headers)) != 200:
                    sys.exit(f"bench/instructions.py: {path} answered {answered}")

        return count_phases(proc.pid, out, send, requests, idle_s)
    finally:
        proc.terminate()
        proc.wait(START_S)


def wait_ready(port: int, proc: subprocess.Popen[bytes], script: str) -> None:
    """Until the server on ``port`` (run by ``proc``) answers /ready: it listens before the model is
    loaded. Exits with one line naming ``script`` if it dies or takes over START_S."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=START_S)
    deadline = time.monotonic() + START_S
    while status(conn, "GET", "/ready") != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{script}: the server on {port} did not get ready")
        time.sleep(0.3)
    conn.close()


def status(conn: http.client.HTTPConnection, method: str, path: str, body: str | bytes | None = None,
            headers: dict[str, str] | None = None) -> int:
    try:
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        conn.close()  # reconnects on the next request
        return 0


def table(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    width = max(30, *(len(name) for name in rows))
    base = next(iter(rows.values()))
    print(f"{'server':<{width}} {'instr/req':>10} {'vs first':>9} {'L1 miss/req':>12} {'LL miss/req':>12} "
          f"{'est. cycles/req':>16} {'vs first':>9}")
    for name, r in rows.items():
        print(f"{name:<{width}} {r['Ir']:>10,.0f} {r['Ir'] / base['Ir']:>8.3f}x {r['l1_misses']:>12,.0f} "
              f"{r['ll_misses']:>12,.1f} {r['cycles']:>16,.0f} {r['cycles'] / base['cycles']:>8.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000, help="requests counted (after a warm-up of 100)")
    parser.add_argument("--idle", type=float, default=8.0, help="seconds of each idle phase")
    parser.add_argument("--baseline-src", help="another checkout (say, `git archive main | tar -x -C DIR`) to count too")
    parser.add_argument("--payloads", default="1 row", help="which requests (comma-separated): 1 row, 32 rows, v2 binary 32 rows")
    parser.add_argument("--model", choices=sorted(MODELS), default="lr",
                        help="lr: the logistic regression (~5 us a row); mlp: bench/serve.py's 20-2048-2048-2 MLP")
    args = parser.parse_args()
    if args.requests < 1 or args.idle <= 0:
        sys.exit(f"bench/instructions.py: --requests and --idle must be positive (got {args.requests} and {args.idle})")
    row = np.random.default_rng(0).normal(size=20).round(4).tolist()  # bench/serve.py's
    payloads = request_payloads(json.dumps({"data": [row]}))
    chosen = [p.strip() for p in args.payloads.split(",")]
    if unknown := [p for p in chosen if p not in payloads]:
        sys.exit(f"bench/instructions.py: no payload {unknown[0]!r}; choose from {', '.join(payloads)}")
    if shutil.which("callgrind_control") is None:
        sys.exit("bench/instructions.py: needs valgrind (Debian's valgrind package; tools/setup.sh installs it)")
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-instructions-"))
    title, make = MODELS[args.model]
    model = make(work / f"{args.model}.onnx")
    collect = {"collect": True, "collect_store": str(work / "store"), "collect_spool_dir": str(work / "spool"),
               "collect_flush_s": 3600.0, "deployment": "bench"}
    trees = {"": None, **({"baseline, ": args.baseline_src} if args.baseline_src else {})}
    print(f"one worker, {title}, auth and metrics on; {args.requests} requests on one connection, "
          f"after {WARM_UP}, between two idle phases of {args.idle:g} s; callgrind's counts of the worker")
    for label in chosen:
        rows = {}
        for tree, src in trees.items():
            for setting, extra in (("collect off", {}), ("collect on", collect)):
                print(f"  {label}, {tree}{setting}: under callgrind", file=sys.stderr, flush=True)
                rows[f"ours, {tree}{setting}"] = counted_server(model, work, payloads[label], src, extra,
                                                                args.requests, args.idle)
        table(f"{label}: per request, ratios against the first row", rows)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
