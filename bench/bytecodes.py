"""Python bytecodes per request, function by function (run by hand): `.venv/bin/python bench/bytecodes.py
[--payload "1 row"] [--conns 1] [--requests 1000] [--top 30] [--model lr]`.

`bench/instructions.py` counts what a worker executes in machine instructions, by C function; most of
them are the interpreter's (about 70 % of a request), which that view cannot put on the Python
function that ran them. This counts the interpreter's own unit instead: one worker of our server runs
with an opcode tracer on its event loop's thread (`sys.settrace`, `f_trace_opcodes`), and after a
warm-up it counts, per function, the bytecodes executed while N requests are served by `--conns`
clients at once (8 lets coalescing batch them, as under load). The tracer slows the worker many times
over, so this says where Python work goes and how much of it, not how long it takes; two runs of one
setting read the same to within a few bytecodes a request. Only the loop's thread is traced: the
collector's writer and onnxruntime's own threads are not."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.instructions import MODELS, status, wait_ready  # noqa: E402
from bench.serve import KEY, ours_config, request_payloads  # noqa: E402
from tests.services import free_port  # noqa: E402

START_S = 120
WARM_UP = 200  # requests before counting: first-time work (imports on first use, caches filled)


class Tally:
    """Bytecodes executed per code object on this thread while on; installed with :meth:`install`."""

    def __init__(self) -> None:
        self.counts: Counter[CodeType] = Counter()
        self.on = False

    def install(self) -> None:
        sys.settrace(self._call)

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return self._opcode

    def _opcode(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode" and self.on:
            self.counts[frame.f_code] += 1
        return self._opcode

    def by_function(self) -> list[tuple[str, int]]:
        """``(file:line name, bytecodes)``, most first; file paths relative to the checkout or site-packages."""
        named: Counter[str] = Counter()
        for code, n in self.counts.items():
            where = code.co_filename.split("site-packages/", 1)[-1].replace(f"{ROOT}/", "")
            named[f"{where}:{code.co_firstlineno} {code.co_name}"] += n
        return named.most_common()


def worker_main(config: str, out: str) -> None:
    """A worker of our server on ``config``, traced: SIGUSR1 clears the counts and starts counting,
    SIGUSR2 stops and writes them to ``out`` as JSON."""
    from jupyter_mlops.serving.config import ServerConfig
    from jupyter_mlops.serving.server import bind_socket, run_worker

    tally = Tally()

    def start(*_: Any) -> None:
        tally.counts.clear()
        tally.on = True

    def stop(*_: Any) -> None:
        tally.on = False
        tmp = Path(f"{out}.tmp")
        tmp.write_text(json.dumps(tally.by_function()))
        tmp.replace(out)  # whole when it appears

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    tally.install()
    c = ServerConfig.load(config)
    run_worker(c, bind_socket(c.host, c.port))


def send(port: int, payload: tuple[str, str | bytes, dict[str, str] | None], conns: int, requests: int) -> None:
    """``requests`` requests from ``conns`` kept-alive connections at once; exits on an answer other than 200."""
    path, body, extra = payload
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}", **(extra or {})}
    failed: list[str] = []

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=START_S)
        for _ in range(n):
            if (answered := status(conn, "POST", path, body, headers)) != 200:
                failed.append(f"{path} answered {answered}")
                return

    threads = [threading.Thread(target=client, args=(requests // conns + (i < requests % conns),)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        sys.exit(f"bench/bytecodes.py: {failed[0]}")


def count(model: Path, work: Path, payload: tuple[str, str | bytes, dict[str, str] | None], conns: int,
          requests: int) -> list[tuple[str, int]]:
    """Bytecodes by function while one traced worker answers ``requests`` requests, after a warm-up."""
    port = free_port()
    config = ours_config(model, work, port, busy_poll_us=0)
    out = work / f"bytecodes-{port}.json"
    proc = subprocess.Popen([sys.executable, __file__, "--worker", str(config), str(out)], cwd=ROOT,
                            env={**os.environ, "MLOPS_AUTH_KEYS": KEY})
    try:
        wait_ready(port, proc, "bench/bytecodes.py")
        send(port, payload, conns, WARM_UP)
        proc.send_signal(signal.SIGUSR1)
        time.sleep(0.2)  # (the handler runs between two bytecodes of the loop's thread)
        send(port, payload, conns, requests)
        proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + START_S
        while not out.exists():
            if time.monotonic() > deadline:
                sys.exit("bench/bytecodes.py: the worker wrote no counts")
            time.sleep(0.1)
        return [(name, n) for name, n in json.loads(out.read_text())]
    finally:
        proc.terminate()
        proc.wait(START_S)


def table(counted: list[tuple[str, int]], requests: int, top: int) -> str:
    """Per request: the total, each module's share, and the ``top`` functions."""
    total = sum(n for _, n in counted)
    modules: Counter[str] = Counter()
    for name, n in counted:
        modules[name.split(":", 1)[0]] += n
    lines = [f"{total / requests:,.0f} bytecodes a request on the loop's thread", "",
             f"{'bytecodes':>10} {'share':>6}  module"]
    shown = [(m, n) for m, n in modules.most_common() if n >= requests]  # a bytecode a request or more
    lines += [f"{n / requests:>10.1f} {n / total:>6.1%}  {m}" for m, n in shown]
    if rest := total - sum(n for _, n in shown):
        lines.append(f"{rest / requests:>10.1f} {rest / total:>6.1%}  (other modules)")
    lines += ["", f"{'bytecodes':>10} {'share':>6}  function (top {top})"]
    lines += [f"{n / requests:>10.1f} {n / total:>6.1%}  {name}" for name, n in counted[:top]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payload", default="1 row", help="one of bench/serve.py's request payloads")
    parser.add_argument("--conns", type=int, default=1, help="clients at once (8: coalesced runs, as under load)")
    parser.add_argument("--requests", type=int, default=1000, help="requests counted (after a warm-up of 200)")
    parser.add_argument("--top", type=int, default=30, help="functions listed")
    parser.add_argument("--model", default="lr", choices=sorted(MODELS))
    args = parser.parse_args()
    if args.conns < 1 or args.requests < args.conns or args.top < 1:
        sys.exit(f"bench/bytecodes.py: --conns and --top must be positive and --requests at least --conns "
                 f"(got {args.conns}, {args.top} and {args.requests})")
    row = np.random.default_rng(0).normal(size=20).round(4).tolist()  # bench/serve.py's
    payloads = request_payloads(json.dumps({"data": [row]}))
    if args.payload not in payloads:
        sys.exit(f"bench/bytecodes.py: no payload {args.payload!r}; choose from {', '.join(payloads)}")
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-bytecodes-"))
    title, make = MODELS[args.model]
    counted = count(make(work / f"{args.model}.onnx"), work, payloads[args.payload], args.conns, args.requests)
    print(f"{title}, {args.payload}, {args.conns} connection(s), {args.requests} requests")
    print(table(counted, args.requests, args.top))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker_main(sys.argv[2], sys.argv[3])
    else:
        main()
