"""Write tests/fixtures/wave1-data.tar.gz: a data directory written by the release before encryption.

The migration test (tests/residency/test_key_migration.py) starts today's server on it and
checks that every plaintext row and every object under the old static blob key is
encrypted under data keys while the server serves, with nothing lost. This script is how
the fixture was made, so it can be made again: it exports the commit before the key
hierarchy (wave 1, d9febf3) into a temporary folder, runs that server on a fresh data
directory, writes threads, items and uploads through its API, stops it (SIGTERM:
checkpointed), and packs the data directory with a JSON file of what was written.

    .venv/bin/python scripts/make_wave1_fixture.py [--commit d9febf3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "wave1-data.tar.gz"
# Markers the migration test looks for in the raw bytes: present before, absent after.
MARKERS = {"alice": "WAVE1-ALICE-7f3a", "bob": "WAVE1-BOB-91c2", "file": "WAVE1-FILE-c0de"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commit", default="d9febf3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, data = Path(tmp) / "src", Path(tmp) / "data"
        src.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.commit], cwd=ROOT, capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tree:
            tree.extractall(src, filter="data")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ONPREM_")}
        env.update(
            PYTHONPATH=str(src),
            CHATKIT_ONPREM_DATA_DIR=str(data),
            CHATKIT_ONPREM_LLM__SCRIPTED__TOKEN_DELAY_MS="0",
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "chatkit_onprem", "serve", "--port", str(port)],
            cwd=tmp,
            env=env,
            start_new_session=True,
        )
        try:
            written = write_data(f"http://127.0.0.1:{port}")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(60)
        (data / "written.json").write_text(json.dumps(written, indent=2) + "\n")
        OUT.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(OUT, "w:gz") as out:
            for path in sorted(data.rglob("*")):
                if path.is_file() and ".incoming" not in path.parts:
                    out.add(path, arcname=path.relative_to(data).as_posix())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


def write_data(url: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the wave-1 server did not start")
        time.sleep(0.2)
    written: dict[str, object] = {"markers": MARKERS, "threads": {}, "attachments": {}}
    for user in ("alice", "bob"):
        headers = {"X-Dev-User": user, "X-Dev-Tenant": "acme"}
        upload = httpx.post(
            f"{url}/files",
            headers=headers,
            files={"file": ("notes.txt", f"{MARKERS['file']} {user}\n".encode() * 40, "text/plain")},
        ).json()
        written["attachments"][upload["id"]] = {"user": user, "name": "notes.txt"}  # type: ignore[index]
        for n in range(3):
            body = {
                "type": "threads.create",
                "params": {
                    "input": {
                        "content": [{"type": "input_text", "text": f"{MARKERS[user]} thread {n}"}],
                        "attachments": [upload["id"]] if n == 0 else [],
                        "inference_options": {},
                    }
                },
            }
            stream = httpx.post(f"{url}/chatkit", headers=headers, json=body, timeout=30).text
            thread_id = next(
                json.loads(line[6:])["thread"]["id"]
                for line in stream.splitlines()
                if line.startswith("data: ") and '"thread.created"' in line
            )
            followup = {
                "type": "threads.add_user_message",
                "params": {
                    "thread_id": thread_id,
                    "input": {
                        "content": [{"type": "input_text", "text": f"{MARKERS[user]} follow-up"}],
                        "attachments": [],
                        "inference_options": {},
                    },
                },
            }
            httpx.post(f"{url}/chatkit", headers=headers, json=followup, timeout=30)
            items = httpx.post(
                f"{url}/chatkit",
                headers=headers,
                json={"type": "items.list", "params": {"thread_id": thread_id, "limit": 100}},
            ).json()["data"]
            written["threads"][thread_id] = {"user": user, "items": [i["id"] for i in items]}  # type: ignore[index]
    return written


if __name__ == "__main__":
    main()
