"""What the admin CLI prints: JSON (``--output json`` / ``--json``) or tables, and job progress.

Tables and progress go to the terminal; JSON goes to stdout alone, so scripts can parse it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chatkit_onprem.cli.client import SERVER_ERROR, AdminClient, Connection, err, fail

out = Console(highlight=False, soft_wrap=True)


def emit(conn: Connection, data: Any, render: Callable[[Any], None] | None = None) -> None:
    if conn.as_json or render is None:
        typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    else:
        render(data)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table in a terminal; tab-separated lines when piped (nothing truncated, easy to cut)."""
    if not out.is_terminal:
        if title:
            typer.echo(f"# {title}")
        typer.echo("\t".join(columns))
        for row in rows:
            typer.echo("\t".join("" if v is None else str(v) for v in row))
        return
    grid = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*["" if v is None else str(v) for v in row])
    out.print(grid)


def pairs(title: str | None, data: dict[str, Any]) -> None:
    table(title, ("", ""), [(k, json.dumps(v) if isinstance(v, dict | list) else v) for k, v in data.items()])


def job_line(job: dict[str, Any]) -> str:
    total = job.get("total")
    progress = f"{job['done']}/{total}" if total is not None else str(job["done"])
    extra = []
    if job.get("rate_per_second"):
        extra.append(f"{job['rate_per_second']}/s")
    if job.get("eta_seconds") is not None:
        extra.append(f"ETA {job['eta_seconds']} s")
    if job.get("last_error"):
        extra.append(f"last error: {job['last_error']}")
    return f"{job['id']}  {job['kind']}  {job['state']}  {progress}  {'  '.join(extra)}".rstrip()


FINAL = ("done", "failed", "cancelled")


def follow(api: AdminClient, conn: Connection, job: dict[str, Any], *, wait: bool = True) -> dict[str, Any]:
    """Show a job until it ends (a progress bar in a terminal); Ctrl-C detaches, the job goes on."""
    if not wait:
        emit(
            conn,
            job,
            lambda j: out.print(f"queued: {job_line(j)}\nfollow it with: admin jobs show {j['id']} --wait"),
        )
        return job
    show_bar = not conn.as_json and err.is_terminal
    try:
        if show_bar:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                console=err,
            ) as bar:
                task = bar.add_task(job["kind"], total=job.get("total"), rate="")
                while job["state"] not in FINAL:
                    time.sleep(0.5)
                    job = api.call("GET", f"/jobs/{job['id']}")
                    rate = f"{job['rate_per_second']}/s" if job.get("rate_per_second") else ""
                    bar.update(task, completed=job["done"], total=job.get("total"), rate=rate)
        else:
            while job["state"] not in FINAL:
                time.sleep(0.5)
                job = api.call("GET", f"/jobs/{job['id']}")
    except KeyboardInterrupt:
        err.print(
            f"detached: job {job['id']} goes on in the server; "
            f"follow it with 'admin jobs show {job['id']} --wait'"
        )
        raise typer.Exit(1) from None
    emit(
        conn,
        job,
        lambda j: out.print(
            job_line(j) + (f"\nresult: {json.dumps(j['result'])}" if j.get("result") else "")
        ),
    )
    if job["state"] == "failed":
        fail(f"job {job['id']} failed: {job.get('last_error')}", SERVER_ERROR)
    if job["state"] == "cancelled":
        fail(f"job {job['id']} was cancelled", SERVER_ERROR)
    return job
