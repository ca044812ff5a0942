#!/usr/bin/env python3
"""Turn a CustomResourceDefinition into the strict JSON schema the chart tests validate against.

    python tests/packaging/crds/extract.py CRD.yaml VERSION > tests/packaging/crds/<kind>-<version>.json

Keeps the structure (types, properties, required, enums, patterns, bounds) of the
served version's ``openAPIV3Schema``, drops descriptions and CEL rules (not
evaluated here), and closes every object that lists its properties (as the API
server's strict field validation does), unless it preserves unknown fields.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml

DROP = {
    "description",
    "x-kubernetes-validations",
    "example",
    "externalDocs",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "default",
}


def strict(node: Any) -> Any:
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items() if k not in DROP}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not preserve
    ):
        out["additionalProperties"] = False
    return out


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as source:
        crd = yaml.safe_load(source)
    version = sys.argv[2]
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = strict(served["schema"]["openAPIV3Schema"])
    annotations = crd["metadata"].get("annotations", {})
    release = (
        annotations.get("gateway.networking.k8s.io/bundle-version")
        or annotations.get("operator.prometheus.io/version")
        or annotations.get("controller-gen.kubebuilder.io/version", "")
    )
    out = {
        "$comment": f"{crd['metadata']['name']} {version} ({release}); by extract.py",
        "apiVersion": f"{crd['spec']['group']}/{version}",
        "kind": crd["spec"]["names"]["kind"],
        "schema": schema,
    }
    json.dump(out, sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
