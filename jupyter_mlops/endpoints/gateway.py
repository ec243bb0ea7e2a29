"""An endpoint on Kubernetes: a Gateway API ``HTTPRoute`` in front of the deployments' Services.

The same state as the local proxy, in the Gateway API's terms: one rule per deployment matching the
``azureml-model-deployment`` header (more specific than the path rule, so it wins whatever the
weights), and a path rule with the weighted ``backendRefs`` and a ``RequestMirror`` filter for the
mirror share. Each backend sets the header on its answers, as Azure ML does.
"""

from __future__ import annotations

from typing import Any

from ..deployments.targets.kubernetes import k8s_name
from .nginx import HEADER

API_VERSION = "gateway.networking.k8s.io/v1"
SERVICE_PORT = 80  # the port of the Service the kubernetes target renders


def _backend(deployment: str, weight: int | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": k8s_name(deployment), "port": SERVICE_PORT}
    if weight is not None:
        ref["weight"] = weight
    ref["filters"] = [{"type": "ResponseHeaderModifier",
                       "responseHeaderModifier": {"set": [{"name": HEADER, "value": deployment}]}}]
    return ref


def render_route(endpoint: str, config: dict[str, Any], traffic: dict[str, int],
                 mirror: dict[str, int]) -> dict[str, Any]:
    name = k8s_name(endpoint)
    parent: dict[str, Any] = {"name": config.get("gateway") or "mlops-gateway"}
    if config.get("gateway_namespace"):
        parent["namespace"] = config["gateway_namespace"]
    rules: list[dict[str, Any]] = [
        {"matches": [{"headers": [{"type": "Exact", "name": HEADER, "value": dep}]}], "backendRefs": [_backend(dep)]}
        for dep in sorted(traffic)
    ]
    split: dict[str, Any] = {"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                             "backendRefs": [_backend(dep, traffic[dep]) for dep in sorted(traffic)]}
    mirrored = [(dep, pct) for dep, pct in sorted(mirror.items()) if pct > 0]
    if mirrored:
        split["filters"] = [{"type": "RequestMirror", "requestMirror": {
            "backendRef": {"name": k8s_name(dep), "port": SERVICE_PORT}, "percent": pct}} for dep, pct in mirrored]
    rules.append(split)
    return {
        "apiVersion": API_VERSION, "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": config.get("namespace") or "default",
                     "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "jupyter-mlops"},
                     "annotations": {"jupyter-mlops/endpoint": endpoint}},
        "spec": {"parentRefs": [parent], "hostnames": [hostname(endpoint, config)], "rules": rules},
    }


def hostname(endpoint: str, config: dict[str, Any]) -> str:
    return str(config.get("hostname") or f"{k8s_name(endpoint)}.example.com")
