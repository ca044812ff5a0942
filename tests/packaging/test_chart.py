"""The Helm chart: renders for every supported value set, validates against Kubernetes
schemas offline, and produces a config the server itself accepts in production."""

from __future__ import annotations

import base64
import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from chatkit_onprem.config import ENV_PREFIX, load_settings
from tests.packaging.chart import (
    CHART_DIR,
    ROOT,
    app_config,
    one,
    render,
    secret_data,
    server_container,
    validate_all,
)

PUBLIC = {"config": {"server": {"public_url": "https://chat.example.internal"}}}

# The value sets CI renders (the same files scripts/check_helm_cli feeds the helm CLIs).
VALUES_DIR = Path(__file__).resolve().parent / "values"
VALUE_SETS: dict[str, dict[str, Any]] = {
    p.stem: yaml.safe_load(p.read_text()) for p in sorted(VALUES_DIR.glob("*.yaml"))
}


def test_the_value_sets_cover_what_the_issue_asks() -> None:
    assert set(VALUE_SETS) >= {"defaults", "ingress_tls", "existing_secret", "external_s3", "oidc"}


def merged(*parts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merged(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_value_set_renders_and_validates(name: str) -> None:
    docs = render(VALUE_SETS[name])
    assert validate_all(docs) >= 6
    for manifests in docs.values():
        for manifest in manifests:
            meta = manifest["metadata"]
            assert meta["labels"]["app.kubernetes.io/instance"] == "chat", manifest["kind"]
            if manifest["kind"] != "Pod":
                assert meta["namespace"] == "chat"


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_rendered_config_is_accepted_by_the_server_in_production(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ConfigMap + Secret files + *_FILE env the chart renders pass the app's own load_settings."""
    mount = tmp_path / "secrets"
    mount.mkdir()
    values = merged(VALUE_SETS[name], {"secrets": {"mountPath": str(mount)}})
    docs = render(values)
    if values["secrets"].get("existingSecret"):
        assert "Secret" not in docs
        files = {"admin-token": "x" * 32, "encryption-key": base64.b64encode(b"k" * 32).decode()}
    else:
        files = secret_data(docs)
    for key, value in files.items():
        (mount / key).write_text(value)
    for var in [v for v in os.environ if v.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(var)
    env = {e["name"]: e["value"] for e in server_container(docs)["env"]}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(one(docs, "ConfigMap")["data"]["config.yaml"])

    settings = load_settings(config_file, check_production=True)

    assert settings.mode == "production"
    assert str(settings.data_dir) == "/data"
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 8000)
    assert settings.auth.admin_token is not None
    assert settings.auth.admin_token.get_secret_value() == files["admin-token"]
    assert settings.blobs.encryption.key is not None
    if name == "external_s3":
        assert settings.blobs.s3.secret_key is not None
        assert settings.blobs.s3.secret_key.get_secret_value() == "s3cr3t-s3cr3t-s3cr3t"
    if name == "oidc":
        model_key = settings.llm.upstreams["vllm"].api_key
        assert model_key is not None and model_key.get_secret_value() == "sk-internal-model-key"
    if name == "ingress_tls":
        assert settings.server.public_url == "https://chat.corp.example"


def test_deployment_is_one_hardened_replica() -> None:
    docs = render(PUBLIC)
    deployment = one(docs, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] == 10001
    container = server_container(docs)
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["args"] == ["serve", "--config", "/etc/chatkit-onprem/config.yaml"]
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["limits"]["memory"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert set(mounts) == {"/etc/chatkit-onprem/config.yaml", "/etc/chatkit-onprem/secrets", "/data", "/tmp"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "chat-chatkit-onprem-data"
    assert volumes["tmp"]["emptyDir"]["sizeLimit"] == "256Mi"
    assert pod["terminationGracePeriodSeconds"] > app_config(docs).get("server", {}).get(
        "shutdown_grace_seconds", 15
    )
    assert one(docs, "ServiceAccount")["automountServiceAccountToken"] is False
    assert one(docs, "PersistentVolumeClaim")["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert "PodDisruptionBudget" not in docs  # one replica: see the chart README


def test_generated_secrets_are_strong_and_secret_values_change_the_pod() -> None:
    docs = render(PUBLIC)
    data = secret_data(docs)
    assert len(data["admin-token"]) == 40
    assert len(base64.b64decode(data["encryption-key"])) == 32
    assert one(docs, "Secret")["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    given = render(merged(PUBLIC, {"secrets": {"adminToken": "t" * 30}}))
    assert secret_data(given)["admin-token"] == "t" * 30
    before = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    after = one(given, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert before["checksum/config"] == after["checksum/config"]
    assert before["checksum/secret-values"] != after["checksum/secret-values"]


def test_image_reference_registry_and_digest() -> None:
    assert server_container(render(PUBLIC))["image"] == "chatkit-onprem:0.1.0"
    docs = render(VALUE_SETS["existing_secret"])
    assert server_container(docs)["image"] == "registry.corp.example/chat/chatkit-onprem@sha256:" + "ab" * 32
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "corp-pull"}]
    assert pod["volumes"][2]["persistentVolumeClaim"]["claimName"] == "chat-data"
    assert pod["volumes"][1]["secret"]["secretName"] == "chat-secrets"
    assert "PersistentVolumeClaim" not in docs


def test_network_policy_egress_is_dns_plus_listed_destinations_only() -> None:
    default = one(render(PUBLIC), "NetworkPolicy")["spec"]
    assert default["policyTypes"] == ["Ingress", "Egress"]
    assert default["egress"] == [
        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    ]
    oidc = one(render(VALUE_SETS["oidc"]), "NetworkPolicy")["spec"]["egress"]
    assert [rule.get("to") for rule in oidc[1:]] == [
        [{"ipBlock": {"cidr": "10.50.0.7/32"}}],
        [{"ipBlock": {"cidr": "10.40.0.0/28"}}],
    ]
    assert oidc[1]["ports"] == [{"port": 443, "protocol": "TCP"}, {"port": 8443, "protocol": "TCP"}]
    closed = one(render(VALUE_SETS["existing_secret"]), "NetworkPolicy")["spec"]["ingress"][0]["from"]
    assert closed[0]["podSelector"]["matchLabels"]["chatkit-onprem/client"] == "true"
    assert closed[1] == {"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}


def test_ingress_streams_sse_and_serves_tls() -> None:
    ingress = one(render(VALUE_SETS["ingress_tls"]), "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["cert-manager.io/cluster-issuer"] == "corp-ca"
    assert ingress["spec"]["tls"] == [{"hosts": ["chat.corp.example"], "secretName": "chat.corp.example-tls"}]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    plain = render(merged(VALUE_SETS["ingress_tls"], {"ingress": {"nginxStreaming": False, "tls": False}}))
    assert not any(k.startswith("nginx.") for k in one(plain, "Ingress")["metadata"]["annotations"])
    assert app_config(plain)["server"]["public_url"] == "http://chat.corp.example"


def test_optional_parts_everything_on() -> None:
    docs = render(VALUE_SETS["everything_on"])
    monitor = one(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    endpoint = monitor["spec"]["endpoints"][0]
    assert {k: endpoint[k] for k in ("port", "path", "interval")} == {
        "port": "http", "path": "/metrics", "interval": "30s"}
    assert endpoint["bearerTokenSecret"]["key"] == "admin-token"
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    job = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]
    assert job["metadata"]["labels"]["chatkit-onprem/client"] == "true"
    assert job["spec"]["containers"][0]["args"] == ["admin", "retention", "run"]
    assert job["spec"]["automountServiceAccountToken"] is False
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert {"name": "data", "emptyDir": {}} in pod["volumes"]
    assert one(docs, "Service")["spec"]["ports"][0]["nodePort"] == 30080
    assert one(docs, "Secret")["metadata"]["annotations"]["owner"] == "platform@corp.example"
    test_pod = one(docs, "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert (
        test_pod["spec"]["containers"][0]["image"] == server_container(docs)["image"]
    )  # nothing else to pull
    assert "/readyz" in test_pod["spec"]["containers"][0]["args"][0]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "config.server.public_url is required in production"),
        (merged(PUBLIC, {"config": {"auth": {"methods": ["development"]}}}), "refused in production"),
        (merged(PUBLIC, {"image": {"digest": "ab12"}}), "image.digest must look like sha256:"),
        (merged(PUBLIC, {"secrets": {"adminToken": "short"}}), "at least 24 characters"),
    ],
)
def test_unsafe_values_fail_at_install_with_the_setting_named(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError, match=message):
        render(values)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        (merged(PUBLIC, {"config": {"server": {"prot": 1}}}), "/config/server"),
        (merged(PUBLIC, {"config": {"store": {"threads": "many"}}}), "/config/store/threads"),
        (merged(PUBLIC, {"replicaCount": 2}), "replicaCount"),
        (merged(PUBLIC, {"service": {"type": "Headless"}}), "/service/type"),
        (merged(PUBLIC, {"networkPolicy": {"egress": {"objectStore": [{"host": "s3"}]}}}), "objectStore"),
    ],
)
def test_values_schema_rejects_unknown_or_mistyped_values(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=where):
        helm_python.Chart.load(CHART_DIR).validate_schema(values)


def test_schema_and_readme_table_are_current() -> None:
    """values.schema.json embeds `chatkit-onprem config schema`; regenerate with scripts/chart_schema.py."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chart_schema.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_helm_lint_strict_and_package_round_trip(tmp_path: Path) -> None:
    report = helm_python.lint(CHART_DIR, PUBLIC, strict=True, kube_version="v1.25.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report.get("errors", [])
    assert problems == []
    archive = Path(helm_python.package(CHART_DIR, destination=tmp_path))
    assert archive.name == "chatkit-onprem-0.1.0.tgz"
    packaged = render(PUBLIC, chart=archive)
    assert app_config(packaged) == app_config(render(PUBLIC))
    loaded = helm_python.Chart.load(archive)
    assert "README.md" in {f["name"] for f in loaded.files}
    assert loaded.schema is not None
