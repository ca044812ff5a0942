"""``chatkit-onprem admin ...``: the compliance and ops admin's CLI, talking to the running server.

The CLI never opens the database while a server owns it: every verb is an authenticated
call to ``/admin/v1``. Conventions for every verb (docs/admin-cli.md):

* ``--url``, ``--token-file``, ``--ca-bundle``, ``--output json|table`` (``--json``), given
  before the verb (``admin --url U keys status``) or after it;
* exit codes 0 ok, 1 usage or local error, 2 refused by the server, 3 server or network failure;
* destructive verbs are dry runs unless ``--confirm``;
* long work is a server-side job shown with a progress bar; Ctrl-C detaches and the job goes
  on (``admin jobs show ID --wait``); a job survives a server restart and resumes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from chatkit_onprem.cli.client import Connection, client, fail
from chatkit_onprem.cli.options import ConfirmOption, JsonOption, NoWaitOption, connected, remember_options
from chatkit_onprem.cli.output import emit, follow, job_line, out, pairs, table

admin_app = typer.Typer(help="Administer a running server (through its admin API).", no_args_is_help=True)
api_keys_app = typer.Typer(help="API keys for service callers.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys: status, rotation, destruction.", no_args_is_help=True)
jobs_app = typer.Typer(help="Long-running admin work in the server.", no_args_is_help=True)
admin_app.add_typer(api_keys_app, name="api-keys")
admin_app.add_typer(keys_app, name="keys")
admin_app.add_typer(jobs_app, name="jobs")

admin_app.callback()(remember_options)  # --url and the others, given before the verb


# --- api keys -------------------------------------------------------------------------
@api_keys_app.command("create")
@connected
def api_key_create(
    conn: Connection,
    tenant: Annotated[str, typer.Option(help="Tenant the key acts in.")],
    name: Annotated[str, typer.Option(help="What the key is for (shown in listings).")],
    user: Annotated[str | None, typer.Option(help="User id the key acts as (default svc:<name>).")] = None,
    role: Annotated[list[str] | None, typer.Option(help="Role (repeatable): user, admin, auditor.")] = None,
) -> None:
    """Create a key. Its token is printed once: store it now, it cannot be shown again."""
    body = {"tenant": tenant, "name": name, "user": user, "roles": role or ["user"]}
    with client(conn) as api:
        created = api.call("POST", "/api-keys", json=body)
    if conn.as_json:
        emit(conn, created)
        return
    out.print(f"created API key {created['id']} (tenant {created['tenant']}, roles {created['roles']})")
    out.print("the token below is shown only now:")
    typer.echo(created["token"])


@api_keys_app.command("list")
@connected
def api_key_list(
    conn: Connection,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List keys (never their secrets)."""
    params: dict[str, Any] = {"include_revoked": include_revoked}
    if tenant is not None:
        params["tenant"] = tenant
    with client(conn) as api:
        keys = api.call("GET", "/api-keys", params=params)["data"]
    emit(
        conn,
        keys,
        lambda rows: table(
            "API keys",
            ("id", "tenant", "user", "roles", "name", "state", "last used"),
            [
                (
                    k["id"],
                    k["tenant"],
                    k["user"],
                    ",".join(k["roles"]),
                    k["name"],
                    f"revoked {k['revoked_at']}" if k["revoked_at"] else "active",
                    k["last_used_at"] or "never",
                )
                for k in rows
            ],
        ),
    )


@api_keys_app.command("revoke")
@connected
def api_key_revoke(
    conn: Connection,
    key_id: Annotated[str, typer.Argument(help="The key's id (from 'list').")],
) -> None:
    """Revoke a key: it stops working at once."""
    with client(conn) as api:
        revoked = api.call("POST", f"/api-keys/{key_id}/revoke")
    emit(conn, revoked, lambda r: out.print(f"revoked API key {r['id']} at {r['revoked_at']}"))


# --- keys -----------------------------------------------------------------------------
@keys_app.command("status")
@connected
def keys_status(
    conn: Connection,
) -> None:
    """KEK versions and their source, data keys by state and KEK version, rows per key state, jobs."""
    with client(conn) as api:
        status = api.call("GET", "/keys")
    emit(conn, status, _render_status)


def _render_status(status: dict[str, Any]) -> None:
    kek = status["kek"]
    out.print(f"KEK: {kek['provider']} ({kek['source']}), primary {kek['primary']}")
    if kek.get("problem"):
        out.print(f"[red]KEK problem:[/red] {kek['problem']}", markup=True)
    if kek.get("missing_versions"):
        out.print(
            f"[red]data keys wrapped by versions missing from the KEK source:[/red] {kek['missing_versions']}"
        )
    table(
        "KEK versions",
        ("version", "primary", "data keys", "server secrets"),
        [
            (v["version"], "yes" if v["primary"] else "", v["data_keys"], v["server_secrets"])
            for v in kek["versions"]
        ],
    )
    table(
        "Data keys",
        ("state", "KEK version", "count"),
        [(d["state"], d["kek_version"], d["count"]) for d in status["data_keys"]],
    )
    table(
        "Rows by key state",
        ("table", "current", "previous", "plaintext", "shredded"),
        [
            (t, s.get("current", 0), s.get("previous", 0), s.get("plaintext", 0), s.get("shredded", 0))
            for t, s in status["rows"].items()
        ],
    )
    if status["jobs"]:
        out.print("Key jobs:")
        for job in status["jobs"]:
            out.print("  " + job_line(job))


@keys_app.command("rotate-kek")
@connected
def keys_rotate_kek(
    conn: Connection,
    confirm: ConfirmOption = False,
    no_wait: NoWaitOption = False,
) -> None:
    """Re-wrap every data key under the KEK's primary (creating a new version where the server can)."""
    with client(conn) as api:
        answer = api.call("POST", "/keys/rotate-kek", json={"confirm": confirm})
        if not confirm:
            emit(conn, answer, lambda p: _dry_run(p, "rotate-kek"))
            return
        if not conn.as_json and answer.get("created_version"):
            out.print(f"created KEK version {answer['created_version']} (now the primary)")
        follow(api, conn, answer["job"], wait=not no_wait)


@keys_app.command("rotate-dek")
@connected
def keys_rotate_dek(
    conn: Connection,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's data keys.")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's (needs --tenant).")] = None,
    confirm: ConfirmOption = False,
    no_wait: NoWaitOption = False,
) -> None:
    """New data keys; re-encrypt rows and files under them while serving; drop the old keys."""
    if user is not None and tenant is None:
        fail("--user needs --tenant")
    with client(conn) as api:
        answer = api.call(
            "POST", "/keys/rotate-dek", json={"tenant": tenant, "user": user, "confirm": confirm}
        )
        if not confirm:
            emit(conn, answer, lambda p: _dry_run(p, "rotate-dek"))
            return
        follow(api, conn, answer["job"], wait=not no_wait)


@keys_app.command("retire-kek")
@connected
def keys_retire_kek(
    conn: Connection,
    version: Annotated[str, typer.Argument(help="The KEK version to retire.")],
    confirm: ConfirmOption = False,
) -> None:
    """Retire a KEK version: refused while any data key or secret is still wrapped by it."""
    with client(conn) as api:
        answer = api.call("POST", "/keys/retire-kek", json={"version": version, "confirm": confirm})
    emit(conn, answer, lambda a: pairs("retire-kek" + ("" if confirm else " (dry run)"), a))


@keys_app.command("destroy")
@connected
def keys_destroy(
    conn: Connection,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant whose keys go (with --user: one user's).")
    ] = None,
    user: Annotated[str | None, typer.Option(help="User whose keys go (needs --tenant).")] = None,
    before: Annotated[str | None, typer.Option(help="YYYY-MM: the keys of every month before it.")] = None,
    compact: Annotated[
        bool, typer.Option(help="Also rewrite the database file (no free pages left).")
    ] = False,
    confirm: ConfirmOption = False,
    no_wait: NoWaitOption = False,
) -> None:
    """Crypto-shred: destroy data keys (every copy of what they encrypted becomes unreadable), then purge."""
    if before is None and tenant is None:
        fail("say whose keys: --tenant T [--user U], or --before YYYY-MM [--tenant T]")
    if user is not None and tenant is None:
        fail("--user needs --tenant")
    body = {"tenant": tenant, "user": user, "before": before, "compact": compact, "confirm": confirm}
    with client(conn) as api:
        answer = api.call("POST", "/keys/destroy", json=body)
        if not confirm:
            emit(conn, answer, lambda p: _dry_run(p, "keys destroy"))
            return
        follow(api, conn, answer["job"], wait=not no_wait)


def _dry_run(plan: dict[str, Any], verb: str) -> None:
    pairs(
        f"{verb}: dry run (nothing changed; add --confirm to act)",
        {k: v for k, v in plan.items() if k != "dry_run"},
    )


@keys_app.command("jobs")
@connected
def keys_jobs(
    conn: Connection,
) -> None:
    """Key jobs (rotation, migration, destruction), newest first."""
    with client(conn) as api:
        jobs = api.call("GET", "/keys")["jobs"]
    emit(conn, jobs, _render_jobs)


# --- jobs -----------------------------------------------------------------------------
def _render_jobs(jobs: list[dict[str, Any]]) -> None:
    table(
        "Jobs",
        ("id", "kind", "state", "done", "total", "rate/s", "ETA s", "last error"),
        [
            (
                j["id"],
                j["kind"],
                j["state"],
                j["done"],
                j["total"],
                j["rate_per_second"],
                j["eta_seconds"],
                j["last_error"],
            )
            for j in jobs
        ],
    )


@jobs_app.command("list")
@connected
def jobs_list(
    conn: Connection,
    active: Annotated[bool, typer.Option("--active", help="Only queued and running jobs.")] = False,
) -> None:
    """Jobs, newest first."""
    with client(conn) as api:
        jobs = api.call("GET", "/jobs", params={"active": active})["data"]
    emit(conn, jobs, _render_jobs)


@jobs_app.command("show")
@connected
def jobs_show(
    conn: Connection,
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow it with a progress bar until it ends.")
    ] = False,
) -> None:
    """One job: progress, rate, ETA, last error, result."""
    with client(conn) as api:
        job = api.call("GET", f"/jobs/{job_id}")
        if wait:
            follow(api, conn, job)
            return
    emit(conn, job, lambda j: pairs(f"job {j['id']}", j))


@jobs_app.command("cancel")
@connected
def jobs_cancel(
    conn: Connection,
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
) -> None:
    """Ask a job to stop at its next batch (what it did so far stays done)."""
    with client(conn) as api:
        job = api.call("POST", f"/jobs/{job_id}/cancel")
    emit(conn, job, lambda j: out.print(f"cancel requested: {job_line(j)}"))


def _json_dump(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


# --- purge ----------------------------------------------------------------------------
@admin_app.command("purge")
@connected
def purge(
    conn: Connection,
    tenant: Annotated[str | None, typer.Option(help="The tenant (alone: the whole tenant).")] = None,
    user: Annotated[str | None, typer.Option(help="One user (needs --tenant).")] = None,
    thread: Annotated[str | None, typer.Option("--thread", help="One thread.")] = None,
    older_than: Annotated[
        str | None, typer.Option(help="Threads inactive this long, e.g. 90d (optionally one --tenant).")
    ] = None,
    compact: Annotated[
        bool, typer.Option(help="Also rewrite the database file (no free pages left).")
    ] = False,
    confirm: ConfirmOption = False,
    no_wait: NoWaitOption = False,
) -> None:
    """Delete a user, a tenant, a thread or old threads for good (dry run unless --confirm).

    User and tenant purges also destroy their data keys, so backups and old object versions
    become unreadable too; every object version and delete marker is removed.
    """
    if not any((tenant, thread, older_than)):
        fail("a purge needs a scope: --user U --tenant T, --tenant T, --thread ID or --older-than 90d")
    body = {
        "tenant": tenant,
        "user": user,
        "thread_id": thread,
        "older_than": older_than,
        "compact": compact,
        "confirm": confirm,
    }
    with client(conn) as api:
        answer = api.call("POST", "/purge", json=body)
        if not confirm:
            emit(conn, answer, lambda p: _dry_run(p, "purge"))
            return
        follow(api, conn, answer["job"], wait=not no_wait)


# --- legal holds ------------------------------------------------------------------------
holds_app = typer.Typer(help="Legal holds: block purges and retention for a subject.", no_args_is_help=True)
admin_app.add_typer(holds_app, name="holds")


@holds_app.command("create")
@connected
def holds_create(
    conn: Connection,
    case: Annotated[str, typer.Option(help="Case reference.")],
    reason: Annotated[str, typer.Option(help="Why the data is held.")],
    tenant: Annotated[str | None, typer.Option(help="The tenant (alone: the whole tenant).")] = None,
    user: Annotated[str | None, typer.Option(help="One user (needs --tenant).")] = None,
    thread: Annotated[str | None, typer.Option("--thread", help="One thread.")] = None,
) -> None:
    """Place a hold: purges and retention refuse or skip what it covers until it is released."""
    body = {"tenant": tenant, "user": user, "thread_id": thread, "case": case, "reason": reason}
    with client(conn) as api:
        hold = api.call("POST", "/holds", json=body)
    emit(conn, hold, lambda h: out.print(f"hold {h['id']} placed (case {h['case']})"))


@holds_app.command("list")
@connected
def holds_list(
    conn: Connection,
    include_released: Annotated[bool, typer.Option("--all", help="Include released holds.")] = False,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's holds.")] = None,
) -> None:
    """Holds in force (or all, with --all)."""
    params: dict[str, Any] = {"include_released": include_released}
    if tenant:
        params["tenant"] = tenant
    with client(conn) as api:
        holds = api.call("GET", "/holds", params=params)["data"]
    emit(
        conn,
        holds,
        lambda rows: table(
            "Legal holds",
            ("id", "tenant", "user", "thread", "case", "reason", "created", "released"),
            [
                (
                    h["id"],
                    h["tenant"],
                    h["user"],
                    h["thread_id"],
                    h["case"],
                    h["reason"],
                    h["created_at"],
                    h["released_at"],
                )
                for h in rows
            ],
        ),
    )


@holds_app.command("release")
@connected
def holds_release(
    conn: Connection,
    hold_id: Annotated[str, typer.Argument(help="The hold's id.")],
) -> None:
    """Release a hold (kept in the list with --all, and in the audit log)."""
    with client(conn) as api:
        hold = api.call("POST", f"/holds/{hold_id}/release")
    emit(conn, hold, lambda h: out.print(f"hold {h['id']} released at {h['released_at']}"))


# --- retention --------------------------------------------------------------------------
retention_app = typer.Typer(
    help="Retention policies (retention.policies in the config).", no_args_is_help=True
)
admin_app.add_typer(retention_app, name="retention")


@retention_app.command("run")
@connected
def retention_run(
    conn: Connection,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be deleted, delete nothing.")
    ] = False,
    no_wait: NoWaitOption = False,
) -> None:
    """Apply the retention policies now (what the chart's CronJob runs); holds are respected."""
    with client(conn) as api:
        answer = api.call("POST", "/retention/run", json={"dry_run": dry_run})
        if dry_run:
            emit(conn, answer, _render_retention)
            return
        follow(api, conn, answer["job"], wait=not no_wait)


@retention_app.command("show")
@connected
def retention_show(
    conn: Connection,
) -> None:
    """The policies in force and what they would delete now."""
    with client(conn) as api:
        emit(conn, api.call("GET", "/retention"), _render_retention)


def _render_retention(plan: dict[str, Any]) -> None:
    out.print(f"policies: {json.dumps(plan['policies'])}")
    table(
        "Would be deleted now",
        ("tenant", "threads", "items", "uploads (old)", "held threads skipped"),
        [
            (
                t["tenant"],
                t.get("threads", 0),
                t.get("items", 0),
                t.get("old_uploads", 0),
                t.get("skipped_held_threads", 0),
            )
            for t in plan["tenants"]
        ],
    )


# --- audit ------------------------------------------------------------------------------
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
admin_app.add_typer(audit_app, name="audit")


@audit_app.command("list")
@connected
def audit_list(
    conn: Connection,
    since: Annotated[str | None, typer.Option(help="ISO time, e.g. 2026-11-01T00:00:00Z.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only entries by this caller.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 200,
) -> None:
    """Audit entries, oldest first."""
    params: dict[str, Any] = {"limit": limit}
    if since:
        params["since"] = since
    if actor:
        params["actor"] = actor
    with client(conn) as api:
        rows = api.call("GET", "/audit", params=params)["data"]
    emit(
        conn,
        rows,
        lambda entries: table(
            "Audit log",
            ("seq", "at", "actor", "verb", "tenant", "user", "outcome", "counts"),
            [
                (
                    e["seq"],
                    e["at"],
                    e["actor"],
                    e["verb"],
                    e["tenant"],
                    e["user"],
                    e["outcome"],
                    json.dumps(e["counts"]),
                )
                for e in entries
            ],
        ),
    )


@audit_app.command("verify")
@connected
def audit_verify(
    conn: Connection,
) -> None:
    """Recompute the hash chain; name the first broken entry; print the head hash to record elsewhere."""
    with client(conn) as api:
        result = api.call("GET", "/audit/verify")
    emit(
        conn,
        result,
        lambda r: out.print(
            f"audit chain intact: {r['entries']} entries, head hash {r['head_hash']}"
            if r["ok"]
            else f"AUDIT CHAIN BROKEN at entry {r['first_broken_seq']}: {r['problem']}"
        ),
    )
    if not result["ok"]:
        raise typer.Exit(1)


@audit_app.command("export")
@connected
def audit_export(
    conn: Connection,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write JSON lines here (default: stdout).")
    ] = None,
) -> None:
    """The whole log as JSON lines (with each entry's hashes, so it can be verified elsewhere)."""
    with (
        client(conn, timeout=300) as api,
        api.translated(),
        api.http.stream("GET", "/audit/export") as response,
    ):
        api.checked(response)
        if out_file is None:
            for chunk in response.iter_bytes():
                typer.echo(chunk.decode(), nl=False)
            return
        with out_file.open("wb") as handle:
            for chunk in response.iter_bytes():
                handle.write(chunk)
    err_print(f"audit log written to {out_file}")


def err_print(text: str) -> None:
    from chatkit_onprem.cli.client import err

    err.print(text)


# --- moving to PostgreSQL (offline) -----------------------------------------------------
@admin_app.command("migrate-store")
def migrate_store(
    source: Annotated[str, typer.Option("--from", help="duckdb:PATH of the stopped server's file.")],
    target: Annotated[str, typer.Option("--to", help="postgres:DSN of an empty database.")],
    as_json: JsonOption = False,
) -> None:
    """Copy a DuckDB deployment into PostgreSQL (offline: stop the server first), then verify
    every table by row count and checksum. Keep the same KEK keyring and blob store."""
    from chatkit_onprem.logging import configure_logging
    from chatkit_onprem.store.database import DatabaseLockedError
    from chatkit_onprem.store.migrate import MigrationError, migrate_duckdb_to_postgres

    configure_logging(level="warning", fmt="console", log_content=False)  # stderr; stdout is the report
    if not source.startswith("duckdb:") or not target.startswith("postgres:"):
        fail("expected --from duckdb:PATH --to postgres:DSN")
    path, dsn = Path(source.removeprefix("duckdb:")), target.removeprefix("postgres:")

    def progress(table: str, rows: int) -> None:
        if not as_json:
            out.print(f"{table}: {rows} rows copied")

    try:
        results = migrate_duckdb_to_postgres(path, dsn, progress=progress)
    except (MigrationError, DatabaseLockedError) as exc:
        fail(str(exc))
    except Exception as exc:  # psycopg's connection errors: libpq says what is wrong
        fail(f"the move failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", 3)
    data = [{"table": r.table, "rows": r.rows, "checksum": r.sha256} for r in results]
    if as_json:
        typer.echo(json.dumps({"verified": True, "tables": data}, indent=2))
        return
    rows = [(r.table, r.rows, r.sha256[:16]) for r in results]
    table("verified: every table matches", ("table", "rows", "checksum"), rows)
