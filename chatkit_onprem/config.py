"""Typed settings: one YAML file, overridden by ``CHATKIT_ONPREM_*`` variables.

Precedence (highest first): environment variables, the YAML file, the defaults
below. ``config/chatkit-onprem.yaml`` spells out exactly these defaults (a test
keeps the two equal), so running with no file and running with it are the same.

* ``${NAME}`` and ``${NAME:-fallback}`` inside YAML strings read the environment.
* Every secret field ``x`` may instead be given as ``x_file: /path`` (in YAML) or
  ``CHATKIT_ONPREM_<PATH>__X_FILE=/path`` (env); the file's content is the value.
* Unknown keys are errors that name the key's full path.
* ``mode: production`` refuses settings that are only safe on a laptop.
"""

from __future__ import annotations

import os
import re
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "CHATKIT_ONPREM_"
CONFIG_ENV = "CHATKIT_ONPREM_CONFIG"
#: Variables with our prefix that are not settings: they select the file or feed the admin CLI.
NOT_SETTINGS_ENV = frozenset({CONFIG_ENV, "CHATKIT_ONPREM_ADMIN_URL", "CHATKIT_ONPREM_ADMIN_TOKEN"})
DEFAULT_CONFIG_FILE = Path("config/chatkit-onprem.yaml")


class ConfigError(Exception):
    """The configuration cannot be used; the message lists every problem found."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class StrictModel(BaseModel):
    """A config section: unknown keys are errors; ``<secret>_file`` keys are read."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            key = f"{name}_file"
            if key not in out:
                continue
            if not _is_secret(field.annotation):
                continue
            path = Path(str(out.pop(key)))
            try:
                out[name] = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"{key}: cannot read secret file {path}: {exc.strerror}") from exc
        return out


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


class ServerSettings(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    public_url: str | None = Field(
        None,
        description="Absolute base URL clients reach us at (upload and preview links). "
        "Unset: derived from each request's Host header (development only).",
    )
    max_request_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Cap on POST /chatkit bodies (413 above)."
    )
    shutdown_grace_seconds: float = Field(
        15.0, ge=0, description="On SIGTERM, time in-flight streams get before they are cancelled."
    )
    job_lease_seconds: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="Admin jobs (key rotation, purges, exports): a job whose process died is taken over "
        "by another worker or replica after this long without a heartbeat.",
    )
    max_connections: int = Field(
        4096,
        ge=16,
        le=1_000_000,
        description="Open client connections per process (Granian's backpressure); more wait in the "
        "listen backlog. The process raises its open-files limit to fit (or lowers this to fit it).",
    )
    backlog: int = Field(1024, ge=128, le=65535, description="Listen backlog (capped by net.core.somaxconn).")
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="A connection must deliver its request headers this soon after it is accepted (or "
        "after its previous response): silent and idle keep-alive connections are closed after it.",
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="The whole request body must arrive this soon after the headers (else 408); raise it "
        "for large uploads over slow links.",
    )
    max_streams: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Concurrent ChatKit streams per process; past it a new stream is refused at once "
        "with 503 and Retry-After, before anything is written (docs/performance.md: how it was chosen).",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Granian worker processes. Must be 1 with store.backend duckdb (one process owns "
        "the file); with postgres, about one per core.",
    )
    run_jobs: bool = Field(
        True,
        description="Run admin jobs (key rotation, exports, purges, retention) in this server's processes. "
        "false (store.backend postgres only): serve requests only, and run `chatkit-onprem jobs` on the "
        "same database, so no job shares a process (its GIL, its writer) with streams.",
    )
    cors_origins: list[str] = Field(default_factory=list)
    web_client: bool = Field(
        True,
        description="Serve the web component at /ui/ (for apps to embed) and its demo page at / "
        "(no CDN: every asset comes from this server).",
    )
    dependency_check_seconds: float = Field(
        15.0,
        ge=0.2,
        le=3600,
        description="How often the optional dependencies (object store, model upstreams, identity "
        "provider) are checked for /readyz and the chatkit_dependency_up metric.",
    )

    @field_validator("public_url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/]+", value):
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/") if value else value


class LoggingSettings(StrictModel):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: console in development, JSON lines in production."
    )
    log_content: bool = Field(
        False, description="Log message text and model input. Never enable in production."
    )


class PostgresSettings(StrictModel):
    dsn: SecretStr | None = Field(
        None,
        description="libpq connection string or URI (also dsn_file); e.g. "
        "postgresql://chatkit@db.internal:5432/chatkit?sslmode=verify-full",
    )
    ca_bundle: Path | None = Field(
        None, description="PEM CA bundle for the database's TLS certificate (sslrootcert); unset: system."
    )
    reader_connections: int = Field(
        8,
        ge=1,
        le=256,
        description="Reader threads per worker process, each with its own connection (opened on first "
        "use); the writer holds one more. The database needs max_connections of at least "
        "replicas x workers x (this + 1).",
    )
    connect_timeout_seconds: float = Field(5.0, gt=0, le=120)


class StoreSettings(StrictModel):
    backend: Literal["duckdb", "postgres"] = Field(
        "duckdb",
        description="duckdb: one embedded file, one process (the default). postgres: an external "
        "PostgreSQL, for N workers and N replicas.",
    )
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    path: Path = Field(Path("chatkit.duckdb"), description="DuckDB file, relative to data_dir.")
    memory_limit: str = Field("512MB", description="DuckDB memory_limit (its default is 80% of host RAM).")
    threads: int = Field(2, ge=1, le=64, description="DuckDB worker threads.")
    reader_threads: int = Field(4, ge=1, le=64, description="Threads that run read queries.")
    write_batch_max: int = Field(256, ge=1, description="Most writes committed in one transaction.")
    row_group_rows: int = Field(
        16_384,
        ge=2_048,
        le=122_880,
        multiple_of=2_048,
        description="DuckDB: rows per row group written to the file. A checkpoint rewrites every row "
        "group an update touched while commits wait; smaller groups keep that wait short (DuckDB's own "
        "default is 122,880). Applies to data written from then on; compaction rewrites all of it.",
    )
    max_page_size: int = Field(100, ge=1, le=1000, description="Clamp for list limits.")

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not re.fullmatch(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value.strip()):
            raise ValueError("expected a size such as 512MB or 2GiB")
        return value.strip()

    @model_validator(mode="after")
    def _backend(self) -> StoreSettings:
        if self.backend == "postgres" and self.postgres.dsn is None:
            raise ValueError("store.postgres.dsn (or dsn_file) is required when store.backend is 'postgres'")
        return self


class DevelopmentIdentitySettings(StrictModel):
    default_user: str = "developer"
    default_tenant: str = "default"


AuthMethod = Literal["oidc", "api_keys", "trusted_headers", "development"]
# Asymmetric only: an HMAC algorithm would let anyone holding the (public) JWKS forge tokens.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
ROLES = ("user", "admin", "auditor")


class OidcSettings(StrictModel):
    issuer: str | None = Field(None, description="Expected 'iss' claim, exactly as the IdP writes it.")
    audience: list[str] = Field(
        default_factory=list, description="Accepted 'aud' values (the token must name one of them)."
    )
    algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"],
        description=f"Allowed signature algorithms, a subset of {', '.join(ASYMMETRIC_ALGORITHMS)}.",
    )
    jwks_url: str | None = Field(None, description="The IdP's JWKS URL (the only address we fetch).")
    jwks_file: Path | None = Field(
        None, description="Offline alternative: a JWKS JSON file or a PEM public key (relative to data_dir)."
    )
    jwks_ca_file: Path | None = Field(
        None,
        description="PEM CAs trusted for the JWKS URL, in addition to the system store and SSL_CERT_FILE.",
    )
    jwks_timeout_seconds: float = Field(5.0, gt=0, le=60)
    jwks_cache_seconds: float = Field(
        600.0, ge=0, description="Refetch the JWKS after this long (stale keys stay in use if it fails)."
    )
    jwks_min_refresh_seconds: float = Field(
        30.0, ge=0, description="At most one refetch per this interval when a token names an unknown kid."
    )
    clock_skew_seconds: int = Field(60, ge=0, le=600)
    user_claim: str = Field("sub", description="Claim holding the user id (dotted path allowed).")
    tenant_claim: str | None = Field("tenant", description="Claim holding the tenant id.")
    default_tenant: str | None = Field(None, description="Tenant for tokens without the tenant claim.")
    roles_claim: str | None = Field(
        "roles", description="Claim holding role names (e.g. realm_access.roles for Keycloak)."
    )
    role_map: dict[str, Literal["user", "admin", "auditor"]] = Field(
        default_factory=dict,
        description="IdP role name → our role; unmapped names matching ours count as-is.",
    )

    @field_validator("audience", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if a not in ASYMMETRIC_ALGORITHMS]
        if bad:
            raise ValueError(
                f"not allowed: {bad}; use asymmetric algorithms only ({', '.join(ASYMMETRIC_ALGORITHMS)})"
            )
        if not value:
            raise ValueError("at least one algorithm is required")
        return value


class ApiKeySettings(StrictModel):
    last_used_write_seconds: float = Field(
        60.0, ge=1, description="Record a key's last use at most this often (keeps writes off the hot path)."
    )


class TrustedHeaderSettings(StrictModel):
    trusted_sources: list[IPv4Network | IPv6Network] = Field(
        default_factory=list,
        description="Networks of the authenticating proxy; headers from anywhere else are ignored.",
    )
    user_header: str = "X-Forwarded-User"
    tenant_header: str | None = "X-Forwarded-Tenant"
    roles_header: str | None = Field("X-Forwarded-Groups", description="Comma-separated role names.")
    default_tenant: str | None = Field(None, description="Tenant when the tenant header is absent.")


class AuthSettings(StrictModel):
    methods: list[AuthMethod] = Field(
        default_factory=lambda: list[AuthMethod](["development"]),
        description="Enabled methods, tried in this order: oidc (Bearer JWT), api_keys (Bearer cko_…), "
        "trusted_headers (from a proxy), development (X-Dev-User headers; refused in production).",
    )
    development: DevelopmentIdentitySettings = Field(default_factory=DevelopmentIdentitySettings)
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    api_keys: ApiKeySettings = Field(default_factory=ApiKeySettings)
    trusted_headers: TrustedHeaderSettings = Field(default_factory=TrustedHeaderSettings)
    admin_token: SecretStr | None = Field(None, description="Bearer token for /admin/v1.")
    metrics_token: SecretStr | None = Field(
        None,
        description="Read-only bearer token that grants GET /metrics and nothing else (also "
        "metrics_token_file): give it to Prometheus instead of the admin token.",
    )

    @model_validator(mode="after")
    def _coherent(self) -> AuthSettings:
        if not self.methods:
            raise ValueError("methods: enable at least one authentication method")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("methods: each method at most once")
        if "development" in self.methods and len(self.methods) > 1:
            raise ValueError("methods: 'development' accepts anyone and cannot be combined with others")
        if "oidc" in self.methods:
            missing = [n for n in ("issuer", "audience") if not getattr(self.oidc, n)]
            if not (self.oidc.jwks_url or self.oidc.jwks_file):
                missing.append("jwks_url or jwks_file")
            if missing:
                raise ValueError(f"oidc is enabled but oidc.{', oidc.'.join(missing)} not set")
            if self.oidc.tenant_claim is None and self.oidc.default_tenant is None:
                raise ValueError("oidc: set tenant_claim or default_tenant")
        if "trusted_headers" in self.methods and not self.trusted_headers.trusted_sources:
            raise ValueError("trusted_headers is enabled but trusted_headers.trusted_sources is empty")
        return self


class RateLimitSettings(StrictModel):
    """Off by default (0): size them for your users; config/examples/oidc.yaml shows typical values."""

    user_requests_per_minute: int = Field(0, ge=0, description="Per (tenant, user); 0 = unlimited.")
    tenant_requests_per_minute: int = Field(0, ge=0, description="Per tenant; 0 = unlimited.")
    user_concurrent_streams: int = Field(0, ge=0, description="Open SSE streams per user; 0 = unlimited.")
    tenant_concurrent_streams: int = Field(0, ge=0, description="Open SSE streams per tenant; 0 = unlimited.")


class SecurityHeaderSettings(StrictModel):
    hsts_seconds: int = Field(
        31536000, ge=0, description="Strict-Transport-Security max-age when server.public_url is https."
    )
    frame_ancestors: list[str] = Field(
        default_factory=lambda: ["'none'"], description="CSP frame-ancestors: who may embed our pages."
    )


class LocalBlobSettings(StrictModel):
    path: Path = Field(Path("blobs"), description="Folder, relative to data_dir.")


class S3BlobSettings(StrictModel):
    endpoint: str = Field(
        "", description="host[:port], or http(s)://host[:port] (the scheme then decides `secure`)."
    )
    bucket: str = "chatkit-attachments"
    region: str | None = Field(None, description="Unset: asked from the server (us-east-1 for most).")
    access_key: SecretStr | None = Field(None, description="Also access_key_file (a mounted secret).")
    secret_key: SecretStr | None = Field(None, description="Also secret_key_file (a mounted secret).")
    secure: bool = Field(True, description="TLS to the object store.")
    ca_bundle: Path | None = Field(
        None,
        description="PEM file of CAs trusted in addition to the system store and SSL_CERT_FILE "
        "(internal CA).",
    )
    path_style: bool = Field(True, description="Path-style URLs (MinIO, Ceph, Garage); false: virtual-host.")
    create_bucket: bool = Field(True, description="Create the bucket at start-up when it is missing.")
    connect_timeout_seconds: float = Field(3.0, gt=0)
    read_timeout_seconds: float = Field(30.0, gt=0)
    retries: int = Field(1, ge=0, le=10, description="Retries of failed requests (connection errors, 5xx).")

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str) -> str:
        # The client refuses other names with a ValueError at the first call, i.e. at start-up.
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", value) or ".." in value:
            raise ValueError(
                "not a valid S3 bucket name (3-63 characters: lowercase letters, digits, '.' and '-', "
                "starting and ending with a letter or digit)"
            )
        return value

    @model_validator(mode="after")
    def _scheme(self) -> S3BlobSettings:
        match = re.match(r"^(https?)://", self.endpoint)
        if match:
            self.secure = match.group(1) == "https"
            self.endpoint = self.endpoint[match.end() :]
        self.endpoint = self.endpoint.rstrip("/")
        if "/" in self.endpoint:
            raise ValueError("blobs.s3.endpoint: give host[:port] only, no path")
        return self


class PreviewSettings(StrictModel):
    mode: Literal["signed_url", "data_url"] = Field(
        "signed_url",
        description="signed_url: absolute, HMAC-signed, expiring link to a thumbnail; "
        "data_url: the thumbnail inline in the attachment (no link to leak).",
    )
    max_side_pixels: int = Field(256, ge=16, le=2048, description="Longest side of a thumbnail.")
    ttl_seconds: int = Field(3600, ge=60, description="How long a signed preview link works.")


class BlobEncryptionSettings(StrictModel):
    key: SecretStr | None = Field(
        None,
        description="Base64 of 32 random bytes (also key_file). Development: generated once under "
        "data_dir/keys. Production: required.",
    )
    key_id: str | None = Field(None, description="Name stored with each object; unset: derived from the key.")
    chunk_bytes: int = Field(64 * 1024, ge=4096, le=16 * 1024 * 1024, description="AES-GCM chunk size.")


_DEFAULT_TYPES = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/markdown",
    "application/json",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
]


class BlobSettings(StrictModel):
    backend: Literal["local", "s3"] = "local"
    local: LocalBlobSettings = Field(default_factory=LocalBlobSettings)
    s3: S3BlobSettings = Field(default_factory=S3BlobSettings)
    max_file_bytes: int = Field(20 * 1024 * 1024, ge=1)
    user_quota_bytes: int = Field(1024 * 1024 * 1024, ge=1, description="Bytes one user may keep stored.")
    allowed_types: list[str] = Field(
        default_factory=lambda: list(_DEFAULT_TYPES),
        description="Types accepted, as detected from the content (the declared type is not trusted).",
    )
    previews: PreviewSettings = Field(default_factory=PreviewSettings)
    encryption: BlobEncryptionSettings = Field(default_factory=BlobEncryptionSettings)
    orphan_max_age_seconds: int = Field(
        86400, ge=1, description="Uploads never attached to a message are deleted after this long."
    )
    orphan_sweep_interval_seconds: int = Field(
        3600, ge=0, description="How often the server collects orphans; 0: never (admin CLI only)."
    )

    @model_validator(mode="after")
    def _s3_needs_endpoint(self) -> BlobSettings:
        if self.backend == "s3" and not self.s3.endpoint:
            raise ValueError("blobs.s3.endpoint is required when blobs.backend is 's3'")
        return self


class ScriptedModelSettings(StrictModel):
    token_delay_ms: float = Field(
        15.0, ge=0, description="Pause between streamed tokens, so the demo looks like a model."
    )


class ProxySettings(StrictModel):
    url: str = Field(description="Forward proxy, http://host:port (CONNECT is used for https upstreams).")
    username: str | None = None
    password: SecretStr | None = None

    @field_validator("username", "password", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # ``${PROXY_USER:-}`` in YAML: unset credentials mean "no proxy authentication".
        return None if value == "" else value

    @field_validator("url")
    @classmethod
    def _proxy_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/@]+(:\d+)?/?$", value):
            raise ValueError("expected http(s)://host:port without credentials (use username/password)")
        return value


class TimeoutSettings(StrictModel):
    connect: float = Field(5.0, gt=0, description="Seconds to open a connection (and the proxy tunnel).")
    read: float = Field(60.0, gt=0, description="Longest silence between two streamed chunks.")
    total: float = Field(300.0, gt=0, description="Cap on one model call, first byte to last.")


class UpstreamSettings(StrictModel):
    base_url: str = Field(description="OpenAI-compatible API root, e.g. http://vllm:8000/v1.")
    api_style: Literal["chat_completions", "responses"] = "chat_completions"
    api_key: SecretStr | None = Field(None, description="Sent as a Bearer token; or api_key_file.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers on every call.")
    timeouts: TimeoutSettings = Field(default_factory=TimeoutSettings)
    max_retries: int = Field(
        2, ge=0, le=10, description="Retries on connection errors, 408, 429 and 5xx; Retry-After honoured."
    )
    proxy: ProxySettings | None = Field(None, description="Reach this upstream through a forward proxy.")
    ca_bundle: Path | None = Field(
        None,
        description="PEM CAs trusted for the upstream (and an https proxy), in addition to the system "
        "store and SSL_CERT_FILE.",
    )
    client_cert: Path | None = Field(None, description="PEM client certificate for mTLS.")
    client_key: Path | None = Field(None, description="PEM key of client_cert (if not in the same file).")
    lean_stream: bool = Field(
        True,
        description="Parse this upstream's streams (either api_style) with the built-in lean parser; "
        "false: the openai SDK's parser (more CPU per turn), for an upstream whose streams the lean "
        "parser mishandles.",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/]+", value):
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _key_needs_cert(self) -> UpstreamSettings:
        if self.client_key is not None and self.client_cert is None:
            raise ValueError("client_key given without client_cert")
        return self


class AliasSettings(StrictModel):
    upstream: str = Field(description="Name of an entry in llm.upstreams.")
    model: str = Field(description="Model id the upstream knows.")
    fallbacks: list[str] = Field(
        default_factory=list, description="Aliases tried in order when this one fails before its first token."
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Agents SDK ModelSettings fields (temperature, max_tokens, top_p, extra_body, ...).",
    )

    @field_validator("settings")
    @classmethod
    def _model_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        from agents import ModelSettings

        unknown = sorted(set(value) - {f for f in ModelSettings.__dataclass_fields__})
        if unknown:
            raise ValueError(f"unknown model settings {unknown}")
        return value


class TranscriptionSettings(StrictModel):
    upstream: str = Field(description="Upstream serving /audio/transcriptions.")
    model: str = "whisper-1"
    max_audio_bytes: int = Field(10 * 1024 * 1024, ge=1)


class ModelInputSettings(StrictModel):
    max_inline_text_bytes: int = Field(
        64 * 1024, ge=0, description="Text attachments up to this size are sent inline; larger are cut."
    )
    max_image_bytes: int = Field(
        5 * 1024 * 1024,
        ge=0,
        description="Images up to this size are sent as data URLs; larger ones are described.",
    )


class LlmSettings(StrictModel):
    default_alias: str = "default"
    title_alias: str | None = Field(
        None, description="Alias that names new threads after the first exchange (unset: first words)."
    )
    scripted: ScriptedModelSettings = Field(default_factory=ScriptedModelSettings)
    upstreams: dict[str, UpstreamSettings] = Field(
        default_factory=dict, description="Named OpenAI-compatible endpoints. None: the scripted model."
    )
    aliases: dict[str, AliasSettings] = Field(
        default_factory=dict, description="Names clients and agents use -> (upstream, model, settings)."
    )
    tenant_aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per-tenant allowlist of aliases; key '*' for tenants not listed. Absent: all aliases.",
    )
    transcription: TranscriptionSettings | None = None
    input: ModelInputSettings = Field(default_factory=ModelInputSettings)
    lean_plain_turns: bool = Field(
        True,
        description="Stream plain text answers without the Agents SDK Runner (less CPU per turn); "
        "tool calls still go through the Runner. false: the Runner for every turn.",
    )
    text_interval_ms: float = Field(
        30,
        ge=0,
        le=500,
        description="Lean streams: after sending text, wait this long before reading "
        "the upstream again, so tokens that arrive meanwhile go out as one event. The first token is "
        "never delayed; no token waits longer than this. 0: one event per upstream read.",
    )

    @model_validator(mode="after")
    def _references(self) -> LlmSettings:
        problems: list[str] = []
        for name, alias in self.aliases.items():
            if alias.upstream not in self.upstreams:
                problems.append(f"aliases.{name}.upstream: no upstream named {alias.upstream!r}")
            problems += [
                f"aliases.{name}.fallbacks: no alias named {f!r}"
                for f in alias.fallbacks
                if f not in self.aliases
            ]
        known = set(self.aliases) if self.upstreams else {self.default_alias, "scripted"}
        if self.upstreams and self.default_alias not in self.aliases:
            problems.append(f"default_alias: no alias named {self.default_alias!r}")
        if self.title_alias is not None and self.title_alias not in known:
            problems.append(f"title_alias: no alias named {self.title_alias!r}")
        for tenant, names in self.tenant_aliases.items():
            problems += [f"tenant_aliases.{tenant}: no alias named {n!r}" for n in names if n not in known]
        if self.transcription is not None and self.transcription.upstream not in self.upstreams:
            problems.append(f"transcription.upstream: no upstream named {self.transcription.upstream!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class VaultTransitSettings(StrictModel):
    address: str = Field("", description="Vault / OpenBao address, e.g. https://vault.internal:8200.")
    mount: str = Field("transit", description="Mount path of the transit secrets engine.")
    key_name: str = Field("chatkit-onprem", description="Transit key that wraps our data keys.")
    token: SecretStr | None = Field(None, description="Vault token (also token_file).")
    namespace: str | None = Field(None, description="Vault Enterprise / OpenBao namespace.")
    ca_bundle: Path | None = Field(None, description="PEM CA bundle for Vault's certificate; unset: system.")
    timeout_seconds: float = Field(10.0, gt=0, le=120)


class KekSettings(StrictModel):
    provider: Literal["keyring", "vault"] = Field(
        "keyring",
        description="Where key-encryption keys come from: a keyring (file or Kubernetes Secret with "
        "versioned keys, one primary) or a Vault/OpenBao transit key.",
    )
    keyring_path: Path | None = Field(
        None,
        description="Keyring file (e.g. a mounted Kubernetes Secret), re-read on every key operation so "
        "a version added to the Secret is picked up without a restart. Relative to data_dir.",
    )
    keyring: SecretStr | None = Field(
        None,
        description="Keyring JSON: {\"primary\": \"v1\", \"keys\": {\"v1\": \"<base64 of 32 random "
        "bytes>\"}} (also keyring_file). Development: generated once under data_dir/keys. "
        "Production: required.",
    )
    vault: VaultTransitSettings = Field(default_factory=VaultTransitSettings)

    @model_validator(mode="after")
    def _vault_address(self) -> KekSettings:
        if self.provider == "vault" and not self.vault.address:
            raise ValueError("crypto.kek.vault.address is required when crypto.kek.provider is 'vault'")
        if self.keyring is not None and self.keyring_path is not None:
            raise ValueError("crypto.kek: give keyring (or keyring_file) or keyring_path, not both")
        return self


class CryptoSettings(StrictModel):
    kek: KekSettings = Field(default_factory=KekSettings)
    dek_cache_size: int = Field(
        10_000, ge=16, description="Unwrapped data keys kept in memory (one per tenant, user and month)."
    )
    erasure_ledger: Path = Field(
        Path("ledger/erasure.jsonl"),
        description="Append-only record of erased subjects (ids and dates only), re-applied at start-up "
        "so data restored from an older backup stays erased. Keep it on storage that is NOT restored "
        "with the data (relative paths resolve against data_dir).",
    )
    rotation_batch_rows: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Rows re-encrypted per batch by key jobs (each batch holds the single writer once).",
    )
    rotation_duty_cycle: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Share of time key jobs may keep busy: after a batch they pause so streams get the "
        "writer (1: no pause, fastest job, most impact on time to first token).",
    )


class ExportSettings(StrictModel):
    signing_key: SecretStr | None = Field(
        None,
        description="Ed25519 private key (PEM, or base64 of the 32-byte seed) that signs export bundles "
        "(also signing_key_file). Development: generated once under data_dir/keys. Production: required.",
    )
    keep_hours: float = Field(
        24.0,
        gt=0,
        le=24 * 90,
        description="How long a finished export bundle stays downloadable; it is kept encrypted in the "
        "blob store (under the subject's data key) and removed after this.",
    )
    duty_cycle: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Share of time an export may keep busy: it pauses between slices of work so streams "
        "get the CPU, and converts to Parquet on one thread (1: no pause, fastest export, most impact "
        "on time to first token).",
    )


class RetentionPolicy(StrictModel):
    thread_max_age_days: int = Field(
        0, ge=0, le=36500, description="Delete threads inactive for longer than this (0: keep forever)."
    )
    upload_max_age_days: int = Field(
        0, ge=0, le=36500, description="Delete uploaded files older than this (0: keep forever)."
    )


class RetentionSettings(StrictModel):
    interval_seconds: int = Field(
        3600, ge=0, description="How often the server applies the policies; 0: only 'admin retention run'."
    )
    policies: dict[str, RetentionPolicy] = Field(
        default_factory=dict,
        description="Per tenant; key '*' for tenants not listed. Legal holds always win over retention.",
    )

    def policy_for(self, tenant: str) -> RetentionPolicy | None:
        return self.policies.get(tenant, self.policies.get("*"))


class ChatSettings(StrictModel):
    history_items: int = Field(
        40, ge=1, le=1000, description="Newest thread items sent to the model each turn."
    )
    busy_wait_seconds: float = Field(
        2.0,
        ge=0,
        le=60,
        description="A streamed request on a thread that is already running a turn waits this long "
        "for it to end, then gets 409 thread_busy (one mutating turn per thread at a time).",
    )
    instructions: str = "You are a helpful assistant for internal users."


class Settings(BaseSettings):
    """The whole configuration. Relative paths resolve against ``data_dir``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    mode: Literal["production", "development"] = "development"
    data_dir: Path = Field(Path("data"), description="All runtime state lives here.")
    server: ServerSettings = Field(default_factory=ServerSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    blobs: BlobSettings = Field(default_factory=BlobSettings)
    llm: LlmSettings = Field(default_factory=LlmSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    security: SecurityHeaderSettings = Field(default_factory=SecurityHeaderSettings)
    crypto: CryptoSettings = Field(default_factory=CryptoSettings)
    exports: ExportSettings = Field(default_factory=ExportSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the YAML file (passed as init kwargs); no .env magic.
        return (_ProcessEnvSource(settings_cls), init_settings)

    @model_validator(mode="after")
    def _one_duckdb_process(self) -> Settings:
        if self.store.backend == "duckdb" and self.server.workers != 1:
            raise ValueError(
                "server.workers: must be 1 with store.backend 'duckdb' (one process owns the file); "
                "use store.backend 'postgres' for more workers"
            )
        if self.store.backend == "duckdb" and not self.server.run_jobs:
            raise ValueError(
                "server.run_jobs: must be true with store.backend 'duckdb' (the server's process owns the "
                "file, so no other process can run its jobs)"
            )
        return self

    # --- derived paths -------------------------------------------------
    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else self.data_dir / path

    @property
    def store_path(self) -> Path:
        return self.resolve(self.store.path)

    @property
    def local_blob_path(self) -> Path:
        return self.resolve(self.blobs.local.path)

    @property
    def log_format(self) -> Literal["json", "console"]:
        if self.logging.format != "auto":
            return self.logging.format
        return "json" if self.mode == "production" else "console"

    def production_problems(self) -> list[str]:
        """What makes this config unsafe to run in production (empty when fine)."""
        problems: list[str] = []
        if self.mode != "production":
            return problems
        problems.extend(_llm_problems(self.llm))
        problems.extend(self._auth_problems())
        if self.auth.admin_token is None or len(self.auth.admin_token.get_secret_value()) < 24:
            problems.append(
                "auth.admin_token: required in production, at least 24 characters "
                "(set auth.admin_token_file or CHATKIT_ONPREM_AUTH__ADMIN_TOKEN_FILE)"
            )
        metrics = self.auth.metrics_token
        if metrics is not None:
            value = metrics.get_secret_value()
            if len(value) < 24:
                problems.append("auth.metrics_token: at least 24 characters in production")
            if self.auth.admin_token is not None and value == self.auth.admin_token.get_secret_value():
                problems.append("auth.metrics_token: must differ from auth.admin_token (it is read-only)")
        if self.logging.log_content:
            problems.append("logging.log_content: must be false in production (message text in logs)")
        if self.server.public_url is None:
            problems.append(
                "server.public_url: required in production (absolute upload/preview URLs "
                "must not be derived from a client-supplied Host header)"
            )
        kek = self.crypto.kek
        if kek.provider == "keyring" and kek.keyring is None and kek.keyring_path is None:
            problems.append(
                "crypto.kek: a key-encryption key source is required in production (crypto.kek.keyring_path "
                "to a mounted keyring Secret, crypto.kek.keyring(_file), or provider 'vault'); a generated "
                "development keyring would sit next to the data it protects"
            )
        if kek.provider == "vault" and not kek.vault.address.startswith("https://"):
            problems.append("crypto.kek.vault.address: must be https in production")
        if self.exports.signing_key is None:
            problems.append(
                "exports.signing_key: required in production (an Ed25519 private key PEM in a Secret, "
                "via exports.signing_key_file); a generated one would sit next to the data"
            )
        if self.blobs.backend == "s3" and not self.blobs.s3.secure:
            problems.append("blobs.s3.secure: must be true in production (credentials and data in clear)")
        return problems

    def _auth_problems(self) -> list[str]:
        problems: list[str] = []
        auth = self.auth
        if "development" in auth.methods:
            problems.append(
                "auth.methods: 'development' trusts X-Dev-User headers from anyone; "
                "enable oidc, api_keys or trusted_headers for production"
            )
        jwks_url = auth.oidc.jwks_url
        if "oidc" in auth.methods and jwks_url and not _https_or_loopback(jwks_url):
            problems.append(
                "auth.oidc.jwks_url: must be https in production (plain http only to a loopback address)"
            )
        if "trusted_headers" in auth.methods:
            wide = [str(n) for n in auth.trusted_headers.trusted_sources if n.prefixlen == 0]
            if wide:
                problems.append(
                    f"auth.trusted_headers.trusted_sources: {wide} trusts every address; "
                    "list only the authenticating proxy's networks"
                )
        if "*" in self.server.cors_origins:
            problems.append(
                "server.cors_origins: '*' is refused in production (credentials are allowed); "
                "list the web app origins"
            )
        return problems


def _https_or_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and (parts.hostname or "") in ("127.0.0.1", "::1", "localhost")


def _llm_problems(llm: LlmSettings) -> list[str]:
    from urllib.parse import urlsplit

    problems: list[str] = []
    for name, upstream in llm.upstreams.items():
        parts = urlsplit(upstream.base_url)
        loopback = (parts.hostname or "") in ("127.0.0.1", "::1", "localhost")
        if upstream.api_key is not None and parts.scheme != "https" and not loopback:
            problems.append(
                f"llm.upstreams.{name}.base_url: an API key is configured, so the upstream must be "
                "https in production (plain http only to a loopback address)"
            )
    return problems


class _ProcessEnvSource(PydanticBaseSettingsSource):
    """``CHATKIT_ONPREM_A__B=v`` → ``{"a": {"b": "v"}}``; unknown names fail validation."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ builds the whole dict

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in os.environ.items():
            if not name.startswith(ENV_PREFIX) or name in NOT_SETTINGS_ENV:
                continue
            path = name[len(ENV_PREFIX) :].lower().split("__")
            node = out
            for part in path[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    break
            else:
                node[path[-1]] = _env_value(value)
        return out


def _env_value(value: str) -> Any:
    """Env values are YAML scalars or flow collections: ``8080``, ``true``, ``[a, b]``."""
    try:
        return yaml.safe_load(value) if value.strip() else value
    except yaml.YAMLError:
        return value


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(node: Any, path: str, problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else str(k), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, f"{path}[{i}]", problems) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def substitute(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None or value == "":
            if fallback is not None:
                return fallback
            problems.append(f"{path}: environment variable {name} is not set")
            return ""
        return value

    replaced = _VAR.sub(substitute, node)
    # A value that was only a reference becomes a typed scalar (ports, booleans).
    if replaced != node and _VAR.fullmatch(node):
        return _env_value(replaced)
    return replaced


def config_file_in_use(explicit: Path | None = None) -> Path | None:
    """The file to read: ``--config``, else ``$CHATKIT_ONPREM_CONFIG``, else the default if present."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(path: Path | None = None, *, check_production: bool = True) -> Settings:
    """Read, interpolate and validate the configuration; raise ConfigError with every problem."""
    file = config_file_in_use(path)
    raw: dict[str, Any] = {}
    problems: list[str] = []
    if file is not None:
        try:
            loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError([f"{file}: cannot read ({exc.strerror})"]) from exc
        except yaml.YAMLError as exc:
            raise ConfigError([f"{file}: not valid YAML ({exc})"]) from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError([f"{file}: the top level must be a mapping"])
        raw = _interpolate(loaded, "", problems)
    if problems:
        raise ConfigError(problems)
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        raise ConfigError([_describe(err) for err in exc.errors()]) from exc
    if check_production:
        bad = settings.production_problems()
        if bad:
            raise ConfigError(bad)
    return settings


def _describe(error: Any) -> str:
    loc = ".".join(str(p) for p in error.get("loc", ()))
    msg = error.get("msg", "invalid")
    if error.get("type") == "extra_forbidden":
        msg = "unknown key"
    return f"{loc}: {msg}" if loc else msg


def redacted_dump(settings: Settings) -> dict[str, Any]:
    """The effective config as plain data, secrets shown as ``**********``."""
    return settings.model_dump(mode="json")
