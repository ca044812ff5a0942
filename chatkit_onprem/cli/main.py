"""``chatkit-onprem``: serve, and check the configuration."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from typer.exceptions import TyperException

from chatkit_onprem import __version__
from chatkit_onprem.cli import export as _export  # noqa: F401 - registers 'admin export'
from chatkit_onprem.cli.admin import admin_app
from chatkit_onprem.config import (
    CONFIG_ENV,
    ConfigError,
    Settings,
    config_file_in_use,
    load_settings,
    redacted_dump,
)
from chatkit_onprem.logging import agents_log_environment

app = typer.Typer(
    help="Self-hosted, air-gapped ChatKit backend.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a traceback must never print tokens held in locals
)
config_app = typer.Typer(help="Inspect and validate the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(admin_app, name="admin")
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help=f"YAML config file (default: ${CONFIG_ENV}, else config/chatkit-onprem.yaml)."
    ),
]


def _load(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Listen address (overrides server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (overrides server.port).")] = None,
) -> None:
    """Run the server: Granian with ``server.workers`` processes (1 with DuckDB: the process owns
    the file; with PostgreSQL about one per core).

    Connection hygiene uses Granian's own settings (docs/architecture.md §2): HTTP/1.1
    only, so the header timer runs from accept (hyper-util's auto mode has no timer
    while it sniffs the protocol, so a silent connection was held forever) and also
    closes idle keep-alive connections; ``backpressure`` caps open connections per
    process, and the process's open-files limit is raised to fit it."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    file = config_file_in_use(config)
    if file is not None:
        os.environ[CONFIG_ENV] = str(file.resolve())
    if host is not None:
        os.environ["CHATKIT_ONPREM_SERVER__HOST"] = host
    if port is not None:
        os.environ["CHATKIT_ONPREM_SERVER__PORT"] = str(port)
    settings = _load(None)  # validate here, so a bad config fails before Granian starts
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # The worker process resolves data_dir the same way: pin it to an absolute path.
    os.environ["CHATKIT_ONPREM_DATA_DIR"] = str(settings.data_dir.resolve())
    # The worker imports the Agents SDK, which reads these once: whatever the environment said.
    os.environ.update(agents_log_environment(settings.logging.log_content))
    server = settings.server
    connections = fit_open_files(server.max_connections)
    if server.workers > 1:
        # Every worker counts its own metrics; a scrape reaches one of them, so they share
        # prometheus-client's multiprocess files. prometheus-client picks its value store
        # when it is imported, and this process has imported it already: workers are
        # spawned (a fresh interpreter that sees the variable), not forked with our copy.
        metrics_dir = settings.data_dir.resolve() / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        multiprocessing.set_start_method("spawn", force=True)
    Server(
        "chatkit_onprem.app:app_from_environment",
        factory=True,
        address=server.host,
        port=server.port,
        interface=Interfaces.ASGI,
        workers=server.workers,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=int(server.header_timeout_seconds * 1000)),
        backlog=server.backlog,
        backpressure=connections,
        log_access=False,
        workers_kill_timeout=int(server.shutdown_grace_seconds) + 15,
    ).serve()


@app.command()
def jobs(config: ConfigOption = None) -> None:
    """Run admin jobs (key rotation, exports, purges, retention) and serve nothing: beside servers
    with ``server.run_jobs: false`` on the same PostgreSQL database, so jobs never share a process
    with streams. Stops on SIGTERM; a running job resumes from its last batch wherever it is
    claimed next."""
    import asyncio

    from chatkit_onprem.logging import configure_logging
    from chatkit_onprem.residency.worker import run_jobs

    settings = _load(config)
    if settings.store.backend != "postgres":
        err.print(
            "[red]chatkit-onprem jobs: needs store.backend 'postgres'. With DuckDB the server's "
            "process owns the file and runs the jobs itself.[/red]"
        )
        raise typer.Exit(2)
    configure_logging(
        level=settings.logging.level, fmt=settings.log_format, log_content=settings.logging.log_content
    )
    asyncio.run(run_jobs(settings))


#: File descriptors kept for everything but client connections: upstream connections
#: (one per running stream), the DuckDB file and WAL, blobs, logs.
RESERVED_FILES = 1024


def fit_open_files(max_connections: int) -> int:
    """Raise the open-files limit (inherited by the worker) to fit ``max_connections`` client
    connections plus as many upstream ones and ``RESERVED_FILES``; return the connection cap
    that fits, lowered (and said) when the hard limit is too small."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * max_connections + RESERVED_FILES
    ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < ceiling:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
        soft = ceiling
    fits = max(16, (soft - RESERVED_FILES) // 2)
    if fits < max_connections:
        err.print(
            f"[yellow]server.max_connections {max_connections} does not fit the open-files limit "
            f"({soft}); serving at most {fits} connections[/yellow]"
        )
        return fits
    return max_connections


@config_app.command("check")
def config_check(
    config: ConfigOption = None,
    output: Annotated[str, typer.Option("--format", help="yaml or json")] = "yaml",
    probe: Annotated[
        bool, typer.Option("--probe", help="Also call every model alias once (through its proxy) and report.")
    ] = False,
) -> None:
    """Validate the configuration and print the effective values, secrets redacted."""
    settings = _load(config)
    data = redacted_dump(settings)
    source = config_file_in_use(config)
    origin = source or "built-in defaults"
    err.print(f"[green]configuration is valid[/green] (file: {origin}, mode: {settings.mode})")
    typer.echo(json.dumps(data, indent=2) if output == "json" else yaml.safe_dump(data, sort_keys=False))
    if probe:
        _probe_upstreams(settings)


def _probe_upstreams(settings: Settings) -> None:
    """Report per alias on stderr (stdout stays the config); exit 1 if any alias fails."""
    import asyncio

    from chatkit_onprem.llm.probe import probe_all
    from chatkit_onprem.logging import configure_logging

    configure_logging(level="error", fmt="console", log_content=False)  # stderr, and quiet
    results = asyncio.run(probe_all(settings.llm))
    for result in results:
        mark = "[green]ok[/green]  " if result.ok else "[red]FAIL[/red]"
        timing = f" first token {result.first_token_ms:.0f} ms" if result.first_token_ms is not None else ""
        line = f"{mark} {result.alias}: {result.route}: {result.detail}{timing}"
        err.print(line, highlight=False, soft_wrap=True)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON schema of the configuration file (used by the Helm chart)."""
    typer.echo(json.dumps(Settings.model_json_schema(), indent=2))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """The ``chatkit-onprem`` entry point.

    Usage errors (an unknown option or command) exit 1, not click's 2: the admin CLI's
    documented exit codes reserve 2 for "refused by the server".
    """
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except TyperException as exc:
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(str(exc))
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
