"""A fake HashiCorp Vault / OpenBao transit engine over real HTTP on loopback.

Only what the KEK provider uses: read a key's versions, encrypt and decrypt (AES-256-GCM per
version, with ``associated_data``), rotate. Ciphertexts look like Vault's (``vault:v<N>:...``).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class FakeVault:
    def __init__(
        self, token: str = "vault-test-token", mount: str = "transit", key: str = "chatkit-onprem"
    ) -> None:
        self.token = token
        self.prefix = f"/v1/{mount}"
        self.key = key
        self.versions: list[bytes] = [os.urandom(32)]
        self.calls: list[tuple[str, bool]] = []  # (operation, associated data given)
        vault = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any] | None = None) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.headers.get("X-Vault-Token") != vault.token:
                    return self._answer(403, {"errors": ["permission denied"]})
                if self.path == f"{vault.prefix}/keys/{vault.key}":
                    return self._answer(
                        200, {"data": {"latest_version": len(vault.versions), "min_decryption_version": 1}}
                    )
                return self._answer(404, {"errors": []})

            def do_POST(self) -> None:
                if self.headers.get("X-Vault-Token") != vault.token:
                    return self._answer(403, {"errors": ["permission denied"]})
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                aad = base64.b64decode(body["associated_data"]) if body.get("associated_data") else None
                if self.path == f"{vault.prefix}/encrypt/{vault.key}":
                    version = int(body.get("key_version") or len(vault.versions))
                    nonce = os.urandom(12)
                    sealed = AESGCM(vault.versions[version - 1]).encrypt(
                        nonce, base64.b64decode(body["plaintext"]), aad
                    )
                    vault.calls.append(("encrypt", aad is not None))
                    text = f"vault:v{version}:" + base64.b64encode(nonce + sealed).decode()
                    return self._answer(200, {"data": {"ciphertext": text, "key_version": version}})
                if self.path == f"{vault.prefix}/decrypt/{vault.key}":
                    _, tag, payload = body["ciphertext"].split(":", 2)
                    raw = base64.b64decode(payload)
                    vault.calls.append(("decrypt", aad is not None))
                    try:
                        plain = AESGCM(vault.versions[int(tag[1:]) - 1]).decrypt(raw[:12], raw[12:], aad)
                    except (InvalidTag, IndexError):
                        return self._answer(400, {"errors": ["cipher: message authentication failed"]})
                    return self._answer(200, {"data": {"plaintext": base64.b64encode(plain).decode()}})
                if self.path == f"{vault.prefix}/keys/{vault.key}/rotate":
                    vault.versions.append(os.urandom(32))
                    vault.calls.append(("rotate", False))
                    return self._answer(200, {"data": {"latest_version": len(vault.versions)}})
                return self._answer(404, {"errors": []})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeVault:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
