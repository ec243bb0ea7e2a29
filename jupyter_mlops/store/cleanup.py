"""Take back the blobs a failed write stored, so no artifact is left without a row pointing at it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Text, cast, select

from ..artifacts.stores import ArtifactStore, blob_key
from ..errors import MlopsError
from .metadata import MetadataStore
from .schema import images, models


def referenced(metadata: MetadataStore, sha256: str) -> bool:
    """Whether a model's files or an image's script use this content (a scan: failures only)."""
    with metadata.read() as conn:
        for table, column in ((models, models.c.files), (images, images.c.spec)):
            if conn.execute(select(table.c.id).where(cast(column, Text).contains(sha256)).limit(1)).first():
                return True
    return False


def discard_new_blobs(metadata: MetadataStore, artifacts: ArtifactStore, created: Iterable[str]) -> None:
    """Delete blobs this call created. Content that a row references (the same file registered by
    someone else in the meantime) stays; when the metadata store cannot even be read, they go too:
    our own row was never written, and an orphan is the likelier harm."""
    for sha in dict.fromkeys(created):
        try:
            if referenced(metadata, sha):
                continue
        except MlopsError:
            pass
        try:
            artifacts.delete(blob_key(sha))
        except (MlopsError, OSError):
            pass  # best effort: the original failure is what the caller must see
