"""Residency benchmark: export and purge of one user among many items, and streams' TTFT meanwhile.

    .venv/bin/python scripts/bench_residency.py [--items 1000000] [--export-items 100000]
                                                [--purge-items 10000] [--streams 50]
                                                [--export-duty-cycle 0.5]

The database is seeded through the real (encrypting) store with ``--items`` items in all,
of which one user holds ``--export-items`` and another ``--purge-items``. A real server
(fake upstream: 50 ms first token, 40 tokens 10 ms apart) serves ``--streams`` clients:
first alone (baseline TTFT), then while the export job runs, then while the purge job runs.

Targets (issue #11): >= 50,000 items/s exported; a 10,000-item user purged in < 5 s;
< 20 % TTFT p99 impact.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.benchlib.load import (
    dump,
    impact,
    job_seconds,
    job_under_load,
    machine,
    seed,
    server_config,
    start_upstream,
)
from tests.support.server import ServerProcess


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--export-items", type=int, default=100_000)
    parser.add_argument("--purge-items", type=int, default=10_000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument(
        "--client",
        default="httpx",
        choices=["httpx", "raw"],
        help="the streams' HTTP client: httpx (earlier figures) or the minimal raw one (less CPU)",
    )
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument(
        "--export-duty-cycle", type=float, default=None, help="exports.duty_cycle (default: the config's)"
    )
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine(), **vars(args)}
    upstream, url = start_upstream()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            extra = {} if args.export_duty_cycle is None else {"exports": {"duty_cycle": args.export_duty_cycle}}
            server = ServerProcess(Path(tmp), server_config(url, Path(tmp) / "data", **extra))
            rest = max(0, args.items - args.export_items - args.purge_items)
            users, per_thread = 100, 200
            started = time.perf_counter()
            result["seeded"] = seed(
                server,
                users=users,
                threads_per_user=max(1, rest // (users * per_thread)),
                items_per_thread=per_thread,
                big_users={"exported": args.export_items, "purged": args.purge_items},
            )
            result["seed_seconds"] = round(time.perf_counter() - started, 1)
            result["database_mb"] = round((Path(tmp) / "data" / "chatkit.duckdb").stat().st_size / 1e6, 1)
            server.start(timeout=120)
            try:
                run = job_under_load(
                    server,
                    args.streams,
                    "/exports",
                    {"tenant": "bench", "user": "exported"},
                    args.baseline_seconds,
                    client=args.client,
                )
                seconds = job_seconds(run.job)
                counts = run.job["result"]["counts"]
                # The bundle's plaintext size (it is kept encrypted in the blob store).
                size = sum(run.job["result"]["files"].values())
                result["export"] = {
                    "state": run.job["state"],
                    "items": counts["items"],
                    "seconds": round(seconds, 2),
                    "items_per_second": round(counts["items"] / seconds),
                    "bundle_mb": round(size / 1e6, 1),
                    "mb_per_second": round(size / 1e6 / seconds, 1),
                    **impact(run),
                }
                body = {"tenant": "bench", "user": "purged", "confirm": True}
                run = job_under_load(
                    server, args.streams, "/purge", body, args.baseline_seconds, client=args.client
                )
                seconds = job_seconds(run.job)
                items = run.job["result"]["items"]
                result["purge"] = {
                    "state": run.job["state"],
                    "items": items,
                    "seconds": round(seconds, 2),
                    "items_per_second": round(items / seconds),
                    **impact(run),
                }
            finally:
                server.stop()
    finally:
        upstream.kill()
    dump(result)


if __name__ == "__main__":
    main()
