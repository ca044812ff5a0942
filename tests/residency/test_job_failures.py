"""A job that fails unexpectedly: what it says in the log and in its row, and what it never says."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
import pytest

from chatkit_onprem.config import Settings
from chatkit_onprem.crypto.kek import KekError
from chatkit_onprem.logging import configure_logging
from chatkit_onprem.residency.jobs import JobContext
from chatkit_onprem.services import Services
from chatkit_onprem.store.jobs import JobRecord

MARKER = "words-a-person-wrote-5e1f"


async def _engine_error(_: JobContext) -> dict[str, object]:
    # A real engine error that quotes the value it could not convert.
    duckdb.connect().execute(f"SELECT CAST('{MARKER}' AS INTEGER)")
    return {}


async def _our_error(_: JobContext) -> dict[str, object]:
    raise KekError("KEK version v9 is not in the keyring")


def test_an_engine_error_keeps_its_text_out_of_the_log_and_the_job_row(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="info", fmt="json")
    services = Services.build(Settings(data_dir=tmp_path))

    async def run() -> tuple[JobRecord, JobRecord]:
        runner = services.jobs
        runner.register("test.engine_error", _engine_error)
        runner.register("test.our_error", _our_error)
        engine = await runner.submit("test.engine_error", {}, "test")
        ours = await runner.submit("test.our_error", {}, "test")
        runner.start()
        try:
            for _ in range(200):
                done = [await runner.rows.get(job.id) for job in (engine, ours)]
                if all(r is not None and r.state == "failed" for r in done):
                    return done[0], done[1]  # type: ignore[return-value]
                await asyncio.sleep(0.05)
            raise AssertionError(f"the jobs did not fail: {done}")
        finally:
            await runner.stop()

    try:
        engine, ours = asyncio.run(run())
    finally:
        services.db.close()
    logged = capfd.readouterr()
    assert MARKER not in logged.out + logged.err
    assert engine.last_error is not None and MARKER not in engine.last_error
    assert engine.last_error.startswith("ConversionException at test_job_failures.py:")
    assert "duckdb" in logged.out + logged.err, "the log names the error's type"
    assert ours.last_error == "KekError: KEK version v9 is not in the keyring", "our own words are kept"
