"""Render the Helm chart offline (Helm's own Go SDK) and validate what comes out."""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm" / "chatkit-onprem"
CRD_DIR = Path(__file__).resolve().parent / "crds"
# Oldest version Chart.yaml's kubeVersion allows, and a current one.
KUBE_VERSIONS = ("1.27.0", "1.33.0")


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> strict JSON schema, for the CRDs shipped in tests/packaging/crds."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRD_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        out[(data["apiVersion"], data["kind"])] = data["schema"]
    return out


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Strictly against the Kubernetes schemas, or the shipped CRD schema for custom kinds."""
    custom = crd_schemas().get((manifest["apiVersion"], manifest["kind"]))
    if custom is not None:
        jsonschema.Draft7Validator(custom).validate(manifest)
        return
    for version in KUBE_VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)


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
    """Validate every manifest (strict: no unknown fields); CRD kinds against the shipped schemas."""
    count = 0
    for manifests in docs.values():
        for manifest in manifests:
            validate_manifest(manifest)
            count += 1
    return count


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
    """The server's Deployment or StatefulSet."""
    kinds = [k for k in ("Deployment", "StatefulSet") if k in docs]
    assert len(kinds) == 1, kinds
    return one(docs, kinds[0])


def pod_spec(docs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    spec: dict[str, Any] = workload(docs)["spec"]["template"]["spec"]
    return spec


def server_container(docs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    containers = pod_spec(docs)["containers"]
    container: dict[str, Any] = containers[0]
    assert container["name"] == "server"
    return container


def main(argv: list[str]) -> int:
    """``python -m tests.packaging.chart FILE...``: validate rendered manifests (scripts/check_helm_cli)."""
    count = 0
    for name in argv:
        for manifest in yaml.safe_load_all(Path(name).read_text(encoding="utf-8")):
            if manifest:
                validate_manifest(manifest)
                count += 1
    print(f"{count} manifests valid")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
