"""The Dockerfile: hadolint-clean, pinned, non-root, read-only friendly, minimal context."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = {}
    current = None
    for word, rest in instructions():
        if word == "FROM":
            current = rest.split(" AS ")[-1].strip() if " AS " in rest else rest
            result[current] = []
        elif current is not None:
            result[current].append((word, rest))
    return result


def test_hadolint_is_clean() -> None:
    result = subprocess.run(
        [str(HADOLINT), "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_is_pinned_by_digest_and_overridable() -> None:
    args = dict(rest.split("=", 1) for word, rest in instructions() if word == "ARG" and "=" in rest)
    assert re.fullmatch(r"\S+@sha256:[0-9a-f]{64}", args["BASE_IMAGE"]), args["BASE_IMAGE"]
    assert "bitnami" not in args["BASE_IMAGE"]
    froms = [rest for word, rest in instructions() if word == "FROM"]
    assert froms == ["${BASE_IMAGE} AS builder", "${BASE_IMAGE} AS runtime"]


def test_runtime_stage_is_non_root_without_build_tools() -> None:
    runtime = stages()["runtime"]
    words = [w for w, _ in runtime]
    users = [rest for w, rest in runtime if w == "USER"]
    assert users == ["10001:10001"]  # numeric: runAsNonRoot can verify it
    runs = " ".join(rest for w, rest in runtime if w == "RUN")
    for tool in ("apt-get", "gcc", "build-essential", "pip install", "curl", "wget"):
        assert tool not in runs, tool
    assert "HEALTHCHECK" in words and "STOPSIGNAL" in words
    entry = [rest for w, rest in runtime if w == "ENTRYPOINT"]
    assert entry == ['["chatkit-onprem"]']  # exec form: SIGTERM reaches the server, no shell
    env = " ".join(rest for w, rest in runtime if w == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "OPENAI_AGENTS_DISABLE_TRACING=1" in env
    labels = " ".join(rest for w, rest in runtime if w == "LABEL")
    for key in ("title", "version", "revision", "created", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_builder_installs_only_the_hashed_lock() -> None:
    runs = " ".join(rest for w, rest in stages()["builder"] if w == "RUN")
    assert "--require-hashes -r requirements/lock.txt" in runs
    assert "--only-binary :all:" in runs
    assert "--no-deps --no-build-isolation --no-index ." in runs


def test_dockerignore_admits_exactly_what_the_build_uses() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"  # deny by default: no .venv, data/, .git, secrets in the context

    def admitted(path: str) -> bool:
        ok = False
        for rule in rules:
            negate = rule.startswith("!")
            pattern = rule[1:] if negate else rule
            base = pattern.rstrip("/")
            if fnmatch.fnmatch(path, base) or path.startswith(base + "/"):
                ok = negate
        return ok

    copies = [rest for w, rest in instructions() if w == "COPY" and "--from=" not in rest]
    sources = [src for rest in copies for src in rest.split()[:-1] if not src.startswith("--")]
    assert sources
    for src in sources:
        assert (ROOT / src).exists(), src
        assert admitted(src), f"{src} is excluded by .dockerignore"
    for private in (".venv/bin/python", "data/chatkit.duckdb", ".git/config", "tests/conftest.py"):
        assert not admitted(private), private
