"""Key-encryption keys (KEKs): where they come from, behind one interface.

A KEK only ever wraps data keys (``crypto.deks``); it never touches content. Two
providers:

* ``KeyringKek``: a keyring file or mounted Kubernetes Secret, JSON
  ``{"primary": "v2", "keys": {"v1": "<base64 32 bytes>", "v2": "..."}}``. Every version
  is an AES-256-GCM key; the primary wraps new data keys, the others still unwrap old
  ones. The file is re-read on every key operation (``reload``), so a version added to
  the Secret is picked up without a restart. In development the keyring is generated
  once under ``data_dir/keys`` and the server may add versions to it itself.
* ``VaultKek``: a HashiCorp Vault / OpenBao transit key. Vault keeps the versions;
  wrapping names the version explicitly and binds the same associated data as the
  keyring does (transit's ``associated_data``, AES-GCM keys). Through ``hvac``, with
  the project's one trust source for TLS.

Both hand out Tink ``Aead`` objects, so data keys are wrapped with Tink's own
encrypted-keyset format whichever provider holds the KEK.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chatkit_onprem.crypto.primitives import Aead, TinkError, aead_from_raw_key

_VERSION_NAME = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


class KekError(Exception):
    """A KEK is missing, unreadable or refused: the message names which and what to check."""


class UnknownKekVersionError(KekError):
    pass


class KekRotationUnsupportedError(KekError):
    """The provider cannot create a version itself (a read-only Secret): the operator must."""


@dataclass(frozen=True, slots=True)
class KekVersion:
    version: str
    primary: bool


class KekProvider(Protocol):
    kind: str
    source: str

    def reload(self) -> None:
        """Re-read the versions (keyring file, Vault key metadata)."""
        ...

    def primary(self) -> str: ...

    def versions(self) -> list[KekVersion]: ...

    def aead(self, version: str) -> Aead:
        """The AEAD of ``version``: wraps with exactly that version, unwraps what it wrapped."""
        ...

    def create_version(self) -> str:
        """Make a new version the primary; return its name (or raise KekRotationUnsupportedError)."""
        ...


# --- keyring ------------------------------------------------------------------
def parse_keyring(text: str, where: str) -> tuple[str, dict[str, bytes]]:
    """(primary, {version: 32-byte key}) from keyring JSON; KekError naming ``where`` otherwise."""
    try:
        document = json.loads(text)
    except ValueError:
        raise KekError(f"{where}: the keyring is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), dict):
        raise KekError(f'{where}: expected {{"primary": "v1", "keys": {{"v1": "<base64 of 32 bytes>"}}}}')
    keys: dict[str, bytes] = {}
    for name, value in document["keys"].items():
        if not isinstance(name, str) or not _VERSION_NAME.match(name):
            raise KekError(f"{where}: version name {name!r} must be 1-40 letters, digits, '.', '_' or '-'")
        try:
            raw = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise KekError(f"{where}: key {name!r} is not valid base64") from None
        if len(raw) != 32:
            raise KekError(f"{where}: key {name!r} must decode to 32 bytes, got {len(raw)}")
        keys[name] = raw
    primary = document.get("primary")
    if not isinstance(primary, str) or primary not in keys:
        raise KekError(f"{where}: 'primary' must name one of the keys {sorted(keys)}")
    return primary, keys


def _version_id(version: str) -> int:
    """A stable 31-bit id for a version name (Tink wants one; RAW keys never show it)."""
    return int.from_bytes(version.encode()[:4].ljust(4, b"\0"), "big") & 0x7FFFFFFF or 1


class KeyringKek:
    kind = "keyring"

    def __init__(self, *, text: str | None = None, path: Path | None = None, writable: bool = False) -> None:
        if (text is None) == (path is None):
            raise ValueError("give the keyring text or its path")
        self._text = text
        self._path = path
        self._writable = writable
        self.source = f"keyring file {path}" if path is not None else "keyring from the configuration"
        self._lock = threading.Lock()
        self._primary = ""
        self._aeads: dict[str, Aead] = {}
        self.reload()

    def reload(self) -> None:
        if self._path is not None:
            try:
                text = self._path.read_text(encoding="utf-8")
            except OSError as exc:
                raise KekError(f"{self.source}: cannot read ({exc.strerror})") from None
        else:
            assert self._text is not None
            text = self._text
        primary, keys = parse_keyring(text, self.source)
        with self._lock:
            self._primary = primary
            self._aeads = {name: aead_from_raw_key(raw, _version_id(name)) for name, raw in keys.items()}

    @property
    def writable(self) -> bool:
        """Whether the server may add and remove versions itself (the development keyring)."""
        return self._writable and self._path is not None

    def primary(self) -> str:
        return self._primary

    def versions(self) -> list[KekVersion]:
        return [KekVersion(name, name == self._primary) for name in sorted(self._aeads)]

    def remove_version(self, version: str) -> None:
        """Drop a retired version from a writable keyring (the caller checked nothing uses it)."""
        if not self.writable or self._path is None:
            raise KekRotationUnsupportedError(f"the {self.source} is read-only to the server")
        with self._lock:
            document = json.loads(self._path.read_text(encoding="utf-8"))
            if document.get("primary") == version:
                raise KekError(f"{version} is the primary")
            document["keys"].pop(version, None)
            _write_private(self._path, json.dumps(document, indent=2) + "\n")
        self.reload()

    def aead(self, version: str) -> Aead:
        found = self._aeads.get(version)
        if found is None:
            raise UnknownKekVersionError(
                f"KEK version {version!r} is not in the {self.source} (it holds {sorted(self._aeads)}); "
                "restore that version to the keyring"
            )
        return found

    def create_version(self) -> str:
        if not self._writable or self._path is None:
            raise KekRotationUnsupportedError(
                f"the {self.source} is read-only to the server: add a new version (base64 of 32 random "
                "bytes) to it, make it the primary, wait for the mounted Secret to update, then run "
                "'admin keys rotate-kek' again"
            )
        with self._lock:
            document = json.loads(self._path.read_text(encoding="utf-8"))
            number = 1 + max((int(n[1:]) for n in document["keys"] if re.fullmatch(r"v\d+", n)), default=0)
            name = f"v{number}"
            document["keys"][name] = base64.b64encode(secrets.token_bytes(32)).decode()
            document["primary"] = name
            _write_private(self._path, json.dumps(document, indent=2) + "\n")
        self.reload()
        return name


def development_keyring(path: Path) -> KeyringKek:
    """The keyring generated once under ``data_dir/keys`` (0600), writable by the server."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        document = {"primary": "v1", "keys": {"v1": base64.b64encode(secrets.token_bytes(32)).decode()}}
        with contextlib.suppress(FileExistsError):  # another worker made it first: use theirs
            _write_private(path, json.dumps(document, indent=2) + "\n", exclusive=True)
    return KeyringKek(path=path, writable=True)


def _write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write a secret file with mode 0600, atomically (a crash leaves the old or the new file).

    ``exclusive``: only if the file does not exist yet; several workers starting at once all
    end up with the one file the first of them wrote (``FileExistsError`` for the others)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        if exclusive:
            os.link(tmp, path)  # atomic, and fails if another process got there first
        else:
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


# --- Vault / OpenBao transit --------------------------------------------------
class _VaultVersionAead(Aead):  # type: ignore[misc]
    """Tink's ``Aead`` over one transit key version (wrap pins it; unwrap reads it from the text)."""

    def __init__(self, kek: VaultKek, version: int) -> None:
        self._kek = kek
        self._version = version

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        data = self._kek.call(
            "encrypt_data",
            plaintext=base64.b64encode(plaintext).decode(),
            key_version=self._version,
            associated_data=base64.b64encode(associated_data).decode() if associated_data else None,
        )
        return str(data["ciphertext"]).encode()

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        data = self._kek.call(
            "decrypt_data",
            ciphertext=ciphertext.decode(),
            associated_data=base64.b64encode(associated_data).decode() if associated_data else None,
        )
        return base64.b64decode(str(data["plaintext"]))


class VaultKek:
    kind = "vault"

    def __init__(
        self,
        *,
        address: str,
        mount: str,
        key_name: str,
        token: str | None,
        namespace: str | None,
        ssl_context: ssl.SSLContext,
        timeout: float,
    ) -> None:
        import hvac  # only deployments that use Vault pay for the import

        self.source = f"Vault transit key {mount}/keys/{key_name} at {address}"
        self._mount = mount
        self._key_name = key_name
        session = _session_with_context(ssl_context)
        self._client = hvac.Client(
            url=address, token=token, namespace=namespace, timeout=timeout, session=session
        )
        self._latest = 0
        self._min_decrypt = 1
        self.reload()

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One transit call; every failure becomes a KekError naming the key and the cause."""
        transit = self._client.secrets.transit
        try:
            response = getattr(transit, method)(
                name=self._key_name,
                mount_point=self._mount,
                **{k: v for k, v in params.items() if v is not None},
            )
        except Exception as exc:
            raise KekError(
                f"{self.source}: {method} failed: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None
        data = response.get("data") if isinstance(response, dict) else None
        if not isinstance(data, dict):
            raise KekError(f"{self.source}: {method} gave an unexpected answer")
        return data

    def reload(self) -> None:
        data = self.call("read_key")
        self._latest = int(data.get("latest_version", 0))
        self._min_decrypt = int(data.get("min_decryption_version", 1))
        if self._latest < 1:
            raise KekError(f"{self.source}: the key has no versions")

    def primary(self) -> str:
        return f"vault:{self._latest}"

    def versions(self) -> list[KekVersion]:
        return [
            KekVersion(f"vault:{n}", n == self._latest) for n in range(self._min_decrypt, self._latest + 1)
        ]

    def aead(self, version: str) -> Aead:
        match = re.fullmatch(r"vault:(\d+)", version)
        if match is None or not self._min_decrypt <= int(match.group(1)) <= self._latest:
            raise UnknownKekVersionError(
                f"KEK version {version!r} is not usable in the {self.source} "
                f"(versions {self._min_decrypt}..{self._latest})"
            )
        return _VaultVersionAead(self, int(match.group(1)))

    def create_version(self) -> str:
        self.call("rotate_key")
        self.reload()
        return self.primary()


def _session_with_context(context: ssl.SSLContext) -> Any:
    """A ``requests`` session whose TLS trusts exactly ``context`` (requests alone uses certifi)."""
    import requests
    from requests.adapters import HTTPAdapter

    class _Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            # requests would load certifi's bundle into our context; verify with the context alone.
            super().cert_verify(conn, url, verify, cert)
            if url.lower().startswith("https"):
                conn.cert_reqs = "CERT_REQUIRED"
                conn.ca_certs = None
                conn.ca_cert_dir = None

    session = requests.Session()
    session.trust_env = False  # talk to exactly the configured address, never an env proxy
    session.mount("https://", _Adapter())
    return session


def check_kek(provider: KekProvider) -> None:
    """Fail at start-up, not at the first write, when the primary KEK cannot wrap."""
    try:
        aead = provider.aead(provider.primary())
        probe = aead.encrypt(b"chatkit-onprem kek check", b"check")
        if aead.decrypt(probe, b"check") != b"chatkit-onprem kek check":
            raise KekError(f"{provider.source}: the primary KEK does not round-trip")
    except TinkError as exc:
        raise KekError(f"{provider.source}: the primary KEK does not work: {exc}") from None


def load_kek(settings: Any) -> KekProvider:
    """The configured KEK provider; in development a keyring generated once under data_dir/keys.

    ``settings`` is the whole ``Settings`` (typed loosely to keep this module free of the
    config import); production refuses to start without a configured source
    (``Settings.production_problems``).
    """
    from chatkit_onprem.trust import client_ssl_context

    kek = settings.crypto.kek
    if kek.provider == "vault":
        vault = kek.vault
        return VaultKek(
            address=vault.address,
            mount=vault.mount,
            key_name=vault.key_name,
            token=vault.token.get_secret_value() if vault.token else None,
            namespace=vault.namespace,
            ssl_context=client_ssl_context(settings.resolve(vault.ca_bundle) if vault.ca_bundle else None),
            timeout=vault.timeout_seconds,
        )
    if kek.keyring is not None:
        return KeyringKek(text=kek.keyring.get_secret_value())
    if kek.keyring_path is not None:
        return KeyringKek(path=settings.resolve(kek.keyring_path))
    return development_keyring(settings.resolve(Path("keys/kek-keyring.json")))
