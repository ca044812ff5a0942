"""Store benchmark: item writes/s and items.list latency in a database of 1M items.

    .venv/bin/python scripts/bench_store.py [--items 1000000] [--seconds 10] [--keep DIR]

It drives ``DuckDBStore`` in-process through the same Database owner the server
uses (reader threads, one group-commit writer), on a real file:

* writes: ``add_thread_item`` of a ~600-byte assistant message, sequentially
  (one writer waiting for each commit) and with 64 concurrent writers (what a
  busy server looks like; group commit batches them), for ``--seconds`` each;
* reads: ``load_thread_items(limit=20, order="desc")`` for a 10-item thread and
  a 10,000-item thread whose items are spread through the table, first page and
  a page deep in the big thread, 300 calls each: p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadMetadata

from chatkit_onprem.context import RequestContext
from chatkit_onprem.store import Database, DuckDBDatabase, DuckDBStore, apply_migrations

CTX = RequestContext(tenant="bench", user="u")
TEXT = "lorem ipsum dolor sit amet " * 20
BIG, SMALL = "thr_big", "thr_small"


def populate(db: Database, total: int) -> None:
    """Bulk-load ``total`` items: BIG gets every 100th, SMALL ten, the rest ~10 per thread."""
    threads = total // 10
    started = time.perf_counter()

    def load(cur):  # type: ignore[no-untyped-def]
        cur.execute(
            f"""
            INSERT INTO threads
            SELECT CASE WHEN t = 0 THEN '{BIG}' WHEN t = 1 THEN '{SMALL}' ELSE 'thr_' || t END,
                   'bench', 'u', TIMESTAMPTZ '2026-01-01' + to_seconds(t), now(), t, 'active',
                   ('{{"id":"' || CASE WHEN t = 0 THEN '{BIG}' WHEN t = 1 THEN '{SMALL}' ELSE 'thr_' || t END
                    || '","created_at":"2026-01-01T00:00:00Z","status":{{"type":"active"}},"metadata":{{}}}}')::BLOB
            FROM range({threads}) r(t)
            """
        )
        cur.execute(
            f"""
            INSERT INTO items
            SELECT tid, 'm' || i, 'bench', 'u', 'assistant_message',
                   TIMESTAMPTZ '2026-01-01' + to_milliseconds(i), {threads} + i,
                   ('{{"id":"m' || i || '","thread_id":"' || tid || '","created_at":"'
                    || strftime(TIMESTAMPTZ '2026-01-01' + to_milliseconds(i), '%Y-%m-%dT%H:%M:%S.%fZ')
                    || '","type":"assistant_message","content":[{{"annotations":[],"text":"{TEXT}","type":"output_text"}}]}}')::BLOB
            FROM (
                SELECT i, CASE
                    WHEN i % 100 = 0 THEN '{BIG}'
                    WHEN i % 99991 = 7 AND i < 99991 * 10 THEN '{SMALL}'
                    ELSE 'thr_' || (2 + (i % ({threads} - 2))) END AS tid
                FROM range({total}) r(i)
            )
            """
        )

    db.write_sync(load)
    counts = db.write_sync(
        lambda cur: cur.execute(
            f"SELECT count(*), count(*) FILTER (thread_id = '{BIG}'), count(*) FILTER (thread_id = '{SMALL}')"
            " FROM items"
        ).fetchone()
    )
    db.write_sync(lambda cur: cur.execute("CHECKPOINT"))
    print(
        f"populated {counts[0]:,} items (big thread {counts[1]:,}, small {counts[2]}) "
        f"in {time.perf_counter() - started:.1f} s"
    )


def message(n: int, thread_id: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=f"w{n}",
        thread_id=thread_id,
        created_at=datetime.now(UTC),
        content=[AssistantMessageContent(text=TEXT)],
    )


async def bench_writes(store: DuckDBStore, seconds: float, concurrency: int) -> tuple[float, float]:
    thread_ids = [f"thr_w{concurrency}_{n}" for n in range(concurrency)]
    for thread_id in thread_ids:
        await store.save_thread(ThreadMetadata(id=thread_id, created_at=datetime.now(UTC)), CTX)
    commits_before = store.db.commits
    deadline = time.perf_counter() + seconds
    written = 0
    cpu_before = time.process_time()

    async def writer(thread_id: str) -> None:
        nonlocal written
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            await store.add_thread_item(thread_id, message(n, thread_id), CTX)
            written += 1

    started = time.perf_counter()
    await asyncio.gather(*(writer(t) for t in thread_ids))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    commits = store.db.commits - commits_before
    print(
        f"  writes, {concurrency:>3} concurrent: {written / elapsed:>8,.0f} items/s "
        f"({written / max(commits, 1):.1f} items per commit, {cpu / written * 1000:.2f} ms CPU/item)"
    )
    return written / elapsed, written / max(commits, 1)


async def bench_reads(
    store: DuckDBStore, thread_id: str, label: str, after: str | None = None, calls: int = 300
) -> tuple[float, float]:
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        page = await store.load_thread_items(thread_id, after, 20, "desc", CTX)
        latencies.append((time.perf_counter() - started) * 1000)
        assert page.data
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"  items.list {label:<34} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    return p50, p99


async def main_async(args: argparse.Namespace, folder: Path) -> None:
    db = DuckDBDatabase(folder / "bench.duckdb", memory_limit="1GB", threads=2, reader_threads=4)
    apply_migrations(db)
    populate(db, args.items)
    store = DuckDBStore(db)
    print("reads (limit 20, newest first):")
    await bench_reads(store, SMALL, "thread of 10 items")
    await bench_reads(store, BIG, "thread of 10,000 items")
    deep = (await store.load_thread_items(BIG, None, 100, "asc", CTX)).data[-1].id
    await bench_reads(store, BIG, "10,000 items, cursor deep in thread", after=deep)
    print(f"writes ({args.seconds:.0f} s each):")
    await bench_writes(store, args.seconds, 1)
    await bench_writes(store, args.seconds, 64)
    size = os.path.getsize(folder / "bench.duckdb")
    db.close()
    print(f"file size {size / 1e6:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--keep", type=Path, help="put the database here and keep it")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-store-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(main_async(args, folder))
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
