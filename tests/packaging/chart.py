"""Render the Helm chart offline (Helm's own Go SDK) and validate what comes out."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm" / "chatkit-onprem"
# Oldest version Chart.yaml's kubeVersion allows, and a current one.
KUBE_VERSIONS = ("1.25.0", "1.33.0")
# Kinds whose schema kubernetes-validate does not carry (CRDs): checked field by field in the tests.
CRD_KINDS = {"ServiceMonitor"}


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


def validate_all(docs: dict[str, list[dict[str, Any]]]) -> int:
    """Validate every manifest against the Kubernetes OpenAPI schemas (strict: no unknown fields)."""
    count = 0
    for kind, manifests in docs.items():
        if kind in CRD_KINDS:
            continue
        for manifest in manifests:
            for version in KUBE_VERSIONS:
                kubernetes_validate.validate(manifest, version, strict=True)
            count += 1
    return count


def one(docs: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    assert len(docs.get(kind, [])) == 1, f"expected one {kind}, got {len(docs.get(kind, []))}"
    return docs[kind][0]


def app_config(docs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yaml"])
    return data


def secret_data(docs: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in one(docs, "Secret")["data"].items()}


def server_container(docs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["server"]
    container: dict[str, Any] = containers[0]
    return container
