"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temporary folder, a free port.

Started once per test session (only if a test asks for the postgres backend), one fresh
database per server under test. As root (CI), the cluster runs as the ``postgres`` user:
the server refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from tests.support.server import free_port


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run scripts/test-deps postgresql")
    return Path(found[-1]).parent


class PostgresCluster:
    def __init__(self) -> None:
        # Not under pytest's temporary folder: the postgres user must be able to reach it.
        self.root = Path(tempfile.mkdtemp(prefix="chatkit-test-pg-"))
        self.bin = _bin_dir()
        self.port = free_port()
        self.data = self.root / "data"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)

    def start(self) -> PostgresCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        self._run(self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", self.root / "log", "-w", "start")
        return self

    def stop(self) -> None:
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; its DSN."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)
