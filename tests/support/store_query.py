"""Look into a server's database from a test, whichever engine it runs on.

DuckDB: the file, opened while the server is stopped (one process may hold it).
PostgreSQL: a connection of the test's own, at any time. SQL uses ``?`` placeholders.
"""

from __future__ import annotations

from typing import Any

from tests.support.server import ServerProcess


def _postgres_dsn(server: ServerProcess) -> str | None:
    store = server.config.get("store", {})
    if store.get("backend") == "postgres":
        return str(store["postgres"]["dsn"])
    return None


def query(server: ServerProcess, sql: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
    dsn = _postgres_dsn(server)
    if dsn is not None:
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            return list(conn.execute(sql.replace("?", "%s"), args or []).fetchall())  # type: ignore[arg-type]
    import duckdb

    from chatkit_onprem.config import load_settings

    path = load_settings(server.config_path, check_production=False).store_path
    con = duckdb.connect(str(path))
    try:
        return con.execute(sql, args or []).fetchall()
    finally:
        con.close()


def execute(server: ServerProcess, sql: str, args: list[Any] | None = None) -> None:
    dsn = _postgres_dsn(server)
    if dsn is not None:
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.replace("?", "%s"), args or [])  # type: ignore[arg-type]
        return
    import duckdb

    from chatkit_onprem.config import load_settings

    path = load_settings(server.config_path, check_production=False).store_path
    con = duckdb.connect(str(path))
    try:
        con.execute(sql, args or [])
        con.execute("CHECKPOINT")
    finally:
        con.close()
