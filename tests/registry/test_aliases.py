"""Aliases (NAME@ALIAS) resolve the same way everywhere a model reference is taken, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.names import Ref, parse_ref
from jupyter_mlops.workspace import Workspace


@pytest.fixture
def three(any_workspace: Workspace, tmp_path: Path) -> Workspace:
    for n in (1, 2, 3):
        (tmp_path / f"m{n}.bin").write_bytes(bytes([n]) * 10)
        mlops.register_model(tmp_path / f"m{n}.bin", "churn", workspace=any_workspace)
    return any_workspace


def test_an_alias_names_one_version_and_moves(three: Workspace) -> None:
    ws = three
    assert mlops.set_alias("churn", "champion", 2, workspace=ws).aliases == ["champion"]
    assert mlops.get_model("churn@champion", workspace=ws).version == 2
    mlops.set_alias("churn", "challenger", "3", workspace=ws)
    mlops.set_alias("churn", "champion", 3, workspace=ws)  # moves: version 2 no longer has it
    assert mlops.get_model("churn:2", workspace=ws).aliases == []
    assert mlops.get_model("churn@champion", workspace=ws).aliases == ["challenger", "champion"]
    assert [(m.version, m.aliases) for m in mlops.list_models("churn", workspace=ws)] == [
        (3, ["challenger", "champion"]), (2, []), (1, [])]
    assert "@challenger, @champion" in mlops.get_model("churn:3", workspace=ws)._repr_html_()


def test_latest_is_built_in(three: Workspace, tmp_path: Path) -> None:
    assert mlops.get_model("churn@latest", workspace=three).version == 3
    mlops.register_model(tmp_path / "m1.bin", "churn", workspace=three)
    assert mlops.get_model("churn@latest", workspace=three).version == 4
    with pytest.raises(mlops.UsageError, match=r"^The alias 'latest' is built in: it always names the newest version\.$"):
        mlops.set_alias("churn", "latest", 1, workspace=three)


def test_unknown_aliases_versions_and_models_are_named(three: Workspace) -> None:
    mlops.set_alias("churn", "staging", 1, workspace=three)
    with pytest.raises(mlops.NotFoundError, match=r"^Model churn has no alias 'champion' \(its aliases: @staging\)\.$"):
        mlops.get_model("churn@champion", workspace=three)
    with pytest.raises(mlops.NotFoundError, match=r"^Model 'ghost' not found\.$"):
        mlops.get_model("ghost@champion", workspace=three)
    with pytest.raises(mlops.NotFoundError, match=r"^Model churn:9 not found\.$"):
        mlops.set_alias("churn", "champion", 9, workspace=three)
    with pytest.raises(mlops.NotFoundError, match=r"^Model churn has no alias 'champion'"):
        mlops.delete_alias("churn", "champion", workspace=three)
    with pytest.raises(mlops.UsageError, match=r"^Give the version once: 'churn@staging' already names one\.$"):
        mlops.get_model("churn@staging", 2, workspace=three)


def test_an_aliased_version_cannot_be_deleted_until_the_alias_goes(three: Workspace) -> None:
    mlops.set_alias("churn", "champion", 2, workspace=three)
    with pytest.raises(mlops.InUseError, match=r"^Model churn:2 is churn@champion; move or delete the alias first\.$"):
        mlops.delete_model("churn", 2, workspace=three)
    mlops.delete_alias("churn", "champion", workspace=three)
    mlops.delete_model("churn", 2, workspace=three)
    assert [m.version for m in mlops.list_models("churn", workspace=three)] == [3, 1]


def test_image_and_deployment_filters_take_an_alias(three: Workspace, tmp_path: Path) -> None:
    script = tmp_path / "score.py"
    script.write_text("def init():\n    pass\n\ndef run(data):\n    return data\n")
    mlops.build_image("svc", "churn:1", script=script, docker=False, workspace=three)
    mlops.build_image("svc", "churn@latest", script=script, docker=False, workspace=three)
    assert mlops.get_image("svc:2", workspace=three).models == ["churn:3"]
    mlops.set_alias("churn", "champion", 1, workspace=three)
    assert [i.ref for i in mlops.list_images(model="churn@champion", workspace=three)] == ["svc:1"]
    mlops.set_alias("churn", "champion", 3, workspace=three)
    assert [i.ref for i in mlops.list_images(model="churn@champion", workspace=three)] == ["svc:2"]
    assert mlops.list_deployments(model="churn@champion", workspace=three) == []


@pytest.mark.parametrize(("text", "ref"), [
    ("churn", Ref("churn")), ("churn:3", Ref("churn", 3)), ("churn@champion", Ref("churn", alias="champion")),
    ("churn@latest", Ref("churn", alias="latest")),
])
def test_one_parser_reads_every_reference(text: str, ref: Ref) -> None:
    assert parse_ref(text) == ref and str(ref) == text


@pytest.mark.parametrize(("text", "kind", "message"), [
    ("churn:3@champion", "model", "Invalid model 'churn:3@champion': give NAME:VERSION or NAME@ALIAS, not both."),
    ("churn@", "model", "Invalid alias '': a letter, then letters, digits, '-' and '_' (at most 255 characters)."),
    ("churn@3", "model", "Invalid alias '3': a letter, then letters, digits, '-' and '_' (at most 255 characters)."),
    ("svc@prod", "image", "Invalid image 'svc@prod': only models have aliases; give NAME or NAME:VERSION."),
])
def test_bad_references_are_one_line(text: str, kind: str, message: str) -> None:
    with pytest.raises(mlops.UsageError) as err:
        parse_ref(text, kind)
    assert str(err.value) == message
