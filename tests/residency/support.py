"""Helpers for key and residency tests: the admin CLI as a subprocess, jobs, raw bytes on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import ROOT, ServerProcess

ADMIN_TOKEN = "residency-admin-token-0123456789"


def admin_config(**extra: Any) -> dict[str, Any]:
    return {"auth": {"admin_token": ADMIN_TOKEN}, **extra}


def cli(
    server: ServerProcess | str, *args: str, check: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``chatkit-onprem admin --url <server> --token-file <file> <args>`` in a fresh process."""
    url = server if isinstance(server, str) else server.url
    workdir = Path(server.workdir) if not isinstance(server, str) else Path.cwd()
    token_file = workdir / "admin-token"
    token_file.write_text(ADMIN_TOKEN + "\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ONPREM_")}
    clean["PYTHONPATH"] = str(ROOT)
    clean.update(env or {})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatkit_onprem",
            "admin",
            "--url",
            url,
            "--token-file",
            str(token_file),
            *args,
        ],
        capture_output=True,
        text=True,
        env=clean,
        timeout=300,
        cwd=workdir,
    )
    if check:
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def cli_json(server: ServerProcess, *args: str) -> Any:
    result = cli(server, "--json", *args, check=True)
    return json.loads(result.stdout)


def admin_http(server: ServerProcess) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/admin/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60
    )


def wait_job(server: ServerProcess, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with admin_http(server) as http:
        while True:
            job = http.get(f"/jobs/{job_id}").json()
            if job["state"] in ("done", "failed", "cancelled"):
                return dict(job)
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} did not finish: {job}")
            time.sleep(0.2)


def wait_jobs_idle(server: ServerProcess, timeout: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    with admin_http(server) as http:
        while True:
            jobs = http.get("/jobs", params={"limit": 100}).json()["data"]
            if all(j["state"] in ("done", "failed", "cancelled") for j in jobs):
                return list(jobs)
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs still running: {jobs}")
            time.sleep(0.2)


def data_dir(server: ServerProcess) -> Path:
    return Path(server.config["data_dir"])


def raw_bytes(folder: Path) -> bytes:
    """Every byte of every file under ``folder`` (the database file, its WAL, blobs...)."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


from tests.support.store_query import execute, query  # noqa: E402 - re-exported for the residency tests

__all__ = ["assert_erasure_reapplied", "execute", "query", "run_job_here"]


def assert_erasure_reapplied(
    server: ServerProcess,
    erased: Any,
    kept: Any,
    *,
    erased_thread: str,
    erased_upload: str,
    kept_thread: str,
    kept_text: str,
) -> None:
    """After a restored database met the erasure ledger: the erased user reads as deleted at once,
    the re-applied purge finished, and the other user is intact."""
    assert erased.call("threads.list", {})["data"] == []
    assert erased.post("threads.get_by_id", {"thread_id": erased_thread}).status_code == 404
    assert erased.http.get(f"/files/{erased_upload}").status_code == 404
    jobs = wait_jobs_idle(server)
    reapplied = [j for j in jobs if j["kind"] == "residency.purge" and j["created_by"] == "erasure-ledger"]
    assert reapplied and reapplied[0]["state"] == "done", jobs
    assert [t["id"] for t in kept.call("threads.list", {})["data"]] == [kept_thread]
    assert kept_text in str(kept.call("items.list", {"thread_id": kept_thread}))


async def run_job_here(services: Any, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Submit a job and run its handler in this process (as the runner would), to its result;
    the handler's exception (e.g. ``JobFailedError``) propagates."""
    from chatkit_onprem.residency.jobs import JobContext

    job = await services.jobs.submit(kind, params, "test")
    record = await services.job_rows.claim("worker-a", 60.0, [kind])
    assert record is not None and record.id == job.id, record
    result: dict[str, Any] = await services.jobs.handlers[kind](
        JobContext(record, services.job_rows, "worker-a", 60.0)
    )
    return result
