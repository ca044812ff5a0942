"""Key benchmark: rows re-encrypted per second while 50 streams are served, their TTFT with and
without the job, and the CPU encryption adds to a streamed turn.

    .venv/bin/python scripts/bench_keys.py [--items 200000] [--streams 50] [--baseline-seconds 15]
                                           [--backend postgres]

1. A server's DuckDB file is seeded with ``--items`` encrypted items through the real store.
2. A real server (Granian, fake upstream: 50 ms first token, 40 tokens 10 ms apart) serves
   ``--streams`` concurrent clients for ``--baseline-seconds``: TTFT p50/p99 without a job.
3. ``keys rotate-dek --confirm``: the same clients run until the job is done: TTFT during the
   job, and the job's rows per second (rows re-encrypted / job time).
4. In-process A/B of the store calls of one turn (a conversation turn: the thread and its 40
   newest items read, two items and the thread written) with the encrypting codec and with
   plain payloads: the CPU encryption adds per turn.

``--backend postgres`` runs the server on a throwaway PostgreSQL cluster (Debian's binaries,
as the tests do) on the same machine; the CPU A/B of step 4 stays on DuckDB. With
``--jobs-process`` the server only serves (``server.run_jobs: false``) and a
``chatkit-onprem jobs`` process on the same database runs the job.

Beside TTFT the run reports the cores busy (the machine's and the server's) and how long the
requests' writes waited for their commit (``chatkit_store_write_seconds``) in each window:
what tells a job's cost to streams apart from a full machine.

Targets (issue #10): >= 20,000 rows/s with < 10 % TTFT p99 impact; <= 0.3 ms CPU per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.benchlib.load import (
    dump,
    impact,
    job_seconds,
    job_under_load,
    machine,
    seed,
    server_config,
    start_jobs_process,
    start_upstream,
)
from tests.support.server import ServerProcess


async def _turns(store: object, context: object, turns: int) -> float:
    """Seconds of process CPU per turn for the store calls of one conversation turn."""
    from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadMetadata

    def item(n: int, thread_id: str) -> AssistantMessageItem:
        return AssistantMessageItem(
            id=f"msg_{n}",
            thread_id=thread_id,
            created_at=datetime.now(UTC),
            content=[AssistantMessageContent(text="lorem ipsum dolor sit amet " * 20)],
        )

    thread_id = f"thr_{context.user}"  # type: ignore[attr-defined]
    thread = ThreadMetadata(id=thread_id, created_at=datetime.now(UTC), title="bench")
    await store.save_thread(thread, context)  # type: ignore[attr-defined]
    await store.save_items(thread_id, [item(n, thread_id) for n in range(40)], context)  # type: ignore[attr-defined]
    before = resource.getrusage(resource.RUSAGE_SELF)
    for n in range(turns):
        await store.read_thread_and_history(thread_id, 40, context)  # type: ignore[attr-defined]
        await store.add_thread_item(thread_id, item(1000 + 2 * n, thread_id), context)  # type: ignore[attr-defined]
        await store.add_thread_item(thread_id, item(1001 + 2 * n, thread_id), context)  # type: ignore[attr-defined]
        await store.save_thread(thread, context)  # type: ignore[attr-defined]
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / turns


def cpu_per_turn(turns: int = 1000, rounds: int = 3) -> dict[str, float]:
    """CPU per conversation turn's store work (the thread and its 40 newest items read, two items
    and the thread written), with the encrypting codec and with plain payloads.

    The variants run interleaved ``rounds`` times and the lowest figure of each counts: on a
    shared machine, noise only ever adds time."""
    from chatkit_onprem.config import Settings
    from chatkit_onprem.context import RequestContext
    from chatkit_onprem.services import Services
    from chatkit_onprem.store.chatkit_store import DuckDBStore
    from chatkit_onprem.store.codec import PlainCodec

    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        services = Services.build(Settings(data_dir=Path(tmp)))
        try:
            variants = {"encrypted": services.store, "plain": DuckDBStore(services.db, codec=PlainCodec())}
            for round_ in range(rounds):
                for name, store in variants.items():
                    context = RequestContext(tenant="t", user=f"u-{name}-{round_}")
                    cost = asyncio.run(_turns(store, context, turns)) * 1000
                    best[name] = min(best.get(name, cost), cost)
        finally:
            services.db.close()
    best["added_ms"] = best["encrypted"] - best["plain"]
    return {k: round(v, 3) for k, v in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument(
        "--client",
        default="httpx",
        choices=["httpx", "raw"],
        help="the streams' HTTP client: httpx (earlier figures) or the minimal raw one (less CPU)",
    )
    parser.add_argument("--baseline-seconds", type=float, default=15)
    parser.add_argument("--batch-rows", type=int, default=500)
    parser.add_argument("--duty-cycle", type=float, default=0.5)
    parser.add_argument("--backend", default="duckdb", choices=["duckdb", "postgres"])
    parser.add_argument("--row-group-rows", type=int, default=None, help="store.row_group_rows (DuckDB)")
    parser.add_argument(
        "--jobs-process",
        action="store_true",
        help="postgres: the server only serves (server.run_jobs false); `chatkit-onprem jobs` runs the job",
    )
    args = parser.parse_args()
    result: dict[str, object] = {
        "machine": machine(),
        "items": args.items,
        "streams": args.streams,
        "batch_rows": args.batch_rows,
        "duty_cycle": args.duty_cycle,
        "backend": args.backend,
        "row_group_rows": args.row_group_rows,
        "jobs_process": args.jobs_process,
    }
    if args.jobs_process and args.backend != "postgres":
        parser.error("--jobs-process needs --backend postgres")
    result["cpu_per_conversation_turn_ms"] = cpu_per_turn()
    upstream, url = start_upstream()
    cluster = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            crypto: dict[str, object] = {
                "rotation_batch_rows": args.batch_rows,
                "rotation_duty_cycle": args.duty_cycle,
            }
            config = server_config(url, Path(tmp) / "data", crypto=crypto)
            if args.row_group_rows is not None:
                config["store"] = {"row_group_rows": args.row_group_rows}
            if args.backend == "postgres":
                from tests.support.postgres import PostgresCluster

                cluster = PostgresCluster().start()
                config["store"] = {"backend": "postgres", "postgres": {"dsn": cluster.create_database()}}
                if args.jobs_process:
                    config["server"] = {"run_jobs": False}
            server = ServerProcess(Path(tmp), config)
            users, per_thread = 50, 200
            threads = max(1, args.items // (users * per_thread))
            started = time.perf_counter()
            result["seeded"] = seed(
                server, users=users, threads_per_user=threads, items_per_thread=per_thread
            )
            result["seed_seconds"] = round(time.perf_counter() - started, 1)
            server.start(timeout=60)
            jobs = start_jobs_process(server) if args.jobs_process else None
            try:
                run = job_under_load(
                    server,
                    args.streams,
                    "/keys/rotate-dek",
                    {"confirm": True},
                    args.baseline_seconds,
                    client=args.client,
                )
                final = run.job
                seconds = job_seconds(final)
                rows = sum(v for k, v in (final["result"] or {}).items() if k.endswith("_reencrypted"))
                result["rotate_dek_job"] = {
                    "state": final["state"],
                    "rows_reencrypted": rows,
                    "seconds": round(seconds, 2),
                    "rows_per_second": round(rows / seconds) if seconds else None,
                    "result": final["result"],
                    **impact(run),
                }
            finally:
                if jobs is not None:
                    jobs.terminate()
                    jobs.wait(60)
                server.stop()
    finally:
        upstream.kill()
        if cluster is not None:
            cluster.stop()
    dump(result)


if __name__ == "__main__":
    main()
