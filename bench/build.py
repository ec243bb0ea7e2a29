"""Image build benchmark (run by hand): `.venv/bin/python bench/build.py`.

Measures, for an sklearn model + score.py + one requirement:
  ours   cold build (no Docker layer cache, empty wheelhouse cache), script-only rebuild, image size;
  plain  the simplest equivalent Dockerfile (pip install inside the image; the host's CA bundle is
         copied in so the container can reach the package index), cold and after a script-only change;
all in the same run, with ratios against plain.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_mlops.images.builder import build, docker_client  # noqa: E402
from jupyter_mlops.images.context import ImageSpec, write_context  # noqa: E402
from jupyter_mlops.registry.models import ModelRegistry  # noqa: E402
from jupyter_mlops.workspace import Workspace  # noqa: E402
from tests.modelfactory import sklearn_joblib  # noqa: E402
from tests.services import ensure_base_image  # noqa: E402

SCORE = "import os, joblib\ndef init():\n    global m\n    m = joblib.load(os.path.join(os.environ['AZUREML_MODEL_DIR'], 'clf.joblib'))\ndef run(d):\n    return {'v': VERSION}\n"
PLAIN = """FROM {base}
COPY ca.crt /etc/ssl/certs/host-ca.crt
ENV PIP_CERT=/etc/ssl/certs/host-ca.crt
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir scikit-learn joblib six numpy orjson uvicorn uvloop httptools prometheus-client
COPY clf.joblib score.py /app/
CMD ["/opt/venv/bin/python", "/app/score.py"]
"""


def timed(fn):  # type: ignore[no-untyped-def]
    t = time.monotonic()
    result = fn()
    return time.monotonic() - t, result


def main() -> None:
    base = ensure_base_image()
    client = docker_client()
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-build-"))
    ws = Workspace.embedded(work / "ws")
    ws.base_image = base
    model = ModelRegistry(ws).register(sklearn_joblib(work / "clf.joblib"), "clf")
    script = work / "score.py"

    def ours(version: int, nocache: bool) -> float:
        script.write_text(SCORE + f"VERSION = {version}\n")
        spec = ImageSpec("bench", version, [model], base, script, ["six"])
        def run() -> None:
            ctx = write_context(ws, spec, work / f"ctx{version}", log=lambda _: None)
            build(ctx, "jupyter-mlops-bench/ours:latest", {}, progress=False, nocache=nocache)
        return timed(run)[0]

    shutil.rmtree(ws.state_dir / "wheelhouses", ignore_errors=True)
    ours_cold = ours(1, nocache=True)
    ours_warm = ours(2, nocache=False)
    ours_size = client.images.get("jupyter-mlops-bench/ours:latest").attrs["Size"]

    plain = work / "plain"
    plain.mkdir()
    shutil.copyfile("/etc/ssl/certs/ca-certificates.crt", plain / "ca.crt")
    shutil.copyfile(work / "clf.joblib", plain / "clf.joblib")
    (plain / "Dockerfile").write_text(PLAIN.format(base=base))

    def plain_build(version: int, nocache: bool) -> float:
        (plain / "score.py").write_text(SCORE + f"VERSION = {version}\n")
        return timed(lambda: build(plain, "jupyter-mlops-bench/plain:latest", {}, progress=False, nocache=nocache))[0]

    try:
        plain_cold = plain_build(1, nocache=True)
        plain_warm = plain_build(2, nocache=False)
        plain_size = client.images.get("jupyter-mlops-bench/plain:latest").attrs["Size"]
    except Exception as exc:
        print(f"plain docker build failed: {str(exc).splitlines()[0]}")
        plain_cold = plain_warm = float("nan")
        plain_size = 0

    mib = 1024 * 1024
    print(f"{'measure':<28} {'ours':>10} {'plain':>10} {'ours/plain':>11}")
    for label, a, b in (("cold build (s)", ours_cold, plain_cold), ("script-only rebuild (s)", ours_warm, plain_warm),
                        ("image size (MiB)", ours_size / mib, plain_size / mib)):
        print(f"{label:<28} {a:>10.1f} {b:>10.1f} {a / b if b else float('nan'):>10.2f}x")
    for tag in ("jupyter-mlops-bench/ours:latest", "jupyter-mlops-bench/plain:latest"):
        try:
            client.images.remove(tag, force=True)
        except Exception:
            pass
    shutil.rmtree(work, ignore_errors=True)
    os.sync()


if __name__ == "__main__":
    main()
