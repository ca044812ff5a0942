"""Shared pieces of the admin benchmarks: a fake upstream process, a server, streams, seeded data.

The streams are the product's hot path (``scripts/bench_stream.py`` measures it alone);
here they run beside admin work (key rotation, exports, purges) to measure its impact on
time to first token.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.benchlib.rawhttp import RawConnection  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
UPSTREAM = """
import sys, time
sys.path.insert(0, {root!r})
from tests.llm.fakes import FakeUpstream, Reply
tokens = [f"tok{{i}} " for i in range(40)]
up = FakeUpstream(default=Reply(tokens=tokens, first_delay=0.05, token_delay=0.01, usage=(30, 40)))
up.start()
print(up.url, flush=True)
while True:
    time.sleep(3600)
"""


def start_jobs_process(server: ServerProcess) -> subprocess.Popen[bytes]:
    """``chatkit-onprem jobs`` on the server's configuration (PostgreSQL), logging beside it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_ONPREM_")}
    env["PYTHONPATH"] = str(ROOT)
    with open(server.workdir / "jobs.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "chatkit_onprem", "jobs", "--config", str(server.config_path)],
            cwd=server.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_upstream() -> tuple[subprocess.Popen[str], str]:
    """The fake OpenAI-compatible upstream of bench_stream: 50 ms to the first token, 40 tokens 10 ms apart."""
    proc = subprocess.Popen(
        [sys.executable, "-c", UPSTREAM.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def server_config(upstream_url: str, data_dir: Path, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "data_dir": str(data_dir),
        "auth": {"admin_token": ADMIN_TOKEN},
        "logging": {"level": "warning", "format": "json"},
        "llm": {
            "upstreams": {"fake": {"base_url": upstream_url, "timeouts": {"read": 30}}},
            "aliases": {"default": {"upstream": "fake", "model": "bench"}},
        },
    }
    config.update(extra)
    return config


_BODY = {
    "type": "threads.create",
    "params": {
        "input": {
            "content": [{"type": "input_text", "text": "hello"}],
            "attachments": [],
            "inference_options": {},
        }
    },
}


@dataclass
class Streams:
    """``count`` clients, each running turns back to back until stopped; TTFTs recorded."""

    url: str
    count: int
    ttft: list[float] = field(default_factory=list)
    #: (when the turn started, its TTFT), perf_counter seconds: to tell turns apart by phase
    samples: list[tuple[float, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    turns: int = 0
    #: httpx, or "raw": the minimal keep-alive client (``rawhttp``), far less CPU per turn
    client: str = "httpx"

    async def run_until(self, done: Callable[[], bool]) -> None:
        if self.client == "raw":
            await asyncio.gather(*(self._raw_client(n, done) for n in range(self.count)))
            return
        async with httpx.AsyncClient(
            base_url=self.url, timeout=60, limits=httpx.Limits(max_connections=self.count + 5)
        ) as http:
            await asyncio.gather(*(self._client(http, n, done) for n in range(self.count)))

    @staticmethod
    def _headers(n: int) -> dict[str, str]:
        return {"X-Dev-User": f"bench{n % 10}", "X-Dev-Tenant": "bench"}

    async def _raw_client(self, n: int, done: Callable[[], bool]) -> None:
        conn = RawConnection(self.url, self._headers(n))
        body = json.dumps(_BODY).encode()
        while not done():
            started = time.perf_counter()
            first = 0.0
            try:
                response = await conn.post("/chatkit", body)
                async for chunk in response.chunks:
                    first = self._scan(chunk, started, first)
                if response.status != 200:
                    self.failures.append(f"HTTP {response.status}")
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.failures.append(repr(exc))
                await conn.close()
            self._turn_done(started, first)
        await conn.close()

    def _scan(self, chunk: bytes, started: float, first: float) -> float:
        """Note an error event; return the time to the first text delta (0.0 until seen)."""
        if not first and b"content_part.text_delta" in chunk:
            first = time.perf_counter() - started
        if b'"type":"error"' in chunk:
            self.failures.append(chunk.decode(errors="replace")[:200])
        return first

    def _turn_done(self, started: float, first: float) -> None:
        if first:
            self.ttft.append(first)
            self.samples.append((started, first))
        self.turns += 1

    async def _client(self, http: httpx.AsyncClient, n: int, done: Callable[[], bool]) -> None:
        headers = self._headers(n)
        body = _BODY
        while not done():
            started = time.perf_counter()
            first = 0.0
            try:
                async with http.stream("POST", "/chatkit", json=body, headers=headers) as response:
                    async for chunk in response.aiter_bytes():
                        first = self._scan(chunk, started, first)
                if response.status_code != 200:
                    self.failures.append(f"HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))
            self._turn_done(started, first)


@dataclass
class JobUnderLoad:
    job: dict[str, Any]
    before: list[float]  # TTFTs of turns started in the baseline window
    during: list[float]  # TTFTs of turns started while the job ran
    failures: int
    cpu_before: dict[str, float] = field(default_factory=dict)  # CpuMeter.between, baseline window
    cpu_during: dict[str, float] = field(default_factory=dict)  # the same while the job ran
    writes_before: dict[str, float] = field(default_factory=dict)  # write_waits, baseline window
    writes_during: dict[str, float] = field(default_factory=dict)  # the same while the job ran


async def store_write_buckets(client: httpx.AsyncClient) -> dict[float, float]:
    """``chatkit_store_write_seconds`` of the requests' writer from /metrics: cumulative count
    per upper bound."""
    text = (await client.get("/metrics", headers={"X-Dev-Roles": "auditor"})).text
    buckets = {}
    for line in text.splitlines():
        if line.startswith('chatkit_store_write_seconds_bucket{') and 'writer="write"' in line:
            bound, value = line.split('le="')[1].split('"')[0], line.rsplit(" ", 1)[1]
            buckets[float(bound)] = float(value)
    return buckets


def write_waits(first: dict[float, float], last: dict[float, float]) -> dict[str, float]:
    """How long writes waited for their commit in a window: the share over 10, 25 and 50 ms,
    and the p99 as the histogram's bucket bound it falls under."""
    delta = {bound: last.get(bound, 0.0) - first.get(bound, 0.0) for bound in last}
    total = delta.get(float("inf"), 0.0)
    if not total:
        return {"writes": 0}
    p99 = next(bound for bound in sorted(delta) if delta[bound] >= 0.99 * total)
    return {
        "writes": total,
        "over_10ms_percent": round((1 - delta[0.01] / total) * 100, 2),
        "over_25ms_percent": round((1 - delta[0.025] / total) * 100, 2),
        "over_50ms_percent": round((1 - delta[0.05] / total) * 100, 2),
        "p99_at_most_ms": p99 * 1000,
    }


@dataclass(frozen=True)
class CpuSample:
    at: float
    machine_busy: int  # jiffies all cores spent not idle (nor waiting on I/O)
    machine_total: int
    server: int  # jiffies of the server's process group (Granian and its workers)


class CpuMeter:
    """Where the machine's cores go: all of them, and the server's share (Linux ``/proc``).

    Tells "the job is slow" apart from "the machine is full": a window in which the cores
    are nearly all busy has no room for a background job that does not take from serving."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.cores = os.cpu_count() or 1
        self.tick = os.sysconf("SC_CLK_TCK")

    def sample(self) -> CpuSample:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle, iowait
        return CpuSample(time.perf_counter(), sum(fields) - idle, sum(fields), self._group_jiffies())

    def _group_jiffies(self) -> int:
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    rest = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            if int(rest[2]) == self.server_pid:  # pgrp: the server was started in its own group
                total += int(rest[11]) + int(rest[12])  # utime, stime
        return total

    def between(self, first: CpuSample, last: CpuSample) -> dict[str, float]:
        seconds = last.at - first.at
        total = max(1, last.machine_total - first.machine_total)
        return {
            "machine_cores_busy": round((last.machine_busy - first.machine_busy) / total * self.cores, 2),
            "server_cores": round((last.server - first.server) / self.tick / seconds, 2),
            "cores": self.cores,
        }


def job_under_load(
    server: ServerProcess,
    streams: int,
    path: str,
    body: dict[str, Any],
    baseline_seconds: float,
    client: str = "httpx",
) -> JobUnderLoad:
    """Streams run steadily (3 s warm-up, then a baseline window); the job is submitted into
    that load and polled without blocking it; turns are told apart by when they started.

    Polling never blocks the streams' event loop (an earlier version asked for the job's
    state with a blocking call before every turn, which showed up as seconds of TTFT)."""

    async def run() -> JobUnderLoad:
        load = Streams(server.url, streams, client=client)
        assert server.proc is not None
        cpu = CpuMeter(server.proc.pid)
        stop = False
        running = asyncio.create_task(load.run_until(lambda: stop))
        await asyncio.sleep(3)
        scrape = httpx.AsyncClient(base_url=server.url, timeout=30)
        t0 = time.perf_counter()
        c0, w0 = cpu.sample(), await store_write_buckets(scrape)
        await asyncio.sleep(baseline_seconds)
        c1, w1 = cpu.sample(), await store_write_buckets(scrape)
        async with httpx.AsyncClient(
            base_url=f"{server.url}/admin/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=300
        ) as http:
            answer = await http.post(path, json=body)
            assert answer.status_code in (200, 202), answer.text
            job_id = answer.json()["job"]["id"]
            t1 = time.perf_counter()
            while (job := (await http.get(f"/jobs/{job_id}")).json())["state"] not in (
                "done",
                "failed",
                "cancelled",
            ):
                await asyncio.sleep(0.05)
            t2 = time.perf_counter()
            c2, w2 = cpu.sample(), await store_write_buckets(scrape)
        await scrape.aclose()
        stop = True
        await running
        return JobUnderLoad(
            job=dict(job),
            before=[ttft for start, ttft in load.samples if t0 <= start < t1],
            during=[ttft for start, ttft in load.samples if t1 <= start <= t2],
            failures=len(load.failures),
            cpu_before=cpu.between(c0, c1),
            cpu_during=cpu.between(c1, c2),
            writes_before=write_waits(w0, w1),
            writes_during=write_waits(w1, w2),
        )

    return asyncio.run(run())


def job_seconds(job: dict[str, Any]) -> float:
    """How long a finished job ran (its own timestamps)."""
    started = datetime.fromisoformat(str(job["started_at"]))
    return (datetime.fromisoformat(str(job["finished_at"])) - started).total_seconds()


def impact(run: JobUnderLoad) -> dict[str, Any]:
    """TTFT before and during the job, and the p99's change in percent."""
    before, during = summary(run.before), summary(run.during)
    return {
        "ttft_before": {**before, "turns": len(run.before)},
        "ttft_during": {**during, "turns": len(run.during)},
        "failures": run.failures,
        "cpu_before": run.cpu_before,
        "cpu_during": run.cpu_during,
        "store_writes_before": run.writes_before,
        "store_writes_during": run.writes_during,
        "ttft_p99_impact_percent": round((during["p99_ms"] / before["p99_ms"] - 1) * 100, 1),
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5) * 1000, 1),
        "p99_ms": round(percentile(values, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(values) * 1000, 1) if values else float("nan"),
    }


def admin(server: ServerProcess) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/admin/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=300
    )


def job_state(server: ServerProcess, job_id: str) -> dict[str, Any]:
    with admin(server) as http:
        return dict(http.get(f"/jobs/{job_id}").json())


def seed(
    server: ServerProcess,
    *,
    users: int,
    threads_per_user: int,
    items_per_thread: int,
    big_users: dict[str, int] | None = None,
) -> dict[str, int]:
    """Write items through the real store (encrypted, grouped commits) into the stopped server's file."""
    from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadMetadata

    from chatkit_onprem.config import load_settings
    from chatkit_onprem.context import RequestContext
    from chatkit_onprem.services import Services

    settings = load_settings(server.config_path, check_production=False)
    services = Services.build(settings)
    counts = {"threads": 0, "items": 0}
    text = "lorem ipsum dolor sit amet " * 20  # ~540 bytes, a typical answer chunk

    async def one_user(user: str, threads: int, per_thread: int) -> None:
        context = RequestContext(tenant="bench", user=user)
        for t in range(threads):
            thread_id = f"thr_{user}_{t}"
            await services.store.save_thread(
                ThreadMetadata(id=thread_id, created_at=datetime.now(UTC), title=thread_id), context
            )
            for start in range(0, per_thread, 500):
                items = [
                    AssistantMessageItem(
                        id=f"msg_{user}_{t}_{n}",
                        thread_id=thread_id,
                        created_at=datetime.now(UTC),
                        content=[AssistantMessageContent(text=text)],
                    )
                    for n in range(start, min(per_thread, start + 500))
                ]
                await services.store.save_items(thread_id, items, context)
            counts["threads"] += 1
            counts["items"] += per_thread

    async def fill() -> None:
        sem = asyncio.Semaphore(8)

        async def guarded(user: str, threads: int, per_thread: int) -> None:
            async with sem:
                await one_user(user, threads, per_thread)

        jobs = [guarded(f"user{u}", threads_per_user, items_per_thread) for u in range(users)]
        for name, items in (big_users or {}).items():  # threads of 1,000 items each
            jobs.append(guarded(name, max(1, items // 1000), min(1000, items)))
        await asyncio.gather(*jobs)

    try:
        asyncio.run(fill())
    finally:
        services.db.close()
    return counts


def machine() -> str:
    import platform

    cpus = os.cpu_count()
    load = os.getloadavg()[0]
    return f"{platform.machine()}, {cpus} cores, {platform.python_implementation()} {platform.python_version()}, load average {load:.1f} at start"


def dump(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2))
