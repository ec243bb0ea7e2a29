"""Endpoints: one stable scoring URI, its own keys or expiring tokens, and deployments behind it.

The traffic split, the mirror share and which deployments stand behind an endpoint are its record
in the metadata store; the proxy (nginx here, a Gateway API ``HTTPRoute`` on Kubernetes) is
generated from that record whenever it changes (:meth:`EndpointService.apply`). A local endpoint's
nginx that is not running (the machine restarted, the process was killed) is started again whenever
the endpoint is used: read, scored through, or its traffic set.
"""

from __future__ import annotations

import builtins
import os
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, select

from .. import client
from ..deployments import keys as keyring
from ..deployments.records import Deployment
from ..deployments.service import DeploymentService
from ..errors import ConflictError, DeploymentError, NotFoundError, UsageError
from ..images.records import Image
from ..local_server import free_port
from ..names import validate_name
from ..store.paging import fetch_page
from ..store.schema import deployments, endpoint_events, endpoints, images
from ..workspace import Workspace
from . import gateway
from .nginx import BAYS, HEADER, Listen, Nginx, Routes, free_bay, locked, render, write_table
from .records import Endpoint, EndpointEvent, EndpointList, Token

AUTH_MODES = ("key", "token", "none")
LOCAL = ("process", "docker")  # nginx on this machine routes to either
TARGETS = (*LOCAL, "kubernetes")
MAX_MIRROR = 50


class EndpointService:
    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.deployments = DeploymentService(workspace)

    def home(self, name: str) -> Path:
        return self.ws.state_dir / "endpoints" / name

    # --- create, read, delete ---------------------------------------------------------------------
    def create(self, name: str, target: str | None = None, auth: str = "key", host: str = "127.0.0.1",
               port: int | None = None, namespace: str | None = None, gateway_name: str | None = None,
               hostname: str | None = None, dry_run: bool = False, output_dir: str | None = None,
               tls_cert: str | None = None, tls_key: str | None = None, tls_ca: str | None = None) -> Endpoint:
        validate_name(name, "endpoint")
        target = target or self.ws.default_target
        if target not in TARGETS:
            raise UsageError(f"Invalid endpoint target {target!r}: use one of {', '.join(TARGETS)}.")
        if auth not in AUTH_MODES:
            raise UsageError(f"Invalid auth {auth!r}: use key, token or none.")
        if target in LOCAL:
            if namespace or gateway_name or hostname or dry_run or output_dir:
                raise UsageError(f"namespace, gateway, hostname, dry_run and output_dir are for kubernetes endpoints, "
                                 f"not {target!r}.")
            _check_tls(tls_cert, tls_key, tls_ca)
            config: dict[str, Any] = {"host": host, "port": port or free_port(host),
                                      "bays": [f"127.0.0.1:{free_port()}" for _ in range(BAYS)]}
        else:
            if port is not None:
                raise UsageError("A kubernetes endpoint listens on its Gateway: port is not a setting of it.")
            if tls_cert or tls_key or tls_ca:
                raise UsageError("A kubernetes endpoint's TLS is its Gateway's listener: no tls_cert here.")
            config = {"namespace": namespace or "default", "gateway": gateway_name or "mlops-gateway",
                      "hostname": hostname, "dry_run": dry_run,
                      "output_dir": output_dir or str(self.home(name) / "manifests")}
        now = time.time()
        with self.ws.metadata.begin() as conn:
            if conn.execute(select(endpoints.c.id).where(endpoints.c.name == name)).first() is not None:
                raise ConflictError(f"Endpoint {name!r} already exists.")
            conn.execute(endpoints.insert().values(
                name=name, target=target, auth=auth, config=config, traffic={}, mirror={}, state="creating",
                handle={"generation": 0}, created_at=now, updated_at=now))
        try:
            if auth != "none":
                keyring.create(keyring.endpoint_secrets_dir(self.ws, name), tokens=auth == "token")
            if tls_cert:
                self._set(name, config={**config, **self._stage_tls(name, tls_cert, tls_key, tls_ca)})
            self.apply(name)
        except BaseException:
            self._stop_proxy(name)
            with self.ws.metadata.begin() as conn:
                self._drop(conn, self._row(conn, name).id)
            shutil.rmtree(self.home(name), ignore_errors=True)
            raise
        scheme = "https" if tls_cert else "http"
        uri = (f"{scheme}://{config['host']}:{config['port']}/score" if target in LOCAL
               else f"http://{gateway.hostname(name, config)}/score")
        self._set(name, state="healthy", scoring_uri=uri)
        self.event(name, "created", f"{target} endpoint, {auth} auth, scoring URI {uri}")
        return self.get(name)

    def get(self, name: str) -> Endpoint:
        row = self._running(name)
        state = self._live_state(row)
        if state != row.state:
            self._set(name, state=state)
        with self.ws.metadata.read() as conn:
            return self._load(conn, [self._row(conn, name)])[0]

    def list(self, limit: int = 100, offset: int = 0) -> EndpointList:
        with self.ws.metadata.read() as conn:
            rows, has_more = fetch_page(conn, select(endpoints), endpoints.c.id, [], limit, offset)
            return EndpointList(self._load(conn, rows, events=False), has_more, offset)

    def delete(self, name: str) -> None:
        """Remove the endpoint, the deployments behind it, its proxy, keys and record."""
        with self.ws.metadata.read() as conn:
            row = self._row(conn, name)
        if (row.rollout or {}).get("status") == "running":
            raise ConflictError(f"Endpoint {name!r} has a rollout running: abort it first.")
        self._stop_proxy(name)
        if row.target == "kubernetes" and not row.config.get("dry_run"):
            from ..deployments.targets.kubernetes import delete_resource, k8s_name

            delete_resource(gateway.API_VERSION, "HTTPRoute", k8s_name(name), row.config["namespace"])
        for dep in list(row.traffic):
            if self.deployments.exists(dep):
                self.deployments.undeploy(dep)
        with self.ws.metadata.begin() as conn:
            self._drop(conn, row.id)
        shutil.rmtree(self.home(name), ignore_errors=True)

    # --- deployments behind it ----------------------------------------------------------------
    def deploy(self, name: str, image: Image | str, endpoint: str, target: str | None = None, tags: Any = None,
               **settings: Any) -> Deployment:
        """A deployment behind ``endpoint``: its keys, no traffic until :meth:`set_traffic` gives it some."""
        with self.ws.metadata.read() as conn:
            row = self._row(conn, endpoint)
        target = target or row.target
        if target not in (LOCAL if row.target in LOCAL else ("kubernetes",)):
            raise UsageError(f"Endpoint {endpoint!r} ({row.target}) cannot route to a {target!r} deployment.")
        if settings.get("tls_cert"):
            raise UsageError(f"Deployments behind endpoint {endpoint!r} serve plain HTTP to its proxy: "
                             "no tls_cert here.")
        settings.pop("auth", None)
        if row.target in LOCAL:
            if settings.get("port"):
                raise UsageError(f"A deployment behind endpoint {endpoint!r} listens on a port the endpoint set "
                                 "aside: no port here.")
            settings["port"] = self._free_bay(endpoint)
        if row.target == "kubernetes":
            for key in ("namespace", "dry_run", "output_dir"):
                settings.setdefault(key, row.config[key])
        dep = self.deployments.deploy(name, image, target, tags, auth=row.auth != "none", endpoint=endpoint,
                                      **settings)
        self._attach(endpoint, name)
        return dep

    def _attach(self, endpoint: str, deployment: str) -> None:
        with self.ws.metadata.begin() as conn:
            row = self._row(conn, endpoint)
            traffic = {**row.traffic, deployment: 0}
            self._update(conn, row, traffic=traffic)
        self.apply(endpoint)
        self.event(endpoint, "deployment-added", f"{deployment} (no traffic until set)")

    def endpoint_of(self, deployment: str) -> str | None:
        with self.ws.metadata.read() as conn:
            row = conn.execute(select(deployments.c.config).where(deployments.c.name == deployment)).first()
        if row is None:
            raise NotFoundError(f"Deployment {deployment!r} not found.")
        endpoint = row.config.get("endpoint")
        return str(endpoint) if endpoint else None

    def undeploy(self, deployment: str) -> None:
        """Remove a deployment; one behind an endpoint leaves its routes first (it must have no traffic)."""
        endpoint = self.endpoint_of(deployment)
        if endpoint is not None and self._exists(endpoint):
            with self.ws.metadata.begin() as conn:
                row = self._row(conn, endpoint)
                if row.traffic.get(deployment, 0) or row.mirror.get(deployment, 0):
                    raise ConflictError(f"Deployment {deployment!r} takes traffic from endpoint {endpoint!r}: "
                                        "set its traffic and mirror to 0 first.")
                self._update(conn, row, traffic={k: v for k, v in row.traffic.items() if k != deployment})
            self.apply(endpoint)  # no route reaches it any more: now it can stop
            self.event(endpoint, "deployment-removed", deployment)
        self.deployments.undeploy(deployment)

    # --- traffic ------------------------------------------------------------------------------
    def set_traffic(self, name: str, traffic: dict[str, int] | None = None,
                    mirror: dict[str, int] | None = None) -> Endpoint:
        """Live traffic shares (they sum to 100) and the mirror share (at most 50 %, to one deployment
        that takes no live traffic), both by deployment name; deployments left out get 0. A deployment
        that is not healthy cannot receive either."""
        with self.ws.metadata.read() as conn:
            row = self._row(conn, name)
        new_traffic = _shares(name, row.traffic, traffic if traffic is not None else row.traffic, "traffic")
        # a mirror ends when its deployment now takes live traffic
        kept = {d: p for d, p in row.mirror.items() if not new_traffic.get(d)}
        new_mirror = _shares(name, row.traffic, mirror if mirror is not None else kept, "mirror")
        _check_split(name, new_traffic, new_mirror)
        for dep in sorted({d for d, p in new_traffic.items() if p} | set(new_mirror)):
            state = self.deployments.get(dep).state
            if state != "healthy":
                raise ConflictError(f"Deployment {dep!r} is {state}: only a healthy deployment can receive traffic.")
        with self.ws.metadata.begin() as conn:
            self._update(conn, self._row(conn, name), traffic=new_traffic, mirror=new_mirror)
        self.apply(name)
        self.event(name, "traffic", f"traffic {_fmt(new_traffic)}; mirror {_fmt(new_mirror) or 'off'}",
                   {"traffic": new_traffic, "mirror": new_mirror})
        return self.get(name)

    def apply(self, name: str) -> None:
        """Make the proxy what the record says: a new routing table for nginx (started if it is not
        running), or the HTTPRoute rendered (and applied)."""
        with locked(self.home(name)):
            with self.ws.metadata.read() as conn:
                row = self._row(conn, name)
            if row.target in LOCAL:
                self._run_proxy(row)
                return
            from ..deployments.targets.kubernetes import apply, to_yaml

            doc = gateway.render_route(name, row.config, dict(row.traffic), dict(row.mirror))
            out = Path(row.config["output_dir"])
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{doc['metadata']['name']}-httproute.yaml").write_text(to_yaml([doc]))
            if not row.config.get("dry_run"):
                apply([doc])

    def _backends(self, names: Any) -> dict[str, str]:
        with self.ws.metadata.read() as conn:
            rows = conn.execute(select(deployments.c.name, deployments.c.config)
                                .where(deployments.c.name.in_(list(names)))).all()
        out = {}
        for r in rows:
            host = r.config.get("host") or "127.0.0.1"
            out[r.name] = f"{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{r.config['port']}"
        return out

    def compared(self, name: str) -> builtins.list[str] | None:
        """The deployments an endpoint dashboard shows: those behind it and its last rollout's; None when
        ``name`` is a deployment, or no endpoint."""
        if self.deployments.exists(name) or not self._exists(name):
            return None
        with self.ws.metadata.read() as conn:
            row = self._row(conn, name)
        rollout = row.rollout or {}
        return sorted({*row.traffic, *(rollout[k] for k in ("current", "new") if rollout.get(k))})

    # --- keys, tokens, scoring ------------------------------------------------------------------
    def keys(self, name: str) -> dict[str, str]:
        row = self._auth_row(name, "key")
        return keyring.read(keyring.endpoint_secrets_dir(self.ws, row.name))

    def regen_key(self, name: str, slot: str) -> None:
        row = self._auth_row(name, "key")
        keyring.regenerate(keyring.endpoint_secrets_dir(self.ws, row.name), slot)
        self.event(name, "key-regenerated", f"{slot} key regenerated")

    def token(self, name: str, expires_in: float = 3600.0) -> Token:
        if not 0 < expires_in <= 7 * 24 * 3600:
            raise UsageError(f"Invalid expires_in {expires_in!r}: seconds, more than 0 and at most a week.")
        row = self._auth_row(name, "token")
        access, expires = keyring.token(keyring.endpoint_secrets_dir(self.ws, row.name), name, expires_in)
        return Token(access, expires, name)

    def _auth_row(self, name: str, mode: str) -> Any:
        with self.ws.metadata.read() as conn:
            row = self._row(conn, name)
        if row.auth != mode:
            what = "keys" if mode == "key" else "tokens"
            raise UsageError(f"Endpoint {name!r} uses {row.auth} auth: it has no {what}.")
        return row

    def score(self, name: str, data: Any, deployment: str | None = None, timeout: float = 30.0) -> Any:
        row = self._running(name)
        if deployment is not None and deployment not in row.traffic:
            raise NotFoundError(f"Endpoint {name!r} has no deployment {deployment!r}; it has: "
                                f"{', '.join(sorted(row.traffic)) or 'none'}.")
        if row.target not in LOCAL:
            raise DeploymentError(f"Endpoint {name!r} is on kubernetes: score it through its Gateway.")
        secret = keyring.credential(keyring.endpoint_secrets_dir(self.ws, name), name) if row.auth != "none" else None
        headers = {HEADER: deployment} if deployment else None
        cafile = row.config.get("tls_ca") or row.config.get("tls_cert")
        return client.score(row.scoring_uri, data, secret, cafile, timeout, headers=headers)

    # --- events -------------------------------------------------------------------------------
    def event(self, name: str, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        with self.ws.metadata.begin() as conn:
            endpoint_id = self._row(conn, name).id
            conn.execute(endpoint_events.insert().values(endpoint_id=endpoint_id, time=time.time(), kind=kind,
                                                         message=message, data=data))

    # --- the proxy's processes ------------------------------------------------------------------
    def _run_proxy(self, row: Any) -> None:
        """The routing table from the record, and nginx running (under the endpoint's lock). nginx is
        reloaded only when its bays change: a deployment on an address that is not one of them."""
        home = self.home(row.name)
        nginx = Nginx(home / "nginx")
        backends = self._backends(row.traffic)
        bays = _bays(list(row.config.get("bays") or []), backends)
        if bays != row.config.get("bays"):
            self._set(row.name, config={**row.config, "bays": bays})
        routes = Routes(row.name, backends, dict(row.traffic), dict(row.mirror),
                        int((row.handle or {}).get("generation", 0)))
        text = render(row.name, _listen(row.config), bays, home / "routes")
        if nginx.running():
            if bays != row.config.get("bays"):
                nginx.reload(text)  # first: the current table reaches no bay that moves
            write_table(routes, bays, home / "routes")
            return
        write_table(routes, bays, home / "routes")
        for legacy in ("front", "router"):  # an endpoint made when it had two nginx instances
            Nginx(home / legacy).stop()
        nginx.start(text)
        if row.state != "creating":
            self.event(row.name, "proxy-started", "nginx was not running (a restart, or it was stopped): "
                       "started it again")

    def _running(self, name: str) -> Any:
        """The endpoint's record, once its nginx runs (a local endpoint)."""
        with self.ws.metadata.read() as conn:
            row = self._row(conn, name)
        if row.target in LOCAL and row.state != "creating" and not Nginx(self.home(name) / "nginx").running():
            self.apply(name)
        return row

    def _free_bay(self, name: str, renew: bool = True) -> int:
        """The port of a bay no deployment behind the endpoint uses and nothing listens on: the next one
        after the last given, so a port just left by a deployment is the last to be taken again."""
        with locked(self.home(name)):  # the config changes only under it
            with self.ws.metadata.read() as conn:
                row = self._row(conn, name)
            bays, used = list(row.config.get("bays") or []), set(self._backends(row.traffic).values())
            last = int(row.config.get("last_bay", -1))
            for i in [(last + 1 + k) % len(bays) for k in range(len(bays))]:
                host, port = bays[i].rsplit(":", 1)
                if bays[i] not in used and free_bay(host, int(port)):
                    self._set(name, config={**row.config, "last_bay": i})
                    return int(port)
        if len(used) >= BAYS or not renew:
            raise ConflictError(f"Endpoint {name!r} has {len(used)} deployments behind it and no port set aside "
                                f"for another (at most {BAYS}): remove one first.")
        # other programs took every free bay's port: set new ones aside, with a reload of nginx
        self._set(name, config={**row.config, "bays": [a if a in used else "" for a in bays]})
        self.apply(name)
        self.event(name, "bays-renewed", "other programs listened on the ports set aside for deployments: "
                   "new ones set aside (nginx reloaded)")
        return self._free_bay(name, renew=False)

    def _stage_tls(self, name: str, cert: str, key: str | None, ca: str | None) -> dict[str, Any]:
        """Copies of the certificate and key in the endpoint's folder (nginx reads them again when it
        starts after a restart); the CA file stays where it is, for clients."""
        folder = self.home(name) / "tls"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cert, folder / "cert.pem")
        fd = os.open(folder / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Path(key or cert).read_bytes())
        return {"tls_cert": str(folder / "cert.pem"), "tls_key": str(folder / "key.pem"),
                "tls_ca": str(Path(ca).resolve()) if ca else None}

    def _stop_proxy(self, name: str) -> None:
        for part in ("nginx", "front", "router"):  # front and router: endpoints made with two instances
            Nginx(self.home(name) / part).stop()

    def _live_state(self, row: Any) -> str:
        if row.state == "creating" or row.target not in LOCAL:
            return str(row.state)
        return "healthy" if Nginx(self.home(row.name) / "nginx").running() else "unhealthy"

    # --- records --------------------------------------------------------------------------------
    def _exists(self, name: str) -> bool:
        with self.ws.metadata.read() as conn:
            return conn.execute(select(endpoints.c.id).where(endpoints.c.name == name)).first() is not None

    def _row(self, conn: Connection, name: str) -> Any:
        validate_name(name, "endpoint")
        row = conn.execute(select(endpoints).where(endpoints.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"Endpoint {name!r} not found.")
        return row

    def _set(self, name: str, **values: Any) -> None:
        values["updated_at"] = time.time()
        with self.ws.metadata.begin() as conn:
            conn.execute(endpoints.update().where(endpoints.c.name == name).values(**values))

    @staticmethod
    def _update(conn: Connection, row: Any, **values: Any) -> None:
        """Change the routing state; the next generation of the proxy config goes with it."""
        handle = dict(row.handle or {})
        handle["generation"] = int(handle.get("generation", 0)) + 1
        conn.execute(endpoints.update().where(endpoints.c.id == row.id)
                     .values(handle=handle, updated_at=time.time(), **values))

    def set_rollout(self, name: str, rollout: dict[str, Any] | None) -> None:
        self._set(name, rollout=rollout)

    @staticmethod
    def _drop(conn: Connection, endpoint_id: int) -> None:
        conn.execute(delete(endpoint_events).where(endpoint_events.c.endpoint_id == endpoint_id))
        conn.execute(delete(endpoints).where(endpoints.c.id == endpoint_id))

    def _load(self, conn: Connection, rows: builtins.list[Any], events: bool = True) -> builtins.list[Endpoint]:
        names = sorted({d for r in rows for d in r.traffic})
        behind = {d.name: {"image": f"{d.image_name}:{d.image_version}", "state": d.state} for d in conn.execute(
            select(deployments.c.name, deployments.c.state, images.c.name.label("image_name"),
                   images.c.version.label("image_version"))
            .join(images, deployments.c.image_id == images.c.id).where(deployments.c.name.in_(names)))}
        history: dict[int, builtins.list[EndpointEvent]] = {}
        if events:
            for e in conn.execute(select(endpoint_events).where(endpoint_events.c.endpoint_id.in_([r.id for r in rows]))
                                  .order_by(endpoint_events.c.id)):
                history.setdefault(e.endpoint_id, []).append(EndpointEvent(e.time, e.kind, e.message, e.data))
        return [Endpoint(
            name=r.name, target=r.target, auth=r.auth, state=r.state, scoring_uri=r.scoring_uri,
            traffic=dict(r.traffic), mirror=dict(r.mirror),
            deployments={d: behind[d] for d in r.traffic if d in behind}, rollout=r.rollout, config=dict(r.config),
            created_at=r.created_at, updated_at=r.updated_at, events=history.get(r.id, []), _service=self,
        ) for r in rows]


def _bays(bays: list[str], backends: dict[str, str]) -> list[str]:
    """``BAYS`` addresses for nginx's upstreams: each deployment's where it is (a deployment on another
    address, of an endpoint made before bays, takes the place of an unused one), unused and empty ones
    renewed with free ports."""
    used = set(backends.values())
    missing = sorted(used - set(bays))
    out = (bays + [""] * BAYS)[:max(BAYS, len(bays))]
    for i, addr in enumerate(out):
        if addr not in used:
            out[i] = missing.pop(0) if missing else (addr or f"127.0.0.1:{free_port()}")
    return out + missing


def _listen(config: dict[str, Any]) -> Listen:
    return Listen(config["host"], int(config["port"]), config.get("tls_cert"), config.get("tls_key"))


def _check_tls(cert: str | None, key: str | None, ca: str | None) -> None:
    if (key or ca) and not cert:
        raise UsageError("A TLS key or CA file needs its certificate (tls_cert).")
    for what, path in (("TLS certificate", cert), ("TLS key file", key), ("TLS CA file", ca)):
        if path and not Path(path).is_file():
            raise UsageError(f"{what} {path!r} does not exist.")


def _shares(endpoint: str, behind: dict[str, int], given: dict[str, Any], what: str) -> dict[str, int]:
    """Every deployment behind the endpoint with its share: the given ones, the rest 0."""
    out = dict.fromkeys(behind, 0) if what == "traffic" else {}
    for dep, value in given.items():
        if dep not in behind:
            raise NotFoundError(f"Endpoint {endpoint!r} has no deployment {dep!r}; it has: "
                                f"{', '.join(sorted(behind)) or 'none'}.")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise UsageError(f"Invalid {what} share {value!r} for {dep!r}: a whole percentage from 0 to 100.")
        out[dep] = value
    return out if what == "traffic" else {k: v for k, v in out.items() if v}


def _check_split(endpoint: str, traffic: dict[str, int], mirror: dict[str, int]) -> None:
    total = sum(traffic.values())
    if total != 100:
        raise UsageError(f"Traffic of endpoint {endpoint!r} must sum to 100; {_fmt(traffic) or 'nothing'} "
                         f"sums to {total}.")
    if len(mirror) > 1:
        raise UsageError(f"Mirror to one deployment at a time; got {_fmt(mirror)}.")
    for dep, pct in mirror.items():
        if pct > MAX_MIRROR:
            raise UsageError(f"Invalid mirror share {pct}% for {dep!r}: at most {MAX_MIRROR}%.")
        if traffic.get(dep):
            raise UsageError(f"Deployment {dep!r} takes {traffic[dep]}% of live traffic: mirror only to a "
                             "deployment with none.")


def _fmt(shares: dict[str, int]) -> str:
    return ", ".join(f"{d} {p}%" for d, p in sorted(shares.items()) if p)
