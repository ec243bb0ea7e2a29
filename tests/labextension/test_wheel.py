"""`pip install` of the built wheel enables both halves, with no node: the prebuilt JupyterLab
extension (shared data under share/jupyter/labextensions) and the server extension (its switch
under etc/jupyter/jupyter_server_config.d)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import jupyter_mlops

REPO = Path(__file__).resolve().parents[2]


def _run(python: Path, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run([str(python), *args], capture_output=True, text=True, env=env, cwd=python.parent, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # no colours


@pytest.mark.slow
def test_the_wheel_installs_and_enables_the_lab_and_server_extensions(tmp_path: Path) -> None:
    assert (REPO / "jupyter_mlops" / "labextension" / "static" / "style.js").is_file(), "run bash tools/setup.sh"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"),
                    str(REPO)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("jupyter_mlops-*.whl"))

    # A fresh venv; its only jupyter-mlops is the wheel's. Jupyter itself comes from this venv's
    # site-packages through a .pth line (appended after the fresh venv's own site-packages).
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True, timeout=120)
    python = fresh / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
                    "-q", str(wheel)], check=True, timeout=300)
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", env={}).strip())
    (purelib / "parent-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("JUPYTER")}

    where = _run(python, "-c", "import jupyter_mlops; print(jupyter_mlops.__file__)", env=env)
    assert where.startswith(str(purelib))
    labextensions = _run(python, "-m", "jupyterlab.labextensions", "list", env=env)
    version = json.loads((REPO / "labextension" / "package.json").read_text())["version"]
    assert version == jupyter_mlops.__version__
    assert f"jupyter-mlops v{version} enabled OK (python, jupyter-mlops)" in labextensions, labextensions
    assert str(fresh / "share" / "jupyter" / "labextensions") in labextensions
    servers = _run(python, "-m", "jupyter_server.extension.serverextension", "list", env=env)
    assert "jupyter_mlops enabled" in servers and f"jupyter_mlops {version} OK" in servers, servers
    assert str(fresh / "etc" / "jupyter") in servers
