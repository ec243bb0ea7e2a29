from __future__ import annotations

from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.workspace import CONFIG_NAME, ENV_VAR, current_workspace, resolve_workspace

from .services import Azurite


def test_embedded_default_needs_nothing_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ws = resolve_workspace()
    assert ws.source == "embedded default"
    assert ws.metadata_url.endswith("/.jupyter-mlops/default/mlops.sqlite")
    assert not (Path.home() / ".jupyter-mlops").exists()  # nothing created until used


def test_config_file_is_found_from_the_current_directory_upward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / CONFIG_NAME).write_text('[workspace]\nname = "team"\nroot = "state"\nbase_image = "py:1"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    ws = current_workspace()
    assert (ws.name, ws.base_image) == ("team", "py:1")
    assert ws.source == f"config file {tmp_path / CONFIG_NAME}"
    assert ws.metadata_url == f"sqlite:///{tmp_path / 'state' / 'mlops.sqlite'}"


def test_environment_variable_beats_config_file_and_argument_beats_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / CONFIG_NAME).write_text('[workspace]\nname = "team"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "envws"))
    assert current_workspace().source == f"${ENV_VAR}={tmp_path / 'envws'}"
    assert resolve_workspace(tmp_path / "argws").source == "argument"


def test_use_workspace_pins_the_workspace(tmp_path: Path) -> None:
    mlops.use_workspace(tmp_path / "pinned")
    try:
        assert current_workspace().name == "pinned"
    finally:
        mlops.use_workspace(None)


def test_secrets_never_show_in_repr_or_describe(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text(
        '[workspace]\nmetadata = "postgresql+psycopg://ann:s3cret@db.example/reg"\n'
        'artifacts = "azure://models"\nazure_connection_string = "AccountKey=topsecret;"\n'
    )
    ws = resolve_workspace(tmp_path)
    shown = repr(ws) + str(ws.describe()) + ws._repr_html_()
    assert "s3cret" not in shown and "topsecret" not in shown
    assert "postgresql+psycopg://ann:***@db.example/reg" in shown


def test_azure_artifacts_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, azurite: Azurite
) -> None:
    (tmp_path / CONFIG_NAME).write_text('[workspace]\nartifacts = "azure://wsmodels"\n')
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    model = tmp_path / "m.bin"
    model.write_bytes(b"azure weights")
    m = mlops.register_model(model, "az", workspace=tmp_path)
    out = mlops.download_model(m, tmp_path / "out", workspace=tmp_path)
    assert out.read_bytes() == b"azure weights"


def test_missing_azure_connection_string_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_text('[workspace]\nartifacts = "azure://wsmodels"\n')
    with pytest.raises(mlops.UsageError, match="needs a connection string: set azure_connection_string"):
        _ = resolve_workspace(tmp_path).artifacts
