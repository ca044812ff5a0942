"""A ``chatkit-onprem jobs`` process runs the admin jobs of servers that only serve.

Real processes on a real PostgreSQL: a server with ``server.run_jobs: false`` queues a DEK
rotation and never runs it; a jobs process started on the same configuration claims it,
runs it to the end while the server goes on answering, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.postgres.test_scale_out import as_key, new_key, replica_config
from tests.residency.support import admin_http, wait_job
from tests.support.client import errors
from tests.support.postgres import PostgresCluster
from tests.support.server import EGRESS_DIR, ROOT

pytestmark = pytest.mark.backends("postgres")  # the test sets its database up itself


def _start_jobs_process(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ONPREM_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(EGRESS_DIR), str(ROOT)]),
            "CKO_TEST_EGRESS_LOG": str(log_path.with_suffix(".egress")),
            "NO_PROXY": "*",
        }
    )
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "chatkit_onprem", "jobs", "--config", str(config_path)],
            cwd=config_path.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _state(server: Any, job_id: str) -> str:
    with admin_http(server) as http:
        return str(http.get(f"/jobs/{job_id}").json()["state"])


def test_a_jobs_process_runs_what_a_serving_only_server_queues(
    make_server: Any, postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    server = make_server(replica_config(postgres_cluster.create_database(), server={"run_jobs": False}))
    alice = as_key(server, new_key(server, user="alice")["token"])
    thread_id, _ = alice.create_thread("written before the rotation")

    with admin_http(server) as http:
        answer = http.post("/keys/rotate-dek", json={"confirm": True})
        assert answer.status_code in (200, 202), answer.text
        job_id = answer.json()["job"]["id"]
    time.sleep(3)  # longer than a job runner's poll (2 s): nobody runs it
    assert _state(server, job_id) == "queued"

    log_path = tmp_path / "jobs.log"
    jobs = _start_jobs_process(server.config_path, log_path)
    try:
        job = wait_job(server, job_id, timeout=60)
        assert job["state"] == "done" and job["result"]["keys_rotated"] >= 1, job
        assert job["result"]["items_reencrypted"] >= 1 and job["result"]["threads_reencrypted"] >= 1, job
        # The server kept serving, and reads what the other process re-encrypted.
        assert not errors(alice.send(thread_id, "written after the rotation"))
        items = alice.call("items.list", {"thread_id": thread_id, "limit": 20})["data"]
        assert "written before the rotation" in str(items) and "written after the rotation" in str(items)
    finally:
        jobs.send_signal(signal.SIGTERM)
        code = jobs.wait(30)
    output = log_path.read_text()
    assert code == 0, output
    assert "chatkit-onprem jobs ready" in output and "job started" in output, output
    assert "job started" not in server.log(), "the serving-only server ran a job"
