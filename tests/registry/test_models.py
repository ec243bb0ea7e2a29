from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

import jupyter_mlops as mlops
from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.store.schema import image_models, images, models
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg, sklearn_joblib


@pytest.fixture
def reg(any_workspace: Workspace) -> ModelRegistry:
    return ModelRegistry(any_workspace)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    p = tmp_path / "model.bin"
    p.write_bytes(b"weights")
    return p


def test_versions_increment_per_name(reg: ModelRegistry, model_file: Path) -> None:
    assert [reg.register(model_file, "a").version for _ in range(3)] == [1, 2, 3]
    assert reg.register(model_file, "b").version == 1


def test_deleted_versions_are_never_reused(reg: ModelRegistry, model_file: Path) -> None:
    for _ in range(2):
        reg.register(model_file, "a")
    reg.delete("a", 2)
    assert reg.register(model_file, "a").version == 3
    with pytest.raises(mlops.NotFoundError, match=r"Model a:2 not found\."):
        reg.get("a", 2)


def test_get_returns_latest_by_default(reg: ModelRegistry, model_file: Path) -> None:
    reg.register(model_file, "a", description="first")
    reg.register(model_file, "a", description="second")
    assert (reg.get("a").version, reg.get("a").description) == (2, "second")
    assert reg.get("a", "1").description == "first"


def test_identical_content_is_stored_once(reg: ModelRegistry, model_file: Path) -> None:
    m1, m2 = reg.register(model_file, "a"), reg.register(model_file, "b")
    assert m1.sha256 == m2.sha256
    blobs = [n for n in reg.ws.artifacts.list("blobs/")]
    assert len(blobs) == 1


def test_folder_model_round_trips_through_download(reg: ModelRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.txt").write_text("B")
    m = reg.register(folder, "bundle")
    assert m.is_folder and m.size == 2
    assert sorted(f[0] for f in m.files) == ["bundle/a.txt", "bundle/sub/b.txt"]
    out = reg.download("bundle", None, tmp_path / "out")
    assert out == (tmp_path / "out" / "bundle").resolve()
    assert (out / "sub" / "b.txt").read_text() == "B"
    with pytest.raises(mlops.UsageError, match="already exists; pass exist_ok=True"):
        reg.download("bundle", None, tmp_path / "out")


def test_tags_are_mutable_and_properties_add_only(reg: ModelRegistry, model_file: Path) -> None:
    reg.register(model_file, "a", tags={"stage": "dev", "team": "x"}, properties={"auc": "0.91"})
    m = reg.update("a", 1, tags={"stage": "prod"}, remove_tags=["team"], properties={"data": "v2"})
    assert m.tags == {"stage": "prod"}
    assert m.properties == {"auc": "0.91", "data": "v2"}
    assert reg.update("a", 1, properties={"auc": "0.91"}).properties["auc"] == "0.91"
    with pytest.raises(mlops.ImmutableError) as err:
        reg.update("a", 1, properties={"auc": "0.99"})
    assert str(err.value) == (
        "Property 'auc' of model a:1 is '0.91' and cannot change to '0.99': "
        "properties are add-only (use a tag for mutable values)."
    )


def test_list_filters_by_tag_key_value_property_and_latest(reg: ModelRegistry, model_file: Path) -> None:
    reg.register(model_file, "a", tags={"stage": "dev"})
    reg.register(model_file, "a", tags={"stage": "prod"}, properties={"owner": "ann"})
    reg.register(model_file, "b", tags={"flag": ""})
    refs = lambda page: [m.ref for m in page]
    assert refs(reg.list()) == ["b:1", "a:2", "a:1"]
    assert refs(reg.list(tags=["stage"])) == ["a:2", "a:1"]
    assert refs(reg.list(tags="stage=dev")) == ["a:1"]
    assert refs(reg.list(tags={"flag": None})) == ["b:1"]
    assert refs(reg.list(properties=["owner=ann"])) == ["a:2"]
    assert refs(reg.list(latest=True)) == ["b:1", "a:2"]
    assert refs(reg.list(name="a", tags=["stage=prod"])) == ["a:2"]
    assert refs(reg.list(tags=["stage=qa"])) == []


def test_list_pages_newest_first(reg: ModelRegistry, model_file: Path) -> None:
    for _ in range(5):
        reg.register(model_file, "a")
    first = reg.list(limit=2)
    assert [m.version for m in first] == [5, 4] and first.has_more
    last = reg.list(limit=2, offset=4)
    assert [m.version for m in last] == [1] and not last.has_more


def test_onnx_signature_is_read_from_the_file(reg: ModelRegistry, tmp_path: Path) -> None:
    m = reg.register(onnx_logreg(tmp_path / "lr.onnx", n_features=7), "lr")
    assert m.framework == "onnx"
    assert m.signature["inputs"] == [{"name": "input", "dtype": "float32", "shape": [None, 7]}]
    assert [o["name"] for o in m.signature["outputs"]] == ["label", "probabilities"]


def test_sklearn_pickle_is_detected_without_unpickling(reg: ModelRegistry, tmp_path: Path) -> None:
    assert reg.register(sklearn_joblib(tmp_path / "clf.joblib"), "clf").framework == "sklearn"


def test_delete_refuses_a_version_an_image_uses(reg: ModelRegistry, model_file: Path) -> None:
    m = reg.register(model_file, "a")
    with reg.ws.metadata.begin() as conn:
        image_id = conn.execute(
            images.insert().values(name="scorer", version=3, created_at=0.0, state="succeeded")
        ).inserted_primary_key[0]
        conn.execute(image_models.insert().values(image_id=image_id, model_id=m.id))
    with pytest.raises(mlops.InUseError) as err:
        reg.delete("a", 1)
    assert str(err.value) == "Model a:1 is used by image scorer:3; delete the image first."
    assert reg.get("a", 1).version == 1


def test_bad_input_gets_one_line_errors(reg: ModelRegistry, model_file: Path, tmp_path: Path) -> None:
    with pytest.raises(mlops.InvalidNameError, match=r"^Invalid model name 'a/b': use letters, digits"):
        reg.register(model_file, "a/b")
    with pytest.raises(mlops.InvalidNameError, match="256 characters, at most 255"):
        reg.register(model_file, "x" * 256)
    with pytest.raises(mlops.UsageError, match=r"^Model path '.*nope' does not exist\.$"):
        reg.register(tmp_path / "nope", "a")
    with pytest.raises(mlops.UsageError, match=r"^Invalid tag 'stage': write key=value\.$"):
        reg.register(model_file, "a", tags=["stage"])
    with pytest.raises(mlops.UsageError, match=r"^Invalid version 'x': versions are positive integers\.$"):
        reg.get("a", "x")
    with pytest.raises(mlops.NotFoundError, match=r"^Model 'ghost' not found\.$"):
        reg.get("ghost")
    with pytest.raises(mlops.UsageError, match="Unknown framework 'torch'"):
        reg.register(model_file, "a", framework="torch")
    assert reg.list().__len__() == 0


def test_model_repr_and_html_show_what_matters(reg: ModelRegistry, tmp_path: Path) -> None:
    m = reg.register(onnx_logreg(tmp_path / "lr.onnx"), "lr", tags={"stage": "dev"})
    assert repr(m).startswith("Model(name='lr', version=1, framework='onnx'")
    html = m._repr_html_()
    assert "<table>" in html and "stage=dev" in html and "probabilities" in html
    assert json.loads(json.dumps(m.to_dict()))["version"] == 1


def test_schema_version_is_recorded(reg: ModelRegistry) -> None:
    from jupyter_mlops.store.schema import SCHEMA_VERSION

    assert reg.ws.metadata.schema_version() == SCHEMA_VERSION
    with reg.ws.metadata.begin() as conn:
        assert conn.execute(select(models)).all() == []


def test_a_link_that_leaves_the_model_folder_is_refused(reg: ModelRegistry, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("not part of the model")
    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"w")
    (folder / "sub" / "same.bin").symlink_to(folder / "weights.bin")  # a link that stays inside is fine
    assert reg.register(folder, "ok").size == 2
    (folder / "sub" / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(mlops.UsageError) as err:
        reg.register(folder, "leaky")
    assert "'sub/leak.txt'" in str(err.value) and "leaves it" in str(err.value) and "\n" not in str(err.value)
    (folder / "sub" / "leak.txt").unlink()
    (folder / "up").symlink_to(tmp_path)  # a link to a folder outside, too
    with pytest.raises(mlops.UsageError, match="'up'"):
        reg.register(folder, "leaky")
    assert [m.name for m in reg.list()] == ["ok"]
    assert all(b"not part" not in reg.ws.artifacts.get_bytes(n) for n in reg.ws.artifacts.list("blobs/"))


def test_download_checks_every_file_before_writing_any(reg: ModelRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.txt").write_text("B")
    reg.register(folder, "bundle")
    out = tmp_path / "out"
    (out / "bundle" / "sub").mkdir(parents=True)
    (out / "bundle" / "sub" / "b.txt").write_text("mine")
    with pytest.raises(mlops.UsageError, match=r"b\.txt' already exists"):
        reg.download("bundle", None, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["bundle/sub/b.txt"]
    assert (out / "bundle" / "sub" / "b.txt").read_text() == "mine"
