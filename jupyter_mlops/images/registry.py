"""Build, register, find and delete images."""

from __future__ import annotations

import builtins
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, delete, select

from ..appdir import resolve_models
from ..errors import BuildError, InUseError, UsageError
from ..names import parse_filters, parse_pairs, parse_ref, validate_name
from ..registry.records import Model
from ..store import kv
from ..store.metadata import insert_id
from ..store.paging import fetch_page, find_version
from ..store.schema import deployments, image_models, images, models
from ..workspace import Workspace
from .context import ImageSpec, read_requirements, write_context
from .records import Image, ImageList

KIND = "image"


def docker_tag(name: str, version: int) -> str:
    return f"jupyter-mlops/{name.lower()}:{version}"


class ImageRegistry:
    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace

    def context_dir(self, name: str, version: int) -> Path:
        return self.ws.state_dir / "images" / name / str(version) / "context"

    # --- build ----------------------------------------------------------------------------------
    def build(
        self, name: str, models: list[Model | str], script: str | os.PathLike[str] | None = None,
        requirements: str | os.PathLike[str] | list[str] | None = None, base_image: str | None = None,
        tags: Any = None, description: str | None = None, docker: bool | None = None, gpu: bool = False,
        progress: bool = True, echo: Callable[[str], None] | None = None,
    ) -> Image:
        """Write the context, build it (where Docker answers, unless ``docker=False``), register.

        The image is registered first (state ``building``) so its models cannot be deleted
        mid-build; a failed build stays registered as ``failed`` with its log.
        """
        validate_name(name, "image")
        tags = parse_pairs(tags, "tag")
        resolved = resolve_models(self.ws, list(models))
        script_path = Path(script).expanduser() if script is not None else None
        if script_path is not None and not script_path.is_file():
            raise UsageError(f"Scoring script {str(script)!r} does not exist.")
        lines = read_requirements(requirements)
        base = base_image or self.ws.base_image
        spec_record: dict[str, Any] = {"requirements": lines, "python_version": "3.11", "gpu": gpu}
        if script_path is not None:
            sha = self.ws.artifacts.put_file(script_path).sha256
            spec_record.update(script=script_path.name, script_sha256=sha)
        version, image_id = self._insert(name, resolved, base, spec_record, tags, description)
        log = echo or (lambda _line: None)
        spec = ImageSpec(name, version, resolved, base, script_path, lines, gpu=gpu)
        try:
            context = write_context(self.ws, spec, self.context_dir(name, version), log)
            use_docker = self._docker_wanted(docker)
            if not use_docker:
                self._finish(image_id, state="context", log="no Docker engine: build context only")
                return self.get(name, version)
            from .builder import build

            result = build(context, docker_tag(name, version),
                           {"org.jupyter-mlops.image": f"{name}:{version}"}, progress=progress, echo=echo)
        except BuildError as exc:
            self._finish(image_id, state="failed", log=(exc.detail or "") + f"\n{exc.message}")
            raise
        except BaseException as exc:
            self._finish(image_id, state="failed", log=f"{type(exc).__name__}: {exc}")
            raise
        self._finish(image_id, state="succeeded", log=result.log, docker_tag=docker_tag(name, version),
                     digest=result.image_id, size=result.size,
                     spec=dict(spec_record, cached_steps=result.cached_steps, steps=len(result.steps)))
        return self.get(name, version)

    @staticmethod
    def _docker_wanted(docker: bool | None) -> bool:
        if docker is not None:
            return docker
        from .builder import docker_client

        try:
            docker_client()
            return True
        except BuildError:
            return False

    def _insert(self, name: str, resolved: list[Model], base: str, spec: dict[str, Any],
                tags: dict[str, str], description: str | None) -> tuple[int, int]:
        store = self.ws.metadata
        with store.begin() as conn:
            version = store.allocate_version(conn, KIND, name)
            image_id = insert_id(conn, images.insert().values(
                name=name, version=version, description=description, created_at=time.time(),
                state="building", base_image=base, spec=spec,
            ))
            conn.execute(image_models.insert(), [{"image_id": image_id, "model_id": m.id} for m in resolved])
            kv.insert(conn, KIND, image_id, tags)
        return version, image_id

    def _finish(self, image_id: int, **values: Any) -> None:
        values["build_log"] = values.pop("log")
        with self.ws.metadata.begin() as conn:
            conn.execute(images.update().where(images.c.id == image_id).values(**values))

    # --- read -----------------------------------------------------------------------------------
    def get(self, name: str, version: int | str | None = None) -> Image:
        with self.ws.metadata.read() as conn:
            return self._load(conn, [self._find(conn, name, version)])[0]

    def list(self, name: str | None = None, tags: Any = None, model: str | None = None,
             limit: int = 100, offset: int = 0) -> ImageList:
        conditions = kv.filter_clause(KIND, images.c.id, parse_filters(tags, "tag"))
        if name is not None:
            conditions.append(images.c.name == validate_name(name, "image"))
        if model is not None:
            conditions.append(images.c.id.in_(image_ids_with_model(model)))
        with self.ws.metadata.read() as conn:
            rows, more = fetch_page(conn, select(images), images.c.id, conditions, limit, offset)
            return ImageList(self._load(conn, rows), has_more=more, offset=offset)

    def update(self, name: str, version: int | str, tags: Any = None,
               remove_tags: builtins.list[str] | None = None) -> Image:
        with self.ws.metadata.begin() as conn:
            row = self._find(conn, name, version)
            kv.set_tags(conn, KIND, row.id, parse_pairs(tags, "tag"), remove_tags or ())
        return self.get(name, row.version)

    def delete(self, name: str, version: int | str) -> None:
        """Delete an image version; refused, naming them, while deployments use it."""
        with self.ws.metadata.begin() as conn:
            row = self._find(conn, name, version)
            users = conn.execute(select(deployments.c.name).where(deployments.c.image_id == row.id)
                                 .order_by(deployments.c.name)).scalars().all()
            if users:
                raise InUseError(f"Image {name}:{row.version} is used by deployment {', '.join(users)}; "
                                 "delete or update the deployment first.")
            conn.execute(delete(image_models).where(image_models.c.image_id == row.id))
            kv.drop_all(conn, KIND, row.id)
            conn.execute(delete(images).where(images.c.id == row.id))
        if row.docker_tag:
            _remove_docker_image(row.docker_tag)
        shutil.rmtree(self.context_dir(name, row.version).parent, ignore_errors=True)

    # --- helpers --------------------------------------------------------------------------------
    def _find(self, conn: Connection, name: str, version: int | str | None):
        return find_version(conn, images, name, version, "image")

    @staticmethod
    def _load(conn: Connection, rows: builtins.list[Any]) -> builtins.list[Image]:
        ids = [r.id for r in rows]
        tag_map = kv.load(conn, KIND, ids)
        refs: dict[int, builtins.list[str]] = {i: [] for i in ids}
        if ids:
            for image_id, mname, mversion in conn.execute(
                select(image_models.c.image_id, models.c.name, models.c.version)
                .join(models, models.c.id == image_models.c.model_id)
                .where(image_models.c.image_id.in_(ids)).order_by(models.c.name)
            ):
                refs[image_id].append(f"{mname}:{mversion}")
        return [
            Image(id=r.id, name=r.name, version=r.version, state=r.state, models=refs[r.id], created_at=r.created_at,
                  base_image=r.base_image, docker_tag=r.docker_tag, digest=r.digest, size=r.size,
                  description=r.description, tags=dict(tag_map.get(r.id, {})), spec=r.spec or {},
                  build_log=r.build_log)
            for r in rows
        ]


def _remove_docker_image(tag: str) -> None:
    try:
        from .builder import docker_client

        docker_client().images.remove(tag, force=False, noprune=False)
    except Exception:
        pass


def image_ids_with_model(model: str) -> Select[Any]:
    """Ids of the images that contain ``model`` (``NAME`` or ``NAME:VERSION``)."""
    ref = parse_ref(model)
    sub = select(image_models.c.image_id).join(models, models.c.id == image_models.c.model_id).where(
        models.c.name == ref.name)
    return sub if ref.version is None else sub.where(models.c.version == ref.version)


def image_ids_of(image: str) -> Select[Any]:
    """Ids of the versions ``image`` names (``NAME`` or ``NAME:VERSION``)."""
    ref = parse_ref(image, "image")
    sub = select(images.c.id).where(images.c.name == ref.name)
    return sub if ref.version is None else sub.where(images.c.version == ref.version)
