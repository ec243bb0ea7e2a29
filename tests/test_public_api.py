from __future__ import annotations

import subprocess
import sys

import jupyter_mlops

# The public surface, spelled out: adding or removing a name must change this test.
PUBLIC = [
    "BuildError", "ConflictError", "Dashboard", "Deployment", "DeploymentError", "DeploymentList", "Endpoint",
    "EndpointList", "Gates", "Image", "ImageList", "ImmutableError", "InUseError", "InvalidNameError", "LocalServer",
    "MlopsError", "Model", "ModelList", "NotFoundError", "PipelineError", "Push", "PushError", "RolloutResult",
    "StoreError", "Token", "UsageError", "Validation", "ValidationError", "Workspace", "__version__", "abort_rollout",
    "build_image", "collected_data", "create_endpoint", "dashboard", "delete_alias", "delete_endpoint", "delete_image",
    "delete_model", "deploy", "download_model", "follow_rollout", "get_baseline", "get_deployment", "get_endpoint", "get_endpoint_keys",
    "get_image", "get_keys", "get_model", "get_token", "get_workspace", "list_deployments", "list_endpoints",
    "list_images", "list_models", "push_image", "regen_endpoint_key", "regen_key", "register_model", "rollout", "serve",
    "set_alias", "set_baseline", "set_traffic", "smoke_test_image", "undeploy", "update_deployment", "update_image",
    "ui", "update_model", "use_workspace", "validate_model",
]


def test_all_is_exactly_the_public_surface() -> None:
    assert jupyter_mlops.__all__ == sorted(PUBLIC)
    for name in jupyter_mlops.__all__:
        assert getattr(jupyter_mlops, name) is not None


def _imported_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(sorted({{m.split('.')[0] for m in sys.modules}}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return eval(out)


def test_serving_imports_nothing_from_the_notebook_side() -> None:
    loaded = _imported_after("import jupyter_mlops.serving")
    assert not {"IPython", "ipywidgets", "jupyterlab", "jupyter_server", "sqlalchemy"} & set(loaded)


def test_importing_the_package_is_cheap() -> None:
    loaded = _imported_after("import jupyter_mlops")
    assert not {"IPython", "sqlalchemy", "onnxruntime", "docker", "azure"} & set(loaded)
