"""``admin export``: answer a data-subject request with a signed bundle that verifies offline.

``admin export --user U --tenant T --out DIR`` asks the server for the bundle (a job), then
downloads its files into DIR (resumable: run the same command with ``--resume ID`` after an
interruption, and finished files are kept, half-finished ones continue where they stopped),
then verifies it. ``admin export verify DIR --public-key FILE`` needs no server at all.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from chatkit_onprem.cli.admin import admin_app
from chatkit_onprem.cli.client import LOCAL_ERROR, AdminClient, Connection, client, fail
from chatkit_onprem.cli.options import (
    CaOption,
    ConfigOption,
    JsonOption,
    OutputOption,
    TokenFileOption,
    UrlOption,
    connection_for,
    connection_options,
)
from chatkit_onprem.cli.output import emit, follow, out, pairs
from chatkit_onprem.residency.exports import MANIFEST, SIGNATURE, verify_bundle

export_app = typer.Typer(
    help="Export a user's, a tenant's or a thread's data as a signed bundle.", invoke_without_command=True
)
admin_app.add_typer(export_app, name="export")


@export_app.callback()
def export(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="The tenant (alone: the whole tenant).")] = None,
    user: Annotated[str | None, typer.Option(help="One user (needs --tenant).")] = None,
    thread: Annotated[str | None, typer.Option("--thread", help="One thread.")] = None,
    since: Annotated[str | None, typer.Option(help="Only what changed from this ISO time on.")] = None,
    until: Annotated[str | None, typer.Option(help="Only what was created before this ISO time.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder to write the bundle to.")] = None,
    resume: Annotated[str | None, typer.Option(help="Continue downloading an export (its job id).")] = None,
    config: ConfigOption = None,
    url: UrlOption = None,
    token_file: TokenFileOption = None,
    ca_bundle: CaOption = None,
    output: OutputOption = None,
    as_json: JsonOption = False,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if out_dir is None:
        fail("say where the bundle goes: --out DIR")
    if resume is None and not (tenant or thread):
        fail("an export needs --user U --tenant T, --tenant T or --thread ID (or --resume ID)")
    conn = connection_for(ctx, connection_options(config, url, token_file, ca_bundle, output, as_json))
    with client(conn, timeout=300) as api:
        if resume is None:
            body = {"tenant": tenant, "user": user, "thread_id": thread, "since": since, "until": until}
            job = api.call("POST", "/exports", json=body)["job"]
        else:
            job = api.call("GET", f"/jobs/{resume}")
        job = _wait(api, conn, job)
        manifest = _download(api, job["id"], out_dir)
        public = api.call_text("GET", "/exports/public-key")
    check = verify_bundle(out_dir, public.encode())
    if not check.ok:
        fail(f"the downloaded bundle does not verify: {check.problem}")
    summary = {"export_id": job["id"], "folder": str(out_dir), "counts": manifest["counts"], "verified": True}
    emit(conn, summary, lambda s: pairs("export written and verified", s))


def _wait(api: AdminClient, conn: Connection, job: dict[str, Any]) -> dict[str, Any]:
    return follow(api, conn, job) if not conn.as_json else _quiet_follow(api, job)


def _quiet_follow(api: AdminClient, job: dict[str, Any]) -> dict[str, Any]:
    import time

    while job["state"] not in ("done", "failed", "cancelled"):
        time.sleep(0.5)
        job = api.call("GET", f"/jobs/{job['id']}")
    if job["state"] != "done":
        fail(f"export job {job['id']} {job['state']}: {job.get('last_error')}", 3)
    return job


def _download(api: AdminClient, export_id: str, folder: Path) -> dict[str, Any]:
    """Every file of the bundle; complete files are kept, partial ones resumed with a Range request."""
    manifest_bytes = api.call_bytes("GET", f"/exports/{export_id}")
    manifest = json.loads(manifest_bytes)
    folder.mkdir(parents=True, exist_ok=True)
    for relative, expected in manifest["files"].items():
        _fetch(api, export_id, relative, folder, expected)
    for name in (MANIFEST, SIGNATURE):
        _fetch(api, export_id, name, folder, None)
    return dict(manifest)


def _fetch(
    api: AdminClient, export_id: str, relative: str, folder: Path, expected: dict[str, Any] | None
) -> None:
    target = folder / relative
    if ".." in Path(relative).parts:
        fail(f"the server named an unsafe path {relative!r}", LOCAL_ERROR)
    complete = expected is not None and target.is_file() and target.stat().st_size == expected["bytes"]
    if complete and expected is not None and _sha256(target) == expected["sha256"]:
        return  # downloaded before
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    start = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={start}-"} if start else {}
    with (
        api.translated(),
        api.http.stream("GET", f"/exports/{export_id}/files/{relative}", headers=headers) as response,
    ):
        api.checked(response)
        mode = "ab" if response.status_code == 206 else "wb"
        with partial.open(mode) as handle:
            for chunk in response.iter_bytes(256 * 1024):
                handle.write(chunk)
    partial.replace(target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


@export_app.command("verify")
def export_verify(
    bundle: Annotated[Path, typer.Argument(help="The bundle's folder.")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="The server's export verifying key (PEM).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Verify a bundle offline: the signature, then every file's size and SHA-256, and no extra file."""
    try:
        key = public_key.read_bytes()
    except OSError as exc:
        fail(f"cannot read {public_key}: {exc.strerror}")
    check = verify_bundle(bundle, key)
    data = {"ok": check.ok, "problem": check.problem, "counts": (check.manifest or {}).get("counts")}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    elif check.ok:
        out.print(
            f"bundle verified: signature and {len((check.manifest or {}).get('files', {}))} files match"
        )
    if not check.ok:
        fail(f"bundle does not verify: {check.problem}")


@export_app.command("public-key")
def export_public_key(
    ctx: typer.Context,
    config: ConfigOption = None,
    url: UrlOption = None,
    token_file: TokenFileOption = None,
    ca_bundle: CaOption = None,
) -> None:
    """Print the key that verifies this server's export bundles (PEM): hand it to recipients."""
    conn = connection_for(ctx, connection_options(config, url, token_file, ca_bundle))
    with client(conn) as api:
        typer.echo(api.call_text("GET", "/exports/public-key"), nl=False)
