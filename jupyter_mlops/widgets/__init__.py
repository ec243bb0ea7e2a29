"""Notebook panels over the API (``mlops.ui``): anywidget views whose logic lives in Python.

    mlops.ui.models()              ModelBrowser: models, versions, what uses them; tags, build, deploy, delete
    mlops.ui.deployments()         DeploymentList: every deployment with a state dot; click one to open it
    mlops.ui.deployment(name)      DeploymentPanel: one deployment, live; test console, keys, update, undeploy
    mlops.dashboard(name, live=True)   LiveDashboard: the monitoring charts, updating in place
    mlops.build_image(...)         shows a BuildLog by itself in a notebook

Every panel renders without a kernel too: its MIME bundle carries a ``text/html`` snapshot.
"""

from __future__ import annotations

from typing import Any

from .build_log import BuildLog
from .deployment_list import DeploymentList
from .deployment_panel import DeploymentPanel
from .live_dashboard import LiveDashboard
from .model_browser import ModelBrowser
from .panel import Panel

__all__ = ["BuildLog", "DeploymentList", "DeploymentPanel", "LiveDashboard", "ModelBrowser", "Panel",
           "deployment", "deployments", "models"]


def models(query: str = "", *, workspace: Any = None) -> ModelBrowser:
    """Browse registered models; ``query`` as typed in its search box (``churn stage=prod``)."""
    return ModelBrowser(query, workspace=workspace)


def deployments(model: str | None = None, image: str | None = None, tags: Any = None, *,
                workspace: Any = None) -> DeploymentList:
    """All deployments (or those of ``model``, ``image``, ``tags``), refreshed every few seconds."""
    return DeploymentList(model, image, tags, workspace=workspace)


def deployment(name: str, *, workspace: Any = None) -> DeploymentPanel:
    """One deployment, live: state, events, logs, a test console, keys, update, undeploy."""
    return DeploymentPanel(name, workspace=workspace)
