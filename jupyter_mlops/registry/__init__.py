"""The model registry: versions, tags, properties, search, download, lineage."""
