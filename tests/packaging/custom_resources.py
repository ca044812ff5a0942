"""Validate custom resources (Gateway API, Prometheus Operator, CloudNativePG) offline.

``kubernetes-validate`` knows the built-in kinds only. The custom kinds the chart renders go
through the schema-validating models of the pinned ``@kubernetes-models/*`` npm packages
(``crd-validate/package.json`` + ``package-lock.json``, installed by ``scripts/test-deps``
with ``npm ci``): one node process per test run answers batches of objects, JSON in and one
error (or none) per object out. Those schemas check types, required fields, enums, patterns
and sizes; unlike strict field validation in the API server they do not reject unknown
field names.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any

VALIDATOR_DIR = Path(__file__).resolve().parent / "crd-validate"
# API groups the validator has models for; every other apiVersion is a built-in kind.
CUSTOM_GROUPS = frozenset({"gateway.networking.k8s.io", "monitoring.coreos.com", "postgresql.cnpg.io"})
HOW_TO_INSTALL = "run scripts/test-deps (node + `npm ci` in tests/packaging/crd-validate)"


class CustomResourceError(Exception):
    """A custom resource its schema rejects."""


class ValidatorUnavailable(RuntimeError):
    """node or the pinned packages are missing: a setup error, never a skip."""


def is_custom(manifest: dict[str, Any]) -> bool:
    group = str(manifest.get("apiVersion", "")).rpartition("/")[0]
    return group in CUSTOM_GROUPS


class CustomResourceValidator:
    """One long-lived ``node validate.mjs``; use as a context manager (or call close())."""

    def __init__(self, directory: Path = VALIDATOR_DIR) -> None:
        node = shutil.which("node")
        if node is None:
            raise ValidatorUnavailable(f"custom-resource validation needs node on PATH: {HOW_TO_INSTALL}")
        if not (directory / "node_modules").is_dir():
            raise ValidatorUnavailable(f"{directory / 'node_modules'} is missing: {HOW_TO_INSTALL}")
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; close() closes it
        self._process = subprocess.Popen(
            [node, str(directory / "validate.mjs")],
            cwd=directory,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        try:
            first = self._read_line()
            self.versions: dict[str, str] = json.loads(first)["ready"]
        except Exception:
            self.close()
            raise

    def _read_line(self) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._process.wait(timeout=10)
            self._stderr.seek(0)
            reason = self._stderr.read().decode("utf-8", "replace").strip()
            raise ValidatorUnavailable(
                f"custom-resource validator exited ({self._process.returncode}): {reason}; {HOW_TO_INSTALL}"
            )
        return line

    def errors(self, manifests: list[dict[str, Any]]) -> list[str | None]:
        """One entry per manifest: None when valid, else the schema's complaint."""
        if not manifests:
            return []
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(manifests) + "\n")
        self._process.stdin.flush()
        results: list[str | None] = json.loads(self._read_line())
        assert len(results) == len(manifests), results
        return results

    def validate(self, manifests: list[dict[str, Any]]) -> None:
        """Raise CustomResourceError naming every rejected object and why."""
        problems = [
            f"{m.get('kind')} {m.get('metadata', {}).get('name')}: {error}"
            for m, error in zip(manifests, self.errors(manifests), strict=True)
            if error is not None
        ]
        if problems:
            raise CustomResourceError("; ".join(problems))

    def close(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> CustomResourceValidator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
