"""bench/serve.py: bad input or a missing tool named in one line before any server starts; how runs of
several starts of a server are pooled; how a server's CPU time is split between its threads.
bench/instructions.py: that counting in phases gives one request's cost; bad input in one line.
bench/bytecodes.py: that its tally counts each function on its own; a served request listed; bad input."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_servers_section_without_granian_says_how_to_install_it() -> None:
    # granian is a bench extra: hidden here whether or not this environment has it
    code = ("import sys, runpy; sys.modules['granian'] = None; sys.argv = ['bench/serve.py', '--only', 'servers']; "
            "runpy.run_path('bench/serve.py', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "bench/serve.py: the servers section needs Granian for its minimal server: .venv/bin/pip install -e '.[bench]' "
        "(or pick other sections with --only)"]
    assert done.stdout == ""  # nothing started: no table header, no model built


def _bench_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_serve", ROOT / "bench" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_instances_of_a_setting_are_pooled_into_one_median() -> None:
    serve = _bench_module()
    def run(rps: float, cpu: float) -> dict[str, float]:
        return {"rps": rps, "p50": 1.0, "p99": 2.0, "errors": 0.0, "cpu_us": cpu, "loop_us": cpu - 1}
    runs = {("on#0", 64): [run(100, 50), run(104, 51), run(102, 49)],
            ("on#1", 64): [run(90, 60), run(96, 58), run(94, 59)],
            ("on#0", 8): [run(10, 5)]}
    pooled = serve.summary(runs, serve.setting_of)
    assert set(pooled) == {("on", 64), ("on", 8)}
    assert pooled[("on", 64)]["rps"] == 100  # the median of all six runs' (upper middle): not either instance's
    assert pooled[("on", 64)]["cpu_us"] == 54.5  # the median of all six CPU figures
    assert pooled[("on", 64)]["loop_us"] == 53.5
    each = serve.summary(runs)
    assert each[("on#0", 64)]["rps"] == 102 and each[("on#1", 64)]["rps"] == 94


def test_cpu_seconds_tells_the_main_thread_from_the_others() -> None:
    serve = _bench_module()
    # the main thread sleeps while another spins for 0.8 s of CPU (and lives on: a gone thread's time is not listed)
    code = ("import threading, time\n"
            "def spin():\n    t = time.thread_time()\n    while time.thread_time() - t < 0.8: pass\n    time.sleep(30)\n"
            "threading.Thread(target=spin).start(); print('go', flush=True); time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "go\n"
        deadline = time.monotonic() + 20
        while (used := serve.cpu_seconds(proc.pid))[0] < 0.7 and time.monotonic() < deadline:
            time.sleep(0.05)
        total, main = used
        assert total >= 0.7  # /proc counts in clock ticks: a little under the 0.8 s spun
        assert main < 0.2  # the spinning thread's time is not the main thread's
    finally:
        proc.kill()
        proc.wait()


def test_no_servers_at_all_is_refused_in_one_line() -> None:
    done = subprocess.run([sys.executable, "bench/serve.py", "--only", "collect", "--instances", "0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "bench/serve.py: --instances is a number of servers, at least 1 (got 0)"]
    assert done.stdout == ""  # refused before any model is built or server started


def _instructions_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_instructions", ROOT / "bench" / "instructions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counting_phases_gives_one_requests_cost_whatever_the_number_counted(tmp_path: Path) -> None:
    # bench/instructions.py's method on a real program under callgrind: a "request" (a line on stdin)
    # sorts 2,000 shuffled ints. Counted over 200 or over 600 requests, between idle phases, after a
    # warm-up, one request costs the same: none of the start-up (millions) is in it
    bench = _instructions_module()
    code = ("import os, random\n"
            "data = list(range(2000)); random.Random(0).shuffle(data); os.write(1, b'ready\\n')\n"
            "while os.read(0, 3):\n    sorted(data); os.write(1, b'ok\\n')\n")

    def counted(requests: int) -> dict[str, float]:
        out = tmp_path / f"cl-{requests}"
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--cache-sim=yes", f"--callgrind-out-file={out}",
                                 sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)

        def send(n: int) -> None:
            for _ in range(n):
                proc.stdin.write("go\n")
                proc.stdin.flush()
                assert proc.stdout.readline() == "ok\n"

        try:
            assert proc.stdout.readline() == "ready\n"
            return bench.count_phases(proc.pid, out, send, requests, 0.5)
        finally:
            proc.kill()
            proc.wait()

    few, many = counted(200), counted(600)
    assert abs(many["Ir"] / few["Ir"] - 1) < 0.02
    assert 100_000 < few["Ir"] < 5_000_000  # a sort of 2,000 ints (n log n compares), not the start-up's ~100 M
    assert few["Ir"] + few["Dr"] + few["Dw"] <= few["cycles"] <= 35 * (few["Ir"] + few["Dr"] + few["Dw"])


@pytest.mark.parametrize(("script", "option", "message"), [
    ("instructions", "--requests=0", "--requests and --idle must be positive (got 0 and 8.0)"),
    ("instructions", "--idle=-1", "--requests and --idle must be positive (got 1000 and -1.0)"),
    ("instructions", "--payloads=2 rows", "no payload '2 rows'; choose from 1 row, 32 rows, v2 binary 32 rows"),
    ("bytecodes", "--conns=0", "--conns and --top must be positive and --requests at least --conns (got 0, 30 and 1000)"),
    ("bytecodes", "--payload=2 rows", "no payload '2 rows'; choose from 1 row, 32 rows, v2 binary 32 rows")])
def test_bad_counting_options_are_refused_in_one_line(script: str, option: str, message: str) -> None:
    done = subprocess.run([sys.executable, f"bench/{script}.py", option], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"bench/{script}.py: {message}"]
    assert done.stdout == ""  # refused before any model is built or server started


def test_the_bytecode_tally_counts_each_function_on_its_own_and_nothing_while_off() -> None:
    # bench/bytecodes.py's tracer, in a process of its own (pytest may trace this one): a function that
    # calls another in a loop of k turns counts its own bytecodes only, growing with k by the same step,
    # and the callee's count is k times one call's
    code = ("import json, runpy\n"
            "b = runpy.run_path('bench/bytecodes.py', run_name='bytecodes')\n"
            "def inner(x):\n    return x * 2 + 1\n"
            "def outer(k):\n    total = 0\n    for i in range(k):\n        total += inner(i)\n    return total\n"
            "out = {}\n"
            "for k in (0, 10, 20):\n"
            "    tally = b['Tally'](); tally.install(); outer(3)\n"  # off: nothing counted
            "    assert not tally.counts\n"
            "    tally.on = True; outer(k); tally.on = False\n"
            "    out[k] = {name.split(' ')[-1]: n for name, n in tally.by_function()}\n"
            "print(json.dumps(out))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    counts = {int(k): v for k, v in json.loads(done.stdout).items()}
    assert "inner" not in counts[0] and counts[0]["outer"] > 0
    step = counts[10]["outer"] - counts[0]["outer"]
    assert step > 0 and counts[20]["outer"] - counts[10]["outer"] == step  # each turn of the loop alike
    one_call = counts[10]["inner"] / 10
    assert one_call == int(one_call) and counts[20]["inner"] == 20 * one_call


def test_bytecodes_of_a_served_request_are_listed_by_module_and_function() -> None:
    # one traced worker, 40 requests from 2 clients: the HTTP layer and the app's handler are on the list
    done = subprocess.run([sys.executable, "bench/bytecodes.py", "--requests", "40", "--conns", "2", "--top", "5"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "logistic regression, 1 row, 2 connection(s), 40 requests"
    per_request = float(lines[1].split(" bytecodes a request")[0].replace(",", ""))
    assert 300 < per_request < 20_000  # a request's Python (about 1,700 here), not the start-up's millions
    functions = lines[lines.index(next(x for x in lines if x.endswith("function (top 5)"))) + 1:]
    assert len(functions) == 5
    assert any(x.endswith("jupyter_mlops/serving/protocol.py") for x in lines)
    assert any("jupyter_mlops/serving/app.py" in x and x.endswith(" handle") for x in functions)
