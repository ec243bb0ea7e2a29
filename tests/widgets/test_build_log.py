"""BuildLog over real builds: Docker steps stream with cache hits, a summary stays, failures show the tail."""

from __future__ import annotations

import html
import uuid
from pathlib import Path

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.widgets import BuildLog
from jupyter_mlops.workspace import Workspace

from ..modelfactory import onnx_logreg


class Recording(BuildLog):
    """Keeps every HTML the view was sent, to see the build stream."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.sent: list[str] = []
        super().__init__(*args, **kwargs)
        self.observe(lambda change: self.sent.append(change["new"]), names="html")


@pytest.fixture
def docker_workspace(docker_workspace: Workspace, wheelhouses: Path) -> Workspace:
    docker_workspace.state_dir.mkdir(parents=True, exist_ok=True)
    (docker_workspace.state_dir / "wheelhouses").symlink_to(wheelhouses, target_is_directory=True)
    return docker_workspace


@pytest.mark.docker
def test_steps_stream_then_the_summary_stays_with_cache_hits(docker_workspace: Workspace, tmp_path: Path) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    name = f"buildlog-{uuid.uuid4().hex[:8]}"  # its own Docker tag: other tests may build at the same time
    logs = []
    try:
        for _ in range(2):
            log = Recording(name)
            image = log.follow(lambda **kw: mlops.build_image(name, model, **kw))
            logs.append((log, image))
        log, image = logs[-1]
        assert image.state == "succeeded" and log.phase == "succeeded" and log.image == image
        total = log.steps[-1]["total"]
        assert [s["n"] for s in log.steps] == list(range(1, total + 1))
        assert 0 < log.reused == image.spec["cached_steps"]  # the rebuild reuses layers, and says how many
        for n in range(1, total + 1):  # streamed while building, step by step
            assert any(f'<progress value="{n}" max="{total}"></progress> step {n}/{total}:' in html for html in log.sent)
        assert any('class="chip cached"' in html for html in log.sent[:-1])
        final = log.html
        assert f"Built {image.ref} in" in final and f"{log.reused} of {total} steps reused from cache" in final
        assert "MiB" in final and "<details><summary>Build log (" in final and "Successfully built" in final
        data, _ = log._repr_mimebundle_()
        assert f"Built {image.ref}" in data["text/html"] and data["text/plain"].startswith(f"BuildLog {image.ref}: succeeded in")
    finally:
        for _, image in logs:
            mlops.delete_image(image.name, image.version)


@pytest.mark.docker
def test_a_failed_build_shows_the_error_and_the_log_tail(docker_workspace: Workspace, tmp_path: Path) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    log = BuildLog("lr-svc")
    with pytest.raises(mlops.BuildError) as caught:
        log.follow(lambda **kw: mlops.build_image("lr-svc", model, base_image="jupyter-mlops/absent:0", **kw))
    assert log.phase == "failed" and log.failure == str(caught.value)
    assert html.escape(log.failure) in log.html and "Step 1/" in log.failure_log and "Build of image lr-svc failed after" in log.html
    assert mlops.get_image("lr-svc:1").state == "failed"
    mlops.delete_image("lr-svc", 1)


def test_context_only_builds_say_so(workspace: Workspace, tmp_path: Path) -> None:
    model = mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    log = BuildLog("lr-svc")
    image = log.follow(lambda **kw: mlops.build_image("lr-svc", model, docker=False, **kw))
    assert image.state == "context" and any(line.startswith("wheelhouse: ") for line in log.lines)
    assert "Build context of lr-svc:1 written in" in log.html and "no Docker steps" in log.html


def test_outside_a_notebook_there_is_no_panel(workspace: Workspace) -> None:
    assert BuildLog.in_notebook("lr-svc") is None
