from __future__ import annotations

import subprocess
import sys

import jupyter_mlops

# The public surface, spelled out: adding or removing a name must change this test.
PUBLIC = [
    "BuildError", "ConflictError", "Dashboard", "Deployment", "DeploymentError", "DeploymentList", "Image", "ImageList", "ImmutableError", "InUseError",
    "InvalidNameError", "LocalServer", "MlopsError", "Model", "ModelList", "NotFoundError", "StoreError",
    "UsageError", "Workspace", "__version__", "build_image", "collected_data", "dashboard", "delete_image", "delete_model", "deploy",
    "download_model", "get_baseline", "get_deployment", "get_image", "get_keys", "get_model", "get_workspace",
    "list_deployments", "list_images", "list_models", "regen_key", "register_model", "serve",
    "set_baseline", "smoke_test_image", "undeploy", "update_deployment", "update_image", "update_model", "use_workspace",
    "ui",
]


def test_all_is_exactly_the_public_surface() -> None:
    assert jupyter_mlops.__all__ == sorted(PUBLIC)
    for name in jupyter_mlops.__all__:
        assert getattr(jupyter_mlops, name) is not None


def _imported_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(sorted({{m.split('.')[0] for m in sys.modules}}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return eval(out)  # noqa: S307 - our own subprocess's repr of a list of str


def test_serving_imports_nothing_from_the_notebook_side() -> None:
    loaded = _imported_after("import jupyter_mlops.serving")
    assert not {"IPython", "ipywidgets", "jupyterlab", "jupyter_server", "sqlalchemy"} & set(loaded)


def test_importing_the_package_is_cheap() -> None:
    loaded = _imported_after("import jupyter_mlops")
    assert not {"IPython", "sqlalchemy", "onnxruntime", "docker", "azure"} & set(loaded)
