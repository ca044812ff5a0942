"""``chatkit-onprem admin …``: talk to the running server's ``/admin/v1`` API.

The CLI never opens the DuckDB file while a server owns it (ARCHITECTURE §3.1):
everything here is an authenticated HTTP call. The server is found from
``--url`` (or ``CHATKIT_ONPREM_ADMIN_URL``, else the config's ``server.public_url``
or ``http://host:port``); the token from ``--token-file``, ``CHATKIT_ONPREM_ADMIN_TOKEN``
or the config's ``auth.admin_token``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from rich.console import Console

from chatkit_onprem.config import ConfigError, load_settings

admin_app = typer.Typer(help="Administer a running server (through its admin API).", no_args_is_help=True)
api_keys_app = typer.Typer(help="API keys for service callers.", no_args_is_help=True)
admin_app.add_typer(api_keys_app, name="api-keys")
err = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file.")]
UrlOption = Annotated[
    str | None, typer.Option("--url", envvar="CHATKIT_ONPREM_ADMIN_URL", help="Server base URL.")
]
TokenFileOption = Annotated[
    Path | None, typer.Option("--token-file", help="File holding the admin token (else the config's).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: str) -> NoReturn:
    err.print(f"[red]{message}[/red]")
    raise typer.Exit(1)


def _target(config: Path | None, url: str | None, token_file: Path | None) -> tuple[str, str]:
    token = os.environ.get("CHATKIT_ONPREM_ADMIN_TOKEN")
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            _fail(f"cannot read {token_file}: {exc.strerror}")
    if url is None or not token:
        try:
            settings = load_settings(config, check_production=False)
        except ConfigError as exc:
            _fail(f"{exc}\n(or pass --url and --token-file)")
        if url is None:
            host = settings.server.host if settings.server.host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
            url = settings.server.public_url or f"http://{host}:{settings.server.port}"
        if not token and settings.auth.admin_token is not None:
            token = settings.auth.admin_token.get_secret_value()
    if not token:
        _fail("no admin token: set auth.admin_token(_file), CHATKIT_ONPREM_ADMIN_TOKEN or --token-file")
    return url.rstrip("/"), token


def _call(target: tuple[str, str], method: str, path: str, **kwargs: Any) -> Any:
    url, token = target
    try:
        # trust_env=False: talk to exactly this URL, never through a proxy from the environment.
        with httpx.Client(timeout=30, trust_env=False) as http:
            response = http.request(
                method, f"{url}/admin/v1{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the server at {url}: {exc}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        _fail(f"HTTP {response.status_code}: {error.get('message') or response.text[:300]}")
    return body


@api_keys_app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="Tenant the key acts in.")],
    name: Annotated[str, typer.Option(help="What the key is for (shown in listings).")],
    user: Annotated[str | None, typer.Option(help="User id the key acts as (default svc:<name>).")] = None,
    role: Annotated[list[str] | None, typer.Option(help="Role (repeatable): user, admin, auditor.")] = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    token_file: TokenFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key. Its token is printed once: store it now, it cannot be shown again."""
    body = {"tenant": tenant, "name": name, "user": user, "roles": role or ["user"]}
    created = _call(_target(config, url, token_file), "POST", "/api-keys", json=body)
    if as_json:
        typer.echo(json.dumps(created, indent=2))
        return
    err.print(f"created API key {created['id']} (tenant {created['tenant']}, roles {created['roles']})")
    err.print("the token below is shown only now:")
    typer.echo(created["token"])


@api_keys_app.command("list")
def list_keys(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    config: ConfigOption = None,
    url: UrlOption = None,
    token_file: TokenFileOption = None,
    as_json: JsonOption = False,
) -> None:
    """List keys (never their secrets)."""
    params: dict[str, Any] = {"include_revoked": include_revoked}
    if tenant is not None:
        params["tenant"] = tenant
    keys = _call(_target(config, url, token_file), "GET", "/api-keys", params=params)["data"]
    if as_json:
        typer.echo(json.dumps(keys, indent=2))
        return
    for key in keys:
        state = f"revoked {key['revoked_at']}" if key["revoked_at"] else "active"
        typer.echo(
            f"{key['id']}  tenant={key['tenant']}  user={key['user']}  roles={','.join(key['roles'])}  "
            f"name={key['name']}  {state}  last_used={key['last_used_at'] or 'never'}"
        )


@api_keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from 'list').")],
    config: ConfigOption = None,
    url: UrlOption = None,
    token_file: TokenFileOption = None,
) -> None:
    """Revoke a key: it stops working at once."""
    revoked = _call(_target(config, url, token_file), "POST", f"/api-keys/{key_id}/revoke")
    err.print(f"revoked API key {revoked['id']} at {revoked['revoked_at']}")
