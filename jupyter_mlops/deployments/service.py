"""Deploy, find, update, secure and remove deployments; targets do the target-specific part."""

from __future__ import annotations

import builtins
import shutil
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, select

from .. import client
from ..errors import ConflictError, DeploymentError, NotFoundError, UsageError
from ..images.records import Image
from ..images.registry import ImageRegistry, image_ids_of, image_ids_with_model
from ..local_server import free_port
from ..names import LATEST, Ref, parse_filters, parse_pairs, ref_of, validate_name
from ..registry.models import ModelRegistry
from ..store import kv
from ..store.metadata import insert_id
from ..store.paging import fetch_page
from ..store.schema import deployment_events, deployments, image_models, images, models
from ..workspace import Workspace
from . import keys as keyring
from . import owner
from .records import Deployment, DeploymentList, Event
from .settings import LocalSettings, Settings, load_settings, parse_settings, to_record
from .targets import get_target
from .targets.base import DeployContext

KIND = "deployment"


class DeploymentService:
    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.images = ImageRegistry(workspace)

    def home(self, name: str) -> Path:
        return self.ws.state_dir / "deployments" / name

    # --- create ---------------------------------------------------------------------------------
    def deploy(self, name: str, image: Image | str | None, target: str | None = None, tags: Any = None,
               model: str | None = None, update_existing: bool = False, **settings: Any) -> Deployment:
        """``model`` (``NAME@ALIAS``): serve the newest image (of ``image``'s name, when given) that holds
        the version the alias names, and follow it: an update without an image re-resolves it."""
        validate_name(name, "deployment")
        if update_existing and self.exists(name) and self._current(name).state != "failed":
            return self._redeploy(name, image, model, target, tags, settings)  # a failed attempt is replaced below
        target_name = target or self.ws.default_target
        tgt = get_target(target_name)
        config = parse_settings(tgt.settings, settings)  # before any look-up: bad input is named first
        tags = parse_pairs(tags, "tag")
        img, follows = self._choose(image, model, tgt)
        for what, path in (("TLS certificate", config.tls_cert), ("TLS key file", config.tls_key),
                           ("TLS CA file", config.tls_ca)):
            if path and not Path(path).is_file():
                raise UsageError(f"{what} {path!r} does not exist.")
        if isinstance(config, LocalSettings) and not config.port:
            config.port = free_port(config.host)
        self._reserve(name, img, target_name, config, tags, follows)
        home = self.home(name)
        ctx = self._tracked(DeployContext(name, img, config, self.ws, home))
        try:
            if config.auth and not config.endpoint:  # behind an endpoint: the endpoint's keys
                keyring.create(home / "secrets")
            handle = tgt.create(ctx)
        except BaseException as exc:  # a failure or an interruption: nothing stays transitioning
            self._settle(name, _reason(exc), failed=isinstance(exc, Exception))
            raise
        self._set(name, state="healthy", handle=handle, scoring_uri=tgt.scoring_uri(ctx), transition=None)
        self._event(name, "created", f"serving image {img.ref} on {target_name}{_following(follows, img)}")
        return self.get(name, refresh=False)

    def _redeploy(self, name: str, image: Image | str | None, model: str | None, target: str | None, tags: Any,
                  settings: dict[str, Any]) -> Deployment:
        """``deploy`` of a name that exists, asked to update it: only the image (or the model it follows)
        and tags change; a target or a setting that differs from the deployment's own is an error."""
        row = self._current(name)
        if target is not None and target != row.target:
            raise UsageError(f"Deployment {name!r} runs on {row.target!r}, not {target!r}; undeploy it to move it.")
        wanted = to_record(parse_settings(get_target(row.target).settings, settings))
        for key in sorted(set(settings) - {"ready_timeout"}):
            if wanted[key] != row.config.get(key):
                raise UsageError(f"Deployment {name!r} has {key}={row.config.get(key)!r}; updating it changes the "
                                 f"image only (given {key}={wanted[key]!r}): undeploy it to change its settings.")
        if tags:
            with self.ws.metadata.begin() as conn:
                kv.set_tags(conn, KIND, row.id, parse_pairs(tags, "tag"), ())
        return self.update(name, image, settings.get("ready_timeout"), model)

    def _choose(self, image: Image | str | None, model: str | None, tgt: Any,
                name: str | None = None) -> tuple[Image, str | None]:
        """The image to serve, and the model reference it follows (None: it follows none).

        With ``model``: the newest image of ``image``'s name (else ``name``, else any) holding the version
        ``model`` names now; an image given with its version must hold that version."""
        if model is None:
            if image is None:
                raise UsageError("Give the image to deploy, or a model to follow (NAME@ALIAS).")
            return self._image(image), None
        ref = ref_of(model)
        if ref.version is None and ref.alias is None:
            ref = Ref(ref.name, alias=LATEST)
        version = ModelRegistry(self.ws).resolve(ref)
        if image is not None and (isinstance(image, Image) or ref_of(image, "image").version is not None):
            img = self._image(image)
            if version.ref not in img.models:
                raise UsageError(f"Image {img.ref} does not hold {ref} ({version.ref}); it holds "
                                 f"{', '.join(img.models)}.")
            return img, str(ref)
        if image is not None:
            name = ref_of(image, "image").name
        states = ("succeeded",) if tgt.runs_built_images else ("succeeded", "context")
        return self.images.newest_with(version, name, states), str(ref)

    def _reserve(self, name: str, img: Image, target: str, config: Settings, tags: dict[str, str],
                 follows: str | None) -> None:
        if self.exists(name):
            self._current(name)  # settles an attempt whose process died, so it can be replaced
        now = time.time()
        with self.ws.metadata.begin() as conn:
            row = conn.execute(select(deployments).where(deployments.c.name == name)).first()
            if row is not None and row.state != "failed":
                raise ConflictError(
                    f"Deployment {name!r} already exists; update it (update_deployment) or undeploy it first.")
            if row is not None:  # a failed attempt: replace it
                self._drop(conn, row.id)
            dep_id = insert_id(conn, deployments.insert().values(
                name=name, image_id=img.id, target=target, config=to_record(config), state="transitioning",
                transition={"owner": owner.current(), "image_id": img.id}, created_at=now, updated_at=now,
                model_ref=follows,
            ))
            kv.insert(conn, KIND, dep_id, tags)
            conn.execute(deployment_events.insert().values(
                deployment_id=dep_id, time=now, kind="creating",
                message=f"image {img.ref}, target {target}{_following(follows, img)}"))

    # --- read -----------------------------------------------------------------------------------
    def get(self, name: str, refresh: bool = True) -> Deployment:
        row = self._current(name)
        if refresh and row.state != "transitioning" and row.handle:
            state = get_target(row.target).status(self._context(row), row.handle)
            if state != row.state:
                self._set(name, state=state)
                self._event(name, "state", f"{row.state} -> {state}")
        with self.ws.metadata.read() as conn:
            return self._load(conn, [self._row(conn, name)])[0]

    def exists(self, name: str) -> bool:
        validate_name(name, "deployment")
        with self.ws.metadata.read() as conn:
            return conn.execute(select(deployments.c.id).where(deployments.c.name == name)).first() is not None

    def list(self, model: str | None = None, image: str | None = None, tags: Any = None, limit: int = 100,
             offset: int = 0, refresh: bool = False) -> DeploymentList:
        """Deployments newest first, as recorded: no live probes unless ``refresh`` (each is then
        asked for its state, as :meth:`get` does)."""
        conditions = kv.filter_clause(KIND, deployments.c.id, parse_filters(tags, "tag"))
        if model is not None:
            conditions.append(deployments.c.image_id.in_(image_ids_with_model(model)))
        if image is not None:
            conditions.append(deployments.c.image_id.in_(image_ids_of(image)))
        with self.ws.metadata.read() as conn:
            rows, has_more = fetch_page(conn, select(deployments), deployments.c.id, conditions, limit, offset)
            found = self._load(conn, rows, events=False)
        if refresh:
            found = [self.get(d.name) for d in found]
        return DeploymentList(found, has_more, offset)

    # --- update ---------------------------------------------------------------------------------
    def update(self, name: str, image: Image | str | None = None, ready_timeout: float | None = None,
               model: str | None = None) -> Deployment:
        """Start the new image beside the old; switch when it is ready; else keep the old serving.

        Without an image, a deployment that follows a model alias moves to the newest image of its
        image's name holding the version the alias names now (nothing happens when it serves it already)."""
        row = self._current(name)
        follows = model if model is not None else row.model_ref
        if image is None and follows is None:
            raise UsageError(f"Deployment {name!r} follows no model alias: give the image to update it to.")
        img, follows = self._choose(image, follows, get_target(row.target), self._image_ref(row.image_id).split(":")[0])
        if row.state == "transitioning":
            raise ConflictError(f"Deployment {name!r} is already changing; wait for it to finish.")
        if row.handle is None:
            raise ConflictError(f"Deployment {name!r} never started (its creation failed); deploy it again "
                                "(deploy --update-existing replaces it).")
        if image is None and img.id == row.image_id:
            if follows != row.model_ref:
                self._set(name, model_ref=follows)
                self._event(name, "following", f"now follows {follows}{_following(follows, img)}")
            return self.get(name, refresh=False)
        ctx = self._context(row, img)
        if ready_timeout is not None:
            ctx.config.ready_timeout = ready_timeout
        tgt = get_target(row.target)
        self._claim(row, {"owner": owner.current(), "image_id": img.id})
        self._event(name, "updating", f"{self._image_ref(row.image_id)} -> {img.ref}")
        try:
            handle = tgt.update(self._tracked(ctx), row.handle)
        except BaseException as exc:  # the old version keeps serving, unless the switch already happened
            self._settle(name, _reason(exc), failed=isinstance(exc, Exception))
            raise
        tgt.cleanup(row.handle)
        self._set(name, state="healthy", handle=handle, image_id=img.id, scoring_uri=tgt.scoring_uri(ctx),
                  transition=None, model_ref=follows)
        self._event(name, "updated", f"now serving image {img.ref}{_following(follows, img)}")
        return self.get(name, refresh=False)

    # --- interrupted changes --------------------------------------------------------------------
    def _current(self, name: str) -> Any:
        """The row; a change whose process is gone (killed, machine restarted) is settled first."""
        with self.ws.metadata.read() as conn:
            row = self._row(conn, name)
        if row.state != "transitioning" or not owner.gone((row.transition or {}).get("owner")):
            return row
        who = owner.describe((row.transition or {}).get("owner"))
        try:
            self._claim(row, {**(row.transition or {}), "owner": owner.current()})
        except ConflictError:  # another reader settles it
            pass
        else:
            self._settle(name, f"interrupted: the process that was changing it ({who}) is gone", failed=False)
        with self.ws.metadata.read() as conn:
            return self._row(conn, name)

    def _claim(self, row: Any, transition: dict[str, Any]) -> None:
        """Mark the deployment as changing, by us; refused while someone else changes it."""
        with self.ws.metadata.begin() as conn:
            claimed = conn.execute(deployments.update().where(
                deployments.c.id == row.id, deployments.c.updated_at == row.updated_at,
                deployments.c.state == row.state,
            ).values(state="transitioning", transition=transition, updated_at=time.time())).rowcount
        if claimed != 1:
            raise ConflictError(f"Deployment {row.name!r} is already changing; wait for it to finish.")

    def _tracked(self, ctx: DeployContext) -> DeployContext:
        def note(stage: str, handle: dict[str, Any]) -> None:
            with self.ws.metadata.begin() as conn:
                t = dict(self._row(conn, ctx.name).transition or {})
                t.update(pending=handle, serving=stage == "serving")
                conn.execute(deployments.update().where(deployments.c.name == ctx.name).values(transition=t))

        ctx.on_progress = note
        return ctx

    def _settle(self, name: str, why: str, failed: bool) -> None:
        """End a deploy or update that failed or was interrupted, from what its transition says:
        stop a new version that never took over (the old one keeps serving), or finish a switch
        that already happened. Either way the state leaves ``transitioning``."""
        with self.ws.metadata.read() as conn:
            row = self._row(conn, name)
        t, tgt = row.transition or {}, get_target(row.target)
        pending, old = t.get("pending"), row.handle
        end = "failed" if failed else "interrupted"
        if pending and t.get("serving") and old:
            new_img = self._image_by_id(t["image_id"])
            ctx = self._context(row, new_img)
            tgt.delete(old)
            tgt.cleanup(old)
            self._set(name, state=tgt.status(ctx, pending), handle=pending, image_id=new_img.id,
                      scoring_uri=tgt.scoring_uri(ctx), transition=None)
            self._event(name, "updated", f"now serving image {new_img.ref} ({why})")
            return
        if pending and pending != old:
            tgt.delete(pending)
            tgt.cleanup(pending)
        if old is None:
            self._set(name, state="failed", transition=None)
            self._event(name, f"create-{end}", why)
            return
        self._set(name, state=tgt.status(self._context(row), old), transition=None)
        new_ref = self._image_ref(t["image_id"]) if t.get("image_id") else "the new image"
        verb = "never got ready" if failed else "was stopped"
        self._event(name, f"update-{end}", f"{new_ref} {verb}; still serving {self._image_ref(row.image_id)}. {why}")

    # --- delete ---------------------------------------------------------------------------------
    def undeploy(self, name: str) -> None:
        row = self._current(name)
        tgt = get_target(row.target)
        if row.handle:
            try:
                tgt.delete(row.handle)
            except Exception as exc:  # something still runs: keep the record (and keys) that find it
                self._event(name, "delete-failed", _reason(exc))
                raise
        with self.ws.metadata.begin() as conn:
            self._drop(conn, row.id)
        shutil.rmtree(self.home(name), ignore_errors=True)

    # --- keys, scoring, logs ----------------------------------------------------------------------
    def secrets_dir(self, name: str) -> Path:
        """Where the deployment's credentials are: its own keys file, or its endpoint's."""
        with self.ws.metadata.read() as conn:
            row = self._row(conn, name)
        if not row.config.get("auth", True):
            raise UsageError(f"Deployment {name!r} has auth off: it has no keys.")
        endpoint = row.config.get("endpoint")
        return keyring.endpoint_secrets_dir(self.ws, endpoint) if endpoint else self.home(name) / "secrets"

    def get_keys(self, name: str) -> dict[str, str]:
        return keyring.read(self.secrets_dir(name))

    def regen_key(self, name: str, slot: str) -> dict[str, str]:
        secrets_dir = self.secrets_dir(name)
        if secrets_dir != self.home(name) / "secrets":
            raise UsageError(f"Deployment {name!r} uses its endpoint's keys: regenerate them on the endpoint.")
        keys = keyring.regenerate(secrets_dir, slot)
        with self.ws.metadata.read() as conn:
            row = self._row(conn, name)
        if row.handle:
            get_target(row.target).keys_changed(self._context(row), row.handle)
        self._event(name, "key-regenerated", f"{slot} key regenerated")
        return keys

    def score(self, name: str, data: Any, timeout: float = 30.0) -> Any:
        dep = self.get(name, refresh=False)
        if not dep.scoring_uri:
            raise DeploymentError(f"Deployment {name!r} ({dep.target}) has no scoring URI here.")
        key = keyring.credential(self.secrets_dir(name), dep.config.get("endpoint") or name) if dep.auth else None
        cafile = dep.config.get("tls_ca") or dep.config.get("tls_cert")
        return client.score(dep.scoring_uri, data, key, cafile, timeout)

    def logs(self, name: str, lines: int = 50) -> str:
        with self.ws.metadata.read() as conn:
            row = self._row(conn, name)
        return get_target(row.target).logs(row.handle, lines) if row.handle else ""

    # --- helpers --------------------------------------------------------------------------------
    def _image(self, image: Image | str) -> Image:
        """The image's record as stored now (an Image object given may predate a push)."""
        ref = ref_of(image, "image")
        return self.images.get(ref.name, ref.version)

    def _image_by_id(self, image_id: int) -> Image:
        return self.images.get(*self._image_ref(image_id).split(":"))

    def _image_ref(self, image_id: int) -> str:
        with self.ws.metadata.read() as conn:
            r = conn.execute(select(images.c.name, images.c.version).where(images.c.id == image_id)).one()
        return f"{r.name}:{r.version}"

    def _context(self, row: Any, image: Image | None = None) -> DeployContext:
        img = image or self._image_by_id(row.image_id)
        config = load_settings(get_target(row.target).settings, row.config)
        return DeployContext(row.name, img, config, self.ws, self.home(row.name))

    def _row(self, conn: Connection, name: str) -> Any:
        validate_name(name, "deployment")
        row = conn.execute(select(deployments).where(deployments.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"Deployment {name!r} not found.")
        return row

    def _set(self, name: str, **values: Any) -> None:
        values["updated_at"] = time.time()
        with self.ws.metadata.begin() as conn:
            conn.execute(deployments.update().where(deployments.c.name == name).values(**values))

    def _event(self, name: str, kind: str, message: str) -> None:
        with self.ws.metadata.begin() as conn:
            dep_id = self._row(conn, name).id
            conn.execute(deployment_events.insert().values(deployment_id=dep_id, time=time.time(), kind=kind,
                                                           message=message))

    @staticmethod
    def _drop(conn: Connection, dep_id: int) -> None:
        conn.execute(delete(deployment_events).where(deployment_events.c.deployment_id == dep_id))
        kv.drop_all(conn, KIND, dep_id)
        conn.execute(delete(deployments).where(deployments.c.id == dep_id))

    def _load(self, conn: Connection, rows: builtins.list[Any], events: bool = True) -> builtins.list[Deployment]:
        """Records for ``rows`` in a fixed number of queries (tags, images, their models; events
        only when asked for)."""
        ids, image_ids = [r.id for r in rows], {r.image_id for r in rows}
        tag_map = kv.load(conn, KIND, ids)
        image_refs = {i.id: f"{i.name}:{i.version}" for i in conn.execute(
            select(images.c.id, images.c.name, images.c.version).where(images.c.id.in_(image_ids)))}
        model_refs: dict[int, builtins.list[str]] = {}
        for m in conn.execute(select(image_models.c.image_id, models.c.name, models.c.version)
                              .join(models, image_models.c.model_id == models.c.id)
                              .where(image_models.c.image_id.in_(image_ids)).order_by(models.c.name)):
            model_refs.setdefault(m.image_id, []).append(f"{m.name}:{m.version}")
        history: dict[int, builtins.list[Event]] = {}
        if events:
            for e in conn.execute(select(deployment_events).where(deployment_events.c.deployment_id.in_(ids))
                                  .order_by(deployment_events.c.id)):
                history.setdefault(e.deployment_id, []).append(Event(e.time, e.kind, e.message))
        return [Deployment(
            name=r.name, image=image_refs[r.image_id], target=r.target, state=r.state, scoring_uri=r.scoring_uri,
            models=model_refs.get(r.image_id, []), auth=bool(r.config.get("auth", True)), config=dict(r.config),
            tags=dict(tag_map.get(r.id, {})), created_at=r.created_at, updated_at=r.updated_at,
            events=history.get(r.id, []), follows=r.model_ref, _service=self,
        ) for r in rows]


def _following(follows: str | None, img: Image) -> str:
    """`` (churn@champion = churn:3)``: the alias a deployment follows and the version it resolved to."""
    if follows is None:
        return ""
    name = follows.partition("@")[0]
    held = next((m for m in img.models if m.partition(":")[0] == name), "?")
    return f" ({follows} = {held})"


def _reason(exc: BaseException) -> str:
    if not isinstance(exc, Exception):
        return f"interrupted ({type(exc).__name__})"
    text = str(exc)
    detail = getattr(exc, "detail", None)
    return f"{text}\n{detail}" if detail else text
