"""Render the Helm chart offline (Helm's own Go SDK) and validate what comes out."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import yaml

from tests.packaging.custom_resources import CustomResourceValidator, is_custom

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm" / "chatkit-onprem"
# Oldest version Chart.yaml's kubeVersion allows, and a current one.
KUBE_VERSIONS = ("1.27.0", "1.33.0")


def validate_manifests(manifests: list[dict[str, Any]], custom: CustomResourceValidator) -> int:
    """Built-in kinds strictly (no unknown fields) against the Kubernetes schemas; custom kinds
    (HTTPRoute, ServiceMonitor, CloudNativePG Cluster) in one batch through ``custom``."""
    for manifest in manifests:
        if not is_custom(manifest):
            for version in KUBE_VERSIONS:
                kubernetes_validate.validate(manifest, version, strict=True)
    custom.validate([m for m in manifests if is_custom(m)])
    return len(manifests)


def render(values: dict[str, Any], *, chart: str | Path = CHART_DIR) -> dict[str, list[dict[str, Any]]]:
    """Schema-check the values, render, and return the manifests by kind."""
    loaded = helm_python.Chart.load(chart)
    loaded.validate_schema(values)
    out = loaded.render(values, name="chat", namespace="chat", is_install=True)
    docs: dict[str, list[dict[str, Any]]] = {}
    for name, text in out.items():
        if not name.endswith(".yaml"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.setdefault(doc["kind"], []).append(doc)
    return docs


def validate_all(docs: dict[str, list[dict[str, Any]]], custom: CustomResourceValidator) -> int:
    """Validate every rendered manifest; returns how many."""
    return validate_manifests([m for manifests in docs.values() for m in manifests], custom)


def one(docs: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    assert len(docs.get(kind, [])) == 1, f"expected one {kind}, got {len(docs.get(kind, []))}"
    return docs[kind][0]


def config_map(docs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The chart's own ConfigMap (extraDeploy may add others)."""
    [found] = [c for c in docs["ConfigMap"] if "config.yaml" in c.get("data", {})]
    return found


def app_config(docs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(config_map(docs)["data"]["config.yaml"])
    return data


def secret_data(docs: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in one(docs, "Secret")["data"].items()}


def workload(docs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The server's Deployment or StatefulSet (not the jobs Deployment of jobs.dedicated)."""
    found = [
        manifest
        for kind in ("Deployment", "StatefulSet")
        for manifest in docs.get(kind, [])
        if manifest["metadata"]["labels"]["app.kubernetes.io/component"] == "server"
    ]
    assert len(found) == 1, [m["metadata"]["name"] for m in found]
    return found[0]


def pod_spec(docs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    spec: dict[str, Any] = workload(docs)["spec"]["template"]["spec"]
    return spec


def server_container(docs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    containers = pod_spec(docs)["containers"]
    container: dict[str, Any] = containers[0]
    assert container["name"] == "server"
    return container


def main(argv: list[str]) -> int:
    """``python -m tests.packaging.chart FILE...``: validate rendered manifests (scripts/check_helm_cli).

    One validator (one node process) for all files; the first failing file is named."""
    count = 0
    with CustomResourceValidator() as custom:
        for name in argv:
            text = Path(name).read_text(encoding="utf-8")
            manifests = [m for m in yaml.safe_load_all(text) if m]
            try:
                count += validate_manifests(manifests, custom)
            except Exception as exc:
                print(f"{name}: {exc}", file=sys.stderr)
                return 1
    print(f"{count} manifests valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
