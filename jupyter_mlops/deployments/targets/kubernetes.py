"""``kubernetes``: a Deployment, a Service, a HorizontalPodAutoscaler, a Secret with the keys and,
with TLS, an Ingress. ``dry_run`` writes the YAML; otherwise they are applied (server-side apply)
with the ``kubernetes`` client to the cluster of the current kubeconfig context."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ...errors import DeploymentError, UsageError
from ...images.context import APP_ROOT, PORT
from .. import keys as keyring
from ..settings import KubernetesSettings
from .base import DeployContext, Target

FIELD_MANAGER = "jupyter-mlops"
STORE_ENV = "AZURE_STORAGE_CONNECTION_STRING"
SPOOL = "/var/jupyter-mlops/spool"


def k8s_name(name: str) -> str:
    """RFC 1123 label: lowercase alphanumerics and '-', at most 63 characters."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return cleaned[:63].rstrip("-") or "deployment"


def render(ctx: DeployContext) -> list[dict[str, Any]]:
    cfg, name = ctx.config, k8s_name(ctx.name)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "jupyter-mlops"}
    annotations = {"jupyter-mlops/image": ctx.image.ref, "jupyter-mlops/models": ",".join(ctx.image.models)}
    meta = lambda n: {"name": n, "namespace": cfg.namespace, "labels": labels, "annotations": annotations}
    image = ctx.pull_reference()
    env: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    docs: list[dict[str, Any]] = []
    if cfg.auth:
        mounts.append({"name": "keys", "mountPath": f"{APP_ROOT}/secrets", "readOnly": True})
        volumes.append({"name": "keys", "secret": {"secretName": f"{name}-keys"}})
        docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta(f"{name}-keys"), "type": "Opaque",
                     "stringData": keyring.server_secrets(ctx.secrets_dir)})
    collect_to = None
    if cfg.collect:
        collect_to = (ctx.workspace.artifacts_url, SPOOL)
        env.append({"name": STORE_ENV, "valueFrom": {"secretKeyRef": {"name": f"{name}-store", "key": STORE_ENV}}})
        docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta(f"{name}-store"), "type": "Opaque",
                     "stringData": {STORE_ENV: _cluster_store(ctx)}})
        mounts.append({"name": "spool", "mountPath": SPOOL})  # survives container restarts in the pod
        volumes.append({"name": "spool", "emptyDir": {}})
    settings = ctx.server_settings(host="0.0.0.0", port=PORT, keys_file=f"{APP_ROOT}/secrets", collect_to=collect_to)
    container: dict[str, Any] = {
        "name": "scoring", "image": image, "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": PORT}],
        "env": [{"name": "MLOPS_SERVER_SETTINGS", "value": _json(settings)}, *env],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3},
        "resources": _resources(cfg.cpu, cfg.memory),
    }
    if mounts:
        container["volumeMounts"] = mounts
    pod_spec: dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": int(cfg.drain_s) + 30}
    if volumes:
        pod_spec["volumes"] = volumes
    docs.append({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name),
        "spec": {
            "replicas": cfg.replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            # Safe updates: a new pod must be ready before an old one goes.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {"metadata": {"labels": labels, "annotations": annotations}, "spec": pod_spec},
        },
    })
    docs.append({
        "apiVersion": "v1", "kind": "Service", "metadata": meta(name),
        "spec": {"type": cfg.service_type, "selector": {"app.kubernetes.io/name": name},
                 "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    })
    if cfg.autoscale:
        auto = cfg.autoscale
        docs.append({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(name),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": int(auto.get("min", cfg.replicas)),
                "maxReplicas": int(auto.get("max", max(cfg.replicas, 2))),
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                    "type": "Utilization", "averageUtilization": int(auto.get("target_cpu", 70))}}}],
            },
        })
    if cfg.tls_cert:
        import base64

        cert = Path(cfg.tls_cert).read_bytes()
        key = Path(cfg.tls_key or cfg.tls_cert).read_bytes()
        docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": meta(f"{name}-tls"), "type": "kubernetes.io/tls",
                     "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}})
        host = cfg.ingress_host or f"{name}.example.com"
        docs.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta(name),
            "spec": {"tls": [{"hosts": [host], "secretName": f"{name}-tls"}],
                     "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                         "service": {"name": name, "port": {"name": "http"}}}}]}}]},
        })
    return docs


def _cluster_store(ctx: DeployContext) -> str:
    """The connection string of the Azure Blob store that pods write collected data to."""
    cs = ctx.azure_connection_string()
    if cs is None:
        raise UsageError(
            f"Collection on kubernetes writes to an Azure Blob artifact store (azure://CONTAINER) that the cluster can "
            f"reach; this workspace keeps its artifacts in {ctx.workspace.artifacts_url!r}.")
    return cs


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, sort_keys=True)


def _resources(cpu: str | None, memory: str | None) -> dict[str, Any]:
    requests = {k: str(v) for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"requests": requests, "limits": dict(requests)} if requests else {}


def to_yaml(docs: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump_all(docs, sort_keys=False)


class KubernetesTarget(Target):
    name = "kubernetes"
    settings = KubernetesSettings

    def create(self, ctx: DeployContext) -> dict[str, Any]:
        if not ctx.image.docker_tag:
            raise DeploymentError(f"Image {ctx.image.ref} has no Docker image to run on a cluster.")
        docs = render(ctx)
        out = Path(ctx.config.output_dir or ctx.home / "manifests")
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{k8s_name(ctx.name)}.yaml"
        path.write_text(to_yaml(docs))
        path.chmod(0o600)  # the keys Secret is in it
        if ctx.config.dry_run:
            return {"manifests": str(path), "dry_run": True}
        self._apply(docs)
        return {"manifests": str(path), "dry_run": False, "namespace": ctx.config.namespace, "name": k8s_name(ctx.name),
                "resources": [[d["apiVersion"], d["kind"], d["metadata"]["name"]] for d in docs]}

    def update(self, ctx: DeployContext, old: dict[str, Any]) -> dict[str, Any]:
        return self.create(ctx)  # applied in place: the RollingUpdate strategy keeps old pods until new ones are ready

    def _apply(self, docs: list[dict[str, Any]]) -> None:
        apply(docs)

    def delete(self, handle: dict[str, Any]) -> None:
        """Remove what was applied, newest first; absent resources are fine. Whatever could not be
        removed is named in one DeploymentError, so the caller keeps the record."""
        if handle.get("dry_run"):
            return
        ns = handle["namespace"]
        resources = [tuple(r) for r in handle.get("resources") or _everything_render_makes(handle["name"])]
        try:
            client = _dynamic_client()
        except DeploymentError as exc:
            raise _left([f"{kind}/{name}" for _, kind, name in reversed(resources)], ns, exc.message) from None
        left, reason = [], ""
        for api_version, kind, name in reversed(resources):
            try:
                client.resources.get(api_version=api_version, kind=kind).delete(name=name, namespace=ns)
            except Exception as exc:
                if _absent(exc):
                    continue
                left.append(f"{kind}/{name}")
                reason = reason or _short(exc)
        if left:
            raise _left(left, ns, reason)

    def status(self, ctx: DeployContext, handle: dict[str, Any]) -> str:
        if handle.get("dry_run"):
            return "healthy" if Path(handle["manifests"]).exists() else "failed"
        try:
            dep = _dynamic_client().resources.get(api_version="apps/v1", kind="Deployment").get(
                name=handle["name"], namespace=handle["namespace"])
        except Exception:
            return "failed"
        ready, wanted = dep.status.readyReplicas or 0, dep.spec.replicas or 0
        return "healthy" if ready >= wanted > 0 else ("transitioning" if ready else "unhealthy")

    def logs(self, handle: dict[str, Any], lines: int = 50) -> str:
        if handle.get("dry_run"):
            return f"dry run: manifests in {handle['manifests']}"
        from kubernetes import client as k8s

        core = k8s.CoreV1Api(_dynamic_client().client)
        pods = core.list_namespaced_pod(handle["namespace"], label_selector=f"app.kubernetes.io/name={handle['name']}")
        names = [p.metadata.name for p in pods.items[:1] if p.metadata and p.metadata.name]
        return "\n".join(core.read_namespaced_pod_log(n, handle["namespace"], tail_lines=lines) for n in names)

    def scoring_uri(self, ctx: DeployContext) -> str | None:
        return f"http://{k8s_name(ctx.name)}.{ctx.config.namespace}.svc.cluster.local/score"

    def keys_changed(self, ctx: DeployContext, handle: dict[str, Any]) -> None:
        self.create(ctx)  # re-render and re-apply: the mounted Secret updates in place


def apply(docs: list[dict[str, Any]]) -> None:
    """Server-side apply to the cluster of the current kubeconfig context (an endpoint's route too)."""
    client = _dynamic_client()
    for doc in docs:
        resource = client.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        resource.server_side_apply(body=doc, name=doc["metadata"]["name"], namespace=doc["metadata"]["namespace"],
                                   field_manager=FIELD_MANAGER, force_conflicts=True)


def delete_resource(api_version: str, kind: str, name: str, namespace: str) -> None:
    """Remove one resource; an absent one is fine."""
    try:
        _dynamic_client().resources.get(api_version=api_version, kind=kind).delete(name=name, namespace=namespace)
    except Exception as exc:  # the API's errors, and the transport's
        if not _absent(exc):
            raise DeploymentError(
                f"Could not remove {kind}/{name} from namespace {namespace!r} ({_short(exc)}).") from None


def _everything_render_makes(name: str) -> list[tuple[str, str, str]]:
    """Handles written before they listed their resources: everything render() may make."""
    return [("v1", "Secret", f"{name}-keys"), ("v1", "Secret", f"{name}-store"), ("apps/v1", "Deployment", name),
            ("v1", "Service", name),
            ("autoscaling/v2", "HorizontalPodAutoscaler", name), ("v1", "Secret", f"{name}-tls"),
            ("networking.k8s.io/v1", "Ingress", name)]


def _absent(exc: Exception) -> bool:
    """Already gone (404), or a kind the cluster does not serve (so nothing of it exists)."""
    from kubernetes.dynamic.exceptions import ResourceNotFoundError

    return getattr(exc, "status", None) == 404 or isinstance(exc, ResourceNotFoundError)


def _short(exc: BaseException) -> str:
    """The innermost reason, one line: urllib3 wraps "Connection refused" two levels deep."""
    while isinstance(inner := getattr(exc, "reason", None), BaseException):
        exc = inner
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return re.sub(r"<[^>]*>: ", "", text)[:200]


def _left(left: list[str], namespace: str, reason: str) -> DeploymentError:
    return DeploymentError(f"Could not remove {', '.join(left)} from namespace {namespace!r} ({reason}); "
                           "the deployment record and its keys are kept: undeploy again once the cluster answers.")


def _dynamic_client() -> Any:
    try:
        from kubernetes import config, dynamic
        from kubernetes.client import api_client

        # $KUBECONFIG as it is now: the client reads it once, at import.
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG", "~/.kube/config"))
        return dynamic.DynamicClient(api_client.ApiClient())
    except Exception as exc:
        raise DeploymentError(f"Cannot reach a Kubernetes cluster: {_short(exc)}") from None
