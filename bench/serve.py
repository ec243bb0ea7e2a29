"""Serving benchmark (run by hand): `.venv/bin/python bench/serve.py [--duration 5] [--only servers] [--payloads "1 row"]`.

wrk (Debian) sends requests on 127.0.0.1 at 1, 8 and 64 connections to:
  ours      jupyter-mlops serve, auth and metrics on;
  minimal   two minimal servers doing the same session.run (bench/minimal_server.py): Starlette +
            uvicorn + orjson, and Granian's RSGI + orjson, with the same number of worker processes;
and raw session.run in-process gives the floor. Then MLflow's /invocations forms against /score on
one server of ours; our server with inference data collection on and off, and with a model run per
request, coalescing (the default) and adaptive batching, for the logistic regression and an MLP
(single-row run >= 100 us): two servers of each setting (--instances), pooled, with the baseline's
second against its first as the noise floor. Ratios are against the baseline measured in the same run."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.modelfactory import onnx_logreg, onnx_mlp  # noqa: E402
from tests.services import free_port, wait_for_port  # noqa: E402

KEY = "bench-key-0123456789abcdef"
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))  # one worker each, as the figures in issue 16
# --pin: the CPUs the servers may run on, and wrk's (None: anywhere)
PIN: dict[str, set[int] | None] = {"server": None, "wrk": None}


def pinned(role: str) -> dict[str, object]:
    """Popen's arguments that keep a process, its threads and its children on ``role``'s CPUs."""
    cpus = PIN[role]
    return {} if cpus is None else {"preexec_fn": lambda: os.sched_setaffinity(0, cpus)}


def lua_string(data: bytes) -> str:
    """``data`` as a Lua string literal, byte for byte (a binary body too)."""
    plain = set(range(0x20, 0x7F)) - {ord('"'), ord("\\")}
    return '"' + "".join(chr(b) if b in plain else f"\\{b:03d}" for b in data) + '"'


def wrk(url: str, body: bytes | str, conns: int, duration: int, key: str | None,
        headers: dict[str, str] | None = None) -> dict[str, float]:
    script = Path(tempfile.mkdtemp()) / "post.lua"
    all_headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {}),
                   **(headers or {})}
    lines = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in all_headers.items())
    data = body.encode() if isinstance(body, str) else body
    script.write_text(f'wrk.method = "POST"\nwrk.body = {lua_string(data)}\n{lines}')
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True, **pinned("wrk"),  # type: ignore[call-overload]
    ).stdout
    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": ms("50%"), "p99": ms("99%"),
            "errors": float(errors.group(1)) if errors else 0.0}


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system) so far of a process, its children and all their threads; and of
    their main threads alone (a worker's event loop: the rest is other threads, the collector's writer)."""
    pids = [pid, *(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    ticks = main = 0
    for p in pids:
        for task in Path(f"/proc/{p}/task").iterdir():
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            used = int(fields[11]) + int(fields[12])
            ticks += used
            main += used if task.name == str(p) else 0
    return ticks / os.sysconf("SC_CLK_TCK"), main / os.sysconf("SC_CLK_TCK")


def compare(urls: dict[str, tuple[str, str | None, int]], body: bytes | str | dict[str, str], conns: list[int],
            duration: int, repeat: int, headers: dict[str, str] | None = None) -> dict[tuple[str, int], dict[str, float]]:
    """wrk each server (url, key, pid) at each connection count, interleaved, ``repeat`` times, in
    alternating order; the median run of each cell (by requests/s), with the median server CPU time
    per request. Interleaving spreads the machine's drift over all servers alike; alternating the
    order cancels what running first or second does. ``body``: one for all, or one per name."""
    return summary(measure(urls, body, conns, duration, repeat, headers))


def measure(urls: dict[str, tuple[str, str | None, int]], body: bytes | str | dict[str, str], conns: list[int],
            duration: int, repeat: int, headers: dict[str, str] | None = None) -> dict[tuple[str, int], list[dict[str, float]]]:
    """compare's runs, every one: (name, connections) -> runs."""
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    for i in range(repeat):
        for c in conns:
            order = list(urls.items())
            for name, (url, key, pid) in order[::-1] if i % 2 else order:
                before = cpu_seconds(pid)
                run = wrk(url, body[name] if isinstance(body, dict) else body, c, duration, key, headers)
                after, requests = cpu_seconds(pid), max(run["rps"] * duration, 1)
                run["cpu_us"], run["loop_us"] = ((a - b) / requests * 1e6 for a, b in zip(after, before))
                runs.setdefault((name, c), []).append(run)
    return runs


def setting_of(name: str) -> str:
    """The setting a server instance named ``<setting>#<n>`` belongs to."""
    return name.rsplit("#", 1)[0]


def summary(runs: dict[tuple[str, int], list[dict[str, float]]],
            group: Callable[[str], str] = lambda name: name) -> dict[tuple[str, int], dict[str, float]]:
    """Each cell's median run (by requests/s) with the median CPU time per request, pooling the runs
    of all servers that ``group`` gives the same name (instances of one setting)."""
    pooled: dict[tuple[str, int], list[dict[str, float]]] = {}
    for (name, c), rs in runs.items():
        pooled.setdefault((group(name), c), []).extend(rs)
    return {cell: {**sorted(rs, key=lambda r: r["rps"])[len(rs) // 2],
                   "cpu_us": statistics.median(r["cpu_us"] for r in rs),
                   "loop_us": statistics.median(r["loop_us"] for r in rs)} for cell, rs in pooled.items()}


def cpu_list(text: str) -> set[int]:
    """``"1"``, ``"0,2"`` or ``"2-3"`` as a set of CPU numbers."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def raw_session(model: Path, row: list[float], n: int = 3000) -> dict[str, float]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    s = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    x = np.asarray([row], dtype=np.float32)
    name = s.get_inputs()[0].name
    for _ in range(200):
        s.run(None, {name: x})
    times = []
    for _ in range(n):
        t = time.perf_counter()
        s.run(None, {name: x})
        times.append(time.perf_counter() - t)
    return {"rps": 1 / statistics.mean(times), "p50": statistics.median(times) * 1000,
            "p99": float(np.percentile(times, 99)) * 1000, "errors": 0.0}


class Proc:
    def __init__(self, argv: list[str], port: int, env: dict[str, str], cwd: str | Path = ROOT) -> None:
        # `python -m` puts the working directory first on sys.path: it decides whose package runs.
        self.proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     cwd=cwd, **pinned("server"))  # type: ignore[call-overload]
        wait_for_port(port, 60, self.proc)
        time.sleep(1.0)  # every worker up and ready

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def ours(model: Path, work: Path, port: int, src: str | None = None, **settings: object) -> Proc:
    """Our server on ``model``; from the checkout at ``src`` when given (its jupyter_mlops wins)."""
    config = ours_config(model, work, port, **settings)
    env = {"MLOPS_AUTH_KEYS": KEY, **({"PYTHONPATH": src} if src else {})}
    return Proc([sys.executable, "-m", "jupyter_mlops.serving", "--config", str(config)], port, env, src or ROOT)


def ours_config(model: Path, work: Path, port: int, **settings: object) -> Path:
    """The app folder and server.json of our server on ``model`` (auth on: its key is ``KEY``)."""
    from jupyter_mlops.serving.config import ServerConfig

    app = work / f"app-{port}"
    dest = app / "azureml-models" / "m" / "1"
    dest.mkdir(parents=True)
    shutil.copyfile(model, dest / model.name)
    ServerConfig(app_dir=str(app), models=[{"name": "m", "version": 1, "framework": "onnx", "path": model.name}],
                 port=port, workers=WORKERS, auth=True, log_level="warning", **settings).save(app / "server.json")  # type: ignore[arg-type]
    return app / "server.json"


def minimal(model: Path, port: int) -> Proc:
    return Proc([sys.executable, "-m", "uvicorn", "bench.minimal_server:app", "--port", str(port), "--workers",
                 str(WORKERS), "--log-level", "warning", "--no-access-log", "--loop", "uvloop", "--http", "httptools"],
                port, {"MODEL": str(model)})


def granian(model: Path, port: int) -> Proc:
    """The minimal RSGI app on Granian: HTTP/1 only, uvloop, its Rust runtime single-threaded on one
    thread (the settings that measured fastest here at every concurrency; see GRANIAN_ARGS)."""
    return Proc([sys.executable, "-m", "granian", "--interface", "rsgi", "bench.minimal_server:rsgi_app",
                 "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS), "--http", "1", "--no-ws",
                 "--log-level", "warning", "--no-access-log", *GRANIAN_ARGS.split()], port, {"MODEL": str(model)})


GRANIAN_ARGS = os.environ.get("BENCH_GRANIAN_ARGS", "--loop uvloop --runtime-mode st --runtime-threads 1")


def peak_rss_mib(pid: int) -> float:
    """The largest peak resident memory (VmHWM) among a server's workers: its child processes, or the
    process itself when it has none."""
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    peaks = []
    for p in children or [pid]:
        status = Path(f"/proc/{p}/status").read_text()
        peaks.append(int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.M).group(1)) / 1024)
    return max(peaks)


def variants(model: Path, work: Path, body: str, conns: list[int], args: argparse.Namespace, title: str,
             settings: dict[str, dict[str, object]]) -> None:
    """Our server under each of ``settings`` (the first is the baseline), in the same run.

    With ``--instances N`` each setting runs as N servers, measured in turn and pooled: two starts of
    one server differ by up to 20 % here, which one instance each would book to the setting. The
    baseline's second instance against its first is shown as well: the noise floor that the other
    ratios are read against."""
    servers, urls = start_instances({name: (partial(ours, model, work, **s), KEY) for name, s in settings.items()},
                                    args.instances, "/score")
    runs = measure(urls, body, conns, args.duration, args.repeat)
    for server in servers.values():
        server.stop()
    res = summary(runs, setting_of)
    base = next(iter(settings))
    rows = [(f"ours, {n}", c, res[(n, c)], res[(base, c)]) for c in conns for n in settings]
    if args.instances > 1:
        each = summary(runs)
        rows += [(f"ours, {base}, #2 vs #1", c, each[(f"{base}#1", c)], each[(f"{base}#0", c)]) for c in conns]
    table(title + pooled_note(args.instances), rows, "first")
    split = "; ".join(f"{n} at {c}: {r['loop_us']:.1f} + {max(r['cpu_us'] - r['loop_us'], 0.0):.1f}"
                      for c in conns for n in settings for r in [res[(n, c)]])
    print(f"CPU per request on the event loop + on other threads (the collector's writer, onnxruntime's pool), us: {split}")


def start_instances(starts: dict[str, tuple[Callable[[int], Proc], str | None]], count: int,
                    path: str) -> tuple[dict[str, Proc], dict[str, tuple[str, str | None, int]]]:
    """``count`` servers of each kind (its start on a port, and its key), named ``<kind>#<n>``: the
    servers, and the (url, key, pid) that measure takes."""
    servers: dict[str, Proc] = {}
    urls: dict[str, tuple[str, str | None, int]] = {}
    for name, (start, key) in starts.items():
        for i in range(count):
            port = free_port()
            servers[f"{name}#{i}"] = server = start(port)
            urls[f"{name}#{i}"] = (f"http://127.0.0.1:{port}{path}", key, server.proc.pid)
    return servers, urls


def pooled_note(count: int) -> str:
    return f" ({count} instances each, pooled)" if count > 1 else ""


def table(title: str, rows: list[tuple[str, int, dict[str, float], dict[str, float]]], base_name: str) -> None:
    print(f"\n{title}")
    width = max(26, *(len(name) for name, *_ in rows))
    print(f"{'server':<{width}} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'cpu us/req':>10}  "
          f"{'req/s vs ' + base_name:>18} {'p50 - ' + base_name + ' ms':>18} {'cpu/req vs ' + base_name:>18}")
    for name, conns, r, base in rows:
        cpu = f"{r['cpu_us']:>10.1f}" if "cpu_us" in r else f"{'':>10}"
        cpu_ratio = f"{r['cpu_us'] / base['cpu_us']:>17.2f}x" if "cpu_us" in r and "cpu_us" in base else f"{'':>18}"
        print(f"{name:<{width}} {conns:>5} {r['rps']:>9,.0f} {r['p50']:>8.3f} {r['p99']:>8.3f} {r['errors']:>6.0f} {cpu}  "
              f"{r['rps'] / base['rps']:>17.2f}x {r['p50'] - base['p50']:>18.3f} {cpu_ratio}")


def missing_tools(sections: set[str]) -> str | None:
    """What the chosen sections need and this machine lacks, as one line (else a server that cannot
    start shows only as "exited before listening")."""
    if shutil.which("wrk") is None:
        return "needs wrk (Debian's wrk package; tools/setup.sh installs it)"
    if "servers" in sections and importlib.util.find_spec("granian") is None:
        return ("the servers section needs Granian for its minimal server: .venv/bin/pip install -e '.[bench]' "
                "(or pick other sections with --only)")
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--conns", default="1,8,64")
    parser.add_argument("--only", default="servers,protocols,collect,runs,polling",
                        help="sections to run: servers (ours against minimal), protocols (MLflow's forms against "
                             "/score), collect, runs (a run per request, coalescing and adaptive batching), "
                             "polling (busy polling after a lone client's answers, on against off), "
                             "baseline (ours against ours from --baseline-src)")
    parser.add_argument("--baseline-src", help="another checkout (say, `git archive main | tar -x -C DIR`) whose "
                                               "server the baseline section compares this tree's against")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell, interleaved; the median is shown")
    parser.add_argument("--instances", type=int, default=2,
                        help="servers, collect, runs and polling sections: servers started of each kind, their runs pooled (two "
                             "starts of one server differ by up to 20 %% here); collect, runs and polling show the baseline's "
                             "second against its first as the noise floor (1: one each)")
    parser.add_argument("--payloads", default="1 row,32 rows,v2 binary 32 rows",
                        help="servers section: which requests (comma-separated)")
    parser.add_argument("--pin", metavar="SERVER:WRK", help="CPU lists, e.g. 1:0: every server (all its threads "
                        "and workers) on the first, wrk on the second, so each server has the same cores whatever "
                        "threads it runs, and wrk takes none of them")
    args = parser.parse_args()
    if args.instances < 1:
        sys.exit(f"bench/serve.py: --instances is a number of servers, at least 1 (got {args.instances})")
    missing = missing_tools(set(args.only.split(",")))
    if missing:
        sys.exit(f"bench/serve.py: {missing}")
    if args.pin:
        server_cpus, wrk_cpus = args.pin.split(":")
        PIN.update(server=cpu_list(server_cpus), wrk=cpu_list(wrk_cpus))
    conns = [int(c) for c in args.conns.split(",")]
    sections = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-serve-"))
    lr = onnx_logreg(work / "lr.onnx")
    row = np.random.default_rng(0).normal(size=20).round(4).tolist()
    body = json.dumps({"data": [row]})
    print(f"workers per server: {WORKERS}; wrk -t1; {args.duration} s per run, median of {args.repeat} interleaved "
          "runs per cell; single-row JSON requests"
          + (f"; servers on CPUs {sorted(PIN['server'] or ())}, wrk on {sorted(PIN['wrk'] or ())}" if args.pin else ""))

    if "servers" in sections:
        servers_section(lr, work, body, row, conns, args)
    if "protocols" in sections:
        protocols_section(lr, work, conns, args)
    if "baseline" in sections:
        servers = {"baseline": ours(lr, work, p1 := free_port(), src=args.baseline_src),
                   "this tree": ours(lr, work, p2 := free_port(), src=str(ROOT))}
        res = compare({"baseline": (f"http://127.0.0.1:{p1}/score", KEY, servers["baseline"].proc.pid),
                       "this tree": (f"http://127.0.0.1:{p2}/score", KEY, servers["this tree"].proc.pid)},
                      body, conns, args.duration, args.repeat)
        for server in servers.values():
            server.stop()
        table(f"logistic regression: this tree against {args.baseline_src}",
              [(n, c, res[(n, c)], res[("baseline", c)]) for c in conns for n in ("baseline", "this tree")], "baseline")
    if "polling" in sections:
        variants(lr, work, body, conns, args, "logistic regression: busy polling after a lone client's answers "
                 "(serving/polling.py), ratios against polling off", {"polling off": {"busy_poll_us": 0},
                                                                     "polling on (default)": {}})
    mlp = onnx_mlp(work / "mlp.onnx", hidden=2048) if sections & {"collect", "runs"} else None
    if "collect" in sections:
        for model, name in ((lr, "logistic regression"), (mlp, "MLP 20-2048-2048-2")):
            store = work / f"store-{model.stem}"
            variants(model, work, body, conns, args, f"{name}, data collection: ratios against ours with collection off",
                     {"collect off": {}, "collect on": {"collect": True, "collect_store": str(store),
                                                        "collect_spool_dir": str(work / f"spool-{model.stem}"),
                                                        "deployment": "bench"}})
            stored = sum(p.read_bytes().count(b"\n") for p in store.rglob("*.jsonl"))
            print(f"records collected and stored: {stored:,}")
    if "runs" in sections:
        runs = {"a run per request": {"coalesce": False}, "coalescing (default)": {}}
        variants(lr, work, body, conns, args, "logistic regression: model runs, ratios against a run per request", runs)
        mlp_floor = raw_session(mlp, row)
        print(f"\nMLP 20-2048-2048-2: raw single-row session.run p50 {mlp_floor['p50'] * 1000:.0f} us")
        variants(mlp, work, body, conns, args, "MLP: model runs, ratios against a run per request",
                 {**runs, "adaptive batching": {"max_batch_size": 64, "max_batch_delay_ms": 2.0}})
    shutil.rmtree(work, ignore_errors=True)


def v2_binary(rows: list[list[float]]) -> tuple[bytes, dict[str, str]]:
    """An Open Inference Protocol request with its tensor in the binary extension, and its header."""
    x = np.asarray(rows, dtype=np.float32)
    head = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": list(x.shape),
                                   "parameters": {"binary_data_size": x.nbytes}}]}).encode()
    return head + x.tobytes(), {"Content-Type": "application/octet-stream",
                                "Inference-Header-Content-Length": str(len(head))}


def request_payloads(body: str) -> dict[str, tuple[str, str | bytes, dict[str, str] | None]]:
    """The requests the servers are measured with, by name: (path, body, headers beyond JSON's);
    ``body`` is the single-row one."""
    rows32 = np.random.default_rng(1).normal(size=(32, 20)).round(4).tolist()
    return {"1 row": ("/score", body, None), "32 rows": ("/score", json.dumps({"data": rows32}), None),
            "v2 binary 32 rows": ("/v2/models/m/infer", *v2_binary(rows32))}


def servers_section(lr: Path, work: Path, body: str, row: list[float], conns: list[int], args: argparse.Namespace) -> None:
    """Ours (auth and metrics on) against both minimal servers, each cell against the faster of the two."""
    floor = raw_session(lr, row)
    print(f"raw single-row session.run: {floor['rps']:,.0f}/s, p50 {floor['p50'] * 1000:.0f} us")
    payloads = {k: v for k, v in request_payloads(body).items() if k in args.payloads.split(",")}
    names = ("uvicorn minimal", "granian minimal", "ours (auth+metrics)")
    starts = {"uvicorn minimal": (partial(minimal, lr), None), "granian minimal": (partial(granian, lr), None),
              "ours (auth+metrics)": (partial(ours, lr, work), KEY)}
    for label, (path, payload, headers) in payloads.items():
        servers, urls = start_instances(starts, args.instances, path)
        results = summary(measure(urls, payload, conns, args.duration, args.repeat, headers), setting_of)
        memory = {name: max(peak_rss_mib(s.proc.pid) for key, s in servers.items() if setting_of(key) == name) for name in names}
        for s in servers.values():
            s.stop()
        rows = []
        for c in conns:
            best = max(names[:2], key=lambda n: results[(n, c)]["rps"])
            rows += [(f"{n}{' *' if n == best else ''}", c, results[(n, c)], results[(best, c)]) for n in names]
        table(f"logistic regression, {label}: ratios against the faster minimal server (*) at the same connections"
              + pooled_note(args.instances), rows, "faster")
        print("peak memory per worker (VmHWM): " + ", ".join(f"{n} {m:.0f} MiB" for n, m in memory.items()))


def protocols_section(lr: Path, work: Path, conns: list[int], args: argparse.Namespace) -> None:
    """The same 32 rows to one server of ours in /score's form and in MLflow's: ``inputs`` and
    ``instances`` take /score's fast parse, ``dataframe_split`` the general path."""
    rows32 = np.random.default_rng(1).normal(size=(32, 20)).round(4).tolist()
    forms = {"/score data": ("/score", {"data": rows32}),
             "/invocations inputs": ("/invocations", {"inputs": rows32}),
             "/invocations instances": ("/invocations", {"instances": rows32}),
             "/invocations dataframe_split": ("/invocations", {"dataframe_split": {
                 "columns": [f"x{i}" for i in range(20)], "data": rows32}})}
    server = ours(lr, work, port := free_port())
    urls = {name: (f"http://127.0.0.1:{port}{path}", KEY, server.proc.pid) for name, (path, _) in forms.items()}
    res = compare(urls, {name: json.dumps(body) for name, (_, body) in forms.items()}, conns, args.duration, args.repeat)
    server.stop()
    table("logistic regression, 32 rows: MLflow's forms against /score's on the same server",
          [(n, c, res[(n, c)], res[("/score data", c)]) for c in conns for n in forms], "/score")


if __name__ == "__main__":
    main()
