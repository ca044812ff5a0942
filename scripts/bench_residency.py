"""Residency benchmark: export and purge of one user among many items, and streams' TTFT meanwhile.

    .venv/bin/python scripts/bench_residency.py [--items 1000000] [--export-items 100000]
                                                [--purge-items 10000] [--streams 50]

The database is seeded through the real (encrypting) store with ``--items`` items in all,
of which one user holds ``--export-items`` and another ``--purge-items``. A real server
(fake upstream: 50 ms first token, 40 tokens 10 ms apart) serves ``--streams`` clients:
first alone (baseline TTFT), then while the export job runs, then while the purge job runs.

Targets (issue #11): >= 50,000 items/s exported; a 10,000-item user purged in < 5 s;
< 20 % TTFT p99 impact.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.benchlib.load import (
    Streams,
    admin,
    dump,
    job_state,
    machine,
    seed,
    server_config,
    start_upstream,
    summary,
)
from tests.support.server import ServerProcess


def run_job_under_load(
    server: ServerProcess, streams: int, path: str, body: dict[str, object]
) -> tuple[dict[str, object], Streams]:
    with admin(server) as http:
        answer = http.post(path, json=body)
        assert answer.status_code in (200, 202), answer.text
        job = answer.json()["job"]
    load = Streams(server.url, streams)

    def finished() -> bool:
        return job_state(server, job["id"])["state"] in ("done", "failed", "cancelled")

    asyncio.run(load.run_until(finished))
    return job_state(server, job["id"]), load


def seconds_of(job: dict[str, object]) -> float:
    started = datetime.fromisoformat(str(job["started_at"]))
    finished = datetime.fromisoformat(str(job["finished_at"]))
    return (finished - started).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--export-items", type=int, default=100_000)
    parser.add_argument("--purge-items", type=int, default=10_000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--baseline-seconds", type=float, default=15)
    args = parser.parse_args()
    result: dict[str, object] = {"machine": machine(), **vars(args)}
    upstream, url = start_upstream()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            server = ServerProcess(Path(tmp), server_config(url, Path(tmp) / "data"))
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
                warm = Streams(server.url, args.streams)
                until = time.monotonic() + 3
                asyncio.run(warm.run_until(lambda: time.monotonic() > until))
                base = Streams(server.url, args.streams)
                until = time.monotonic() + args.baseline_seconds
                asyncio.run(base.run_until(lambda: time.monotonic() > until))
                result["without_job"] = {
                    **summary(base.ttft),
                    "turns": base.turns,
                    "failures": len(base.failures),
                }
                p99 = float(result["without_job"]["p99_ms"])  # type: ignore[index]

                export, during = run_job_under_load(
                    server, args.streams, "/exports", {"tenant": "bench", "user": "exported"}
                )
                seconds = seconds_of(export)
                counts = export["result"]["counts"]  # type: ignore[index]
                folder = Path(tmp) / "data" / "exports" / str(export["id"])
                size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                result["export"] = {
                    "state": export["state"],
                    "items": counts["items"],
                    "seconds": round(seconds, 2),
                    "items_per_second": round(counts["items"] / seconds),
                    "bundle_mb": round(size / 1e6, 1),
                    "mb_per_second": round(size / 1e6 / seconds, 1),
                    "ttft": {**summary(during.ttft), "turns": during.turns, "failures": len(during.failures)},
                }
                result["export"]["ttft_p99_impact_percent"] = round(
                    (float(result["export"]["ttft"]["p99_ms"]) / p99 - 1) * 100, 1
                )  # type: ignore[index]

                body = {"tenant": "bench", "user": "purged", "confirm": True}
                purge, during = run_job_under_load(server, args.streams, "/purge", body)
                seconds = seconds_of(purge)
                items = purge["result"]["items"]  # type: ignore[index]
                result["purge"] = {
                    "state": purge["state"],
                    "items": items,
                    "seconds": round(seconds, 2),
                    "items_per_second": round(items / seconds),
                    "ttft": {**summary(during.ttft), "turns": during.turns, "failures": len(during.failures)},
                }
                result["purge"]["ttft_p99_impact_percent"] = round(
                    (float(result["purge"]["ttft"]["p99_ms"]) / p99 - 1) * 100, 1
                )  # type: ignore[index]
            finally:
                server.stop()
    finally:
        upstream.kill()
    dump(result)


if __name__ == "__main__":
    main()
