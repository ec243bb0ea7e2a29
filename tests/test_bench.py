"""bench/serve.py, run as a person runs it: a missing tool is named in one line, before any server starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
