"""Which workspace is in use, and why.

A workspace is a metadata store URL, an artifact store URL and a few settings. Resolution order:
an explicit argument, then ``$JUPYTER_MLOPS_WORKSPACE``, then a ``jupyter-mlops.toml`` found from
the current directory upward, then the embedded default folder ``~/.jupyter-mlops/default``.
Nothing is created or contacted until a store is first used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import tomllib

from .errors import UsageError

if TYPE_CHECKING:
    from .artifacts.stores import ArtifactStore
    from .store.metadata import MetadataStore

CONFIG_NAME = "jupyter-mlops.toml"
ENV_VAR = "JUPYTER_MLOPS_WORKSPACE"
DEFAULT_BASE_IMAGE = "python:3.11-slim"
BASE_IMAGE_ENV = "JUPYTER_MLOPS_BASE_IMAGE"  # overrides the default where the public image cannot be pulled


def default_base_image() -> str:
    return os.environ.get(BASE_IMAGE_ENV) or DEFAULT_BASE_IMAGE
DEFAULT_TARGET = "process"


def default_root() -> Path:
    return Path.home() / ".jupyter-mlops" / "default"


@dataclass
class Workspace:
    """A metadata store, an artifact store and settings. Build one with :func:`resolve_workspace`."""

    metadata_url: str
    artifacts_url: str
    source: str = "given"
    name: str = "default"
    base_image: str = field(default_factory=default_base_image)
    default_target: str = DEFAULT_TARGET
    root: Path | None = None  # the folder local state (build contexts, process deployments) lives in
    azure_connection_string: str | None = field(default=None, repr=False)

    @classmethod
    def embedded(cls, root: str | os.PathLike[str], source: str = "given") -> Workspace:
        """The embedded workspace in a folder: a SQLite file and an artifact folder."""
        root = Path(root).expanduser().resolve()
        return cls(
            metadata_url=f"sqlite:///{root / 'mlops.sqlite'}",
            artifacts_url=str(root / "artifacts"),
            source=source,
            name=root.name,
            root=root,
        )

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], source: str = "given") -> Workspace:
        path = Path(path).expanduser().resolve()
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"Cannot read workspace config {str(path)!r}: {exc}") from None
        section = data.get("workspace", data)
        base = path.parent

        def local(value: str) -> str:
            value = os.path.expandvars(value)
            if "://" in value:
                return value
            return str((base / value).resolve())

        root = Path(local(section.get("root", ".mlops-workspace")))
        metadata = section.get("metadata")
        metadata = f"sqlite:///{root / 'mlops.sqlite'}" if metadata is None else local(metadata)
        if metadata.startswith("/"):
            metadata = f"sqlite:///{metadata}"
        return cls(
            metadata_url=metadata,
            artifacts_url=local(section.get("artifacts", str(root / "artifacts"))),
            source=source,
            name=section.get("name", base.name),
            base_image=section.get("base_image") or default_base_image(),
            default_target=section.get("default_target", DEFAULT_TARGET),
            root=root,
            azure_connection_string=section.get("azure_connection_string"),
        )

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], source: str = "given") -> Workspace:
        """A config file, a folder holding one, or a folder for an embedded workspace."""
        p = Path(path).expanduser()
        if p.is_file():
            return cls.from_config(p, source)
        if (p / CONFIG_NAME).is_file():
            return cls.from_config(p / CONFIG_NAME, source)
        if p.suffix == ".toml":
            raise UsageError(f"Workspace config {str(p)!r} does not exist.")
        return cls.embedded(p, source)

    @property
    def state_dir(self) -> Path:
        """Local working folder (build contexts, process deployments, spools)."""
        return self.root if self.root is not None else default_root()

    @cached_property
    def metadata(self) -> MetadataStore:
        from .store.metadata import MetadataStore

        return MetadataStore(self.metadata_url)

    @cached_property
    def artifacts(self) -> ArtifactStore:
        from .artifacts.stores import open_artifact_store

        return open_artifact_store(self.artifacts_url, self.azure_connection_string)

    def __getstate__(self) -> dict[str, object]:
        # Open stores (engines, clients) stay behind; the copy opens its own on first use.
        return {k: v for k, v in self.__dict__.items() if k not in ("metadata", "artifacts")}

    def describe(self) -> dict[str, str]:
        """What a person needs to see: no secrets."""
        from .artifacts.urls import redact_url

        return {
            "name": self.name,
            "source": self.source,
            "metadata": redact_url(self.metadata_url),
            "artifacts": redact_url(self.artifacts_url),
            "base_image": self.base_image,
            "default_target": self.default_target,
        }

    summary = to_dict = describe  # what adapters print: a table row, a JSON object

    def __repr__(self) -> str:
        d = self.describe()
        return f"Workspace(name={d['name']!r}, metadata={d['metadata']!r}, artifacts={d['artifacts']!r})"

    def _repr_html_(self) -> str:
        from .display import html_table

        return html_table([self.describe()], title="Workspace")


def find_config(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def resolve_workspace(workspace: Workspace | str | os.PathLike[str] | None = None) -> Workspace:
    """Pick the workspace by argument, environment variable, config file, or default."""
    if isinstance(workspace, Workspace):
        return workspace
    if workspace is not None:
        return Workspace.from_path(workspace, source="argument")
    env = os.environ.get(ENV_VAR)
    if env:
        return Workspace.from_path(env, source=f"${ENV_VAR}={env}")
    config = find_config()
    if config is not None:
        return Workspace.from_config(config, source=f"config file {config}")
    return Workspace.embedded(default_root(), source="embedded default")


_current: Workspace | None = None
_current_key: object = None


def current_workspace() -> Workspace:
    """The workspace in use: the one set with :func:`use_workspace`, else resolved afresh.

    Resolution is cached for as long as the environment variable and working directory are
    unchanged, so stores (engines, clients) are reused between calls.
    """
    global _current, _current_key
    if _current is not None and _current_key == "explicit":
        return _current
    key = (os.environ.get(ENV_VAR), os.getcwd())
    if _current is None or key != _current_key:
        _current, _current_key = resolve_workspace(), key
    return _current


def use_workspace(workspace: Workspace | str | os.PathLike[str] | None) -> Workspace | None:
    """Select the workspace for this process; ``None`` goes back to automatic resolution."""
    global _current, _current_key
    if workspace is None:
        _current, _current_key = None, None
        return None
    ws = resolve_workspace(workspace)
    _current, _current_key = ws, "explicit"
    return ws
