"""Resolve and download an image's Python dependencies on the host, for the image's platform.

The image then installs them with ``pip install --no-index``: the build needs no network and no
credentials. Wheelhouses are cached by what they resolve, so a rebuild reuses the same files and
Docker reuses the layer.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import BuildError

MANYLINUX = ["manylinux_2_17", "manylinux2014", "manylinux_2_24", "manylinux_2_27", "manylinux_2_28",
             "manylinux_2_31", "manylinux_2_34", "manylinux_2_35", "manylinux_2_36", "manylinux1", "manylinux2010",
             "manylinux_2_5", "manylinux_2_12"]
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(line: str) -> str | None:
    m = _NAME.match(line)
    return m.group(1).lower().replace("_", "-") if m and not line.strip().startswith(("#", "-")) else None


def pinned(packages: list[str], user_lines: list[str]) -> list[str]:
    """Runtime packages pinned to the host's versions (the image behaves like the notebook), unless
    the user's requirements name them."""
    named = {requirement_name(line) for line in user_lines}
    out = []
    for pkg in packages:
        if pkg.lower() in named:
            continue
        try:
            out.append(f"{pkg}=={importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(pkg)
    return out


def pip_platform_args(python_version: str, machine: str | None = None) -> list[str]:
    machine = machine or platform.machine()
    args = ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp",
            "--abi", f"cp{python_version.replace('.', '')}"]
    for tag in MANYLINUX:
        args += ["--platform", f"{tag}_{machine}"]
    return args


def download(lines: list[str], cache_root: Path, python_version: str = "3.11", log=print) -> Path:
    """A folder of wheels plus ``requirements.txt``; cached under ``cache_root`` by content."""
    text = "\n".join(lines) + "\n"
    key = hashlib.sha256(f"{python_version}\n{platform.machine()}\n{text}".encode()).hexdigest()[:20]
    dest = cache_root / key
    if (dest / ".complete").exists():
        log(f"wheelhouse: reusing {dest.name} ({len(list(dest.glob('*.whl')))} wheels)")
        return dest
    tmp = cache_root / f".{key}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "requirements.txt").write_text(text)
    cmd = [sys.executable, "-m", "pip", "download", "--dest", str(tmp), "--progress-bar", "off",
           "--disable-pip-version-check", *pip_platform_args(python_version), "-r", str(tmp / "requirements.txt")]
    log(f"wheelhouse: resolving {len(lines)} requirement(s) for CPython {python_version} {platform.machine()}")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        last = output.splitlines()[-1] if output else "pip failed"
        cause = next((ln for ln in reversed(output.splitlines()) if ln.startswith("ERROR:")), last)
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildError(f"Resolving the image's requirements failed: {cause.removeprefix('ERROR: ')}",
                         detail="\n".join(output.splitlines()[-15:]))
    (tmp / ".complete").write_text("")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    log(f"wheelhouse: {len(list(dest.glob('*.whl')))} wheels")
    return dest
