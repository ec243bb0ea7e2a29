"""An endpoint's local proxy: one nginx, run as the current user from a generated config, that routes
on a table of symbolic links it reads on every request, so traffic changes need no reload.

Why no reload: on a reload, nginx's old workers close their idle kept-alive client connections at once,
and a client that sent its next request on one at that moment gets no answer (measured: 2 of 8,985
requests lost over 30 reloads with 4 kept-alive clients). nginx 1.22 has no setting against it
(``keepalive_min_timeout`` came in a later nginx), and clients do not retry a POST. So the config never
changes with traffic; what changes is the *routing table*, a folder nginx reads per request:

- ``split_clients`` on ``$request_id`` puts each request in one of 100 slots (1 % each), and a second
  ``split_clients`` in one of 100 mirror slots; the ``azureml-model-deployment`` header names a
  deployment instead (a ``map`` checks it is a name before it becomes a path).
- ``routes/cur`` links to the current generation ``g<time>-<N>/``, where ``t00``..``t99``, ``m00``..``m99``
  and ``n/<deployment>`` are links to ``d/<bay>@<deployment>`` (``@m`` appended while a mirror is on) or to
  ``d/none``. nginx resolves them with ``$realpath_root`` (``realpath(3)``: one ``readlink`` per path
  component) and takes the bay and the name from the result.
- A traffic change writes a new generation and renames a new ``cur`` link over the old one: one atomic
  step; requests already routed finish where they went, the next ones follow the new table.

(The former design reached the same losslessness with two nginx instances, a never-reloaded front before a
reloaded router; one hop instead of two takes about 40 % less nginx CPU per request, see bench/endpoint.py.)

Bays: nginx keeps connections to a deployment alive only through an ``upstream`` block, which a config
must declare. So the config declares ``BAYS`` upstreams ``b0``..``b15`` on ports the endpoint set aside
when it was created (``config["bays"]``), and a deployment behind the endpoint is started on a free bay's
port: adding or removing one is a table change too. Only when every free bay's port was taken by another
program are new ports set aside, with a reload (the one case that can cost a kept-alive client a request).

Who checks keys: the deployments behind the endpoint. Each reads the endpoint's keys file (keys, or
the secret that signs its tokens), so nginx passes ``Authorization`` through untouched and a bad key
or an expired token gets the server's 401; mirrored requests carry it too. No ``auth_request``
subrequest per request, and one place where credentials are checked. nginx logs no requests here
(``access_log off``): headers hold keys and tokens.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import DeploymentError

HEADER = "azureml-model-deployment"  # Azure ML's own header: their clients work unchanged
UPSTREAM_KEEPALIVE_S = 20  # below the servers' own 30 s, so nginx never reuses a connection they closed
BAYS = 16  # deployments behind one local endpoint at most (Azure ML allows 20 per endpoint)
SLOTS = 100  # the split's resolution: 1 %
KEEP_GENERATIONS = 3  # a request resolving its route while cur moves still finds the one it read


def nginx_binary() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                           if os.access(p, os.X_OK)), None)
    if found is None:
        raise DeploymentError("nginx is not installed: endpoints on this machine need it "
                              "(Debian: apt-get install nginx; tools/setup.sh installs it).")
    return found


def _common(error_level: str = "error") -> str:
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""  # workers stay as we are
    return f"""worker_processes 1;
{user}pid nginx.pid;
error_log logs/error.log {error_level};
events {{ worker_connections 4096; }}
"""


_HTTP = """  access_log off;
  server_tokens off;
  client_max_body_size 32m;
  client_body_temp_path tmp/body;
  proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi;
  scgi_temp_path tmp/scgi;
  default_type application/json;
"""

# In every proxying location: nginx inherits no proxy_set_header into a level that sets its own. The id
# the servers record and answer with is the client's, or nginx's; a mirrored copy carries the same.
_PROXY = """      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Request-Id $mlops_request_id;
      proxy_read_timeout 300s;
      proxy_buffering off;
      proxy_next_upstream error non_idempotent;
"""


@dataclass(frozen=True)
class Listen:
    """Where the endpoint answers: host and port, with HTTPS when given a certificate and its key."""

    host: str
    port: int
    tls_cert: str | None = None
    tls_key: str | None = None


def _json_text(message: str) -> str:
    return "'" + json.dumps({"message": message}).replace("'", "\\'") + "'"


def _slots(var: str, key: str, prefix: str) -> str:
    lines = "".join(f"    1% {prefix}{i:02d};\n" for i in range(SLOTS - 1))
    return f'  split_clients "{key}" ${var} {{\n{lines}    * {prefix}{SLOTS - 1:02d};\n  }}\n'


def render(endpoint: str, listen: Listen, bays: list[str], routes: Path) -> str:
    """The endpoint's nginx config: it changes only when the endpoint is (re)started."""
    upstreams = "".join(f"  upstream b{i} {{\n    server {addr};\n    keepalive 64;\n"
                        f"    keepalive_timeout {UPSTREAM_KEEPALIVE_S}s;\n  }}\n" for i, addr in enumerate(bays))
    ssl = ""
    if listen.tls_cert:
        ssl = (f"    ssl_certificate {listen.tls_cert};\n    ssl_certificate_key {listen.tls_key or listen.tls_cert};\n"
               "    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_session_cache shared:mlops_tls:1m;\n")
    idle = _json_text(f"Endpoint {endpoint!r} sends no traffic to any deployment yet: set its traffic.")
    down = _json_text(f"The deployment behind endpoint {endpoint!r} did not answer.")
    return f"""# jupyter-mlops endpoint {endpoint!r}: generated, do not edit. Routes are the links in {routes}.
{_common()}http {{
{_HTTP}{upstreams}{_slots("mlops_slot", "${request_id}", "t")}{_slots("mlops_mirror_slot", "${request_id}mirror", "m")}\
  map $http_{HEADER.replace("-", "_")} $mlops_route {{
    "" $mlops_slot;
    "~^[A-Za-z0-9_][A-Za-z0-9._-]*$" n/$http_{HEADER.replace("-", "_")};
    default "-";
  }}
  # $realpath_root read once per request: a `set` evaluates its value twice (length, then copy), and a
  # table that changes in between gives a longer path than the length taken ("no buffer space", a 500)
  map $realpath_root $mlops_target {{
    "~^(.*)$" $1;
  }}
  map $realpath_root $mlops_mirror_target {{
    "~^(.*)$" $1;
  }}
  map $http_x_request_id $mlops_request_id {{
    "" $request_id;
    default $http_x_request_id;
  }}
  server {{
    listen {listen.host}:{listen.port}{" ssl" if listen.tls_cert else ""} backlog=4096;
{ssl}    keepalive_timeout 75s;
    keepalive_requests 100000;
    root {routes}/cur/$mlops_route;
    location / {{
      error_page 404 /_mlops_unknown;
      if ($mlops_route = "-") {{ return 404; }}
      if (!-e $document_root) {{ return 404; }}
      if ($mlops_target ~ "/d/([0-9]+)@([^@/]+)(@m)?$") {{
        set $mlops_bay b$1;
        set $mlops_deployment $2;
        set $mlops_mirroring $3;
      }}
      if ($mlops_bay = "") {{ return 503 {idle}; }}
      if ($mlops_mirroring) {{ rewrite ^ /_mlops_mirrored last; }}
      add_header {HEADER} $mlops_deployment always;
      error_page 502 504 = /_mlops_down;
{_PROXY}      proxy_pass http://$mlops_bay$request_uri;
    }}
    location = /_mlops_mirrored {{
      internal;
      mirror /_mlops_mirror;
      add_header {HEADER} $mlops_deployment always;
      error_page 502 504 = /_mlops_down;
{_PROXY}      proxy_pass http://$mlops_bay$request_uri;
    }}
    location = /_mlops_mirror {{
      internal;
      root {routes}/cur/$mlops_mirror_slot;
      if ($mlops_mirror_target ~ "/d/([0-9]+)@") {{ set $mlops_mirror_bay b$1; }}
      if ($mlops_mirror_bay = "") {{ return 204; }}
{_PROXY}      proxy_pass http://$mlops_mirror_bay$request_uri;
    }}
    location = /_mlops_unknown {{
      internal;
      alias {routes}/cur/unknown.json;
    }}
    location = /_mlops_down {{
      internal;
      return 502 {down};
    }}
  }}
}}
"""


@dataclass(frozen=True)
class Routes:
    """What the routing table is written from: the endpoint's state in the metadata store."""

    endpoint: str
    backends: dict[str, str]  # deployment -> host:port, each one of the bays
    traffic: dict[str, int]
    mirror: dict[str, int]
    generation: int


def _fill(shares: dict[str, int], targets: dict[str, str]) -> list[str]:
    """SLOTS targets: each deployment as many slots as its percentage, in name order; the rest none."""
    out = [targets[d] for d, p in sorted(shares.items()) if p > 0 and d in targets for _ in range(p)]
    return (out + ["none"] * SLOTS)[:SLOTS]


def write_table(routes: Routes, bays: list[str], folder: Path) -> None:
    """Write a new generation of the routing table and make it current in one rename."""
    (folder / "d" / "none").mkdir(parents=True, exist_ok=True)
    mirroring = any(p > 0 for p in routes.mirror.values())
    live, plain = {}, {}
    for dep, addr in routes.backends.items():
        if addr not in bays:
            raise DeploymentError(f"Deployment {dep!r} listens on {addr}, which is not one of the endpoint's bays.")
        plain[dep] = f"{bays.index(addr)}@{dep}"
        live[dep] = plain[dep] + ("@m" if mirroring else "")
        for target in {plain[dep], live[dep]}:
            (folder / "d" / target).mkdir(exist_ok=True)
    gen = folder / f"g{time.time_ns():020d}-{routes.generation}"  # names sort by age
    (gen / "n").mkdir(parents=True)
    for i, target in enumerate(_fill(routes.traffic, live)):
        os.symlink(f"../d/{target}", gen / f"t{i:02d}")
    for i, target in enumerate(_fill(routes.mirror, plain)):
        os.symlink(f"../d/{target}", gen / f"m{i:02d}")
    for dep, target in live.items():
        os.symlink(f"../../d/{target}", gen / "n" / dep)
    names = ", ".join(sorted(routes.backends)) or "none"
    (gen / "unknown.json").write_text(json.dumps({"message": (
        f"No deployment of that name behind endpoint {routes.endpoint!r} (header {HEADER}); it has: {names}.")}))
    new = folder / f"cur.{gen.name}"
    os.symlink(gen.name, new)
    os.replace(new, folder / "cur")
    old = sorted(p.name for p in folder.glob("g*-*") if p != gen)
    for stale in [folder / n for n in old[:max(0, len(old) - (KEEP_GENERATIONS - 1))]]:
        shutil.rmtree(stale, ignore_errors=True)


def free_bay(host: str, port: int) -> bool:
    """Nothing listens on it (TIME_WAIT connections of a server that left do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class Nginx:
    """One nginx master with its prefix folder: start, reload gracefully, stop."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    def _run(self, *args: str, conf: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([nginx_binary(), "-p", f"{self.prefix}/", "-c", str(conf or self.conf), *args],
                               capture_output=True, text=True, timeout=30)

    def pid(self) -> int | None:
        """The master's pid, if it runs: a pid file left by a master that died (a reboot, a kill) may name
        another process by now, so the process must be nginx's master with our prefix."""
        try:
            pid = int((self.prefix / "nginx.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"nginx: master process" in cmdline and str(self.prefix).encode() in cmdline else None

    def running(self) -> bool:
        return self.pid() is not None

    def _write(self, text: str) -> Path:
        """Write a config beside the live one and test it; the caller moves it into place."""
        for sub in ("logs", "tmp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        new = self.prefix / "nginx.conf.new"
        new.write_text(text)
        result = self._run("-t", "-q", conf=new)
        if result.returncode != 0:
            raise DeploymentError(f"nginx refused the generated config {new}: {_last_line(result.stderr)}")
        return new

    def start(self, text: str) -> None:
        os.replace(self._write(text), self.conf)
        result = self._run()  # daemonizes once its sockets are bound; a port in use fails here
        if result.returncode != 0:
            raise DeploymentError(f"nginx did not start: {_last_line(result.stderr)}", detail=self.log_tail())
        deadline = time.monotonic() + 10
        while self.pid() is None:
            if time.monotonic() > deadline:
                raise DeploymentError("nginx did not write its pid file.", detail=self.log_tail())
            time.sleep(0.02)

    def reload(self, text: str, timeout: float = 10.0) -> None:
        """New config, then SIGHUP: the master starts workers with it and tells the old ones to finish
        what they are doing and exit. Returns once only new workers accept connections."""
        new = self._write(text)
        pid = self.pid()
        if pid is None:
            os.replace(new, self.conf)
            return self.start(self.conf.read_text())
        os.replace(new, self.conf)
        old = set(_children(pid))
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kids = _children(pid)
            if set(kids) - old and all(k not in old or _shutting_down(k) for k in kids):
                return
            time.sleep(0.01)
        raise DeploymentError("nginx did not take the new config.", detail=self.log_tail())

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGQUIT): requests in flight finish first."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + timeout
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.prefix / "logs" / "error.log").read_text().splitlines()[-lines:])
        except OSError:
            return ""


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _shutting_down(pid: int) -> bool:
    try:
        return b"shutting down" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # gone


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """One writer of an endpoint's proxy at a time (across processes): render and reload together."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
