"""``chatkit-onprem jobs``: a process that runs admin jobs and serves no request.

With PostgreSQL, jobs are rows any process may claim (``residency.jobs``: leases and
heartbeats). A server with ``server.run_jobs: false`` only queues them, and this process
runs them: a key rotation, export or purge then shares neither a GIL nor a writer with the
streams people are waiting on (docs/performance.md measures the difference). It starts
what a server starts for jobs (the job runner, retention, export expiry, the erasure
ledger's re-application, the object store check) and stops on SIGTERM or SIGINT, leaving
a running job to be resumed from its last committed batch.
"""

from __future__ import annotations

import asyncio
import signal

from chatkit_onprem.config import Settings
from chatkit_onprem.logging import get_logger
from chatkit_onprem.services import Services

log = get_logger(__name__)


async def run_jobs(settings: Settings) -> None:
    """Run jobs until SIGTERM or SIGINT (PostgreSQL only: the caller checks)."""
    services = Services.build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await services.attachments.start()
        await services.start_background(run_jobs=True)
        log.info("chatkit-onprem jobs ready", store=services.db.dialect, kinds=sorted(services.jobs.handlers))
        await stop.wait()
        log.info("chatkit-onprem jobs stopping")
    finally:
        await services.attachments.stop()
        await services.shutdown()
