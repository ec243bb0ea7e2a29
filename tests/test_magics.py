"""The magics through a real IPython InteractiveShell."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import jupyter_mlops as mlops
from jupyter_mlops.workspace import Workspace

from .conftest import interactive_shell
from .modelfactory import onnx_logreg


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return onnx_logreg(tmp_path / "lr.onnx")


def test_load_ext_has_no_side_effects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shell = interactive_shell()
    shell.run_line_magic("load_ext", "jupyter_mlops")
    assert "register_model" in shell.magics_manager.magics["line"]
    assert list(tmp_path.iterdir()) == []
    assert not (Path.home() / ".jupyter-mlops").exists()


def test_register_binds_result_with_out(ip: InteractiveShell, model_file: Path) -> None:
    result = ip.run_line_magic(
        "register_model", f"{model_file} --name lr --tag stage=dev --property auc=0.9 -d 'first try' -o m"
    )
    assert ip.user_ns["m"] is result
    assert (result.name, result.version, result.framework) == ("lr", 1, "onnx")
    assert result.tags == {"stage": "dev"} and result.properties == {"auc": "0.9"}
    assert result.description == "first try"


def test_models_and_model_list_and_show(ip: InteractiveShell, model_file: Path) -> None:
    ip.run_line_magic("register_model", f"{model_file} --name lr --tag stage=dev")
    ip.run_line_magic("register_model", f"{model_file} --name lr --tag stage=prod")
    found = ip.run_line_magic("models", "lr --tag stage=prod -o found")
    assert [m.ref for m in ip.user_ns["found"]] == ["lr:2"] == [m.ref for m in found]
    assert ip.run_line_magic("model", "lr:1").tags == {"stage": "dev"}
    assert ip.run_line_magic("model", "lr").version == 2
    assert [m.ref for m in ip.run_line_magic("models", "--latest")] == ["lr:2"]


def _usage_error(ip: InteractiveShell, magic: str, line: str) -> str:
    with pytest.raises(UsageError) as err:
        ip.run_line_magic(magic, line)
    return str(err.value)


def test_bad_input_is_a_one_line_usage_error(ip: InteractiveShell, model_file: Path, tmp_path: Path) -> None:
    assert _usage_error(ip, "register_model", f"{model_file} --name lr --tag stage") == (
        "Invalid tag 'stage': write key=value."
    )
    assert _usage_error(ip, "register_model", f"{tmp_path}/missing.onnx --name lr") == (
        f"Model path '{tmp_path}/missing.onnx' does not exist."
    )
    assert _usage_error(ip, "model", "ghost") == "Model 'ghost' not found."
    assert _usage_error(ip, "model", "lr:abc") == "Invalid version 'abc': versions are positive integers."
    assert _usage_error(ip, "delete_model", "lr") == "Give the version to delete: lr:VERSION."
    assert _usage_error(ip, "register_model", f"{model_file}") == (
        "%register_model: the following arguments are required: --name/-n.")
    assert mlops.list_models() == []


def test_a_failing_cell_shows_one_line_and_fails(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    result = ip.run_cell("%model ghost")
    assert isinstance(result.error_in_exec, UsageError)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Model 'ghost' not found." in text and "Traceback" not in text


def test_api_errors_in_cells_render_as_one_line(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    result = ip.run_cell("import jupyter_mlops as mlops\nmlops.get_model('ghost')")
    assert isinstance(result.error_in_exec, mlops.NotFoundError)
    text = "".join(capsys.readouterr())
    assert "NotFoundError: Model 'ghost' not found." in text and "Traceback" not in text


def test_delete_model_magic(ip: InteractiveShell, model_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("register_model", f"{model_file} --name lr")
    ip.run_line_magic("delete_model", "lr:1")
    assert "Deleted model lr:1." in capsys.readouterr().out
    assert mlops.list_models() == []


def test_help_prints_usage(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    assert ip.run_line_magic("register_model", "--help") is None
    assert "--name" in capsys.readouterr().out


def test_mlops_workspace_shows_which_and_why(ip: InteractiveShell, workspace: Workspace) -> None:
    ws = ip.run_line_magic("mlops", "workspace")
    assert ws.source.startswith("$JUPYTER_MLOPS_WORKSPACE=") and ws.name == "ws"


def test_config_magics_reach_the_configurable(ip: InteractiveShell, tmp_path: Path, model_file: Path) -> None:
    ip.run_line_magic("config", f"MlopsMagics.workspace = '{tmp_path / 'other'}'")
    ip.run_line_magic("register_model", f"{model_file} --name elsewhere")
    assert mlops.list_models(workspace=tmp_path / "other")[0].name == "elsewhere"
    assert mlops.list_models() == []


def test_build_image_magic_and_images_listing(ip: InteractiveShell, model_file: Path) -> None:
    ip.run_line_magic("register_model", f"{model_file} --name lr")
    image = ip.run_line_magic("build_image", "lr-img --model lr:1 --tag team=risk --no-docker -o img")
    assert ip.user_ns["img"] is image and (image.ref, image.state, image.models) == ("lr-img:1", "context", ["lr:1"])
    assert [i.ref for i in ip.run_line_magic("images", "--model lr")] == ["lr-img:1"]
    assert ip.run_line_magic("image", "lr-img").tags == {"team": "risk"}
    assert _usage_error(ip, "build_image", "x --model ghost:1") == "Model ghost:1 not found."
    assert _usage_error(ip, "delete_model", "lr:1") == "Model lr:1 is used by image lr-img:1; delete the image first."


def test_deploy_deployments_score_undeploy_magics(ip: InteractiveShell, model_file: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    other = onnx_logreg(tmp_path / "other.onnx")
    ip.run_line_magic("register_model", f"{model_file} --name lr")
    ip.run_line_magic("register_model", f"{other} --name other")
    ip.run_line_magic("build_image", "lr-img --model lr --no-docker")
    ip.run_line_magic("build_image", "other-img --model other --no-docker")
    dep = ip.run_line_magic("deploy", "lr-svc --image lr-img:1 --target process -o dep")
    ip.run_line_magic("deploy", "other-svc --image other-img --target process --no-auth")
    try:
        assert ip.user_ns["dep"] is dep and dep.state == "healthy"
        assert [d.name for d in ip.run_line_magic("deployments", "--model lr")] == ["lr-svc"]
        assert [d.name for d in ip.run_line_magic("deployments", "--model other")] == ["other-svc"]
        ip.user_ns["rows"] = [[0.5] * 20]
        assert ip.run_line_magic("score", "lr-svc rows") == ip.run_line_magic("score", f"lr-svc {[[0.5] * 20]}")
        ip.run_line_magic("deployment", "lr-svc")
        out = capsys.readouterr().out
        assert "lr-svc: healthy on process, image lr-img:1" in out and "scoring URI: http://127.0.0.1:" in out
        assert mlops.get_keys("lr-svc")["primary"] not in out
        assert _usage_error(ip, "score", "lr-svc nope") == "No variable named 'nope' in the notebook."
        assert _usage_error(ip, "deploy", "x --image lr-img --autoscale 1") == (
            "Invalid autoscale '1': write MIN:MAX or MIN:MAX:CPU_PERCENT, e.g. 1:5:70.")
        assert _usage_error(ip, "deploy", "x --image lr-img --target moon").startswith("Unknown deployment target 'moon'")
    finally:
        ip.run_line_magic("undeploy", "lr-svc")
        ip.run_line_magic("undeploy", "other-svc")


def test_monitor_magic_returns_the_dashboard(ip: InteractiveShell, model_file: Path, tmp_path: Path) -> None:
    ip.run_line_magic("register_model", f"{model_file} --name lr")
    ip.run_line_magic("build_image", "lr-img --model lr --no-docker")
    ip.run_line_magic("deploy", "watched --image lr-img --target process --collect --no-auth")
    try:
        ip.run_line_magic("score", f"watched {[[0.5] * 20]}")
        board = ip.run_line_magic("monitor", f"watched --since 30m --html {tmp_path / 'w.html'} -o board")
        assert ip.user_ns["board"] is board and (tmp_path / "w.html").exists()
        assert _usage_error(ip, "monitor", "watched --since soon").startswith("Invalid duration 'soon'")
    finally:
        ip.run_line_magic("undeploy", "watched")
