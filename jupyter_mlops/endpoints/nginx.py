"""An endpoint's local proxy: nginx, run as the current user from generated configs.

Two nginx instances per endpoint, each with its own prefix folder under the endpoint's state folder:

- the *front* listens on the endpoint's port and passes every request to the router over kept-alive
  connections. Its config never changes with traffic, so it is never reloaded while clients talk to it.
- the *router* holds the routing: ``split_clients`` on ``$request_id`` for the traffic split (so one
  client's requests split too), a ``map`` on the ``azureml-model-deployment`` header that reaches one
  deployment whatever the split, and ``mirror`` for the share of live traffic copied to a deployment
  whose answers are dropped. A traffic change rewrites its config and reloads it (SIGHUP).

Why two: on a reload, nginx's old workers close their idle kept-alive client connections at once, and
a client that sent its next request on one at that moment gets no answer (measured: 2 of 8,985 requests
lost over 30 reloads with 4 kept-alive clients on the router alone; 0 of 7,273 through the front). With
the front in between, those closes hit the front's connections to the router, and nginx retries a request
that fails on a kept-alive upstream connection (``non_idempotent``: scoring is idempotent), so clients
lose nothing. The price is a second hop (see bench/endpoint.py).

Who checks keys: the deployments behind the endpoint. Each reads the endpoint's keys file (keys, or
the secret that signs its tokens), so nginx passes ``Authorization`` through untouched and a bad key
or an expired token gets the server's 401; mirrored requests carry it too. No ``auth_request``
subrequest per request, and one place where credentials are checked. nginx logs no requests here
(``access_log off``): headers hold keys and tokens.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import DeploymentError

HEADER = "azureml-model-deployment"  # Azure ML's own header: their clients work unchanged
UPSTREAM_KEEPALIVE_S = 20  # below the servers' own 30 s, so nginx never reuses a connection they closed


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

# In every proxying location: nginx inherits no proxy_set_header into a level that sets its own.
_PROXY = """      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_read_timeout 300s;
      proxy_buffering off;
      proxy_next_upstream error non_idempotent;
"""


def router_address(home: Path) -> str:
    """The router's unix socket (cheaper than TCP for the hop from the front), in a short path: a socket
    path may not exceed 107 bytes, and a workspace's state folder can be deep."""
    digest = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:16]
    return f"unix:{tempfile.gettempdir()}/mlops-endpoint-{digest}.sock"


def render_front(host: str, port: int, router: str) -> str:
    return f"""# jupyter-mlops endpoint front: generated, do not edit. Never reloaded for traffic changes.
{_common()}http {{
{_HTTP}  upstream mlops_router {{
    server {router};
    keepalive 256;
    keepalive_timeout 50s;
  }}
  server {{
    listen {host}:{port} backlog=4096;
    keepalive_timeout 75s;
    keepalive_requests 100000;
    location / {{
{_PROXY}      proxy_pass http://mlops_router;
    }}
  }}
}}
"""


def _json_text(message: str) -> str:
    return "'" + json.dumps({"message": message}).replace("'", "\\'") + "'"


def _split(name: str, key: str, shares: dict[str, int], rest: str) -> str:
    """``split_clients``: each deployment with a share; the last takes ``*`` when they make 100."""
    items = [(d, p) for d, p in sorted(shares.items()) if p > 0]
    lines = []
    for i, (dep, pct) in enumerate(items):
        last = i == len(items) - 1 and sum(p for _, p in items) == 100
        lines.append(f"    {'*' if last else f'{pct}%'} {dep};")
    if sum(p for _, p in items) < 100:
        lines.append(f'    * "{rest}";')
    return f'  split_clients "{key}" ${name} {{\n' + "\n".join(lines) + "\n  }\n"


@dataclass(frozen=True)
class Routes:
    """What the router is generated from: the endpoint's state in the metadata store."""

    endpoint: str
    backends: dict[str, str]  # deployment -> host:port
    traffic: dict[str, int]
    mirror: dict[str, int]
    generation: int


# The id the servers record and answer with: the client's, or nginx's; a mirrored copy carries the same.
_ROUTED = _PROXY + "      proxy_set_header X-Request-Id $mlops_request_id;\n"


def render_router(routes: Routes, router: str) -> str:
    upstreams = "".join(f"  upstream {dep} {{\n    server {addr};\n    keepalive 64;\n"
                        f"    keepalive_timeout {UPSTREAM_KEEPALIVE_S}s;\n  }}\n"
                        for dep, addr in sorted(routes.backends.items()))
    by_header = "".join(f"    {dep} {dep};\n" for dep in sorted(routes.backends))
    names = ", ".join(sorted(routes.backends)) or "none"
    mirroring = any(p > 0 for p in routes.mirror.values())
    mirror_split = _split("mlops_mirror", "${request_id}mirror", routes.mirror, "") if mirroring else ""
    mirror_on = "      mirror /_mlops_mirror;\n" if mirroring else ""
    mirror_location = f"""    location = /_mlops_mirror {{
      internal;
      if ($mlops_mirror = "") {{ return 204; }}
{_ROUTED}      proxy_pass http://$mlops_mirror$request_uri;
    }}
""" if mirroring else ""
    unknown = _json_text(f"No deployment of that name behind endpoint {routes.endpoint!r} "
                         f"(header {HEADER}); it has: {names}.")
    idle = _json_text(f"Endpoint {routes.endpoint!r} sends no traffic to any deployment yet: set its traffic.")
    down = _json_text(f"The deployment behind endpoint {routes.endpoint!r} did not answer.")
    return f"""# jupyter-mlops endpoint router for {routes.endpoint!r}: generated, do not edit.
# generation {routes.generation}
{_common()}http {{
{_HTTP}{upstreams}{_split("mlops_split", "${request_id}", routes.traffic, "")}\
  map $http_{HEADER.replace("-", "_")} $mlops_deployment {{
    "" $mlops_split;
{by_header}    default "-";
  }}
  map $http_x_request_id $mlops_request_id {{
    "" $request_id;
    default $http_x_request_id;
  }}
{mirror_split}  server {{
    listen {router} backlog=4096;
    keepalive_timeout 75s;
    keepalive_requests 100000;
    location / {{
      if ($mlops_deployment = "-") {{ return 404 {unknown}; }}
      if ($mlops_deployment = "") {{ return 503 {idle}; }}
{mirror_on}      add_header {HEADER} $mlops_deployment always;
      error_page 502 504 = /_mlops_down;
{_ROUTED}      proxy_pass http://$mlops_deployment;
    }}
{mirror_location}    location = /_mlops_down {{
      internal;
      return 502 {down};
    }}
  }}
}}
"""


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

    def start(self, text: str, socket: str | None = None) -> None:
        if socket and socket.startswith("unix:") and not self.running():
            Path(socket[5:]).unlink(missing_ok=True)  # left by a master that was killed
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
