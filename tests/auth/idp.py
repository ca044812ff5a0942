"""An in-test identity provider: real keys (``cryptography``), JWKS served over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.corp.internal/realms/staff"
AUDIENCE = "chatkit"
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
#: What production requires besides auth: a KEK keyring and an export signing key.
KEYRING = json.dumps({"primary": "v1", "keys": {"v1": base64.b64encode(bytes(range(32))).decode()}})
SIGNING_SEED = base64.b64encode(bytes(range(32, 64))).decode()
PRODUCTION_KEYS: dict[str, Any] = {
    "crypto": {"kek": {"keyring": KEYRING}},
    "exports": {"signing_key": SIGNING_SEED},
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestIdP:
    """Signs tokens; serves ``/jwks``. ``down = True`` makes the JWKS answer 503; ``delay`` stalls it."""

    __test__ = False

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {
            "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec-1": ec.generate_private_key(ec.SECP256R1()),
        }
        self.published = {"rsa-1", "ec-1"}
        self.down = False
        self.delay = 0.0  # seconds the JWKS endpoint stalls before answering (a hanging IdP)
        self.hits = 0
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                idp.hits += 1
                if idp.delay:
                    time.sleep(idp.delay)
                if idp.down or self.path != "/jwks":
                    self.send_response(503 if idp.down else 404)
                    self.end_headers()
                    return
                body = json.dumps(idp.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def add_key(self, kid: str, publish: bool = True) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.add(kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        key = self.keys[kid].public_key()
        data = json.loads(RSAAlgorithm.to_jwk(key) if kid.startswith("rsa") else ECAlgorithm.to_jwk(key))
        return {**data, "kid": kid, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk(kid) for kid in sorted(self.published)]}

    def public_pem(self, kid: str = "rsa-1") -> bytes:
        return bytes(
            self.keys[kid]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    def claims(
        self, sub: str, tenant: str | None, roles: list[str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 300}
        if tenant is not None:
            claims["tenant"] = tenant
        if roles is not None:
            claims["roles"] = roles
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        sub: str = "alice",
        tenant: str | None = "acme",
        roles: list[str] | None = None,
        *,
        kid: str = "rsa-1",
        alg: str | None = None,
        **extra: Any,
    ) -> str:
        alg = alg or ("ES256" if kid.startswith("ec") else "RS256")
        return jwt.encode(
            self.claims(sub, tenant, roles, **extra), self.keys[kid], algorithm=alg, headers={"kid": kid}
        )

    def unsigned(self, header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
        return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)])

    def hs256_with_public_key(self, sub: str = "alice", tenant: str = "acme", kid: str = "rsa-1") -> str:
        """The classic key-confusion attack: HMAC-sign with the RSA public key as the secret."""
        header = {"alg": "HS256", "typ": "JWT", "kid": kid}
        signing_input = ".".join(
            [b64(json.dumps(header).encode()), b64(json.dumps(self.claims(sub, tenant)).encode())]
        )
        mac = hmac.new(self.public_pem(kid), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(mac)}"


def oidc_config(idp: TestIdP, **oidc: Any) -> dict[str, Any]:
    """Production mode, OIDC + API keys, against ``idp``."""
    return {
        "mode": "production",
        "server": {"public_url": "http://127.0.0.1:9"},
        **PRODUCTION_KEYS,
        "auth": {
            "methods": ["oidc", "api_keys"],
            "admin_token": ADMIN_TOKEN,
            "oidc": {
                "issuer": ISSUER,
                "audience": [AUDIENCE],
                "jwks_url": idp.jwks_url,
                "algorithms": ["RS256", "ES256"],
                "jwks_min_refresh_seconds": 0,
                **oidc,
            },
        },
    }
