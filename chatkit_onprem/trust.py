"""Where every outbound TLS client gets its trust from: one function, one rule.

The rule, for model upstreams (and their https proxies), the JWKS fetch, the
object store and the admin CLI alike:

    the operating system's store (OpenSSL's default CA file and directory)
  + the file in ``SSL_CERT_FILE`` and the directory in ``SSL_CERT_DIR``, when set
  + the client's own ``ca_bundle`` setting, when set

so a company CA put into the image's system store, mounted once through
``SSL_CERT_FILE`` (the chart's ``trust.*`` values do that), or named per client
is trusted the same way by every client. ``certifi`` is never used: it is a
copy of Mozilla's list, not the system store (ARCHITECTURE §4). OpenSSL itself
lets ``SSL_CERT_FILE`` *replace* the system file; here it is added to it, so
setting it for one internal CA does not untrust the public ones.

Proxy *variables* (``HTTP(S)_PROXY``, ``NO_PROXY``) stay ignored by every client:
only trust comes from the environment, never where connections go.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path

__all__ = ["TrustError", "client_ssl_context", "trust_sources"]


class TrustError(ValueError):
    """A configured CA bundle or client certificate cannot be used; the message names the file."""


def trust_sources(
    ca_bundle: Path | str | None = None, *, environ: Mapping[str, str] | None = None
) -> tuple[list[Path], list[Path]]:
    """The CA files and CA directories a client built now would trust, in load order."""
    env = os.environ if environ is None else environ
    paths = ssl.get_default_verify_paths()
    files: list[Path] = []
    dirs: list[Path] = []
    seen: set[Path] = set()

    def add(found: list[Path], candidate: str | Path | None, kind: str) -> None:
        if not candidate:
            return
        path = Path(candidate)
        exists = path.is_file() if kind == "file" else path.is_dir()
        if exists and path.resolve() not in seen:  # the OS file is often a link to the same bundle
            seen.add(path.resolve())
            found.append(path)

    add(files, paths.openssl_cafile, "file")
    add(files, env.get("SSL_CERT_FILE"), "file")
    add(dirs, paths.openssl_capath, "dir")
    add(dirs, env.get("SSL_CERT_DIR"), "dir")
    if ca_bundle is not None and Path(ca_bundle).resolve() not in seen:
        files.append(Path(ca_bundle))
    return files, dirs


def client_ssl_context(
    ca_bundle: Path | str | None = None,
    *,
    client_cert: Path | str | None = None,
    client_key: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for one outbound client: verified (hostname and chain), TLS >= 1.2.

    ``ca_bundle``: extra PEM CAs for this client (added to the system store and
    ``SSL_CERT_FILE``, never instead of them). ``client_cert`` / ``client_key``:
    PEM certificate (and key, if not in the same file) for mutual TLS.
    ``environ``: where ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` are read (default: the process).

    Raises ``TrustError`` naming the file when a given bundle, ``SSL_CERT_FILE``
    or the client certificate cannot be read or parsed.
    """
    env = os.environ if environ is None else environ
    # Not create_default_context(): it would load the system store once more on its own
    # (OpenSSL's set_default_verify_paths), doubling the cost of every context.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    files, dirs = trust_sources(ca_bundle, environ=env)
    for wanted, name in ((env.get("SSL_CERT_FILE") or None, "SSL_CERT_FILE"), (ca_bundle, "ca_bundle")):
        if wanted is not None and not Path(wanted).is_file():
            raise TrustError(f"{name}: {wanted} is not a readable file")
    for file in files:
        _load(context, cafile=file)
    for folder in dirs:
        _load(context, capath=folder)
    if client_cert is not None:
        try:
            context.load_cert_chain(str(client_cert), str(client_key) if client_key is not None else None)
        except (OSError, ssl.SSLError) as exc:
            raise TrustError(f"client certificate {client_cert}: cannot be used ({_reason(exc)})") from exc
    elif client_key is not None:
        raise TrustError("client_key given without client_cert")
    return context


def _load(context: ssl.SSLContext, *, cafile: Path | None = None, capath: Path | None = None) -> None:
    try:
        context.load_verify_locations(
            cafile=str(cafile) if cafile else None, capath=str(capath) if capath else None
        )
    except (OSError, ssl.SSLError) as exc:
        raise TrustError(f"CA bundle {cafile or capath}: cannot be loaded ({_reason(exc)})") from exc


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__
