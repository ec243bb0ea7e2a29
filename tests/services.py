"""Real services for the tests: PostgreSQL, Azurite, a container registry and the Docker engine, started on 127.0.0.1.

Each helper finds what ``.ci/run`` installed; when something is missing the test fails with a
message that says how to install it (set JUPYTER_MLOPS_TEST_SKIP_MISSING=1 to skip instead).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
BASE_IMAGE = os.environ.get("JUPYTER_MLOPS_TEST_BASE_IMAGE", "jupyter-mlops/python:3.11-bookworm")
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def missing(what: str, how: str) -> None:
    message = f"{what} is not available: {how}"
    if os.environ.get("JUPYTER_MLOPS_TEST_SKIP_MISSING") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


class Postgres:
    """A throwaway cluster owned by the ``postgres`` user (initdb refuses to run as root)."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            missing("PostgreSQL", "apt-get install postgresql")
        self.dir = Path(tempfile.mkdtemp(prefix="mlops-pg-"))
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(PG_BIN / "initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        self._run(
            PG_BIN / "pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w", "start",
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
        )
        self._counter = 0

    def _run(self, *cmd: object) -> None:
        argv = [str(c) for c in cmd]
        if self._as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, cwd=self.dir)

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        self._counter += 1
        name = f"mlops_test_{self._counter}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run(PG_BIN / "pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def end(proc: subprocess.Popen, grace_s: float = 10) -> None:  # type: ignore[type-arg]
    """Stop a process: SIGTERM, and SIGKILL if it has not exited ``grace_s`` later (Azurite once took
    longer on a loaded machine, and the test that had just passed was reported as an error at teardown)."""
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def azurite_binary() -> str | None:
    local = REPO / ".tools" / "node_modules" / ".bin" / "azurite-blob"
    return str(local) if local.exists() else shutil.which("azurite-blob")


class Azurite:
    """Azurite's blob service on 127.0.0.1; ``stop()``/``start()`` simulate a storage outage."""

    def __init__(self) -> None:
        self.binary = azurite_binary()
        if self.binary is None:
            missing("Azurite", "npm install --prefix .tools azurite")
        self.dir = Path(tempfile.mkdtemp(prefix="mlops-azurite-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT};"
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location",
             str(self.dir), "--silent", "--skipApiVersionCheck", "--loose"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, 60, self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            end(self.proc)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


REGISTRY_CONFIG = """version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


class ContainerRegistry:
    """Debian's ``docker-registry`` (the CNCF distribution registry) on a free 127.0.0.1 port, storing in a
    temporary folder. Docker treats 127.0.0.0/8 registries as insecure, so it pushes over plain HTTP."""

    def __init__(self) -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            missing("docker-registry", "apt-get install docker-registry")
        self.dir = Path(tempfile.mkdtemp(prefix="mlops-registry-"))
        self.port = free_port()
        (self.dir / "config.yml").write_text(REGISTRY_CONFIG.format(root=self.dir / "storage", port=self.port))
        self.proc = subprocess.Popen([str(binary), "serve", str(self.dir / "config.yml")],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "log", "wb"))  # noqa: SIM115
        wait_for_port(self.port, 30, self.proc)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        end(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def ensure_docker() -> None:
    """Start dockerd when none answers (tools/ensure-docker.sh), and make the local base image."""
    if shutil.which("docker") is None or shutil.which("dockerd") is None:
        missing("Docker engine", "apt-get install docker.io")
    result = subprocess.run(["bash", str(REPO / "tools" / "ensure-docker.sh")], capture_output=True, text=True)
    if result.returncode != 0:
        missing("Docker engine", result.stderr.strip()[-500:])


def ensure_base_image() -> str:
    ensure_docker()
    result = subprocess.run(
        ["bash", str(REPO / "tools" / "make-base-image.sh"), BASE_IMAGE], capture_output=True, text=True
    )
    if result.returncode != 0:
        missing("the local base image", result.stderr.strip()[-500:])
    return BASE_IMAGE
