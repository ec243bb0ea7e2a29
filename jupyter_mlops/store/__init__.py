"""Storage: metadata (SQLAlchemy Core) and artifacts (local folder or Azure Blob Storage)."""
