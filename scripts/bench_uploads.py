#!/usr/bin/env python3
"""Upload/download throughput of a 20 MB file through the server vs straight to the object store.

Starts moto (``moto_server``, its own process, 127.0.0.1) and a real chatkit-onprem
server (Granian, one worker) with the S3 backend, then times, for the same file:

* through the server: direct upload (multipart ``POST /files``), two-phase upload
  (``attachments.create`` + raw ``POST /files/{id}``), download (``GET /files/{id}``),
  which includes sniffing, chunked AES-GCM, the DuckDB bookkeeping, and the
  integrity check of the whole object before the first byte is sent;
* straight to moto with the ``minio`` client: ``put_object`` and ``get_object``.

Usage: .venv/bin/python scripts/bench_uploads.py [--mb 20] [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from minio import Minio  # noqa: E402

from tests.support.server import ServerProcess, free_port  # noqa: E402

KEY, SECRET = "bench-access", "bench-secret"


def payload(size: int) -> bytes:
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"  # sniffed as a PDF (an allowed type)
    return head + os.urandom(size - len(head))


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    data = payload(size)

    port = free_port()
    moto = subprocess.Popen(
        [str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
    server: ServerProcess | None = None
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        s3 = Minio(f"127.0.0.1:{port}", access_key=KEY, secret_key=SECRET, secure=False)
        config = {
            "logging": {"level": "warning"},
            "blobs": {
                "backend": "s3",
                "max_file_bytes": size + 1024,
                "user_quota_bytes": 100 * size,
                "s3": {
                    "endpoint": f"http://127.0.0.1:{port}",
                    "bucket": "bench",
                    "access_key": KEY,
                    "secret_key": SECRET,
                    "region": "us-east-1",
                },
            },
        }
        server = ServerProcess(workdir, config).start()
        http = httpx.Client(base_url=server.url, timeout=120, headers={"X-Dev-User": "bench"})

        ids: list[str] = []

        def direct() -> None:
            r = http.post("/files", files={"file": ("bench.pdf", data, "application/pdf")})
            r.raise_for_status()
            ids.append(r.json()["id"])

        def two_phase() -> None:
            r = http.post(
                "/chatkit",
                json={
                    "type": "attachments.create",
                    "params": {"name": "bench.pdf", "size": size, "mime_type": "application/pdf"},
                },
            )
            r.raise_for_status()
            up = http.post(
                r.json()["upload_descriptor"]["url"],
                content=data,
                headers={"content-type": "application/pdf"},
            )
            up.raise_for_status()

        def download() -> None:
            r = http.get(f"/files/{ids[0]}")
            r.raise_for_status()
            assert len(r.content) == size

        def s3_put() -> None:
            s3.put_object("bench", "raw/object", io.BytesIO(data), size, part_size=512 * 1024 * 1024)

        def s3_get() -> None:
            response = s3.get_object("bench", "raw/object")
            try:
                assert len(response.read()) == size
            finally:
                response.close()
                response.release_conn()

        results = {
            "server: direct upload (multipart POST /files)": timed(direct, args.runs),
            "server: two-phase upload (raw POST /files/{id})": timed(two_phase, args.runs),
            "server: download (GET /files/{id})": timed(download, args.runs),
            "object store: put_object": timed(s3_put, args.runs),
            "object store: get_object": timed(s3_get, args.runs),
        }
        mb = size / 1_000_000
        print(f"{mb:.0f} MB file, median of {args.runs} runs, {os.cpu_count()} cores\n")
        print("| path | median s | MB/s |")
        print("|---|---:|---:|")
        for name, times in results.items():
            median = statistics.median(times)
            print(f"| {name} | {median:.2f} | {mb / median:.1f} |")
    finally:
        if server is not None:
            server.stop()
        moto.terminate()
        moto.wait(10)


if __name__ == "__main__":
    main()
