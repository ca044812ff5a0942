"""Start a real chatkit-onprem server (Granian, one worker) as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
EGRESS_DIR = Path(__file__).resolve().parent / "egress"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


DEFAULT_TEST_CONFIG: dict[str, Any] = {
    "llm": {"scripted": {"token_delay_ms": 0}},
    "server": {"shutdown_grace_seconds": 2},
    "logging": {"level": "info", "format": "json"},
}


class ServerProcess:
    """One server on a free loopback port, its data in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config = deep_merge(DEFAULT_TEST_CONFIG, config or {})
        self.config.setdefault("data_dir", str(workdir / "data"))
        self.config_path = workdir / "config.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config))
        self.log_path = workdir / "server.log"
        self.egress_log = workdir / "egress.log"
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ONPREM_")}
        env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(EGRESS_DIR), str(ROOT)]),
                "CKO_TEST_EGRESS_LOG": str(self.egress_log),
                "NO_PROXY": "*",
            }
        )
        env.update(self.extra_env)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chatkit_onprem",
                "serve",
                "--config",
                str(self.config_path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=self.workdir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> list[dict[str, Any]]:
        """The server's structured (JSON) log lines; Granian's own plain lines are skipped."""
        records = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return records

    def egress(self) -> list[str]:
        if not self.egress_log.exists():
            return []
        return [line for line in self.egress_log.read_text().splitlines() if line]

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait: the graceful path."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group: the crash path."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
