"""How the admin CLI reaches the running server: one client, one error translation, stable exit codes.

Exit codes (documented in docs/admin-cli.md, relied on by scripts and the chart's CronJob):

* 0: done;
* 1: usage or local error (bad option, unreadable file, a bundle that fails verification);
* 2: refused by the server (any 4xx: bad token, unknown subject, legal hold, ...);
* 3: server or network failure (5xx, unreachable, TLS).

Trust for https follows the server's one rule (``chatkit_onprem.trust``): the system store
plus ``SSL_CERT_FILE``, plus ``--ca-bundle``. Proxy variables are ignored: the CLI talks to
exactly the URL it was given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import typer
from rich.console import Console

from chatkit_onprem.config import ConfigError, load_settings

OK, LOCAL_ERROR, REFUSED, SERVER_ERROR = 0, 1, 2, 3
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = LOCAL_ERROR) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", markup=True)
    raise typer.Exit(code)


@dataclass(frozen=True, slots=True)
class Connection:
    """Where and how to call the admin API; built from the global and per-verb options."""

    url: str
    token: str
    ca_bundle: Path | None
    output: str  # "json" | "table"

    @property
    def as_json(self) -> bool:
        return self.output == "json"


def connect(
    *,
    config: Path | None,
    url: str | None,
    token_file: Path | None,
    ca_bundle: Path | None,
    output: str,
) -> Connection:
    """``--url`` (or CHATKIT_ONPREM_ADMIN_URL, else the config's public_url or host:port); the token
    from ``--token-file``, CHATKIT_ONPREM_ADMIN_TOKEN or the config's ``auth.admin_token``."""
    if output not in ("json", "table"):
        fail(f"--output must be json or table, not {output!r}")
    token = os.environ.get("CHATKIT_ONPREM_ADMIN_TOKEN")
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            fail(f"cannot read the token file {token_file}: {exc.strerror}")
    if url is None or not token:
        try:
            settings = load_settings(config, check_production=False)
        except ConfigError as exc:
            fail(f"{exc}\n(or pass --url and --token-file)")
        if url is None:
            host = settings.server.host if settings.server.host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
            url = settings.server.public_url or f"http://{host}:{settings.server.port}"
        if not token and settings.auth.admin_token is not None:
            token = settings.auth.admin_token.get_secret_value()
    if not token:
        fail(
            "no admin token: pass --token-file, or set CHATKIT_ONPREM_ADMIN_TOKEN or auth.admin_token(_file)"
        )
    if ca_bundle is not None and not ca_bundle.is_file():
        fail(f"--ca-bundle {ca_bundle} is not a readable file")
    return Connection(url.rstrip("/"), token, ca_bundle, output)


class AdminClient:
    def __init__(self, conn: Connection, timeout: float = 60.0) -> None:
        from chatkit_onprem.trust import TrustError, client_ssl_context

        self.conn = conn
        verify: Any = True
        if conn.url.startswith("https://"):
            try:
                verify = client_ssl_context(conn.ca_bundle)
            except TrustError as exc:
                fail(str(exc))
        # trust_env=False: exactly this URL, never through a proxy from the environment.
        self.http = httpx.Client(
            base_url=f"{conn.url}/admin/v1",
            headers={"Authorization": f"Bearer {conn.token}"},
            timeout=timeout,
            verify=verify,
            trust_env=False,
        )

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.translated():
            response = self.http.request(method, path, **kwargs)
        return self.checked(response).json() if response.content else None

    def call_bytes(self, method: str, path: str, **kwargs: Any) -> bytes:
        with self.translated():
            response = self.http.request(method, path, **kwargs)
        return self.checked(response).content

    def call_text(self, method: str, path: str, **kwargs: Any) -> str:
        return self.call_bytes(method, path, **kwargs).decode()

    def checked(self, response: httpx.Response) -> httpx.Response:
        if response.status_code < 400:
            return response
        response.read()  # a streamed answer's error body
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        message = error.get("message") or response.text[:300] or response.reason_phrase
        code = error.get("code", "")
        text = f"the server refused ({response.status_code} {code}): {message}"
        if response.status_code >= 500:
            fail(f"the server failed ({response.status_code} {code}): {message}", SERVER_ERROR)
        fail(text, REFUSED)

    @contextmanager
    def translated(self) -> Iterator[None]:
        """Network and TLS errors become one line and exit code 3, never a traceback."""
        try:
            yield
        except httpx.ConnectError as exc:
            fail(f"cannot reach the server at {self.conn.url}: {_cause(exc)}", SERVER_ERROR)
        except httpx.TimeoutException:
            fail(f"the server at {self.conn.url} did not answer in time", SERVER_ERROR)
        except httpx.HTTPError as exc:
            fail(f"talking to the server at {self.conn.url} failed: {_cause(exc)}", SERVER_ERROR)


def _cause(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:300]


@contextmanager
def client(conn: Connection, timeout: float = 60.0) -> Iterator[AdminClient]:
    api = AdminClient(conn, timeout)
    try:
        yield api
    finally:
        api.close()
