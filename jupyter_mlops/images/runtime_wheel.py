"""Build the serving runtime as a wheel from the installed package, without the notebook side.

The wheel holds the declared packages and modules below: ``jupyter_mlops/__init__.py`` (lazy, imports
nothing), ``_version``, ``errors``, ``serving/`` and ``artifacts/`` (the stores the collector writes to).
An import-linter contract keeps the declaration complete: those modules import nothing else of ours.
Its dependencies are the server's alone. Files are written in a fixed order with a fixed timestamp,
so the same source gives a byte-identical wheel and Docker reuses the layer.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from .._version import __version__

DIST = "jupyter_mlops_runtime"
RUNTIME_REQUIREMENTS = ["numpy", "orjson", "pysimdjson", "pybase64", "uvicorn", "uvloop", "httptools",
                        "prometheus-client", "azure-storage-blob"]
ROOT = Path(__file__).resolve().parents[2]  # the folder that holds jupyter_mlops/
RUNTIME_PACKAGES = ("jupyter_mlops.serving", "jupyter_mlops.artifacts")
RUNTIME_MODULES = ("jupyter_mlops", "jupyter_mlops._version", "jupyter_mlops.errors")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def runtime_files() -> list[str]:
    """The wheel's source files, relative to the folder that holds ``jupyter_mlops/``."""
    root = ROOT
    names = [_module_file(m) for m in RUNTIME_MODULES]
    for package in RUNTIME_PACKAGES:
        folder = root / package.replace(".", "/")
        names += sorted(p.relative_to(root).as_posix() for p in folder.rglob("*.py"))
    return names


def _module_file(module: str) -> str:
    path = module.replace(".", "/")
    return f"{path}/__init__.py" if module == "jupyter_mlops" else f"{path}.py"


def _files() -> list[tuple[str, bytes]]:
    root = ROOT
    return [(name, (root / name).read_bytes()) for name in runtime_files()]


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_runtime_wheel(dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    info = f"{DIST}-{__version__}.dist-info"
    metadata = "\n".join(
        ["Metadata-Version: 2.1", f"Name: {DIST.replace('_', '-')}", f"Version: {__version__}",
         "Summary: The jupyter-mlops inference server, without the notebook side."]
        + [f"Requires-Dist: {r}" for r in RUNTIME_REQUIREMENTS]
    ) + "\n"
    wheel_meta = "Wheel-Version: 1.0\nGenerator: jupyter-mlops\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries = _files() + [(f"{info}/METADATA", metadata.encode()), (f"{info}/WHEEL", wheel_meta.encode())]
    record = "\n".join([_record_line(n, d) for n, d in entries] + [f"{info}/RECORD,,"]) + "\n"
    entries.append((f"{info}/RECORD", record.encode()))
    path = dest_dir / f"{DIST}-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zi = zipfile.ZipInfo(name, _EPOCH)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    return path
