"""``jupyter-mlops pipeline run`` on the example pipeline (examples/ci), as the CI examples run it:
end to end with a real registry, Docker, the validation notebook and a deployment; a threshold that
is not met; resuming; and pipeline files checked before anything runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import nbformat
import pytest
import yaml

import jupyter_mlops as mlops
from jupyter_mlops import cli
from jupyter_mlops.workspace import Workspace

from ..services import REPO, ContainerRegistry

EXAMPLE = REPO / "examples" / "ci"
VERBS = ["register", "validate", "build", "smoke_test", "push", "alias", "deploy"]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example folder, copied, with the model and test data train.py makes."""
    folder = tmp_path / "ci"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("build", "mlops-artifacts"))
    subprocess.run([sys.executable, str(folder / "train.py")], check=True, capture_output=True, timeout=120)
    return folder


def run(*args: str) -> tuple[int, list[dict[str, object]], str]:
    """Run the CLI as CI does; returns the exit status, the JSON lines on stdout and stderr."""
    done = subprocess.run([sys.executable, "-m", "jupyter_mlops.cli", "pipeline", "run", *args], capture_output=True,
                          text=True, timeout=600)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


@pytest.mark.docker
@pytest.mark.slow
def test_the_example_pipeline_ships_a_validated_model_end_to_end_and_resumes(
        docker_workspace: Workspace, container_registry: ContainerRegistry, example: Path) -> None:
    artifacts = example / "mlops-artifacts"
    try:
        code, lines, err = run(str(example / "pipeline.toml"), "--set", f"registry={container_registry.address}")
        assert code == 0, err
        assert [(line["step"], line["status"]) for line in lines] == [(v, "ok") for v in VERBS]
        out = {line["step"]: line["outputs"] for line in lines}
        assert all(isinstance(line["seconds"], float) for line in lines)
        assert out["register"] == {"ref": "churn:1", "name": "churn", "version": 1}
        executed = nbformat.read(artifacts / "validate.ipynb", as_version=4)
        assert "churn:1: accuracy 0.874" in json.dumps([c.get("outputs") for c in executed.cells])
        assert set(out["smoke_test"]["answer"]) == {"label", "probabilities"}

        repository = out["push"]["reference"].split("/", 1)[1].rsplit(":", 1)[0]
        manifest = httpx.get(f"http://{container_registry.address}/v2/{repository}/manifests/1",
                             headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        assert manifest.headers["Docker-Content-Digest"] == out["push"]["digest"]

        champion = mlops.get_model("churn@champion")
        assert (champion.version, champion.aliases, champion.tags) == (1, ["champion"], {"stage": "candidate"})
        assert champion.provenance["source"].endswith("ci/train.py")
        dep = mlops.get_deployment("churn")
        assert (dep.state, dep.target, dep.image, dep.follows) == ("healthy", "docker", "churn-svc:1", "churn@champion")
        assert set(dep.score([[0.1, -1.2, 0.3, 0.8, 1.5, -0.4]])) == {"label", "probabilities"}

        code, again, err = run(str(example / "pipeline.toml"), "--from", "deploy")
        assert code == 0, err
        assert [(line["step"], line["status"]) for line in again] == [(v, "skipped") for v in VERBS[:-1]] + [
            ("deploy", "ok")]
        assert [line["outputs"] for line in again[:-1]] == [out[v] for v in VERBS[:-1]]
        assert again[-1]["outputs"]["image"] == "churn-svc:1"  # champion names what it serves: nothing to move
    finally:
        if any(d.name == "churn" for d in mlops.list_deployments()):
            mlops.undeploy("churn")
        subprocess.run(["docker", "rmi", f"{container_registry.address}/jupyter-mlops/churn-svc:1"],
                       capture_output=True)


def test_a_threshold_not_met_fails_the_run_before_anything_is_built_pushed_deployed_or_aliased(
        workspace: Workspace, example: Path) -> None:
    mlops.register_model(example / "build" / "churn.onnx", "churn")
    mlops.set_alias("churn", "champion", 1)
    code, lines, err = run(str(example / "pipeline.toml"), "--set", "min_accuracy=0.99")
    assert code == 1
    assert [(line["step"], line["status"]) for line in lines] == [("register", "ok"), ("validate", "failed")]
    executed = example / "mlops-artifacts" / "validate.ipynb"
    cause = (f"validate.ipynb failed for churn:2: AssertionError: accuracy 0.874 is below min_accuracy 0.99 "
             f"(executed copy: {executed})")
    assert lines[1]["error"] == cause
    assert err == f"error: Step 'validate' (validate) failed: {cause}\n"
    errors = [o for c in nbformat.read(executed, as_version=4).cells for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert [e.ename for e in errors] == ["AssertionError"]
    assert mlops.list_images() == [] and mlops.list_deployments() == []
    assert mlops.get_model("churn@champion").version == 1
    state = json.loads((example / "mlops-artifacts" / "state.json").read_text())
    assert {k: v["status"] for k, v in state["steps"].items()} == {"register": "ok", "validate": "failed"}
    code, lines, err = run(str(example / "pipeline.toml"), "--from", "build")  # validate never passed
    assert (code, lines) == (1, []) and err.startswith("error: Cannot resume: step 'validate' did not succeed")


def _pipeline(tmp_path: Path, text: str) -> str:
    (tmp_path / "p.toml").write_text(text)
    return str(tmp_path / "p.toml")


@pytest.mark.parametrize(("text", "args", "message"), [
    ('[[steps]]\nverb = "teleport"\n', (), "Step 1: unknown verb 'teleport'; use one of: register, validate, build, "
     "smoke_test, push, deploy, update, alias, rollout."),
    ('[[steps]]\nverb = "register"\npath = "m.onnx"\nnmae = "x"\n', (),
     "Step 'register': Unknown option 'nmae' for 'models register'; it takes: path, name, tags, properties, "
     "description, framework, source."),
    ('[[steps]]\nverb = "register"\npath = "m.onnx"\n', (), "Step 'register': 'models register' needs 'name'."),
    ('[[steps]]\nverb = "push"\nref = "${steps.build.ref}"\nregistry = "r"\n', (),
     "Step 'push': ${steps.build.ref} names no earlier step; before it: none."),
    ('[[steps]]\nverb = "register"\npath = "m"\nname = "m"\n[[steps]]\nverb = "alias"\nname = "m"\nalias = "a"\n'
     'version = "${steps.register.digest}"\n', (),
     "Step 'alias': ${steps.register.digest}: a register step's outputs are ref, name, version."),
    ('[[steps]]\nverb = "register"\npath = "m"\nname = "m"\n[[steps]]\nverb = "register"\npath = "m"\nname = "n"\n',
     (), "Step 2: the id 'register' is taken; give this step its own (id = \"...\")."),
    ('[vars]\nregistry = "x"\n[[steps]]\nverb = "register"\npath = "m"\nname = "m"\n', ("--set", "regsitry=y"),
     "Unknown variable 'regsitry' in --set; the pipeline's [vars]: registry."),
    ('[[steps]]\nverb = "register"\npath = "m"\nname = "m"\n', ("--from", "build"),
     "No step 'build' to start from; the steps: register."),
    ('[[steps]]\nverb = "register"\npath = "m"\nname = "m"\n', ("--from", "register"),
     "Cannot resume: no state of an earlier run in"),
])
def test_a_pipeline_file_is_checked_before_any_step_runs(workspace: Workspace, tmp_path: Path, text: str,
                                                          args: tuple[str, ...], message: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["pipeline", "run", _pipeline(tmp_path, text), *args])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "") and err.startswith(f"error: {message}") and err.count("\n") == 1, err
    assert mlops.list_models() == []


def test_the_ci_examples_run_this_pipeline_on_every_push() -> None:
    actions = yaml.safe_load((EXAMPLE / "github-actions.yml").read_text())
    assert set(actions[True]) == {"push"}  # YAML reads the key `on` as True
    steps = actions["jobs"]["pipeline"]["steps"]
    assert any("jupyter-mlops pipeline run examples/ci/pipeline.toml" in s.get("run", "") for s in steps)
    assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in steps)
    gitlab = yaml.safe_load((EXAMPLE / "gitlab-ci.yml").read_text())
    job = gitlab["pipeline"]
    assert any("jupyter-mlops pipeline run examples/ci/pipeline.toml" in line for line in job["script"])
    assert job["artifacts"]["paths"] == ["examples/ci/mlops-artifacts/"]


def test_a_rollout_step_passes_on_promotion_and_fails_the_pipeline_otherwise() -> None:
    from jupyter_mlops.commands.steps import STEPS
    from jupyter_mlops.endpoints.rollout import RolloutResult

    step = STEPS["rollout"]
    assert step.command.name == "endpoints rollout"
    promoted = RolloutResult(endpoint="churn", status="promoted", new="green", current="blue", image="svc:2")
    assert step.outputs_of(promoted) == {"endpoint": "churn", "new": "green", "image": "svc:2", "status": "promoted"}
    back = RolloutResult(endpoint="churn", status="rolled-back", new="green", current="blue", image="svc:2",
                         reason="error rate 5.0 % against 0.0 %")
    with pytest.raises(mlops.DeploymentError, match=r"^The rollout of svc:2 was not promoted: error rate 5.0 %"):
        step.outputs_of(back)
