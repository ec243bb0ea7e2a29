"""The inference server that runs inside images and local deployments.

Imports nothing from the notebook side (no IPython, ipywidgets, jupyterlab, SQLAlchemy), so
images stay small. Scoring scripts use :func:`get_model_path` (and ``$AZUREML_MODEL_DIR``), and
:class:`Collector` to store data of their own choosing with the request's ids.
"""

from __future__ import annotations

from .collector import Collector
from .layout import get_model_path

__all__ = ["Collector", "get_model_path"]
