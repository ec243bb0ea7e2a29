"""Write an image's build context: Dockerfile, wheelhouse, runtime wheel, app folder.

Layers go from least to most often changed (base, dependencies, our runtime, models, script),
so a script-only change rebuilds in seconds. The same folder's ``app/`` serves the ``process``
deployment target where there is no Docker.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..appdir import write_app_dir
from ..errors import UsageError
from ..registry.records import Model
from ..serving.layout import MODELS_DIR
from ..workspace import Workspace
from . import wheelhouse
from .runtime_wheel import RUNTIME_REQUIREMENTS, build_runtime_wheel

APP_ROOT = "/var/azureml-app"
PORT = 5001

DOCKERFILE = """\
# Written by jupyter-mlops. Layers: base, dependencies, runtime, models, script.
# The wheelhouse is installed in a first stage, so the wheels themselves never ship in the image.
FROM {base_image} AS dependencies
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
COPY wheelhouse/ /tmp/wheelhouse/
RUN /opt/venv/bin/pip install --no-index --no-cache-dir --find-links /tmp/wheelhouse \\
    -r /tmp/wheelhouse/requirements.txt

FROM {base_image}
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
COPY --from=dependencies /opt/venv /opt/venv
COPY runtime/ /tmp/runtime/
RUN pip install --no-index --no-cache-dir --no-deps /tmp/runtime/*.whl && rm -rf /tmp/runtime
COPY models/ {app_root}/
COPY app/ {app_root}/
WORKDIR {app_root}
ENV MLOPS_SERVER_CONFIG={app_root}/server.json MLOPS_HOST=0.0.0.0 AZUREML_APP_ROOT={app_root}
EXPOSE {port}
LABEL org.jupyter-mlops.image="{name}:{version}" org.jupyter-mlops.models="{models}"
# Probes /ready at the address, port and scheme the server really uses (its effective settings).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD ["python", "-m", "jupyter_mlops.serving.health"]
CMD ["python", "-m", "jupyter_mlops.serving"]
"""


@dataclass
class ImageSpec:
    name: str
    version: int
    models: list[Model]
    base_image: str
    script: Path | None = None
    requirements: list[str] = field(default_factory=list)
    python_version: str = "3.11"
    gpu: bool = False


def read_requirements(requirements: str | os.PathLike[str] | list[str] | None) -> list[str]:
    if requirements is None:
        return []
    if isinstance(requirements, list):
        return [r.strip() for r in requirements if r.strip()]
    path = Path(requirements).expanduser()
    if not path.is_file():
        raise UsageError(f"Requirements file {str(requirements)!r} does not exist.")
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]


def dependency_lines(spec: ImageSpec) -> list[str]:
    runtime = list(RUNTIME_REQUIREMENTS)
    frameworks = {m.framework for m in spec.models}
    if "onnx" in frameworks:
        runtime.append("onnxruntime-gpu" if spec.gpu else "onnxruntime")
    if "sklearn" in frameworks:
        runtime += ["scikit-learn", "joblib"]
    return sorted(set(wheelhouse.pinned(runtime, spec.requirements) + spec.requirements))


def write_context(ws: Workspace, spec: ImageSpec, dest: Path, log: Callable[[str], None] = print) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    write_app_dir(ws, spec.models, dest / "app", spec.script, host="0.0.0.0", port=PORT, workers=0)
    (dest / "models").mkdir()
    (dest / "app" / MODELS_DIR).rename(dest / "models" / MODELS_DIR)  # its own layer, below the script
    house = wheelhouse.download(dependency_lines(spec), ws.state_dir / "wheelhouses", spec.python_version, log)
    (dest / "wheelhouse").mkdir()
    for f in sorted(house.iterdir()):
        if f.name.startswith("."):
            continue
        try:
            os.link(f, dest / "wheelhouse" / f.name)
        except OSError:
            shutil.copyfile(f, dest / "wheelhouse" / f.name)
    build_runtime_wheel(dest / "runtime")
    (dest / "Dockerfile").write_text(DOCKERFILE.format(
        base_image=spec.base_image, app_root=APP_ROOT, port=PORT, name=spec.name, version=spec.version,
        models=",".join(m.ref for m in spec.models),
    ))
    (dest / ".dockerignore").write_text("**/__pycache__\n")
    return dest
