"""Build the serving runtime as a wheel from the installed package, without the notebook side.

The wheel holds ``jupyter_mlops/__init__.py`` (lazy, imports nothing), ``_version.py``, ``serving/``
and the artifact stores the collector writes to; its dependencies are the server's alone. Files are written in a fixed order with a
fixed timestamp, so the same source gives a byte-identical wheel and Docker reuses the layer.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import jupyter_mlops

from .._version import __version__

DIST = "jupyter_mlops_runtime"
RUNTIME_REQUIREMENTS = ["numpy", "orjson", "uvicorn", "uvloop", "httptools", "prometheus-client", "azure-storage-blob"]
# Beside serving/: the artifact stores the collector writes to, and what they import.
SHARED = ["__init__.py", "_version.py", "errors.py", "store/__init__.py", "store/artifacts.py",
          "store/azure_blob.py", "store/progress.py", "store/urls.py"]
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _files() -> list[tuple[str, bytes]]:
    pkg = Path(jupyter_mlops.__file__).parent
    names = SHARED + sorted(
        p.relative_to(pkg).as_posix() for p in (pkg / "serving").rglob("*.py")
    )
    return [(f"jupyter_mlops/{n}", (pkg / n).read_bytes()) for n in names]


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
