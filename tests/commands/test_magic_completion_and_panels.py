"""Magics complete as you type (through IPython's own completer) and show live panels on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..modelfactory import onnx_logreg


def completes(ip: Any, line: str) -> list[str]:
    """What the shell's completer offers at the end of ``line`` (the API Jupyter's front ends call)."""
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        return [c.text for c in ip.Completer.completions(line, len(line))]


def test_magics_complete_names_versions_flags_and_targets(ip: Any, tmp_path: Path) -> None:
    ip.run_line_magic("register_model", f"{onnx_logreg(tmp_path / 'a.onnx')} --name churn")
    ip.run_line_magic("register_model", f"{onnx_logreg(tmp_path / 'b.onnx', seed=1)} --name churn")
    ip.run_line_magic("register_model", f"{onnx_logreg(tmp_path / 'c.onnx')} --name credit")
    ip.run_line_magic("build_image", "churn-svc --model churn:2 --no-docker")
    assert "churn" in completes(ip, "%model ch")
    assert {"churn:1", "churn:2"} <= set(completes(ip, "%model churn:"))
    assert {"--tag", "--target"} <= set(completes(ip, "%deploy svc --ta"))
    assert {"docker", "edge", "kubernetes", "process"} <= set(completes(ip, "%deploy svc --target "))
    assert "churn-svc" in completes(ip, "%deploy svc --image chu")
    assert {"primary", "secondary"} <= set(completes(ip, "%regen_key svc "))


def test_panel_and_live_flags_give_live_panels(ip: Any, tmp_path: Path) -> None:
    from jupyter_mlops.widgets import DeploymentPanel, LiveDashboard, ModelBrowser

    ip.run_line_magic("register_model", f"{onnx_logreg(tmp_path / 'a.onnx')} --name churn --tag stage=dev")
    ip.run_line_magic("build_image", "churn-svc --model churn --no-docker")
    ip.run_line_magic("deploy", "watched --image churn-svc --target process --no-auth --collect")
    panels = []
    try:
        browser = ip.run_line_magic("models", "churn --tag stage=dev --panel -o b")
        panel = ip.run_line_magic("deployment", "watched --panel")
        live = ip.run_line_magic("monitor", "watched --live --since 30m")
        panels = [browser, panel, live]
        assert isinstance(browser, ModelBrowser) and ip.user_ns["b"] is browser
        assert isinstance(panel, DeploymentPanel) and isinstance(live, LiveDashboard)
        assert "churn" in browser._repr_mimebundle_()[0]["text/plain"] or "churn" in repr(browser)
    finally:
        for p in panels:
            p.close()
        ip.run_line_magic("undeploy", "watched")
