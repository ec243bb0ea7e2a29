"""How a panel shows in a notebook: its snapshot output first (what readers without a kernel see),
then the live view, whose script hides that snapshot."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import jupyter_mlops as mlops
from jupyter_mlops.widgets import DeploymentList, ModelBrowser
from jupyter_mlops.widgets.display import WIDGET_VIEW
from jupyter_mlops.workspace import Workspace


@pytest.fixture
def shell() -> Any:
    InteractiveShell.clear_instance()  # a fresh one: other tests empty the singleton's namespace
    shell = InteractiveShell.instance()
    shell.history_manager.enabled = False
    yield shell
    InteractiveShell.clear_instance()


def _shown(shell: Any, code: str) -> list[dict[str, Any]]:
    with capture_output() as captured:
        shell.run_cell(code).raise_error()
    return [o.data for o in captured.outputs]


def test_a_panel_is_its_snapshot_then_its_live_view(shell: Any, workspace: Workspace, lr: mlops.Model) -> None:
    snapshot, view = _shown(shell, "import jupyter_mlops as mlops\nbrowser = mlops.ui.models()\nbrowser")
    browser = shell.user_ns["browser"]
    assert isinstance(browser, ModelBrowser)
    assert snapshot["text/html"].startswith(f'<div data-mlops-snapshot="{browser.snapshot_id}">')
    assert "<strong>lr</strong>" in snapshot["text/html"] and snapshot["text/plain"] == "ModelBrowser: 1 model(s): lr"
    assert WIDGET_VIEW not in snapshot and "text/html" not in view  # one MIME type each: nbconvert draws both
    assert view[WIDGET_VIEW]["model_id"] == browser.model_id
    assert browser.snapshot_id and browser.trait_metadata("snapshot_id", "sync")  # the view knows what to hide
    assert "data-mlops-snapshot" in browser._esm


def test_containers_are_marked_for_their_inner_panel(shell: Any, workspace: Workspace) -> None:
    snapshot, view = _shown(shell, "from jupyter_mlops.widgets import DeploymentList\nlst = DeploymentList(poll=False)\nlst")
    lst = shell.user_ns["lst"]
    assert isinstance(lst, DeploymentList)
    assert f'data-mlops-snapshot="{lst.table.snapshot_id}"' in snapshot["text/html"]
    assert view[WIDGET_VIEW]["model_id"] == lst.model_id
