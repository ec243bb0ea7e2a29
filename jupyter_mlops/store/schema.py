"""The metadata schema (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

Tags and properties live in shared key/value tables keyed by ``kind`` ('model', 'image',
'deployment'), so one piece of code filters all three. ``SCHEMA_VERSION`` is stored in ``meta``;
:mod:`.migrations` moves older databases forward.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_VERSION = 4
NAME = String(255)

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Per-(kind, name) version counters: versions are never reused, even after deletes.
counters = Table(
    "counters",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("name", NAME, primary_key=True),
    Column("last", Integer, nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("description", Text),
    Column("framework", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("is_folder", Integer, nullable=False, default=0),
    Column("files", JSON, nullable=False),  # [[relative path, sha256, size], ...]
    Column("signature", JSON),  # {"inputs": [...], "outputs": [...]} where known
    Column("baseline", JSON),  # per-feature summary statistics of training data
    Column("created_by", String(255)),
    # Where the version came from, as far as it was known at registration: source (notebook, script,
    # pipeline step), git commit and dirtiness, papermill parameters, Python and package versions, CI run.
    Column("provenance", JSON),
    UniqueConstraint("name", "version", name="uq_models_name_version"),
)

# NAME@ALIAS -> one version of NAME (MLflow's aliases: what replaced its stages). ``latest`` is built in
# and never stored. A version an alias names cannot be deleted until the alias moves.
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", NAME, primary_key=True),
    Column("alias", NAME, primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id"), nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(255)),
    Index("ix_model_aliases_model", "model_id"),
)

images = Table(
    "images",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False),
    Column("version", Integer, nullable=False),
    Column("description", Text),
    Column("created_at", Float, nullable=False),
    Column("state", String(32), nullable=False, default="succeeded"),
    Column("docker_tag", String(512)),
    Column("digest", String(128)),
    Column("size", BigInteger),
    Column("base_image", String(512)),
    Column("spec", JSON),  # script name, requirements, gpu flag, ...
    Column("context_sha256", String(64)),
    Column("build_log", Text),
    UniqueConstraint("name", "version", name="uq_images_name_version"),
)

# Each push of an image to a container registry: what a cluster or a device pulls, pinned by digest.
image_pushes = Table(
    "image_pushes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("image_id", Integer, ForeignKey("images.id", ondelete="CASCADE"), nullable=False),
    Column("registry", String(512), nullable=False),  # host[:port][/namespace]
    Column("repository", String(1024), nullable=False),  # registry/jupyter-mlops/<name>
    Column("tag", String(128), nullable=False),
    Column("digest", String(128), nullable=False),  # the manifest digest the registry answered
    Column("pushed_at", Float, nullable=False),
    Index("ix_image_pushes_image", "image_id", "id"),
)

image_models = Table(
    "image_models",
    metadata,
    Column("image_id", Integer, ForeignKey("images.id", ondelete="CASCADE"), primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id"), primary_key=True),
    Index("ix_image_models_model", "model_id"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("image_id", Integer, ForeignKey("images.id"), nullable=False),
    Column("target", String(32), nullable=False),
    Column("config", JSON, nullable=False),  # port, replicas, cpu, memory, autoscale, tls paths, ...
    Column("state", String(32), nullable=False),
    Column("scoring_uri", String(1024)),
    Column("handle", JSON),  # what the target needs to find it again: pid, container id, namespace
    # While transitioning: who changes it (host, pid) and the new version it started, so an
    # interrupted deploy or update is settled by the next reader once that process is gone.
    Column("transition", JSON),
    Column("model_ref", String(512)),  # the model it follows (NAME@ALIAS): updates without an image re-resolve it
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_deployments_image", "image_id"),
)

deployment_events = Table(
    "deployment_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deployment_id", Integer, ForeignKey("deployments.id", ondelete="CASCADE"), nullable=False),
    Column("time", Float, nullable=False),
    Column("kind", String(32), nullable=False),  # created, updated, update-failed, key-regenerated, ...
    Column("message", Text, nullable=False),
    Index("ix_deployment_events_deployment", "deployment_id", "id"),
)

# An endpoint: one stable scoring URI in front of several deployments (their config names it), with
# the traffic split and mirror share that its proxy is generated from, and the rollout in progress.
endpoints = Table(
    "endpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("target", String(32), nullable=False),
    Column("auth", String(16), nullable=False),  # key, token or none
    Column("config", JSON, nullable=False),  # host, port, bays, TLS files; namespace, gateway on kubernetes
    Column("traffic", JSON, nullable=False),  # {deployment: percent}: every deployment behind it
    Column("mirror", JSON, nullable=False),  # {deployment: percent of live traffic copied to it}
    Column("state", String(32), nullable=False),
    Column("scoring_uri", String(1024)),
    Column("handle", JSON),  # the proxy: the routing generation, or the manifests
    Column("rollout", JSON),  # the rollout in progress (or the last one): steps, position, owner, outcome
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

endpoint_events = Table(
    "endpoint_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("endpoint_id", Integer, ForeignKey("endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("time", Float, nullable=False),
    Column("kind", String(32), nullable=False),  # created, traffic, rollout-step, rollout-promoted, ...
    Column("message", Text, nullable=False),
    Column("data", JSON),  # the figures behind it: a rollout step's measurements and gates
    Index("ix_endpoint_events_endpoint", "endpoint_id", "id"),
)

tags = Table(
    "tags",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("obj_id", Integer, primary_key=True),
    Column("key", NAME, primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_tags_lookup", "kind", "key", "value", "obj_id"),
    sqlite_with_rowid=False,  # clustered on (kind, obj_id, key): loading an object's tags is one range
)

properties = Table(
    "properties",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("obj_id", Integer, primary_key=True),
    Column("key", NAME, primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_properties_lookup", "kind", "key", "value", "obj_id"),
    sqlite_with_rowid=False,
)
