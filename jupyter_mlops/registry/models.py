"""Register, find, change, download and delete model versions."""

from __future__ import annotations

import builtins
import getpass
import hashlib
import os
import time
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Connection, delete, func, select

from ..errors import InUseError, UsageError
from ..names import parse_filters, parse_pairs, validate_name
from ..store import kv
from ..store.cleanup import discard_new_blobs
from ..store.metadata import insert_id
from ..store.paging import fetch_page, find_version
from ..store.schema import image_models, images, models
from ..workspace import Workspace
from .framework import FRAMEWORKS, detect_framework, read_signature
from .records import Model, ModelList

KIND = "model"
DEFAULT_PAGE = 100


def _manifest(path: Path) -> list[tuple[str, Path]]:
    """(relative name, file) pairs; a folder keeps its own name as the first path segment.
    Links inside the folder may point within it; one that leaves it is refused, so registering a
    folder never stores (and ``download_model`` never hands out) a file from elsewhere."""
    if path.is_file():
        return [(path.name, path)]
    root = path.resolve()
    entries = sorted(path.rglob("*"))
    for p in entries:
        if p.is_symlink() and not p.resolve().is_relative_to(root):
            raise UsageError(f"Model folder {str(path)!r} holds a link that leaves it: "
                             f"{p.relative_to(path).as_posix()!r} -> {str(p.resolve())!r}; copy the file in instead.")
    files = [p for p in entries if p.is_file()]
    if not files:
        raise UsageError(f"Model folder {str(path)!r} is empty.")
    return [(f"{path.name}/{p.relative_to(path).as_posix()}", p) for p in files]


def _folder_digest(entries: list[tuple[str, str, int]]) -> str:
    h = hashlib.sha256()
    for rel, sha, _size in entries:
        h.update(f"{rel}\0{sha}\n".encode())
    return h.hexdigest()


class ModelRegistry:
    """The model registry of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace

    # --- writing ------------------------------------------------------------------------------
    def register(
        self,
        path: str | os.PathLike[str],
        name: str,
        tags: Any = None,
        properties: Any = None,
        description: str | None = None,
        framework: str | None = None,
        progress: bool | None = None,
    ) -> Model:
        validate_name(name)
        tags, properties = parse_pairs(tags, "tag"), parse_pairs(properties, "property")
        src = Path(path).expanduser()
        if not src.exists():
            raise UsageError(f"Model path {str(path)!r} does not exist.")
        if framework is None:
            framework = detect_framework(src)
        elif framework not in FRAMEWORKS:
            raise UsageError(f"Unknown framework {framework!r}: use one of {', '.join(FRAMEWORKS)}.")
        signature = read_signature(src, framework)
        created: list[str] = []  # blobs this call wrote: taken back if the registration fails
        try:
            entries = self._store_files(src, progress, created)
            size = sum(e[2] for e in entries)
            sha = entries[0][1] if src.is_file() else _folder_digest(entries)
            store = self.ws.metadata
            with store.begin() as conn:
                version = store.allocate_version(conn, KIND, name)
                model_id = insert_id(conn,
                    models.insert().values(
                        name=name, version=version, description=description, framework=framework,
                        created_at=time.time(), size=size, sha256=sha, is_folder=int(src.is_dir()),
                        files=[list(e) for e in entries], signature=signature, created_by=_user(),
                    )
                )
                kv.insert(conn, KIND, model_id, tags)
                kv.insert(conn, KIND, model_id, properties, kv.properties)
                return self._load(conn, [self._row(conn, model_id)])[0]
        except BaseException:  # failed or interrupted: no blob stays without a row pointing at it
            discard_new_blobs(self.ws.metadata, self.ws.artifacts, created)
            raise

    def _store_files(self, src: Path, progress: bool | None, created: list[str]) -> list[tuple[str, str, int]]:
        """(relative name, sha256, size) per file; appends to ``created`` the content that was new."""
        entries = []
        for rel, path in _manifest(src):
            stored = self.ws.artifacts.put_file(path, progress)
            entries.append((rel, stored.sha256, stored.size))
            if stored.created:
                created.append(stored.sha256)
        return entries

    def update(
        self,
        name: str,
        version: int | str,
        tags: Any = None,
        remove_tags: builtins.list[str] | None = None,
        properties: Any = None,
        description: str | None = None,
    ) -> Model:
        """Add or change tags, remove tags, add properties, replace the description."""
        tags, properties = parse_pairs(tags, "tag"), parse_pairs(properties, "property")
        with self.ws.metadata.begin() as conn:
            row = self._find(conn, name, version)
            kv.set_tags(conn, KIND, row.id, tags, remove_tags or ())
            kv.add_properties(conn, KIND, row.id, properties, f"model {name}:{row.version}")
            if description is not None:
                conn.execute(models.update().where(models.c.id == row.id).values(description=description))
            return self._load(conn, [self._row(conn, row.id)])[0]

    def set_baseline(self, name: str, version: int | str, baseline: dict[str, Any]) -> None:
        with self.ws.metadata.begin() as conn:
            row = self._find(conn, name, version)
            conn.execute(models.update().where(models.c.id == row.id).values(baseline=baseline))

    def baseline(self, name: str, version: int | str) -> dict[str, Any] | None:
        with self.ws.metadata.read() as conn:
            return self._find(conn, name, version).baseline

    def delete(self, name: str, version: int | str) -> None:
        """Delete one version; refused while an image uses it. Numbers are never reused."""
        with self.ws.metadata.begin() as conn:
            row = self._find(conn, name, version)
            users = conn.execute(
                select(images.c.name, images.c.version)
                .join(image_models, image_models.c.image_id == images.c.id)
                .where(image_models.c.model_id == row.id)
                .order_by(images.c.name, images.c.version)
            ).all()
            if users:
                names = ", ".join(f"{n}:{v}" for n, v in users)
                raise InUseError(
                    f"Model {name}:{row.version} is used by image {names}; delete the image first."
                )
            kv.drop_all(conn, KIND, row.id)
            conn.execute(delete(models).where(models.c.id == row.id))

    # --- reading ------------------------------------------------------------------------------
    def get(self, name: str, version: int | str | None = None) -> Model:
        """One version; the latest when ``version`` is None."""
        with self.ws.metadata.read() as conn:
            return self._load(conn, [self._find(conn, name, version)])[0]

    def list(
        self,
        name: str | None = None,
        tags: Any = None,
        properties: Any = None,
        latest: bool = False,
        limit: int = DEFAULT_PAGE,
        offset: int = 0,
    ) -> ModelList:
        """Newest first. Filters are ``key`` (has it) or ``key=value``; all must match."""
        conditions = kv.filter_clause(KIND, models.c.id, parse_filters(tags, "tag"))
        conditions += kv.filter_clause(KIND, models.c.id, parse_filters(properties, "property"), kv.properties)
        if name is not None:
            conditions.append(models.c.name == validate_name(name))
        if latest:
            newer = models.alias("newer")
            conditions.append(
                models.c.version
                == select(func.max(newer.c.version)).where(newer.c.name == models.c.name).scalar_subquery()
            )
        with self.ws.metadata.read() as conn:
            rows, more = fetch_page(conn, select(models), models.c.id, conditions, limit, offset)
            return ModelList(self._load(conn, rows), has_more=more, offset=offset)

    def download(
        self, name: str, version: int | str | None, target_dir: str | os.PathLike[str],
        exist_ok: bool = False, progress: bool | None = None,
    ) -> Path:
        """Write the model's file (or folder) into ``target_dir``; returns its path."""
        model = self.get(name, version)
        target = Path(target_dir).expanduser().resolve()
        plan = [(rel, target / PurePosixPath(rel), sha) for rel, sha, _size in model.files]
        for rel, dest, _sha in plan:  # every check before the first write: a refusal writes nothing
            if not dest.resolve().is_relative_to(target):
                raise UsageError(f"Refusing to write {rel!r} outside {str(target)!r}.")
            if dest.exists() and not exist_ok:
                raise UsageError(f"{str(dest)!r} already exists; pass exist_ok=True to overwrite.")
        for _rel, dest, sha in plan:
            self.ws.artifacts.get_blob(sha, dest, progress)
        return target / PurePosixPath(model.files[0][0]).parts[0]

    # --- helpers ------------------------------------------------------------------------------
    def _find(self, conn: Connection, name: str, version: int | str | None):
        return find_version(conn, models, name, version, "model")

    @staticmethod
    def _row(conn: Connection, model_id: int):
        return conn.execute(select(models).where(models.c.id == model_id)).one()

    @staticmethod
    def _load(conn: Connection, rows: builtins.list[Any]) -> builtins.list[Model]:
        ids = [r.id for r in rows]
        tag_map = kv.load(conn, KIND, ids)
        prop_map = kv.load(conn, KIND, ids, kv.properties)
        return [
            Model(
                id=r.id, name=r.name, version=r.version, framework=r.framework,
                created_at=r.created_at, size=r.size, sha256=r.sha256, description=r.description,
                tags=dict(tag_map.get(r.id, {})), properties=dict(prop_map.get(r.id, {})),
                files=[tuple(f) for f in r.files], signature=r.signature, is_folder=bool(r.is_folder),
            )
            for r in rows
        ]


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None
