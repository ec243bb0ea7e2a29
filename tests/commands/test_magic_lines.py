"""Magic lines are read as a shell reads them, and mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import jupyter_mlops as mlops

from ..modelfactory import onnx_logreg


def error(ip: InteractiveShell, magic: str, line: str) -> str:
    with pytest.raises(UsageError) as exc:
        ip.run_line_magic(magic, line)
    return str(exc.value)


def test_quoted_values_work_as_in_a_shell(ip: InteractiveShell, tmp_path: Path) -> None:
    folder = tmp_path / "my models"
    folder.mkdir()
    model = onnx_logreg(folder / "lr v1.onnx")
    m = ip.run_line_magic("register_model", f'"{model}" --name lr --tag "team=data science" -d \'first try\'')
    assert m.tags == {"team": "data science"} and m.description == "first try"
    assert [x.ref for x in ip.run_line_magic("models", '--tag "team=data science"')] == ["lr:1"]
    assert [x.ref for x in ip.run_line_magic("models", "--tag 'team'")] == ["lr:1"]
    assert error(ip, "models", '--tag "unclosed') == "Cannot parse the line: No closing quotation."


def test_a_mistyped_flag_is_named_with_the_close_one(ip: InteractiveShell, tmp_path: Path) -> None:
    model = onnx_logreg(tmp_path / "lr.onnx")
    assert error(ip, "register_model", f"{model} --nmae lr") == (
        "%register_model: unknown option --nmae; did you mean --name?")
    assert error(ip, "deploy", "x --image img --replicsa 3") == "%deploy: unknown option --replicsa; did you mean --replicas?"
    assert mlops.list_models() == []


def test_score_takes_json_a_whole_body_or_a_variable_and_out_binds(ip: InteractiveShell, tmp_path: Path) -> None:
    ip.run_line_magic("register_model", f"{onnx_logreg(tmp_path / 'lr.onnx')} --name lr")
    ip.run_line_magic("build_image", "lr-img --model lr --no-docker")
    ip.run_line_magic("deploy", "lr-svc --image lr-img --target process --no-auth")
    try:
        row = [[0.5] * 20]
        bare = ip.run_line_magic("score", f"lr-svc {row}")
        assert ip.run_line_magic("score", f"lr-svc {row} -o answer") == bare == ip.user_ns["answer"]
        ip.user_ns["rows"] = row
        assert ip.run_line_magic("score", "-o again lr-svc rows") == bare == ip.user_ns["again"]
        assert "label" in bare
        body = '{"data": ' + str(row) + '}'
        assert ip.run_line_magic("score", f"lr-svc {body}") == bare  # the whole /score body the README shows
        assert ip.run_line_magic("score", f"lr-svc '{body}'") == bare
        assert error(ip, "score", "lr-svc {not json") .startswith("Invalid JSON '{not json'")
    finally:
        ip.run_line_magic("undeploy", "lr-svc")


def test_update_deployment_is_a_magic(ip: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("register_model", f"{onnx_logreg(tmp_path / 'a.onnx', seed=0)} --name lr")
    ip.run_line_magic("register_model", f"{onnx_logreg(tmp_path / 'b.onnx', seed=1)} --name lr")
    ip.run_line_magic("build_image", "svc --model lr:1 --no-docker")
    ip.run_line_magic("build_image", "svc --model lr:2 --no-docker")
    ip.run_line_magic("deploy", "rolling --image svc:1 --target process --no-auth")
    try:
        assert "update_deployment" in error(ip, "deploy", "rolling --image svc:2 --target process")
        dep = ip.run_line_magic("update_deployment", "rolling --image svc:2")
        assert (dep.image, dep.models, dep.state) == ("svc:2", ["lr:2"], "healthy")
    finally:
        ip.run_line_magic("undeploy", "rolling")
    assert "Removed deployment rolling." in capsys.readouterr().out
