"""Streaming benchmark: server overhead and CPU per streamed turn, RSS per open stream.

    .venv/bin/python scripts/bench_stream.py [--concurrency 1 50 200] [--turns-per-stream 3]
                                             [--server-cpu 0] [--api-style chat_completions]
                                             [--converse] [--set llm.text_interval_ms=0]
                                             [--backend postgres] [--workers 2]

A real server (Granian, one worker, DuckDB file) is started against a fast fake
OpenAI-compatible upstream that runs in its own process: first token after
50 ms, then 40 tokens 10 ms apart (``--first-ms``, ``--tokens``, ``--gap-ms``).
The server is pinned to one core (``--server-cpu``), the upstream and this
client to the others, so the figures are the server's own.

``--backend postgres`` starts a throwaway PostgreSQL cluster (Debian's binaries, as the
tests do) and points the store at it; ``--workers N`` runs N Granian workers (then the
server is not pinned unless ``--server-cpu`` names a core, and PostgreSQL's own CPU is
counted with the server's: a turn's cost is the whole backend's).

For each concurrency level C, C clients each run ``--turns-per-stream`` turns
back to back: each a new thread (``threads.create``), or with ``--converse`` one
thread per client that every later turn continues (``threads.add_user_message``:
the history is read and sent to the model). Reported:

* TTFT at the client (request sent → first text delta), p50/p95/p99, and the server
  overhead = client TTFT - the upstream's own 50 ms;
* turns shed at admission (503 + Retry-After past ``server.max_streams``) and failed
  turns (an error event, a cut or a non-200 other than a shed);
* server CPU per turn = (user+system CPU of the server processes) / turns;
* turns/s; idle RSS of the worker, and RSS growth per open stream at the peak;
* store writes per turn and per commit (the group-commit batch size), from /metrics;
* how busy the server was (its CPU seconds per second: 1.0 is its pinned core saturated) and
  the load generator (this process and the fake upstream, in cores): when the load
  generator's cores are near full, it sets the pace and the level says nothing about the
  server's saturation. ``--client raw`` (a minimal keep-alive HTTP/1.1 client) takes far
  less CPU per turn than httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import yaml

from scripts.benchlib.rawhttp import RawConnection
from tests.support.server import ServerProcess

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

UPSTREAM = """
import sys, time
sys.path.insert(0, {root!r})
from tests.llm.fakes import FakeUpstream, Reply
tokens = [f"tok{{i}} " for i in range({tokens})]
up = FakeUpstream(default=Reply(tokens=tokens, first_delay={first}, token_delay={gap}, usage=(30, {tokens})))
up.start()
print(up.url, flush=True)
while True:
    time.sleep(3600)
"""


def tree_pids(root: int) -> list[int]:
    out = [root]
    for pid in list(out):
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                out += [int(c) for c in children if int(c) not in out]
        except OSError:
            pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / CLK


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20
    except OSError:
        return 0.0


class Shed(Exception):
    """The server refused the stream with 503 + Retry-After (admission control)."""


async def one_turn(
    client: httpx.AsyncClient, text: str, thread_id: str | None = None
) -> tuple[float, float, str | None]:
    """One streamed turn: a new thread, or a message in ``thread_id``.

    Returns (time to first text delta, whole turn, the thread's id); raises ``Shed`` when
    the server refused the stream at admission and RuntimeError when the turn failed."""
    started = time.perf_counter()
    async with client.stream("POST", "/chatkit", json=_turn_body(text, thread_id)) as response:
        if response.status_code == 503 and response.headers.get("retry-after"):
            await response.aread()
            raise Shed()
        assert response.status_code == 200, response.status_code
        return await _read_turn(response.aiter_bytes(), started, thread_id)


async def one_turn_raw(
    conn: RawConnection, text: str, thread_id: str | None = None
) -> tuple[float, float, str | None]:
    """``one_turn`` over a ``RawConnection`` (``--client raw``): the same outcomes, less client CPU."""
    started = time.perf_counter()
    response = await conn.post("/chatkit", json.dumps(_turn_body(text, thread_id)).encode())
    if response.status != 200:
        async for _ in response.chunks:  # read to the end: the connection is kept
            pass
        if response.status == 503 and "retry-after" in response.headers:
            raise Shed()
        raise RuntimeError(f"status {response.status}")
    return await _read_turn(response.chunks, started, thread_id)


async def _read_turn(
    chunks: AsyncIterator[bytes], started: float, thread_id: str | None
) -> tuple[float, float, str | None]:
    """Read a turn's stream to its end: (time to first text delta, whole turn, the thread's id);
    RuntimeError when it held an error event."""
    first = 0.0
    error = None
    async for chunk in chunks:
        if thread_id is None and b'"thread.created"' in chunk:
            thread_id = json.loads(chunk.split(b"data: ", 1)[1].split(b"\n", 1)[0])["thread"]["id"]
        if not first and b"content_part.text_delta" in chunk:
            first = time.perf_counter() - started
        if b'"type":"error"' in chunk:
            error = chunk.decode(errors="replace")[:500]
    if error is not None:
        raise RuntimeError(error)
    return first, time.perf_counter() - started, thread_id


def _turn_body(text: str, thread_id: str | None) -> dict[str, object]:
    user_input = {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }
    if thread_id is None:
        return {"type": "threads.create", "params": {"input": user_input}}
    return {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input}}


async def store_counters(client: httpx.AsyncClient) -> tuple[float, float]:
    """(commits, writes) from /metrics: writes per commit is the group-commit batch size."""
    text = (await client.get("/metrics", headers={"X-Dev-Roles": "auditor"})).text
    values = {}
    for line in text.splitlines():
        if line.startswith(("chatkit_store_commits_total ", "chatkit_store_writes_total ")):
            name, value = line.split()
            values[name] = float(value)
    return values.get("chatkit_store_commits_total", 0.0), values.get("chatkit_store_writes_total", 0.0)


async def level(
    url: str,
    concurrency: int,
    turns: int,
    worker: int,
    server_pids: Callable[[], list[int]],
    converse: bool,
    *,
    raw: bool = False,
    upstream_pid: int | None = None,
) -> dict[str, float]:
    limits = httpx.Limits(max_connections=concurrency + 10, max_keepalive_connections=concurrency + 10)
    peak_rss = 0.0
    headers = {"X-Dev-User": "bench"}
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits, headers=headers) as client:
        connections = [RawConnection(url, headers) for _ in range(concurrency)] if raw else []

        async def turn(n: int, text: str, thread_id: str | None) -> tuple[float, float, str | None]:
            if raw:
                return await one_turn_raw(connections[n], text, thread_id)
            return await one_turn(client, text, thread_id)

        warm = [turn(n, "warm up", None) for n in range(min(concurrency, 20))]
        await asyncio.gather(*warm, return_exceptions=True)
        pids = server_pids()  # after the warm-up: PostgreSQL starts a backend per connection
        idle_rss = rss_mb(worker)
        ttft: list[float] = []
        outcome = {"shed": 0, "failed": 0}
        done = asyncio.Event()

        async def sampler() -> None:
            nonlocal peak_rss
            while not done.is_set():
                peak_rss = max(peak_rss, rss_mb(worker))
                await asyncio.sleep(0.05)

        async def stream(n: int) -> None:
            thread_id: str | None = None
            for t in range(turns if concurrency > 1 else max(turns, 20)):
                try:
                    first, _, created = await turn(n, f"stream {n} turn {t}", thread_id)
                except Shed:
                    outcome["shed"] += 1
                    continue
                except (RuntimeError, httpx.HTTPError, AssertionError, OSError, asyncio.IncompleteReadError):
                    outcome["failed"] += 1
                    continue
                thread_id = created if converse else None
                ttft.append(first)

        def load_generator_cpu() -> float:
            """This process's CPU and the fake upstream's: the load generator's."""
            own = resource.getrusage(resource.RUSAGE_SELF)
            return own.ru_utime + own.ru_stime + (cpu_seconds([upstream_pid]) if upstream_pid else 0.0)

        sampling = asyncio.create_task(sampler())
        commits0, writes0 = await store_counters(client)
        cpu0, gen0, wall0 = cpu_seconds(pids), load_generator_cpu(), time.perf_counter()
        await asyncio.gather(*(stream(n) for n in range(concurrency)))
        cpu1, gen1, wall1 = cpu_seconds(pids), load_generator_cpu(), time.perf_counter()
        for conn in connections:
            await conn.close()
        commits1, writes1 = await store_counters(client)
        done.set()
        await sampling
    count = max(1, len(ttft))
    ttft.sort()
    return {
        "concurrency": concurrency,
        "turns": len(ttft),
        "shed": outcome["shed"],
        "failed": outcome["failed"],
        "ttft_p50_ms": statistics.median(ttft) * 1000 if ttft else 0.0,
        "ttft_p95_ms": ttft[int(0.95 * (len(ttft) - 1))] * 1000 if ttft else 0.0,
        "ttft_p99_ms": ttft[int(0.99 * (len(ttft) - 1))] * 1000 if ttft else 0.0,
        "cpu_ms_per_turn": (cpu1 - cpu0) / count * 1000,
        "turns_per_s": len(ttft) / (wall1 - wall0),
        "server_cores_busy": (cpu1 - cpu0) / (wall1 - wall0),
        "load_generator_cores_busy": (gen1 - gen0) / (wall1 - wall0),
        "idle_rss_mb": idle_rss,
        "peak_rss_mb": peak_rss,
        "rss_kb_per_stream": max(0.0, peak_rss - idle_rss) * 1024 / concurrency,
        "writes_per_turn": (writes1 - writes0) / count,
        "writes_per_commit": (writes1 - writes0) / max(1.0, commits1 - commits0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--turns-per-stream", type=int, default=3)
    parser.add_argument("--first-ms", type=float, default=50)
    parser.add_argument("--gap-ms", type=float, default=10)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument(
        "--server-cpu", type=int, default=0, help="core the server is pinned to (-1: no pinning)"
    )
    parser.add_argument("--api-style", default="chat_completions", choices=["chat_completions", "responses"])
    parser.add_argument(
        "--converse",
        action="store_true",
        help="each stream keeps one thread: threads.create, then threads.add_user_message "
        "(history grows with every turn)",
    )
    parser.add_argument("--backend", default="duckdb", choices=["duckdb", "postgres"])
    parser.add_argument("--workers", type=int, default=1, help="Granian workers (server.workers)")
    parser.add_argument(
        "--client",
        default="httpx",
        choices=["httpx", "raw"],
        help="the load generator's HTTP client: httpx (the figures before 2026-11-30 used it) or a "
        "minimal keep-alive client (scripts/benchlib/rawhttp.py) that costs far less CPU per turn",
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON lines")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. store.threads=1 (VALUE is YAML)",
    )
    parser.add_argument(
        "--sdk-path",
        action="store_true",
        help="Runner for every turn and the SDK's stream parser (for comparison)",
    )
    args = parser.parse_args()
    # Room for every client connection here and every upstream connection in the fake.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * max(args.concurrency) + 1024
    if soft < wanted:
        resource.setrlimit(
            resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard)
        )

    root = str(Path(__file__).resolve().parents[1])
    cores = sorted(os.sched_getaffinity(0))
    others = {c for c in cores if c != args.server_cpu} or set(cores)
    code = UPSTREAM.format(root=root, tokens=args.tokens, first=args.first_ms / 1000, gap=args.gap_ms / 1000)
    upstream = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert upstream.stdout is not None
    upstream_url = upstream.stdout.readline().strip()
    os.sched_setaffinity(upstream.pid, others)
    os.sched_setaffinity(0, others)
    workdir = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    config = {
        "logging": {"level": "warning"},
        "llm": {
            "upstreams": {
                "fake": {
                    "base_url": upstream_url,
                    "api_style": args.api_style,
                    "max_retries": 0,
                    "lean_stream": not args.sdk_path,
                }
            },
            "aliases": {"default": {"upstream": "fake", "model": "bench"}},
            "lean_plain_turns": not args.sdk_path,
        },
    }
    cluster = None
    if args.backend == "postgres":
        from tests.support.postgres import PostgresCluster

        cluster = PostgresCluster().start()
        config["store"] = {"backend": "postgres", "postgres": {"dsn": cluster.create_database()}}
    if args.workers > 1:
        config["server"] = {"workers": args.workers}
    for assignment in args.set:
        key, _, value = assignment.partition("=")
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    server = ServerProcess(workdir, config).start()
    try:
        assert server.proc is not None
        pids = tree_pids(server.proc.pid)
        # A worker (with several, spawned: multiprocessing's resource tracker is a child too).
        worker = [p for p in pids if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()][-1]
        root = server.proc.pid

        def server_pids() -> list[int]:
            """The server's processes, and PostgreSQL's: a turn's cost is the whole backend's."""
            found = tree_pids(root)
            if cluster is not None:
                postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
                found += [pid for pid in tree_pids(postmaster) if pid not in found]
            return found

        if args.server_cpu >= 0:
            for pid in pids:
                subprocess.run(
                    ["taskset", "-a", "-cp", str(args.server_cpu), str(pid)], capture_output=True, check=True
                )
        load = os.getloadavg()
        print(
            f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load[0]:.2f}; "
            f"server on core {args.server_cpu}; upstream {args.api_style}: first token {args.first_ms:.0f} ms, "
            f"{args.tokens} tokens {args.gap_ms:.0f} ms apart; {'SDK path' if args.sdk_path else 'lean path'}"
            + ("; conversations (add_user_message)" if args.converse else "; threads.create turns")
            + (f"; {' '.join(args.set)}" if args.set else "")
            + f"; store {args.backend}, {args.workers} worker(s)"
        )
        print(
            "| streams | turns | shed | failed | TTFT p50 | TTFT p95 | TTFT p99 | overhead p50 | server CPU/turn "
            "| turns/s | idle RSS | RSS/stream | writes/turn | writes/commit | server cores busy "
            "| load generator cores busy |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for concurrency in args.concurrency:
            r = asyncio.run(
                level(
                    server.url,
                    concurrency,
                    args.turns_per_stream,
                    worker,
                    server_pids,
                    args.converse,
                    raw=args.client == "raw",
                    upstream_pid=upstream.pid,
                )
            )
            if args.json:
                print(json.dumps(r))
            print(
                f"| {concurrency} | {r['turns']:.0f} | {r['shed']:.0f} | {r['failed']:.0f} | "
                f"{r['ttft_p50_ms']:.0f} ms | {r['ttft_p95_ms']:.0f} ms | {r['ttft_p99_ms']:.0f} ms | "
                f"{r['ttft_p50_ms'] - args.first_ms:.0f} ms | {r['cpu_ms_per_turn']:.1f} ms | "
                f"{r['turns_per_s']:.1f} | {r['idle_rss_mb']:.0f} MB | {r['rss_kb_per_stream']:.0f} KB | "
                f"{r['writes_per_turn']:.1f} | {r['writes_per_commit']:.1f} | "
                f"{r['server_cores_busy']:.2f} | {r['load_generator_cores_busy']:.2f} |",
                flush=True,
            )
    finally:
        server.stop()
        upstream.kill()
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
