"""DuckDB checkpoint stalls: how long a small commit waits while payloads are rewritten in place.

    .venv/bin/python scripts/bench_checkpoint.py [--rows 200000] [--rewrite 100000] [--batch 500]
                                                 [--row-group-rows 16384] [--checkpoint-threshold 1GB]

Why it exists: it isolates what a DEK rotation does to streams on DuckDB (issue #10). A
file holds ``--rows`` rows with 720-byte incompressible payloads (what sealed messages
look like). One thread rewrites ``--rewrite`` of them in place in ``--batch``-row
transactions (the appender in update mode, as ``store/reencrypt.py`` does); another commits
a small "turn" (one row inserted, one updated) every 10 ms, as streams do. Reported: the
rewrite's rows/s, batch and turn commit latency (p50, p99, max), and how many turn commits
waited more than 50 ms. DuckDB checkpoints automatically when the WAL passes
``checkpoint_threshold`` (16 MB); a checkpoint rewrites the updated column of every row
group an update touched, and every commit waits for it. ``--row-group-rows`` attaches the
file with that row group size, as the store does (``store.row_group_rows``; DuckDB's
default, used when the option is left out, is 122,880).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import duckdb


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rewrite", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--checkpoint-threshold", default=None, help="e.g. 256MB (DuckDB's default: 16MB)")
    parser.add_argument("--row-group-rows", type=int, default=None, help="e.g. 16384 (DuckDB's default: 122880)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        con = duckdb.connect(config={"threads": 2, "memory_limit": "512MB"})
        size = f" (ROW_GROUP_SIZE {int(args.row_group_rows)})" if args.row_group_rows else ""
        con.execute(f"ATTACH ? AS bench{size}", [str(path)])
        con.execute("USE bench")
        con.execute(
            "CREATE TABLE items (thread_id VARCHAR, id VARCHAR, payload BLOB, key_id INTEGER,"
            " PRIMARY KEY (thread_id, id))"
        )
        con.execute("CREATE TABLE threads (id VARCHAR PRIMARY KEY, updated_at TIMESTAMP)")
        con.execute(
            "INSERT INTO items SELECT 'thr_' || (i // 200), 'msg_' || i,"
            " (SELECT string_agg(md5(i::VARCHAR || '-' || j::VARCHAR), '') FROM range(22) r(j))::BLOB, 1"
            f" FROM range({args.rows}) t(i)"
        )
        con.execute(f"INSERT INTO threads SELECT 'thr_' || i, now() FROM range({args.rows // 200}) t(i)")
        con.execute("CHECKPOINT")
        if args.checkpoint_threshold:
            con.execute(f"SET checkpoint_threshold = '{args.checkpoint_threshold}'")
        keys = con.execute("SELECT thread_id, id FROM items ORDER BY rowid").fetchall()[: args.rewrite]
        payload = os.urandom(720)
        stop = threading.Event()
        turns: list[float] = []

        def streams() -> None:
            cur, n = con.cursor(), 0
            cur.execute("USE bench")  # a cursor starts in the in-memory catalog
            while not stop.is_set():
                began = time.perf_counter()
                cur.execute("BEGIN")
                cur.execute("INSERT INTO items VALUES (?, ?, ?, 2)", [f"new_{n}", "m", payload])
                cur.execute("UPDATE threads SET updated_at = now() WHERE id = ?", [f"thr_{n % 1000}"])
                cur.execute("COMMIT")
                turns.append(time.perf_counter() - began)
                n += 1
                time.sleep(0.01)

        turn_thread = threading.Thread(target=streams)
        turn_thread.start()
        batches: list[float] = []
        job = con.cursor()
        job.execute("USE bench")
        started = time.perf_counter()
        for start in range(0, len(keys), args.batch):
            began = time.perf_counter()
            job.execute("BEGIN")
            appender = job.appender(
                "items", columns=["thread_id", "id", "payload", "key_id"], action="update", key=["thread_id", "id"]
            )
            appender.append_rows([(t, i, payload, 2) for t, i in keys[start : start + args.batch]])
            appender.flush()
            job.execute("COMMIT")
            batches.append(time.perf_counter() - began)
        seconds = time.perf_counter() - started
        stop.set()
        turn_thread.join()
        con.close()
    ms = 1000
    print(
        json.dumps(
            {
                "rows": args.rows,
                "rewritten": len(keys),
                "batch": args.batch,
                "checkpoint_threshold": args.checkpoint_threshold or "16MB (default)",
                "row_group_rows": args.row_group_rows or "122880 (default)",
                "rewrite_rows_per_second": round(len(keys) / seconds),
                "batch_commit_ms": {
                    "p50": round(statistics.median(batches) * ms, 1),
                    "max": round(max(batches) * ms, 1),
                },
                "turn_commit_ms": {
                    "p50": round(statistics.median(turns) * ms, 1),
                    "p99": round(percentile(turns, 0.99) * ms, 1),
                    "max": round(max(turns) * ms, 1),
                },
                "turn_commits": len(turns),
                "turn_commits_over_50ms": sum(1 for t in turns if t > 0.05),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
