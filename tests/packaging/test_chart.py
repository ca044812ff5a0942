"""The Helm chart: renders for every supported value set, validates against Kubernetes
schemas offline, and produces a config the server itself accepts in production."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chatkit_onprem.config import ENV_PREFIX, load_settings
from chatkit_onprem.crypto.kek import load_kek
from tests.packaging.chart import (
    CHART_DIR,
    ROOT,
    app_config,
    config_map,
    one,
    pod_spec,
    render,
    secret_data,
    server_container,
    validate_all,
    validate_manifests,
)
from tests.packaging.custom_resources import (
    VALIDATOR_DIR,
    CustomResourceError,
    CustomResourceValidator,
    ValidatorUnavailable,
)

PUBLIC = {"config": {"server": {"public_url": "https://chat.example.internal"}}}

# The value sets CI renders (the same files scripts/check_helm_cli feeds the helm CLIs).
VALUES_DIR = Path(__file__).resolve().parent / "values"
VALUE_SETS: dict[str, dict[str, Any]] = {
    p.stem: yaml.safe_load(p.read_text()) for p in sorted(VALUES_DIR.glob("*.yaml"))
}
# The documented examples are value sets too (helm/examples/<name>/values.yaml).
EXAMPLES_DIR = ROOT / "helm" / "examples"
VALUE_SETS.update(
    {
        f"example_{p.parent.name}": yaml.safe_load(p.read_text())
        for p in sorted(EXAMPLES_DIR.glob("*/values.yaml"))
    }
)


def test_the_value_sets_cover_what_the_issues_ask() -> None:
    assert set(VALUE_SETS) >= {
        "defaults",
        "ingress_tls",
        "existing_secret",
        "external_s3",
        "oidc",
        "everything_on",
        "in_cluster_services",
        "gateway_api",
        "duckdb_statefulset",
        "postgres_dsn_secret",
        "jobs_dedicated",
        "vault",
        "example_cloudnative-pg",
    }


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
def test_value_set_renders_and_validates(name: str, custom_resources: CustomResourceValidator) -> None:
    docs = render(VALUE_SETS[name])
    assert validate_all(docs, custom_resources) >= 6
    for manifests in docs.values():
        for manifest in manifests:
            meta = manifest["metadata"]
            assert meta["labels"]["app.kubernetes.io/instance"] == "chat", manifest["kind"]
            if manifest["kind"] != "Pod":
                assert meta["namespace"] == "chat"


# What a Secret you manage must hold (secrets.existingSecret), with plausible contents.
MANAGED_SECRET = {
    "admin-token": "a" * 32,
    "metrics-token": "m" * 32,
    "encryption-key": base64.b64encode(b"k" * 32).decode(),
    "kek-keyring": json.dumps({"primary": "v1", "keys": {"v1": base64.b64encode(b"K" * 32).decode()}}),
    "export-signing-key": (
        "-----BEGIN PRIVATE KEY-----\n"
        "MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
        "-----END PRIVATE KEY-----"
    ),
}


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
        files = dict(MANAGED_SECRET)
    else:
        files = secret_data(docs)
    for key, value in files.items():
        (mount / key).write_text(value)
    for var in [v for v in os.environ if v.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(var)
    env = {e["name"]: e["value"] for e in server_container(docs)["env"] if "value" in e}
    for key, value in env.items():
        if key.endswith("_FILE") and not value.startswith(str(mount)):
            # Mounted from another Secret (the database DSN): a stand-in file here.
            stand_in = tmp_path / key.lower()
            stand_in.write_text("postgresql://chatkit@db.corp.example:5432/chatkit?sslmode=verify-full")
            value = str(stand_in)
        monkeypatch.setenv(key, value)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(config_map(docs)["data"]["config.yaml"])

    settings = load_settings(config_file, check_production=True)

    assert settings.mode == "production"
    assert str(settings.data_dir) == "/data"
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 8000)
    secret = {
        "admin-token": settings.auth.admin_token,
        "metrics-token": settings.auth.metrics_token,
        "encryption-key": settings.blobs.encryption.key,
        "export-signing-key": settings.exports.signing_key,
    }
    if settings.crypto.kek.provider == "vault":
        secret["vault-token"] = settings.crypto.kek.vault.token
    else:
        assert settings.crypto.kek.keyring is None
        assert settings.crypto.kek.keyring_path == mount / "kek-keyring"
        keyring = json.loads(files["kek-keyring"])
        kek = load_kek(settings)
        assert kek.primary() == keyring["primary"]
        assert [v.version for v in kek.versions()] == sorted(keyring["keys"])
    for key, value in secret.items():
        assert value is not None and value.get_secret_value() == files[key].strip(), key
    if name == "external_s3":
        assert settings.blobs.s3.secret_key is not None
        assert settings.blobs.s3.secret_key.get_secret_value() == "s3cr3t-s3cr3t-s3cr3t"
    if name == "oidc":
        model_key = settings.llm.upstreams["vllm"].api_key
        assert model_key is not None and model_key.get_secret_value() == "sk-internal-model-key"
    if name == "ingress_tls":
        assert settings.server.public_url == "https://chat.corp.example"
    if name == "gateway_api":
        assert settings.server.public_url == "https://chat.corp.example"
    if settings.store.backend == "postgres":
        assert settings.store.postgres.dsn is not None
        assert (
            ":" not in settings.store.postgres.dsn.get_secret_value().split("@")[0].split("//")[1]
        )  # no password


def test_duckdb_is_one_hardened_replica_on_a_read_write_once_pod_volume() -> None:
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
    assert "command" not in container
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
    claim = one(docs, "PersistentVolumeClaim")["spec"]
    assert claim["resources"]["requests"]["storage"] == "10Gi"
    # At most one pod on the DuckDB file, even while an evicted pod is still terminating.
    assert claim["accessModes"] == ["ReadWriteOncePod"]
    for kind in ("PodDisruptionBudget", "HorizontalPodAutoscaler", "StatefulSet"):
        assert kind not in docs


def test_duckdb_as_a_statefulset_on_read_write_once() -> None:
    docs = render(VALUE_SETS["duckdb_statefulset"])
    assert "Deployment" not in docs
    sts = one(docs, "StatefulSet")["spec"]
    assert sts["replicas"] == 1 and sts["serviceName"] == "chat-chatkit-onprem"
    assert sts["podManagementPolicy"] == "OrderedReady"
    assert sts["updateStrategy"] == {"type": "RollingUpdate"}
    assert "volumeClaimTemplates" not in sts  # the same claim as the Deployment: switching keeps the data
    claim = one(docs, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["storageClassName"] == "standard-rwo"
    volumes = {v["name"]: v for v in sts["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


def test_generated_secrets_are_strong_kept_and_wired() -> None:
    docs = render(PUBLIC)
    data = secret_data(docs)
    assert set(data) == {
        "admin-token",
        "metrics-token",
        "encryption-key",
        "kek-keyring",
        "export-signing-key",
    }
    assert len(data["admin-token"]) == 40 and len(data["metrics-token"]) == 40
    assert data["admin-token"] != data["metrics-token"]
    assert len(base64.b64decode(data["encryption-key"])) == 32
    keyring = json.loads(data["kek-keyring"])
    assert keyring["primary"] == "v1" and list(keyring["keys"]) == ["v1"]
    assert len(base64.b64decode(keyring["keys"]["v1"])) == 32
    signing = serialization.load_pem_private_key(data["export-signing-key"].encode(), password=None)
    assert isinstance(signing, Ed25519PrivateKey)
    assert one(docs, "Secret")["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    env = {e["name"]: e.get("value") for e in server_container(docs)["env"]}
    mount = "/etc/chatkit-onprem/secrets"
    assert env["CHATKIT_ONPREM_AUTH__ADMIN_TOKEN_FILE"] == f"{mount}/admin-token"
    assert env["CHATKIT_ONPREM_AUTH__METRICS_TOKEN_FILE"] == f"{mount}/metrics-token"
    assert env["CHATKIT_ONPREM_BLOBS__ENCRYPTION__KEY_FILE"] == f"{mount}/encryption-key"
    # A path the server re-reads, not a value read once: see the keyring rotation test.
    assert env["CHATKIT_ONPREM_CRYPTO__KEK__KEYRING_PATH"] == f"{mount}/kek-keyring"
    assert "CHATKIT_ONPREM_CRYPTO__KEK__KEYRING_FILE" not in env
    assert env["CHATKIT_ONPREM_EXPORTS__SIGNING_KEY_FILE"] == f"{mount}/export-signing-key"
    given = render(merged(PUBLIC, {"secrets": {"adminToken": "t" * 30}}))
    assert secret_data(given)["admin-token"] == "t" * 30
    before = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    after = one(given, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert before["checksum/config"] == after["checksum/config"]
    assert before["checksum/secret-values"] != after["checksum/secret-values"]


def test_vault_replaces_the_keyring_with_a_token() -> None:
    docs = render(VALUE_SETS["vault"])
    data = secret_data(docs)
    assert "kek-keyring" not in data and data["vault-token"] == "hvs.example-vault-token-0123456789"
    env = {e["name"]: e.get("value") for e in server_container(docs)["env"]}
    assert env["CHATKIT_ONPREM_CRYPTO__KEK__VAULT__TOKEN_FILE"].endswith("/vault-token")
    assert not any(name.startswith("CHATKIT_ONPREM_CRYPTO__KEK__KEYRING") for name in env)
    assert env["SSL_CERT_FILE"] == "/etc/chatkit-onprem/trust/ca.crt"  # Vault's CA: the one trust source
    egress = one(docs, "NetworkPolicy")["spec"]["egress"]
    assert {"port": 8200, "protocol": "TCP"} in egress[-1]["ports"]


def test_image_reference_registry_and_digest() -> None:
    assert server_container(render(PUBLIC))["image"] == "chatkit-onprem:0.1.0"
    docs = render(VALUE_SETS["existing_secret"])
    assert server_container(docs)["image"] == "registry.corp.example/chat/chatkit-onprem@sha256:" + "ab" * 32
    pod = pod_spec(docs)
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


def test_network_policy_names_in_cluster_services_by_selector() -> None:
    egress = one(render(VALUE_SETS["in_cluster_services"]), "NetworkPolicy")["spec"]["egress"]
    model, store, idp = egress[1:]
    assert model == {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ai"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "litellm"}},
            }
        ],
        "ports": [{"port": 4000, "protocol": "TCP"}],
    }
    assert store["to"][0]["podSelector"] == {"matchLabels": {"app": "minio"}}
    assert idp["ports"] == [{"port": 8443, "protocol": "TCP"}, {"port": "https", "protocol": "TCP"}]
    cnpg = one(render(VALUE_SETS["example_cloudnative-pg"]), "NetworkPolicy")["spec"]["egress"]
    assert {
        "to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "chat-db"}}}],
        "ports": [{"port": 5432, "protocol": "TCP"}],
    } in cnpg


def test_extra_ingress_egress_and_metrics_peers() -> None:
    spec = one(render(VALUE_SETS["everything_on"]), "NetworkPolicy")["spec"]
    first, extra_in = spec["ingress"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in first[
        "from"
    ]
    assert extra_in["from"] == [{"ipBlock": {"cidr": "10.99.0.0/16"}}]
    assert spec["egress"][-1] == {
        "to": [{"ipBlock": {"cidr": "10.70.0.0/16"}}],
        "ports": [{"port": 443, "protocol": "TCP"}],
    }


@pytest.mark.parametrize(
    ("ingress", "expected"),
    [
        ({"ingressClassName": "nginx"}, "nginx.ingress.kubernetes.io/proxy-buffering"),
        (
            {"ingressClassName": "my-nginx-fork", "nginxCompatibleClasses": ["my-nginx-fork"]},
            "nginx.ingress.kubernetes.io/proxy-buffering",
        ),
        ({"ingressClassName": "contour"}, "projectcontour.io/response-timeout"),
        ({"ingressClassName": "haproxy", "streaming": "haproxy"}, "haproxy.org/timeout-server"),
        (
            {"ingressClassName": "haproxy", "streaming": "haproxy-ingress"},
            "haproxy-ingress.github.io/timeout-server",
        ),
        ({"ingressClassName": "nginx", "streaming": "nginx-inc"}, "nginx.org/proxy-buffering"),
        ({"ingressClassName": "traefik"}, None),
        ({"ingressClassName": ""}, None),
        ({"ingressClassName": "nginx", "streaming": "none"}, None),
    ],
)
def test_ingress_streaming_presets_are_controller_neutral(
    ingress: dict[str, Any], expected: str | None
) -> None:
    docs = render(merged(PUBLIC, {"ingress": {"enabled": True, "hostname": "chat.corp.example", **ingress}}))
    annotations = one(docs, "Ingress")["metadata"].get("annotations", {})
    controllers = {k for k in annotations if k.split("/")[0] not in ("cert-manager.io",)}
    if expected is None:
        assert controllers == set()
    else:
        assert expected in annotations
        assert all(k.split("/")[0] == expected.split("/")[0] for k in controllers)  # one controller's only


def test_ingress_streams_sse_and_serves_tls() -> None:
    ingress = one(render(VALUE_SETS["ingress_tls"]), "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["cert-manager.io/cluster-issuer"] == "corp-ca"
    assert ingress["spec"]["tls"] == [{"hosts": ["chat.corp.example"], "secretName": "chat.corp.example-tls"}]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    plain = render(merged(VALUE_SETS["ingress_tls"], {"ingress": {"streaming": "none", "tls": False}}))
    assert not any(k.startswith("nginx.") for k in one(plain, "Ingress")["metadata"]["annotations"])
    assert app_config(plain)["server"]["public_url"] == "http://chat.corp.example"
    traefik = one(render(VALUE_SETS["in_cluster_services"]), "Ingress")
    assert not traefik["metadata"].get("annotations")


def test_gateway_api_http_route_with_stream_timeouts() -> None:
    docs = render(VALUE_SETS["gateway_api"])
    assert "Ingress" not in docs
    route = one(docs, "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    spec = route["spec"]
    assert spec["parentRefs"] == [{"name": "internal", "namespace": "gateways", "sectionName": "https"}]
    assert spec["hostnames"] == ["chat.corp.example"]
    [rule] = spec["rules"]
    assert rule["backendRefs"] == [{"name": "chat-chatkit-onprem", "port": 80}]
    assert rule["timeouts"] == {"request": "0s", "backendRequest": "0s"}
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert app_config(docs)["server"]["public_url"] == "https://chat.corp.example"


def test_metrics_are_scraped_with_the_read_only_token() -> None:
    docs = render(VALUE_SETS["everything_on"])
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    endpoint = monitor["spec"]["endpoints"][0]
    assert {k: endpoint[k] for k in ("port", "path", "interval")} == {
        "port": "http",
        "path": "/metrics",
        "interval": "30s",
    }
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "chat-chatkit-onprem", "key": "metrics-token"},
    }
    assert "admin-token" not in json.dumps(monitor)
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "server"


def test_pod_knobs_everything_on() -> None:
    docs = render(VALUE_SETS["everything_on"])
    pod = pod_spec(docs)
    container = server_container(docs)
    assert container["command"] == ["chatkit-onprem"]
    assert container["envFrom"] == [
        {"configMapRef": {"name": "chat-env"}},
        {"secretRef": {"name": "chat-env-secret"}},
    ]
    assert container["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TZ"] == "Europe/Berlin" and env["SSL_CERT_FILE"] == "/etc/chatkit-onprem/trust/ca.pem"
    assert {
        "name": "trust",
        "configMap": {"name": "corp-ca", "items": [{"key": "ca.pem", "path": "ca.pem"}]},
    } in pod["volumes"]
    assert [c["name"] for c in pod["containers"]] == ["server", "log-shipper"]
    [init] = pod["initContainers"]
    assert init["name"] == "wait-for-proxy" and init["image"] == container["image"]  # templates rendered
    assert pod["hostAliases"] == [{"ip": "10.20.0.15", "hostnames": ["llm.corp.example"]}]
    assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/instance": "chat"
    }
    extra = {c["metadata"]["name"]: c for c in docs["ConfigMap"]}
    assert extra["chat-extra"]["data"] == {"note": "deployed with the release"}
    assert extra["chat-extra-text"]["data"] == {"from": "a string"}
    job = one(docs, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]
    assert job["metadata"]["labels"]["chatkit-onprem/client"] == "true"
    assert job["spec"]["containers"][0]["args"] == ["admin", "retention", "run"]
    job_env = {e["name"]: e for e in job["spec"]["containers"][0]["env"]}
    assert job_env["CHATKIT_ONPREM_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "admin-token"
    assert job["spec"]["automountServiceAccountToken"] is False
    assert {"name": "data", "emptyDir": {}} in pod["volumes"]
    assert one(docs, "Service")["spec"]["ports"][0]["nodePort"] == 30080
    assert one(docs, "Secret")["metadata"]["annotations"]["owner"] == "platform@corp.example"
    test_pod = one(docs, "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert test_pod["spec"]["containers"][0]["image"] == container["image"]  # nothing else to pull
    assert "/readyz" in test_pod["spec"]["containers"][0]["args"][0]


def test_global_is_open_for_umbrella_charts_and_storage_class_is_used() -> None:
    values = merged(PUBLIC, {"global": {"storageClass": "longhorn", "postgresql": {"auth": {"x": 1}}}})
    docs = render(values)
    assert one(docs, "PersistentVolumeClaim")["spec"]["storageClassName"] == "longhorn"
    own = render(merged(values, {"persistence": {"storageClass": "fast"}}))
    assert one(own, "PersistentVolumeClaim")["spec"]["storageClassName"] == "fast"
    # The application's own config stays closed.
    with pytest.raises(helm_python.HelmValuesError, match="serverr"):
        helm_python.Chart.load(CHART_DIR).validate_schema(merged(values, {"config": {"serverr": {}}}))


def test_postgres_replicas_roll_with_a_budget_and_no_volume() -> None:
    docs = render(VALUE_SETS["example_cloudnative-pg"])
    deployment = one(docs, "Deployment")["spec"]
    assert "replicas" not in deployment  # the HPA owns the count
    assert deployment["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert "PersistentVolumeClaim" not in docs
    pod = deployment["template"]["spec"]
    assert {"name": "data", "emptyDir": {}} in pod["volumes"]
    assert one(docs, "PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "chatkit-onprem",
                "app.kubernetes.io/instance": "chat",
                "app.kubernetes.io/component": "server",
            }
        },
    }
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 6)
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "chat-chatkit-onprem",
    }
    config = app_config(docs)
    assert config["server"]["workers"] == 4
    assert config["store"]["postgres"] == {
        "dsn": "postgresql://chatkit@chat-db-rw:5432/chatkit?sslmode=verify-full",
        "ca_bundle": "/etc/chatkit-onprem/database-ca/ca.crt",
    }
    env = {e["name"]: e for e in server_container(docs)["env"]}
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "chat-db-app", "key": "password"}
    fixed = render(merged(VALUE_SETS["example_cloudnative-pg"], {"autoscaling": {"hpa": {"enabled": False}}}))
    assert one(fixed, "Deployment")["spec"]["replicas"] == 3


def test_dedicated_jobs_pods_run_what_the_serving_pods_only_queue() -> None:
    docs = render(VALUE_SETS["jobs_dedicated"])
    deployments = {d["metadata"]["name"]: d for d in docs["Deployment"]}
    assert set(deployments) == {"chat-chatkit-onprem", "chat-chatkit-onprem-jobs"}
    jobs = deployments["chat-chatkit-onprem-jobs"]["spec"]
    assert jobs["replicas"] == 2
    assert jobs["selector"]["matchLabels"]["app.kubernetes.io/component"] == "jobs"
    pod = jobs["template"]["spec"]
    [container] = pod["containers"]
    assert container["name"] == "jobs"
    assert container["args"] == ["jobs", "--config", "/etc/chatkit-onprem/config.yaml"]
    assert not {"ports", "startupProbe", "livenessProbe", "readinessProbe"} & set(container)
    # The same configuration, secrets and database credentials as the servers.
    server_pod = pod_spec(docs)
    server = server_container(docs)
    assert pod["volumes"] == server_pod["volumes"]
    assert container["env"] == server["env"] and container["volumeMounts"] == server["volumeMounts"]
    assert container["securityContext"] == server["securityContext"]
    assert app_config(docs)["server"]["run_jobs"] is False
    # Traffic, scaling and disruption budgets stay with the serving pods; egress covers both.
    for kind in ("Service", "PodDisruptionBudget"):
        selector = one(docs, kind)["spec"]["selector"]
        assert selector.get("matchLabels", selector)["app.kubernetes.io/component"] == "server", kind
    policy = one(docs, "NetworkPolicy")["spec"]["podSelector"]
    assert policy["matchExpressions"] == [
        {"key": "app.kubernetes.io/component", "operator": "In", "values": ["server", "jobs"]}
    ]
    # Off by default: no jobs Deployment, and the servers run the jobs.
    default = render(VALUE_SETS["postgres_dsn_secret"])
    assert [d["metadata"]["name"] for d in default["Deployment"]] == ["chat-chatkit-onprem"]
    assert "run_jobs" not in app_config(default)["server"]


def test_postgres_dsn_from_a_secret_you_manage() -> None:
    docs = render(VALUE_SETS["postgres_dsn_secret"])
    env = {e["name"]: e.get("value") for e in server_container(docs)["env"]}
    assert env["CHATKIT_ONPREM_STORE__POSTGRES__DSN_FILE"] == "/etc/chatkit-onprem/database/dsn"
    assert "PGPASSWORD" not in env
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert volumes["database-dsn"]["secret"]["items"] == [{"key": "dsn", "path": "dsn"}]
    assert "dsn" not in app_config(docs).get("store", {}).get("postgres", {})
    assert one(docs, "Deployment")["spec"]["replicas"] == 3
    password = render(
        merged(
            VALUE_SETS["postgres_dsn_secret"],
            {"database": {"existingSecret": "", "host": "db.corp.example", "password": "pw-in-values"}},
        )
    )
    assert secret_data(password)["database-password"] == "pw-in-values"
    env = {e["name"]: e for e in server_container(password)["env"]}
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "chat-chatkit-onprem",
        "key": "database-password",
    }
    assert "pw-in-values" not in config_map(password)["data"]["config.yaml"]


def test_the_cloudnative_pg_example_cluster_is_valid(custom_resources: CustomResourceValidator) -> None:
    cluster = yaml.safe_load((EXAMPLES_DIR / "cloudnative-pg" / "cluster.yaml").read_text())
    validate_manifests([cluster], custom_resources)
    bad = merged(cluster, {"spec": {"instances": "three"}})
    with pytest.raises(CustomResourceError, match="instances must be integer"):
        validate_manifests([bad], custom_resources)
    # What the chart values name is what CloudNativePG creates for this cluster.
    values = VALUE_SETS["example_cloudnative-pg"]["database"]
    name = cluster["metadata"]["name"]
    assert (values["host"], values["existingPasswordSecret"], values["caSecret"]) == (
        f"{name}-rw",
        f"{name}-app",
        f"{name}-ca",
    )
    assert values["name"] == cluster["spec"]["bootstrap"]["initdb"]["database"]
    assert values["user"] == cluster["spec"]["bootstrap"]["initdb"]["owner"]


def test_custom_resource_validation_rejects_wrong_types(custom_resources: CustomResourceValidator) -> None:
    """The npm models' schemas really validate: a wrongly typed field fails, with the path named,
    and every rejected object of a batch is reported."""
    monitor = one(render(VALUE_SETS["everything_on"]), "ServiceMonitor")
    route = one(render(VALUE_SETS["gateway_api"]), "HTTPRoute")
    assert custom_resources.errors([monitor, route]) == [None, None]
    bad_monitor = copy.deepcopy(monitor)
    bad_monitor["spec"]["endpoints"][0]["interval"] = 30  # a duration string in the CRD
    bad_route = copy.deepcopy(route)
    bad_route["spec"]["rules"][0]["timeouts"]["request"] = 0
    errors = custom_resources.errors([bad_monitor, route, bad_route])
    assert errors[1] is None
    assert errors[0] is not None and "/spec/endpoints/0/interval must be string" in errors[0]
    assert errors[2] is not None and "/spec/rules/0/timeouts/request must be string" in errors[2]
    with pytest.raises(CustomResourceError, match=r"ServiceMonitor chat-chatkit-onprem: .*HTTPRoute"):
        validate_manifests([bad_monitor, bad_route], custom_resources)
    # A kind of a covered group that the pinned packages do not know is an error, not a pass.
    unknown = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoutez", "metadata": {"name": "x"}}
    assert custom_resources.errors([unknown]) == ["no schema for gateway.networking.k8s.io/v1 HTTPRoutez"]


def test_custom_resource_validator_fails_loudly_when_not_installed(tmp_path: Path) -> None:
    """Missing or stale npm packages stop the tests with the fix named; they never pass or skip."""
    for name in ("validate.mjs", "package.json"):
        (tmp_path / name).write_text((VALIDATOR_DIR / name).read_text())
    with pytest.raises(ValidatorUnavailable, match="node_modules is missing: run scripts/test-deps"):
        CustomResourceValidator(tmp_path)
    (tmp_path / "node_modules").mkdir()
    with pytest.raises(ValidatorUnavailable, match=r"@kubernetes-models/\S+ is not installed"):
        CustomResourceValidator(tmp_path)
    pinned = json.loads((VALIDATOR_DIR / "package.json").read_text())
    (tmp_path / "node_modules" / "@kubernetes-models").mkdir()
    for package, version in pinned["dependencies"].items():
        (tmp_path / "node_modules" / package).symlink_to(VALIDATOR_DIR / "node_modules" / package)
        pinned["dependencies"][package] = version + "-other"
    (tmp_path / "package.json").write_text(json.dumps(pinned))
    with pytest.raises(ValidatorUnavailable, match=r"2\.0\.0 is installed, package\.json pins 2\.0\.0-other"):
        CustomResourceValidator(tmp_path)


def test_every_values_problem_is_reported_at_once() -> None:
    values = merged(
        {"config": {"auth": {"methods": ["development"]}, "server": {"workers": 2}}},
        {"image": {"digest": "ab12"}, "secrets": {"adminToken": "short"}, "replicaCount": 2},
        {"autoscaling": {"hpa": {"enabled": True}}, "httpRoute": {"enabled": True, "parentRefs": []}},
    )
    with pytest.raises(helm_python.HelmError) as caught:
        render(values)
    message = str(caught.value)
    for expected in (
        "'development' (X-Dev-User headers) is refused in production",
        "image.digest must look like sha256:",
        "secrets.adminToken must be at least 24 characters",
        "replicaCount: one process owns the DuckDB file",
        "autoscaling.hpa.enabled: needs config.store.backend: postgres",
        "config.server.workers: must be 1 with DuckDB",
        "httpRoute.parentRefs",
    ):
        assert expected in message, expected
    assert "VALUES VALIDATION (7 problems)" in message


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "config.server.public_url is required in production"),
        (merged(PUBLIC, {"config": {"auth": {"methods": ["development"]}}}), "refused in production"),
        (merged(PUBLIC, {"image": {"digest": "ab12"}}), "image.digest must look like sha256:"),
        (merged(PUBLIC, {"secrets": {"adminToken": "short"}}), "at least 24 characters"),
        (merged(PUBLIC, {"config": {"store": {"backend": "postgres"}}}), "set database.existingSecret"),
        (
            merged(VALUE_SETS["postgres_dsn_secret"], {"config": {"blobs": {"backend": "local"}}}),
            "uploads must go to an object store",
        ),
        (
            merged(
                PUBLIC,
                {"config": {"crypto": {"kek": {"provider": "vault", "vault": {"address": "https://v"}}}}},
            ),
            "secrets.vaultToken",
        ),
        (merged(PUBLIC, {"trust": {"caBundle": {"configMap": "a", "secret": "b"}}}), "not both"),
        (
            merged(PUBLIC, {"jobs": {"dedicated": {"enabled": True}}}),
            "jobs.dedicated.enabled: needs config.store.backend: postgres",
        ),
    ],
)
def test_unsafe_values_fail_at_install_with_the_setting_named(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError, match=re.escape(message)):
        render(values)


@pytest.mark.parametrize(
    ("values", "where"),
    [
        (merged(PUBLIC, {"config": {"server": {"prot": 1}}}), "/config/server"),
        (merged(PUBLIC, {"config": {"store": {"threads": "many"}}}), "/config/store/threads"),
        (merged(PUBLIC, {"replicaCount": "two"}), "replicaCount"),
        (merged(PUBLIC, {"service": {"type": "Headless"}}), "/service/type"),
        (merged(PUBLIC, {"networkPolicy": {"egress": {"objectStore": [{"host": "s3"}]}}}), "objectStore"),
        (
            merged(PUBLIC, {"networkPolicy": {"egress": {"database": [{"cidr": "10.0.0.0/8", "to": []}]}}}),
            "database",
        ),
        (merged(PUBLIC, {"ingress": {"streaming": "nginx-ish"}}), "/ingress/streaming"),
        (merged(PUBLIC, {"persistence": {"singleWriter": "ReadWriteOnce"}}), "/persistence/singleWriter"),
    ],
)
def test_values_schema_rejects_unknown_or_mistyped_values(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=where):
        helm_python.Chart.load(CHART_DIR).validate_schema(values)


def test_schema_errors_are_reported_together() -> None:
    values = merged(
        PUBLIC, {"replicaCount": "two", "service": {"type": "Headless"}, "config": {"serverr": {}}}
    )
    with pytest.raises(helm_python.HelmValuesError) as caught:
        helm_python.Chart.load(CHART_DIR).validate_schema(values)
    for where in ("replicaCount", "/service/type", "serverr"):
        assert where in str(caught.value), where


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
    report = helm_python.lint(CHART_DIR, PUBLIC, strict=True, kube_version="v1.27.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report.get("errors", [])
    assert problems == []
    archive = Path(helm_python.package(CHART_DIR, destination=tmp_path))
    assert archive.name == "chatkit-onprem-0.1.0.tgz"
    packaged = render(PUBLIC, chart=archive)
    assert app_config(packaged) == app_config(render(PUBLIC))
    loaded = helm_python.Chart.load(archive)
    assert "README.md" in {f["name"] for f in loaded.files}
    assert loaded.schema is not None
