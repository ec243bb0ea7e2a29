"""Artifact stores: content-addressed blobs and named objects, on a local folder or Azure Blob Storage.

Both sides use them: the registry stores models here, and the inference server's collector writes
collected data here. So this package imports nothing but itself and ``jupyter_mlops.errors``, and
ships in the server's runtime wheel (an import-linter contract keeps it so).
"""
